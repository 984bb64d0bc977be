//! The SOPS YAML store's codec: YAML text to and from [`Tree`], byte-compatible with Go
//! sops 3.11 (Go yaml.v3 underneath). It knows nothing of encryption or of the `sops`
//! metadata key, which is a normal entry here; it never prints.
//!
//! - [`parse`] reads every document: comments become [`crate::Item::Comment`] /
//!   [`Value::Comment`](crate::Value::Comment) items, anchors and aliases are expanded,
//!   `<<` stays a key, scalars are typed as yaml.v3 types them (`resolve`).
//! - [`parse_visiting`] also shows each scalar value to a visitor with its key path as it is
//!   read (so a caller can decrypt in the same pass, never holding the encrypted tree).
//! - [`emit`] writes what sops writes (`emit`).
//!
//! Checked against the real sops: every vector in `fixtures/sops-vectors` and the probes in
//! `fixtures/sops-yaml`. Known differences: comments of an empty collection are written above
//! its key (Go folds them into a broken flow `{}`); blank lines do not split comment groups
//! (see `fixtures/sops-yaml/README.md`); a multi-line
//! string starting with a tab is written as a literal block, where Go sops prints `null`
//! (yaml.v3 cannot re-read its own text there and sops drops the value).

mod emit;
mod parse;
mod resolve;

use crate::Tree;

/// Parses YAML text into a tree, one branch per document.
pub fn parse(src: &str) -> Result<Tree, Error> {
    parse::parse(src, None).map(|(tree, _)| tree)
}

/// Sees a scalar value as the parser reads it: its key path (map keys only, as sops' AAD)
/// and the value, which it may replace; returns false to see no more.
pub type Visit<'v> = dyn FnMut(&[&str], &mut crate::Value) -> bool + 'v;

/// [`parse`], showing each scalar value (not keys) to `visit` as it is read, in document
/// order; also whether `visit` saw every scalar value of the tree (see `parse::parse`).
pub fn parse_visiting(src: &str, visit: Option<&mut Visit<'_>>) -> Result<(Tree, bool), Error> {
    parse::parse(src, visit)
}

/// Writes a tree as sops does; `indent` is the indentation step (sops' default is 4).
pub fn emit(tree: &Tree, indent: usize) -> String {
    emit::emit(tree, indent)
}

/// Writes one value as its own YAML text, as sops' `decrypt --extract` does for a map, list
/// or non-string scalar (sops prints an extracted string raw instead).
pub fn emit_value(value: &crate::Value, indent: usize) -> String {
    emit::emit_value(value, indent)
}

/// A YAML file that sops would not load. Positions are 1-based; `path` is the key path of the
/// offending node (`a.b[2].c`, empty at the top). Never carries a value.
#[derive(Debug, thiserror::Error)]
#[error("line {line}, column {column}{}: {kind}", if path.is_empty() { String::new() } else { format!(" (at {path})") })]
pub struct Error {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub column: usize,
    /// Key path of the node, `a.b[2].c`.
    pub path: String,
    /// What is wrong.
    pub kind: ErrorKind,
}

/// What is wrong with a YAML file.
#[derive(Debug, thiserror::Error)]
pub enum ErrorKind {
    /// Not YAML at all.
    #[error("YAML syntax error: {0}")]
    Syntax(String),
    /// No document in the file.
    #[error("the file has no YAML document (sops: \"File cannot be completely empty\")")]
    Empty,
    /// A document is a list.
    #[error("a YAML document that is a list is not supported")]
    TopLevelList,
    /// A document is a single value.
    #[error("a YAML document that is a single value is not supported")]
    TopLevelScalar,
    /// A key appears twice in one map.
    #[error("duplicate key")]
    DuplicateKey,
    /// A key is not a string.
    #[error("the key is {0}, but keys must be strings")]
    NonStringKey(&'static str),
    /// An integer in [2^63, 2^64), which Go reads as uint64 and sops rejects.
    #[error("integer too large for int64 (sops: \"unknown type: uint64\")")]
    Uint64,
    /// A value does not fit its explicit tag.
    #[error("a !!{found} value cannot be decoded as !!{tag}")]
    TagMismatch {
        /// what the text is
        found: &'static str,
        /// the tag written
        tag: String,
    },
    /// `!!binary` that is not base64 of UTF-8 text.
    #[error("!!binary value is not base64-encoded UTF-8 text")]
    BadBinary,
    /// A merge key `<<` whose value is neither a map nor a list of maps.
    #[error("the merge key << needs a map or a list of maps")]
    BadMerge,
    /// Aliases expand to too much data.
    #[error("the document expands aliases too often")]
    ExcessiveAliasing,
}

impl crate::Help for Error {
    fn help(&self) -> Option<String> {
        Some(
            match self.kind {
                ErrorKind::Syntax(_) => "fix the YAML syntax at that position",
                ErrorKind::Empty => "put at least one map in the file (`{}` for an empty one)",
                ErrorKind::TopLevelList | ErrorKind::TopLevelScalar => {
                    "sops needs every document to be a map: put the value under a key"
                }
                ErrorKind::DuplicateKey => "remove or rename one of the two keys",
                ErrorKind::NonStringKey(_) => "quote the key: `\"1\": value`",
                ErrorKind::Uint64 => "quote the number to keep it as a string",
                ErrorKind::TagMismatch { .. } => "remove the tag or fix the value",
                ErrorKind::BadBinary => "store the text without the !!binary tag",
                ErrorKind::BadMerge => "point << at a map anchor: `<<: *defaults`",
                ErrorKind::ExcessiveAliasing => "expand the aliases by hand",
            }
            .to_owned(),
        )
    }
}

#[cfg(test)]
mod tests;
