//! The SOPS engine's error: every variant names the file (set by [`Error::with_file`] once
//! the caller knows it) and, where it applies, the key path; never a value.

use std::path::{Path, PathBuf};

/// What is wrong with one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueFault {
    /// GCM authentication failed: tampered data/tag/iv or a value moved to another key.
    Tampered,
    /// A clear value where the rules require an encrypted one.
    NotEncrypted,
    /// The decrypted text does not fit its `type:` (or the type is unknown).
    BadType,
}

impl std::fmt::Display for ValueFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ValueFault::Tampered => "cannot be decrypted: it was altered or moved from another key (AES-GCM authentication failed)",
            ValueFault::NotEncrypted => "is in clear text, but the file's rules say it must be encrypted",
            ValueFault::BadType => "decrypts to data that does not match its recorded type",
        })
    }
}

/// Errors of the SOPS engine. Messages name the file and key path, never a value.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file is not valid in its format.
    #[error("{}: not valid {format}{}: {message}", file.display(), line.map(|l| format!(" (line {l})")).unwrap_or_default())]
    Parse {
        /// the file
        file: PathBuf,
        /// `YAML`, `JSON`, …
        format: &'static str,
        /// 1-based line, if known
        line: Option<usize>,
        /// what the parser said
        message: String,
    },
    /// The same key twice in one map.
    #[error("{}: duplicate key `{key_path}`", file.display())]
    DuplicateKey {
        /// the file
        file: PathBuf,
        /// `a:b:c`
        key_path: String,
    },
    /// Nothing to encrypt or decrypt.
    #[error("{}: the file is empty", file.display())]
    Empty {
        /// the file
        file: PathBuf,
    },
    /// No `sops` metadata: the file is not encrypted.
    #[error("{}: sops metadata not found (the file is not encrypted)", file.display())]
    MetadataNotFound {
        /// the file
        file: PathBuf,
    },
    /// Encrypting a file that already has `sops` metadata.
    #[error("{}: the file is already encrypted (it has `sops` metadata)", file.display())]
    AlreadyEncrypted {
        /// the file
        file: PathBuf,
    },
    /// The metadata block is unusable.
    #[error("{}: sops metadata field `{field}`: {message}", file.display())]
    Metadata {
        /// the file
        file: PathBuf,
        /// the field
        field: String,
        /// what is wrong
        message: String,
    },
    /// No identity could open the data key.
    #[error("{}: cannot get the data key: {reason}", file.display())]
    DataKey {
        /// the file
        file: PathBuf,
        /// which identities were tried, or the threshold that was not met
        reason: String,
    },
    /// One value failed.
    #[error("{}: value at `{key_path}` {fault}", file.display())]
    Value {
        /// the file
        file: PathBuf,
        /// `a:b:c` (list items share their key's path)
        key_path: String,
        /// what is wrong
        fault: ValueFault,
    },
    /// The MAC could not be decrypted (tampered, or `lastmodified` changed).
    #[error("{}: the MAC cannot be decrypted (the file was altered, or its lastmodified changed)", file.display())]
    MacUnreadable {
        /// the file
        file: PathBuf,
    },
    /// The MAC does not match the content.
    #[error("{}: MAC mismatch: values were added, removed, reordered or replaced after encryption", file.display())]
    MacMismatch {
        /// the file
        file: PathBuf,
    },
    /// A key source or recipient problem.
    #[error("{}{}", file_prefix(file), problem)]
    Keys {
        /// the file
        file: PathBuf,
        /// the problem (shown in the message, so not a separate cause)
        problem: super::keys::KeyError,
    },
    /// No recipients to encrypt for.
    #[error("{}: no age recipients: pass --age or add a creation rule to .sops.yaml", file.display())]
    NoRecipients {
        /// the file
        file: PathBuf,
    },
    /// A `.sops.yaml` problem.
    #[error("{}: {message}", file.display())]
    Config {
        /// the config file
        file: PathBuf,
        /// what is wrong (with the YAML path)
        message: String,
    },
    /// No creation rule matches the file.
    #[error("{}: no creation rule in {} matches this path", file.display(), config.display())]
    NoCreationRule {
        /// the file
        file: PathBuf,
        /// the config searched
        config: PathBuf,
    },
    /// A `--extract`/`set` path problem.
    #[error("{}: path `{path}`: {message}", file.display())]
    TreePath {
        /// the file
        file: PathBuf,
        /// the path as given
        path: String,
        /// what is wrong
        message: String,
    },
    /// Unsupported use (e.g. a feature of this store that sops also refuses).
    #[error("{}: {message}", file.display())]
    Unsupported {
        /// the file
        file: PathBuf,
        /// what
        message: String,
    },
}

fn file_prefix(file: &Path) -> String {
    if file.as_os_str().is_empty() {
        String::new()
    } else {
        format!("{}: ", file.display())
    }
}

impl From<super::keys::KeyError> for Error {
    fn from(problem: super::keys::KeyError) -> Self {
        Error::Keys {
            file: PathBuf::new(),
            problem,
        }
    }
}

impl Error {
    /// Names the file the error is about (pure functions do not know it).
    pub fn with_file(mut self, path: &Path) -> Self {
        let f = match &mut self {
            Error::Parse { file, .. }
            | Error::DuplicateKey { file, .. }
            | Error::Empty { file }
            | Error::MetadataNotFound { file }
            | Error::AlreadyEncrypted { file }
            | Error::Metadata { file, .. }
            | Error::DataKey { file, .. }
            | Error::Value { file, .. }
            | Error::MacUnreadable { file }
            | Error::MacMismatch { file }
            | Error::Keys { file, .. }
            | Error::NoRecipients { file }
            | Error::NoCreationRule { file, .. }
            | Error::TreePath { file, .. }
            | Error::Unsupported { file, .. } => file,
            // A config error already names the config file.
            Error::Config { .. } => return self,
        };
        *f = path.to_owned();
        self
    }

    /// A parse error without a file name yet.
    pub fn parse(format: &'static str, line: Option<usize>, message: impl Into<String>) -> Self {
        Error::Parse {
            file: PathBuf::new(),
            format,
            line,
            message: message.into(),
        }
    }
}

impl crate::Help for Error {
    fn help(&self) -> Option<String> {
        Some(match self {
            Error::Parse { .. } | Error::Empty { .. } => "fix the syntax, or pass --input-type if the extension does not match the content".into(),
            Error::DuplicateKey { .. } => "remove or rename one of the two entries".into(),
            Error::MetadataNotFound { .. } => "encrypt it first: `mcb secrets encrypt -i FILE`".into(),
            Error::AlreadyEncrypted { .. } => "decrypt it first, or use `mcb secrets edit`/`rotate`/`updatekeys`".into(),
            Error::Metadata { .. } => "the file's `sops` block was damaged: restore it from version control".into(),
            Error::DataKey { .. } => "provide an identity that is a recipient of the file: --age-key-file, SOPS_AGE_KEY, SOPS_AGE_KEY_FILE, SOPS_AGE_KEY_CMD, ~/.config/mcb/keys/NAME.agekey or ~/.config/sops/age/keys.txt".into(),
            Error::Value { fault: ValueFault::NotEncrypted, .. } => "encrypt the value again (`mcb secrets set`), or restore the file from version control".into(),
            Error::Value { .. } | Error::MacUnreadable { .. } | Error::MacMismatch { .. } => "the file was changed outside sops: restore it from version control (--ignore-mac skips the MAC check, dangerously)".into(),
            Error::Keys { problem: super::keys::KeyError::NotFound { .. }, .. } => "pass --age-key-file FILE or set SOPS_AGE_KEY_FILE; `mcb init-installation NAME` saves the key to ~/.config/mcb/keys/NAME.agekey unless --age-key-out said otherwise".into(),
            Error::Keys { problem: super::keys::KeyError::Source { .. }, .. } => "an identity file holds AGE-SECRET-KEY-1… lines (`#` comments allowed) as age-keygen and mcb write it, or an unencrypted OpenSSH private key".into(),
            Error::Keys { .. } => "an age recipient is age1… (`age-keygen -y KEYFILE` prints it) or an ssh-ed25519/ssh-rsa public key".into(),
            Error::NoRecipients { .. } => "pass --age age1… or add `creation_rules` with `age:` to .sops.yaml".into(),
            Error::Config { .. } => "fix .sops.yaml (see `mcb secrets --help`)".into(),
            Error::NoCreationRule { .. } => "add a creation rule whose path_regex matches, or pass --age".into(),
            Error::TreePath { .. } => "write the path as sops does: '[\"key\"][0][\"sub\"]'".into(),
            Error::Unsupported { .. } => return None,
        })
    }
}
