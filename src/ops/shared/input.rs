//! A shared secret's value and where it comes from: YAML, JSON or dotenv input (stdin or
//! a file) or the environment; one flat map of text values, never shown by `Debug`.

use std::collections::BTreeMap;
use std::path::Path;

use secrecy::{ExposeSecret, SecretString};

use super::Error;
use crate::sops::{self, Format, Tree, Value};
use crate::spec::{self};

/// A shared secret's value: key -> text. `Debug` shows the keys only.
#[derive(Default)]
pub struct SharedValue {
    pub(super) values: BTreeMap<String, SecretString>,
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
    pub(super) fn merged(&self, update: &SharedValue) -> SharedValue {
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
pub(super) fn from_tree(
    tree: &Tree,
    under: Option<&str>,
    source: &str,
) -> Result<SharedValue, crate::Error> {
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
