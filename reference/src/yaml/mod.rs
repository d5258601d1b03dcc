//! YAML as people write it: finding a node's position, decoding strictly (no unknown field, no
//! duplicate key) with errors that point at the offending key, and suggesting the name a typo
//! was meant to be. The file provider, `gatesim-controller translate` and the harness's scenario
//! loader all decode through here, so the three report the same mistake the same way.

mod duplicates;
mod fields;
mod locate;
mod path;
mod strict;
mod suggest;

pub use duplicates::duplicate_keys;
pub use locate::{DocumentIndex, deserialize_at, locate, locate_key};
pub use path::{Location, Segment, YamlPath};
pub use strict::{Problem, decode, decode_value};
pub use suggest::{closest, edit_distance};
