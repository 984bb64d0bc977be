//! mcb's SOPS engine: reads and writes files byte-compatible with the Go `sops` (3.11), with
//! age keys. Modelled on getsops/sops: `tree` (ordered document model), `store` (one codec
//! per format), `cipher` (`ENC[AES256_GCM,…]`), `mac`, `metadata`, `keys` (age), `rules`
//! (`.sops.yaml`). See `docs/sops-format.md` for the format as the real tool writes it.
//!
//! This module imports nothing from mcb but [`crate::Env`] (clock and randomness) and never
//! prints. Plaintext leaves it only inside `secrecy` types.
//!
//! The facade below is what the rest of mcb uses; everything else is detail.

pub mod store;
pub mod tree;

use std::path::PathBuf;

use secrecy::{SecretBox, SecretString};

use crate::Env;
pub use tree::{Branch, Item, Tree, Value};

/// A file format (store). Picked from the file name, overridable by flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `.yaml`, `.yml`
    Yaml,
    /// `.json`
    Json,
    /// `.env`
    Dotenv,
    /// `.ini`
    Ini,
    /// anything else: the whole file is one value
    Binary,
}

impl Format {
    /// The format sops would pick for this path (by extension; binary last).
    pub fn from_path(path: &std::path::Path) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some("yaml") | Some("yml") => Format::Yaml,
            Some("json") => Format::Json,
            Some("env") => Format::Dotenv,
            Some("ini") => Format::Ini,
            _ => Format::Binary,
        }
    }
}

/// Which values get encrypted (at most one per file, as in sops).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CryptRule {
    /// Values under a key ending with this suffix stay clear (sops' default: `_unencrypted`).
    UnencryptedSuffix(String),
    /// Only values under a key ending with this suffix are encrypted.
    EncryptedSuffix(String),
    /// Values under a key matching this regex stay clear.
    UnencryptedRegex(String),
    /// Only values under a key matching this regex are encrypted.
    EncryptedRegex(String),
    /// A comment matching this regex leaves the next value clear.
    UnencryptedCommentRegex(String),
    /// A comment matching this regex marks the next value encrypted.
    EncryptedCommentRegex(String),
}

/// How to encrypt a new file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EncryptOptions {
    /// Key groups, each a list of age recipients (`age1…` or `ssh-ed25519 …`). One group is
    /// the usual case; several groups split the data key with Shamir.
    pub key_groups: Vec<Vec<String>>,
    /// Shares needed when there are several groups (0: all).
    pub shamir_threshold: usize,
    /// Which values to encrypt; `None` means sops' default (`unencrypted_suffix: _unencrypted`).
    pub rule: Option<CryptRule>,
    /// Feed only encrypted values to the MAC, so clear values may be edited.
    pub mac_only_encrypted: bool,
}

/// How to decrypt.
#[derive(Debug, Clone, Copy, Default)]
pub struct DecryptOptions {
    /// Skip the MAC check. Dangerous: a tampered file decrypts.
    pub ignore_mac: bool,
}

/// Errors of the SOPS engine. Messages name the file and key path, never a value.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Placeholder until the engine lands.
    #[error("{file}: {message}")]
    Other {
        /// the file
        file: PathBuf,
        /// what went wrong
        message: String,
    },
}

impl crate::Help for Error {
    fn help(&self) -> Option<String> {
        None
    }
}

/// Age identities that can open data keys.
pub struct Identities {
    _private: (),
}

/// A freshly generated age key: the identity (secret) and its recipient (public).
pub struct AgeKey {
    /// `AGE-SECRET-KEY-1…`
    pub identity: SecretString,
    /// `age1…`
    pub recipient: String,
}

/// Generates an age X25519 key from the env's randomness.
pub fn generate_age_key(_env: &Env) -> AgeKey {
    todo!("sops engine")
}

/// Encrypts a plaintext file.
pub fn encrypt(
    _env: &Env,
    _plain: &[u8],
    _format: Format,
    _opts: &EncryptOptions,
) -> Result<Vec<u8>, Error> {
    todo!("sops engine")
}

/// Decrypts a file to its plaintext bytes (emitted in the same format).
pub fn decrypt(
    _enc: &[u8],
    _format: Format,
    _ids: &Identities,
    _opts: DecryptOptions,
) -> Result<SecretBox<Vec<u8>>, Error> {
    todo!("sops engine")
}
