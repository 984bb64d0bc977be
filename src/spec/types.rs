//! The spec's serde types. Keys are camelCase like Kubernetes; every optional field has a
//! default here, so the rest of mcb reads one resolved value.
//!
//! Size: a table, one struct per spec section with its defaults, mirrored field for field in
//! `schemas/installation.schema.json`; the logic is in `validate.rs`, `provider.rs`, `oidc.rs`.

use std::borrow::Cow;
use std::collections::BTreeMap;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};

use super::oidc::{Oidc, SharedKeyRef};
use super::provider::Provider;

/// A check failure: (YAML path, message, hint).
pub(crate) type Invalid = (String, String, String);

/// A DNS-1123 label: lowercase letters, digits and `-`, at most 63, starting and ending
/// alphanumeric. Names of installations, organizations and connectors.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Name(String);

impl Name {
    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Name {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if is_dns1123_label(&s) {
            Ok(Name(s))
        } else {
            Err(format!(
                "invalid name {s:?}: must be a DNS-1123 label (lowercase a-z, 0-9 and '-', \
                 1 to 63 characters, starting and ending with a letter or digit)"
            ))
        }
    }
}

impl From<Name> for String {
    fn from(n: Name) -> String {
        n.0
    }
}

impl JsonSchema for Name {
    fn schema_name() -> Cow<'static, str> {
        "Name".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schemars::json_schema!({
            "description": "A DNS-1123 label.",
            "type": "string",
            "minLength": 1,
            "maxLength": 63,
            "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
        })
    }
}

/// Whether `s` is a DNS-1123 label.
pub fn is_dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// Whether `s` is a valid key of a Secret's `data` (`[-._a-zA-Z0-9]+`, at most 253).
pub fn is_secret_key(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
        && s != "."
        && s != ".."
}

/// Whether `s` is a DNS-1123 subdomain (dot-separated labels, at most 253).
pub fn is_dns1123_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns1123_label)
}

/// The fixed `apiVersion`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ApiVersion {
    /// the first version
    #[serde(rename = "mcb/v1alpha1")]
    V1Alpha1,
}

/// The fixed `kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Kind {
    /// the only kind
    Installation,
}

/// One management cluster installation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(title = "mcb Installation")]
pub struct Installation {
    /// `mcb/v1alpha1`
    pub api_version: ApiVersion,
    /// `Installation`
    pub kind: Kind,
    /// The installation and its cluster's name (DNS-1123 label).
    pub name: Name,
    /// DNS domain under which the installation's endpoints live (`api.`, `dex.`…).
    pub base_domain: String,
    /// The infrastructure provider and its settings: exactly one of capa, capz, capv,
    /// openstack, cloud-director.
    pub provider: Provider,
    /// The Kubernetes API server endpoint.
    #[serde(default)]
    pub api_server: ApiServer,
    /// Kubernetes version of the cluster (`v1.33.4`); mcb supports 1.28 to 1.37.
    #[serde(default = "default_kubernetes_version")]
    pub kubernetes_version: String,
    /// The pre-generated PKI (CAs, kubeconfig client certificates).
    #[serde(default, skip_serializing_if = "Pki::is_default")]
    pub pki: Pki,
    /// Control plane machines.
    #[serde(default = "default_control_plane")]
    pub control_plane: NodePool,
    /// Worker machines.
    #[serde(default = "default_workers")]
    pub workers: NodePool,
    /// Where the Cluster API objects live and the cluster's pod and service networks.
    #[serde(default)]
    pub cluster: ClusterSettings,
    /// The Flux install.
    #[serde(default)]
    pub flux: Flux,
    /// The config repo Flux syncs from.
    pub git: Git,
    /// SOPS recipients besides the installation's own key.
    #[serde(default)]
    pub sops: Sops,
    /// OIDC (Dex) settings.
    #[serde(default)]
    pub oidc: Oidc,
    /// The GitHub App used by Flux (with `git.auth: github-app`) and by mcb.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github_app: Option<GithubApp>,
    /// Organizations (tenants): each a Namespace `org-<name>` whose RoleBindings give the
    /// organization's OIDC groups their roles.
    #[serde(default)]
    pub organizations: Vec<Organization>,
    /// Also render each organization as a `security.giantswarm.io/v1alpha1` Organization
    /// for a cluster that runs an organization operator. Its CRD must be in the config repo
    /// (a template under `templates/manifests/`), or rendering is refused.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub organization_custom_resources: bool,
    /// How endpoints (Dex's issuer) are exposed: ingress class and certificate issuer.
    #[serde(default)]
    pub ingress: Ingress,
    /// Extra values for templates, under `values.` in every template.
    #[serde(default)]
    pub values: BTreeMap<String, serde_json::Value>,
    /// Shared secrets (`mcb shared import NAME`) placed as Secrets in this installation's
    /// tree: a name, or `{name, namespace, secretName, type, keys: {from: to}}`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shared_secrets: Vec<SharedSecretRef>,
    /// When credentials are due for `mcb rotate` (and `--due-within`).
    #[serde(default, skip_serializing_if = "Rotation::is_default")]
    pub rotation: Rotation,
}

/// When credentials are due for rotation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rotation {
    /// The longest a credential of each kind may go unrotated, as a number and a unit
    /// (`h`, `d`, `w`): due when it was created or last rotated longer ago, or when it
    /// expires, whichever comes first.
    #[serde(default, skip_serializing_if = "MaxAge::is_default")]
    pub max_age: MaxAge,
}

impl Rotation {
    fn is_default(&self) -> bool {
        self == &Rotation::default()
    }
}

/// Maximum age per credential kind; unset kinds take the default named on each.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct MaxAge {
    /// Kubeconfig client certificates [default: `365d`, their validity].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubeconfig: Option<Age>,
    /// OIDC client secrets (Dex static and registered clients) [default: `180d`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc_client: Option<Age>,
    /// Flux's SSH deploy key [default: `365d`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploy_key: Option<Age>,
    /// The GitHub App's private key [default: `365d`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github_app: Option<Age>,
    /// The installation's SOPS age key [default: `730d`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_key: Option<Age>,
    /// The cluster, etcd and front-proxy CAs [default: none: due only by expiry (10 years)].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<Age>,
}

impl MaxAge {
    fn is_default(&self) -> bool {
        self == &MaxAge::default()
    }

    /// The maximum age of inventory kind `kind` (the spec's, else the default); None: the
    /// kind is due only when it expires.
    pub fn of(&self, kind: crate::inventory::CredentialKind) -> Option<time::Duration> {
        let days = time::Duration::days;
        use crate::inventory::CredentialKind;
        let (set, default) = match kind {
            CredentialKind::Kubeconfig => (&self.kubeconfig, Some(days(365))),
            CredentialKind::OidcClient => (&self.oidc_client, Some(days(180))),
            CredentialKind::DeployKey => (&self.deploy_key, Some(days(365))),
            CredentialKind::GithubApp => (&self.github_app, Some(days(365))),
            CredentialKind::AgeKey => (&self.age_key, Some(days(730))),
            CredentialKind::Ca => (&self.ca, None),
            // not rotated (sa-key), or listed only until it expires (superseded)
            CredentialKind::SaKey | CredentialKind::KubeconfigSuperseded => return None,
        };
        set.as_ref().map(Age::duration).or(default)
    }
}

/// A duration as a number and a unit: `12h`, `30d`, `2w`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Age(String, time::Duration);

impl Age {
    /// Parses `12h`, `30d`, `2w` (also `90m` where minutes make sense).
    pub fn parse(s: &str) -> Result<time::Duration, String> {
        let bad = || format!("{s:?}: expected a number and a unit (m, h, d, w), e.g. 30d");
        let unit = s.chars().last().ok_or_else(bad)?;
        let n: i64 = s[..s.len() - unit.len_utf8()].parse().map_err(|_| bad())?;
        if n < 0 {
            return Err(bad());
        }
        Ok(match unit {
            'm' => time::Duration::minutes(n),
            'h' => time::Duration::hours(n),
            'd' => time::Duration::days(n),
            'w' => time::Duration::weeks(n),
            _ => return Err(bad()),
        })
    }

    /// The duration.
    pub fn duration(&self) -> time::Duration {
        self.1
    }
}

impl TryFrom<String> for Age {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let d = Age::parse(&s)?;
        if d <= time::Duration::ZERO {
            return Err(format!("{s:?}: a maximum age must be more than zero"));
        }
        Ok(Age(s, d))
    }
}

impl From<Age> for String {
    fn from(a: Age) -> String {
        a.0
    }
}

impl JsonSchema for Age {
    fn schema_name() -> Cow<'static, str> {
        "Age".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schemars::json_schema!({
            "description": "A duration: a number and a unit (m, h, d, w), e.g. 90d.",
            "type": "string",
            "pattern": "^[0-9]*[1-9][0-9]*[mhdw]$"
        })
    }
}

/// One shared secret an installation uses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum SharedSecretRef {
    /// Just the name: Secret `<name>` in namespace `default`, every key as it is.
    Name(Name),
    /// Where to put it and which keys.
    Mapped(SharedSecretMapping),
}

/// Where a shared secret goes in the cluster and which of its keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SharedSecretMapping {
    /// The shared secret (`shared/secrets/<name>.sops.yaml`).
    pub name: Name,
    /// Namespace of the Secret [default: `default`]; it must exist when Flux applies
    /// `secrets/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<Name>,
    /// Name of the Secret [default: the shared secret's name].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
    /// The Secret's `type` [default: `Opaque`], e.g. `kubernetes.io/dockerconfigjson`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    /// Keys to place, `{shared key: Secret key}`; only these [default: every key, same name].
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub keys: BTreeMap<String, String>,
}

impl SharedSecretRef {
    /// The shared secret's name.
    pub fn name(&self) -> &Name {
        match self {
            SharedSecretRef::Name(n) => n,
            SharedSecretRef::Mapped(m) => &m.name,
        }
    }

    /// The mapping with every default filled in except `keys` (empty: all keys).
    pub fn mapping(&self) -> SharedSecretMapping {
        let mut m = match self {
            SharedSecretRef::Name(n) => SharedSecretMapping {
                name: n.clone(),
                namespace: None,
                secret_name: None,
                type_: None,
                keys: BTreeMap::new(),
            },
            SharedSecretRef::Mapped(m) => m.clone(),
        };
        m.namespace.get_or_insert_with(|| Name("default".into()));
        m.secret_name
            .get_or_insert_with(|| m.name.as_str().to_owned());
        m.type_.get_or_insert_with(|| "Opaque".into());
        m
    }
}

pub(super) fn default_kubernetes_version() -> String {
    "v1.33.4".into()
}
pub(super) fn default_control_plane() -> NodePool {
    NodePool { replicas: 3 }
}
pub(super) fn default_workers() -> NodePool {
    NodePool { replicas: 3 }
}

/// The API server endpoint.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApiServer {
    /// Host name or IP [default: `api.<baseDomain>`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Port [default: 6443].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub port: Option<u16>,
}

/// The Cluster API cluster's namespace and networks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterSettings {
    /// Namespace of the Cluster API objects and of the cluster's CA, etcd, proxy, sa and
    /// kubeconfig Secrets [default: `default`]. Fixed once the cluster exists.
    #[serde(default = "default_cluster_namespace")]
    pub namespace: Name,
    /// Pod network CIDRs (`Cluster.spec.clusterNetwork.pods`) [default: `192.168.0.0/16`].
    #[serde(default = "default_pod_cidrs")]
    pub pod_cidrs: Vec<String>,
    /// Service network CIDRs (`Cluster.spec.clusterNetwork.services`)
    /// [default: `10.96.0.0/12`].
    #[serde(default = "default_service_cidrs")]
    pub service_cidrs: Vec<String>,
}
impl Default for ClusterSettings {
    fn default() -> Self {
        ClusterSettings {
            namespace: default_cluster_namespace(),
            pod_cidrs: default_pod_cidrs(),
            service_cidrs: default_service_cidrs(),
        }
    }
}
pub(super) fn default_cluster_namespace() -> Name {
    Name("default".into())
}
pub(super) fn default_pod_cidrs() -> Vec<String> {
    vec!["192.168.0.0/16".into()]
}
pub(super) fn default_service_cidrs() -> Vec<String> {
    vec!["10.96.0.0/12".into()]
}

/// Whether `s` is an IPv4 or IPv6 CIDR block (`10.96.0.0/12`, `fd00::/108`).
pub(super) fn is_cidr(s: &str) -> bool {
    let Some((ip, bits)) = s.split_once('/') else {
        return false;
    };
    let Ok(bits) = bits.parse::<u8>() else {
        return false;
    };
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) => bits <= 32,
        Ok(std::net::IpAddr::V6(_)) => bits <= 128,
        Err(_) => false,
    }
}

/// A group of machines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodePool {
    /// Number of machines (at least 1).
    #[schemars(range(min = 1))]
    pub replicas: u32,
}

/// The pre-generated PKI.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Pki {
    /// Key type of the three CAs and the kubeconfig client certificates [default:
    /// `ecdsa-p256`]. The service-account key is always RSA (3072/4096 when chosen here,
    /// else 2048), as every kube-apiserver accepts it.
    #[serde(default)]
    pub key_type: CaKeyType,
}

impl Pki {
    fn is_default(&self) -> bool {
        self == &Pki::default()
    }
}

/// A key type kubeadm can use for a CA (RSA or ECDSA; not Ed25519).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CaKeyType {
    /// ECDSA P-256 (kubeadm's `ECDSA-P256`): small and fast.
    #[default]
    EcdsaP256,
    /// ECDSA P-384 (kubeadm's `ECDSA-P384`).
    EcdsaP384,
    /// RSA 2048 bits (kubeadm's default `RSA-2048`).
    Rsa2048,
    /// RSA 3072 bits.
    Rsa3072,
    /// RSA 4096 bits.
    Rsa4096,
}

impl From<CaKeyType> for crate::pki::KeyType {
    fn from(k: CaKeyType) -> Self {
        use crate::pki::KeyType;
        match k {
            CaKeyType::EcdsaP256 => KeyType::EcdsaP256,
            CaKeyType::EcdsaP384 => KeyType::EcdsaP384,
            CaKeyType::Rsa2048 => KeyType::Rsa2048,
            CaKeyType::Rsa3072 => KeyType::Rsa3072,
            CaKeyType::Rsa4096 => KeyType::Rsa4096,
        }
    }
}

/// The Flux install.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Flux {
    /// Flux release whose upstream install mcb ships (`vendor/flux/<version>/`): v2.9.0
    /// (default), v2.8.8 or v2.4.0.
    #[serde(default = "default_flux_version")]
    pub version: String,
}
impl Default for Flux {
    fn default() -> Self {
        Flux {
            version: default_flux_version(),
        }
    }
}
pub(super) fn default_flux_version() -> String {
    crate::flux::DEFAULT_VERSION.into()
}

/// The config repo Flux syncs from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Git {
    /// Clone URL: `ssh://git@github.com/org/repo` for deploy keys, `https://…` for a GitHub App.
    pub url: String,
    /// Branch Flux follows.
    #[serde(default = "default_branch")]
    pub branch: String,
    /// How Flux authenticates.
    #[serde(default)]
    pub auth: GitAuth,
}
pub(super) fn default_branch() -> String {
    "main".into()
}

/// How Flux authenticates to the config repo.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum GitAuth {
    /// SSH deploy key (Secret `flux-system` with `identity`, `known_hosts`)
    #[default]
    Ssh,
    /// GitHub App (Secret `flux-system` with `githubAppID`, …; needs `githubApp`)
    GithubApp,
}

/// SOPS recipients.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Sops {
    /// age recipients (`age1…`) of admins and teams who may decrypt every secret.
    #[serde(default)]
    #[schemars(inner(regex(pattern = r"^age1[02-9ac-hj-np-z]{58}$")))]
    pub recipients: Vec<String>,
}

/// The GitHub App.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GithubApp {
    /// Organization or user owning the app.
    pub owner: String,
    /// App id, once created or imported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_id: Option<u64>,
    /// Installation id on the config repo's owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installation_id: Option<u64>,
}

/// An organization (tenant).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Organization {
    /// Name (DNS-1123 label); its namespace is `org-<name>`.
    pub name: Name,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// OIDC groups (the `groups` claim Dex issues, e.g. `example:team-a` for a GitHub team)
    /// and the ClusterRole each gets in the organization's namespace.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<GroupRole>,
}

/// An OIDC group and its role in an organization's namespace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GroupRole {
    /// The group as the API server sees it (no prefix is configured).
    pub name: String,
    /// ClusterRole bound in the namespace: `admin`, `edit`, `view` or your own.
    pub role: String,
}

/// How endpoints are exposed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Ingress {
    /// `ingressClassName` of every Ingress [default: `nginx`].
    #[serde(default = "default_ingress_class")]
    pub class_name: String,
    /// The cert-manager issuer of their certificates [default: ClusterIssuer `letsencrypt`].
    #[serde(default)]
    pub issuer: CertIssuer,
}
impl Default for Ingress {
    fn default() -> Self {
        Ingress {
            class_name: default_ingress_class(),
            issuer: CertIssuer::default(),
        }
    }
}
pub(super) fn default_ingress_class() -> String {
    "nginx".into()
}

/// A cert-manager issuer reference (`issuerRef` of a Certificate). mcb does not create it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CertIssuer {
    /// `ClusterIssuer` or `Issuer` (in the certificate's namespace).
    #[serde(default)]
    pub kind: IssuerKind,
    /// Its name.
    #[serde(default = "default_issuer_name")]
    pub name: String,
}
impl Default for CertIssuer {
    fn default() -> Self {
        CertIssuer {
            kind: IssuerKind::default(),
            name: default_issuer_name(),
        }
    }
}
pub(super) fn default_issuer_name() -> String {
    "letsencrypt".into()
}

/// The kind of a cert-manager issuer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum IssuerKind {
    /// cluster-wide
    #[default]
    ClusterIssuer,
    /// namespaced
    Issuer,
}

impl Installation {
    /// The API server host.
    pub fn api_endpoint(&self) -> String {
        self.api_server
            .endpoint
            .clone()
            .unwrap_or_else(|| format!("api.{}", self.base_domain))
    }

    /// The API server port.
    pub fn api_port(&self) -> u16 {
        self.api_server.port.unwrap_or(6443)
    }

    /// Dex's issuer URL.
    pub fn oidc_issuer(&self) -> String {
        self.oidc
            .issuer
            .clone()
            .unwrap_or_else(|| format!("https://dex.{}", self.base_domain))
    }

    /// The host of Dex's issuer URL (`dex.<baseDomain>` by default), for its Ingress and
    /// certificate; `None` when the URL is not https or has no host.
    pub fn oidc_issuer_host(&self) -> Option<String> {
        let u = url::Url::parse(&self.oidc_issuer()).ok()?;
        (u.scheme() == "https")
            .then(|| u.host_str().map(str::to_owned))
            .flatten()
    }

    /// The `sharedSecrets` mapping of shared secret `name`, if the spec lists it.
    pub fn shared_mapping(&self, name: &Name) -> Option<SharedSecretMapping> {
        self.shared_secrets
            .iter()
            .find(|s| s.name() == name)
            .map(SharedSecretRef::mapping)
    }

    /// Where a connector's shared client secret lands: (Secret name, key) in namespace
    /// `dex`, after the mapping's renaming. `None` when the spec does not place it there.
    pub fn shared_key_target(&self, r: &SharedKeyRef) -> Option<(String, String)> {
        let m = self.shared_mapping(&r.shared_secret)?;
        if m.namespace.as_ref().map(Name::as_str) != Some("dex") {
            return None;
        }
        let key = if m.keys.is_empty() {
            r.key.clone()
        } else {
            m.keys.get(&r.key)?.clone()
        };
        Some((m.secret_name.unwrap_or_default(), key))
    }

    pub(super) fn check_shared_key(&self, r: &SharedKeyRef, at: &str) -> Result<(), Invalid> {
        let name = r.shared_secret.as_str();
        let Some(m) = self.shared_mapping(&r.shared_secret) else {
            return Err((
                format!("{at}.sharedSecret"),
                format!("shared secret {name:?} is not listed in sharedSecrets"),
                format!("add `{{name: {name}, namespace: dex}}` to sharedSecrets"),
            ));
        };
        if !is_secret_key(&r.key) {
            return Err((
                format!("{at}.key"),
                format!("{:?} is not a valid Secret key", r.key),
                "use letters, digits, '-', '_' and '.'".into(),
            ));
        }
        if self.shared_key_target(r).is_none() {
            let why = if m.namespace.as_ref().map(Name::as_str) != Some("dex") {
                format!(
                    "sharedSecrets places {name:?} in namespace {:?}, not dex",
                    m.namespace.map(String::from).unwrap_or_default()
                )
            } else {
                format!(
                    "the sharedSecrets mapping of {name:?} does not place key {:?}",
                    r.key
                )
            };
            return Err((
                format!("{at}.sharedSecret"),
                why,
                format!("set `namespace: dex` on sharedSecrets entry {name}, and list `{}` in its keys if it has any", r.key),
            ));
        }
        Ok(())
    }

    /// `(major, minor)` of `kubernetesVersion` (checked to be `vX.Y.Z` by `check`;
    /// `(0, 0)` before that).
    pub fn kubernetes_major_minor(&self) -> (u32, u32) {
        let mut parts = self
            .kubernetes_version
            .trim_start_matches('v')
            .split('.')
            .map(|p| p.parse::<u32>().unwrap_or(0));
        (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
    }

    /// The minor version of `kubernetesVersion` (`33` for `v1.33.4`).
    pub fn kubernetes_minor(&self) -> u32 {
        self.kubernetes_major_minor().1
    }
}
