//! The scenario format (see SCENARIO-FORMAT.md and scenarios/README.md): types for every part of
//! a scenario file, loading with `base:` and `resourceFiles:` resolution, discovery of a suite,
//! validation with errors that name file, line and column, and the feature registry that decides
//! how each conformance profile counts a scenario.

pub mod access_log;
mod doc;
mod error;
mod expect;
pub mod features;
mod load;
mod object;
mod step;
mod validate;
mod validate_traffic;
mod values;

pub use access_log::{ExpectAccessLog, LogLine, SCENARIO_DIR};
pub use error::{LoadErrors, Location, ScenarioError, Segment, Source, YamlPath};
pub use expect::{
    AncestorExpectation, BackendView, Burst, ConditionExpectation, ExpectHttp, ExpectWeights,
    ExpectedRequest, ExpectedResponse, HttpCase, HttpRequest, ListenerExpectation, Mirror,
    NO_BACKEND, ParentExpectation, ParentRefExpectation, Protocol, Redirect, RouteGroupKind,
    Scheme, StatusExpectation, Upgrade, defaults,
};
pub use features::{Feature, Level, Profile};
pub use load::{
    Fixture, Generated, LoadOptions, Loader, Located, Scenario, default_scenarios_dir, discover,
    load_all, load_dir,
};
pub use object::{
    BACKEND_ADDRESS, CertificateUsage, EchoBackend, EchoBackendSpec, EchoMode, EchoPort, EchoTls,
    HARNESS_API_VERSION, HARNESS_GROUP, HarnessMetadata, HarnessObject, Object, ObjectRef, Scope,
    TestCertificate, TestCertificateSpec, backend_addresses, injected_field, mentions,
    replace_text, scope_of,
};
pub use step::{FillEndpoints, PatchEntry, STEP_KEYS, Step};
pub use values::{ConditionStatus, GatewayRef, StatusCode, TimeSpan};
