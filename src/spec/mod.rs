//! The installation spec: `installations/<name>/installation.yaml` (`apiVersion:
//! mcb/v1alpha1`, `kind: Installation`). Owns the serde types with their defaults, parsing
//! with errors that name file, line, YAML path and a fix, the cross-field checks, the JSON
//! Schema (`schemas/installation.schema.json`) and the annotated example.
//!
//! It reads no file itself (callers pass the text and the name to report) and never prints.

mod chars;
mod locate;
mod oidc;
mod provider;
mod rotation;
mod shared;
mod types;
mod validate;

use std::path::{Path, PathBuf};

pub use oidc::*;
pub use provider::*;
pub use rotation::*;
pub use shared::*;
pub use types::*;

pub(crate) use locate::line_of;

/// The annotated example spec (`mcb example-spec`, `mcb init-installation --example`).
pub const EXAMPLE: &str = include_str!("../../templates/example-installation.yaml");

/// The example spec's admin recipient: a placeholder whose private key nobody on a team has.
pub const EXAMPLE_ADMIN_RECIPIENT: &str =
    "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";

/// The loud warning for a spec whose `sops.recipients` still holds the example's
/// placeholder: then only the installation's own key opens its secrets.
pub fn placeholder_warning(spec: &Installation) -> Option<String> {
    spec.sops
        .recipients
        .iter()
        .any(|r| r == EXAMPLE_ADMIN_RECIPIENT)
        .then(|| {
            format!(
                "installation {}: sops.recipients holds the EXAMPLE placeholder {EXAMPLE_ADMIN_RECIPIENT}: \
                 NOBODY on your team can decrypt its secrets with it, only the installation's own key can. \
                 Put your team's age public key there (`age-keygen -y YOUR.agekey`), then `mcb render` \
                 and `mcb secrets updatekeys` (or start again with the edited spec)",
                spec.name.as_str()
            )
        })
}

/// The spec's `apiVersion`.
pub const API_VERSION: &str = "mcb/v1alpha1";
/// The spec's `kind`.
pub const KIND: &str = "Installation";

/// A spec that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The YAML does not match the spec's types (unknown field, wrong type, bad value).
    #[error("{}:{line}:{column}: {path}: {message}", file.display())]
    Parse {
        /// the spec file
        file: PathBuf,
        /// 1-based line of the offending node (0 when unknown)
        line: u64,
        /// 1-based column
        column: u64,
        /// YAML path of the offending value (`provider.capa.region`), `.` for the root
        path: String,
        /// what the parser said
        message: String,
    },
    /// The types are fine but the values do not fit together.
    #[error("{}:{line}: {path}: {message}", file.display())]
    Invalid {
        /// the spec file
        file: PathBuf,
        /// 1-based line of the offending value (0 when unknown)
        line: u64,
        /// YAML path of the offending value
        path: String,
        /// what is wrong
        message: String,
        /// what to do
        hint: String,
    },
    /// The file is not UTF-8 (a spec is text; a replacement character would silently
    /// change a value).
    #[error("{}:{line}: not UTF-8 text (invalid byte at offset {offset})", file.display())]
    Encoding {
        /// the spec file
        file: PathBuf,
        /// 1-based line of the first invalid byte
        line: u64,
        /// byte offset of the first invalid byte
        offset: usize,
    },
}

impl crate::Help for Error {
    fn help(&self) -> Option<String> {
        Some(match self {
            Error::Parse { .. } => {
                "fix the value at that path; `mcb schema` prints every field and \
                 `mcb example-spec` an annotated example"
                    .into()
            }
            Error::Invalid { hint, .. } => hint.clone(),
            Error::Encoding { .. } => {
                "save the spec as UTF-8 (`iconv -t UTF-8`) and check the value at that line".into()
            }
        })
    }
}

/// A spec file's bytes as text: anything but UTF-8 is an error naming the line (a
/// replacement character would silently change a value).
pub fn decode<'a>(bytes: &'a [u8], file: &Path) -> Result<&'a str, Error> {
    std::str::from_utf8(bytes).map_err(|e| {
        let offset = e.valid_up_to();
        Error::Encoding {
            file: file.to_path_buf(),
            line: bytes[..offset].iter().filter(|b| **b == b'\n').count() as u64 + 1,
            offset,
        }
    })
}

/// Parses and checks a spec. `file` is only used in error messages.
pub fn parse(src: &str, file: &Path) -> Result<Installation, Error> {
    // Checked on the generic tree first, so every string (map keys, free-form `values`
    // included) is covered, whatever type later reads it.
    if let Ok(doc) = serde_saphyr::from_str::<serde_json::Value>(src) {
        if let Some((path, c)) = chars::find_forbidden(&doc) {
            return Err(Error::Invalid {
                file: file.to_path_buf(),
                line: locate::line_of(src, &path).unwrap_or(0),
                message: format!("contains the control character {}", chars::describe(c)),
                hint: "remove it: spec strings may not hold control characters, line or \
                       paragraph separators or bidirectional overrides (newlines and tabs \
                       only in `values`, connector `config` and `description`)"
                    .into(),
                path,
            });
        }
    }
    let mut path = None;
    let parsed = serde_saphyr::with_deserializer_from_str(src, |de| {
        serde_path_to_error::deserialize(de).map_err(|e| {
            path = Some(e.path().to_string());
            e.into_inner()
        })
    });
    let spec: Installation = parsed.map_err(|e| {
        let (line, column) = e
            .location()
            .map(|l| (l.line(), l.column()))
            .unwrap_or((0, 0));
        Error::Parse {
            file: file.to_path_buf(),
            line,
            column,
            path: path.unwrap_or_else(|| ".".into()),
            message: clean_message(&e.without_snippet().to_string()),
        }
    })?;
    spec.check()
        .map_err(|(path, message, hint)| Error::Invalid {
            file: file.to_path_buf(),
            line: locate::line_of(src, &path).unwrap_or(0),
            path,
            message,
            hint,
        })?;
    Ok(spec)
}

/// serde-saphyr writes `error: line N column M: …` or `… at line N, column M`; we print
/// the location ourselves, once.
fn clean_message(m: &str) -> String {
    let m = m.lines().next().unwrap_or(m).trim();
    let m = m.strip_prefix("error: ").unwrap_or(m);
    let m = match m.strip_prefix("line ").and_then(|r| r.split_once(": ")) {
        Some((loc, msg)) if loc.contains("column") => msg,
        _ => m,
    };
    match m.rsplit_once(" at line ") {
        Some((msg, loc)) if loc.contains("column") => msg.to_string(),
        _ => m.to_string(),
    }
}

/// The JSON Schema of the spec, pretty-printed with a trailing newline (what
/// `schemas/installation.schema.json` holds and `mcb schema` prints).
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(Installation);
    let mut s = serde_json::to_string_pretty(&schema).expect("schema serializes");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests;
