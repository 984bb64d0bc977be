//! Secret-aware templates: `secret(name=…, key=…)` returns an opaque token, so tera never
//! sees a secret value; [`resolve`] swaps tokens for values only in outputs that are
//! `Secret` objects in `*.sops.yaml` files, and returns those as [`Content::Secret`].

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroize;

use crate::fileset::Content;

/// Where secret values for templates come from (the installation's SOPS files; the
/// caller wires it to the SOPS engine). Errors never carry the value.
pub trait SecretSource {
    /// The value of `key` in secret `name`.
    fn get(&self, name: &str, key: &str) -> Result<SecretString, SecretError>;
}

/// Why a secret value could not be had.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// There is no such secret or key.
    #[error("not found")]
    NotFound,
    /// Reading it failed (decryption, I/O…).
    #[error("{0}")]
    Unreadable(String),
}

/// A source with no secrets: any `secret()` call fails.
#[derive(Debug, Default)]
pub struct NoSecrets;

impl SecretSource for NoSecrets {
    fn get(&self, _: &str, _: &str) -> Result<SecretString, SecretError> {
        Err(SecretError::Unreadable(
            "no secret source is available to this command".into(),
        ))
    }
}

/// An in-memory source: (secret name, key) -> value.
#[derive(Default)]
pub struct MapSource(pub BTreeMap<(String, String), SecretString>);

impl MapSource {
    /// Adds a value (builder style).
    pub fn with(mut self, name: &str, key: &str, value: &str) -> Self {
        self.0.insert(
            (name.into(), key.into()),
            SecretString::from(value.to_string()),
        );
        self
    }
}

impl SecretSource for MapSource {
    fn get(&self, name: &str, key: &str) -> Result<SecretString, SecretError> {
        self.0
            .get(&(name.to_string(), key.to_string()))
            .cloned()
            .ok_or(SecretError::NotFound)
    }
}

/// The `secret()` calls of the template being rendered, in call order; token `n` stands
/// for call `n`. Reset before each template.
#[derive(Clone, Default)]
pub(crate) struct Calls(Arc<Mutex<Vec<(String, String)>>>);

impl Calls {
    pub(crate) fn reset(&self) {
        self.lock().clear();
    }
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(String, String)>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
    /// Records a call and returns its token.
    pub(crate) fn record(&self, name: &str, key: &str) -> String {
        let mut c = self.lock();
        c.push((name.into(), key.into()));
        token(c.len() - 1)
    }
    pub(crate) fn take(&self) -> Vec<(String, String)> {
        std::mem::take(&mut *self.lock())
    }
}

fn token(n: usize) -> String {
    format!("__MCB_SECRET_{n}__")
}

/// A rendered template: its text and the `secret()` calls it made.
pub(crate) struct Rendered {
    pub(crate) text: String,
    pub(crate) calls: Vec<(String, String)>,
}

/// A secret misuse, before the caller adds which installation and template.
pub(crate) enum Misuse {
    Plaintext(String),
    Source(String, String, SecretError),
}

impl Misuse {
    pub(crate) fn at(self, installation: &str, template: &str) -> super::Error {
        let (installation, template) = (installation.to_string(), template.to_string());
        match self {
            Misuse::Plaintext(reason) => super::Error::SecretInPlaintext {
                installation,
                template,
                reason,
            },
            Misuse::Source(name, key, source) => super::Error::Secret {
                installation,
                template,
                name,
                key,
                source,
            },
        }
    }
}

#[derive(serde::Deserialize)]
struct KindOnly {
    kind: Option<String>,
}

/// Plain content when the template called no `secret()`; else checks every document that
/// carries a token is a `Secret` in a `*.sops.yaml` output, substitutes the values
/// (JSON-quoted, a valid YAML scalar) and returns secret content.
pub(crate) fn resolve(
    r: Rendered,
    rel: &str,
    source: &dyn SecretSource,
) -> Result<Content, Misuse> {
    if r.calls.is_empty() {
        return Ok(Content::Plain(r.text.into_bytes()));
    }
    if !rel.ends_with(".sops.yaml") {
        return Err(Misuse::Plaintext(format!(
            "{rel}, which is not a *.sops.yaml file"
        )));
    }
    for doc in r.text.split("\n---") {
        if doc.contains("__MCB_SECRET_") {
            let kind = serde_saphyr::from_str::<KindOnly>(doc)
                .ok()
                .and_then(|k| k.kind)
                .unwrap_or_default();
            if kind != "Secret" {
                return Err(Misuse::Plaintext(format!(
                    "a non-Secret object (kind {kind:?}) in {rel}"
                )));
            }
        }
    }
    let mut text = r.text;
    for (n, (name, key)) in r.calls.iter().enumerate() {
        if !text.contains(&token(n)) {
            return Err(Misuse::Plaintext(format!(
                "{rel} through a filter or expression (use `{{{{ secret(...) }}}}` alone as a value)"
            )));
        }
        let value = source
            .get(name, key)
            .map_err(|e| Misuse::Source(name.clone(), key.clone(), e))?;
        let mut quoted = serde_json::to_string(value.expose_secret()).expect("strings serialize");
        let mut next = text.replace(&token(n), &quoted);
        quoted.zeroize();
        text.zeroize();
        std::mem::swap(&mut text, &mut next);
    }
    Ok(Content::secret(text.into_bytes()))
}
