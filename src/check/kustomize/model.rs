//! The native kustomize model: what `kustomize build DIR` would refuse, found without
//! running it, for the kustomization features mcb renders and the common hand-written ones.
//!
//! Modelled: `resources`/`bases` (files and directories; a file must be inside the
//! kustomization's directory tree, a directory must hold exactly one kustomization file;
//! no cycles), every document an object with `kind` and `metadata.name` (`*List` kinds
//! expanded), `configMapGenerator`/`secretGenerator` (`behavior: create`; files inside the
//! tree, keys unique), `namespace`, `namePrefix`/`nameSuffix`, labels, annotations,
//! `images`, `generatorOptions`. Object ids (group, version, kind, namespace, name) must be
//! unique when resources accumulate and after the namespace transform, as kustomize
//! requires. Patches are checked for a target (a strategic-merge patch without `target`
//! must name an object of the kustomization) and then applied only by kubectl.
//! Anything else (components, replacements, transformers, helm charts, a remote resource
//! with `--allow-remote`, ...) makes the directory [`Outcome::Unmodelled`]: kubectl builds
//! the outermost kustomization that includes it.
//!
//! Size: one model, kustomize's accumulation of resources, generators and transforms over
//! one resource graph, whose parts share its types; the tests are in `model/tests.rs`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::rc::Rc;

use serde_json::Value;

use super::super::yaml::{self, find_line, Parsed};
use super::super::{Finding, RepoFile};
use super::{NAMES, RULE};

/// Kustomization fields this model understands (anything else goes to kubectl).
const MODELLED: [&str; 18] = [
    "apiVersion",
    "kind",
    "metadata",
    "resources",
    "bases",
    "namespace",
    "namePrefix",
    "nameSuffix",
    "commonLabels",
    "labels",
    "commonAnnotations",
    "images",
    "configMapGenerator",
    "secretGenerator",
    "generatorOptions",
    "patches",
    "patchesStrategicMerge",
    "patchesJson6902",
];

/// Built-in kinds without a namespace (kustomize's namespace transformer leaves them
/// alone; kinds it does not know, CRD kinds included, it treats as namespaced).
const CLUSTER_SCOPED: [&str; 27] = [
    "APIService",
    "CertificateSigningRequest",
    "ClusterRole",
    "ClusterRoleBinding",
    "ClusterTrustBundle",
    "ComponentStatus",
    "CSIDriver",
    "CSINode",
    "CustomResourceDefinition",
    "DeviceClass",
    "FlowSchema",
    "IngressClass",
    "IPAddress",
    "MutatingAdmissionPolicy",
    "MutatingAdmissionPolicyBinding",
    "MutatingWebhookConfiguration",
    "Namespace",
    "Node",
    "PersistentVolume",
    "PriorityClass",
    "PriorityLevelConfiguration",
    "RuntimeClass",
    "ServiceCIDR",
    "StorageClass",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "ValidatingWebhookConfiguration",
];

/// One object as kustomize identifies it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id {
    group: String,
    version: String,
    kind: String,
    namespace: String,
    name: String,
}

impl Id {
    fn namespaced(&self) -> bool {
        !CLUSTER_SCOPED.contains(&self.kind.as_str())
    }

    /// The id kustomize compares: an empty namespace of a namespaced kind is `default`.
    fn key(&self) -> (String, String, String, String, String) {
        let ns = match (self.namespaced(), self.namespace.as_str()) {
            (false, _) => String::new(),
            (true, "") => "default".into(),
            (true, ns) => ns.into(),
        };
        (
            self.group.clone(),
            self.version.clone(),
            self.kind.clone(),
            ns,
            self.name.clone(),
        )
    }

    fn show(&self) -> String {
        if self.namespaced() && !self.namespace.is_empty() {
            format!("{} {}/{}", self.kind, self.namespace, self.name)
        } else {
            format!("{} {}", self.kind, self.name)
        }
    }
}

/// What building one kustomization directory gives.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// It builds; these are the objects it outputs.
    Built(Rc<Vec<Id>>),
    /// It uses a feature the model does not cover (why): kubectl has to build it.
    Unmodelled(String),
    /// It (or a directory it includes) names a remote resource: (kustomization, entry).
    Remote(String, String),
    /// It does not build; the findings say why.
    Failed,
}

/// The repo as the model reads it: the checked files, their parsed documents, the disk for
/// anything else (a file `.mcbignore` leaves out is still there for kustomize).
pub struct Repo<'a> {
    root: &'a Path,
    files: &'a [RepoFile],
    by_path: HashMap<&'a str, usize>,
    dirs: HashSet<&'a str>,
    docs: &'a HashMap<usize, &'a Parsed>,
}

impl<'a> Repo<'a> {
    /// The model's view of `files` (with their parsed documents) under `root`.
    pub fn new(
        root: &'a Path,
        files: &'a [RepoFile],
        docs: &'a HashMap<usize, &'a Parsed>,
    ) -> Self {
        let by_path = files
            .iter()
            .enumerate()
            .map(|(i, f)| (f.path.as_str(), i))
            .collect();
        let mut dirs = HashSet::new();
        for f in files {
            let mut p = f.path.as_str();
            while let Some((d, _)) = p.rsplit_once('/') {
                if !dirs.insert(d) {
                    break;
                }
                p = d;
            }
        }
        Repo {
            root,
            files,
            by_path,
            dirs,
            docs,
        }
    }

    /// The checked files.
    pub fn files(&self) -> &'a [RepoFile] {
        self.files
    }

    fn is_file(&self, path: &str) -> bool {
        self.by_path.contains_key(path) || self.on_disk(path).is_some_and(|m| m.is_file())
    }

    fn is_dir(&self, path: &str) -> bool {
        path.is_empty()
            || self.dirs.contains(path)
            || self.on_disk(path).is_some_and(|m| m.is_dir())
    }

    /// Metadata of a path that is not a link (check never reads through links).
    fn on_disk(&self, path: &str) -> Option<std::fs::Metadata> {
        std::fs::symlink_metadata(self.root.join(path))
            .ok()
            .filter(|m| !m.file_type().is_symlink())
    }

    /// The documents of a file: parsed already, or read and parsed now.
    fn parsed(&self, path: &str) -> Option<Docs<'a>> {
        match self.by_path.get(path) {
            Some(i) => Some(match self.docs.get(i) {
                Some(p) => Docs::Shared(p),
                None => Docs::Own(yaml::parse(*i, self.files[*i].text())),
            }),
            None => {
                let text = std::fs::read_to_string(self.root.join(path)).ok()?;
                Some(Docs::Own(yaml::parse(usize::MAX, &text)))
            }
        }
    }

    fn text(&self, path: &str) -> String {
        match self.by_path.get(path) {
            Some(i) => self.files[*i].text().to_owned(),
            None => std::fs::read_to_string(self.root.join(path)).unwrap_or_default(),
        }
    }

    fn repo_file(&self, path: &str) -> RepoFile {
        match self.by_path.get(path) {
            Some(i) => self.files[*i].clone(),
            None => RepoFile::new(path, Vec::new()),
        }
    }

    /// The kustomization file of directory `dir`: `Ok(None)` when it has none.
    fn kustomization(&self, dir: &str) -> Result<Option<String>, Vec<String>> {
        let found: Vec<String> = NAMES
            .iter()
            .map(|n| join(dir, n))
            .filter(|p| self.is_file(p))
            .collect();
        match found.len() {
            0 => Ok(None),
            1 => Ok(found.into_iter().next()),
            _ => Err(found),
        }
    }
}

/// A file's documents: shared with the other checks, or parsed for the model alone.
enum Docs<'a> {
    Shared(&'a Parsed),
    Own(Parsed),
}

impl std::ops::Deref for Docs<'_> {
    type Target = Parsed;
    fn deref(&self) -> &Parsed {
        match self {
            Docs::Shared(p) => p,
            Docs::Own(p) => p,
        }
    }
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_owned()
    } else {
        format!("{dir}/{name}")
    }
}

/// `dir/rel` with `.` and `..` resolved; `None` when it climbs out of the repo.
pub fn normalize(dir: &str, rel: &str) -> Option<String> {
    let mut parts: Vec<&str> = dir.split('/').filter(|s| !s.is_empty()).collect();
    for seg in rel.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            s => parts.push(s),
        }
    }
    Some(parts.join("/"))
}

/// Whether an entry names something kustomize would fetch: a URL, `git@host:…`, or
/// `host.tld/path` (kustomize's short git form) that is not on disk.
pub fn looks_remote(entry: &str) -> bool {
    entry.contains("://")
        || entry.starts_with("git@")
        || entry
            .split_once('/')
            .is_some_and(|(host, _)| host.contains('.') && host != "." && host != "..")
}

/// Builds kustomization directories of one installation, each once.
pub struct Model<'r, 'a> {
    repo: &'r Repo<'a>,
    allow_remote: bool,
    memo: HashMap<String, Outcome>,
    stack: Vec<String>,
    /// Directories some other kustomization includes.
    pub included: HashSet<String>,
    /// What does not build.
    pub findings: Vec<Finding>,
}

/// One kustomization being built: its directory, file and text, for findings.
struct Ctx {
    dir: String,
    file: RepoFile,
    text: String,
}

impl Ctx {
    fn fail(&self, out: &mut Vec<Finding>, line_of: &str, what: String) {
        let line = Some(find_line(&self.text, 1, line_of));
        let dir = if self.dir.is_empty() {
            "."
        } else {
            self.dir.as_str()
        };
        out.push(Finding::error(
            &self.file,
            line,
            RULE,
            format!("`kustomize build {dir}` fails: {what}"),
        ));
    }
}

impl<'r, 'a> Model<'r, 'a> {
    /// A model over `repo`; `allow_remote` turns a remote resource into work for kubectl.
    pub fn new(repo: &'r Repo<'a>, allow_remote: bool) -> Self {
        Model {
            repo,
            allow_remote,
            memo: HashMap::new(),
            stack: Vec::new(),
            included: HashSet::new(),
            findings: Vec::new(),
        }
    }

    /// Builds the kustomization directory `dir` (repo-relative).
    pub fn build(&mut self, dir: &str) -> Outcome {
        if let Some(o) = self.memo.get(dir) {
            return o.clone();
        }
        self.stack.push(dir.to_owned());
        let out = self.build_uncached(dir);
        self.stack.pop();
        self.memo.insert(dir.to_owned(), out.clone());
        out
    }

    fn build_uncached(&mut self, dir: &str) -> Outcome {
        let file = match self.repo.kustomization(dir) {
            Ok(Some(f)) => f,
            Ok(None) => return Outcome::Failed, // reported by the includer
            Err(many) => {
                let ctx = Ctx {
                    dir: dir.to_owned(),
                    file: self.repo.repo_file(&many[0]),
                    text: String::new(),
                };
                ctx.fail(
                    &mut self.findings,
                    "",
                    format!(
                        "found more than one kustomization file ({}): keep one",
                        many.join(", ")
                    ),
                );
                return Outcome::Failed;
            }
        };
        let ctx = Ctx {
            dir: dir.to_owned(),
            file: self.repo.repo_file(&file),
            text: self.repo.text(&file),
        };
        let Some(parsed) = self.repo.parsed(&file) else {
            return Outcome::Failed;
        };
        if let Some((line, msg)) = &parsed.error {
            let dir = if dir.is_empty() { "." } else { dir };
            self.findings.push(Finding::error(
                &ctx.file,
                *line,
                RULE,
                format!("`kustomize build {dir}` fails: the kustomization does not parse: {msg}"),
            ));
            return Outcome::Failed;
        }
        let k = match parsed.docs.as_slice() {
            [Value::Object(m)] => m.clone(),
            [] | [Value::Null] => {
                ctx.fail(&mut self.findings, "", "the kustomization is empty".into());
                return Outcome::Failed;
            }
            [_] => {
                ctx.fail(
                    &mut self.findings,
                    "",
                    "the kustomization is not a mapping".into(),
                );
                return Outcome::Failed;
            }
            _ => return Outcome::Unmodelled(format!("{file} holds more than one YAML document")),
        };
        let mut st = State::default();
        match k.get("kind").map(Value::as_str) {
            None | Some(Some("Kustomization")) => {}
            Some(Some("Component")) => st.unmodelled(format!("{file} is a Component")),
            Some(_) => {
                ctx.fail(
                    &mut self.findings,
                    "kind:",
                    "`kind` must be Kustomization (or Component)".into(),
                );
                return Outcome::Failed;
            }
        }
        if let Some(f) = k.keys().find(|f| !MODELLED.contains(&f.as_str())) {
            st.unmodelled(format!("{file} uses `{f}`"));
        }
        self.types(&ctx, &k, &mut st);
        for field in ["resources", "bases"] {
            for e in strings(&k, field) {
                self.resource(&ctx, e, &mut st);
            }
        }
        for (field, kind) in [
            ("configMapGenerator", "ConfigMap"),
            ("secretGenerator", "Secret"),
        ] {
            for g in k.get(field).and_then(Value::as_array).into_iter().flatten() {
                self.generator(&ctx, field, kind, g, &mut st);
            }
        }
        if st.failed {
            return Outcome::Failed;
        }
        let before = st.ids.clone();
        if let Some(ns) = k
            .get("namespace")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
        {
            let mut seen: BTreeMap<_, Id> = BTreeMap::new();
            for id in &mut st.ids {
                let old = id.clone();
                if id.namespaced() {
                    id.namespace = ns.to_owned();
                }
                if let Some(other) = seen.insert(id.key(), old.clone()) {
                    ctx.fail(
                        &mut self.findings,
                        "namespace:",
                        format!(
                            "namespace `{ns}` makes {} and {} the same object",
                            other.show(),
                            old.show()
                        ),
                    );
                    st.failed = true;
                }
            }
        }
        let prefix = k.get("namePrefix").and_then(Value::as_str).unwrap_or("");
        let suffix = k.get("nameSuffix").and_then(Value::as_str).unwrap_or("");
        for id in &mut st.ids {
            id.name = format!("{prefix}{}{suffix}", id.name);
        }
        self.patches(&ctx, &k, &before, &mut st);
        if st.failed {
            Outcome::Failed
        } else if let Some((f, e)) = st.remote {
            Outcome::Remote(f, e)
        } else if let Some(why) = st.unmodelled {
            Outcome::Unmodelled(why)
        } else {
            Outcome::Built(Rc::new(st.ids))
        }
    }

    /// Field types kustomize's typed struct would refuse.
    fn types(&mut self, ctx: &Ctx, k: &serde_json::Map<String, Value>, st: &mut State) {
        let mut bad = |field: &str, want: &str| {
            ctx.fail(
                &mut self.findings,
                &format!("{field}:"),
                format!("`{field}` must be {want}"),
            );
            st.failed = true;
        };
        for f in ["namespace", "namePrefix", "nameSuffix"] {
            if k.get(f).is_some_and(|v| !v.is_string() && !v.is_null()) {
                bad(f, "a string");
            }
        }
        for f in ["resources", "bases", "patchesStrategicMerge"] {
            if k.get(f).is_some_and(|v| {
                !v.is_null() && !v.as_array().is_some_and(|a| a.iter().all(Value::is_string))
            }) {
                bad(f, "a list of strings");
            }
        }
        for f in [
            "configMapGenerator",
            "secretGenerator",
            "patches",
            "patchesJson6902",
            "images",
            "labels",
        ] {
            if k.get(f).is_some_and(|v| {
                !v.is_null() && !v.as_array().is_some_and(|a| a.iter().all(Value::is_object))
            }) {
                bad(f, "a list of mappings");
            }
        }
        for f in ["commonLabels", "commonAnnotations"] {
            if k.get(f).is_some_and(|v| {
                !v.is_null()
                    && !v
                        .as_object()
                        .is_some_and(|m| m.values().all(Value::is_string))
            }) {
                bad(f, "a mapping of strings to strings");
            }
        }
    }

    /// One `resources` entry.
    fn resource(&mut self, ctx: &Ctx, entry: &str, st: &mut State) {
        let Some(path) = normalize(&ctx.dir, entry) else {
            st.unmodelled(format!(
                "{} names `{entry}` outside the repo",
                ctx.file.path
            ));
            return;
        };
        if self.repo.is_file(&path) {
            if !inside(&ctx.dir, &path) {
                ctx.fail(&mut self.findings, entry, format!("resource `{entry}` is outside the kustomization's directory: kustomize loads files only from its own tree (a directory with its own kustomization may be anywhere)"));
                st.failed = true;
                return;
            }
            self.objects(ctx, entry, &path, st);
        } else if self.repo.is_dir(&path) && !looks_remote_url(entry) {
            if let Ok(None) = self.repo.kustomization(&path) {
                ctx.fail(
                    &mut self.findings,
                    entry,
                    format!("resource `{entry}` is a directory without a kustomization.yaml"),
                );
                st.failed = true;
                return;
            }
            if let Some(at) = self.stack.iter().position(|d| *d == path) {
                let mut cycle: Vec<&str> = self.stack[at..].iter().map(String::as_str).collect();
                cycle.push(&path);
                ctx.fail(
                    &mut self.findings,
                    entry,
                    format!("resource `{entry}` makes a cycle: {}", cycle.join(" -> ")),
                );
                st.failed = true;
                return;
            }
            self.included.insert(path.clone());
            match self.build(&path) {
                Outcome::Built(ids) => st.add_all(ctx, entry, &ids, &mut self.findings),
                Outcome::Unmodelled(why) => st.unmodelled(why),
                Outcome::Remote(f, e) => {
                    st.remote.get_or_insert((f, e));
                }
                Outcome::Failed => st.failed = true,
            }
        } else if looks_remote(entry) {
            if self.allow_remote {
                st.unmodelled(format!(
                    "{} names the remote resource {entry:?}",
                    ctx.file.path
                ));
            } else {
                st.remote
                    .get_or_insert((ctx.file.path.clone(), entry.to_owned()));
            }
        } else {
            ctx.fail(
                &mut self.findings,
                entry,
                format!("resource `{entry}` does not exist"),
            );
            st.failed = true;
        }
    }

    /// The objects of resource file `path` (`entry` as the kustomization names it).
    fn objects(&mut self, ctx: &Ctx, entry: &str, path: &str, st: &mut State) {
        let Some(p) = self.repo.parsed(path) else {
            ctx.fail(
                &mut self.findings,
                entry,
                format!("resource `{entry}` cannot be read"),
            );
            st.failed = true;
            return;
        };
        if let Some((line, msg)) = &p.error {
            let at = line.map(|l| format!(" (line {l})")).unwrap_or_default();
            ctx.fail(
                &mut self.findings,
                entry,
                format!("resource `{entry}` does not parse{at}: {msg}"),
            );
            st.failed = true;
            return;
        }
        let mut ids = Vec::new();
        for (n, doc) in p.docs.iter().enumerate() {
            let items: Vec<&Value> = match doc {
                Value::Null => continue,
                d if d
                    .get("kind")
                    .and_then(Value::as_str)
                    .is_some_and(|k| k.ends_with("List"))
                    && d.get("items").is_some_and(Value::is_array) =>
                {
                    d["items"].as_array().into_iter().flatten().collect()
                }
                d => vec![d],
            };
            for d in items {
                match id_of(d) {
                    Ok(id) => ids.push(id),
                    Err(IdError::GenerateName) => {
                        st.unmodelled(format!("{path} uses metadata.generateName"))
                    }
                    Err(IdError::Missing(what)) => {
                        ctx.fail(
                            &mut self.findings,
                            entry,
                            format!("resource `{entry}`, document {}: {what}", n + 1),
                        );
                        st.failed = true;
                    }
                }
            }
        }
        st.add_all(ctx, entry, &ids, &mut self.findings);
    }

    /// One `configMapGenerator`/`secretGenerator` item.
    fn generator(&mut self, ctx: &Ctx, field: &str, kind: &str, g: &Value, st: &mut State) {
        let Some(name) = g
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
        else {
            ctx.fail(
                &mut self.findings,
                &format!("{field}:"),
                format!("a `{field}` item has no name"),
            );
            st.failed = true;
            return;
        };
        match g.get("behavior").and_then(Value::as_str) {
            None | Some("create") => {}
            Some(b) => {
                st.unmodelled(format!(
                    "{} merges generator `{name}` (behavior: {b})",
                    ctx.file.path
                ));
                return;
            }
        }
        let mut keys = HashSet::new();
        let mut key = |k: &str, model: &mut Self, st: &mut State| {
            let valid = !k.is_empty()
                && k.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b));
            if !valid || !keys.insert(k.to_owned()) {
                let why = if valid {
                    "is given twice"
                } else {
                    "is not a valid key (letters, digits, `-`, `_`, `.`)"
                };
                ctx.fail(
                    &mut model.findings,
                    name,
                    format!("{kind} `{name}`: key `{k}` {why}"),
                );
                st.failed = true;
            }
        };
        for f in g
            .get("files")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            let (k, rel) = match f.split_once('=') {
                Some((k, p)) => (k.to_owned(), p),
                None => (f.rsplit('/').next().unwrap_or(f).to_owned(), f),
            };
            if !self.generator_file(ctx, name, kind, rel, st) {
                continue;
            }
            key(&k, self, st);
        }
        for l in g
            .get("literals")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            match l.split_once('=') {
                Some((k, _)) => key(k.trim(), self, st),
                None => {
                    ctx.fail(
                        &mut self.findings,
                        name,
                        format!("{kind} `{name}`: literal {l:?} is not KEY=VALUE"),
                    );
                    st.failed = true;
                }
            }
        }
        let envs = g
            .get("envs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .chain(g.get("env"));
        for e in envs.filter_map(Value::as_str) {
            self.generator_file(ctx, name, kind, e, st);
        }
        let id = Id {
            group: String::new(),
            version: "v1".into(),
            kind: kind.into(),
            namespace: g
                .get("namespace")
                .and_then(Value::as_str)
                .unwrap_or("")
                .into(),
            name: name.into(),
        };
        st.add_all(ctx, name, &[id], &mut self.findings);
    }

    /// Whether a generator's source file exists inside the kustomization's tree (a finding if not).
    fn generator_file(
        &mut self,
        ctx: &Ctx,
        name: &str,
        kind: &str,
        rel: &str,
        st: &mut State,
    ) -> bool {
        let path = normalize(&ctx.dir, rel);
        let why = match &path {
            Some(p) if self.repo.is_file(p) && inside(&ctx.dir, p) => return true,
            Some(p) if self.repo.is_file(p) => "is outside the kustomization's directory",
            _ => "does not exist",
        };
        ctx.fail(
            &mut self.findings,
            rel,
            format!("{kind} `{name}`: file `{rel}` {why}"),
        );
        st.failed = true;
        false
    }

    /// Strategic-merge patches without a `target` must name an object of this kustomization
    /// (before or after its namespace and name transforms). Applying patches is kubectl's.
    fn patches(
        &mut self,
        ctx: &Ctx,
        k: &serde_json::Map<String, Value>,
        before: &[Id],
        st: &mut State,
    ) {
        let mut smp: Vec<(String, Value)> = Vec::new();
        let mut any = false;
        let mut sources: Vec<(Option<&str>, Option<&str>)> = Vec::new(); // (path, inline)
        for p in k
            .get("patchesStrategicMerge")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            any = true;
            if p.contains('\n') || p.trim_start().starts_with('{') {
                sources.push((None, Some(p)));
            } else {
                sources.push((Some(p), None));
            }
        }
        for p in k
            .get("patches")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            any = true;
            if p.get("target").is_some() {
                if let Some(path) = p.get("path").and_then(Value::as_str) {
                    self.patch_file_exists(ctx, path, st);
                }
                continue;
            }
            sources.push((
                p.get("path").and_then(Value::as_str),
                p.get("patch").and_then(Value::as_str),
            ));
        }
        for p in k
            .get("patchesJson6902")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            any = true;
            if let Some(path) = p.get("path").and_then(Value::as_str) {
                self.patch_file_exists(ctx, path, st);
            }
        }
        for (path, inline) in sources {
            let docs = match (path, inline) {
                (Some(rel), _) => {
                    if !self.patch_file_exists(ctx, rel, st) {
                        continue;
                    }
                    let Some(p) = normalize(&ctx.dir, rel).and_then(|p| self.repo.parsed(&p))
                    else {
                        continue;
                    };
                    p.docs.to_vec()
                }
                (None, Some(text)) => {
                    serde_saphyr::from_multiple::<Value>(text).unwrap_or_default()
                }
                (None, None) => continue,
            };
            let label = path.unwrap_or("patch:").to_owned();
            smp.extend(
                docs.into_iter()
                    .filter(|d| d.is_object() && d.get("op").is_none())
                    .map(|d| (label.clone(), d)),
            );
        }
        for (label, d) in smp {
            let kind = d.get("kind").and_then(Value::as_str).unwrap_or("");
            let name = yaml::str_at(&d, &["metadata", "name"]).unwrap_or("");
            if kind.is_empty() || name.is_empty() {
                continue; // kubectl reports a patch it cannot place
            }
            let hit = st
                .ids
                .iter()
                .chain(before)
                .any(|i| i.kind == kind && i.name == name);
            if !hit {
                ctx.fail(&mut self.findings, &label, format!("patch `{label}` targets {kind} {name}, which no resource of this kustomization defines"));
                st.failed = true;
            }
        }
        if any {
            st.unmodelled(format!("{} applies patches", ctx.file.path));
        }
    }

    fn patch_file_exists(&mut self, ctx: &Ctx, rel: &str, st: &mut State) -> bool {
        match normalize(&ctx.dir, rel) {
            Some(p) if self.repo.is_file(&p) => true,
            _ => {
                ctx.fail(
                    &mut self.findings,
                    rel,
                    format!("patch file `{rel}` does not exist"),
                );
                st.failed = true;
                false
            }
        }
    }
}

/// A URL-ish entry is never a local directory, even if a directory of that name exists.
fn looks_remote_url(entry: &str) -> bool {
    entry.contains("://") || entry.starts_with("git@")
}

/// Whether `path` is in `dir` or below it.
fn inside(dir: &str, path: &str) -> bool {
    dir.is_empty() || path.strip_prefix(dir).is_some_and(|r| r.starts_with('/'))
}

/// The kustomization's entries of `field` that are strings.
fn strings<'v>(
    k: &'v serde_json::Map<String, Value>,
    field: &str,
) -> impl Iterator<Item = &'v str> {
    k.get(field)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

enum IdError {
    GenerateName,
    Missing(String),
}

fn id_of(d: &Value) -> Result<Id, IdError> {
    if !d.is_object() {
        return Err(IdError::Missing(
            "not a mapping, so not a Kubernetes object".into(),
        ));
    }
    let Some(kind) = d
        .get("kind")
        .and_then(Value::as_str)
        .filter(|k| !k.is_empty())
    else {
        return Err(IdError::Missing("has no `kind`".into()));
    };
    let name = yaml::str_at(d, &["metadata", "name"]).filter(|n| !n.is_empty());
    let Some(name) = name else {
        if yaml::str_at(d, &["metadata", "generateName"]).is_some() {
            return Err(IdError::GenerateName);
        }
        return Err(IdError::Missing(format!("{kind} has no `metadata.name`")));
    };
    let api = d.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let (group, version) = api.rsplit_once('/').unwrap_or(("", api));
    Ok(Id {
        group: group.into(),
        version: version.into(),
        kind: kind.into(),
        namespace: yaml::str_at(d, &["metadata", "namespace"])
            .unwrap_or("")
            .into(),
        name: name.into(),
    })
}

/// The objects accumulated so far and how the build goes.
#[derive(Default)]
struct State {
    ids: Vec<Id>,
    origin: HashMap<(String, String, String, String, String), String>,
    failed: bool,
    unmodelled: Option<String>,
    remote: Option<(String, String)>,
}

impl State {
    fn unmodelled(&mut self, why: String) {
        self.unmodelled.get_or_insert(why);
    }

    /// Adds objects from `entry`; an id that is there already is kustomize's "may not add
    /// resource with an already registered id".
    fn add_all(&mut self, ctx: &Ctx, entry: &str, ids: &[Id], findings: &mut Vec<Finding>) {
        for id in ids {
            if let Some(first) = self.origin.insert(id.key(), entry.to_owned()) {
                let from = if first == entry {
                    format!("twice in `{entry}`")
                } else {
                    format!("in `{first}` and in `{entry}`")
                };
                ctx.fail(
                    findings,
                    entry,
                    format!(
                        "{} is defined {from}: kustomize refuses an object id twice",
                        id.show()
                    ),
                );
                self.failed = true;
                continue;
            }
            self.ids.push(id.clone());
        }
    }
}

#[cfg(test)]
mod tests;
