//! Routes: what every route kind shares (parent references, hostnames, attachment, status),
//! and the per-kind rule translation.
//!
//! Attachment and status are written once, over `RouteInfo`; a route kind only has to describe
//! itself as a `RouteInfo` and translate its rules.

pub(crate) mod attach;
pub(crate) mod delegation;
pub(crate) mod http;
pub(crate) mod replace;
pub(crate) mod status;

use serde_json::{Value, json};

use crate::api::GATEWAY_GROUP;
use crate::model::ObjectKey;

/// The kind-independent facts of a route.
#[derive(Clone, Debug)]
pub(crate) struct RouteInfo {
    pub kind: &'static str,
    pub key: ObjectKey,
    pub generation: Option<i64>,
    pub created: Option<jiff::Timestamp>,
    pub hostnames: Vec<String>,
    pub parent_refs: Vec<ParentRefIr>,
}

/// A parentRef as written in the route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ParentRefIr {
    pub group: Option<String>,
    pub kind: Option<String>,
    pub namespace: Option<String>,
    pub name: String,
    pub section_name: Option<String>,
    pub port: Option<i32>,
}

impl ParentRefIr {
    pub fn group(&self) -> &str {
        self.group.as_deref().unwrap_or(GATEWAY_GROUP)
    }

    pub fn kind(&self) -> &str {
        self.kind.as_deref().unwrap_or("Gateway")
    }

    /// The parentRef as written back into `status.parents[].parentRef`: group and kind with
    /// their defaults filled in (conformance compares them), everything else as the user wrote
    /// it (a namespace the user left out stays out).
    pub fn status_json(&self) -> Value {
        let mut v = json!({ "group": self.group(), "kind": self.kind(), "name": self.name });
        if let Some(ns) = &self.namespace {
            v["namespace"] = json!(ns);
        }
        if let Some(s) = &self.section_name {
            v["sectionName"] = json!(s);
        }
        if let Some(p) = self.port {
            v["port"] = json!(p);
        }
        v
    }
}
