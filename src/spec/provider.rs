//! The spec's infrastructure provider (`provider:`): one Cluster API infrastructure
//! provider and its settings, with their defaults and checks.

use super::types::Invalid;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

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
pub(super) fn default_capa_instance() -> String {
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
pub(super) fn default_capz_vm() -> String {
    "Standard_D4s_v5".into()
}
pub(super) fn default_capz_identity() -> String {
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
pub(super) fn default_openstack_cloud() -> String {
    "openstack".into()
}
pub(super) fn default_openstack_node_cidr() -> String {
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

impl Provider {
    /// The provider settings' own checks: addresses that must be IPs, identity fields.
    pub(super) fn check(&self) -> Result<(), Invalid> {
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
