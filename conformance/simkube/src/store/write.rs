//! Writes: create, update, patch, apply and delete, with finalizers and the namespace
//! lifecycle (a deleted namespace deletes its contents and goes away once they are gone).

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tokio::sync::broadcast;

use super::prepare::{self, Location, Target};
use super::{Change, EventType, Key, State, Store, range};
use crate::error::ApiError;
use crate::kinds::{KindId, KindSpec};
use crate::managed::{self, Writer};
use crate::patch::{self, PatchType};
use crate::schema::{self, FieldError, FieldValidation, Node};
use crate::selector::Selectors;
use crate::{defaults, meta};

/// Who writes and how, for every write.
#[derive(Debug, Clone, Copy)]
pub struct WriteCtx<'a> {
    /// Field manager recorded in managedFields.
    pub manager: &'a str,
    /// `dryRun=All`: compute and answer, store nothing.
    pub dry_run: bool,
    /// `fieldValidation`: what undeclared fields and repeated keys mean.
    pub field_validation: FieldValidation,
    /// Keys the request body repeats (see [`crate::schema::strict`]).
    pub duplicates: &'a [String],
    /// Warnings for the response's `Warning` headers.
    pub warnings: &'a Mutex<Vec<String>>,
}

impl WriteCtx<'_> {
    fn warn(&self, more: Vec<String>) {
        if !more.is_empty() {
            self.warnings
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend(more);
        }
    }
}

/// Which verb decodes a body: they refuse undeclared fields in different shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decoding {
    /// Create and update: `400 BadRequest`, "cannot be handled as a <Kind>".
    Body,
    /// JSON and merge patches: `422 Invalid` on the field `patch`.
    Patch,
}

/// `DeleteOptions` the server honours.
#[derive(Debug, Default, Clone)]
pub struct DeleteOptions {
    /// `preconditions.uid`.
    pub uid: Option<String>,
    /// `preconditions.resourceVersion`.
    pub resource_version: Option<String>,
}

impl DeleteOptions {
    /// Reads the preconditions of a `DeleteOptions` body (other fields are accepted and
    /// ignored: there is no garbage collector to propagate to).
    pub fn from_body(body: &Value) -> Self {
        let pre = body.get("preconditions");
        let field = |f: &str| {
            pre.and_then(|p| p.get(f))
                .and_then(Value::as_str)
                .map(String::from)
        };
        Self {
            uid: field("uid"),
            resource_version: field("resourceVersion"),
        }
    }
}

/// How a write records field ownership.
enum Ownership {
    /// Record the fields this write changed as the writer's.
    Update,
    /// Ownership computed by server-side apply.
    Apply(Vec<managed::Entry>),
}

impl Store {
    fn spec(&self, kind: KindId) -> &'static KindSpec {
        self.table.spec(kind)
    }

    /// The schema of a kind at the version of a request, when schemas are loaded.
    fn schema(&self, kind: KindId, version: &str) -> Option<&Node> {
        self.schemas.as_deref()?.get(self.spec(kind), version)
    }

    /// Prunes what the schema does not declare from a request's object, refusing,
    /// warning or staying silent as `fieldValidation` says.
    fn decode(
        &self,
        kind: KindId,
        at: &Location<'_>,
        obj: &mut Value,
        how: Decoding,
        ctx: &WriteCtx<'_>,
    ) -> Result<(), ApiError> {
        let Some(node) = self.schema(kind, at.version) else {
            return Ok(());
        };
        let spec = self.spec(kind);
        let mut warnings = Vec::new();
        let result = schema::decode(
            node,
            obj,
            ctx.duplicates,
            ctx.field_validation,
            &mut warnings,
            |detail, obj| match how {
                Decoding::Body => ApiError::bad_request(format!(
                    "{kind} in version {version:?} cannot be handled as a {kind}: {detail}",
                    kind = spec.kind,
                    version = at.version,
                )),
                Decoding::Patch => ApiError::invalid_request(&[FieldError::invalid(
                    "patch",
                    Value::String(obj.to_string()),
                    detail,
                )]),
            },
        );
        ctx.warn(warnings);
        result
    }

    /// Server-side apply refuses undeclared fields whatever the `fieldValidation`, with
    /// the structured-merge-diff error upstream passes through unclassified.
    fn check_apply_fields(
        &self,
        kind: KindId,
        at: &Location<'_>,
        config: &Value,
    ) -> Result<(), ApiError> {
        let Some(node) = self.schema(kind, at.version) else {
            return Ok(());
        };
        let undeclared = schema::undeclared(node, config);
        if undeclared.is_empty() {
            return Ok(());
        }
        let spec = self.spec(kind);
        let listed: Vec<String> = undeclared
            .iter()
            .map(|f| format!(".{f}: field not declared in schema"))
            .collect();
        let errors = match listed.as_slice() {
            [one] => one.clone(),
            many => format!("errors:\n  {}", many.join("\n  ")),
        };
        Err(ApiError::unclassified(
            500,
            format!(
                "failed to create typed patch object ({}/{}; {}, Kind={}): {errors}",
                at.namespace.unwrap_or_default(),
                at.name.unwrap_or_default(),
                spec.api_version(at.version),
                spec.kind
            ),
        ))
    }

    /// Validates an object about to be stored, when the kind has a schema.
    fn validate(
        &self,
        kind: KindId,
        at: &Location<'_>,
        new: &Value,
        old: Option<&Value>,
        target: Target,
    ) -> Result<(), ApiError> {
        match self.schema(kind, at.version) {
            Some(node) => schema::validate(
                node,
                self.spec(kind),
                meta::name(new).unwrap_or_default(),
                new,
                old,
                target,
            ),
            None => Ok(()),
        }
    }

    /// Creates an object (POST).
    pub fn create(
        &self,
        kind: KindId,
        at: &Location<'_>,
        body: Value,
        ctx: &WriteCtx<'_>,
    ) -> Result<Arc<Value>, ApiError> {
        let spec = self.spec(kind);
        let now = meta::now_rfc3339();
        if meta::resource_version(&body).is_some() {
            return Err(ApiError::bad_request(
                "resourceVersion should not be set on objects to be created",
            ));
        }
        let mut obj = prepare::normalize_body(spec, body, at)?;
        self.decode(kind, at, &mut obj, Decoding::Body, ctx)?;
        let mut obj = prepare::for_create(spec, obj, &now)?;
        let schema = self.schema(kind, at.version);
        let mut st = self.lock();
        self.check_namespace(&st, kind, at.namespace)?;
        let name = meta::name(&obj).unwrap_or_default().to_string();
        let key = Store::key(at.namespace, &name);
        if st.kinds[kind].objects.contains_key(&key) {
            return Err(ApiError::already_exists(spec, &name));
        }
        defaults::apply(spec, schema, &mut obj, None, &mut st.alloc);
        self.validate(kind, at, &obj, None, Target::Main)?;
        let api_version = spec.api_version(at.version);
        managed::record_update(
            None,
            &mut obj,
            &Writer {
                manager: ctx.manager,
                api_version: &api_version,
                subresource: None,
                now: &now,
            },
        );
        if ctx.dry_run {
            return Ok(Arc::new(obj));
        }
        Ok(self.commit(&mut st, kind, key, obj, None, EventType::Added))
    }

    /// Replaces an object (PUT), on the main resource or its status.
    pub fn update(
        &self,
        kind: KindId,
        at: &Location<'_>,
        body: Value,
        target: Target,
        ctx: &WriteCtx<'_>,
    ) -> Result<Arc<Value>, ApiError> {
        let spec = self.spec(kind);
        let mut incoming = prepare::normalize_body(spec, body, at)?;
        self.decode(kind, at, &mut incoming, Decoding::Body, ctx)?;
        let mut st = self.lock();
        let (key, old) = self.existing(&st, kind, at)?;
        self.replace(
            &mut st,
            kind,
            key,
            old,
            incoming,
            target,
            Ownership::Update,
            at,
            ctx,
        )
    }

    /// Patches an object with a JSON, merge or strategic patch.
    pub fn patch(
        &self,
        kind: KindId,
        at: &Location<'_>,
        patch_type: PatchType,
        body: &[u8],
        target: Target,
        ctx: &WriteCtx<'_>,
    ) -> Result<Arc<Value>, ApiError> {
        let spec = self.spec(kind);
        let mut st = self.lock();
        let (key, old) = self.existing(&st, kind, at)?;
        // Patch what the client sees: the object at the version it asked for.
        let mut seen = (*old).clone();
        seen["apiVersion"] = Value::String(spec.api_version(at.version));
        let patched = patch::patch_object(spec, &seen, patch_type, body)?;
        let mut incoming = prepare::normalize_body(spec, patched, at)?;
        self.decode(kind, at, &mut incoming, Decoding::Patch, ctx)?;
        self.replace(
            &mut st,
            kind,
            key,
            old,
            incoming,
            target,
            Ownership::Update,
            at,
            ctx,
        )
    }

    /// Server-side apply; creates the object when absent. Returns whether it created.
    #[allow(clippy::too_many_arguments)]
    pub fn apply(
        &self,
        kind: KindId,
        at: &Location<'_>,
        body: &[u8],
        force: bool,
        target: Target,
        ctx: &WriteCtx<'_>,
    ) -> Result<(Arc<Value>, bool), ApiError> {
        let spec = self.spec(kind);
        let config = patch::parse_body(body, true)?;
        for required in ["apiVersion", "kind"] {
            if config
                .get(required)
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                return Err(ApiError::bad_request(format!(
                    "{required} must be set in an apply configuration"
                )));
            }
        }
        let config = prepare::normalize_body(spec, config, at)?;
        self.check_apply_fields(kind, at, &config)?;
        let config = prepare::narrow_apply_config(spec, &config, target);
        let schema = self.schema(kind, at.version);
        let name = at.name.unwrap_or_default();
        let now = meta::now_rfc3339();
        let api_version = spec.api_version(at.version);
        let writer = Writer {
            manager: ctx.manager,
            api_version: &api_version,
            subresource: target.subresource(),
            now: &now,
        };
        let mut st = self.lock();
        let key = Store::key(at.namespace, name);
        let existing = st.kinds[kind].objects.get(&key).cloned();
        if existing.is_none() {
            if target == Target::Status {
                return Err(ApiError::not_found(spec, name));
            }
            self.check_namespace(&st, kind, at.namespace)?;
        }
        let mut finalize = |obj: &mut Value| {
            defaults::apply(spec, schema, obj, existing.as_deref(), &mut st.alloc)
        };
        match existing.clone() {
            Some(old) => {
                let applied = patch::apply::apply(
                    spec,
                    name,
                    Some(&old),
                    &config,
                    force,
                    &writer,
                    &mut finalize,
                )?;
                let ownership = Ownership::Apply(applied.entries);
                let obj = self.replace(
                    &mut st,
                    kind,
                    key,
                    old,
                    applied.object,
                    target,
                    ownership,
                    at,
                    ctx,
                )?;
                Ok((obj, false))
            }
            None => {
                let applied =
                    patch::apply::apply(spec, name, None, &config, force, &writer, &mut finalize)?;
                let mut obj = prepare::for_create(spec, applied.object, &now)?;
                defaults::apply(spec, schema, &mut obj, None, &mut st.alloc);
                self.validate(kind, at, &obj, None, Target::Main)?;
                managed::write(&mut obj, &applied.entries);
                if ctx.dry_run {
                    return Ok((Arc::new(obj), true));
                }
                Ok((
                    self.commit(&mut st, kind, key, obj, None, EventType::Added),
                    true,
                ))
            }
        }
    }

    /// Deletes an object: removes it, or marks it for deletion while finalizers remain.
    /// A namespace is marked `Terminating` and its contents deleted.
    pub fn delete(
        &self,
        kind: KindId,
        at: &Location<'_>,
        opts: &DeleteOptions,
        ctx: &WriteCtx<'_>,
    ) -> Result<Arc<Value>, ApiError> {
        let spec = self.spec(kind);
        let mut st = self.lock();
        let (key, old) = self.existing(&st, kind, at)?;
        let name = at.name.unwrap_or_default();
        if opts
            .uid
            .as_deref()
            .is_some_and(|u| Some(u) != meta::meta_str(&old, "uid"))
            || opts
                .resource_version
                .as_deref()
                .is_some_and(|v| Some(v) != meta::resource_version(&old))
        {
            return Err(ApiError::conflict(spec, name));
        }
        if ctx.dry_run || meta::is_deleting(&old) {
            return Ok(old);
        }
        Ok(self.delete_locked(&mut st, kind, key, old))
    }

    /// Deletes every selected object of a kind in a namespace (or everywhere).
    pub fn delete_collection(
        &self,
        kind: KindId,
        namespace: Option<&str>,
        selectors: &Selectors,
        ctx: &WriteCtx<'_>,
    ) -> Result<Vec<Arc<Value>>, ApiError> {
        let mut st = self.lock();
        let targets: Vec<(Key, Arc<Value>)> = range(&st.kinds[kind].objects, namespace)
            .filter(|(_, o)| selectors.matches(o))
            .map(|(k, o)| (k.clone(), o.clone()))
            .collect();
        if ctx.dry_run {
            return Ok(targets.into_iter().map(|(_, o)| o).collect());
        }
        Ok(targets
            .into_iter()
            .map(|(key, old)| {
                if meta::is_deleting(&old) {
                    old
                } else {
                    self.delete_locked(&mut st, kind, key, old)
                }
            })
            .collect())
    }

    fn existing(
        &self,
        st: &State,
        kind: KindId,
        at: &Location<'_>,
    ) -> Result<(Key, Arc<Value>), ApiError> {
        let name = at.name.unwrap_or_default();
        let key = Store::key(at.namespace, name);
        let old = st.kinds[kind]
            .objects
            .get(&key)
            .cloned()
            .ok_or_else(|| ApiError::not_found(self.spec(kind), name))?;
        Ok((key, old))
    }

    /// Namespaced objects need their namespace, and not a terminating one.
    fn check_namespace(
        &self,
        st: &State,
        kind: KindId,
        namespace: Option<&str>,
    ) -> Result<(), ApiError> {
        if !self.spec(kind).namespaced {
            return Ok(());
        }
        let ns = namespace.unwrap_or_default();
        let nk = self.table.namespace_kind();
        match st.kinds[nk].objects.get(&Store::key(None, ns)) {
            None => Err(ApiError::namespace_not_found(ns)),
            Some(obj) if meta::is_deleting(obj) => Err(ApiError::forbidden(format!(
                "unable to create new content in namespace {ns} because it is being terminated"
            ))),
            Some(_) => Ok(()),
        }
    }

    /// The shared tail of update, patch and apply on an existing object.
    #[allow(clippy::too_many_arguments)]
    fn replace(
        &self,
        st: &mut State,
        kind: KindId,
        key: Key,
        old: Arc<Value>,
        incoming: Value,
        target: Target,
        ownership: Ownership,
        at: &Location<'_>,
        ctx: &WriteCtx<'_>,
    ) -> Result<Arc<Value>, ApiError> {
        let spec = self.spec(kind);
        let mut new = prepare::for_update(spec, &old, incoming, target)?;
        let schema = self.schema(kind, at.version);
        defaults::apply(spec, schema, &mut new, Some(&old), &mut st.alloc);
        self.validate(kind, at, &new, Some(&old), target)?;
        let now = meta::now_rfc3339();
        let api_version = spec.api_version(at.version);
        match ownership {
            Ownership::Update => managed::record_update(
                Some(&old),
                &mut new,
                &Writer {
                    manager: ctx.manager,
                    api_version: &api_version,
                    subresource: target.subresource(),
                    now: &now,
                },
            ),
            Ownership::Apply(entries) => managed::write(&mut new, &entries),
        }
        if managed::same_but_times(&new, &old) {
            // A no-op write changes nothing, not even the resource version.
            return Ok(old);
        }
        if ctx.dry_run {
            return Ok(Arc::new(new));
        }
        if self.may_remove(st, kind, &key, &new) {
            // The last finalizer went: the object goes in the same write, as upstream.
            return Ok(self.remove(st, kind, key, new, old));
        }
        Ok(self.commit(st, kind, key, new, Some(old), EventType::Modified))
    }

    /// Deletes under the lock: marks (finalizers, namespaces) or removes.
    fn delete_locked(&self, st: &mut State, kind: KindId, key: Key, old: Arc<Value>) -> Arc<Value> {
        let is_namespace = kind == self.table.namespace_kind();
        if !is_namespace && meta::finalizers(&old).is_empty() {
            let last = (*old).clone();
            return self.remove(st, kind, key, last, old);
        }
        let mut marked = (*old).clone();
        let g = meta::generation(&old);
        let m = meta::metadata_mut(&mut marked);
        m.insert(
            "deletionTimestamp".into(),
            Value::String(meta::now_rfc3339()),
        );
        m.insert("deletionGracePeriodSeconds".into(), Value::from(0));
        if g > 0 {
            m.insert("generation".into(), Value::from(g + 1));
        }
        if is_namespace {
            marked["status"] = json!({"phase": "Terminating"});
        }
        let marked = self.commit(
            st,
            kind,
            key.clone(),
            marked,
            Some(old),
            EventType::Modified,
        );
        if is_namespace {
            let ns = key.1.clone();
            match &self.reaper {
                Some(reaper) => reaper(ns),
                None => self.reap_locked(st, &ns),
            }
        }
        marked
    }

    /// Deletes the contents of a terminating namespace, and the namespace itself once it
    /// is empty and has no finalizers.
    pub fn reap_namespace(&self, ns: &str) {
        let mut st = self.lock();
        self.reap_locked(&mut st, ns);
    }

    fn reap_locked(&self, st: &mut State, ns: &str) {
        let nk = self.table.namespace_kind();
        let terminating = st.kinds[nk]
            .objects
            .get(&Store::key(None, ns))
            .is_some_and(|o| meta::is_deleting(o));
        if terminating {
            self.delete_namespace_contents(st, ns);
            self.finish_namespace(st, ns);
        }
    }

    fn delete_namespace_contents(&self, st: &mut State, ns: &str) {
        for kind in 0..st.kinds.len() {
            if !self.spec(kind).namespaced {
                continue;
            }
            let victims: Vec<(Key, Arc<Value>)> = range(&st.kinds[kind].objects, Some(ns))
                .filter(|(_, o)| !meta::is_deleting(o))
                .map(|(k, o)| (k.clone(), o.clone()))
                .collect();
            for (key, old) in victims {
                self.delete_locked(st, kind, key, old);
            }
        }
    }

    /// Whether `obj`, about to be stored, should instead be removed: deletion requested,
    /// no finalizers left, and for a namespace, nothing left inside.
    fn may_remove(&self, st: &State, kind: KindId, key: &Key, obj: &Value) -> bool {
        meta::is_deleting(obj)
            && meta::finalizers(obj).is_empty()
            && (kind != self.table.namespace_kind() || self.namespace_is_empty(st, &key.1))
    }

    /// Removes a terminating namespace once it is empty and has no finalizers.
    fn finish_namespace(&self, st: &mut State, ns: &str) {
        let nk = self.table.namespace_kind();
        let key = Store::key(None, ns);
        if let Some(current) = st.kinds[nk].objects.get(&key).cloned()
            && self.may_remove(st, nk, &key, &current)
        {
            let last = (*current).clone();
            self.remove(st, nk, key, last, current);
        }
    }

    fn namespace_is_empty(&self, st: &State, ns: &str) -> bool {
        st.kinds
            .iter()
            .enumerate()
            .filter(|(kind, _)| self.spec(*kind).namespaced)
            .all(|(_, ks)| range(&ks.objects, Some(ns)).next().is_none())
    }

    /// Removes an object from storage, `last` being its final state; a terminating
    /// namespace it leaves empty goes too.
    fn remove(
        &self,
        st: &mut State,
        kind: KindId,
        key: Key,
        last: Value,
        previous: Arc<Value>,
    ) -> Arc<Value> {
        let ns = key.0.clone();
        let removed = self.commit(st, kind, key, last, Some(previous), EventType::Deleted);
        if self.spec(kind).namespaced {
            self.finish_namespace(st, &ns);
        }
        removed
    }

    /// Stores a change at the next resource version, records it and broadcasts it.
    fn commit(
        &self,
        st: &mut State,
        kind: KindId,
        key: Key,
        mut obj: Value,
        previous: Option<Arc<Value>>,
        event: EventType,
    ) -> Arc<Value> {
        st.rv += 1;
        st.writes += 1;
        let rv = st.rv;
        meta::metadata_mut(&mut obj)
            .insert("resourceVersion".into(), Value::String(rv.to_string()));
        let obj = Arc::new(obj);
        let history_limit = self.config.history;
        let ks = &mut st.kinds[kind];
        match event {
            EventType::Deleted => {
                ks.objects.remove(&key);
            }
            EventType::Added | EventType::Modified => {
                ks.objects.insert(key, obj.clone());
            }
        }
        let change = Arc::new(Change {
            rv,
            event,
            object: obj.clone(),
            previous,
        });
        ks.history.push_back(change.clone());
        while ks.history.len() > history_limit {
            if let Some(dropped) = ks.history.pop_front() {
                ks.compacted = dropped.rv;
            }
        }
        // No receiver is fine: nobody watches this kind right now.
        let _ = ks.tx.send(change);
        if kind == self.table.crd_kind() {
            self.crd_changed(st, &obj, event);
        }
        obj
    }

    /// A CustomResourceDefinition was written: serve the gated kind it defines, or, once it
    /// is gone, withdraw the kind as a real server does: its objects are deleted and its
    /// watches end (closing the kind's broadcast channel ends every stream fed by it).
    fn crd_changed(&self, st: &mut State, crd: &Value, event: EventType) {
        let Some(kind) = meta::name(crd).and_then(|name| self.table.gated_by(name)) else {
            return;
        };
        if event != EventType::Deleted {
            self.table.set_served(kind, true);
            return;
        }
        self.table.set_served(kind, false);
        let objects: Vec<(Key, Arc<Value>)> = st.kinds[kind]
            .objects
            .iter()
            .map(|(key, obj)| (key.clone(), obj.clone()))
            .collect();
        for (key, old) in objects {
            self.commit(st, kind, key, (*old).clone(), Some(old), EventType::Deleted);
        }
        st.kinds[kind].tx = broadcast::channel(self.config.watch_buffer.max(16)).0;
    }
}
