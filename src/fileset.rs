//! A set of desired files: what generators (`render`, `pki`, `creds` via `ops`) produce and
//! `repo` compares with disk and writes. Paths are relative to the config repo root, with
//! `/` separators; iteration is in path order, so output built from it is deterministic.

use std::collections::BTreeMap;

use secrecy::{ExposeSecret, SecretBox};

/// The content of one desired file.
pub enum Content {
    /// Bytes written as they are (manifests, specs, inventories).
    Plain(Vec<u8>),
    /// A plaintext document that must be written SOPS-encrypted (a Kubernetes Secret in
    /// YAML). It never reaches disk in clear.
    Secret(SecretBox<Vec<u8>>),
}

impl Content {
    /// A secret from plaintext bytes.
    pub fn secret(plain: Vec<u8>) -> Self {
        Content::Secret(SecretBox::new(Box::new(plain)))
    }

    /// Whether this content must be encrypted before it is written.
    pub fn is_secret(&self) -> bool {
        matches!(self, Content::Secret(_))
    }
}

impl Clone for Content {
    fn clone(&self) -> Self {
        match self {
            Content::Plain(b) => Content::Plain(b.clone()),
            Content::Secret(s) => Content::secret(s.expose_secret().clone()),
        }
    }
}

impl std::fmt::Debug for Content {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Content::Plain(b) => write!(f, "Plain({} bytes)", b.len()),
            Content::Secret(_) => f.write_str("Secret([REDACTED])"),
        }
    }
}

/// Desired files by relative path.
#[derive(Debug, Default, Clone)]
pub struct FileSet {
    files: BTreeMap<String, Content>,
}

impl FileSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces a file.
    pub fn insert(&mut self, path: impl Into<String>, content: Content) {
        self.files.insert(path.into(), content);
    }

    /// Adds a plain file.
    pub fn plain(&mut self, path: impl Into<String>, bytes: impl Into<Vec<u8>>) {
        self.insert(path, Content::Plain(bytes.into()));
    }

    /// Adds a secret file.
    pub fn secret(&mut self, path: impl Into<String>, plain: Vec<u8>) {
        self.insert(path, Content::secret(plain));
    }

    /// The content at `path`.
    pub fn get(&self, path: &str) -> Option<&Content> {
        self.files.get(path)
    }

    /// Removes and returns the content at `path`.
    pub fn remove(&mut self, path: &str) -> Option<Content> {
        self.files.remove(path)
    }

    /// Files in path order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Content)> {
        self.files.iter()
    }

    /// Paths in order.
    pub fn paths(&self) -> impl Iterator<Item = &String> {
        self.files.keys()
    }

    /// Number of files.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Moves every file of `other` into this set (later wins).
    pub fn extend(&mut self, other: FileSet) {
        self.files.extend(other.files);
    }
}

impl IntoIterator for FileSet {
    type Item = (String, Content);
    type IntoIter = std::collections::btree_map::IntoIter<String, Content>;
    fn into_iter(self) -> Self::IntoIter {
        self.files.into_iter()
    }
}
