//! Encrypting and decrypting a tree under a crypt rule, and the MAC over it (§4, §5, §8 of
//! docs/sops-format.md). One walk visits every leaf in document order with its key path;
//! encryption, decryption and the MAC all use it, so they cannot disagree on order or AAD.
//! Decryption is one [`Decrypter`] per file, fed by that walk or, for YAML, by the parser as
//! it reads each value (the same per-leaf code and order; see `open_streaming` in `open`).
//!
//! Size: the walk, the per-leaf sealing and opening, and the MAC, kept together so they
//! cannot disagree on order or AAD (see above).

use std::collections::HashMap;

use regex::Regex;
use sha2::{Digest, Sha512};
use zeroize::Zeroizing;

use super::cipher::{self, Encrypted, IV_LEN};
use super::error::{Error, ValueFault};
use super::scalar;
use super::tree::{Branch, Item, Tree, Value};
use super::CryptRule;
use crate::Effects;

/// A crypt rule ready to apply (regexes compiled).
#[derive(Debug)]
pub enum Rule {
    /// see [`CryptRule::UnencryptedSuffix`]
    UnencryptedSuffix(String),
    /// see [`CryptRule::EncryptedSuffix`]
    EncryptedSuffix(String),
    /// see [`CryptRule::UnencryptedRegex`]
    UnencryptedRegex(Regex),
    /// see [`CryptRule::EncryptedRegex`]
    EncryptedRegex(Regex),
    /// see [`CryptRule::UnencryptedCommentRegex`]
    UnencryptedCommentRegex(Regex),
    /// see [`CryptRule::EncryptedCommentRegex`]
    EncryptedCommentRegex(Regex),
}

impl Rule {
    /// Compiles a rule (`None`: sops' default `_unencrypted` suffix). Errors name the regex.
    pub fn compile(rule: Option<&CryptRule>) -> Result<Rule, String> {
        let re = |r: &str| Regex::new(r).map_err(|e| format!("invalid regex `{r}`: {e}"));
        Ok(match rule {
            None => Rule::UnencryptedSuffix("_unencrypted".into()),
            Some(CryptRule::UnencryptedSuffix(s)) => Rule::UnencryptedSuffix(s.clone()),
            Some(CryptRule::EncryptedSuffix(s)) => Rule::EncryptedSuffix(s.clone()),
            Some(CryptRule::UnencryptedRegex(r)) => Rule::UnencryptedRegex(re(r)?),
            Some(CryptRule::EncryptedRegex(r)) => Rule::EncryptedRegex(re(r)?),
            Some(CryptRule::UnencryptedCommentRegex(r)) => Rule::UnencryptedCommentRegex(re(r)?),
            Some(CryptRule::EncryptedCommentRegex(r)) => Rule::EncryptedCommentRegex(re(r)?),
        })
    }

    /// Whether a leaf at this key path is encrypted (comment rules: see [`walk`]).
    fn encrypts(&self, path: &[&str]) -> bool {
        match self {
            Rule::UnencryptedSuffix(s) => !path.iter().any(|k| k.ends_with(s.as_str())),
            Rule::EncryptedSuffix(s) => path.iter().any(|k| k.ends_with(s.as_str())),
            Rule::UnencryptedRegex(r) => !path.iter().any(|k| r.is_match(k)),
            Rule::EncryptedRegex(r) => path.iter().any(|k| r.is_match(k)),
            Rule::UnencryptedCommentRegex(_) => true,
            Rule::EncryptedCommentRegex(_) => false,
        }
    }

    /// For comment rules: the state a matching comment sets for the next value.
    fn comment_marks(&self, text: &str) -> Option<bool> {
        match self {
            Rule::UnencryptedCommentRegex(r) if r.is_match(text) => Some(false),
            Rule::EncryptedCommentRegex(r) if r.is_match(text) => Some(true),
            _ => None,
        }
    }
}

/// One leaf as the walk sees it.
enum Leaf<'a> {
    /// a scalar map value or list item (list comments included)
    Value(&'a mut Value),
    /// a comment line of a map
    Comment(&'a mut String),
}

/// The walk's callback: key path, the leaf, and whether the rule encrypts it.
type Visit<'v, E> = dyn FnMut(&[&str], Leaf<'_>, bool) -> Result<(), E> + 'v;

/// Visits every leaf in document order with its key path and whether the rule encrypts it.
fn walk<'a, E>(
    branch: &'a mut Branch,
    path: &mut Vec<&'a str>,
    rule: &Rule,
    forced: Option<bool>,
    f: &mut Visit<'_, E>,
) -> Result<(), E> {
    let mut pending: Option<bool> = None;
    for item in branch.0.iter_mut() {
        match item {
            Item::Comment(c) => {
                // A comment that marks the next value stays readable (it must be, to decrypt).
                let marks = rule.comment_marks(c);
                let enc = marks.is_none()
                    && forced.unwrap_or_else(|| rule.encrypts(path))
                    && !matches!(rule, Rule::EncryptedCommentRegex(_));
                if marks.is_some() {
                    pending = marks;
                }
                f(path, Leaf::Comment(c), enc)?;
            }
            Item::Entry(k, v) => {
                let k: &'a String = k;
                path.push(k.as_str());
                let state = pending.take().or(forced);
                walk_value(v, path, rule, state, f)?;
                path.pop();
            }
        }
    }
    Ok(())
}

fn walk_value<'a, E>(
    v: &'a mut Value,
    path: &mut Vec<&'a str>,
    rule: &Rule,
    forced: Option<bool>,
    f: &mut Visit<'_, E>,
) -> Result<(), E> {
    match v {
        Value::Map(b) => walk(b, path, rule, forced, f),
        Value::List(items) => {
            // As in a map, a comment matching a comment rule stays clear and decides the
            // next item.
            let mut pending: Option<bool> = None;
            for item in items.iter_mut() {
                let marks = match item {
                    Value::Comment(c) => rule.comment_marks(c),
                    _ => None,
                };
                if marks.is_some() {
                    pending = marks;
                    f(path, Leaf::Value(item), false)?;
                } else if matches!(item, Value::Comment(_)) {
                    walk_value(item, path, rule, forced, f)?;
                } else {
                    walk_value(item, path, rule, pending.take().or(forced), f)?;
                }
            }
            Ok(())
        }
        leaf => {
            let enc = if matches!(leaf, Value::Comment(_))
                && matches!(rule, Rule::EncryptedCommentRegex(_))
            {
                false
            } else {
                forced.unwrap_or_else(|| rule.encrypts(path))
            };
            f(path, Leaf::Value(leaf), enc)
        }
    }
}

fn walk_tree<E>(tree: &mut Tree, rule: &Rule, f: &mut Visit<'_, E>) -> Result<(), E> {
    for doc in tree.docs.iter_mut() {
        walk(doc, &mut Vec::new(), rule, None, f)?;
    }
    Ok(())
}

/// The AAD of a leaf: its key path joined with `:` plus a trailing `:`.
pub fn aad(path: &[&str]) -> String {
    let mut s = String::new();
    for k in path {
        s.push_str(k);
        s.push(':');
    }
    if s.is_empty() {
        s.push(':');
    }
    s
}

/// The MAC hash being built in document order.
struct Mac(Sha512, bool);

impl Mac {
    fn new(mac_only_encrypted: bool) -> Mac {
        let mut h = Sha512::new();
        if mac_only_encrypted {
            h.update(sha2::Sha256::digest(b"sops"));
        }
        Mac(h, mac_only_encrypted)
    }
    fn feed(&mut self, text: &[u8], encrypted: bool) {
        if encrypted || !self.1 {
            self.0.update(text);
        }
    }
    fn hex(self) -> String {
        hex::encode_upper(self.0.finalize())
    }
}

/// IVs of values already encrypted, by (AAD, type, plaintext): reusing them for the same
/// plaintext under the same data key reproduces the same ciphertext, so unchanged values stay
/// byte-identical. Keyed by a SHA-256 of the three so no plaintext is kept; only looked up.
#[derive(Default, PartialEq)]
pub struct IvCache(HashMap<[u8; 32], [u8; IV_LEN]>);

impl IvCache {
    fn id(aad: &str, ty: &str, plain: &[u8]) -> [u8; 32] {
        let mut h = sha2::Sha256::new();
        for part in [aad.as_bytes(), ty.as_bytes(), plain] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part);
        }
        h.finalize().into()
    }

    /// The IV used before for this plaintext at this AAD.
    pub fn get_iv(&self, aad: &str, ty: &str, plain: &[u8]) -> Option<[u8; IV_LEN]> {
        self.0.get(&Self::id(aad, ty, plain)).copied()
    }

    /// Records the IV a value was encrypted with.
    pub fn put(&mut self, aad: &str, ty: &str, plain: &[u8], iv: &[u8]) {
        if let Ok(iv) = <[u8; IV_LEN]>::try_from(iv) {
            self.0.insert(Self::id(aad, ty, plain), iv);
        }
    }
}

fn value_err(path: &[&str], fault: ValueFault) -> Error {
    Error::Value {
        file: Default::default(),
        key_path: path.join(":"),
        fault,
    }
}

/// Encrypts every leaf the rule selects, in place; returns the MAC (uppercase hex).
pub fn encrypt_tree(
    env: &dyn Effects,
    tree: &mut Tree,
    key: &[u8; 32],
    rule: &Rule,
    mac_only_encrypted: bool,
    ivs: &IvCache,
) -> Result<String, Error> {
    let mut mac = Mac::new(mac_only_encrypted);
    walk_tree(tree, rule, &mut |path, leaf, enc| {
        match leaf {
            Leaf::Comment(c) => {
                // An empty comment (`#`) stays clear, as sops' cipher leaves empty values
                // (issue 21 D3: an encrypted empty comment is `data:,`, which nothing reads).
                if enc && !c.is_empty() {
                    *c = seal(env, key, ivs, &aad(path), c.as_bytes(), "comment");
                }
            }
            Leaf::Value(v) => {
                let Some(text) = scalar::to_text(v).map(Zeroizing::new) else {
                    return Ok(()); // null
                };
                let is_comment = matches!(v, Value::Comment(_));
                if !is_comment {
                    mac.feed(text.as_bytes(), enc);
                }
                // The empty string is never encrypted (sops writes "").
                if enc && !text.is_empty() {
                    let ty = scalar::type_name(v).expect("scalar");
                    *v = Value::Str(seal(env, key, ivs, &aad(path), text.as_bytes(), ty));
                }
            }
        }
        Ok::<(), Error>(())
    })?;
    Ok(mac.hex())
}

fn seal(
    env: &dyn Effects,
    key: &[u8; 32],
    ivs: &IvCache,
    aad: &str,
    plain: &[u8],
    ty: &str,
) -> String {
    let iv = ivs
        .get_iv(aad, ty, plain)
        .unwrap_or_else(|| env.random_bytes::<IV_LEN>());
    cipher::seal(key, &iv, plain, aad.as_bytes(), ty).to_string()
}

/// Decrypts every encrypted leaf in place; returns the MAC recomputed from the plaintext.
/// Records each value's IV in `ivs` (for re-encryption without noise).
pub fn decrypt_tree(
    tree: &mut Tree,
    key: &[u8; 32],
    rule: &Rule,
    mac_only_encrypted: bool,
    ivs: Option<&mut IvCache>,
) -> Result<String, Error> {
    let mut d = Decrypter::new(key, rule, mac_only_encrypted, ivs);
    walk_tree(tree, rule, &mut |path, leaf, enc| match leaf {
        Leaf::Comment(c) => d.comment(path, c),
        Leaf::Value(v) => d.value(path, v, enc),
    })?;
    Ok(d.mac.hex())
}

/// Decrypts leaves one at a time, feeding the MAC in the order it sees values: the whole-tree
/// walk above, or a store's parser handing over each value as it reads it (so a large file's
/// `ENC[...]` texts are never all held at once).
pub struct Decrypter<'k> {
    key: &'k [u8; 32],
    rule: &'k Rule,
    mac: Mac,
    ivs: Option<&'k mut IvCache>,
}

impl<'k> Decrypter<'k> {
    /// A decrypter with an empty MAC; records IVs in `ivs` when given.
    pub fn new(
        key: &'k [u8; 32],
        rule: &'k Rule,
        mac_only_encrypted: bool,
        ivs: Option<&'k mut IvCache>,
    ) -> Self {
        Decrypter {
            key,
            rule,
            mac: Mac::new(mac_only_encrypted),
            ivs,
        }
    }

    /// Whether the rule decides each value by its key path alone, so values can be decrypted
    /// as they are read. A comment rule cannot: a comment the parser places later (YAML
    /// comment ownership) may decide the value before it.
    pub fn by_path(&self) -> bool {
        !matches!(
            self.rule,
            Rule::UnencryptedCommentRegex(_) | Rule::EncryptedCommentRegex(_)
        )
    }

    /// Decrypts one value read at `path`, in document order ([`Self::by_path`] rules only;
    /// comments are left to [`Self::comments`]).
    pub fn value_at(&mut self, path: &[&str], v: &mut Value) -> Result<(), Error> {
        debug_assert!(self.by_path());
        let enc = self.rule.encrypts(path);
        self.value(path, v, enc)
    }

    /// Decrypts the comments of a tree whose values [`Self::value_at`] has decrypted.
    pub fn comments(&mut self, tree: &mut Tree) -> Result<(), Error> {
        let rule = self.rule;
        walk_tree(tree, rule, &mut |path, leaf, _| match leaf {
            Leaf::Comment(c) => self.comment(path, c),
            Leaf::Value(_) => Ok(()),
        })
    }

    /// The MAC of the values seen (uppercase hex).
    pub fn mac(self) -> String {
        self.mac.hex()
    }

    fn comment(&mut self, path: &[&str], c: &mut String) -> Result<(), Error> {
        // Comments are decrypted when they are ENC. One that does not open is kept as it is,
        // as sops does ("possibly unencrypted comment"): comments are outside the MAC, so
        // they carry no authenticated content either way.
        let Some(e) = Encrypted::parse(c) else {
            return Ok(());
        };
        let a = aad(path);
        let Ok(plain) = cipher::open(self.key, &e, a.as_bytes()) else {
            return Ok(());
        };
        let text =
            String::from_utf8(plain.to_vec()).map_err(|_| value_err(path, ValueFault::BadType))?;
        if let Some(ivs) = self.ivs.as_deref_mut() {
            ivs.put(&a, "comment", &plain, &e.iv);
        }
        *c = text;
        Ok(())
    }

    fn value(&mut self, path: &[&str], v: &mut Value, enc: bool) -> Result<(), Error> {
        let encrypted_text = match v {
            Value::Str(s) if enc && !s.is_empty() => Some(s),
            // A list comment in clear, or a clear value outside the rule.
            Value::Str(s) if Encrypted::parse(s).is_some_and(|e| e.ty == "comment") => Some(s),
            Value::Null | Value::Comment(_) => None,
            Value::Str(_) => None,
            _ if enc => return Err(value_err(path, ValueFault::NotEncrypted)),
            _ => None,
        };
        if let Some(s) = encrypted_text {
            let e = Encrypted::parse(s).ok_or_else(|| value_err(path, ValueFault::NotEncrypted))?;
            let a = aad(path);
            let plain = cipher::open(self.key, &e, a.as_bytes())
                .map_err(|_| value_err(path, ValueFault::Tampered))?;
            let text = String::from_utf8(plain.to_vec())
                .map_err(|_| value_err(path, ValueFault::BadType))?;
            let nv = scalar::from_text(&e.ty, text)
                .ok_or_else(|| value_err(path, ValueFault::BadType))?;
            if let Some(ivs) = self.ivs.as_deref_mut() {
                ivs.put(&a, &e.ty, &plain, &e.iv);
            }
            *v = nv;
        }
        if !matches!(v, Value::Comment(_)) {
            if let Some(text) = scalar::to_text(v).map(Zeroizing::new) {
                self.mac.feed(text.as_bytes(), enc);
            }
        }
        Ok(())
    }
}

/// Whether every leaf the rule says must be encrypted is (for `inspect`): the key paths of
/// clear values that should be encrypted.
pub fn clear_but_should_be(mut tree: Tree, rule: &Rule) -> Vec<String> {
    let mut out = Vec::new();
    let _ = walk_tree(&mut tree, rule, &mut |path, leaf, enc| {
        if enc {
            let clear = match leaf {
                Leaf::Value(Value::Str(s)) => !s.is_empty() && !Encrypted::is_encrypted(s),
                Leaf::Value(Value::Null) | Leaf::Value(Value::Comment(_)) | Leaf::Comment(_) => {
                    false
                }
                Leaf::Value(_) => true,
            };
            if clear {
                out.push(path.join(":"));
            }
        }
        Ok::<(), ()>(())
    });
    out
}

/// Encrypts the MAC text with AAD = `lastmodified`.
pub fn seal_mac(
    env: &dyn Effects,
    key: &[u8; 32],
    mac: &str,
    lastmodified: &str,
    ivs: &IvCache,
) -> String {
    seal(env, key, ivs, lastmodified, mac.as_bytes(), "str")
}

/// Why the stored MAC could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacFault {
    /// not an ENC value, or GCM failed (tampered, or `lastmodified` changed)
    Unreadable,
    /// its `type:` is not `str` (sops compares it to the computed string and fails)
    WrongType,
}

/// Decrypts the stored MAC (which must be `type:str`); records its IV.
pub fn open_mac(
    key: &[u8; 32],
    stored: &str,
    lastmodified: &str,
    ivs: Option<&mut IvCache>,
) -> Result<String, MacFault> {
    let e = Encrypted::parse(stored).ok_or(MacFault::Unreadable)?;
    let plain = cipher::open(key, &e, lastmodified.as_bytes()).map_err(|_| MacFault::Unreadable)?;
    if e.ty != "str" {
        return Err(MacFault::WrongType);
    }
    if let Some(ivs) = ivs {
        ivs.put(lastmodified, "str", &plain, &e.iv);
    }
    String::from_utf8(plain.to_vec()).map_err(|_| MacFault::Unreadable)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> Tree {
        Tree {
            docs: vec![Branch(vec![
                Item::Comment(" top".into()),
                Item::Entry("a".into(), Value::Str("x".into())),
                Item::Entry("n_unencrypted".into(), Value::Int(1)),
                Item::Entry(
                    "m".into(),
                    Value::Map(Branch(vec![Item::Entry(
                        "l".into(),
                        Value::List(vec![
                            Value::Bool(true),
                            Value::Comment(" in list".into()),
                            Value::Null,
                            Value::Str(String::new()),
                        ]),
                    )])),
                ),
            ])],
        }
    }

    #[test]
    fn encrypt_then_decrypt_restores_and_macs_agree() {
        let env = crate::effects::Seeded::new(3, time::macros::datetime!(2026-01-01 0:00 UTC));
        let rule = Rule::compile(None).unwrap();
        let key = [5u8; 32];
        let mut t = tree();
        let mac1 = encrypt_tree(&env, &mut t, &key, &rule, false, &IvCache::default()).unwrap();
        let Item::Entry(_, Value::Str(a)) = &t.docs[0].0[1] else {
            panic!()
        };
        assert!(a.starts_with("ENC[AES256_GCM,"));
        assert_eq!(t.docs[0].get("n_unencrypted"), Some(&Value::Int(1)));
        let mut ivs = IvCache::default();
        let mac2 = decrypt_tree(&mut t, &key, &rule, false, Some(&mut ivs)).unwrap();
        assert_eq!(t, tree());
        assert_eq!(mac1, mac2);
        // Re-encrypting with the recorded IVs reproduces the same ciphertext.
        let mut again = tree();
        encrypt_tree(&env, &mut again, &key, &rule, false, &ivs).unwrap();
        let mut first = tree();
        let env2 = crate::effects::Seeded::new(99, time::macros::datetime!(2026-01-01 0:00 UTC));
        encrypt_tree(&env2, &mut first, &key, &rule, false, &ivs).unwrap();
        assert_eq!(again, first);
    }

    #[test]
    fn moved_value_fails_with_its_path() {
        let env = crate::effects::Seeded::new(3, time::macros::datetime!(2026-01-01 0:00 UTC));
        let rule = Rule::compile(None).unwrap();
        let mut t = tree();
        encrypt_tree(&env, &mut t, &[5u8; 32], &rule, false, &IvCache::default()).unwrap();
        let a = t.docs[0].get("a").unwrap().clone();
        t.docs[0].set("b", a);
        let e = decrypt_tree(&mut t, &[5u8; 32], &rule, false, None).unwrap_err();
        assert!(e.to_string().contains("`b`"), "{e}");
    }

    #[test]
    fn aad_and_rules() {
        assert_eq!(aad(&[]), ":");
        assert_eq!(aad(&["a", "b"]), "a:b:");
        let r = Rule::compile(Some(&CryptRule::EncryptedRegex(
            "^(data|stringData)$".into(),
        )))
        .unwrap();
        assert!(r.encrypts(&["data", "x"]));
        assert!(!r.encrypts(&["metadata", "name"]));
        assert!(Rule::compile(Some(&CryptRule::EncryptedRegex("(".into()))).is_err());
    }
}
