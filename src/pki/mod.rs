//! The installation's PKI, made before the cluster exists: cluster, etcd and front-proxy CAs,
//! the service-account key pair and kubeconfigs, as the Kubernetes Secrets Cluster API reads
//! instead of making its own, plus their inventory entries. Loads existing PKI back from
//! decrypted Secrets. Returns values only: it never writes files and never prints.
//!
//! Secret shapes, matched against kubernetes-sigs/cluster-api (ae7ff04):
//! - names `<cluster>-ca|etcd|proxy|sa|kubeconfig`, data keys `tls.crt`/`tls.key`/`value`,
//!   label `cluster.x-k8s.io/cluster-name` (`util/secret/consts.go`, `Certificate.AsSecret`
//!   in `util/secret/certificates.go`, `GenerateSecretWithOwner` in `util/kubeconfig`).
//! - the `sa` secret holds a `PUBLIC KEY` PEM in `tls.crt` and the private key in `tls.key`
//!   (`generateServiceAccountKeys`).
//! - type: CAPI writes `cluster.x-k8s.io/secret` for what IT generates, and KCP adopts
//!   (owns, garbage-collects) and rotates only secrets of that type
//!   (`ensureCertificatesOwnerRef`, `adoptKubeconfigSecret`); user-provided ones are left
//!   alone. CAPI reads any type (`secretToKeyPair` looks only at data). So the CAs use
//!   `kubernetes.io/tls`, as the book's "Using Custom Certificates" shows; `sa` and the
//!   kubeconfigs use `Opaque` (the sa `tls.crt` is not a certificate; a kubeconfig is no TLS
//!   pair) — so Flux, not KCP, owns all of them.
//! - `<cluster>-kubeconfig` is NOT made here: KCP creates it from `<cluster>-ca` (ours) when
//!   it is missing, owns it and renews its client certificate (`reconcileKubeconfig` in
//!   `controlplane/kubeadm/reconcilers/kubeadmcontrolplane/helpers.go`, v1.14.0). A Secret of
//!   that name from Git would be left alone by KCP (not its type) and expire. The kubeconfigs
//!   mcb makes for people are `<cluster>-kubeconfig-<user>` (`-admin` for kubeadm's admin).
//! - keys: PKCS#1 / SEC1 PEM, what CAPI writes (`util/certs` `EncodePrivateKeyPEMFromSigner`)
//!   and kubeadm writes; CAPI also reads PKCS#8 (`DecodePrivateKeyPEM`), so do we.
//! - the SA key is always RSA (2048 unless an RSA size is chosen): every kube-apiserver
//!   and kubeadm version accepts RSA service-account signers; ECDSA needs kubeadm's
//!   `encryptionAlgorithm`, Ed25519 is not accepted at all.
//!
//! Size: the cluster PKI as one value (made, loaded back from Secrets, turned into Secrets and
//! inventory entries); certificates are `cert.rs`, keys `key.rs`, kubeconfigs `kubeconfig.rs`.

mod cert;
mod der;
mod key;
mod kubeconfig;
mod prime;

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine;
use secrecy::{ExposeSecret, SecretBox, SecretString};
use serde::Deserialize;
use time::{Duration, OffsetDateTime};

pub use cert::{
    fingerprint, rfc3339, Ca, CertFacts, Leaf, LeafParams, Usage, CA_VALIDITY, LEAF_VALIDITY,
};
pub use key::KeyType;

/// Inventory kind of a kubeconfig client certificate a rotation replaced: listed until it
/// expires, since a client certificate cannot be revoked.
pub const SUPERSEDED_KUBECONFIG: CredentialKind = CredentialKind::KubeconfigSuperseded;
pub use kubeconfig::{admin_group, kubeconfig, Kubeconfig, UserParams, KUBERNETES_MINORS};

use crate::fsutil::PathError;
use crate::inventory::{Credential, CredentialKind};
use crate::k8s::Secret;
use crate::Env;
use key::Key;

/// The label CAPI selects a cluster's secrets by.
pub const CLUSTER_NAME_LABEL: &str = "cluster.x-k8s.io/cluster-name";

/// A PKI operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Not PEM, or not the PEM block expected.
    #[error("{what}: not a valid PEM: {reason}")]
    Pem { what: String, reason: String },
    /// A private key of a kind mcb cannot use.
    #[error("{what}: unsupported private key: {found}")]
    UnsupportedKey { what: String, found: String },
    /// The key given with a certificate belongs to another certificate.
    #[error("{what}: the private key does not belong to the certificate {fingerprint}")]
    KeyMismatch { what: String, fingerprint: String },
    /// A certificate given as CA is not a CA.
    #[error("{what}: certificate {subject} is not a CA (its basicConstraints lack CA:TRUE)")]
    NotCa { what: String, subject: String },
    /// A CA certificate whose keyUsage does not allow signing certificates.
    #[error(
        "{what}: CA {subject} has a keyUsage without keyCertSign, so it cannot sign certificates"
    )]
    NoCertSign { what: String, subject: String },
    /// A file with more than one certificate where one CA certificate was expected.
    #[error("{what}: holds {count} certificates; mcb imports exactly one CA certificate")]
    Bundle { what: String, count: usize },
    /// A CA key that kubeadm or Go cannot sign with.
    #[error("{what}: unsupported CA key: {found}")]
    UnsupportedCaKey { what: String, found: String },
    /// A CA that is expired or not yet valid.
    #[error("{what}: CA {subject} is valid only from {not_before} to {not_after}")]
    OutsideValidity {
        what: String,
        subject: String,
        not_before: String,
        not_after: String,
    },
    /// A key type that the consumer of this key cannot load.
    #[error("key type {key_type} cannot be used for {purpose}")]
    KeyTypeNotAllowed { key_type: KeyType, purpose: String },
    /// Key generation failed.
    #[error("cannot generate a {key_type} key: {reason}")]
    KeyGen { key_type: KeyType, reason: String },
    /// rcgen refused to build a certificate.
    #[error("cannot make the certificate {what}: {reason}")]
    Sign { what: String, reason: String },
    /// The API server URL is not `https://`.
    #[error("server URL {url:?} is not an https:// URL")]
    BadServer { url: String },
    /// A secret the PKI needs is missing.
    #[error("secret {name} is missing")]
    MissingSecret { name: String },
    /// A secret lacks a data key.
    #[error("secret {name}: no data key {key}")]
    MissingData { name: String, key: String },
    /// A file is not a readable Secret manifest.
    #[error("{what}: not a Kubernetes Secret: {reason}")]
    SecretYaml { what: String, reason: String },
    /// A kubeconfig that cannot be read.
    #[error("{what}: not a usable kubeconfig: {reason}")]
    Kubeconfig { what: String, reason: String },
    /// A CA file to import could not be read.
    #[error(transparent)]
    Io(#[from] PathError),
}

impl crate::Help for Error {
    fn help(&self) -> Option<String> {
        Some(match self {
            Error::Pem { .. } => "give a PEM file (-----BEGIN CERTIFICATE----- / -----BEGIN ... PRIVATE KEY-----); convert DER with `openssl x509 -inform der` or `openssl pkey -inform der`".into(),
            Error::UnsupportedKey { .. } => "use an RSA or ECDSA P-256/P-384 key (PKCS#1, SEC1 or unencrypted PKCS#8); decrypt it first with `openssl pkey -in KEY -out KEY.plain`".into(),
            Error::KeyMismatch { .. } => "pass the key that belongs to this certificate; compare `openssl x509 -noout -pubkey -in CERT` with `openssl pkey -pubout -in KEY`".into(),
            Error::NotCa { .. } => "give the CA certificate itself (the issuer), not a server or client certificate signed by it".into(),
            Error::NoCertSign { .. } => "re-issue the CA with `keyUsage = critical, keyCertSign, cRLSign, digitalSignature` (or without a keyUsage extension)".into(),
            Error::Bundle { .. } => "put only the CA certificate that signs (usually the first block) in the file; kubeadm and Cluster API trust that certificate as the cluster's root".into(),
            Error::UnsupportedCaKey { .. } => "kubeadm and Go sign only with RSA (2048 bits or more) and ECDSA P-256/P-384 CA keys: re-create the CA with such a key, or let mcb generate the CA".into(),
            Error::OutsideValidity { .. } => "the CA cannot sign now; import a valid CA, or let mcb generate a new one and rotate with `mcb rotate NAME --only ca`".into(),
            Error::KeyTypeNotAllowed { .. } => "choose ecdsa-p256, ecdsa-p384 or an rsa key type for CAs and the service-account key (kubeadm loads only RSA and ECDSA keys)".into(),
            Error::KeyGen { .. } | Error::Sign { .. } => return None,
            Error::BadServer { .. } => "set the API server URL in the spec as https://HOST:PORT".into(),
            Error::MissingSecret { .. } | Error::MissingData { .. } => "restore the secret from git history, or re-run `mcb init-installation` to create the PKI".into(),
            Error::SecretYaml { .. } | Error::Kubeconfig { .. } => "decrypt and check the file with `mcb secrets decrypt FILE`; restore it from git if it was edited by hand".into(),
            Error::Io(e) => return crate::Help::help(e),
        })
    }
}

/// What PKI to make for one installation.
#[derive(Debug, Clone)]
pub struct Params {
    /// Cluster name: the secret name prefix (defaults to the installation name).
    pub cluster: String,
    /// Namespace of the Cluster object.
    pub namespace: String,
    /// Key type of the CAs and kubeconfig client certs.
    pub key_type: KeyType,
    pub ca_validity: Duration,
    pub leaf_validity: Duration,
    /// API server URL (`https://...`), written into kubeconfigs.
    pub server: String,
    /// Extra kubeconfigs besides the admin one.
    pub users: Vec<UserParams>,
    /// The cluster's Kubernetes minor version: picks the admin kubeconfig's group.
    pub kubernetes_minor: u32,
}

/// The Kubernetes minor version assumed when none is given (the spec's default, v1.33).
pub const DEFAULT_KUBERNETES_MINOR: u32 = 33;

impl Params {
    /// kubeadm defaults: ECDSA P-256, CA 10 years, leaves 1 year, admin kubeconfig only.
    pub fn new(cluster: &str, namespace: &str, server: &str) -> Self {
        Params {
            cluster: cluster.to_owned(),
            namespace: namespace.to_owned(),
            key_type: KeyType::default(),
            ca_validity: CA_VALIDITY,
            leaf_validity: LEAF_VALIDITY,
            server: server.to_owned(),
            users: Vec::new(),
            kubernetes_minor: DEFAULT_KUBERNETES_MINOR,
        }
    }
}

/// The service-account signing key pair (not a certificate).
pub struct SaKey(Key);

impl SaKey {
    /// `PUBLIC KEY` PEM (CAPI's `tls.crt` of the `sa` secret, kubeadm's `sa.pub`).
    pub fn public_pem(&self) -> String {
        self.0.public_pem()
    }
    /// `RSA PRIVATE KEY` PEM (kubeadm's `sa.key`).
    pub fn key_pem(&self) -> SecretString {
        self.0.to_pem()
    }
    /// `sha256:<hex>` of the public key (SPKI DER).
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.0.public_der())
    }
}

/// A whole installation's PKI.
pub struct ClusterPki {
    pub cluster: String,
    pub namespace: String,
    /// `<cluster>-ca`: signs API server, kubelet and client certs.
    pub cluster_ca: Ca,
    /// `<cluster>-etcd`
    pub etcd_ca: Ca,
    /// `<cluster>-proxy`
    pub proxy_ca: Ca,
    /// `<cluster>-sa`
    pub sa: SaKey,
    /// By user name; Secret `<cluster>-kubeconfig-<name>`.
    pub kubeconfigs: BTreeMap<String, Kubeconfig>,
}

/// Generates the full PKI: three CAs, the SA key, the admin and user kubeconfigs.
pub fn generate(env: &Env, p: &Params) -> Result<ClusterPki, Error> {
    build(env, p, None)
}

/// As [`generate`], but with an existing cluster CA (see [`import_ca`]).
pub fn generate_with_ca(env: &Env, p: &Params, cluster_ca: Ca) -> Result<ClusterPki, Error> {
    build(env, p, Some(cluster_ca))
}

/// Makes every key the PKI needs in one [`Key::generate_many`] call (RSA keys in parallel),
/// then the certificates in a fixed order.
fn build(env: &Env, p: &Params, cluster_ca: Option<Ca>) -> Result<ClusterPki, Error> {
    if !p.server.starts_with("https://") {
        return Err(Error::BadServer {
            url: p.server.clone(),
        });
    }
    let cluster_ca_name = cluster_ca.is_none().then_some("kubernetes");
    let ca_names: Vec<&str> = cluster_ca_name
        .into_iter()
        .chain(["etcd-ca", "front-proxy-ca"])
        .collect();
    for name in &ca_names {
        cert::check_ca_key_type(name, p.key_type)?;
    }
    let sa_type = match p.key_type {
        KeyType::Rsa3072 | KeyType::Rsa4096 => p.key_type,
        _ => KeyType::Rsa2048,
    };
    let users: Vec<UserParams> = std::iter::once(UserParams::admin(p.kubernetes_minor))
        .chain(p.users.iter().cloned())
        .collect();
    let types: Vec<KeyType> = ca_names
        .iter()
        .map(|_| p.key_type)
        .chain([sa_type])
        .chain(users.iter().map(|_| p.key_type))
        .collect();
    let mut keys = Key::generate_many(env, &types)?.into_iter();
    let mut key = || keys.next().expect("one key per type");
    let mut ca = |name: &str| Ca::self_signed(env, name, key(), p.ca_validity);
    let cluster_ca = match cluster_ca {
        Some(c) => c,
        None => ca("kubernetes")?,
    };
    let etcd_ca = ca("etcd-ca")?;
    let proxy_ca = ca("front-proxy-ca")?;
    let sa = SaKey(key());
    let mut pki = ClusterPki {
        cluster: p.cluster.clone(),
        namespace: p.namespace.clone(),
        cluster_ca,
        etcd_ca,
        proxy_ca,
        sa,
        kubeconfigs: BTreeMap::new(),
    };
    for user in &users {
        let k = kubeconfig::with_key(
            env,
            &pki.cluster_ca,
            &pki.cluster,
            &p.server,
            user,
            p.leaf_validity,
            (p.key_type, key()),
        )?;
        pki.kubeconfigs.insert(user.name.clone(), k);
    }
    Ok(pki)
}

/// Checks and loads an existing CA to use as the cluster CA.
pub fn import_ca(cert_pem: &str, key_pem: &SecretString, now: OffsetDateTime) -> Result<Ca, Error> {
    Ca::import("imported CA", "imported CA key", cert_pem, key_pem, now)
}

/// [`import_ca`] from two files (`--import-ca CERT KEY`).
pub fn import_ca_files(cert: &Path, key: &Path, now: OffsetDateTime) -> Result<Ca, Error> {
    let cert_text = String::from_utf8_lossy(&crate::fsutil::read(cert)?).into_owned();
    let key_bytes = zeroize::Zeroizing::new(crate::fsutil::read(key)?);
    let key_text = SecretString::from(String::from_utf8_lossy(&key_bytes).into_owned());
    Ca::import(
        &cert.display().to_string(),
        &key.display().to_string(),
        &cert_text,
        &key_text,
        now,
    )
}

/// The name CAPI gives a cluster's secret of `purpose` (`ca`, `etcd`, `kubeconfig`...).
pub fn secret_name(cluster: &str, purpose: &str) -> String {
    format!("{cluster}-{purpose}")
}

/// The secret name of user `name`'s kubeconfig, `<cluster>-kubeconfig-<name>`: never
/// CAPI's `<cluster>-kubeconfig`, which the control plane provider owns and renews.
pub fn kubeconfig_secret_name(cluster: &str, name: &str) -> String {
    secret_name(cluster, &format!("kubeconfig-{name}"))
}

/// The Secret Cluster API's control plane provider creates, owns and renews
/// (`<cluster>-kubeconfig`). Before mcb left it to KCP, mcb wrote the admin kubeconfig
/// under this name; such a file is still read as the admin kubeconfig.
pub fn capi_kubeconfig_secret_name(cluster: &str) -> String {
    secret_name(cluster, "kubeconfig")
}

impl ClusterPki {
    /// The CAs with their secret purpose and inventory id.
    fn cas(&self) -> [(&'static str, &'static str, &Ca); 3] {
        [
            ("ca", "cluster", &self.cluster_ca),
            ("etcd", "etcd", &self.etcd_ca),
            ("proxy", "proxy", &self.proxy_ca),
        ]
    }

    fn secret(&self, name: String, type_: &str) -> Secret {
        Secret::new(name, &self.namespace, type_).label(CLUSTER_NAME_LABEL, &self.cluster)
    }

    /// Adds (or replaces) a kubeconfig signed by the cluster CA.
    pub fn add_kubeconfig(
        &mut self,
        env: &Env,
        server: &str,
        user: &UserParams,
        validity: Duration,
        key_type: KeyType,
    ) -> Result<(), Error> {
        let k = kubeconfig(
            env,
            &self.cluster_ca,
            &self.cluster,
            server,
            user,
            validity,
            key_type,
        )?;
        self.kubeconfigs.insert(user.name.clone(), k);
        Ok(())
    }

    /// The Secrets to store, in a fixed order: CAs, sa, kubeconfigs (by name).
    pub fn secrets(&self) -> Vec<Secret> {
        let mut out = Vec::new();
        for (purpose, _, ca) in self.cas() {
            out.push(
                self.secret(secret_name(&self.cluster, purpose), "kubernetes.io/tls")
                    .with("tls.crt", ca.cert_pem().as_bytes().to_vec())
                    .with("tls.key", ca.key_pem().expose_secret().as_bytes().to_vec()),
            );
        }
        out.push(
            self.secret(secret_name(&self.cluster, "sa"), "Opaque")
                .with("tls.crt", self.sa.public_pem().into_bytes())
                .with(
                    "tls.key",
                    self.sa.key_pem().expose_secret().as_bytes().to_vec(),
                ),
        );
        for (name, k) in &self.kubeconfigs {
            out.push(
                self.secret(kubeconfig_secret_name(&self.cluster, name), "Opaque")
                    .with("value", k.yaml.expose_secret().clone()),
            );
        }
        out
    }

    /// Inventory entries: `ca/cluster|etcd|proxy`, `sa-key/sa`, `kubeconfig/<name>`.
    pub fn credentials(&self, created: &str) -> Vec<Credential> {
        let cert = |kind: CredentialKind, id: &str, secret: String, f: &CertFacts| Credential {
            kind,
            id: id.into(),
            subject: Some(f.subject.clone()),
            fingerprint: f.fingerprint.clone(),
            not_before: Some(rfc3339(f.not_before)),
            not_after: Some(rfc3339(f.not_after)),
            created: created.into(),
            rotated: None,
            file: None,
            // The Secret holding it; ops knows the installation and so the file path.
            extra: BTreeMap::from([("secret".to_owned(), secret)]),
        };
        let mut out: Vec<Credential> = self
            .cas()
            .iter()
            .map(|(purpose, id, ca)| {
                cert(
                    CredentialKind::Ca,
                    id,
                    secret_name(&self.cluster, purpose),
                    ca.facts(),
                )
            })
            .collect();
        out.push(Credential {
            subject: Some(format!(
                "{} service-account signing key",
                self.sa.0.describe()
            )),
            fingerprint: self.sa.fingerprint(),
            not_before: None,
            not_after: None,
            ..cert(
                CredentialKind::SaKey,
                "sa",
                secret_name(&self.cluster, "sa"),
                self.cluster_ca.facts(),
            )
        });
        out.extend(self.kubeconfigs.iter().map(|(name, k)| {
            let secret = kubeconfig_secret_name(&self.cluster, name);
            cert(CredentialKind::Kubeconfig, name, secret, &k.facts)
        }));
        out
    }

    /// Loads the PKI from its decrypted Secrets (any order; other secrets are ignored).
    /// The CAs are checked as [`import_ca`] checks them, at `now`.
    pub fn from_secrets(
        cluster: &str,
        namespace: &str,
        secrets: &[Secret],
        now: OffsetDateTime,
    ) -> Result<ClusterPki, Error> {
        let find = |name: String| {
            secrets
                .iter()
                .find(|s| s.name == name)
                .ok_or(Error::MissingSecret { name })
        };
        let data = |s: &Secret, key: &str| -> Result<SecretString, Error> {
            let v = s.data.get(key).ok_or_else(|| Error::MissingData {
                name: s.name.clone(),
                key: key.into(),
            })?;
            Ok(SecretString::from(
                String::from_utf8_lossy(v.expose_secret()).into_owned(),
            ))
        };
        let ca = |purpose: &str| -> Result<Ca, Error> {
            let s = find(secret_name(cluster, purpose))?;
            let crt = data(s, "tls.crt")?;
            Ca::from_pem(&s.name, crt.expose_secret(), &data(s, "tls.key")?, now)
        };
        let sa_secret = find(secret_name(cluster, "sa"))?;
        let sa = SaKey(Key::from_pem(
            &sa_secret.name,
            data(sa_secret, "tls.key")?.expose_secret(),
        )?);
        let public =
            pem::parse(data(sa_secret, "tls.crt")?.expose_secret()).map_err(|e| Error::Pem {
                what: sa_secret.name.clone(),
                reason: e.to_string(),
            })?;
        if public.contents() != sa.0.public_der().as_slice() {
            return Err(Error::KeyMismatch {
                what: sa_secret.name.clone(),
                fingerprint: fingerprint(public.contents()),
            });
        }
        let mut kubeconfigs = BTreeMap::new();
        let legacy_admin = capi_kubeconfig_secret_name(cluster);
        let user_prefix = format!("{legacy_admin}-");
        let has_admin = secrets
            .iter()
            .any(|s| s.name == kubeconfig_secret_name(cluster, "admin"));
        for s in secrets {
            let name = if let Some(n) = s.name.strip_prefix(&user_prefix) {
                n
            } else if s.name == legacy_admin && !has_admin {
                "admin"
            } else {
                continue;
            };
            let value = s.data.get("value").ok_or_else(|| Error::MissingData {
                name: s.name.clone(),
                key: "value".into(),
            })?;
            kubeconfigs.insert(
                name.to_owned(),
                kubeconfig::load(name, &s.name, value.expose_secret())?,
            );
        }
        Ok(ClusterPki {
            cluster: cluster.to_owned(),
            namespace: namespace.to_owned(),
            cluster_ca: ca("ca")?,
            etcd_ca: ca("etcd")?,
            proxy_ca: ca("proxy")?,
            sa,
            kubeconfigs,
        })
    }
}

#[derive(Deserialize)]
struct SecretFile {
    metadata: SecretMeta,
    #[serde(default, rename = "type")]
    type_: Option<String>,
    #[serde(default)]
    data: BTreeMap<String, String>,
}
#[derive(Deserialize)]
struct SecretMeta {
    name: String,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

/// Parses a decrypted Secret manifest (`data:` values base64). `what` names it in errors.
pub fn parse_secret(what: &str, yaml: &SecretBox<Vec<u8>>) -> Result<Secret, Error> {
    let bad = |reason: String| Error::SecretYaml {
        what: what.to_owned(),
        reason,
    };
    let text = std::str::from_utf8(yaml.expose_secret()).map_err(|_| bad("not UTF-8".into()))?;
    let f: SecretFile = serde_saphyr::from_str(text).map_err(|e| bad(yaml_reason(&e)))?;
    let mut s = Secret::new(
        f.metadata.name,
        f.metadata.namespace.unwrap_or_default(),
        f.type_.unwrap_or_else(|| "Opaque".into()),
    );
    s.labels = f.metadata.labels;
    s.annotations = f.metadata.annotations;
    for (k, v) in f.data {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(v.trim())
            .map_err(|_| bad(format!("data.{k} is not base64")))?;
        s = s.with(k, bytes);
    }
    Ok(s)
}

/// A YAML error without serde-saphyr's source snippet, which would quote secret values.
fn yaml_reason(e: &serde_saphyr::Error) -> String {
    e.without_snippet().to_string()
}

#[cfg(test)]
mod tests;
