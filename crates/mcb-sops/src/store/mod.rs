//! One codec per file format, all to and from [`super::Tree`]. A store splits the `sops`
//! metadata block off the data on load and puts it back (last, in every document) on emit;
//! it knows nothing of encryption.

pub mod binary;
pub mod dotenv;
pub mod ini;
pub mod json;
pub mod yaml;

use std::borrow::Cow;

use super::error::Error;
use super::tree::{Branch, Item, Tree, Value};
use super::Format;

/// Indent of emitted YAML (sops' default; `.sops.yaml` `stores: yaml: indent` may change it).
pub const YAML_INDENT: usize = 4;

/// A file format's codec.
pub trait Store {
    /// Parses a file into data and its `sops` metadata block (`None`: no metadata).
    fn load(&self, src: &[u8]) -> Result<(Tree, Option<Branch>), Error>;
    /// Writes data, with the metadata block for an encrypted file. An owned tree is extended
    /// in place (no copy of a large encrypted tree).
    fn emit(&self, tree: Cow<'_, Tree>, meta: Option<&Branch>) -> Result<Vec<u8>, Error>;

    /// The `sops` metadata block alone, by a scan that does not parse the data (`None`: not
    /// found that way; [`Store::load`] is the authority).
    fn scan_metadata(&self, _src: &[u8]) -> Option<Branch> {
        None
    }

    /// [`Store::load`], showing each data value (not the metadata's) to `visit` as it is
    /// read, in document order (see [`yaml::Visit`]); also whether `visit` saw every value.
    /// A store that cannot shows none.
    fn load_visiting(
        &self,
        src: &[u8],
        _visit: &mut yaml::Visit<'_>,
    ) -> Result<(Tree, Option<Branch>, bool), Error> {
        let (tree, meta) = self.load(src)?;
        Ok((tree, meta, false))
    }
}

/// The codec of a format. Binary's codec handles the encrypted JSON envelope; the raw
/// plaintext bytes never become a tree (see [`binary`]).
pub fn for_format(format: Format) -> &'static dyn Store {
    match format {
        Format::Yaml => &YamlStore,
        Format::Json | Format::Binary => &JsonStore,
        Format::Dotenv => &DotenvStore,
        Format::Ini => &IniStore,
    }
}

/// Removes the `sops` entry from every document; returns the first one's (all are copies).
fn split_metadata(tree: &mut Tree) -> Option<Branch> {
    let mut meta = None;
    for doc in &mut tree.docs {
        if let Some(m) = doc.remove("sops") {
            if meta.is_none() {
                meta = Some(match m {
                    Value::Map(b) => b,
                    // A non-map `sops` key: present but unusable (reported as metadata error).
                    _ => Branch::default(),
                });
            }
        }
    }
    meta
}

/// Appends the metadata block as the last key of every document.
fn join_metadata<'t>(tree: Cow<'t, Tree>, meta: Option<&Branch>) -> Cow<'t, Tree> {
    let Some(m) = meta else { return tree };
    let mut t = tree.into_owned();
    if t.docs.is_empty() {
        t.docs.push(Branch::default());
    }
    for doc in &mut t.docs {
        doc.0
            .push(Item::Entry("sops".into(), Value::Map(m.clone())));
    }
    Cow::Owned(t)
}

/// The text of a value in a flat format (dotenv, INI): scalars as sops types them, null as
/// empty; a nested value is an error naming `key_path`.
fn flat_text(v: &Value, format: &str, key_path: &str) -> Result<String, Error> {
    match v {
        Value::Map(_) | Value::List(_) => Err(Error::Unsupported {
            file: Default::default(),
            message: format!("{format} cannot hold the nested value at `{key_path}`"),
        }),
        v => Ok(super::scalar::to_text(v).unwrap_or_default()),
    }
}

pub(super) fn utf8<'a>(src: &'a [u8], format: &'static str) -> Result<&'a str, Error> {
    std::str::from_utf8(src)
        .map_err(|e| Error::parse(format, None, format!("not UTF-8 text ({e})")))
}

/// YAML (the codec itself lives in [`yaml`]).
pub struct YamlStore;

impl Store for YamlStore {
    fn load(&self, src: &[u8]) -> Result<(Tree, Option<Branch>), Error> {
        load_yaml(src, None).map(|(tree, meta, _)| (tree, meta))
    }

    /// sops writes the metadata last in each document, as a top-level key at column 0: the
    /// text from the last `sops:` line to the end of its document, parsed alone.
    fn scan_metadata(&self, src: &[u8]) -> Option<Branch> {
        let text = std::str::from_utf8(src).ok()?;
        let start = match text.strip_prefix("sops:") {
            Some(_) => 0,
            None => text.rfind("\nsops:")? + 1,
        };
        let block = &text[start..];
        let end = ["\n---", "\n..."]
            .iter()
            .filter_map(|m| block.find(m))
            .min()
            .unwrap_or(block.len());
        split_metadata(&mut yaml::parse(&block[..end]).ok()?)
    }

    fn load_visiting(
        &self,
        src: &[u8],
        visit: &mut yaml::Visit<'_>,
    ) -> Result<(Tree, Option<Branch>, bool), Error> {
        // The metadata's own values are not data.
        let mut data_only =
            |path: &[&str], v: &mut Value| path.first() == Some(&"sops") || visit(path, v);
        load_yaml(src, Some(&mut data_only))
    }
    fn emit(&self, tree: Cow<'_, Tree>, meta: Option<&Branch>) -> Result<Vec<u8>, Error> {
        Ok(yaml::emit(&join_metadata(tree, meta), YAML_INDENT).into_bytes())
    }
}

/// Loads YAML, showing each value to `visit` (see [`Store::load_visiting`]).
fn load_yaml(
    src: &[u8],
    visit: Option<&mut yaml::Visit<'_>>,
) -> Result<(Tree, Option<Branch>, bool), Error> {
    let text = utf8(src, "YAML")?;
    if text.trim().is_empty() {
        return Err(Error::Empty {
            file: Default::default(),
        });
    }
    let (mut tree, all) = yaml::parse_visiting(text, visit).map_err(|e| match e.kind {
        yaml::ErrorKind::DuplicateKey => Error::DuplicateKey {
            file: Default::default(),
            key_path: e.path,
        },
        yaml::ErrorKind::Empty => Error::Empty {
            file: Default::default(),
        },
        _ => Error::parse("YAML", Some(e.line), e.to_string()),
    })?;
    let meta = split_metadata(&mut tree);
    Ok((tree, meta, all))
}

/// JSON (also the envelope of encrypted binary files).
pub struct JsonStore;

impl Store for JsonStore {
    fn load(&self, src: &[u8]) -> Result<(Tree, Option<Branch>), Error> {
        let mut tree = json::parse(src)?;
        let meta = split_metadata(&mut tree);
        Ok((tree, meta))
    }
    fn emit(&self, tree: Cow<'_, Tree>, meta: Option<&Branch>) -> Result<Vec<u8>, Error> {
        Ok(json::emit(&join_metadata(tree, meta)).into_bytes())
    }
}

/// dotenv.
pub struct DotenvStore;

impl Store for DotenvStore {
    fn load(&self, src: &[u8]) -> Result<(Tree, Option<Branch>), Error> {
        dotenv::parse(src)
    }
    fn emit(&self, tree: Cow<'_, Tree>, meta: Option<&Branch>) -> Result<Vec<u8>, Error> {
        dotenv::emit(&tree, meta)
    }
}

/// INI.
pub struct IniStore;

impl Store for IniStore {
    fn load(&self, src: &[u8]) -> Result<(Tree, Option<Branch>), Error> {
        ini::parse(src)
    }
    fn emit(&self, tree: Cow<'_, Tree>, meta: Option<&Branch>) -> Result<Vec<u8>, Error> {
        ini::emit(&tree, meta)
    }
}
