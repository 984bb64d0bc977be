//! The spec's `sharedSecrets` entries: a shared secret by name, or mapped into the
//! installation (namespace, Secret name, type, renamed keys), with the defaults filled in.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Name;

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
