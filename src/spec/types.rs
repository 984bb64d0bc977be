//! The spec's serde types. Keys are camelCase like Kubernetes; every optional field has a
//! default here, so the rest of mcb reads one resolved value.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};

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

fn default_kubernetes_version() -> String {
    "v1.33.4".into()
}
fn default_control_plane() -> NodePool {
    NodePool { replicas: 3 }
}
fn default_workers() -> NodePool {
    NodePool { replicas: 3 }
}

/// The infrastructure provider (Cluster API infrastructure provider) and its settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum Provider {
    /// AWS (CAPA)
    Capa(Capa),
    /// Azure (CAPZ)
    Capz(Capz),
    /// vSphere (CAPV)
    Capv(Capv),
    /// OpenStack (CAPO)
    Openstack(Openstack),
    /// VMware Cloud Director (CAPVCD)
    CloudDirector(CloudDirector),
}

impl Provider {
    /// The provider's key in the spec (`capa`, `cloud-director`…), also its template dir.
    pub fn id(&self) -> &'static str {
        match self {
            Provider::Capa(_) => "capa",
            Provider::Capz(_) => "capz",
            Provider::Capv(_) => "capv",
            Provider::Openstack(_) => "openstack",
            Provider::CloudDirector(_) => "cloud-director",
        }
    }
}

/// AWS settings. Credentials: Secret `capa-variables` in `capa-system` with key
/// `AWS_B64ENCODED_CREDENTIALS` (`clusterawsadm bootstrap credentials encode-as-profile`),
/// read by the Cluster API Operator; from shared secret `aws-credentials` or
/// `secrets/capa-variables.sops.yaml`. Endpoint: a DNS record `api.<baseDomain>` (CNAME or
/// alias) to the API server load balancer CAPA creates (docs/providers.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Capa {
    /// AWS region (`eu-central-1`).
    pub region: String,
    /// EC2 instance type of control plane and workers.
    #[serde(default = "default_capa_instance")]
    pub instance_type: String,
    /// EC2 key pair for SSH access [default: none; CAPA would otherwise use a key pair
    /// named `default`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_key_name: Option<String>,
}
fn default_capa_instance() -> String {
    "m6i.xlarge".into()
}

/// How CAPZ authenticates to Azure (`AzureClusterIdentity.spec.type`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum AzureIdentityType {
    /// a service principal with a client secret (Secret `<identityName>-secret`, key
    /// `clientSecret`)
    #[default]
    ServicePrincipal,
    /// Azure workload identity federation (no secret)
    WorkloadIdentity,
    /// a user-assigned managed identity of the management cluster's VMs (no secret)
    UserAssignedMSI,
}

/// Azure settings. Credentials: an `AzureClusterIdentity` (rendered) of `identityType`; for
/// a service principal its secret in Secret `<identityName>-secret` (key `clientSecret`),
/// from shared secret `azure-credentials` or `secrets/<identityName>-secret.sops.yaml`.
/// Endpoint: the API load balancer's public IP gets the DNS label `apiDnsLabel`; point
/// `api.<baseDomain>` at `<apiDnsLabel>.<location>.cloudapp.azure.com` (CNAME).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Capz {
    /// Azure location (`westeurope`).
    pub location: String,
    /// Subscription ID.
    pub subscription_id: String,
    /// Resource group [default: the installation name].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_group: Option<String>,
    /// VM size of control plane and workers.
    #[serde(default = "default_capz_vm")]
    pub vm_size: String,
    /// Name of the AzureClusterIdentity mcb renders.
    #[serde(default = "default_capz_identity")]
    pub identity_name: String,
    /// How CAPZ authenticates.
    #[serde(default)]
    pub identity_type: AzureIdentityType,
    /// Client (application) ID of the service principal or managed identity.
    #[serde(default, rename = "clientID", skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Entra ID tenant ID.
    #[serde(default, rename = "tenantID", skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// DNS label of the API server's public IP (unique in the location)
    /// [default: `<name>-apiserver`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_dns_label: Option<String>,
}
fn default_capz_vm() -> String {
    "Standard_D4s_v5".into()
}
fn default_capz_identity() -> String {
    "cluster-identity".into()
}

/// vSphere settings. Credentials: Secret `capv-variables` in `capv-system` with keys
/// `VSPHERE_USERNAME`, `VSPHERE_PASSWORD` (read by the Cluster API Operator; CAPV's
/// default identity), and for the cloud provider in the cluster a ClusterResourceSet Secret
/// `<name>-vsphere-cpi` (docs/providers.md). Endpoint: kube-vip announces `controlPlaneIP`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Capv {
    /// vCenter host name.
    pub server: String,
    /// TLS thumbprint of vCenter (SHA-256, `AA:BB:…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbprint: Option<String>,
    /// Datacenter.
    pub datacenter: String,
    /// Datastore.
    pub datastore: String,
    /// Network (port group).
    pub network: String,
    /// VM template to clone.
    pub template: String,
    /// VM folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folder: Option<String>,
    /// Resource pool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_pool: Option<String>,
    /// The API server's virtual IP, announced by kube-vip on the control plane nodes: a
    /// free address on `network`, outside its DHCP range. `api.<baseDomain>` must resolve
    /// to it (or set `apiServer.endpoint` to it).
    #[serde(rename = "controlPlaneIP")]
    pub control_plane_ip: String,
    /// Network interface kube-vip uses [default: the one with the default route].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vip_interface: Option<String>,
}

/// OpenStack settings. Credentials: Secret `<name>-cloud-config` (keys `clouds.yaml`,
/// optional `cacert`) for CAPO, and a ClusterResourceSet Secret `<name>-openstack-ccm` for
/// the cloud controller manager (docs/providers.md). Endpoint: `apiServerFloatingIP`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Openstack {
    /// Cloud name in the clouds.yaml secret.
    #[serde(default = "default_openstack_cloud")]
    pub cloud_name: String,
    /// ID of the external network for floating IPs.
    pub external_network_id: String,
    /// Flavor of control plane and workers.
    pub flavor: String,
    /// Image name.
    pub image: String,
    /// Nova key pair for SSH access, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_key_name: Option<String>,
    /// A floating IP allocated in advance on the external network for the API server's
    /// load balancer; `api.<baseDomain>` must resolve to it. Without it CAPO allocates
    /// one and the pre-generated kubeconfig works only once DNS is updated.
    #[serde(
        default,
        rename = "apiServerFloatingIP",
        skip_serializing_if = "Option::is_none"
    )]
    pub api_server_floating_ip: Option<String>,
    /// CIDR of the cluster's node subnet [default: `10.6.0.0/24`].
    #[serde(default = "default_openstack_node_cidr")]
    pub node_cidr: String,
    /// DNS servers of the node subnet.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_nameservers: Vec<String>,
}
fn default_openstack_cloud() -> String {
    "openstack".into()
}
fn default_openstack_node_cidr() -> String {
    "10.6.0.0/24".into()
}

/// VMware Cloud Director settings. Credentials: Secret `<name>-vcd-credentials` (key
/// `refreshToken`; or `username`, `password`) for CAPVCD, and a ClusterResourceSet Secret
/// `<name>-vcd-cpi` for the cloud provider (docs/providers.md). Endpoint: `controlPlaneIP`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CloudDirector {
    /// Cloud Director URL (`https://vcd.example.com`).
    pub site: String,
    /// Organization in Cloud Director.
    pub org: String,
    /// Virtual datacenter.
    pub vdc: String,
    /// Org VDC network.
    pub ovdc_network: String,
    /// Catalog holding the template.
    pub catalog: String,
    /// vApp template to clone.
    pub template: String,
    /// VM sizing policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sizing_policy: Option<String>,
    /// The API server's virtual IP on the edge gateway's load balancer (a free external
    /// address); `api.<baseDomain>` must resolve to it.
    #[serde(
        default,
        rename = "controlPlaneIP",
        skip_serializing_if = "Option::is_none"
    )]
    pub control_plane_ip: Option<String>,
    /// CIDR the edge gateway takes load balancer virtual IPs from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vip_subnet: Option<String>,
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
fn default_cluster_namespace() -> Name {
    Name("default".into())
}
fn default_pod_cidrs() -> Vec<String> {
    vec!["192.168.0.0/16".into()]
}
fn default_service_cidrs() -> Vec<String> {
    vec!["10.96.0.0/12".into()]
}

/// Whether `s` is an IPv4 or IPv6 CIDR block (`10.96.0.0/12`, `fd00::/108`).
fn is_cidr(s: &str) -> bool {
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
fn default_flux_version() -> String {
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
fn default_branch() -> String {
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

/// OIDC (Dex) settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Oidc {
    /// Dex's issuer URL [default: `https://dex.<baseDomain>`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Upstream identity providers.
    #[serde(default)]
    pub connectors: Vec<Connector>,
    /// Dex static clients (secrets are generated by mcb).
    #[serde(default)]
    pub static_clients: Vec<StaticClient>,
}

/// A Dex connector. Its client secret comes from Secret `dex-connectors` (given at init as
/// `MCB_DEX_CONNECTOR_<ID>_CLIENT_SECRET`) or, with `clientSecret`, from a shared secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Connector {
    /// Connector id (DNS-1123 label).
    pub id: Name,
    /// Dex connector type (`github`, `oidc`, `ldap`, …).
    #[serde(rename = "type")]
    pub type_: String,
    /// Display name.
    pub name: String,
    /// Connector config without the client secret (`clientID`, `orgs`, …).
    #[serde(default)]
    pub config: BTreeMap<String, serde_json::Value>,
    /// Take the client secret from a shared secret (one OAuth app for every installation)
    /// instead of `dex-connectors`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<SharedKeyRef>,
}

/// One key of a shared secret the installation lists in `sharedSecrets`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SharedKeyRef {
    /// The shared secret (`mcb shared import NAME`); `sharedSecrets` must place it in
    /// namespace `dex`.
    pub shared_secret: Name,
    /// Its key holding the value (before any `keys` renaming of the mapping).
    pub key: String,
}

impl Connector {
    /// The env var holding its client secret: `DEX_CONNECTOR_<ID>_CLIENT_SECRET`.
    pub fn secret_env(&self) -> String {
        crate::creds::oidc::connector_secret_env(self.id.as_str())
    }
}

/// A Dex static client. Its secret comes from Secret `dex-clients`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StaticClient {
    /// Client id.
    pub id: String,
    /// Display name [default: the id].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Allowed redirect URIs.
    #[serde(default, rename = "redirectURIs")]
    pub redirect_uris: Vec<String>,
    /// A public client (a CLI like `kubectl oidc-login`, a single-page app): it proves
    /// itself with PKCE and has no secret, so there is nothing to rotate.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub public: bool,
    /// Where the applications using this client get its id and secret: mcb writes one
    /// SOPS-encrypted Secret per consumer (`installations/<name>/secrets/oidc-consumers/`), applied
    /// only after Dex serves the client, and updates it in the rotation's commit.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub consumers: Vec<OidcConsumer>,
}

/// An application's copy of an OIDC client's credentials: a Secret in its namespace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OidcConsumer {
    /// The application's namespace (created by its own install, not by mcb).
    pub namespace: Name,
    /// The Secret's name (DNS-1123 subdomain).
    pub secret_name: String,
    /// The Secret's keys [default: `clientID`, `clientSecret`].
    #[serde(default)]
    pub keys: ConsumerKeys,
}

/// Key names of a consumer's Secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConsumerKeys {
    /// Key holding the client id [default: `clientID`].
    #[serde(default = "default_client_id_key", rename = "clientID")]
    pub client_id: String,
    /// Key holding the client secret [default: `clientSecret`]; not written for a public
    /// client.
    #[serde(default = "default_client_secret_key")]
    pub client_secret: String,
    /// Key holding the issuer URL too, if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
}

impl Default for ConsumerKeys {
    fn default() -> Self {
        ConsumerKeys {
            client_id: default_client_id_key(),
            client_secret: default_client_secret_key(),
            issuer: None,
        }
    }
}

fn default_client_id_key() -> String {
    "clientID".into()
}

fn default_client_secret_key() -> String {
    "clientSecret".into()
}

impl StaticClient {
    /// The env var holding its secret: `DEX_CLIENT_<ID>_SECRET`.
    pub fn secret_env(&self) -> String {
        dex_client_secret_env(&self.id)
    }
}

/// The env var of a Dex static client's secret: `DEX_CLIENT_<ID>_SECRET` (one naming rule,
/// owned by `creds::oidc`, so the Dex config and the `dex-clients` Secret always agree).
pub fn dex_client_secret_env(id: &str) -> String {
    crate::creds::oidc::client_secret_env(id)
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
fn default_ingress_class() -> String {
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
fn default_issuer_name() -> String {
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

    fn check_shared_key(&self, r: &SharedKeyRef, at: &str) -> Result<(), Invalid> {
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

    /// Cross-field checks the types cannot express.
    pub(crate) fn check(&self) -> Result<(), Invalid> {
        let bad = |path: &str, msg: String, hint: &str| Err((path.into(), msg, hint.into()));
        if !is_dns1123_subdomain(&self.base_domain) {
            return bad(
                "baseDomain",
                format!("{:?} is not a DNS name", self.base_domain),
                "use lowercase labels separated by dots, e.g. `gauss.example.com`",
            );
        }
        let v = &self.kubernetes_version;
        let semver = v.strip_prefix('v').is_some_and(|r| {
            let p: Vec<_> = r.split('.').collect();
            p.len() == 3
                && p.iter()
                    .all(|x| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit()))
        });
        if !semver {
            return bad(
                "kubernetesVersion",
                format!("{v:?} is not a version like v1.33.4"),
                "write the version with a leading `v` and three numbers",
            );
        }
        self.provider.check()?;
        let supported = crate::pki::KUBERNETES_MINORS;
        if self.kubernetes_major_minor().0 != 1 || !supported.contains(&self.kubernetes_minor()) {
            return bad(
                "kubernetesVersion",
                format!(
                    "{v} is not supported: mcb supports Kubernetes 1.{} to 1.{}",
                    supported.start(),
                    supported.end()
                ),
                "choose a version in that range (kubeadm's admin identity and the secret shapes are known for those)",
            );
        }
        let nets = [
            ("cluster.podCidrs", &self.cluster.pod_cidrs),
            ("cluster.serviceCidrs", &self.cluster.service_cidrs),
        ];
        for (path, cidrs) in nets {
            if cidrs.is_empty() {
                return bad(
                    path,
                    "no CIDR block".into(),
                    "list at least one block, or leave the key out for the default",
                );
            }
            if let Some((i, c)) = cidrs.iter().enumerate().find(|(_, c)| !is_cidr(c)) {
                return bad(
                    &format!("{path}[{i}]"),
                    format!("{c:?} is not a CIDR block"),
                    "write an address and a prefix length, e.g. `10.96.0.0/12`",
                );
            }
        }
        match self.git.auth {
            GitAuth::Ssh if !(self.git.url.starts_with("ssh://")) => {
                return bad(
                    "git.url",
                    format!(
                        "{:?} is not an ssh:// URL, but git.auth is ssh",
                        self.git.url
                    ),
                    "use `ssh://git@github.com/OWNER/REPO` or set `git.auth: github-app`",
                )
            }
            GitAuth::GithubApp if !self.git.url.starts_with("https://") => {
                return bad(
                    "git.url",
                    format!(
                        "{:?} is not an https:// URL, but git.auth is github-app",
                        self.git.url
                    ),
                    "use `https://github.com/OWNER/REPO` or set `git.auth: ssh`",
                )
            }
            GitAuth::GithubApp if self.github_app.is_none() => {
                return bad(
                    "githubApp",
                    "git.auth is github-app but githubApp is missing".into(),
                    "add `githubApp: {owner: ORG}`",
                )
            }
            _ => {}
        }
        let Some(flux) = crate::flux::find(&self.flux.version) else {
            return bad(
                "flux.version",
                format!("mcb ships no Flux {}", self.flux.version),
                &format!(
                    "use one of: {} (the upstream installs in mcb's vendor/flux/)",
                    crate::flux::versions().join(", ")
                ),
            );
        };
        if self.git.auth == GitAuth::GithubApp && !flux.supports_github_app() {
            return bad(
                "git.auth",
                format!(
                    "Flux {} (source-controller {}) has no GitHub App auth for Git repositories",
                    flux.version,
                    flux.controller_tag("source-controller").unwrap_or("?")
                ),
                &format!(
                    "set `flux.version` to {} (source-controller v1.5.0 added it), or use `git.auth: ssh`",
                    crate::flux::installs()
                        .iter()
                        .filter(|i| i.supports_github_app())
                        .map(|i| i.version)
                        .collect::<Vec<_>>()
                        .join(" or ")
                ),
            );
        }
        if self.api_server.port == Some(0) {
            return bad(
                "apiServer.port",
                "port 0 is not a port the API server can listen on".into(),
                "use 1-65535 (6443 is the default), or remove the field",
            );
        }
        for (path, pool) in [
            ("controlPlane.replicas", &self.control_plane),
            ("workers.replicas", &self.workers),
        ] {
            if pool.replicas == 0 {
                return bad(
                    path,
                    "0 machines: the cluster would have none".into(),
                    "use at least 1 (3 is the default)",
                );
            }
        }
        // Parsed by the age crate: anything else (a newline and YAML, a typo) would end up
        // in `.sops.yaml` and decide who can decrypt.
        for (i, r) in self.sops.recipients.iter().enumerate() {
            if r.parse::<age::x25519::Recipient>().is_err() {
                return bad(
                    &format!("sops.recipients[{i}]"),
                    format!("{r:?} is not an age recipient"),
                    "use the public key printed by `age-keygen -y KEYFILE` (age1…)",
                );
            }
        }
        let mut seen = BTreeSet::new();
        let mut consumers = BTreeSet::new();
        for (i, c) in self.oidc.static_clients.iter().enumerate() {
            if c.id.is_empty()
                || !c
                    .id
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch))
            {
                return bad(
                    &format!("oidc.staticClients[{i}].id"),
                    format!("{:?} is not a valid client id", c.id),
                    "use letters, digits, '-', '_' and '.'",
                );
            }
            if !seen.insert(c.secret_env()) {
                return bad(
                    &format!("oidc.staticClients[{i}].id"),
                    format!("client id {:?} clashes with an earlier one", c.id),
                    "give every static client a distinct id (ids differing only in case or punctuation share a secret name)",
                );
            }
            for (j, k) in c.consumers.iter().enumerate() {
                let at = format!("oidc.staticClients[{i}].consumers[{j}]");
                if !is_dns1123_subdomain(&k.secret_name) {
                    return bad(
                        &format!("{at}.secretName"),
                        format!("{:?} is not a Secret name", k.secret_name),
                        "use a DNS-1123 subdomain: lowercase letters, digits, '-' and '.'",
                    );
                }
                let mut keys = vec![("clientID", &k.keys.client_id)];
                if !c.public {
                    keys.push(("clientSecret", &k.keys.client_secret));
                }
                keys.extend(k.keys.issuer.as_ref().map(|v| ("issuer", v)));
                let mut names = BTreeSet::new();
                for (field, key) in keys {
                    if !is_secret_key(key) || !names.insert(key.as_str()) {
                        return bad(
                            &format!("{at}.keys.{field}"),
                            format!("{key:?} is not a distinct Secret key"),
                            "use letters, digits, '-', '_' and '.', a different key for each value",
                        );
                    }
                }
                if !consumers.insert((k.namespace.as_str().to_owned(), k.secret_name.clone())) {
                    return bad(
                        &format!("{at}.secretName"),
                        format!(
                            "Secret {}/{} is already another consumer's",
                            k.namespace.as_str(),
                            k.secret_name
                        ),
                        "give each consumer its own Secret (namespace and name)",
                    );
                }
            }
        }
        if let Some(issuer) = &self.oidc.issuer {
            if self.oidc_issuer_host().is_none() {
                return bad(
                    "oidc.issuer",
                    format!("{issuer:?} is not an https:// URL with a host name"),
                    "use `https://dex.<baseDomain>` or leave oidc.issuer out for that default",
                );
            }
        }
        if !is_dns1123_subdomain(&self.ingress.class_name) {
            return bad(
                "ingress.className",
                format!("{:?} is not an IngressClass name", self.ingress.class_name),
                "name an IngressClass of the cluster, e.g. `nginx`",
            );
        }
        if !is_dns1123_subdomain(&self.ingress.issuer.name) {
            return bad(
                "ingress.issuer.name",
                format!(
                    "{:?} is not a cert-manager issuer name",
                    self.ingress.issuer.name
                ),
                "name the ClusterIssuer (or Issuer in namespace dex) that signs the certificates",
            );
        }
        unique(
            self.oidc.connectors.iter().map(|c| &c.id),
            "oidc.connectors",
            "id",
        )?;
        for (i, c) in self.oidc.connectors.iter().enumerate() {
            if let Some(r) = &c.client_secret {
                self.check_shared_key(r, &format!("oidc.connectors[{i}].clientSecret"))?;
            }
        }
        for (i, o) in self.organizations.iter().enumerate() {
            if o.name.as_str().len() > 59 {
                return bad(
                    &format!("organizations[{i}].name"),
                    format!(
                        "{:?} is too long for its namespace org-{}",
                        o.name.as_str(),
                        o.name
                    ),
                    "use at most 59 characters (a namespace name has at most 63)",
                );
            }
            for (j, g) in o.groups.iter().enumerate() {
                let at = format!("organizations[{i}].groups[{j}]");
                if g.name.trim().is_empty() {
                    return bad(
                        &format!("{at}.name"),
                        "the group name is empty".into(),
                        "give the OIDC group as Dex issues it, e.g. `example:team-a` for a GitHub team",
                    );
                }
                if !is_dns1123_subdomain(&g.role) {
                    return bad(
                        &format!("{at}.role"),
                        format!("{:?} is not a ClusterRole name mcb can bind", g.role),
                        "use `admin`, `edit`, `view` or your own ClusterRole (lowercase letters, digits, '-' and '.')",
                    );
                }
            }
        }
        unique(
            self.organizations.iter().map(|o| &o.name),
            "organizations",
            "name",
        )?;
        unique(
            self.shared_secrets.iter().map(SharedSecretRef::name),
            "sharedSecrets",
            "name",
        )?;
        for (i, s) in self.shared_secrets.iter().enumerate() {
            let m = s.mapping();
            let secret_name = m.secret_name.unwrap_or_default();
            if !is_dns1123_subdomain(&secret_name) {
                return bad(
                    &format!("sharedSecrets[{i}].secretName"),
                    format!("{secret_name:?} is not a valid Secret name"),
                    "use lowercase letters, digits, '-' and '.'",
                );
            }
            let bad_key = m
                .keys
                .iter()
                .flat_map(|(a, b)| [a, b])
                .find(|k| !is_secret_key(k))
                .cloned();
            if let Some(k) = bad_key {
                return bad(
                    &format!("sharedSecrets[{i}].keys"),
                    format!("{k:?} is not a valid Secret key"),
                    "use letters, digits, '-', '_' and '.'",
                );
            }
        }
        Ok(())
    }
}

impl Provider {
    /// The provider settings' own checks: addresses that must be IPs, identity fields.
    fn check(&self) -> Result<(), Invalid> {
        let ip = |path: &str, v: &str, what: &str| -> Result<(), Invalid> {
            if v.parse::<std::net::IpAddr>().is_ok() {
                return Ok(());
            }
            Err((
                path.into(),
                format!("{v:?} is not an IP address"),
                format!("write {what} as an address like 192.0.2.10"),
            ))
        };
        match self {
            Provider::Capv(s) => ip(
                "provider.capv.controlPlaneIP",
                &s.control_plane_ip,
                "the API server's virtual IP",
            ),
            Provider::Openstack(s) => {
                if let Some(f) = &s.api_server_floating_ip {
                    ip(
                        "provider.openstack.apiServerFloatingIP",
                        f,
                        "the pre-allocated floating IP",
                    )?;
                }
                for (i, d) in s.dns_nameservers.iter().enumerate() {
                    ip(
                        &format!("provider.openstack.dnsNameservers[{i}]"),
                        d,
                        "each DNS server",
                    )?;
                }
                Ok(())
            }
            Provider::CloudDirector(s) => match &s.control_plane_ip {
                Some(v) => ip(
                    "provider.cloud-director.controlPlaneIP",
                    v,
                    "the load balancer's virtual IP",
                ),
                None => Ok(()),
            },
            Provider::Capz(s) => {
                for (key, v) in [("clientID", &s.client_id), ("tenantID", &s.tenant_id)] {
                    if v.as_deref().is_none_or(str::is_empty) {
                        return Err((
                            format!("provider.capz.{key}"),
                            format!("{key} is missing; the AzureClusterIdentity needs it"),
                            format!(
                                "add `{key}: <uuid>` of the {} (see docs/providers.md)",
                                if key == "clientID" {
                                    "service principal or managed identity"
                                } else {
                                    "Entra ID tenant"
                                }
                            ),
                        ));
                    }
                }
                Ok(())
            }
            Provider::Capa(_) => Ok(()),
        }
    }
}

fn unique<'a>(
    names: impl Iterator<Item = &'a Name>,
    list: &str,
    field: &str,
) -> Result<(), Invalid> {
    let mut seen = BTreeSet::new();
    for (i, n) in names.enumerate() {
        if !seen.insert(n) {
            return Err((
                format!("{list}[{i}].{field}"),
                format!("{n:?} appears twice"),
                format!("every entry of {list} needs a distinct {field}"),
            ));
        }
    }
    Ok(())
}
