//! Kubeconfigs with an embedded client certificate signed by the cluster CA, in the layout
//! Cluster API writes (`util/kubeconfig/kubeconfig.go` `New`): cluster `<cluster>`, user
//! `<cluster>-<user>`, context `<cluster>-<user>@<cluster>`, all data inline (base64).

use base64::Engine;
use secrecy::{ExposeSecret, SecretBox, SecretString};
use serde::Deserialize;
use time::Duration;

use super::cert::{facts_of_pem, Ca, CertFacts, LeafParams, Usage};
use super::key::{Key, KeyType};
use super::Error;
use crate::k8s::quote;
use crate::Env;

/// Who a kubeconfig is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserParams {
    /// Short name: the inventory id and the secret suffix (`admin`, `ci`, `alice`).
    pub name: String,
    /// Certificate CN: the Kubernetes user name.
    pub common_name: String,
    /// Certificate O values: the Kubernetes groups.
    pub organizations: Vec<String>,
    /// Lifetime; `None` means the installation's leaf validity.
    pub validity: Option<Duration>,
}

/// The Kubernetes minor versions mcb makes a PKI for (1.28 to 1.37): the admin identity
/// below is known for each, and kubeadm of these versions reads the CAPI secret shapes.
pub const KUBERNETES_MINORS: std::ops::RangeInclusive<u32> = 28..=37;

/// The group kubeadm binds to `cluster-admin` for the admin kubeconfig of a Kubernetes
/// 1.`minor` cluster: from 1.29 kubeadm creates a ClusterRoleBinding for
/// `kubeadm:cluster-admins` (and keeps `system:masters` for its break-glass
/// `super-admin.conf`); before 1.29 no such binding exists and admin.conf uses
/// `system:masters`, which the API server grants everything without any binding.
pub fn admin_group(minor: u32) -> &'static str {
    if minor >= 29 {
        "kubeadm:cluster-admins"
    } else {
        "system:masters"
    }
}

impl UserParams {
    /// kubeadm's admin identity for a Kubernetes 1.`kubernetes_minor` cluster:
    /// `CN=kubernetes-admin, O=<admin_group>`.
    pub fn admin(kubernetes_minor: u32) -> Self {
        UserParams {
            name: "admin".into(),
            common_name: "kubernetes-admin".into(),
            organizations: vec![admin_group(kubernetes_minor).into()],
            validity: None,
        }
    }
}

/// A finished kubeconfig: the YAML (secret: it holds the client key) and the cert's facts.
pub struct Kubeconfig {
    /// The user's short name.
    pub name: String,
    /// The kubeconfig file.
    pub yaml: SecretBox<Vec<u8>>,
    /// The client certificate's facts.
    pub facts: CertFacts,
}

impl std::fmt::Debug for Kubeconfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kubeconfig")
            .field("name", &self.name)
            .field("facts", &self.facts)
            .finish()
    }
}

/// Issues a client certificate for `user` from `ca` and wraps it in a kubeconfig for `server`.
pub fn kubeconfig(
    env: &Env,
    ca: &Ca,
    cluster: &str,
    server: &str,
    user: &UserParams,
    validity: Duration,
    key_type: KeyType,
) -> Result<Kubeconfig, Error> {
    let key = Key::generate(env, key_type)?;
    with_key(env, ca, cluster, server, user, validity, (key_type, key))
}

/// As [`kubeconfig`], with the client key already made (`key_type` is the key's type).
pub(crate) fn with_key(
    env: &Env,
    ca: &Ca,
    cluster: &str,
    server: &str,
    user: &UserParams,
    validity: Duration,
    (key_type, key): (KeyType, Key),
) -> Result<Kubeconfig, Error> {
    let mut leaf = LeafParams::new(&user.common_name, Usage::Client, key_type);
    leaf.organizations = user.organizations.clone();
    // Client certificates cannot be revoked: a distinct subject per issued one tells them
    // apart in audit logs and in `mcb status` while an old one is still valid.
    leaf.subject_serial = true;
    leaf.validity = user.validity.unwrap_or(validity);
    let leaf = ca.issue_with_key(env, &leaf, key)?;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let user_name = format!("{cluster}-{}", user.name);
    let context = format!("{user_name}@{cluster}");
    let key_b64 = SecretString::from(b64(leaf.key_pem.expose_secret()));
    let yaml = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    certificate-authority-data: {ca}\n    server: {server}\n  name: {cluster}\ncontexts:\n- context:\n    cluster: {cluster}\n    user: {user}\n  name: {context}\ncurrent-context: {context}\npreferences: {{}}\nusers:\n- name: {user}\n  user:\n    client-certificate-data: {cert}\n    client-key-data: {key}\n",
        ca = b64(ca.cert_pem()),
        server = quote(server),
        cluster = quote(cluster),
        user = quote(&user_name),
        context = quote(&context),
        cert = b64(&leaf.cert_pem),
        key = key_b64.expose_secret(),
    );
    Ok(Kubeconfig {
        name: user.name.clone(),
        yaml: SecretBox::new(Box::new(yaml.into_bytes())),
        facts: leaf.facts,
    })
}

#[derive(Deserialize)]
struct KubeconfigFile {
    #[serde(default)]
    users: Vec<NamedUser>,
}
#[derive(Deserialize)]
struct NamedUser {
    user: UserEntry,
}
#[derive(Deserialize)]
struct UserEntry {
    #[serde(rename = "client-certificate-data")]
    client_certificate_data: Option<String>,
}

/// Reads an existing kubeconfig back (to list its client cert in the inventory).
pub fn load(name: &str, what: &str, yaml: &[u8]) -> Result<Kubeconfig, Error> {
    let bad = |reason: String| Error::Kubeconfig {
        what: what.to_owned(),
        reason,
    };
    let text = std::str::from_utf8(yaml).map_err(|_| bad("not UTF-8".into()))?;
    let file: KubeconfigFile =
        serde_saphyr::from_str(text).map_err(|e| bad(super::yaml_reason(&e)))?;
    let data = file
        .users
        .iter()
        .find_map(|u| u.user.client_certificate_data.as_deref())
        .ok_or_else(|| bad("no user with client-certificate-data".into()))?;
    let pem = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|e| bad(format!("client-certificate-data is not base64: {e}")))?;
    let pem = String::from_utf8(pem).map_err(|_| bad("client certificate is not PEM".into()))?;
    Ok(Kubeconfig {
        name: name.to_owned(),
        yaml: SecretBox::new(Box::new(yaml.to_vec())),
        facts: facts_of_pem(what, &pem)?,
    })
}
