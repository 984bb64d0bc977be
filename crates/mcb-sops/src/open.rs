//! Decryption: the data key from the key groups, every value and the MAC check. YAML
//! files are decrypted while they are parsed (peak memory, issue 21), with the whole-tree
//! walk as the reference every other case falls back to.

use sha2::Digest;
use zeroize::Zeroizing;

use crate::crypt::{self, IvCache};
use crate::metadata::Metadata;
use crate::{
    cipher, compile, keys, load, store, Content, DecryptOptions, Error, Format, Identities, Opened,
    Tree, ValueFault,
};

/// Parses a file and its `sops` metadata (an error when there are none).
pub(crate) fn read_meta(src: &[u8], format: Format) -> Result<(Tree, Metadata), Error> {
    let (tree, meta) = load(src, format)?;
    let meta = meta.ok_or(Error::MetadataNotFound {
        file: Default::default(),
    })?;
    let meta = Metadata::from_branch(&meta).map_err(|e| Error::Metadata {
        file: Default::default(),
        field: e.field,
        message: e.message,
    })?;
    Ok((tree, meta))
}

/// Recovers the data key from the key groups (Shamir when there are several).
fn data_key(meta: &Metadata, ids: &Identities) -> Result<Zeroizing<[u8; 32]>, Error> {
    let tried = || {
        if ids.is_empty() {
            ids.not_found().to_string()
        } else {
            format!(
                "none of the identities from {} is a recipient",
                ids.sources().join(", ")
            )
        }
    };
    let opened: Vec<Zeroizing<Vec<u8>>> = meta
        .key_groups
        .iter()
        .filter_map(|g| g.iter().find_map(|e| keys::unwrap(&e.enc, ids)))
        .collect();
    let secret = if meta.key_groups.len() <= 1 {
        opened.into_iter().next().ok_or_else(|| Error::DataKey {
            file: Default::default(),
            reason: tried(),
        })?
    } else {
        // Shamir needs two shares at least (sops' shamir.Combine refuses one, D5).
        let need = match meta.shamir_threshold {
            0 => meta.key_groups.len(),
            t => t,
        }
        .max(2);
        if opened.len() < need {
            return Err(Error::DataKey {
                file: Default::default(),
                reason: format!(
                    "{} of {} key groups opened, {need} needed; {}",
                    opened.len(),
                    meta.key_groups.len(),
                    tried()
                ),
            });
        }
        keys::shamir_combine(&opened).ok_or_else(|| Error::DataKey {
            file: Default::default(),
            reason: "the key group shares are inconsistent".into(),
        })?
    };
    let key: [u8; 32] = secret[..].try_into().map_err(|_| Error::DataKey {
        file: Default::default(),
        reason: format!("the data key has {} bytes, not 32", secret.len()),
    })?;
    Ok(Zeroizing::new(key))
}

/// Decrypts a file completely: data key, every value, and the MAC check; remembers the IVs
/// so the file can be written back without noise.
pub fn open(
    enc: &[u8],
    format: Format,
    ids: &Identities,
    opts: DecryptOptions,
) -> Result<Opened, Error> {
    open_with(enc, format, ids, opts, true)
}

/// [`open`] for reading only: skips remembering IVs (less memory and work on big files).
pub fn open_for_reading(
    enc: &[u8],
    format: Format,
    ids: &Identities,
    opts: DecryptOptions,
) -> Result<Opened, Error> {
    open_with(enc, format, ids, opts, false)
}

pub(crate) fn open_with(
    enc: &[u8],
    format: Format,
    ids: &Identities,
    opts: DecryptOptions,
    keep_ivs: bool,
) -> Result<Opened, Error> {
    let Decrypted {
        content,
        meta,
        key,
        mut ivs,
        mac,
    } = match open_streaming(enc, format, ids, keep_ivs) {
        Some(d) => d,
        None => open_whole(enc, format, ids, keep_ivs)?,
    };
    let stored = crypt::open_mac(&key, &meta.mac, &meta.lastmodified, Some(&mut ivs));
    if !opts.ignore_mac {
        match stored {
            // sops reports an empty MAC as a mismatch ("File has no MAC").
            Err(_) if meta.mac.is_empty() => {
                return Err(Error::MacMismatch {
                    file: Default::default(),
                })
            }
            Err(crypt::MacFault::WrongType) => {
                return Err(value_error("sops:mac", ValueFault::BadType))
            }
            Err(crypt::MacFault::Unreadable) => {
                return Err(Error::MacUnreadable {
                    file: Default::default(),
                })
            }
            Ok(m) if m != mac => {
                return Err(Error::MacMismatch {
                    file: Default::default(),
                })
            }
            Ok(_) => {}
        }
    }
    Ok(Opened {
        content,
        meta,
        key,
        ivs,
    })
}

/// A file decrypted, before its MAC is checked.
pub(crate) struct Decrypted {
    pub(crate) content: Content,
    pub(crate) meta: Metadata,
    pub(crate) key: Zeroizing<[u8; 32]>,
    pub(crate) ivs: IvCache,
    /// the MAC computed from the plaintext
    pub(crate) mac: String,
}

/// Decrypts each value as the store reads it, so the `ENC[...]` texts of a large file are
/// never all held as a tree next to the text (peak memory; issue 21): the metadata come first
/// from the store's scan (sops writes them last). `None` whenever anything is off - no scan,
/// a key or value that does not open, a comment rule, parsed metadata that differ from the
/// scanned - and [`open_whole`] does it all again, with its errors in its order.
pub(crate) fn open_streaming(
    enc: &[u8],
    format: Format,
    ids: &Identities,
    keep_ivs: bool,
) -> Option<Decrypted> {
    let store = store::for_format(format);
    let meta = Metadata::from_branch(&store.scan_metadata(enc)?).ok()?;
    let key = data_key(&meta, ids).ok()?;
    let rule = compile(meta.rule.as_ref()).ok()?;
    let mut ivs = IvCache::default();
    let mut d = crypt::Decrypter::new(
        &key,
        &rule,
        meta.mac_only_encrypted,
        keep_ivs.then_some(&mut ivs),
    );
    if !d.by_path() {
        return None;
    }
    let (mut tree, parsed, all) = store
        .load_visiting(enc, &mut |path, v| d.value_at(path, v).is_ok())
        .ok()?;
    let same_meta = parsed
        .and_then(|b| Metadata::from_branch(&b).ok())
        .is_some_and(|m| m == meta);
    if !all || !same_meta {
        return None;
    }
    d.comments(&mut tree).ok()?;
    let mac = d.mac();
    Some(Decrypted {
        content: Content::Tree(tree),
        meta,
        key,
        ivs,
        mac,
    })
}

/// Parses the whole file, then decrypts the tree (every format; the reference behaviour).
pub(crate) fn open_whole(
    enc: &[u8],
    format: Format,
    ids: &Identities,
    keep_ivs: bool,
) -> Result<Decrypted, Error> {
    let (mut tree, meta) = read_meta(enc, format)?;
    let key = data_key(&meta, ids)?;
    let mut ivs = IvCache::default();
    let (content, mac) = if format == Format::Binary {
        let value = store::binary::encrypted_value(&tree)
            .ok_or_else(|| value_error(store::binary::KEY, ValueFault::NotEncrypted))?;
        let aad = crypt::aad(&[store::binary::KEY]);
        // An empty file is stored as `"data": ""` (the empty string is never encrypted, D4).
        let plain = if value.is_empty() {
            Zeroizing::new(Vec::new())
        } else {
            let e = cipher::Encrypted::parse(value)
                .ok_or_else(|| value_error(store::binary::KEY, ValueFault::NotEncrypted))?;
            let plain = cipher::open(&key, &e, aad.as_bytes())
                .map_err(|_| value_error(store::binary::KEY, ValueFault::Tampered))?;
            ivs.put(&aad, "str", &plain, &e.iv);
            plain
        };
        let mac = hex::encode_upper(sha2::Sha512::digest(&plain[..]));
        (Content::Bytes(plain), mac)
    } else {
        let rule = compile(meta.rule.as_ref())?;
        let mac = crypt::decrypt_tree(
            &mut tree,
            &key,
            &rule,
            meta.mac_only_encrypted,
            keep_ivs.then_some(&mut ivs),
        )?;
        (Content::Tree(tree), mac)
    };
    Ok(Decrypted {
        content,
        meta,
        key,
        ivs,
        mac,
    })
}

fn value_error(key: &str, fault: ValueFault) -> Error {
    Error::Value {
        file: Default::default(),
        key_path: key.to_owned(),
        fault,
    }
}
