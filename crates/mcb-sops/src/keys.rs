//! age keys for sops: generating a key (from [`crate::Effects`] randomness), loading identities
//! from the places sops looks, wrapping the data key for recipients (armored age files) and
//! opening it again, and the Shamir split sops uses for several key groups. Never prints and
//! never logs key material.
//!
//! Size: age keys end to end (generate, find, parse, wrap, unwrap) and the Shamir split the
//! wrapping uses; each part is short and they share the key types.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use crate::Effects;

/// Age identities that can open data keys, where they came from and where the lookup found
/// nothing (both for error messages).
pub struct Identities {
    ids: Vec<Box<dyn age::Identity + Send + Sync>>,
    sources: Vec<String>,
    /// places looked at that gave nothing (`SOPS_AGE_KEY (not set)`)
    empty_places: Vec<String>,
    /// the X25519 identities as text, for handing one on (bootstrap's `sops-age` Secret)
    x25519: Vec<X25519>,
}

/// One `AGE-SECRET-KEY-1…` identity: its recipient and its text.
pub struct X25519 {
    /// `age1…`
    pub recipient: String,
    /// the `AGE-SECRET-KEY-1…` line
    pub identity: SecretString,
}

impl std::fmt::Debug for Identities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identities")
            .field("count", &self.ids.len())
            .field("sources", &self.sources)
            .finish()
    }
}

/// Why identities could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// A key source could not be read.
    #[error("cannot read age identities from {source_name}: {reason}")]
    Source {
        /// e.g. `SOPS_AGE_KEY_FILE=/x/keys.txt`
        source_name: String,
        /// why (never key material)
        reason: String,
    },
    /// No place looked at held an identity.
    #[error("no age identity found{}", looked(looked_at))]
    NotFound {
        /// every place, with why it gave nothing
        looked_at: Vec<String>,
    },
    /// A recipient string is not an age or SSH public key.
    #[error("`{recipient}` is not an age recipient (age1…) or an ssh-ed25519/ssh-rsa public key")]
    Recipient {
        /// the bad recipient (public, safe to show)
        recipient: String,
    },
}

impl Identities {
    /// No identities.
    pub fn empty() -> Self {
        Identities {
            ids: Vec::new(),
            sources: Vec::new(),
            empty_places: Vec::new(),
            x25519: Vec::new(),
        }
    }

    /// Parses identity text: `AGE-SECRET-KEY-1…` lines (`#` and blank lines skipped) or an
    /// unencrypted OpenSSH ed25519/RSA private key.
    pub fn from_text(text: &SecretString) -> Result<Self, super::Error> {
        let mut ids = Identities::empty();
        ids.add_text("identity text", text.expose_secret())?;
        Ok(ids)
    }

    /// Every identity sops would use, in sops' order, plus the key files of the
    /// application (`app_files`, e.g. mcb's per-installation keys) before sops' default:
    /// an explicit key file first, then `SOPS_AGE_KEY`, `SOPS_AGE_KEY_FILE`,
    /// `SOPS_AGE_KEY_CMD`, `app_files` that exist, the default
    /// `$XDG_CONFIG_HOME/sops/age/keys.txt` (or `~/.config/…`), and SSH keys
    /// (`SOPS_AGE_SSH_PRIVATE_KEY_FILE`, else `~/.ssh/id_ed25519`). A source that is set
    /// but unreadable or malformed is an error naming it; the places that gave nothing are
    /// kept for [`KeyError::NotFound`].
    pub fn lookup(
        explicit_file: Option<&Path>,
        app_files: &[PathBuf],
    ) -> Result<Self, super::Error> {
        Self::lookup_inner(explicit_file, app_files).map_err(super::Error::from)
    }

    fn lookup_inner(explicit_file: Option<&Path>, app_files: &[PathBuf]) -> Result<Self, KeyError> {
        let mut ids = Identities::empty();
        match explicit_file {
            Some(p) => ids.add_file(&format!("--age-key-file {}", p.display()), p)?,
            None => ids.nothing("--age-key-file (not given)".into()),
        }
        match std::env::var("SOPS_AGE_KEY") {
            Ok(k) => ids.add_text("SOPS_AGE_KEY", &Zeroizing::new(k))?,
            Err(_) => ids.nothing("SOPS_AGE_KEY (not set)".into()),
        }
        match std::env::var_os("SOPS_AGE_KEY_FILE") {
            Some(p) => {
                let p = PathBuf::from(p);
                ids.add_file(&format!("SOPS_AGE_KEY_FILE={}", p.display()), &p)?;
            }
            None => ids.nothing("SOPS_AGE_KEY_FILE (not set)".into()),
        }
        match std::env::var("SOPS_AGE_KEY_CMD") {
            Ok(cmd) => ids.add_text(KEY_CMD, &run_key_cmd(&cmd)?)?,
            Err(_) => ids.nothing(format!("{KEY_CMD} (not set)")),
        }
        for p in app_files {
            ids.add_file_if_present(p)?;
        }
        let config = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .or_else(|| dirs::home_dir().map(|h| h.join(".config")));
        if let Some(p) = config.map(|c| c.join("sops/age/keys.txt")) {
            ids.add_file_if_present(&p)?;
        }
        if let Some(p) = std::env::var_os("SOPS_AGE_SSH_PRIVATE_KEY_FILE") {
            let p = PathBuf::from(p);
            ids.add_file(
                &format!("SOPS_AGE_SSH_PRIVATE_KEY_FILE={}", p.display()),
                &p,
            )?;
        } else if let Some(p) = dirs::home_dir().map(|h| h.join(".ssh/id_ed25519")) {
            // A default SSH key that is not usable (passphrase) is skipped, as sops does.
            if p.is_file() {
                let _ = ids.add_file(&p.display().to_string(), &p);
            } else {
                ids.nothing(format!("{} (no such file)", p.display()));
            }
        }
        Ok(ids)
    }

    /// This set, or [`KeyError::NotFound`] listing every place looked at when it is empty.
    pub fn require(self) -> Result<Self, super::Error> {
        if self.is_empty() {
            return Err(self.not_found().into());
        }
        Ok(self)
    }

    /// The error for "nothing found", listing the places looked at.
    pub fn not_found(&self) -> KeyError {
        KeyError::NotFound {
            looked_at: self.empty_places.clone(),
        }
    }

    /// The X25519 identities whose recipient is one of `recipients`, each once, in lookup
    /// order.
    pub fn x25519_for(&self, recipients: &[String]) -> Vec<&X25519> {
        let mut seen = std::collections::BTreeSet::new();
        self.x25519
            .iter()
            .filter(|k| recipients.contains(&k.recipient) && seen.insert(k.recipient.clone()))
            .collect()
    }

    /// The recipients of every X25519 identity found, each once.
    pub fn x25519_recipients(&self) -> Vec<String> {
        let mut r: Vec<String> = self.x25519.iter().map(|k| k.recipient.clone()).collect();
        r.sort();
        r.dedup();
        r
    }

    fn nothing(&mut self, place: String) {
        self.empty_places.push(place);
    }

    fn add_file_if_present(&mut self, p: &Path) -> Result<(), KeyError> {
        if p.is_file() {
            self.add_file(&p.display().to_string(), p)
        } else {
            self.nothing(format!("{} (no such file)", p.display()));
            Ok(())
        }
    }

    /// Whether no identity was found.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Where the identities came from (names only), for "no key" messages.
    pub fn sources(&self) -> &[String] {
        &self.sources
    }

    fn add_file(&mut self, name: &str, path: &Path) -> Result<(), KeyError> {
        let text = std::fs::read_to_string(path)
            .map(Zeroizing::new)
            .map_err(|e| source_err(name, e.to_string()))?;
        self.add_text(name, &text)
    }

    fn add_text(&mut self, name: &str, text: &str) -> Result<(), KeyError> {
        let before = self.ids.len();
        self.parse_text(name, text)?;
        if self.ids.len() == before {
            self.nothing(format!("{name} (holds no identity)"));
        } else {
            self.sources.push(name.to_owned());
        }
        Ok(())
    }

    fn parse_text(&mut self, name: &str, text: &str) -> Result<(), KeyError> {
        if text.contains("-----BEGIN OPENSSH PRIVATE KEY-----")
            || text.contains("-----BEGIN RSA PRIVATE KEY-----")
        {
            let id = age::ssh::Identity::from_buffer(text.as_bytes(), Some(name.to_owned()))
                .map_err(|e| source_err(name, e.to_string()))?;
            if !matches!(id, age::ssh::Identity::Unencrypted(_)) {
                return Err(source_err(
                    name,
                    "passphrase-protected or unsupported SSH key".into(),
                ));
            }
            self.ids.push(Box::new(id));
        } else {
            // Be lenient with indentation (age's parser rejects padded lines).
            let cleaned =
                Zeroizing::new(text.lines().map(str::trim).collect::<Vec<_>>().join("\n"));
            let file = age::IdentityFile::from_buffer(cleaned.as_bytes())
                .map_err(|e| source_err(name, e.to_string()))?;
            let mut found = file
                .into_identities()
                .map_err(|e| source_err(name, e.to_string()))?;
            self.ids.append(&mut found);
            self.x25519.extend(cleaned.lines().filter_map(|l| {
                let identity = SecretString::from(l.to_owned());
                recipient_of(&identity).map(|recipient| X25519 {
                    recipient,
                    identity,
                })
            }));
        }
        Ok(())
    }

    fn as_dyn(&self) -> impl Iterator<Item = &dyn age::Identity> {
        self.ids.iter().map(|i| i.as_ref() as &dyn age::Identity)
    }
}

/// Named without its text: the command line may hold a key or a token (issue 21 D11).
const KEY_CMD: &str = "SOPS_AGE_KEY_CMD";

/// Runs `SOPS_AGE_KEY_CMD` as sops does: split into words like a POSIX shell (no shell
/// runs it, so no pipes or `;`), stdout is the identity text, stderr is not shown (it may
/// echo the command). No error repeats the command's text.
fn run_key_cmd(cmd: &str) -> Result<Zeroizing<String>, KeyError> {
    let words = shlex::split(cmd).filter(|w| !w.is_empty()).ok_or_else(|| {
        source_err(
            KEY_CMD,
            "cannot split the command into words (unbalanced quotes?)".into(),
        )
    })?;
    let out = std::process::Command::new(&words[0])
        .args(&words[1..])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .map_err(|e| source_err(KEY_CMD, format!("cannot run the command ({})", e.kind())))?;
    let text = Zeroizing::new(String::from_utf8(out.stdout).unwrap_or_default());
    if !out.status.success() {
        return Err(source_err(
            KEY_CMD,
            format!("the command failed ({})", out.status),
        ));
    }
    Ok(text)
}

/// `; looked at: A, B` (nothing when no lookup ran).
fn looked(places: &[String]) -> String {
    if places.is_empty() {
        String::new()
    } else {
        format!("; looked at: {}", places.join(", "))
    }
}

fn source_err(name: &str, reason: String) -> KeyError {
    KeyError::Source {
        source_name: name.to_owned(),
        reason,
    }
}

/// A freshly generated age key: the identity (secret) and its recipient (public).
pub struct AgeKey {
    /// `AGE-SECRET-KEY-1…`
    pub identity: SecretString,
    /// `age1…`
    pub recipient: String,
}

/// Generates an age X25519 key from the env's randomness (reproducible under a test seed).
pub fn generate_age_key(env: &dyn Effects) -> AgeKey {
    let secret = Zeroizing::new(env.random_bytes::<32>());
    let text = SecretString::from(bech32_encode("age-secret-key-", &secret[..]).to_uppercase());
    let id = age::x25519::Identity::from_str(text.expose_secret())
        .expect("a bech32-encoded 32-byte key is a valid identity");
    AgeKey {
        recipient: id.to_public().to_string(),
        identity: text,
    }
}

/// The public recipient of an `AGE-SECRET-KEY-1…` identity, if it is one.
pub fn recipient_of(identity: &SecretString) -> Option<String> {
    age::x25519::Identity::from_str(identity.expose_secret().trim())
        .ok()
        .map(|i| i.to_public().to_string())
}

/// Checks that a recipient string is a usable age or SSH public key.
pub fn parse_recipient(r: &str) -> Result<Box<dyn age::Recipient + Send>, KeyError> {
    let bad = || KeyError::Recipient {
        recipient: r.to_owned(),
    };
    if r.starts_with("age1") {
        age::x25519::Recipient::from_str(r)
            .map(|x| Box::new(x) as Box<dyn age::Recipient + Send>)
            .map_err(|_| bad())
    } else if r.starts_with("ssh-") {
        age::ssh::Recipient::from_str(r)
            .map(|x| Box::new(x) as Box<dyn age::Recipient + Send>)
            .map_err(|_| bad())
    } else {
        Err(bad())
    }
}

/// Encrypts `secret` to one recipient as an armored age file (sops' `enc` field).
pub fn wrap(recipient: &str, secret: &[u8]) -> Result<String, KeyError> {
    let r = parse_recipient(recipient)?;
    let enc = age::Encryptor::with_recipients(std::iter::once(r.as_ref() as &dyn age::Recipient))
        .map_err(|_| KeyError::Recipient {
        recipient: recipient.to_owned(),
    })?;
    let mut out = Vec::new();
    let armor = age::armor::ArmoredWriter::wrap_output(&mut out, age::armor::Format::AsciiArmor)
        .expect("writing to memory");
    let mut w = enc.wrap_output(armor).expect("writing to memory");
    w.write_all(secret).expect("writing to memory");
    w.finish()
        .and_then(|a| a.finish())
        .expect("writing to memory");
    Ok(String::from_utf8(out).expect("armor is ASCII"))
}

/// Opens an armored age file with any of the identities; `None` if none fits or it is damaged.
pub fn unwrap(enc: &str, ids: &Identities) -> Option<Zeroizing<Vec<u8>>> {
    if ids.is_empty() {
        return None;
    }
    let reader = age::armor::ArmoredReader::new(enc.trim_start().as_bytes());
    let dec = age::Decryptor::new_buffered(std::io::BufReader::new(reader)).ok()?;
    let mut r = dec.decrypt(ids.as_dyn()).ok()?;
    let mut out = Zeroizing::new(Vec::new());
    r.read_to_end(&mut out).ok()?;
    Some(out)
}

// --- Shamir over GF(2^8) with the AES polynomial, byte-compatible with sops' shamir package.

fn gf_mul(mut a: u8, mut b: u8) -> u8 {
    let mut p = 0u8;
    while b != 0 {
        if b & 1 != 0 {
            p ^= a;
        }
        let hi = a & 0x80;
        a <<= 1;
        if hi != 0 {
            a ^= 0x1B;
        }
        b >>= 1;
    }
    p
}

fn gf_inv(a: u8) -> u8 {
    // a^254 = a^-1 in GF(2^8).
    let mut r = 1u8;
    for _ in 0..254 {
        r = gf_mul(r, a);
    }
    r
}

/// Splits `secret` into `parts` shares, any `threshold` of which recover it. Share `i` is
/// the polynomial values followed by its x coordinate `i + 1`.
pub fn shamir_split(
    env: &dyn Effects,
    secret: &[u8],
    parts: usize,
    threshold: usize,
) -> Vec<Zeroizing<Vec<u8>>> {
    assert!(parts >= threshold && threshold >= 1 && parts < 255);
    let mut shares: Vec<Zeroizing<Vec<u8>>> = (0..parts)
        .map(|_| Zeroizing::new(Vec::with_capacity(secret.len() + 1)))
        .collect();
    let mut coeffs = Zeroizing::new(vec![0u8; threshold]);
    for &byte in secret {
        coeffs[0] = byte;
        for c in coeffs.iter_mut().skip(1) {
            *c = env.random_bytes::<1>()[0];
        }
        for (i, share) in shares.iter_mut().enumerate() {
            let x = (i + 1) as u8;
            // Horner's rule.
            let y = coeffs.iter().rev().fold(0u8, |acc, &c| gf_mul(acc, x) ^ c);
            share.push(y);
        }
    }
    for (i, share) in shares.iter_mut().enumerate() {
        share.push((i + 1) as u8);
    }
    shares
}

/// Recovers the secret from shares (each `values ‖ x`); `None` if they are inconsistent.
pub fn shamir_combine(shares: &[Zeroizing<Vec<u8>>]) -> Option<Zeroizing<Vec<u8>>> {
    let len = shares.first()?.len();
    if len < 2 || shares.iter().any(|s| s.len() != len) {
        return None;
    }
    let xs: Vec<u8> = shares.iter().map(|s| s[len - 1]).collect();
    let mut distinct = xs.clone();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() != xs.len() {
        return None;
    }
    let mut out = Zeroizing::new(Vec::with_capacity(len - 1));
    for b in 0..len - 1 {
        let mut acc = 0u8;
        for (i, s) in shares.iter().enumerate() {
            let mut basis = 1u8;
            for (j, &xj) in xs.iter().enumerate() {
                if i != j {
                    basis = gf_mul(basis, gf_mul(xj, gf_inv(xj ^ xs[i])));
                }
            }
            acc ^= gf_mul(s[b], basis);
        }
        out.push(acc);
    }
    Some(out)
}

fn bech32_encode(hrp: &str, data: &[u8]) -> String {
    const CHARSET: &[u8] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";
    let mut five = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in data {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            five.push(((acc >> bits) & 31) as u8);
        }
    }
    if bits > 0 {
        five.push(((acc << (5 - bits)) & 31) as u8);
    }
    let polymod = |values: &[u8]| {
        const GEN: [u32; 5] = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
        let mut chk = 1u32;
        for &v in values {
            let top = chk >> 25;
            chk = ((chk & 0x1ffffff) << 5) ^ u32::from(v);
            for (i, g) in GEN.iter().enumerate() {
                if (top >> i) & 1 == 1 {
                    chk ^= g;
                }
            }
        }
        chk
    };
    let mut values: Vec<u8> = hrp.bytes().map(|c| c >> 5).collect();
    values.push(0);
    values.extend(hrp.bytes().map(|c| c & 31));
    values.extend(&five);
    values.extend([0u8; 6]);
    let m = polymod(&values) ^ 1;
    let mut s = String::from(hrp);
    s.push('1');
    for &v in &five {
        s.push(CHARSET[v as usize] as char);
    }
    for i in 0..6 {
        s.push(CHARSET[((m >> (5 * (5 - i))) & 31) as usize] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> crate::effects::Seeded {
        crate::effects::Seeded::new(1, time::macros::datetime!(2026-01-01 0:00 UTC))
    }

    #[test]
    fn generated_key_is_reproducible_and_wraps() {
        let a = generate_age_key(&env());
        let b = generate_age_key(&env());
        assert_eq!(a.recipient, b.recipient);
        assert!(a.recipient.starts_with("age1"));
        assert!(a.identity.expose_secret().starts_with("AGE-SECRET-KEY-1"));
        assert_eq!(
            recipient_of(&a.identity).as_deref(),
            Some(a.recipient.as_str())
        );
        let enc = wrap(&a.recipient, b"0123456789abcdef0123456789abcdef").unwrap();
        assert!(enc.starts_with("-----BEGIN AGE ENCRYPTED FILE-----\n"));
        let ids = Identities::from_text(&a.identity).unwrap();
        assert_eq!(
            &unwrap(&enc, &ids).unwrap()[..],
            b"0123456789abcdef0123456789abcdef"
        );
        let other = Identities::from_text(
            &generate_age_key(&crate::effects::Seeded::new(
                2,
                time::macros::datetime!(2026-01-01 0:00 UTC),
            ))
            .identity,
        )
        .unwrap();
        assert!(unwrap(&enc, &other).is_none());
    }

    #[test]
    fn shamir_any_threshold_subset_recovers() {
        let secret = *b"0123456789abcdef0123456789abcdef";
        let shares = shamir_split(&env(), &secret, 3, 2);
        assert!(shares.iter().all(|s| s.len() == 33));
        for pair in [[0, 1], [1, 2], [0, 2]] {
            let sub: Vec<_> = pair.iter().map(|&i| shares[i].clone()).collect();
            assert_eq!(&shamir_combine(&sub).unwrap()[..], &secret);
        }
        assert_ne!(&shamir_combine(&shares[..1]).unwrap()[..], &secret);
    }

    #[test]
    fn bad_recipient_is_named() {
        let e = parse_recipient("age1nope").err().unwrap();
        assert!(e.to_string().contains("age1nope"));
    }
}
