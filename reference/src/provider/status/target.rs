//! Where a status goes (the API path of an [`ObjectRef`]) and where its current status comes
//! from (the provider's snapshot, so that deciding "unchanged" costs no request).

use std::sync::Arc;

use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};
use serde_json::Value;

use crate::model::{KindVisitor, ObjectKey, ResourceSet, StoredKind, api_group, visit_kind};
use crate::provider::Snapshots;
use crate::translate::ObjectRef;

/// The API resource of `target`. Stored kinds use their exact plural; any other kind (a
/// future route kind, a K8sGateway resource) gets its plural by rule, so one path serves
/// them all.
pub fn api_resource(target: &ObjectRef) -> ApiResource {
    let group = api_group(&target.api_version);
    let version = target.api_version.rsplit('/').next().unwrap_or_default();
    let gvk = GroupVersionKind::gvk(group, version, &target.kind);
    struct Plural;
    impl KindVisitor for Plural {
        type Output = String;
        fn visit<K: StoredKind>(self) -> String {
            K::plural(&()).into_owned()
        }
    }
    match visit_kind(group, &target.kind, Plural) {
        Some(plural) => ApiResource::from_gvk_with_plural(&gvk, &plural),
        None => {
            // Kinds named by a plural noun (GatewayParameters, Settings) are their own plural;
            // for the rest, kube's English rules match what the CRDs declare.
            let lower = target.kind.to_ascii_lowercase();
            match ["parameters", "settings"]
                .iter()
                .any(|suffix| lower.ends_with(suffix))
            {
                true => ApiResource::from_gvk_with_plural(&gvk, &lower),
                false => ApiResource::from_gvk(&gvk),
            }
        }
    }
}

/// A dynamic API handle for `target`'s collection.
pub fn api(client: &Client, target: &ObjectRef) -> Api<DynamicObject> {
    let resource = api_resource(target);
    match &target.namespace {
        Some(namespace) => Api::namespaced_with(client.clone(), namespace, &resource),
        None => Api::all_with(client.clone(), &resource),
    }
}

/// What a [`StatusSource`] knows about an object.
#[derive(Clone, Debug, PartialEq)]
pub enum Lookup {
    /// The object exists; its `status` (if any) and `resourceVersion`.
    Found {
        status: Option<Value>,
        resource_version: Option<String>,
    },
    /// The object does not exist (as far as a synced cache can tell).
    Missing,
    /// The source does not track this kind, or is not synced yet: ask the API server.
    Unknown,
}

/// Current state of the objects the writer patches, without a request per object.
pub trait StatusSource: Send + Sync + 'static {
    fn lookup(&self, target: &ObjectRef) -> Lookup;

    /// Only the object's `resourceVersion`, when known: enough to tell that an object whose
    /// status this writer confirmed has not changed since, without reading that status.
    fn resource_version(&self, target: &ObjectRef) -> Option<String> {
        match self.lookup(target) {
            Lookup::Found {
                resource_version, ..
            } => resource_version,
            Lookup::Missing | Lookup::Unknown => None,
        }
    }
}

/// The Kubernetes provider's latest snapshot: the reflectors' view of every stored kind.
impl StatusSource for Snapshots {
    fn lookup(&self, target: &ObjectRef) -> Lookup {
        let set = Arc::clone(&self.borrow());
        // The placeholder published before the initial lists complete knows nothing.
        if set.revision == 0 && set.is_empty() {
            return Lookup::Unknown;
        }
        lookup_in(&set, target)
    }

    fn resource_version(&self, target: &ObjectRef) -> Option<String> {
        struct Version<'a> {
            set: &'a ResourceSet,
            key: ObjectKey,
        }
        impl KindVisitor for Version<'_> {
            type Output = Option<String>;
            fn visit<K: StoredKind>(self) -> Option<String> {
                self.set
                    .get::<K>(&self.key)
                    .and_then(|obj| obj.meta().resource_version.clone())
            }
        }
        let set = self.borrow();
        visit_target(
            target,
            Version {
                set: &set,
                key: object_key(target),
            },
        )
        .flatten()
    }
}

/// Looks `target` up in `set`.
pub fn lookup_in(set: &ResourceSet, target: &ObjectRef) -> Lookup {
    struct Find<'a> {
        set: &'a ResourceSet,
        key: ObjectKey,
    }
    impl KindVisitor for Find<'_> {
        type Output = Lookup;
        fn visit<K: StoredKind>(self) -> Lookup {
            let Some(obj) = self.set.get::<K>(&self.key) else {
                return Lookup::Missing;
            };
            let status = match serde_json::to_value(&**obj) {
                Ok(mut value) => value.get_mut("status").map(Value::take),
                // Cannot happen for types that came from JSON; asking the server is safe.
                Err(_) => return Lookup::Unknown,
            };
            Lookup::Found {
                status,
                resource_version: obj.meta().resource_version.clone(),
            }
        }
    }
    let key = object_key(target);
    visit_target(target, Find { set, key }).unwrap_or(Lookup::Unknown)
}

fn object_key(target: &ObjectRef) -> ObjectKey {
    ObjectKey::new(
        target.namespace.clone().unwrap_or_default(),
        target.name.clone(),
    )
}

/// Runs `visitor` for `target`'s kind; `None` when the kind is not a stored one.
fn visit_target<V: KindVisitor>(target: &ObjectRef, visitor: V) -> Option<V::Output> {
    visit_kind(api_group(&target.api_version), &target.kind, visitor)
}
