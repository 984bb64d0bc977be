//! The binary store: the whole file is one `str` value under `data` (AAD `data:`) in a JSON
//! envelope. Raw bytes may be any bytes, so they never enter a [`crate::Tree`]: this
//! module builds and reads the envelope's single value directly.

use crate::tree::{Branch, Item, Tree, Value};

/// The key holding the file.
pub const KEY: &str = "data";

/// The envelope tree around one encrypted value.
pub fn envelope(enc: String) -> Tree {
    Tree {
        docs: vec![Branch(vec![Item::Entry(KEY.into(), Value::Str(enc))])],
    }
}

/// The encrypted value of an envelope, if it has one.
pub fn encrypted_value(tree: &Tree) -> Option<&str> {
    match tree.docs.first()?.get(KEY)? {
        Value::Str(s) => Some(s),
        _ => None,
    }
}
