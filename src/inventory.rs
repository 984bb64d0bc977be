//! The credential inventory: `installations/<name>/credentials.yaml`, a plaintext list of
//! every credential an installation has (kind, id, fingerprint, validity, rotation times).
//! It holds no secret value, so reviewers and `mcb status` can read it without a key.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What a credential is. The names are the on-disk `kind:` strings of `credentials.yaml`,
/// the `KIND` of `mcb status` and `KIND/ID` of `mcb rotate --only`. Match on it without
/// `_ =>` where the kind decides behaviour, so a new kind shows every place it touches.
/// An unknown kind in a file is a parse error naming the file and the kind (a newer mcb
/// wrote it; this one cannot tell how to rotate or expire it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CredentialKind {
    /// `ca`: the cluster, etcd and front-proxy CAs.
    Ca,
    /// `sa-key`: the service-account signing key.
    SaKey,
    /// `kubeconfig`: a kubeconfig client certificate.
    Kubeconfig,
    /// `kubeconfig-superseded`: a client certificate a rotation replaced, listed until it
    /// expires (it stays valid: certificates cannot be revoked).
    KubeconfigSuperseded,
    /// `oidc-client`: an OIDC client registered at the issuer.
    OidcClient,
    /// `deploy-key`: Flux's SSH deploy key.
    DeployKey,
    /// `github-app`: the GitHub App's private key.
    GithubApp,
    /// `age-key`: an installation age key (the inventory holds its recipient).
    AgeKey,
}

impl CredentialKind {
    /// Every kind, in declaration order.
    pub const ALL: [CredentialKind; 8] = [
        CredentialKind::Ca,
        CredentialKind::SaKey,
        CredentialKind::Kubeconfig,
        CredentialKind::KubeconfigSuperseded,
        CredentialKind::OidcClient,
        CredentialKind::DeployKey,
        CredentialKind::GithubApp,
        CredentialKind::AgeKey,
    ];

    /// The on-disk name.
    pub const fn as_str(self) -> &'static str {
        match self {
            CredentialKind::Ca => "ca",
            CredentialKind::SaKey => "sa-key",
            CredentialKind::Kubeconfig => "kubeconfig",
            CredentialKind::KubeconfigSuperseded => "kubeconfig-superseded",
            CredentialKind::OidcClient => "oidc-client",
            CredentialKind::DeployKey => "deploy-key",
            CredentialKind::GithubApp => "github-app",
            CredentialKind::AgeKey => "age-key",
        }
    }
}

impl fmt::Display for CredentialKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that names no [`CredentialKind`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown credential kind `{0}`")]
pub struct UnknownKind(pub String);

impl FromStr for CredentialKind {
    type Err = UnknownKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CredentialKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownKind(s.to_owned()))
    }
}

/// One credential's public facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Credential {
    /// What it is.
    pub kind: CredentialKind,
    /// Which one within the kind (`cluster`, `etcd`, `admin`, a client id…).
    pub id: String,
    /// Certificate subject or a short description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// `sha256:<hex>` of the certificate (DER) or public key, or the age recipient.
    pub fingerprint: String,
    /// RFC 3339, when the credential becomes valid (certificates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<String>,
    /// RFC 3339, when it expires (certificates, tokens); `None` means it does not expire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after: Option<String>,
    /// RFC 3339, when mcb first made it.
    pub created: String,
    /// RFC 3339, when mcb last replaced it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotated: Option<String>,
    /// The repo file holding it (relative path), when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Kind-specific public facts (CA rotation phase, app id, registration URI…).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, String>,
}

impl Credential {
    /// The inventory key: `kind/id`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.kind, self.id)
    }
}

/// The whole inventory file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Inventory {
    /// `mcb/v1alpha1`.
    pub api_version: String,
    /// `CredentialInventory`.
    pub kind: String,
    /// The credentials, sorted by `kind/id`.
    pub credentials: Vec<Credential>,
}

/// The inventory file could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{file}: not a valid credential inventory: {message}")]
pub struct Error {
    /// the file (relative to the repo)
    pub file: String,
    /// what the parser said
    pub message: String,
}

impl crate::Help for Error {
    fn help(&self) -> Option<String> {
        Some("restore the file from git: mcb writes it (init, every rotation); do not edit it by hand".into())
    }
}

impl Inventory {
    /// An empty inventory.
    pub fn new() -> Self {
        Inventory {
            api_version: "mcb/v1alpha1".into(),
            kind: "CredentialInventory".into(),
            credentials: Vec::new(),
        }
    }

    /// Parses `credentials.yaml`.
    pub fn parse(file: &str, text: &str) -> Result<Self, Error> {
        serde_saphyr::from_str(text).map_err(|e| Error {
            file: file.to_owned(),
            message: e.to_string(),
        })
    }

    /// Adds or replaces the credential with the same `kind/id`, keeping the order sorted.
    pub fn upsert(&mut self, c: Credential) {
        match self
            .credentials
            .iter_mut()
            .find(|x| x.kind == c.kind && x.id == c.id)
        {
            Some(x) => *x = c,
            None => self.credentials.push(c),
        }
        self.credentials.sort_by_key(Credential::key);
    }

    /// The credential `kind/id`.
    pub fn get(&self, kind: CredentialKind, id: &str) -> Option<&Credential> {
        self.credentials
            .iter()
            .find(|x| x.kind == kind && x.id == id)
    }

    /// Removes `kind/id`; returns it.
    pub fn remove(&mut self, kind: CredentialKind, id: &str) -> Option<Credential> {
        let i = self
            .credentials
            .iter()
            .position(|x| x.kind == kind && x.id == id)?;
        Some(self.credentials.remove(i))
    }

    /// The file's bytes: a fixed header, then YAML; same inventory, same bytes.
    pub fn to_yaml(&self) -> String {
        let body = serde_saphyr::to_string(self).expect("inventory serializes");
        format!("# Generated by mcb: public facts about this installation's credentials (no secrets).\n{body}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cred(kind: CredentialKind, id: &str) -> Credential {
        Credential {
            kind,
            id: id.into(),
            subject: Some("CN=x".into()),
            fingerprint: "sha256:00".into(),
            not_before: None,
            not_after: Some("2036-11-25T12:00:00Z".into()),
            created: "2026-11-25T12:00:00Z".into(),
            rotated: None,
            file: None,
            extra: BTreeMap::new(),
        }
    }

    #[test]
    fn round_trip_and_sorted() {
        let mut inv = Inventory::new();
        inv.upsert(cred(CredentialKind::Kubeconfig, "admin"));
        inv.upsert(cred(CredentialKind::Ca, "etcd"));
        inv.upsert(cred(CredentialKind::Ca, "cluster"));
        let text = inv.to_yaml();
        let back = Inventory::parse("credentials.yaml", &text).unwrap();
        assert_eq!(back, inv);
        let keys: Vec<_> = back.credentials.iter().map(Credential::key).collect();
        assert_eq!(keys, ["ca/cluster", "ca/etcd", "kubeconfig/admin"]);
        assert_eq!(inv.to_yaml(), text, "same inventory, same bytes");
    }

    #[test]
    fn unknown_field_is_an_error_naming_the_file() {
        let e = Inventory::parse(
            "x/credentials.yaml",
            "apiVersion: a\nkind: b\ncredentials: []\nbogus: 1\n",
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("x/credentials.yaml: "), "{e}");
    }

    #[test]
    fn every_kind_round_trips_through_its_string() {
        for k in CredentialKind::ALL {
            let s = k.to_string();
            assert_eq!(s.parse::<CredentialKind>(), Ok(k));
            // serde writes the same name as Display: the on-disk format is the string.
            assert_eq!(serde_saphyr::to_string(&k).unwrap().trim(), s);
            let back: CredentialKind = serde_saphyr::from_str(&s).unwrap();
            assert_eq!(back, k);
        }
        assert_eq!(
            "shared-secret".parse::<CredentialKind>(),
            Err(UnknownKind("shared-secret".into()))
        );
    }

    #[test]
    fn unknown_kind_is_an_error_naming_file_and_kind() {
        let e = Inventory::parse(
            "x/credentials.yaml",
            "apiVersion: mcb/v1alpha1\nkind: CredentialInventory\ncredentials:\n- kind: quantum-key\n  id: a\n  fingerprint: sha256:00\n  created: 2026-11-25T12:00:00Z\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("x/credentials.yaml: "), "{e}");
        assert!(e.contains("quantum-key"), "{e}");
    }
}
