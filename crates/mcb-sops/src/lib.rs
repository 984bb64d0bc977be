//! mcb's SOPS engine: reads and writes files byte-compatible with the Go `sops` (3.11), with
//! age keys. Modelled on getsops/sops: `tree` (ordered document model), `store` (one codec
//! per format), `cipher` (`ENC[AES256_GCM,…]`), `crypt` (tree walk, AAD, MAC), `metadata`,
//! `keys` (age, Shamir), `rules` (`.sops.yaml`). See `docs/sops-format.md` for the format as
//! the real tool writes it.
//!
//! A crate of its own so the layering is the compiler's: it knows nothing of mcb, takes the
//! clock and randomness from its caller ([`Effects`]), never prints, and holds no `unsafe`.
//! Plaintext leaves it only inside `secrecy` types.
//!
//! The facade below is what mcb uses; everything else is detail.
//!
//! Size: the facade, one function per sops operation (open, decrypt, encrypt, reencrypt,
//! updatekeys, rotate, write back, inspect) and the types they share; decryption itself
//! is in `open`.

#![forbid(unsafe_code)]

pub mod cipher;
pub mod crypt;
pub mod effects;
pub mod error;
pub mod keys;
pub mod metadata;
mod open;
pub mod rules;
pub mod scalar;
pub mod store;
pub mod tree;
pub mod treepath;

use secrecy::SecretBox;
use sha2::Digest;
use zeroize::Zeroizing;

use crypt::{IvCache, Rule};
pub use effects::Effects;
pub use error::{Error, ValueFault};
pub use keys::{generate_age_key, AgeKey, Identities};
use metadata::{AgeEntry, Metadata};
pub use open::{open, open_for_reading};
use open::{open_with, read_meta};
pub use tree::{Branch, Item, Tree, Value};

/// A hint for the user: what to change to make the error go away (the `help:` line mcb
/// prints after an error).
pub trait Help {
    /// The hint, if there is one.
    fn help(&self) -> Option<String>;
}

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

    /// The format named as sops' `--input-type` values do (`yaml`, `json`, `dotenv`, `ini`, `binary`).
    pub fn from_name(name: &str) -> Option<Format> {
        Some(match name {
            "yaml" => Format::Yaml,
            "json" => Format::Json,
            "dotenv" => Format::Dotenv,
            "ini" => Format::Ini,
            "binary" => Format::Binary,
            _ => return None,
        })
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

impl EncryptOptions {
    /// Options for these age recipients in one key group, default rules.
    pub fn for_recipients<S: AsRef<str>>(recipients: &[S]) -> Self {
        EncryptOptions {
            key_groups: vec![recipients.iter().map(|r| r.as_ref().to_owned()).collect()],
            ..Default::default()
        }
    }
}

/// How to decrypt.
#[derive(Debug, Clone, Copy, Default)]
pub struct DecryptOptions {
    /// Skip the MAC check. Dangerous: a tampered file decrypts.
    pub ignore_mac: bool,
}

/// Metadata readable without any key (for `mcb check` and listings).
#[derive(Debug, Clone, PartialEq)]
pub struct FileInfo {
    /// Recipients per key group.
    pub recipients: Vec<Vec<String>>,
    /// Shares needed (several groups only).
    pub shamir_threshold: usize,
    /// `sops.lastmodified`
    pub lastmodified: String,
    /// `sops.version`
    pub version: String,
    /// The crypt rule in force (`None`: binary).
    pub rule: Option<CryptRule>,
    /// `mac_only_encrypted`
    pub mac_only_encrypted: bool,
    /// Key paths of values the rule says must be encrypted but are clear (empty: all good).
    pub clear_values: Vec<String>,
}

impl FileInfo {
    /// Whether every value the rule says must be encrypted is.
    pub fn fully_encrypted(&self) -> bool {
        self.clear_values.is_empty()
    }
}

const DEFAULT_SUFFIX: &str = "_unencrypted";

/// The rule a file written with `opts` records.
fn effective_rule(rule: &Option<CryptRule>) -> CryptRule {
    rule.clone()
        .unwrap_or_else(|| CryptRule::UnencryptedSuffix(DEFAULT_SUFFIX.into()))
}

fn compile(rule: Option<&CryptRule>) -> Result<Rule, Error> {
    Rule::compile(rule).map_err(|message| Error::Metadata {
        file: Default::default(),
        field: "crypt rule".into(),
        message,
    })
}

/// A file's content: a tree, or raw bytes (binary store).
#[derive(Clone)]
pub enum Content {
    /// YAML, JSON, dotenv, INI
    Tree(Tree),
    /// the binary store's whole file
    Bytes(Zeroizing<Vec<u8>>),
}

impl Content {
    /// Same content (floats by bits, so NaN equals NaN).
    fn same_as(&self, other: &Content) -> bool {
        match (self, other) {
            (Content::Bytes(a), Content::Bytes(b)) => a == b,
            (Content::Tree(a), Content::Tree(b)) => {
                a.docs.len() == b.docs.len()
                    && a.docs.iter().zip(&b.docs).all(|(x, y)| branch_eq(x, y))
            }
            _ => false,
        }
    }
}

fn branch_eq(a: &Branch, b: &Branch) -> bool {
    a.0.len() == b.0.len()
        && a.0.iter().zip(&b.0).all(|(x, y)| match (x, y) {
            (Item::Entry(k1, v1), Item::Entry(k2, v2)) => k1 == k2 && value_eq(v1, v2),
            (Item::Comment(c1), Item::Comment(c2)) => c1 == c2,
            _ => false,
        })
}

fn value_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits(),
        (Value::Map(x), Value::Map(y)) => branch_eq(x, y),
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| value_eq(p, q))
        }
        _ => a == b,
    }
}

/// A decrypted file with everything needed to write it back without noise.
pub struct Opened {
    /// the plaintext
    pub content: Content,
    /// the metadata as read
    pub meta: Metadata,
    key: Zeroizing<[u8; 32]>,
    ivs: IvCache,
}

fn load(src: &[u8], format: Format) -> Result<(Tree, Option<Branch>), Error> {
    store::for_format(format).load(src)
}

/// Loads a plaintext file (refusing one that already has sops metadata).
pub fn load_plain(plain: &[u8], format: Format) -> Result<Content, Error> {
    if format == Format::Binary {
        return Ok(Content::Bytes(Zeroizing::new(plain.to_vec())));
    }
    let (tree, meta) = load(plain, format)?;
    if meta.is_some() {
        return Err(Error::AlreadyEncrypted {
            file: Default::default(),
        });
    }
    Ok(Content::Tree(tree))
}

/// Emits plaintext content in its format.
pub fn emit_plain(content: &Content, format: Format) -> Result<Vec<u8>, Error> {
    match content {
        Content::Bytes(b) => Ok(b.to_vec()),
        Content::Tree(t) => store::for_format(format).emit(std::borrow::Cow::Borrowed(t), None),
    }
}

/// A value extracted from a tree (`decrypt --extract`) as sops prints it: a string raw, a
/// map as a whole plaintext file, anything else through the output store's `EmitValue`
/// (YAML: a YAML document; JSON: indented JSON; INI: compact JSON; all without a final
/// newline but YAML's; dotenv
/// and binary refuse it, as sops does).
pub fn emit_extracted(v: &Value, format: Format) -> Result<Vec<u8>, Error> {
    match (v, format) {
        (Value::Str(s), _) => Ok(s.as_bytes().to_vec()),
        (Value::Map(b), _) => emit_plain(
            &Content::Tree(Tree {
                docs: vec![b.clone()],
            }),
            format,
        ),
        (_, Format::Yaml) => Ok(store::yaml::emit_value(v, store::YAML_INDENT).into_bytes()),
        (_, Format::Json) => Ok(store::json::value_text(v).into_bytes()),
        (_, Format::Ini) => Ok(store::json::compact_text(v).into_bytes()),
        (_, Format::Dotenv | Format::Binary) => Err(Error::Unsupported {
            file: Default::default(),
            message: "the dotenv and binary stores only print extracted strings".into(),
        }),
    }
}

/// Re-indents emitted text as sops' `--indent N` does: YAML with N spaces per level (0: the
/// default 4), JSON (and the binary envelope) with N spaces instead of each TAB; other
/// formats have no indentation. JSON strings never hold a raw TAB or newline, so only the
/// leading TABs of each line are indentation.
pub fn reindent(text: &[u8], format: Format, indent: usize) -> Result<Vec<u8>, Error> {
    match format {
        Format::Yaml => {
            let tree = store::yaml::parse(store::utf8(text, "YAML")?)
                .map_err(|e| Error::parse("YAML", Some(e.line), e.to_string()))?;
            let step = if indent == 0 {
                store::YAML_INDENT
            } else {
                indent
            };
            Ok(store::yaml::emit(&tree, step).into_bytes())
        }
        Format::Json | Format::Binary => {
            let text = store::utf8(text, "JSON")?;
            let mut out = String::with_capacity(text.len());
            for line in text.split_inclusive('\n') {
                let body = line.trim_start_matches('\t');
                out.extend(std::iter::repeat_n(' ', (line.len() - body.len()) * indent));
                out.push_str(body);
            }
            Ok(out.into_bytes())
        }
        Format::Dotenv | Format::Ini => Ok(text.to_vec()),
    }
}

/// Wraps the data key for the key groups (Shamir shares for several groups).
fn wrap_key(
    env: &dyn Effects,
    key: &[u8; 32],
    groups: &[Vec<String>],
    threshold: usize,
) -> Result<(Vec<Vec<AgeEntry>>, usize), Error> {
    if groups.is_empty() || groups.iter().any(|g| g.is_empty()) {
        return Err(Error::NoRecipients {
            file: Default::default(),
        });
    }
    let wrap_group = |g: &Vec<String>, secret: &[u8]| -> Result<Vec<AgeEntry>, Error> {
        g.iter()
            .map(|r| {
                Ok(AgeEntry {
                    recipient: r.clone(),
                    enc: keys::wrap(r, secret)?,
                })
            })
            .collect()
    };
    if groups.len() == 1 {
        return Ok((vec![wrap_group(&groups[0], key)?], 0));
    }
    if groups.len() > 254 {
        // Shamir shares are numbered by one byte.
        return Err(Error::Unsupported {
            file: Default::default(),
            message: format!("{} key groups; at most 254 are possible", groups.len()),
        });
    }
    let t = threshold_for(threshold, groups.len());
    if t < 2 {
        // sops' shamir.Split refuses a threshold below 2; such a file would open with one
        // key in mcb and not at all in sops (D5).
        return Err(Error::Unsupported {
            file: Default::default(),
            message: format!(
                "{} key groups with shamir_threshold {t}: Shamir needs a threshold of at least 2",
                groups.len()
            ),
        });
    }
    let shares = keys::shamir_split(env, key, groups.len(), t);
    let wrapped = groups
        .iter()
        .zip(&shares)
        .map(|(g, s)| wrap_group(g, s))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((wrapped, t))
}

/// The Shamir threshold written for `groups` key groups (0 means all).
fn threshold_for(threshold: usize, groups: usize) -> usize {
    match threshold {
        0 => groups,
        t => t.min(groups),
    }
}

fn now_text(env: &dyn Effects) -> String {
    env.now()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("a UTC time formats as RFC 3339")
}

/// Encrypts content under `meta`'s rule with `key`, sets a new lastmodified and MAC, emits.
fn seal(
    env: &dyn Effects,
    content: &Content,
    format: Format,
    key: &[u8; 32],
    mut meta: Metadata,
    ivs: &IvCache,
    lastmodified: String,
) -> Result<Vec<u8>, Error> {
    let (tree, mac) = match content {
        Content::Bytes(b) => {
            let aad = crypt::aad(&[store::binary::KEY]);
            let iv = ivs_get_or_new(env, ivs, &aad, b);
            let enc = if b.is_empty() {
                String::new()
            } else {
                cipher::seal(key, &iv, b, aad.as_bytes(), "str").to_string()
            };
            meta.rule = None;
            meta.mac_only_encrypted = false;
            (
                store::binary::envelope(enc),
                hex::encode_upper(sha2::Sha512::digest(&b[..])),
            )
        }
        Content::Tree(t) => {
            let mut t = t.clone();
            let rule = compile(meta.rule.as_ref())?;
            let mac = crypt::encrypt_tree(env, &mut t, key, &rule, meta.mac_only_encrypted, ivs)?;
            (t, mac)
        }
    };
    meta.mac = crypt::seal_mac(env, key, &mac, &lastmodified, ivs);
    meta.lastmodified = lastmodified;
    store::for_format(format).emit(std::borrow::Cow::Owned(tree), Some(&meta.to_branch()))
}

fn ivs_get_or_new(
    env: &dyn Effects,
    ivs: &IvCache,
    aad: &str,
    plain: &[u8],
) -> [u8; cipher::IV_LEN] {
    ivs.get_iv(aad, "str", plain)
        .unwrap_or_else(|| env.random_bytes())
}

fn new_meta(
    opts: &EncryptOptions,
    format: Format,
    key_groups: Vec<Vec<AgeEntry>>,
    threshold: usize,
) -> Metadata {
    Metadata {
        key_groups,
        shamir_threshold: threshold,
        lastmodified: String::new(),
        mac: String::new(),
        rule: (format != Format::Binary).then(|| effective_rule(&opts.rule)),
        mac_only_encrypted: opts.mac_only_encrypted && format != Format::Binary,
        version: metadata::VERSION.into(),
    }
}

/// Encrypts a plaintext file.
pub fn encrypt(
    env: &dyn Effects,
    plain: &[u8],
    format: Format,
    opts: &EncryptOptions,
) -> Result<Vec<u8>, Error> {
    let content = load_plain(plain, format)?;
    encrypt_content(env, &content, format, opts)
}

/// Encrypts already-loaded content (a fresh data key).
pub fn encrypt_content(
    env: &dyn Effects,
    content: &Content,
    format: Format,
    opts: &EncryptOptions,
) -> Result<Vec<u8>, Error> {
    let key = Zeroizing::new(env.random_bytes::<32>());
    let (groups, t) = wrap_key(env, &key, &opts.key_groups, opts.shamir_threshold)?;
    let meta = new_meta(opts, format, groups, t);
    seal(
        env,
        content,
        format,
        &key,
        meta,
        &IvCache::default(),
        now_text(env),
    )
}

/// Decrypts a file to its plaintext bytes (emitted in the same format).
pub fn decrypt(
    enc: &[u8],
    format: Format,
    ids: &Identities,
    opts: DecryptOptions,
) -> Result<SecretBox<Vec<u8>>, Error> {
    let opened = open_with(enc, format, ids, opts, false)?;
    Ok(SecretBox::new(Box::new(emit_plain(
        &opened.content,
        format,
    )?)))
}

/// Re-encrypt `new_plain` over an existing encrypted file: same bytes if plaintext unchanged
/// AND the recipients/rule in `opts` match the file; otherwise reuse data key + IVs of unchanged
/// values (new lastmodified + MAC); re-wrap if recipients changed.
pub fn reencrypt(
    env: &dyn Effects,
    existing: &[u8],
    new_plain: &[u8],
    format: Format,
    ids: &Identities,
    opts: &EncryptOptions,
) -> Result<Vec<u8>, Error> {
    let content = load_plain(new_plain, format)?;
    reencrypt_content(env, existing, &content, format, ids, opts)
}

/// [`reencrypt`] for already-loaded content.
pub fn reencrypt_content(
    env: &dyn Effects,
    existing: &[u8],
    content: &Content,
    format: Format,
    ids: &Identities,
    opts: &EncryptOptions,
) -> Result<Vec<u8>, Error> {
    let opened = open(existing, format, ids, DecryptOptions::default())?;
    let wanted = new_meta(opts, format, Vec::new(), 0);
    let same_rules = opened.meta.rule == wanted.rule
        && opened.meta.mac_only_encrypted == wanted.mac_only_encrypted;
    let same_keys = opened.meta.recipients() == opts.key_groups
        && (opts.key_groups.len() <= 1
            || opened.meta.shamir_threshold
                == threshold_for(opts.shamir_threshold, opts.key_groups.len()));
    let same_content = opened.content.same_as(content);
    if same_content && same_rules && same_keys {
        return Ok(existing.to_vec());
    }
    if same_content && same_rules {
        return rewrap(env, existing, format, &opened, opts);
    }
    let mut meta = opened.meta.clone();
    meta.rule = wanted.rule;
    meta.mac_only_encrypted = wanted.mac_only_encrypted;
    meta.version = metadata::VERSION.into();
    if !same_keys {
        let (groups, t) = wrap_key(env, &opened.key, &opts.key_groups, opts.shamir_threshold)?;
        meta.key_groups = groups;
        meta.shamir_threshold = t;
    }
    seal(
        env,
        content,
        format,
        &opened.key,
        meta,
        &opened.ivs,
        now_text(env),
    )
}

/// Re-wraps the data key for new key groups; values, lastmodified and MAC stay as they are.
fn rewrap(
    env: &dyn Effects,
    enc: &[u8],
    format: Format,
    opened: &Opened,
    opts: &EncryptOptions,
) -> Result<Vec<u8>, Error> {
    let (tree, _) = load(enc, format)?;
    let threshold = match opts.shamir_threshold {
        0 => opened.meta.shamir_threshold,
        t => t,
    };
    let (groups, t) = wrap_key(env, &opened.key, &opts.key_groups, threshold)?;
    let mut meta = opened.meta.clone();
    meta.key_groups = groups;
    meta.shamir_threshold = t;
    store::for_format(format).emit(std::borrow::Cow::Owned(tree), Some(&meta.to_branch()))
}

/// Re-wraps the file's data key for the recipients in `opts` (sops `updatekeys`): values,
/// `lastmodified` and MAC unchanged.
pub fn updatekeys(
    env: &dyn Effects,
    enc: &[u8],
    format: Format,
    ids: &Identities,
    opts: &EncryptOptions,
) -> Result<Vec<u8>, Error> {
    let opened = open(enc, format, ids, DecryptOptions::default())?;
    rewrap(env, enc, format, &opened, opts)
}

/// A new data key (sops `rotate`): every value re-encrypted (same IVs), new lastmodified,
/// same recipients.
pub fn rotate_data_key(
    env: &dyn Effects,
    enc: &[u8],
    format: Format,
    ids: &Identities,
) -> Result<Vec<u8>, Error> {
    rotate_with(env, enc, format, ids, &[], &[])
}

/// [`rotate_data_key`], adding recipients to the first group and removing others everywhere.
pub fn rotate_with(
    env: &dyn Effects,
    enc: &[u8],
    format: Format,
    ids: &Identities,
    add: &[String],
    remove: &[String],
) -> Result<Vec<u8>, Error> {
    let opened = open(enc, format, ids, DecryptOptions::default())?;
    let mut groups = opened.meta.recipients();
    if let Some(first) = groups.first_mut() {
        first.extend(
            add.iter()
                .filter(|r| !first.contains(r))
                .cloned()
                .collect::<Vec<_>>(),
        );
    }
    for g in &mut groups {
        g.retain(|r| !remove.contains(r));
    }
    let key = Zeroizing::new(env.random_bytes::<32>());
    let (key_groups, t) = wrap_key(env, &key, &groups, opened.meta.shamir_threshold)?;
    let mut meta = opened.meta.clone();
    meta.key_groups = key_groups;
    meta.shamir_threshold = t;
    seal(
        env,
        &opened.content,
        format,
        &key,
        meta,
        &opened.ivs,
        now_text(env),
    )
}

/// Writes changed content back under the file's own metadata, data key and IVs (sops
/// `set`/`unset`/`edit`): unchanged values keep their ciphertext; same bytes if nothing changed.
pub fn write_back(
    env: &dyn Effects,
    existing: &[u8],
    opened: &Opened,
    content: &Content,
    format: Format,
) -> Result<Vec<u8>, Error> {
    if opened.content.same_as(content) {
        return Ok(existing.to_vec());
    }
    seal(
        env,
        content,
        format,
        &opened.key,
        opened.meta.clone(),
        &opened.ivs,
        now_text(env),
    )
}

/// Metadata without any key: recipients per group, lastmodified, version, crypt rule, and
/// whether every value that the rule says must be encrypted is an ENC[] (for `mcb check`).
pub fn inspect(enc: &[u8], format: Format) -> Result<FileInfo, Error> {
    let (tree, meta) = read_meta(enc, format)?;
    let clear_values = if format == Format::Binary {
        match store::binary::encrypted_value(&tree) {
            Some(v) if cipher::Encrypted::is_encrypted(v) => vec![],
            _ => vec![store::binary::KEY.to_owned()],
        }
    } else {
        crypt::clear_but_should_be(tree, &compile(meta.rule.as_ref())?)
    };
    Ok(FileInfo {
        recipients: meta.recipients(),
        shamir_threshold: meta.shamir_threshold,
        lastmodified: meta.lastmodified,
        version: meta.version,
        rule: meta.rule,
        mac_only_encrypted: meta.mac_only_encrypted,
        clear_values,
    })
}

#[cfg(test)]
mod facade_tests;
