//! K8sGateway policies, resolved to what they attach to before any Envoy builder runs.
//!
//! Each Envoy builder then sees one effective policy per route rule (`HttpRuleIr::options`,
//! or its action for a DirectResponse), per virtual host and per Gateway listener
//! ([`ListenerPolicies`]), and policy status comes out of the same pass ([`status::Report`]).
//!
//! Attachment and precedence are one mechanism ([`rank`]) driven by a small table per kind:
//!
//! | Kind | Attaches through | Tiers, first to last | Combine |
//! |---|---|---|---|
//! | RouteOption | `ExtensionRef` filter on a rule; `targetRefs` to HTTPRoutes | ExtensionRef (filter order), targetRef (oldest first) | shallow merge |
//! | VirtualHostOption | `targetRefs` to Gateways | with `sectionName`, whole Gateway (oldest first) | shallow merge |
//! | ListenerOption, HttpListenerOption | as VirtualHostOption | as VirtualHostOption | first wins |
//! | DirectResponse | `ExtensionRef` filter only | one per rule | none |
//!
//! On a rule served by delegation, the RouteOptions of every route of the chain compete, each
//! route's tiers before its delegatees' ([`RoutePolicies::delegated`]); a parent's
//! `delegation.gateway.solo.io/enable-policy-overrides` annotation lets its delegatees take the
//! fields it names.

pub(crate) mod access_log;
pub(crate) mod gateway;
mod invalid;
mod listener_values;
mod overrides;
mod rank;
mod route;
pub(crate) mod status;
pub(crate) mod transform;
mod values;

pub(crate) use gateway::GatewayPolicies;
pub(crate) use route::{Level, RoutePolicies, names_our_gateway};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::api::{
    GATEWAY_GROUP, HttpListenerOption, ListenerOption, RouteOption, VirtualHostOption,
};
use crate::model::StoredKind;
use rank::Combine;

/// A `targetRefs` entry, whichever of the two reference types the kind uses.
pub(crate) struct Target<'a> {
    pub group: &'a str,
    pub kind: &'a str,
    pub name: &'a str,
    pub namespace: Option<&'a str>,
    pub section_name: Option<&'a str>,
}

impl Target<'_> {
    /// Whether the reference names the kind (and group) `K` targets.
    pub fn names_kind<K: OptionKind>(&self) -> bool {
        self.group == GATEWAY_GROUP && self.kind == K::TARGET_KIND
    }
}

/// The four `gateway.solo.io` option kinds: where their options are and how they combine.
pub(crate) trait OptionKind: StoredKind {
    const KIND: &'static str;
    /// The kind its `targetRefs` name (in the Gateway API group).
    const TARGET_KIND: &'static str;
    const COMBINE: Combine;
    type Options: Clone + Default + Serialize + DeserializeOwned;

    fn options(&self) -> Option<&Self::Options>;
    fn targets(&self) -> Vec<Target<'_>>;
    /// What is wrong with the options (`path: why`).
    fn check(options: &Self::Options) -> Vec<String>;
}

macro_rules! option_kinds {
    ($($kind:ident: $options:ty, $target:literal, $combine:ident, section: $section:tt,
       check: $check:expr;)*) => {
        $(
            impl OptionKind for $kind {
                const KIND: &'static str = stringify!($kind);
                const TARGET_KIND: &'static str = $target;
                const COMBINE: Combine = Combine::$combine;
                type Options = $options;

                fn options(&self) -> Option<&Self::Options> {
                    self.spec.options.as_ref()
                }

                fn check(options: &Self::Options) -> Vec<String> {
                    $check(options)
                }

                fn targets(&self) -> Vec<Target<'_>> {
                    self.spec
                        .target_refs
                        .iter()
                        .flatten()
                        .map(|t| Target {
                            group: t.group.as_deref().unwrap_or(GATEWAY_GROUP),
                            kind: &t.kind,
                            name: &t.name,
                            namespace: t.namespace.as_deref(),
                            section_name: option_kinds!(@section $section t),
                        })
                        .collect()
                }
            }
        )*
    };
    (@section true $t:ident) => { $t.section_name.as_deref() };
    (@section false $t:ident) => { None };
}

option_kinds! {
    RouteOption: crate::api::k8sgateway::RouteOptions, "HTTPRoute", ShallowMerge,
        section: false, check: |o| values::route_options(o).0;
    VirtualHostOption: crate::api::k8sgateway::VirtualHostOptions, "Gateway", ShallowMerge,
        section: true, check: |o| values::virtual_host_options(o).0;
    ListenerOption: crate::api::k8sgateway::ListenerOptions, "Gateway", FirstWins,
        section: true, check: |o| listener_values::listener_options(o).0;
    HttpListenerOption: crate::api::k8sgateway::HttpListenerOptions, "Gateway", FirstWins,
        section: true, check: |o| listener_values::http_listener_options(o).0;
}
