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

/// `kind` of the shared file's document.
pub const KIND: &str = "SharedSecret";
/// Annotation on every copy naming the shared secret it came from.
pub const SOURCE_ANNOTATION: &str = "mcb.io/shared-secret";
/// Annotation on every copy: the shared file's `metadata.version` it was made from.
pub const VERSION_ANNOTATION: &str = "mcb.io/shared-secret-version";
/// Inventory-style kind used in PR bodies for shared secret keys.
pub const CHANGE_KIND: &str = "shared-secret";

pub use crate::repo::shared::shared_path;

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

mod files;
mod import;
mod input;
mod list;
mod render_extra;

pub use files::{stored_names, users};
pub use import::{branch, import, Mode, Report, Request};
pub use input::{from_env, parse_input, InputFormat, SharedValue};
pub use list::{list, Listed};
pub use render_extra::RenderExtra;

#[cfg(test)]
mod tests;
