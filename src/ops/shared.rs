//! Shared secrets: values many installations use (registry credentials, an OAuth app, a DNS
//! token), kept once in `shared/secrets/<name>.sops.yaml` (encrypted for the admins and for
//! every installation that lists it in `sharedSecrets`) and placed, as one Kubernetes Secret
//! per its mapping, in each user's tree at `installations/<n>/secrets/shared/<name>.sops.yaml`
//! (encrypted under that installation's rule; Flux applies `secrets/` with SOPS decryption).
//! `secrets/shared/` is owned by this module: a copy no longer wanted is removed on render.
//!
//! Owns the input parsing (YAML, JSON, dotenv, environment), the shared file's document, the
//! copies, `import`/`rotate` (one branch, one PR), `list` and the two checks. It never prints
//! and never writes plaintext to disk: values stay in `secrecy` types until sealed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use secrecy::{ExposeSecret, SecretBox, SecretString};
use zeroize::Zeroizing;

use crate::fileset::{Content, FileSet};
use crate::forge::body::{ChangeSummary, CredentialAction, CredentialChange};
use crate::git::PublishOptions;
use crate::k8s::Secret;
use crate::ops::publish::{self, Outcome, PrTarget};
use crate::progress::Progress;
use crate::render::{self, Extra, NoSecrets, SecretSource};
use crate::repo;
use crate::repo::installation::{self, Loaded};
use crate::repo::seal::SopsSealer;
use crate::sops::{self, Format, Identities, Tree, Value};
use crate::spec::{self, Installation, SharedSecretMapping};
use crate::Env;

/// `kind` of the shared file's document.
pub const KIND: &str = "SharedSecret";
/// Annotation on every copy naming the shared secret it came from.
pub const SOURCE_ANNOTATION: &str = "mcb.io/shared-secret";
/// Annotation on every copy: the shared file's `metadata.version` it was made from.
pub const VERSION_ANNOTATION: &str = "mcb.io/shared-secret-version";
/// Inventory-style kind used in PR bodies for shared secret keys.
pub const CHANGE_KIND: &str = "shared-secret";

pub use crate::repo::shared::shared_path;

use crate::repo::{shared_copy_dir as copy_dir, shared_copy_path as copy_path};

/// A failure specific to shared secrets. Never carries a value.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input has no keys at all.
    #[error("{source_name}: empty input: no key/value pairs")]
    Empty {
        /// `<stdin>`, a file, or `environment (PREFIX*)`
        source_name: String,
    },
    /// The input is not UTF-8 text.
    #[error("{source_name}: not UTF-8 text (binary input)")]
    NotText {
        /// where the input came from
        source_name: String,
    },
    /// The input is not one flat map of `key: value`.
    #[error("{source_name}: {problem}")]
    NotAMap {
        /// where the input came from
        source_name: String,
        /// what is wrong
        problem: String,
    },
    /// The same key twice.
    #[error("{source_name}: duplicate key {key:?}")]
    DuplicateKey {
        /// where the input came from
        source_name: String,
        /// the key
        key: String,
    },
    /// A key or its value is unusable.
    #[error("{source_name}: key {key:?}: {problem}")]
    BadEntry {
        /// where the input came from
        source_name: String,
        /// the key
        key: String,
        /// what is wrong (never the value)
        problem: String,
    },
    /// A shared secret name is not a DNS-1123 label.
    #[error("{name:?} is not a valid shared secret name")]
    BadName {
        /// the name
        name: String,
    },
    /// The shared secret does not exist.
    #[error("no shared secret {name} ({path} does not exist)")]
    Unknown {
        /// the name
        name: String,
        /// where it should be
        path: String,
    },
    /// An installation's mapping names a key the shared secret lacks.
    #[error("installation {installation}: sharedSecrets {name}: key {key:?} is not in the shared secret (keys: {})", keys.join(", "))]
    MissingKey {
        /// the installation
        installation: String,
        /// the shared secret
        name: String,
        /// the key asked for
        key: String,
        /// the keys it has
        keys: Vec<String>,
    },
    /// Nobody could decrypt the file: no admin recipients and no installation uses it.
    #[error("shared secret {name} would have no recipients")]
    NoRecipients {
        /// the name
        name: String,
    },
    /// Render must rewrite a copy (or re-wrap a shared file) but no key opens it.
    #[error("{path} must be rewritten from shared secret {name}, but no age identity opens it")]
    NeedsKey {
        /// the shared secret
        name: String,
        /// the file that must change
        path: String,
    },
    /// A decrypted shared file is not a `SharedSecret` document.
    #[error("{path}: not a SharedSecret document: {problem}")]
    Malformed {
        /// the file
        path: String,
        /// what is wrong
        problem: String,
    },
}

impl crate::Help for Error {
    fn help(&self) -> Option<String> {
        Some(match self {
            Error::Empty { .. } | Error::NotAMap { .. } => "give one flat map: YAML `key: value` lines, a JSON object {\"key\": \"value\"}, or dotenv KEY=value lines".into(),
            Error::NotText { .. } => "shared secret values must be text; base64-encode binary values first".into(),
            Error::DuplicateKey { key, .. } => format!("keep exactly one {key:?}"),
            Error::BadEntry { .. } => "keys: letters, digits, '-', '_', '.'; values: non-empty text without control characters".into(),
            Error::BadName { .. } => "use lowercase letters, digits and '-' (a DNS-1123 label), e.g. `registry`".into(),
            Error::Unknown { name, .. } => format!("create it with `mcb shared import {name}`, or fix the name (`mcb shared list`)"),
            Error::MissingKey { installation, .. } => format!("import the key too, or change `sharedSecrets` in installations/{installation}/installation.yaml"),
            Error::NoRecipients { name } => format!("add admin recipients (`sops.recipients`) to a spec, or list {name} in an installation's `sharedSecrets`"),
            Error::NeedsKey { .. } => "run with an admin age key (--age-key-file or SOPS_AGE_KEY_FILE)".into(),
            Error::Malformed { path, .. } => format!("restore {path} from git, or re-import it with `mcb shared import`"),
        })
    }
}

/// A shared secret's value: key -> text. `Debug` shows the keys only.
#[derive(Default)]
pub struct SharedValue {
    values: BTreeMap<String, SecretString>,
}

impl std::fmt::Debug for SharedValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedValue")
            .field("keys", &self.keys())
            .finish()
    }
}

impl SharedValue {
    /// The key names, sorted.
    pub fn keys(&self) -> Vec<String> {
        self.values.keys().cloned().collect()
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&SecretString> {
        self.values.get(key)
    }

    /// Adds a pair after checking it; `source` names the input in errors.
    fn insert(&mut self, source: &str, key: &str, value: SecretString) -> Result<(), Error> {
        let bad = |problem: &str| Error::BadEntry {
            source_name: source.to_owned(),
            key: key.to_owned(),
            problem: problem.to_owned(),
        };
        if key.is_empty() {
            return Err(bad("empty key"));
        }
        if !spec::is_secret_key(key) {
            return Err(bad("not a valid Secret key"));
        }
        let v = value.expose_secret();
        if v.is_empty() {
            return Err(bad("empty value"));
        }
        if v.chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            return Err(bad("the value contains binary or control characters"));
        }
        if self.values.insert(key.to_owned(), value).is_some() {
            return Err(Error::DuplicateKey {
                source_name: source.to_owned(),
                key: key.to_owned(),
            });
        }
        Ok(())
    }

    /// Keys whose value differs from `old` (new keys included), sorted.
    pub fn changed_from(&self, old: Option<&SharedValue>) -> Vec<String> {
        self.values
            .iter()
            .filter(|(k, v)| {
                old.and_then(|o| o.get(k))
                    .is_none_or(|o| o.expose_secret() != v.expose_secret())
            })
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// `self` with the pairs of `update` replacing or adding keys.
    fn merged(&self, update: &SharedValue) -> SharedValue {
        let mut values = self.values.clone();
        values.extend(update.values.clone());
        SharedValue { values }
    }
}

/// The formats `import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFormat {
    /// a YAML map
    Yaml,
    /// a JSON object
    Json,
    /// `KEY=value` lines
    Dotenv,
}

impl InputFormat {
    /// By name (`yaml`, `json`, `dotenv`/`env`).
    pub fn from_name(name: &str) -> Option<InputFormat> {
        Some(match name {
            "yaml" | "yml" => InputFormat::Yaml,
            "json" => InputFormat::Json,
            "dotenv" | "env" => InputFormat::Dotenv,
            _ => return None,
        })
    }

    /// From a file name's extension, if it says.
    pub fn from_path(path: &Path) -> Option<InputFormat> {
        Self::from_name(path.extension()?.to_str()?)
    }

    /// Guesses from the text: `{` is JSON; lines that all read `KEY=…` are dotenv; else YAML.
    pub fn detect(text: &str) -> InputFormat {
        let t = text.trim_start();
        if t.starts_with('{') {
            return InputFormat::Json;
        }
        let dotenv = t
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .all(|l| {
                l.split_once('=').is_some_and(|(k, _)| {
                    !k.is_empty()
                        && k.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
                })
            });
        if dotenv {
            InputFormat::Dotenv
        } else {
            InputFormat::Yaml
        }
    }

    fn sops_format(self) -> Format {
        match self {
            InputFormat::Yaml => Format::Yaml,
            InputFormat::Json => Format::Json,
            InputFormat::Dotenv => Format::Dotenv,
        }
    }
}

/// Parses a shared secret from input bytes (stdin or a file): one flat map, text values,
/// no duplicate keys. `source` names the input in errors (`<stdin>`, the file).
pub fn parse_input(
    bytes: &[u8],
    format: Option<InputFormat>,
    source: &str,
) -> Result<SharedValue, crate::Error> {
    let text = std::str::from_utf8(bytes).map_err(|_| Error::NotText {
        source_name: source.to_owned(),
    })?;
    if text.trim().is_empty() {
        return Err(Error::Empty {
            source_name: source.to_owned(),
        }
        .into());
    }
    let format = format.unwrap_or_else(|| InputFormat::detect(text));
    let content = sops::load_plain(bytes, format.sops_format())
        .map_err(|e| e.with_file(Path::new(source)))?;
    let sops::Content::Tree(tree) = content else {
        unreachable!("yaml, json and dotenv load as trees")
    };
    from_tree(&tree, None, source)
}

/// Reads the flat map at `under` (the whole document when `None`) of a one-document tree.
fn from_tree(tree: &Tree, under: Option<&str>, source: &str) -> Result<SharedValue, crate::Error> {
    let not_a_map = |problem: String| Error::NotAMap {
        source_name: source.to_owned(),
        problem,
    };
    if tree.docs.len() != 1 {
        return Err(not_a_map(format!("{} documents; give exactly one", tree.docs.len())).into());
    }
    let doc = &tree.docs[0];
    let branch = match under {
        None => doc,
        Some(k) => match doc.get(k) {
            Some(Value::Map(b)) => b,
            _ => return Err(not_a_map(format!("no map `{k}`")).into()),
        },
    };
    let mut out = SharedValue::default();
    for (k, v) in branch.entries() {
        let text = match v {
            Value::Str(s) => s.clone(),
            Value::Time(t) => t.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Null => String::new(),
            Value::Map(_) | Value::List(_) | Value::Comment(_) => {
                return Err(not_a_map(format!(
                    "key {k:?} holds a nested map or list; give a flat map of text values"
                ))
                .into())
            }
        };
        out.insert(source, k, SecretString::from(text))?;
    }
    if out.values.is_empty() {
        return Err(Error::Empty {
            source_name: source.to_owned(),
        }
        .into());
    }
    Ok(out)
}

/// A shared secret from the environment variables starting with `prefix` (the rest of the
/// variable name is the key: `REGISTRY_PASSWORD` with `REGISTRY_` gives `PASSWORD`).
pub fn from_env(
    prefix: &str,
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<SharedValue, Error> {
    let source = format!("environment ({prefix}*)");
    let mut out = SharedValue::default();
    for (k, v) in vars {
        if let Some(key) = k.strip_prefix(prefix) {
            out.insert(&source, key, SecretString::from(v))?;
        }
    }
    if out.values.is_empty() {
        return Err(Error::Empty {
            source_name: source,
        });
    }
    Ok(out)
}

/// The shared file's plaintext: a `SharedSecret` document with the values under
/// `stringData` (readable with `sops -d`, encrypted by the `.sops.yaml` rule) and, in clear,
/// a random `metadata.version` that changes with the values, so copies can be checked
/// without a key.
fn document(name: &str, version: &str, value: &SharedValue) -> SecretBox<Vec<u8>> {
    // Reserved up front so growing never leaves a copy in a freed buffer.
    let size: usize = value
        .values
        .iter()
        .map(|(k, v)| k.len() + 2 * v.expose_secret().len() + 16)
        .sum();
    let mut s = Zeroizing::new(String::with_capacity(size + 160));
    s.push_str(&format!(
        "apiVersion: mcb/v1alpha1\nkind: {KIND}\nmetadata:\n    name: {name}\n    version: \"{version}\"\nstringData:\n"
    ));
    for (k, v) in &value.values {
        let quoted =
            Zeroizing::new(serde_json::to_string(v.expose_secret()).expect("strings serialize"));
        // No format!(): it would leave an unzeroized copy of the value behind.
        s.push_str(&format!("    {}: ", crate::k8s::quote(k)));
        s.push_str(&quoted);
        s.push('\n');
    }
    SecretBox::new(Box::new(s.as_bytes().to_vec()))
}

/// The copy's Secret without data: names, type, labels and annotations (all in clear).
fn copy_meta(mapping: &SharedSecretMapping, version: &str) -> Secret {
    let name = mapping.name.as_str();
    let mut secret = Secret::new(
        mapping
            .secret_name
            .clone()
            .unwrap_or_else(|| name.to_owned()),
        mapping
            .namespace
            .as_ref()
            .map(|n| n.as_str().to_owned())
            .unwrap_or_else(|| "default".into()),
        mapping.type_.clone().unwrap_or_else(|| "Opaque".into()),
    )
    .label("app.kubernetes.io/managed-by", "mcb");
    secret
        .annotations
        .insert(SOURCE_ANNOTATION.into(), name.to_owned());
    secret
        .annotations
        .insert(VERSION_ANNOTATION.into(), version.to_owned());
    secret
}

/// `(shared key, Secret key)` pairs of a mapping over a shared secret with `keys`.
fn copy_pairs<'a>(
    installation: &str,
    mapping: &'a SharedSecretMapping,
    keys: &'a [String],
) -> Result<Vec<(&'a str, &'a str)>, Error> {
    if mapping.keys.is_empty() {
        return Ok(keys.iter().map(|k| (k.as_str(), k.as_str())).collect());
    }
    let mut pairs = Vec::new();
    for (from, to) in &mapping.keys {
        if !keys.contains(from) {
            return Err(Error::MissingKey {
                installation: installation.to_owned(),
                name: mapping.name.as_str().to_owned(),
                key: from.clone(),
                keys: keys.to_vec(),
            });
        }
        pairs.push((from.as_str(), to.as_str()));
    }
    Ok(pairs)
}

/// The Secret an installation gets from a shared value, per its mapping.
fn copy_secret(
    installation: &str,
    mapping: &SharedSecretMapping,
    version: &str,
    value: &SharedValue,
) -> Result<Secret, Error> {
    let keys = value.keys();
    let mut secret = copy_meta(mapping, version);
    for (from, to) in copy_pairs(installation, mapping, &keys)? {
        let v = value.get(from).expect("copy_pairs checked the key");
        secret = secret.with(to, v.expose_secret().as_bytes());
    }
    Ok(secret)
}

/// The clear facts of a Secret file (plaintext or SOPS-encrypted with values-only
/// encryption): metadata, type and key names. Equal facts and recipients mean a copy is
/// current without decrypting it.
fn clear_facts(tree: &Tree) -> Option<String> {
    let doc = tree.docs.first()?;
    let mut out = String::new();
    for key in ["metadata", "type"] {
        out.push_str(&format!("{key}={:?};", doc.get(key)?));
    }
    if let Some(Value::Map(data)) = doc.get("data") {
        for (k, _) in data.entries() {
            out.push_str(&format!("data.{k};"));
        }
    }
    Some(out)
}

/// The installations that list `name` in `sharedSecrets`, by name.
pub fn users<'a>(all: &'a [Loaded], name: &str) -> Vec<&'a Loaded> {
    all.iter().filter(|l| uses(&l.spec, name)).collect()
}

fn uses(spec: &Installation, name: &str) -> bool {
    spec.shared_secrets
        .iter()
        .any(|s| s.name().as_str() == name)
}

/// Names of the shared files in the repo, sorted.
pub fn stored_names(root: &Path) -> Result<Vec<String>, crate::Error> {
    let mut out = Vec::new();
    for p in repo::walk_files(&root.join(repo::SHARED_SECRETS_DIR))? {
        let rel = repo::rel_path(&root.join(repo::SHARED_SECRETS_DIR), &p);
        if let Some(n) = rel.strip_suffix(".sops.yaml").filter(|n| !n.contains('/')) {
            out.push(n.to_owned());
        }
    }
    Ok(out)
}

/// A shared file, decrypted: its plaintext exactly as stored (so sealing it again re-wraps
/// at most), its values and its version.
struct Opened {
    plain: SecretBox<Vec<u8>>,
    value: SharedValue,
    version: String,
}

/// A shared file as render knows it: decrypted, or only its clear facts (no key at hand).
enum Known {
    Open(Opened),
    Sealed {
        /// `metadata.version`
        version: String,
        /// the key names of `stringData` (in clear)
        keys: Vec<String>,
    },
}

/// `metadata.version` and the `stringData` key names of a shared document's tree.
fn version_and_keys(tree: &Tree) -> (String, Vec<String>) {
    let doc = tree.docs.first();
    let version = match doc.and_then(|d| d.get("metadata")) {
        Some(Value::Map(m)) => match m.get("version") {
            Some(Value::Str(v)) => v.clone(),
            _ => String::new(),
        },
        _ => String::new(),
    };
    let keys = match doc.and_then(|d| d.get("stringData")) {
        Some(Value::Map(b)) => b.entries().map(|(k, _)| k.to_owned()).collect(),
        _ => Vec::new(),
    };
    (version, keys)
}

/// The clear tree of an encrypted YAML file (no key needed).
fn clear_tree(enc: &[u8], path: &Path) -> Result<Tree, crate::Error> {
    let (tree, _) = sops::store::for_format(Format::Yaml)
        .load(enc)
        .map_err(|e| e.with_file(path))?;
    Ok(tree)
}

/// The recipients of an encrypted file (no key needed).
fn recipients_of(enc: &[u8], path: &Path) -> Result<BTreeSet<String>, crate::Error> {
    let info = sops::inspect(enc, Format::Yaml).map_err(|e| e.with_file(path))?;
    Ok(info.recipients.into_iter().flatten().collect())
}

fn open(root: &Path, name: &str, ids: &Identities) -> Result<Option<Opened>, crate::Error> {
    let rel = shared_path(name);
    let path = root.join(&rel);
    let Some(enc) = crate::fsutil::read_optional(&path)? else {
        return Ok(None);
    };
    let opened = sops::open(&enc, Format::Yaml, ids, sops::DecryptOptions::default())
        .map_err(|e| e.with_file(&path))?;
    let sops::Content::Tree(tree) = &opened.content else {
        unreachable!("a YAML file opens as a tree")
    };
    let kind_ok = tree
        .docs
        .first()
        .and_then(|d| d.get("kind"))
        .is_some_and(|k| *k == Value::Str(KIND.into()));
    if !kind_ok {
        return Err(Error::Malformed {
            path: rel,
            problem: format!("`kind: {KIND}` is missing"),
        }
        .into());
    }
    let value = from_tree(tree, Some("stringData"), &rel)?;
    let (version, _) = version_and_keys(tree);
    let plain = SecretBox::new(Box::new(sops::emit_plain(&opened.content, Format::Yaml)?));
    Ok(Some(Opened {
        plain,
        value,
        version,
    }))
}

/// Whether an error only says that no identity opened the file.
fn is_no_key(e: &crate::Error) -> bool {
    matches!(e, crate::Error::Sops(sops::Error::DataKey { .. }))
}

/// What `mcb render` (and import/rotate) add to the plan: `.sops.yaml` with the shared
/// rules, every shared file that must be (re-)sealed for its current recipients, and each
/// installation's copies under `secrets/shared/`.
///
/// Without a key that opens a shared file, render still works while nothing about it
/// changes: its recipients match the rule and every copy's clear facts (names, type,
/// version annotation, key names) and recipients are as they should be; those files are
/// kept byte for byte. Anything else needs the key.
pub struct RenderExtra {
    root: std::path::PathBuf,
    sops_yaml: String,
    /// Shared files that are used or must be re-wrapped, by name.
    shared: BTreeMap<String, Known>,
    /// Every installation's recipients, by name (what its copies must be encrypted for).
    recipients: BTreeMap<String, BTreeSet<String>>,
}

impl RenderExtra {
    /// Loads what render needs from the repo at `root` with installations `all`. Shared
    /// files are decrypted with `ids` only when an installation uses them or their
    /// recipients differ from the rule.
    pub fn load(root: &Path, all: &[Loaded], ids: &Identities) -> Result<Self, crate::Error> {
        let refs: Vec<&Loaded> = all.iter().collect();
        let sops_yaml = installation::sops_config(&refs);
        let admins = installation::admin_recipients(&refs);
        let mut shared = BTreeMap::new();
        for name in stored_names(root)? {
            let used = !users(all, &name).is_empty();
            if !used && admins.is_empty() {
                continue; // no rule covers it: leave it alone
            }
            let path = root.join(shared_path(&name));
            let enc = crate::fsutil::read(&path)?;
            let rewrap =
                recipients_of(&enc, &path)? != installation::shared_recipients(&refs, &name);
            if !used && !rewrap {
                continue;
            }
            match open(root, &name, ids) {
                Ok(Some(o)) => {
                    shared.insert(name, Known::Open(o));
                }
                Ok(None) => {}
                Err(e) if is_no_key(&e) && !rewrap => {
                    let (version, keys) = version_and_keys(&clear_tree(&enc, &path)?);
                    shared.insert(name, Known::Sealed { version, keys });
                }
                Err(e) => return Err(e),
            }
        }
        Ok(RenderExtra {
            root: root.to_path_buf(),
            sops_yaml,
            shared,
            recipients: all
                .iter()
                .map(|l| (l.name().to_owned(), l.recipients().into_iter().collect()))
                .collect(),
        })
    }

    /// Replaces the value of shared secret `name` (new or existing); the version changes
    /// only when the values do, so re-importing the same value writes nothing.
    fn replace(&mut self, env: &Env, name: &str, value: SharedValue, old: Option<&Opened>) {
        let same = old.is_some_and(|o| {
            value.changed_from(Some(&o.value)).is_empty() && o.value.keys() == value.keys()
        });
        let version = match old {
            Some(o) if same => o.version.clone(),
            _ => hex::encode(env.random_bytes::<8>()),
        };
        let plain = document(name, &version, &value);
        self.shared.insert(
            name.to_owned(),
            Known::Open(Opened {
                plain,
                value,
                version,
            }),
        );
    }

    /// The `.sops.yaml` text this plan writes (seal with it).
    pub fn sops_yaml(&self) -> &str {
        &self.sops_yaml
    }

    /// A copy for `inst` known only by clear facts: its existing bytes if they are
    /// current, else the error asking for a key.
    fn sealed_copy(
        &self,
        inst: &str,
        mapping: &SharedSecretMapping,
        version: &str,
        keys: &[String],
    ) -> Result<Vec<u8>, crate::Error> {
        let name = mapping.name.as_str();
        let rel = copy_path(inst, name);
        let path = self.root.join(&rel);
        let mut want = copy_meta(mapping, version);
        for (_, to) in copy_pairs(inst, mapping, keys)? {
            want = want.with(to, Vec::new());
        }
        let want_tree = sops::load_plain(want.to_yaml().expose_secret(), Format::Yaml)?;
        let sops::Content::Tree(want_tree) = want_tree else {
            unreachable!("YAML loads as a tree")
        };
        if let Some(enc) = crate::fsutil::read_optional(&path)? {
            let current = clear_facts(&clear_tree(&enc, &path)?) == clear_facts(&want_tree)
                && self.recipients.get(inst) == Some(&recipients_of(&enc, &path)?);
            if current {
                return Ok(enc);
            }
        }
        Err(Error::NeedsKey {
            name: name.to_owned(),
            path: rel,
        }
        .into())
    }
}

impl Extra for RenderExtra {
    fn repo_files(&self) -> Result<FileSet, crate::Error> {
        let mut files = FileSet::new();
        files.plain(repo::SOPS_CONFIG, self.sops_yaml.clone());
        for (name, known) in &self.shared {
            if let Known::Open(o) = known {
                files.insert(
                    shared_path(name),
                    Content::secret(o.plain.expose_secret().clone()),
                );
            }
        }
        Ok(files)
    }

    fn installation_files(
        &self,
        spec: &Installation,
    ) -> Result<(FileSet, Vec<String>), crate::Error> {
        let inst = spec.name.as_str();
        let mut files = FileSet::new();
        for r in &spec.shared_secrets {
            let name = r.name().as_str();
            let mapping = r.mapping();
            let content = match self.shared.get(name) {
                Some(Known::Open(o)) => {
                    Content::Secret(copy_secret(inst, &mapping, &o.version, &o.value)?.to_yaml())
                }
                Some(Known::Sealed { version, keys }) => {
                    Content::Plain(self.sealed_copy(inst, &mapping, version, keys)?)
                }
                None => {
                    return Err(Error::Unknown {
                        name: name.to_owned(),
                        path: shared_path(name),
                    }
                    .into())
                }
            };
            files.insert(copy_path(inst, name), content);
        }
        Ok((files, vec![copy_dir(inst)]))
    }
}

/// `import` replaces the value; `rotate` requires an existing secret and updates the keys
/// given (the others keep their values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// `mcb shared import`
    Import,
    /// `mcb shared rotate`
    Rotate,
}

/// What `import`/`rotate` needs, resolved by the CLI.
pub struct Request {
    /// the shared secret
    pub name: String,
    /// the new value (all keys for import; the keys to change for rotate)
    pub value: SharedValue,
    /// import or rotate
    pub mode: Mode,
    /// branch, commit and push settings
    pub publish: PublishOptions,
    /// the pull request, with `--pr`
    pub pr: Option<PrTarget>,
}

/// What `import`/`rotate` did (names only, never values; `-o json`: docs/json.md).
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// the shared secret
    pub name: String,
    /// import or rotate
    pub mode: Mode,
    /// every key it now has
    pub keys: Vec<String>,
    /// keys added or given a new value
    pub changed_keys: Vec<String>,
    /// keys dropped by an import
    pub removed_keys: Vec<String>,
    /// installations whose copy was (re)written
    pub installations: Vec<String>,
    /// files, branch, commit, push, PR
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// The branch import and rotate work on: one per shared secret.
pub fn branch(name: &str) -> Result<String, crate::Error> {
    Ok(crate::git::branch_name("shared", name, None)?)
}

/// Runs `mcb shared import` / `mcb shared rotate`: stores the value in the shared file,
/// re-renders every installation that uses it (copies, kustomizations, `.sops.yaml`) and
/// publishes it all in one commit on one branch (and one PR).
pub fn import(
    env: &Env,
    root: &Path,
    ids: &Identities,
    req: Request,
    progress: &mut dyn Progress,
) -> Result<Report, crate::Error> {
    let name = spec::Name::try_from(req.name.clone())
        .map_err(|_| Error::BadName {
            name: req.name.clone(),
        })?
        .to_string();
    let repo_git = crate::ops::transaction::open(root, progress)?;
    let root = repo_git.root().to_path_buf();
    let all = installation::load_all(&root)?;
    let refs: Vec<&Loaded> = all.iter().collect();
    if installation::shared_recipients(&refs, &name).is_empty() {
        return Err(Error::NoRecipients { name }.into());
    }
    let old_file = open(&root, &name, ids)?;
    let old = old_file.as_ref().map(|o| &o.value);
    let new = match (req.mode, &old) {
        (Mode::Rotate, None) => {
            return Err(Error::Unknown {
                path: shared_path(&name),
                name,
            }
            .into())
        }
        (Mode::Rotate, Some(o)) => o.merged(&req.value),
        (Mode::Import, _) => req.value,
    };
    let changed_keys = new.changed_from(old);
    let removed_keys: Vec<String> = old
        .map(|o| {
            o.keys()
                .into_iter()
                .filter(|k| new.get(k).is_none())
                .collect()
        })
        .unwrap_or_default();
    let keys = new.keys();
    let user_names: Vec<String> = users(&all, &name)
        .iter()
        .map(|l| l.name().to_owned())
        .collect();
    progress.action(&format!(
        "{} shared secret {name} ({} key(s)) for {} installation(s)",
        match req.mode {
            Mode::Import => "importing",
            Mode::Rotate => "rotating",
        },
        keys.len(),
        user_names.len()
    ));

    let mut extra = RenderExtra::load(&root, &all, ids)?;
    extra.replace(env, &name, new, old_file.as_ref());
    let sealer = SopsSealer::new(env, &root, extra.sops_yaml(), ids)?;
    let action = if old.is_some() {
        CredentialAction::Rotated
    } else {
        CredentialAction::Created
    };
    let summary = ChangeSummary {
        headline: format!(
            "{} shared secret `{name}` for {} installation(s)",
            match req.mode {
                Mode::Import if old.is_none() => "Import",
                Mode::Import => "Re-import",
                Mode::Rotate => "Rotate",
            },
            user_names.len()
        ),
        installations: user_names.clone(),
        credentials: changed_keys
            .iter()
            .map(|k| CredentialChange {
                action: if old.is_some_and(|o| o.get(k).is_some()) {
                    action
                } else {
                    CredentialAction::Created
                },
                kind: CHANGE_KIND.into(),
                id: format!("{name}/{k}"),
                fingerprint: None,
                not_after: None,
                previous: None,
            })
            .collect(),
        ..ChangeSummary::default()
    };
    let verb = match req.mode {
        Mode::Import => "import",
        Mode::Rotate => "rotate",
    };
    let mut owned = vec![repo::SOPS_CONFIG.to_owned(), shared_path(&name)];
    owned.extend(user_names.iter().map(|n| copy_dir(n)));
    let request = publish::Request {
        branch: branch(&name)?,
        message: format!(
            "feat(shared): {verb} {name}\n\nKeys changed: {}\nInstallations: {}\n",
            list_or_none(&changed_keys),
            list_or_none(&user_names)
        ),
        title: format!("{} shared secret {name}", capitalised(verb)),
        owned,
        summary,
        reviewers: Vec::new(),
        needs: Default::default(),
    };
    let no_secrets = |_: &str| -> Box<dyn SecretSource> { Box::new(NoSecrets) };
    let mut silent = crate::progress::Nop;
    let mut make_plan = || -> Result<repo::Plan, crate::Error> {
        if user_names.is_empty() {
            Ok(repo::plan(&root, &extra.repo_files()?, &[], &sealer)?)
        } else {
            render::plan_repo(
                &root,
                &user_names,
                &no_secrets,
                &sealer,
                &extra,
                &mut silent,
            )
        }
    };
    let outcome = publish::run(
        &repo_git,
        env,
        &request,
        &req.publish,
        req.pr,
        &mut make_plan,
        None,
        progress,
    )?;
    Ok(Report {
        name,
        mode: req.mode,
        keys,
        changed_keys,
        removed_keys,
        installations: user_names,
        outcome,
    })
}

fn list_or_none(v: &[String]) -> String {
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// One shared secret as `mcb shared list` shows it (readable without any key).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Listed {
    /// the name
    pub name: String,
    /// its keys (names are stored in clear)
    pub keys: Vec<String>,
    /// installations that list it in `sharedSecrets`
    pub installations: Vec<String>,
    /// when its value last changed (`sops.lastmodified`; a re-wrap keeps it)
    pub last_changed: String,
    /// the age recipients it is encrypted for
    pub recipients: Vec<String>,
}

/// Every shared secret in the repo, by name. Needs no key.
pub fn list(root: &Path) -> Result<Vec<Listed>, crate::Error> {
    let all = installation::load_all(root)?;
    let mut out = Vec::new();
    for name in stored_names(root)? {
        let path = root.join(shared_path(&name));
        let enc = crate::fsutil::read(&path)?;
        let info = sops::inspect(&enc, Format::Yaml).map_err(|e| e.with_file(&path))?;
        let (tree, _) = sops::store::for_format(Format::Yaml)
            .load(&enc)
            .map_err(|e| e.with_file(&path))?;
        let keys = match tree.docs.first().and_then(|d| d.get("stringData")) {
            Some(Value::Map(b)) => b.entries().map(|(k, _)| k.to_owned()).collect(),
            _ => Vec::new(),
        };
        out.push(Listed {
            installations: users(&all, &name)
                .iter()
                .map(|l| l.name().to_owned())
                .collect(),
            name,
            keys,
            last_changed: info.lastmodified,
            recipients: info.recipients.into_iter().flatten().collect(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
