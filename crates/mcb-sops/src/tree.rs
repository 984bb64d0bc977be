//! The SOPS document model, as getsops/sops' `Tree`/`TreeBranch`: ordered maps (a `Vec`,
//! never a hash map: order feeds the MAC), lists, typed scalars and comments. Every store
//! (YAML, JSON, dotenv, INI, binary) loads into and emits from this one model.

/// A whole file: one branch per YAML document (exactly one for every other format).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Tree {
    /// The documents, in file order. The `sops` metadata key is NOT part of these once a
    /// file has been split into data and metadata.
    pub docs: Vec<Branch>,
}

/// An ordered map with comments between its entries.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Branch(pub Vec<Item>);

/// One entry of a map: a key with its value, or a comment line.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// `key: value`.
    Entry(String, Value),
    /// A comment, text without the leading `#` (sops keeps the following space: `" foo"`).
    Comment(String),
}

/// A value. Scalars carry the type sops records as `type:` in `ENC[...]`.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null` (never encrypted, not in the MAC).
    Null,
    /// `type:bool`, plaintext `True`/`False`.
    Bool(bool),
    /// `type:int`, plaintext in decimal.
    Int(i64),
    /// `type:float`, plaintext as Go `FormatFloat(f, 'f', -1, 64)`.
    Float(f64),
    /// `type:str` (and the raw bytes of the binary store, which must be UTF-8 there too:
    /// see the binary store for how non-UTF-8 is carried).
    Str(String),
    /// `type:time`: only a parsed timestamp (its text is Go's `time.MarshalText`).
    Time(super::scalar::Timestamp),
    /// A nested map.
    Map(Branch),
    /// A list. Items may be [`Value::Comment`] (comments inside a list).
    List(Vec<Value>),
    /// A comment standing as a list item (sops writes encrypted comments in lists as items).
    Comment(String),
}

impl Branch {
    /// The value of the first entry named `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find_map(|i| match i {
            Item::Entry(k, v) if k == key => Some(v),
            _ => None,
        })
    }

    /// Mutable access to the value of the first entry named `key`.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.0.iter_mut().find_map(|i| match i {
            Item::Entry(k, v) if k == key => Some(v),
            _ => None,
        })
    }

    /// Sets `key` to `value`, replacing the first entry of that name or appending.
    pub fn set(&mut self, key: &str, value: Value) {
        match self.get_mut(key) {
            Some(v) => *v = value,
            None => self.0.push(Item::Entry(key.to_owned(), value)),
        }
    }

    /// Removes every entry named `key`; returns the first removed value.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let mut out = None;
        self.0.retain_mut(|i| match i {
            Item::Entry(k, v) if k == key => {
                if out.is_none() {
                    out = Some(std::mem::replace(v, Value::Null));
                }
                false
            }
            _ => true,
        });
        out
    }

    /// Entries (not comments) in order.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.0.iter().filter_map(|i| match i {
            Item::Entry(k, v) => Some((k.as_str(), v)),
            Item::Comment(_) => None,
        })
    }
}
