//! Certificates: self-signed CAs and the leaves they sign, with kubeadm's profile
//! (`kubernetes/cmd/kubeadm/app/util/pkiutil`): CA with BasicConstraints CA:TRUE (critical),
//! KeyUsage digitalSignature+keyEncipherment+keyCertSign (critical), SKI; leaves with
//! digitalSignature (+keyEncipherment for RSA), the requested EKUs and an AKI naming the CA.
//! No name constraints. Serials are random, validity starts 5 minutes back for clock skew.

use std::net::IpAddr;

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use super::key::{pem_lf, Algo, Key, KeyType};
use super::Error;
use crate::Env;

/// kubeadm's CA lifetime (`CACertificateValidityPeriod`, 10 years).
pub const CA_VALIDITY: Duration = Duration::days(3650);
/// kubeadm's leaf lifetime (`CertificateValidityPeriod`, 1 year).
pub const LEAF_VALIDITY: Duration = Duration::days(365);
/// How far back `notBefore` is set, so a node with a slightly late clock accepts the cert.
const BACKDATE: Duration = Duration::minutes(5);

/// The public facts of a certificate, as the inventory shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertFacts {
    /// RFC 4514-style subject, e.g. `CN=kubernetes`.
    pub subject: String,
    /// Serial number, lowercase hex.
    pub serial: String,
    /// `sha256:<hex>` of the DER certificate.
    pub fingerprint: String,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
}

impl CertFacts {
    /// Reads the facts from a DER certificate.
    fn of(what: &str, der: &[u8]) -> Result<(CertFacts, CertChecks), Error> {
        let (_, x) = x509_parser::parse_x509_certificate(der).map_err(|e| Error::Pem {
            what: what.to_owned(),
            reason: format!("not an X.509 certificate: {e}"),
        })?;
        let time = |t: &x509_parser::time::ASN1Time| {
            OffsetDateTime::from_unix_timestamp(t.timestamp()).expect("certificate times fit")
        };
        let facts = CertFacts {
            subject: x.subject().to_string(),
            serial: hex::encode(x.raw_serial()),
            fingerprint: fingerprint(der),
            not_before: time(&x.validity().not_before),
            not_after: time(&x.validity().not_after),
        };
        let key_id = x
            .extensions()
            .iter()
            .find_map(|e| match e.parsed_extension() {
                x509_parser::extensions::ParsedExtension::SubjectKeyIdentifier(k) => {
                    Some(k.0.to_vec())
                }
                _ => None,
            });
        let checks = CertChecks {
            basic_ca: x.is_ca(),
            // Go and kubeadm accept a CA without a keyUsage extension; only a keyUsage that
            // leaves out keyCertSign stops it signing.
            cert_sign: match x.key_usage() {
                Ok(Some(ku)) => ku.value.key_cert_sign(),
                Ok(None) => true,
                Err(_) => false,
            },
            public_key: x.public_key().subject_public_key.data.to_vec(),
            subject_der: x.subject().as_raw().to_vec(),
            key_id,
        };
        Ok((facts, checks))
    }
}

/// What `Ca::from_pem` checks beyond the facts, and what signing with a CA needs.
struct CertChecks {
    /// BasicConstraints CA:TRUE.
    basic_ca: bool,
    /// keyUsage allows keyCertSign (or there is no keyUsage extension).
    cert_sign: bool,
    public_key: Vec<u8>,
    /// The subject Name exactly as encoded: the issuer of everything the CA signs.
    subject_der: Vec<u8>,
    /// The subjectKeyIdentifier, the authorityKeyIdentifier of what the CA signs.
    key_id: Option<Vec<u8>>,
}

/// `sha256:<lowercase hex>` of `der`.
pub fn fingerprint(der: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(der)))
}

/// A certificate authority: certificate and key. The key never leaves as plain `String`.
pub struct Ca {
    cert_pem: String,
    key: Key,
    facts: CertFacts,
    /// The subject as encoded, copied into every certificate this CA signs.
    subject_der: Vec<u8>,
    key_id: Option<Vec<u8>>,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca").field("facts", &self.facts).finish()
    }
}

/// What a leaf certificate is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    /// EKU serverAuth (kube-apiserver serving cert).
    Server,
    /// EKU clientAuth (kubeconfigs, etcd clients).
    Client,
    /// Both (etcd server and peer certs, as kubeadm makes them).
    ServerAndClient,
}

/// What to put in a leaf certificate.
#[derive(Debug, Clone)]
pub struct LeafParams {
    pub common_name: String,
    pub organizations: Vec<String>,
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<IpAddr>,
    pub usage: Usage,
    /// Lifetime; capped at the CA's expiry.
    pub validity: Duration,
    pub key_type: KeyType,
    /// Add the certificate's serial number to the subject (`serialNumber`): every issued
    /// certificate then has its own subject while the CN (the Kubernetes user) stays.
    pub subject_serial: bool,
}

impl LeafParams {
    /// A leaf with kubeadm's default lifetime and no SANs.
    pub fn new(common_name: impl Into<String>, usage: Usage, key_type: KeyType) -> Self {
        LeafParams {
            common_name: common_name.into(),
            organizations: Vec::new(),
            dns_names: Vec::new(),
            ip_addresses: Vec::new(),
            usage,
            validity: LEAF_VALIDITY,
            key_type,
            subject_serial: false,
        }
    }
}

/// A certificate signed by a [`Ca`], with its key.
pub struct Leaf {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The private key, PEM in kubeadm's form.
    pub key_pem: SecretString,
    pub facts: CertFacts,
}

impl std::fmt::Debug for Leaf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leaf").field("facts", &self.facts).finish()
    }
}

/// A positive 128-bit serial from the environment's generator (RFC 5280 allows 20 octets;
/// the top bit is cleared so the DER INTEGER stays positive, the next set so it stays 16 bytes).
fn serial(env: &Env) -> rcgen::SerialNumber {
    let mut b = env.random_bytes::<16>();
    b[0] = (b[0] & 0x7f) | 0x40;
    rcgen::SerialNumber::from_slice(&b)
}

/// Common parameters: subject, serial, validity window from `now`.
fn base_params(
    env: &Env,
    common_name: &str,
    organizations: &[String],
    validity: Duration,
) -> rcgen::CertificateParams {
    let now = env.now();
    let mut p = rcgen::CertificateParams::default();
    let mut dn = rcgen::DistinguishedName::new();
    for o in organizations {
        dn.push(rcgen::DnType::OrganizationName, o.as_str());
    }
    dn.push(rcgen::DnType::CommonName, common_name);
    p.distinguished_name = dn;
    p.serial_number = Some(serial(env));
    p.not_before = now - BACKDATE;
    p.not_after = now + validity;
    p
}

impl Ca {
    /// A new self-signed CA named `common_name` (kubeadm: `kubernetes`, `etcd-ca`,
    /// `front-proxy-ca`). Ed25519 is refused: kubeadm cannot load such a CA key.
    pub fn generate(
        env: &Env,
        common_name: &str,
        key_type: KeyType,
        validity: Duration,
    ) -> Result<Ca, Error> {
        check_ca_key_type(common_name, key_type)?;
        let key = Key::generate(env, key_type)?;
        Ca::self_signed(env, common_name, key, validity)
    }

    /// A self-signed CA with a key already made (checked with [`check_ca_key_type`]).
    pub(crate) fn self_signed(
        env: &Env,
        common_name: &str,
        key: Key,
        validity: Duration,
    ) -> Result<Ca, Error> {
        let mut p = base_params(env, common_name, &[], validity);
        p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        p.key_usages = vec![
            rcgen::KeyUsagePurpose::DigitalSignature,
            rcgen::KeyUsagePurpose::KeyEncipherment,
            rcgen::KeyUsagePurpose::KeyCertSign,
        ];
        let cert = p.self_signed(&key.signer()).map_err(|e| Error::Sign {
            what: common_name.to_owned(),
            reason: e.to_string(),
        })?;
        let (facts, checks) = CertFacts::of(common_name, cert.der())?;
        Ok(Ca {
            cert_pem: cert.pem(),
            key,
            facts,
            subject_der: checks.subject_der,
            key_id: checks.key_id,
        })
    }

    /// Loads a CA from its Secret (cert + key PEM) and checks it can sign: a key kubeadm and Go
    /// accept (RSA >= 2048 bits, ECDSA P-256 or P-384) that matches the certificate, CA:TRUE
    /// and keyCertSign (when a keyUsage is present), valid at `now`. `what` names the source
    /// in errors. The first certificate signs; more may follow it, as during a CA rotation,
    /// when `tls.crt` carries the old CA for trust (KCP too reads only the first).
    pub fn from_pem(
        what: &str,
        cert_pem: &str,
        key_pem: &SecretString,
        now: OffsetDateTime,
    ) -> Result<Ca, Error> {
        Ca::load(what, what, cert_pem, key_pem, now, Bundle::FirstSigns)
    }

    /// [`Ca::from_pem`] for a CA given by the user (`--import-ca CERT KEY`): the key's file is
    /// named apart, and a bundle is refused rather than silently cut to its first certificate.
    pub(crate) fn import(
        what: &str,
        key_what: &str,
        cert_pem: &str,
        key_pem: &SecretString,
        now: OffsetDateTime,
    ) -> Result<Ca, Error> {
        Ca::load(what, key_what, cert_pem, key_pem, now, Bundle::Refuse)
    }

    fn load(
        what: &str,
        key_what: &str,
        cert_pem: &str,
        key_pem: &SecretString,
        now: OffsetDateTime,
        bundle: Bundle,
    ) -> Result<Ca, Error> {
        let pem_err = |reason: String| Error::Pem {
            what: what.to_owned(),
            reason,
        };
        let blocks = pem::parse_many(cert_pem).map_err(|e| pem_err(e.to_string()))?;
        let certs: Vec<_> = blocks.iter().filter(|b| b.tag() == "CERTIFICATE").collect();
        let block = match (certs.as_slice(), blocks.first()) {
            ([one], _) => *one,
            ([first, ..], _) if bundle == Bundle::FirstSigns => *first,
            ([], Some(other)) => {
                return Err(pem_err(format!(
                    "expected a CERTIFICATE block, found {}",
                    other.tag()
                )))
            }
            ([], None) => return Err(pem_err("no PEM block found".into())),
            (many, _) => {
                return Err(Error::Bundle {
                    what: what.to_owned(),
                    count: many.len(),
                })
            }
        };
        let (facts, checks) = CertFacts::of(what, block.contents())?;
        let key = Key::from_pem(key_what, key_pem.expose_secret())?;
        check_imported_ca_key(key_what, &key)?;
        if rcgen::PublicKeyData::der_bytes(&key.signer()) != checks.public_key.as_slice() {
            return Err(Error::KeyMismatch {
                what: key_what.to_owned(),
                fingerprint: facts.fingerprint,
            });
        }
        if !checks.basic_ca {
            return Err(Error::NotCa {
                what: what.to_owned(),
                subject: facts.subject,
            });
        }
        if !checks.cert_sign {
            return Err(Error::NoCertSign {
                what: what.to_owned(),
                subject: facts.subject,
            });
        }
        if now >= facts.not_after || now < facts.not_before {
            return Err(Error::OutsideValidity {
                what: what.to_owned(),
                subject: facts.subject,
                not_before: rfc3339(facts.not_before),
                not_after: rfc3339(facts.not_after),
            });
        }
        // Keep the PEM as a single, normalised block so output is stable.
        Ok(Ca {
            cert_pem: pem_lf("CERTIFICATE", block.contents()),
            key,
            facts,
            subject_der: checks.subject_der,
            key_id: checks.key_id,
        })
    }

    /// The certificate, PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The private key, PEM in kubeadm's form (PKCS#1 / SEC1).
    pub fn key_pem(&self) -> SecretString {
        self.key.to_pem()
    }

    pub fn facts(&self) -> &CertFacts {
        &self.facts
    }

    /// `sha256:<hex>` of the certificate.
    pub fn fingerprint(&self) -> &str {
        &self.facts.fingerprint
    }

    pub fn not_after(&self) -> OffsetDateTime {
        self.facts.not_after
    }

    /// Issues a leaf certificate with a fresh key.
    pub fn issue(&self, env: &Env, leaf: &LeafParams) -> Result<Leaf, Error> {
        self.issue_with_key(env, leaf, Key::generate(env, leaf.key_type)?)
    }

    /// Issues a leaf certificate for `key` (made with `leaf.key_type`).
    pub(crate) fn issue_with_key(
        &self,
        env: &Env,
        leaf: &LeafParams,
        key: Key,
    ) -> Result<Leaf, Error> {
        let sign_err = |e: rcgen::Error| Error::Sign {
            what: leaf.common_name.clone(),
            reason: e.to_string(),
        };
        let mut p = base_params(env, &leaf.common_name, &leaf.organizations, leaf.validity);
        if let (true, Some(serial)) = (leaf.subject_serial, &p.serial_number) {
            let hex = rcgen::string::PrintableString::try_from(hex::encode(serial.as_ref()))
                .map_err(sign_err)?;
            p.distinguished_name.push(
                rcgen::DnType::CustomDnType(vec![2, 5, 4, 5]), // id-at-serialNumber
                rcgen::DnValue::PrintableString(hex),
            );
        }
        // A leaf stays inside its CA's lifetime (kubeadm refuses a leaf that outlives it).
        p.not_after = p.not_after.min(self.facts.not_after);
        p.not_before = p.not_before.max(self.facts.not_before);
        p.is_ca = rcgen::IsCa::ExplicitNoCa;
        p.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
        if key.algo() == Algo::Rsa {
            p.key_usages.push(rcgen::KeyUsagePurpose::KeyEncipherment);
        }
        p.extended_key_usages = match leaf.usage {
            Usage::Server => vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth],
            Usage::Client => vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth],
            Usage::ServerAndClient => vec![
                rcgen::ExtendedKeyUsagePurpose::ServerAuth,
                rcgen::ExtendedKeyUsagePurpose::ClientAuth,
            ],
        };
        for d in &leaf.dns_names {
            let name = d.as_str().try_into().map_err(sign_err)?;
            p.subject_alt_names.push(rcgen::SanType::DnsName(name));
        }
        for ip in &leaf.ip_addresses {
            p.subject_alt_names.push(rcgen::SanType::IpAddress(*ip));
        }
        p.use_authority_key_identifier_extension = true;
        // rcgen writes the issuer from a name map; the CA's exact subject bytes go in below.
        let mut issuer_params = rcgen::CertificateParams::default();
        if let Some(id) = &self.key_id {
            issuer_params.key_identifier_method = rcgen::KeyIdMethod::PreSpecified(id.clone());
        }
        let signer = self.key.signer();
        let issuer = rcgen::Issuer::new(issuer_params, &signer);
        let cert = p.signed_by(&key.signer(), &issuer).map_err(sign_err)?;
        let der = super::der::with_issuer(cert.der(), &self.subject_der, |tbs| {
            rcgen::SigningKey::sign(&signer, tbs)
        })
        .map_err(|e| Error::Sign {
            what: leaf.common_name.clone(),
            reason: e.to_string(),
        })?
        .map_err(sign_err)?;
        let (facts, _) = CertFacts::of(&leaf.common_name, &der)?;
        Ok(Leaf {
            cert_pem: pem_lf("CERTIFICATE", &der),
            key_pem: key.to_pem(),
            facts,
        })
    }
}

/// Refuses a CA key type kubeadm cannot load (Ed25519), before any key is made.
pub(crate) fn check_ca_key_type(common_name: &str, key_type: KeyType) -> Result<(), Error> {
    if key_type == KeyType::Ed25519 {
        return Err(Error::KeyTypeNotAllowed {
            key_type,
            purpose: format!("the CA {common_name}"),
        });
    }
    Ok(())
}

/// What a CA file with more than one certificate means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bundle {
    /// The first signs, the others are trusted alongside (mcb's own rotation bundles).
    FirstSigns,
    /// An error: the user must say which certificate is the CA.
    Refuse,
}

/// Refuses an imported CA key that kubeadm or Go would not sign with: Ed25519 (kubeadm: "neither
/// in RSA nor ECDSA format") and RSA below 2048 bits (Go 1.24 refuses them as insecure).
fn check_imported_ca_key(what: &str, key: &Key) -> Result<(), Error> {
    let found = match key.algo() {
        Algo::P256 | Algo::P384 => return Ok(()),
        Algo::Rsa if key.rsa_bits() >= 2048 => return Ok(()),
        Algo::Rsa => format!("{}: too small", key.describe()),
        Algo::Ed25519 => "Ed25519".to_owned(),
    };
    Err(Error::UnsupportedCaKey {
        what: what.to_owned(),
        found,
    })
}

/// Facts of a certificate PEM (e.g. a kubeconfig's client cert).
pub fn facts_of_pem(what: &str, cert_pem: &str) -> Result<CertFacts, Error> {
    let block = pem::parse(cert_pem).map_err(|e| Error::Pem {
        what: what.to_owned(),
        reason: e.to_string(),
    })?;
    Ok(CertFacts::of(what, block.contents())?.0)
}

/// RFC 3339 in UTC with seconds (`2036-11-23T11:55:00Z`).
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(&time::format_description::well_known::Rfc3339)
        .expect("UTC times format")
}
