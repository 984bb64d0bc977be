//! The shared file (`shared/secrets/<name>.sops.yaml`, a `SharedSecret` document) and its
//! copies in each installation that uses it: building them, reading them with or without
//! a key, and the clear facts that tell a current copy without decrypting it.

use std::collections::BTreeSet;
use std::path::Path;

use secrecy::{ExposeSecret, SecretBox};
use zeroize::Zeroizing;

use super::input::{from_tree, SharedValue};
use super::{shared_path, Error, KIND, SOURCE_ANNOTATION, VERSION_ANNOTATION};
use crate::k8s::Secret;
use crate::repo;
use crate::repo::installation::Loaded;
use crate::sops::{self, Format, Identities, Tree, Value};
use crate::spec::{Installation, SharedSecretMapping};

/// The shared file's plaintext: a `SharedSecret` document with the values under
/// `stringData` (readable with `sops -d`, encrypted by the `.sops.yaml` rule) and, in clear,
/// a random `metadata.version` that changes with the values, so copies can be checked
/// without a key.
pub(super) fn document(name: &str, version: &str, value: &SharedValue) -> SecretBox<Vec<u8>> {
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
pub(super) fn copy_meta(mapping: &SharedSecretMapping, version: &str) -> Secret {
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
pub(super) fn copy_pairs<'a>(
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
pub(super) fn copy_secret(
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
pub(super) fn clear_facts(tree: &Tree) -> Option<String> {
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

pub(super) fn uses(spec: &Installation, name: &str) -> bool {
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
pub(super) struct Opened {
    pub(super) plain: SecretBox<Vec<u8>>,
    pub(super) value: SharedValue,
    pub(super) version: String,
}

/// A shared file as render knows it: decrypted, or only its clear facts (no key at hand).
pub(super) enum Known {
    Open(Opened),
    Sealed {
        /// `metadata.version`
        version: String,
        /// the key names of `stringData` (in clear)
        keys: Vec<String>,
    },
}

/// `metadata.version` and the `stringData` key names of a shared document's tree.
pub(super) fn version_and_keys(tree: &Tree) -> (String, Vec<String>) {
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
pub(super) fn clear_tree(enc: &[u8], path: &Path) -> Result<Tree, crate::Error> {
    let (tree, _) = sops::store::for_format(Format::Yaml)
        .load(enc)
        .map_err(|e| e.with_file(path))?;
    Ok(tree)
}

/// The recipients of an encrypted file (no key needed).
pub(super) fn recipients_of(enc: &[u8], path: &Path) -> Result<BTreeSet<String>, crate::Error> {
    let info = sops::inspect(enc, Format::Yaml).map_err(|e| e.with_file(path))?;
    Ok(info.recipients.into_iter().flatten().collect())
}

pub(super) fn open(
    root: &Path,
    name: &str,
    ids: &Identities,
) -> Result<Option<Opened>, crate::Error> {
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
pub(super) fn is_no_key(e: &crate::Error) -> bool {
    matches!(e, crate::Error::Sops(sops::Error::DataKey { .. }))
}
