//! Private keys: generated from `Env`'s generator (so seeded runs repeat), read from any of
//! the PEM forms kubeadm and Cluster API accept, written in the form kubeadm writes.
//! Key bytes live only in `Zeroizing` buffers or `SecretString`s.
//!
//! Size: one concept, private keys in every algorithm and PEM form kubeadm and Cluster API
//! use (generate, parse, write); the tests are in `key/tests.rs`.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};

use num_bigint_dig::BigUint;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::traits::PublicKeyParts;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::prime::random_prime;
use super::Error;
use crate::Env;

/// The key algorithm of a generated key (the spec's `keyType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyType {
    /// ECDSA on P-256 (kubeadm's `ECDSA-P256`), the default: small and fast.
    #[default]
    EcdsaP256,
    /// ECDSA on P-384 (kubeadm's `ECDSA-P384`).
    EcdsaP384,
    /// RSA 2048 bits (kubeadm's default `RSA-2048`).
    Rsa2048,
    /// RSA 3072 bits.
    Rsa3072,
    /// RSA 4096 bits.
    Rsa4096,
    /// Ed25519: only for leaf certificates (client certs, etcd). kubeadm loads only RSA and
    /// ECDSA keys for its CAs and the service-account signer, so it is refused there.
    Ed25519,
}

impl KeyType {
    /// The RSA modulus size, for RSA types.
    pub fn rsa_bits(self) -> Option<usize> {
        match self {
            KeyType::Rsa2048 => Some(2048),
            KeyType::Rsa3072 => Some(3072),
            KeyType::Rsa4096 => Some(4096),
            KeyType::EcdsaP256 | KeyType::EcdsaP384 | KeyType::Ed25519 => None,
        }
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyType::EcdsaP256 => "ecdsa-p256",
            KeyType::EcdsaP384 => "ecdsa-p384",
            KeyType::Rsa2048 => "rsa2048",
            KeyType::Rsa3072 => "rsa3072",
            KeyType::Rsa4096 => "rsa4096",
            KeyType::Ed25519 => "ed25519",
        })
    }
}

/// What a key is, whatever its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Algo {
    Rsa,
    P256,
    P384,
    Ed25519,
}

/// A private key, held as PKCS#8 DER (what rcgen's ring backend signs with).
pub(crate) struct Key {
    pkcs8: Zeroizing<Vec<u8>>,
    algo: Algo,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({:?})", self.algo)
    }
}

impl Key {
    /// A new key of `kt` from the environment's generator (see [`Key::generate_many`]).
    pub fn generate(env: &Env, kt: KeyType) -> Result<Key, Error> {
        let mut keys = Key::generate_many(env, &[kt])?;
        Ok(keys.pop().expect("one key per type"))
    }

    /// New keys of `types`, in that order. One 32-byte seed per key is drawn from `env` first,
    /// in order; every key is then made from a ChaCha20 generator of its own seed alone. So
    /// the keys depend only on `env`'s generator, never on thread scheduling: a seeded run
    /// repeats byte for byte. The slow part, the search for an RSA key's two primes (tens of
    /// milliseconds each, [`random_prime`]), is spread over all cores; without RSA keys no
    /// thread is started.
    pub fn generate_many(env: &Env, types: &[KeyType]) -> Result<Vec<Key>, Error> {
        let mut plans: Vec<Plan> = types
            .iter()
            .map(|&kt| Plan::new(kt, &Zeroizing::new(env.random_bytes::<32>())))
            .collect();
        let searches: Vec<(usize, &[u8; 32])> = plans
            .iter()
            .filter_map(|plan| plan.rsa.as_ref())
            .flat_map(|rsa| rsa.prime_seeds.iter().map(|seed| (rsa.bits / 2, &**seed)))
            .collect();
        let primes = par_map(&searches, |&(bits, seed)| {
            random_prime(&mut ChaCha20Rng::from_seed(*seed), bits)
        });
        let mut primes = primes.into_iter();
        plans
            .iter_mut()
            .map(|Plan { kt, rng, rsa }| match rsa {
                Some(rsa) => {
                    let p = primes.next().expect("two primes per RSA key");
                    let q = primes.next().expect("two primes per RSA key");
                    rsa.key(p, q, *kt, rng)
                }
                None => Key::from_rng(*kt, rng),
            })
            .collect()
    }

    /// A non-RSA key of `kt` from `rng`.
    fn from_rng(kt: KeyType, rng: &mut ChaCha20Rng) -> Result<Key, Error> {
        let (doc, algo) = match kt {
            KeyType::EcdsaP256 => (
                p256::SecretKey::random(rng)
                    .to_pkcs8_der()
                    .map_err(|e| key_gen_error(kt, &e))?,
                Algo::P256,
            ),
            KeyType::EcdsaP384 => (
                p384::SecretKey::random(rng)
                    .to_pkcs8_der()
                    .map_err(|e| key_gen_error(kt, &e))?,
                Algo::P384,
            ),
            KeyType::Ed25519 => (
                ed25519_dalek::SigningKey::generate(rng)
                    .to_pkcs8_der()
                    .map_err(|e| key_gen_error(kt, &e))?,
                Algo::Ed25519,
            ),
            KeyType::Rsa2048 | KeyType::Rsa3072 | KeyType::Rsa4096 => {
                unreachable!("RSA keys are made from primes (see Plan)")
            }
        };
        Ok(Key::from_pkcs8(&doc, algo))
    }

    fn from_pkcs8(doc: &p256::pkcs8::SecretDocument, algo: Algo) -> Key {
        Key {
            pkcs8: Zeroizing::new(doc.as_bytes().to_vec()),
            algo,
        }
    }

    /// Reads a private key PEM: PKCS#1 (`RSA PRIVATE KEY`), SEC1 (`EC PRIVATE KEY`, P-256 or
    /// P-384) or PKCS#8 (`PRIVATE KEY`: RSA, P-256, P-384, Ed25519). `what` names it in errors.
    pub fn from_pem(what: &str, pem_text: &str) -> Result<Key, Error> {
        let block = pem::parse(pem_text).map_err(|e| Error::Pem {
            what: what.to_owned(),
            reason: e.to_string(),
        })?;
        let der = Zeroizing::new(block.contents().to_vec());
        let unsupported = |found: &str| Error::UnsupportedKey {
            what: what.to_owned(),
            found: found.to_owned(),
        };
        let (pkcs8, algo) = match block.tag() {
            "RSA PRIVATE KEY" => {
                let k = rsa::RsaPrivateKey::from_pkcs1_der(&der)
                    .map_err(|_| unsupported("RSA PRIVATE KEY that does not parse"))?;
                (
                    k.to_pkcs8_der().map_err(|e| unsupported(&e.to_string()))?,
                    Algo::Rsa,
                )
            }
            "EC PRIVATE KEY" => {
                if let Ok(k) = p256::SecretKey::from_sec1_der(&der) {
                    (
                        k.to_pkcs8_der().map_err(|e| unsupported(&e.to_string()))?,
                        Algo::P256,
                    )
                } else if let Ok(k) = p384::SecretKey::from_sec1_der(&der) {
                    (
                        k.to_pkcs8_der().map_err(|e| unsupported(&e.to_string()))?,
                        Algo::P384,
                    )
                } else {
                    return Err(unsupported("EC PRIVATE KEY not on curve P-256 or P-384"));
                }
            }
            "PRIVATE KEY" => {
                let algo = if rsa::RsaPrivateKey::from_pkcs8_der(&der).is_ok() {
                    Algo::Rsa
                } else if p256::SecretKey::from_pkcs8_der(&der).is_ok() {
                    Algo::P256
                } else if p384::SecretKey::from_pkcs8_der(&der).is_ok() {
                    Algo::P384
                } else if ed25519_dalek::SigningKey::from_pkcs8_der(&der).is_ok() {
                    Algo::Ed25519
                } else {
                    return Err(unsupported(
                        "PKCS#8 key that is not RSA, ECDSA P-256/P-384 or Ed25519",
                    ));
                };
                return Ok(Key { pkcs8: der, algo });
            }
            other => return Err(unsupported(&format!("PEM block {other}"))),
        };
        Ok(Key {
            pkcs8: Zeroizing::new(pkcs8.as_bytes().to_vec()),
            algo,
        })
    }

    pub fn algo(&self) -> Algo {
        self.algo
    }

    /// The key for rcgen to sign with. Signing is ours, not rcgen's ring backend, because
    /// ring's ECDSA nonces are random: RFC 6979 (p256) keeps a seeded run byte-identical.
    pub fn signer(&self) -> Signer {
        let inner = match self.algo {
            Algo::Rsa => SignerKey::Rsa(rsa::pkcs1v15::SigningKey::new(
                rsa::RsaPrivateKey::from_pkcs8_der(&self.pkcs8).expect("valid"),
            )),
            Algo::P256 => SignerKey::P256(
                p256::ecdsa::SigningKey::from_pkcs8_der(&self.pkcs8).expect("valid"),
            ),
            Algo::P384 => SignerKey::P384(
                p384::ecdsa::SigningKey::from_pkcs8_der(&self.pkcs8).expect("valid"),
            ),
            Algo::Ed25519 => SignerKey::Ed25519(
                ed25519_dalek::SigningKey::from_pkcs8_der(&self.pkcs8).expect("valid"),
            ),
        };
        let public = match &inner {
            SignerKey::Rsa(k) => {
                rsa::pkcs1::EncodeRsaPublicKey::to_pkcs1_der(&rsa::RsaPublicKey::from(k.as_ref()))
                    .expect("encodes")
                    .into_vec()
            }
            SignerKey::P256(k) => k
                .verifying_key()
                .to_encoded_point(false)
                .as_bytes()
                .to_vec(),
            SignerKey::P384(k) => k
                .verifying_key()
                .to_encoded_point(false)
                .as_bytes()
                .to_vec(),
            SignerKey::Ed25519(k) => k.verifying_key().to_bytes().to_vec(),
        };
        Signer { inner, public }
    }

    /// The PEM kubeadm and Cluster API write for this key: PKCS#1 `RSA PRIVATE KEY` and SEC1
    /// `EC PRIVATE KEY` (CAPI `util/certs/certs.go` `EncodePrivateKeyPEMFromSigner`, client-go
    /// `keyutil.MarshalPrivateKeyToPEM`); Ed25519 has only PKCS#8 `PRIVATE KEY`.
    pub fn to_pem(&self) -> SecretString {
        let pem = match self.algo {
            Algo::Rsa => rsa::RsaPrivateKey::from_pkcs8_der(&self.pkcs8)
                .expect("valid")
                .to_pkcs1_pem(LineEnding::LF)
                .expect("encodes"),
            Algo::P256 => {
                use p256::elliptic_curve::sec1::ToEncodedPoint;
                let k = p256::SecretKey::from_pkcs8_der(&self.pkcs8).expect("valid");
                let point = k.public_key().to_encoded_point(false);
                let der = sec1_der(&PRIME256V1, &k.to_bytes(), point.as_bytes());
                Zeroizing::new(pem_lf("EC PRIVATE KEY", &der))
            }
            Algo::P384 => {
                use p384::elliptic_curve::sec1::ToEncodedPoint;
                let k = p384::SecretKey::from_pkcs8_der(&self.pkcs8).expect("valid");
                let point = k.public_key().to_encoded_point(false);
                let der = sec1_der(&SECP384R1, &k.to_bytes(), point.as_bytes());
                Zeroizing::new(pem_lf("EC PRIVATE KEY", &der))
            }
            Algo::Ed25519 => ed25519_dalek::SigningKey::from_pkcs8_der(&self.pkcs8)
                .expect("valid")
                .to_pkcs8_pem(LineEnding::LF)
                .expect("encodes"),
        };
        SecretString::from(pem.as_str())
    }

    /// The public key as SPKI DER.
    pub fn public_der(&self) -> Vec<u8> {
        match self.algo {
            Algo::Rsa => rsa::RsaPrivateKey::from_pkcs8_der(&self.pkcs8)
                .expect("valid")
                .to_public_key()
                .to_public_key_der(),
            Algo::P256 => p256::SecretKey::from_pkcs8_der(&self.pkcs8)
                .expect("valid")
                .public_key()
                .to_public_key_der(),
            Algo::P384 => p384::SecretKey::from_pkcs8_der(&self.pkcs8)
                .expect("valid")
                .public_key()
                .to_public_key_der(),
            Algo::Ed25519 => ed25519_dalek::SigningKey::from_pkcs8_der(&self.pkcs8)
                .expect("valid")
                .verifying_key()
                .to_public_key_der(),
        }
        .expect("public keys encode")
        .into_vec()
    }

    /// The public key as a `PUBLIC KEY` (SPKI) PEM, the form of CAPI's `sa` secret `tls.crt`.
    pub fn public_pem(&self) -> String {
        pem_lf("PUBLIC KEY", &self.public_der())
    }

    /// The RSA modulus size in bits (0 for other keys).
    pub fn rsa_bits(&self) -> usize {
        match self.algo {
            Algo::Rsa => {
                rsa::RsaPrivateKey::from_pkcs8_der(&self.pkcs8)
                    .expect("valid")
                    .size()
                    * 8
            }
            _ => 0,
        }
    }

    /// A short description for the inventory: `RSA 2048`, `ECDSA P-256`, `Ed25519`.
    pub fn describe(&self) -> String {
        match self.algo {
            Algo::Rsa => format!("RSA {}", self.rsa_bits()),
            Algo::P256 => "ECDSA P-256".into(),
            Algo::P384 => "ECDSA P-384".into(),
            Algo::Ed25519 => "Ed25519".into(),
        }
    }
}

fn key_gen_error(key_type: KeyType, e: &dyn fmt::Display) -> Error {
    Error::KeyGen {
        key_type,
        reason: e.to_string(),
    }
}

/// How one key of [`Key::generate_many`] is made: a generator seeded from `env`, and for RSA
/// the seeds of its two prime searches, drawn first from that generator.
struct Plan {
    kt: KeyType,
    rng: ChaCha20Rng,
    rsa: Option<RsaPlan>,
}

struct RsaPlan {
    bits: usize,
    prime_seeds: [Zeroizing<[u8; 32]>; 2],
}

impl Plan {
    fn new(kt: KeyType, seed: &[u8; 32]) -> Plan {
        let mut rng = ChaCha20Rng::from_seed(*seed);
        let rsa = kt.rsa_bits().map(|bits| {
            let mut draw = || {
                let mut s = Zeroizing::new([0u8; 32]);
                rng.fill_bytes(&mut *s);
                s
            };
            let prime_seeds = [draw(), draw()];
            RsaPlan { bits, prime_seeds }
        });
        Plan { kt, rng, rsa }
    }
}

impl RsaPlan {
    /// The key of primes `p` and `q`, each `bits / 2` long with the top two bits set (see
    /// [`random_prime`]), so `n` has exactly `bits` bits. As rsa's `RsaPrivateKey::new` does,
    /// a pair that gives no key (p = q, or e = 65537 not invertible: about one pair in
    /// 30,000) is replaced, by a pair from `rng`, the key's generator after the prime seeds.
    fn key(
        &self,
        mut p: BigUint,
        mut q: BigUint,
        kt: KeyType,
        rng: &mut ChaCha20Rng,
    ) -> Result<Key, Error> {
        let e = BigUint::from(65_537u32);
        let k = loop {
            match rsa::RsaPrivateKey::from_p_q(p, q, e.clone()) {
                Ok(k) => break k,
                Err(_) => {
                    p = random_prime(rng, self.bits / 2);
                    q = random_prime(rng, self.bits / 2);
                }
            }
        };
        let doc = k.to_pkcs8_der().map_err(|err| key_gen_error(kt, &err))?;
        Ok(Key::from_pkcs8(&doc, Algo::Rsa))
    }
}

/// `f` over `items` on all cores, results in item order. Workers take the next item from a
/// shared counter, so one long prime search does not leave another core idle.
fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let workers = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(items.len());
    if workers <= 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let mut done: Vec<(usize, R)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(i) else {
                            return out;
                        };
                        out.push((i, f(item)));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

/// OID 1.2.840.10045.3.1.7 (P-256), DER.
const PRIME256V1: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// OID 1.3.132.0.34 (P-384), DER.
const SECP384R1: [u8; 7] = [0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];

/// SEC1 `ECPrivateKey` DER with the named-curve parameters and the public key, as Go's
/// `x509.MarshalECPrivateKey` and OpenSSL write it. The RustCrypto curves omit the
/// parameters, and then Go's TLS stack (etcd, kubeadm) and OpenSSL cannot read the key.
fn sec1_der(curve_oid: &[u8], secret: &[u8], public_point: &[u8]) -> Zeroizing<Vec<u8>> {
    use super::der::wrap;
    let mut bits = vec![0u8];
    bits.extend_from_slice(public_point);
    let body = Zeroizing::new(
        [
            &[0x02, 0x01, 0x01][..],
            &wrap(0x04, secret),
            &wrap(0xa0, curve_oid),
            &wrap(0xa1, &wrap(0x03, &bits)),
        ]
        .concat(),
    );
    Zeroizing::new(wrap(0x30, &body))
}

/// One PEM block with LF line endings.
pub(crate) fn pem_lf(tag: &str, der: &[u8]) -> String {
    pem::encode_config(
        &pem::Pem::new(tag, der),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}

enum SignerKey {
    Rsa(rsa::pkcs1v15::SigningKey<sha2::Sha256>),
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
    Ed25519(ed25519_dalek::SigningKey),
}

/// A deterministic signer for rcgen (RSA PKCS#1 v1.5 SHA-256, ECDSA P-256 SHA-256 and P-384
/// SHA-384 with RFC 6979 nonces, Ed25519).
pub(crate) struct Signer {
    inner: SignerKey,
    /// The raw public key, as X.509 puts it in the SPKI bit string.
    public: Vec<u8>,
}

impl rcgen::PublicKeyData for Signer {
    fn der_bytes(&self) -> &[u8] {
        &self.public
    }
    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        match self.inner {
            SignerKey::Rsa(_) => &rcgen::PKCS_RSA_SHA256,
            SignerKey::P256(_) => &rcgen::PKCS_ECDSA_P256_SHA256,
            SignerKey::P384(_) => &rcgen::PKCS_ECDSA_P384_SHA384,
            SignerKey::Ed25519(_) => &rcgen::PKCS_ED25519,
        }
    }
}

impl rcgen::SigningKey for Signer {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        use rsa::signature::{SignatureEncoding, Signer as _};
        Ok(match &self.inner {
            SignerKey::Rsa(k) => k
                .try_sign(msg)
                .map_err(|_| rcgen::Error::RingUnspecified)?
                .to_vec(),
            SignerKey::P256(k) => {
                let sig: p256::ecdsa::Signature =
                    k.try_sign(msg).map_err(|_| rcgen::Error::RingUnspecified)?;
                sig.to_der().as_bytes().to_vec()
            }
            SignerKey::P384(k) => {
                let sig: p384::ecdsa::Signature =
                    k.try_sign(msg).map_err(|_| rcgen::Error::RingUnspecified)?;
                sig.to_der().as_bytes().to_vec()
            }
            SignerKey::Ed25519(k) => k.sign(msg).to_bytes().to_vec(),
        })
    }
}

#[cfg(test)]
mod tests;
