//! The value cipher: AES-256-GCM with sops' 32-byte nonce, and the
//! `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]` text form. Knows nothing of trees or keys.

use aes_gcm::aead::consts::U32;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::aes::Aes256;
use aes_gcm::{AesGcm, Nonce};
use base64::engine::{GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use zeroize::Zeroizing;

/// AES-256-GCM with the 32-byte nonce Go's `NewGCMWithNonceSize(32)` uses.
type Gcm = AesGcm<Aes256, U32>;

/// Standard base64 with padding; like Go's decoder, non-zero trailing bits are accepted.
const B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
);

/// Length of sops' IV (GCM nonce).
pub const IV_LEN: usize = 32;
const TAG_LEN: usize = 16;

/// A parsed `ENC[...]` string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encrypted {
    /// ciphertext without the tag
    pub data: Vec<u8>,
    /// the nonce (32 bytes when written by sops or mcb)
    pub iv: Vec<u8>,
    /// the GCM tag
    pub tag: Vec<u8>,
    /// the scalar type (`str`, `int`, …)
    pub ty: String,
}

/// Why a value could not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenError {
    /// the text is not `ENC[AES256_GCM,…]`
    NotEncrypted,
    /// authentication failed (wrong key, tampered data, or a value moved to another key)
    Auth,
}

impl Encrypted {
    /// Parses `ENC[AES256_GCM,data:..,iv:..,tag:..,type:..]`; `None` if the text is not one.
    pub fn parse(s: &str) -> Option<Encrypted> {
        let inner = s.strip_prefix("ENC[AES256_GCM,")?.strip_suffix(']')?;
        let mut parts = inner.splitn(4, ',');
        let mut field = |name: &str| parts.next()?.strip_prefix(name);
        let data = field("data:")?;
        let iv = field("iv:")?;
        let tag = field("tag:")?;
        let ty = field("type:")?;
        // sops' regex needs non-empty data; the empty string is never encrypted.
        if data.is_empty() || iv.is_empty() || tag.is_empty() || ty.is_empty() {
            return None;
        }
        Some(Encrypted {
            data: B64.decode(data).ok()?,
            iv: B64.decode(iv).ok()?,
            tag: B64.decode(tag).ok()?,
            ty: ty.to_owned(),
        })
    }

    /// Whether a string looks like an encrypted value.
    pub fn is_encrypted(s: &str) -> bool {
        s.starts_with("ENC[AES256_GCM,") && s.ends_with(']')
    }
}

impl std::fmt::Display for Encrypted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ENC[AES256_GCM,data:{},iv:{},tag:{},type:{}]",
            B64.encode(&self.data),
            B64.encode(&self.iv),
            B64.encode(&self.tag),
            self.ty
        )
    }
}

/// Encrypts `plain` under the data key with the given IV and AAD.
pub fn seal(key: &[u8; 32], iv: &[u8; IV_LEN], plain: &[u8], aad: &[u8], ty: &str) -> Encrypted {
    let gcm = Gcm::new_from_slice(key).expect("32-byte key");
    let mut out = gcm
        .encrypt(Nonce::<U32>::from_slice(iv), Payload { msg: plain, aad })
        .expect("AES-GCM encryption of an in-memory buffer cannot fail");
    let tag = out.split_off(out.len() - TAG_LEN);
    Encrypted {
        data: out,
        iv: iv.to_vec(),
        tag,
        ty: ty.to_owned(),
    }
}

/// Opens an encrypted value; the plaintext is zeroized when dropped.
pub fn open(key: &[u8; 32], enc: &Encrypted, aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, OpenError> {
    // Only 32-byte nonces are produced by sops; other lengths would need another GCM type.
    if enc.iv.len() != IV_LEN || enc.tag.len() != TAG_LEN {
        return Err(OpenError::Auth);
    }
    let gcm = Gcm::new_from_slice(key).expect("32-byte key");
    let mut msg = Vec::with_capacity(enc.data.len() + TAG_LEN);
    msg.extend_from_slice(&enc.data);
    msg.extend_from_slice(&enc.tag);
    gcm.decrypt(
        Nonce::<U32>::from_slice(&enc.iv),
        Payload { msg: &msg, aad },
    )
    .map(Zeroizing::new)
    .map_err(|_| OpenError::Auth)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_aad_binds() {
        let key = [7u8; 32];
        let iv = [9u8; 32];
        let e = seal(&key, &iv, b"hello", b"a:b:", "str");
        let text = e.to_string();
        let back = Encrypted::parse(&text).unwrap();
        assert_eq!(back, e);
        assert_eq!(&open(&key, &back, b"a:b:").unwrap()[..], b"hello");
        assert_eq!(open(&key, &back, b"a:c:"), Err(OpenError::Auth));
        assert_eq!(open(&[8u8; 32], &back, b"a:b:"), Err(OpenError::Auth));
    }

    #[test]
    fn parse_rejects_non_enc() {
        for s in [
            "x",
            "ENC[AES256_GCM,data:,iv:AA==,tag:AA==,type:str]",
            "ENC[AES256_GCM,data:!!,iv:AA==,tag:AA==,type:str]",
        ] {
            assert_eq!(Encrypted::parse(s), None, "{s}");
        }
    }
}
