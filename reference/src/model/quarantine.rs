//! Quarantine: objects that translation leaves out because Envoy rejected a configuration that
//! contained them (the controller finds them; see `controller::contain`).
//!
//! The quarantine is an input of translation like the objects themselves, so `translate()`
//! stays a function of the `ResourceSet`. An entry names the version of the object it was made
//! for and holds only while the object is unchanged: the user's fix is tried again at once,
//! without anyone having to clear the entry first.

use std::collections::BTreeMap;
use std::fmt;
use std::hash::{Hash, Hasher};

use super::{KindVisitor, ObjectKey, ResourceSet, StoredKind, visit_kind};

/// An object of any stored kind: API group, kind, namespace and name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct ObjectId {
    pub group: String,
    pub kind: String,
    #[serde(flatten)]
    pub key: ObjectKey,
}

impl ObjectId {
    pub fn of<K: StoredKind>(key: &ObjectKey) -> Self {
        Self {
            group: K::group(&()).into_owned(),
            kind: K::kind(&()).into_owned(),
            key: key.clone(),
        }
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.key)
    }
}

/// Which version of an object an entry was made for.
///
/// `generation` moves with every spec change where an API server keeps it, but not with our
/// own status writes (which do move `resourceVersion`, so that cannot serve). Inputs without
/// an API server (files) carry no generation, hence the digest of everything but metadata and
/// status as well.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectVersion {
    pub generation: Option<i64>,
    pub content_digest: u64,
}

impl ObjectVersion {
    pub fn of<K: StoredKind>(obj: &K) -> Self {
        let mut hasher = std::hash::DefaultHasher::new();
        // Stored kinds serialize to JSON objects; should one fail to, it hashes as nothing and
        // the generation alone tells versions apart.
        if let Ok(serde_json::Value::Object(mut fields)) = serde_json::to_value(obj) {
            fields.remove("metadata");
            fields.remove("status");
            serde_json::Value::Object(fields)
                .to_string()
                .hash(&mut hasher);
        }
        Self {
            generation: obj.meta().generation,
            content_digest: hasher.finish(),
        }
    }
}

/// Why an object is left out.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Quarantined {
    /// The version of the object this entry is about.
    pub version: ObjectVersion,
    /// The Gateway whose proxy rejected a configuration containing the object.
    pub gateway: ObjectKey,
    /// Envoy's own words on why.
    pub message: String,
}

pub type Quarantine = BTreeMap<ObjectId, Quarantined>;

impl ResourceSet {
    /// The quarantine entry of an object, if there is one for the object as it is now.
    pub fn quarantined<K: StoredKind>(&self, key: &ObjectKey) -> Option<&Quarantined> {
        if self.quarantine.is_empty() {
            return None;
        }
        let entry = self.quarantine.get(&ObjectId::of::<K>(key))?;
        let obj = K::store(self).get(key)?;
        (ObjectVersion::of(obj.as_ref()) == entry.version).then_some(entry)
    }

    /// The current version of an object of any stored kind; `None` when it does not exist.
    pub fn version_of(&self, id: &ObjectId) -> Option<ObjectVersion> {
        struct Version<'a>(&'a ResourceSet, &'a ObjectKey);
        impl KindVisitor for Version<'_> {
            type Output = Option<ObjectVersion>;
            fn visit<K: StoredKind>(self) -> Self::Output {
                K::store(self.0)
                    .get(self.1)
                    .map(|obj| ObjectVersion::of(obj.as_ref()))
            }
        }
        visit_kind(&id.group, &id.kind, Version(self, &id.key)).flatten()
    }
}
