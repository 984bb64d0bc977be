//! What each Cluster API infrastructure provider needs beyond the provider-neutral cluster:
//! its kinds and API version, the provider-specific kubeadm settings its own upstream
//! `templates/cluster-template.yaml` adds (node name from instance metadata, kube-vip,
//! provider ID, cloud-provider flags), its Cluster API Operator object, the cluster add-ons
//! (CNI, cloud controller manager) and the credential Secrets it reads.
//!
//! Facts here come from the provider repositories at the tags pinned in `versions.env`
//! (see docs/providers.md). Pure data: nothing here reads files or secret values.

use serde_json::{json, Value};

use crate::spec::{AzureIdentityType, Installation, Provider};

/// A Secret the provider (or its cloud controller manager) reads, which the operator of
/// the installation provides: from a shared secret (`sharedSecrets`, placed at this
/// namespace and name) or a per-installation `secrets/<name>.sops.yaml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// Namespace of the Secret.
    pub namespace: String,
    /// Name of the Secret.
    pub name: String,
    /// The Secret's `type` (`Opaque`, or `addons.cluster.x-k8s.io/resource-set` for a
    /// Secret a ClusterResourceSet copies into the cluster).
    pub type_: &'static str,
    /// Keys the Secret must have.
    pub keys: Vec<String>,
    /// The shared secret name the docs suggest (`mcb shared import NAME`).
    pub shared: &'static str,
    /// Who reads it and why, one line.
    pub purpose: &'static str,
}

/// The type of a Secret a ClusterResourceSet applies to the cluster.
pub const RESOURCE_SET: &str = "addons.cluster.x-k8s.io/resource-set";

/// The credential Secrets the installation's provider needs.
pub fn credentials(spec: &Installation) -> Vec<Credential> {
    let name = spec.name.as_str();
    let ns = spec.cluster.namespace.as_str();
    let cred = |namespace: &str,
                secret: String,
                type_: &'static str,
                keys: &[&str],
                shared: &'static str,
                purpose: &'static str| Credential {
        namespace: namespace.into(),
        name: secret,
        type_,
        keys: keys.iter().map(|k| k.to_string()).collect(),
        shared,
        purpose,
    };
    match &spec.provider {
        Provider::Capa(_) => vec![cred(
            "capa-system",
            "capa-variables".into(),
            "Opaque",
            &["AWS_B64ENCODED_CREDENTIALS"],
            "aws-credentials",
            "the Cluster API Operator installs CAPA with these AWS credentials (`clusterawsadm bootstrap credentials encode-as-profile`)",
        )],
        Provider::Capz(s) => match s.identity_type {
            AzureIdentityType::ServicePrincipal => vec![cred(
                ns,
                format!("{}-secret", s.identity_name),
                "Opaque",
                &["clientSecret"],
                "azure-credentials",
                "the AzureClusterIdentity's service principal secret",
            )],
            AzureIdentityType::WorkloadIdentity | AzureIdentityType::UserAssignedMSI => {
                Vec::new()
            }
        },
        Provider::Capv(_) => vec![
            cred(
                "capv-system",
                "capv-variables".into(),
                "Opaque",
                &["VSPHERE_USERNAME", "VSPHERE_PASSWORD"],
                "vsphere-credentials",
                "the Cluster API Operator installs CAPV with this vCenter user (CAPV's default identity)",
            ),
            Credential {
                keys: vec!["data".into()],
                ..cred(
                    ns,
                    format!("{name}-vsphere-cpi"),
                    RESOURCE_SET,
                    &[],
                    "vsphere-cpi-credentials",
                    "a ClusterResourceSet copies it into the cluster: Secret kube-system/vsphere-cloud-secret for the vSphere cloud controller manager",
                )
            },
        ],
        Provider::Openstack(_) => vec![
            cred(
                ns,
                format!("{name}-cloud-config"),
                "Opaque",
                &["clouds.yaml"],
                "openstack-credentials",
                "CAPO's identityRef: clouds.yaml (and optional cacert)",
            ),
            cred(
                ns,
                format!("{name}-openstack-ccm"),
                RESOURCE_SET,
                &["data"],
                "openstack-ccm-credentials",
                "a ClusterResourceSet copies it into the cluster: Secret kube-system/cloud-config (key cloud.conf) for the OpenStack cloud controller manager",
            ),
        ],
        Provider::CloudDirector(_) => vec![cred(
            ns,
            format!("{name}-vcd-credentials"),
            "Opaque",
            &["refreshToken"],
            "vcd-credentials",
            "CAPVCD's userContext: the API token (refresh token) of the VCD user",
        )],
    }
}

/// The provider's part of the template context (`infra` in templates/README.md).
pub fn context(spec: &Installation) -> Value {
    let name = spec.name.as_str();
    let (version, cluster, machine) = kinds(&spec.provider);
    let kubeadm = kubeadm(spec);
    let creds: Vec<Value> = credentials(spec)
        .into_iter()
        .map(|c| json!({"namespace": c.namespace, "name": c.name, "type": c.type_, "keys": c.keys}))
        .collect();
    let (op_name, op_ns, config_secret) = operator(&spec.provider);
    json!({
        "apiVersion": format!("infrastructure.cluster.x-k8s.io/{version}"),
        "apiGroup": "infrastructure.cluster.x-k8s.io",
        "clusterKind": cluster,
        "machineTemplateKind": machine,
        "kubeadm": kubeadm,
        "operator": {
            "name": op_name,
            "namespace": op_ns,
            "configSecret": config_secret,
            "version": crate::versions::get(version_key(&spec.provider)),
        },
        "credentials": creds,
        "cni": cni(&spec.provider),
        "clusterSelector": {"cluster.x-k8s.io/cluster-name": name},
    })
}

/// API version, cluster kind and machine template kind: the newest version the pinned
/// provider serves (v1beta2 where it has one).
fn kinds(p: &Provider) -> (&'static str, &'static str, &'static str) {
    match p {
        Provider::Capa(_) => ("v1beta2", "AWSCluster", "AWSMachineTemplate"),
        Provider::Capz(_) => ("v1beta1", "AzureCluster", "AzureMachineTemplate"),
        Provider::Capv(_) => ("v1beta2", "VSphereCluster", "VSphereMachineTemplate"),
        Provider::Openstack(_) => ("v1beta1", "OpenStackCluster", "OpenStackMachineTemplate"),
        Provider::CloudDirector(_) => ("v1beta2", "VCDCluster", "VCDMachineTemplate"),
    }
}

/// The operator's InfrastructureProvider: (provider name, namespace, configSecret name) as
/// clusterctl names them.
fn operator(p: &Provider) -> (&'static str, &'static str, Option<&'static str>) {
    match p {
        Provider::Capa(_) => ("aws", "capa-system", Some("capa-variables")),
        Provider::Capz(_) => ("azure", "capz-system", None),
        Provider::Capv(_) => ("vsphere", "capv-system", Some("capv-variables")),
        Provider::Openstack(_) => ("openstack", "capo-system", None),
        Provider::CloudDirector(_) => ("vcd", "capvcd-system", None),
    }
}

/// The provider's key in `versions.env`.
fn version_key(p: &Provider) -> &'static str {
    match p {
        Provider::Capa(_) => "CAPA",
        Provider::Capz(_) => "CAPZ",
        Provider::Capv(_) => "CAPV",
        Provider::Openstack(_) => "CAPO",
        Provider::CloudDirector(_) => "CAPVCD",
    }
}

/// Calico's encapsulation per provider: IP-in-IP with BGP where the provider's managed
/// security groups already allow it (CAPA, CAPO), VXLAN elsewhere (Azure drops IP-in-IP).
fn cni(p: &Provider) -> Value {
    match p {
        Provider::Capa(_) | Provider::Openstack(_) => {
            json!({"encapsulation": "IPIP", "bgp": "Enabled"})
        }
        Provider::Capz(_) => json!({"encapsulation": "VXLAN", "bgp": "Disabled", "mtu": 1350}),
        Provider::Capv(_) | Provider::CloudDirector(_) => {
            json!({"encapsulation": "VXLAN", "bgp": "Disabled"})
        }
    }
}

/// A kubeadm `files` entry.
fn file(path: &str, permissions: &str, content: Value) -> Value {
    let mut f = json!({"path": path, "owner": "root:root", "permissions": permissions});
    match content {
        Value::String(s) => f["content"] = s.into(),
        from => f["contentFrom"] = from,
    }
    f
}

/// The provider-specific kubeadm settings of its upstream cluster-template:
/// `nodeName` (nodeRegistration.name, a cloud-init expression or null), extra kubelet and
/// controller-manager args (`[{name, value}]`, the v1beta2 shape), and per role (`controlPlane`,
/// `workers`) `files` and `preKubeadmCommands`.
fn kubeadm(spec: &Installation) -> Value {
    let name = spec.name.as_str();
    let arg = |n: &str, v: &str| json!({"name": n, "value": v});
    let external = arg("cloud-provider", "external");
    let none: Vec<Value> = Vec::new();
    match &spec.provider {
        Provider::Capa(_) => json!({
            "nodeName": "{{ ds.meta_data.local_hostname }}",
            "kubeletExtraArgs": [],
            "controllerManagerExtraArgs": [external],
            "controlPlane": {"files": none, "preKubeadmCommands": none},
            "workers": {"files": none, "preKubeadmCommands": none},
        }),
        Provider::Capz(_) => {
            // CAPZ writes each machine's cloud config into Secret
            // `<AzureMachineTemplate>-azure-json`, key `<role>-azure.json`.
            let azure_json = |template: &str, key: &str| {
                file(
                    "/etc/kubernetes/azure.json",
                    "0644",
                    json!({"secret": {"name": format!("{name}-{template}-azure-json"), "key": key}}),
                )
            };
            json!({
                "nodeName": "{{ ds.meta_data[\"local_hostname\"] }}",
                "kubeletExtraArgs": [],
                "controllerManagerExtraArgs": [
                    arg("allocate-node-cidrs", "false"),
                    external,
                    arg("cluster-name", name),
                ],
                "controlPlane": {
                    "files": [azure_json("control-plane", "control-plane-azure.json")],
                    "preKubeadmCommands": none,
                },
                "workers": {
                    "files": [azure_json("workers", "worker-node-azure.json")],
                    "preKubeadmCommands": none,
                },
            })
        }
        Provider::Capv(s) => {
            let hosts = vec![
                json!("hostnamectl set-hostname \"{{ ds.meta_data.hostname }}\""),
                json!("echo \"::1         ipv6-localhost ipv6-loopback localhost6 localhost6.localdomain6\" >/etc/hosts"),
                json!("echo \"127.0.0.1   {{ ds.meta_data.hostname }} {{ local_hostname }} localhost localhost.localdomain localhost4 localhost4.localdomain4\" >>/etc/hosts"),
            ];
            let mut cp_commands = hosts.clone();
            // kubeadm >= 1.29 gives admin.conf its rights only after `kubeadm init`; until
            // then kube-vip on the first node needs super-admin.conf (kube-vip issue 684).
            cp_commands.push(json!(
                "if [ -f /run/kubeadm/kubeadm.yaml ]; then sed -i 's#path: /etc/kubernetes/admin.conf#path: /etc/kubernetes/super-admin.conf#' /etc/kubernetes/manifests/kube-vip.yaml; fi"
            ));
            json!({
                "nodeName": "{{ local_hostname }}",
                "kubeletExtraArgs": [],
                "controllerManagerExtraArgs": [external],
                "controlPlane": {
                    "files": [
                        file("/etc/kubernetes/manifests/kube-vip.yaml", "0644",
                            kube_vip(&s.control_plane_ip, s.vip_interface.as_deref(), spec.api_port()).into()),
                        file("/etc/kube-vip.hosts", "0644", "127.0.0.1 localhost kubernetes".into()),
                    ],
                    "preKubeadmCommands": cp_commands,
                },
                "workers": {"files": none, "preKubeadmCommands": hosts},
            })
        }
        Provider::Openstack(_) => json!({
            "nodeName": "{{ local_hostname }}",
            "kubeletExtraArgs": [arg("provider-id", "openstack:///'{{ instance_id }}'")],
            "controllerManagerExtraArgs": [external],
            "controlPlane": {"files": none, "preKubeadmCommands": none},
            "workers": {"files": none, "preKubeadmCommands": none},
        }),
        Provider::CloudDirector(_) => json!({
            "nodeName": null,
            "kubeletExtraArgs": [],
            "controllerManagerExtraArgs": [],
            "controlPlane": {"files": none, "preKubeadmCommands": none},
            "workers": {"files": none, "preKubeadmCommands": none},
        }),
    }
}

/// The kube-vip static Pod that announces the API server's virtual IP `address` from the
/// control plane nodes (ARP, leader election), as CAPV's cluster-template has it.
fn kube_vip(address: &str, interface: Option<&str>, port: u16) -> String {
    let env = |n: &str, v: &str| json!({"name": n, "value": v});
    let pod = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "kube-vip", "namespace": "kube-system"},
        "spec": {
            "containers": [{
                "name": "kube-vip",
                "image": format!("ghcr.io/kube-vip/kube-vip:{}", crate::versions::get("KUBE_VIP")),
                "imagePullPolicy": "IfNotPresent",
                "args": ["manager"],
                "env": [
                    env("vip_arp", "true"),
                    env("port", &port.to_string()),
                    env("vip_interface", interface.unwrap_or("")),
                    env("vip_cidr", "32"),
                    env("cp_enable", "true"),
                    env("cp_namespace", "kube-system"),
                    env("vip_ddns", "false"),
                    env("svc_enable", "false"),
                    env("vip_leaderelection", "true"),
                    env("vip_leasename", "plndr-cp-lock"),
                    env("vip_leaseduration", "15"),
                    env("vip_renewdeadline", "10"),
                    env("vip_retryperiod", "2"),
                    env("address", address),
                ],
                "securityContext": {"capabilities": {"add": ["NET_ADMIN", "NET_RAW"]}},
                "volumeMounts": [
                    {"mountPath": "/etc/kubernetes/admin.conf", "name": "kubeconfig"},
                    {"mountPath": "/etc/hosts", "name": "etchosts"},
                ],
            }],
            "hostNetwork": true,
            "volumes": [
                {"name": "kubeconfig", "hostPath": {"path": "/etc/kubernetes/admin.conf"}},
                {"name": "etchosts", "hostPath": {"path": "/etc/kube-vip.hosts", "type": "File"}},
            ],
        },
    });
    serde_saphyr::to_string(&pod).expect("a JSON value serializes as YAML")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(provider: &str) -> Installation {
        let src = format!(
            "apiVersion: mcb/v1alpha1\nkind: Installation\nname: mc\nbaseDomain: mc.example.com\n\
             provider:\n{provider}\ngit:\n  url: ssh://git@github.com/o/r\n"
        );
        crate::spec::parse(&src, std::path::Path::new("installation.yaml")).unwrap()
    }

    #[test]
    fn kube_vip_announces_the_given_address() {
        let s = spec("  capv:\n    server: v\n    datacenter: d\n    datastore: s\n    network: n\n    template: t\n    controlPlaneIP: 10.0.0.5");
        let c = context(&s);
        let files = c["kubeadm"]["controlPlane"]["files"].as_array().unwrap();
        let pod: Value = serde_saphyr::from_str(files[0]["content"].as_str().unwrap()).unwrap();
        let env = pod["spec"]["containers"][0]["env"].as_array().unwrap();
        assert!(env.contains(&json!({"name": "address", "value": "10.0.0.5"})));
        assert!(env.contains(&json!({"name": "port", "value": "6443"})));
        assert_eq!(c["apiVersion"], "infrastructure.cluster.x-k8s.io/v1beta2");
    }

    #[test]
    fn credentials_per_provider() {
        let aws = credentials(&spec("  capa:\n    region: r"));
        assert_eq!(aws.len(), 1);
        assert_eq!(
            (aws[0].namespace.as_str(), aws[0].name.as_str()),
            ("capa-system", "capa-variables")
        );
        let az = spec("  capz:\n    location: l\n    subscriptionId: s\n    clientID: c\n    tenantID: t\n    identityType: WorkloadIdentity");
        assert!(credentials(&az).is_empty());
        let os = credentials(&spec(
            "  openstack:\n    externalNetworkId: e\n    flavor: f\n    image: i",
        ));
        assert_eq!(os[0].name, "mc-cloud-config");
        assert_eq!(os[0].namespace, "default");
        assert_eq!(os[1].type_, RESOURCE_SET);
        // Credentials the cluster's objects reference live in the cluster's namespace.
        let mut s = spec("  openstack:\n    externalNetworkId: e\n    flavor: f\n    image: i");
        s.cluster.namespace = serde_json::from_value(json!("mgmt")).unwrap();
        assert!(credentials(&s).iter().all(|c| c.namespace == "mgmt"));
    }
}
