//! Strict validation of Kubernetes objects against the upstream schemas of the pinned
//! versions, as the API server does with `fieldValidation=Strict`.
//!
//! Schemas come from: the built-in kinds of one Kubernetes minor
//! ([`KUBERNETES_MINOR`], vendored by `scripts/vendor-kubernetes-schemas.sh`); every served
//! version of every CustomResourceDefinition under `vendor/**/*.yaml` (embedded at build
//! time); and the CRDs a repo installs itself ([`Catalog::add_crd`]), which take precedence
//! for their owner (an installation, or the whole repo) because they are what its cluster
//! will serve. A kind none of these knows is [`ViolationKind::UnknownKind`].
//!
//! Semantics: undeclared fields are errors unless `x-kubernetes-preserve-unknown-fields`;
//! `x-kubernetes-embedded-resource` (`apiVersion`/`kind`/`metadata` allowed, metadata
//! checked), `x-kubernetes-int-or-string`, `nullable`, `required`, `type`, `enum`,
//! `pattern`, `minimum`/`maximum` (+ exclusive), `multipleOf`, `min/maxItems`,
//! `min/maxLength`, `min/maxProperties`, `uniqueItems`, `additionalProperties`, the
//! value-only `allOf`/`anyOf`/`oneOf`/`not`, `x-kubernetes-list-type` `set`/`map`
//! uniqueness (CRDs), and the cheap `format`s (see `format.rs`). Every object's
//! `metadata` is checked as `ObjectMeta` and must have a name. Not evaluated: CEL rules
//! (`x-kubernetes-validations`), which need a CEL engine; nor defaulting or conversion.
//! A SOPS-encrypted document is checked without its top-level `sops` key, and its
//! `ENC[…]` values stand for any scalar.
//!
//! Each schema is compiled once, on first use of its (group, version, kind), and shared
//! between threads.

mod compile;
mod format;
// build.rs indexes the vendored CRDs with it; at run time only the tests scan.
#[cfg(test)]
mod scan;
mod sources;
mod walk;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};

use compile::{Arena, Compiler, Dialect};
pub use sources::{vendored_files, KUBERNETES_MINOR};
pub use walk::Problem;

/// What kind of violation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ViolationKind {
    /// The object does not validate against its schema.
    Invalid,
    /// No schema anywhere for the kind: nothing in the repo (or vendored) installs it.
    UnknownKind,
    /// The kind is known, but not at this version (it is not served).
    UnservedVersion,
}

/// One violation, naming the object and the field.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Violation {
    /// `apiVersion` of the object.
    pub api_version: String,
    /// `kind` of the object.
    pub kind: String,
    /// `metadata.namespace`, when set.
    pub namespace: Option<String>,
    /// `metadata.name` (empty when missing).
    pub name: String,
    /// Field path (`spec.template.spec.containers[0].image`); empty for the whole object.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// Invalid, unknown kind, unserved version.
    pub violation: ViolationKind,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ", self.kind)?;
        if let Some(ns) = &self.namespace {
            write!(f, "{ns}/")?;
        }
        write!(f, "{}", self.name)?;
        if !self.path.is_empty() {
            write!(f, ": {}", self.path)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Where a schema comes from (the compiled-schema cache key with the version).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Source {
    Builtin(String),
    Vendored(sources::DocRef),
    Repo(usize),
}

/// A compiled schema (`None`: the source yields none).
type Compiled = Option<Arc<Arena>>;

/// A CRD the repo installs, with the installations it belongs to (`None`: the whole repo).
#[derive(Debug)]
struct RepoCrd {
    doc: Arc<Value>,
    owners: Vec<Option<String>>,
}

/// The schemas to validate against, compiled lazily. `Sync`: share one across threads.
#[derive(Default)]
pub struct Catalog {
    repo: Vec<RepoCrd>,
    /// (group, kind) -> indices into `repo`.
    repo_index: HashMap<(String, String), Vec<usize>>,
    vendored_docs: Mutex<HashMap<sources::DocRef, Option<Arc<Value>>>>,
    compiled: Mutex<HashMap<(Source, String), Compiled>>,
}

impl fmt::Debug for Catalog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Catalog")
            .field("repo_crds", &self.repo.len())
            .finish()
    }
}

/// Whether `doc` is a CustomResourceDefinition (apiextensions.k8s.io/v1).
pub fn is_crd(doc: &Value) -> bool {
    doc.get("kind").and_then(Value::as_str) == Some("CustomResourceDefinition")
        && doc
            .get("apiVersion")
            .and_then(Value::as_str)
            .is_some_and(|a| a.starts_with("apiextensions.k8s.io/"))
}

/// `spec.group`, `spec.names.kind` of a CRD.
fn crd_id(doc: &Value) -> Option<(String, String)> {
    let spec = doc.get("spec")?;
    Some((
        spec.get("group")?.as_str()?.to_owned(),
        spec.get("names")?.get("kind")?.as_str()?.to_owned(),
    ))
}

/// Whether `doc` is an object a cluster is given, which the validator checks: it has an
/// `apiVersion` and a `kind`, and is not one of the files that only tools read
/// (kustomize's `Kustomization`/`Component`, mcb's own documents, a kubeconfig).
pub fn is_api_object(doc: &Value) -> bool {
    let s = |k: &str| doc.get(k).and_then(Value::as_str).unwrap_or_default();
    let (api, kind) = (s("apiVersion"), s("kind"));
    let group = split_api_version(api).0;
    let tool_file =
        matches!(group, "kustomize.config.k8s.io" | "mcb") || (api, kind) == ("v1", "Config");
    !(api.is_empty() || kind.is_empty() || tool_file)
}

/// Reads the vendored schema data now rather than on the first validation (a caller
/// with other work to do starts it on another thread).
pub fn warm() {
    sources::builtin();
    sources::vendored_index();
}

/// Whether a CRD for (group, kind) is vendored (embedded in mcb).
pub fn is_vendored(group: &str, kind: &str) -> bool {
    sources::vendored_index().contains_key(&(group.to_owned(), kind.to_owned()))
}

fn split_api_version(api: &str) -> (&str, &str) {
    api.rsplit_once('/').unwrap_or(("", api))
}

impl Catalog {
    /// The vendored schemas only.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a CRD the repo installs, for `owner` (an installation) or the whole repo
    /// (`None`). Identical CRDs of several owners are kept (and compiled) once. Documents
    /// that are not CRDs are ignored.
    pub fn add_crd(&mut self, doc: &Value, owner: Option<&str>) {
        let Some(id) = is_crd(doc).then(|| crd_id(doc)).flatten() else {
            return;
        };
        let owner = owner.map(str::to_owned);
        let slots = self.repo_index.entry(id).or_default();
        if let Some(&i) = slots.iter().find(|&&i| *self.repo[i].doc == *doc) {
            if !self.repo[i].owners.contains(&owner) {
                self.repo[i].owners.push(owner);
            }
            return;
        }
        slots.push(self.repo.len());
        self.repo.push(RepoCrd {
            doc: Arc::new(doc.clone()),
            owners: vec![owner],
        });
    }

    /// The repo CRDs `owner` sees (indices, sorted): two owners with the same scope get
    /// the same result for the same object, so callers can validate it once.
    pub fn scope(&self, owner: Option<&str>) -> Vec<usize> {
        (0..self.repo.len())
            .filter(|&i| {
                self.repo[i]
                    .owners
                    .iter()
                    .any(|o| o.is_none() || o.as_deref() == owner)
            })
            .collect()
    }

    /// Validates one object for `owner` (whose CRDs, with the repo-wide ones, come first).
    /// `sops`: the document is SOPS-encrypted (its `sops` key is ignored, `ENC[…]` values
    /// are accepted as any scalar). Returns every violation, sorted by path.
    pub fn validate(&self, obj: &Value, owner: Option<&str>, sops: bool) -> Vec<Violation> {
        let str_at = |k: &str| obj.get(k).and_then(Value::as_str).unwrap_or_default();
        let meta = obj.get("metadata");
        let meta_str = |k: &str| meta.and_then(|m| m.get(k)).and_then(Value::as_str);
        let violation = |path: &str, message: String, violation| Violation {
            api_version: str_at("apiVersion").to_owned(),
            kind: str_at("kind").to_owned(),
            namespace: meta_str("namespace").map(str::to_owned),
            name: meta_str("name").unwrap_or_default().to_owned(),
            path: path.to_owned(),
            message,
            violation,
        };
        let Some(map) = obj.as_object() else {
            return vec![violation(
                "",
                "must be an object".into(),
                ViolationKind::Invalid,
            )];
        };
        let (api, kind) = (str_at("apiVersion"), str_at("kind"));
        if api.is_empty() || kind.is_empty() {
            let missing = if api.is_empty() { "apiVersion" } else { "kind" };
            return vec![violation(
                missing,
                "Required value".into(),
                ViolationKind::Invalid,
            )];
        }
        let arena = match self.schema(api, kind, owner) {
            Lookup::Found(a) => a,
            Lookup::Unserved(served) => {
                return vec![violation(
                    "apiVersion",
                    format!(
                        "{kind} is installed, but not served at {api} (served: {}); use a served version",
                        served.join(", ")
                    ),
                    ViolationKind::UnservedVersion,
                )]
            }
            Lookup::Unknown => {
                return vec![violation(
                    "",
                    format!("no schema for {kind} ({api}): nothing in the repo or vendor/ installs it"),
                    ViolationKind::UnknownKind,
                )]
            }
        };
        let stripped;
        let target = if sops && map.contains_key("sops") {
            let mut m: Map<String, Value> = map.clone();
            m.remove("sops");
            stripped = Value::Object(m);
            &stripped
        } else {
            obj
        };
        let w = walk::Walk { sops };
        let mut problems = walk::check(&arena, 0, target, "", w);
        if meta_str("name").is_none() && meta_str("generateName").is_none() {
            problems.push(Problem {
                path: "metadata.name".into(),
                message: "Required value: name or generateName is required".into(),
            });
        }
        problems.sort();
        problems.dedup();
        problems
            .into_iter()
            .map(|p| violation(&p.path, p.message, ViolationKind::Invalid))
            .collect()
    }

    fn schema(&self, api: &str, kind: &str, owner: Option<&str>) -> Lookup {
        let (group, version) = split_api_version(api);
        let b = sources::builtin();
        if let Some(def) = b.kinds.get(&format!("{api}/{kind}")) {
            return self.compiled(Source::Builtin(def.clone()), version, || {
                let root = serde_json::json!({ "$ref": def });
                Some(Compiler::new(Some(&b.defs)).compile(&root, Dialect::Builtin))
            });
        }
        let key = (group.to_owned(), kind.to_owned());
        let repo = self.repo_index.get(&key).and_then(|slots| {
            let visible = |i: &&usize| {
                self.repo[**i]
                    .owners
                    .iter()
                    .any(|o| o.is_none() || o.as_deref() == owner)
            };
            // An installation's own CRD before a repo-wide one.
            slots
                .iter()
                .filter(visible)
                .find(|&&i| {
                    self.repo[i]
                        .owners
                        .iter()
                        .any(|o| o.as_deref() == owner && owner.is_some())
                })
                .or_else(|| slots.iter().find(visible))
                .copied()
        });
        let source = match repo {
            Some(i) => Source::Repo(i),
            None => match sources::vendored_index().get(&key).and_then(|v| v.last()) {
                Some(doc_ref) => Source::Vendored(*doc_ref),
                None => return Lookup::Unknown,
            },
        };
        // Compiled already: no need to look at (or copy) the CRD again, which a fleet of
        // installations asks for once per object of its kinds.
        let cached = self
            .compiled
            .lock()
            .expect("schema cache lock")
            .get(&(source.clone(), version.to_owned()))
            .cloned();
        if let Some(hit) = cached {
            return hit.map_or(Lookup::Unknown, Lookup::Found);
        }
        let doc = match &source {
            Source::Repo(i) => self.repo[*i].doc.clone(),
            Source::Vendored(doc_ref) => match self.vendored_doc(*doc_ref) {
                Some(doc) => doc,
                None => return Lookup::Unknown,
            },
            Source::Builtin(_) => unreachable!("built-in kinds returned above"),
        };
        let served = served_versions(&doc);
        let Some(&(_, schema)) = served.iter().find(|(v, _)| *v == version) else {
            return Lookup::Unserved(served.into_iter().map(|(v, _)| v.to_owned()).collect());
        };
        self.compiled(source, version, || Some(compile_crd(schema)))
    }

    fn vendored_doc(&self, r: sources::DocRef) -> Option<Arc<Value>> {
        let mut docs = self.vendored_docs.lock().expect("schema cache lock");
        docs.entry(r)
            .or_insert_with(|| serde_saphyr::from_str::<Value>(r.text()).ok().map(Arc::new))
            .clone()
    }

    fn compiled(
        &self,
        source: Source,
        version: &str,
        build: impl FnOnce() -> Option<Arena>,
    ) -> Lookup {
        let key = (source, version.to_owned());
        if let Some(hit) = self.compiled.lock().expect("schema cache lock").get(&key) {
            return hit.clone().map_or(Lookup::Unknown, Lookup::Found);
        }
        // Compiled outside the lock; a race compiles twice and keeps one, harmlessly.
        let arena = build().map(Arc::new);
        self.compiled
            .lock()
            .expect("schema cache lock")
            .entry(key)
            .or_insert(arena)
            .clone()
            .map_or(Lookup::Unknown, Lookup::Found)
    }
}

enum Lookup {
    Found(Arc<Arena>),
    Unserved(Vec<String>),
    Unknown,
}

/// Served versions of a CRD with their schema (`None`: the version has none, and
/// everything is preserved). Borrowed: CRD schemas run to hundreds of kB.
fn served_versions(crd: &Value) -> Vec<(&str, Option<&Value>)> {
    let Some(versions) = crd.pointer("/spec/versions").and_then(Value::as_array) else {
        return Vec::new();
    };
    versions
        .iter()
        .filter(|v| v.get("served").and_then(Value::as_bool).unwrap_or(true))
        .filter_map(|v| {
            Some((
                v.get("name")?.as_str()?,
                v.pointer("/schema/openAPIV3Schema"),
            ))
        })
        .collect()
}

/// Compiles a CRD version's schema. The root's `apiVersion`, `kind` and `metadata` are the
/// API server's (metadata is ObjectMeta whatever the CRD declares), so the root is
/// an embedded resource without its own declarations of them (compiled, then dropped from
/// the root's fields: cheaper than copying the schema without them).
fn compile_crd(schema: Option<&Value>) -> Arena {
    let preserve;
    let schema = match schema {
        Some(s) => s,
        None => {
            preserve = serde_json::json!({"x-kubernetes-preserve-unknown-fields": true});
            &preserve
        }
    };
    let mut arena = Compiler::new(Some(&sources::builtin().defs)).compile(schema, Dialect::Crd);
    let root = &mut arena.nodes[0];
    root.properties
        .retain(|(k, _)| !matches!(k.as_str(), "apiVersion" | "kind" | "metadata"));
    root.embedded = true;
    arena
}

#[cfg(test)]
mod tests;
