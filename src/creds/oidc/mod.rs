//! OIDC clients: Dex static clients and connector secrets (packaged as the `dex-clients` and
//! `dex-connectors` Secrets, referenced from Dex's config by environment variable only)
//! here, and clients registered at an issuer that supports RFC 7591, managed later through
//! RFC 7592 ([`registration`], re-exported).
//!
//! Dex facts used here (dexidp/dex `storage/storage.go` `Client`, `cmd/dex/serve.go`): a
//! static client has `id`, `name`, `redirectURIs`, `public`, and `secret` or `secretEnv`
//! (exclusive; one is required unless `public`); connector configs get `$VAR` expanded from
//! the environment (feature flag `expand_env`, on by default).
//! The env-var naming below is shared with the render helper: do not change it.

use std::collections::BTreeMap;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::{check_ids, credential, env_name, generate_secret, Error};
use crate::inventory::{Credential, CredentialKind};
use crate::k8s::Secret;
use crate::Env;

mod registration;
pub use registration::*;

/// Namespace of the Dex Secrets.
pub const DEX_NAMESPACE: &str = "dex";
/// Secret holding the static clients' secrets, one key per env var.
pub const DEX_CLIENTS_SECRET: &str = "dex-clients";
/// Secret holding the connectors' client secrets, one key per env var.
pub const DEX_CONNECTORS_SECRET: &str = "dex-connectors";
/// Inventory kind of every OIDC client.
pub const KIND: CredentialKind = CredentialKind::OidcClient;

/// Env var carrying static client `id`'s secret: `DEX_CLIENT_<ID>_SECRET`, the id upper-cased
/// with every non-alphanumeric character replaced by `_`.
pub fn client_secret_env(id: &str) -> String {
    env_name("DEX_CLIENT_", id, "_SECRET")
}

/// Env var carrying connector `id`'s client secret: `DEX_CONNECTOR_<ID>_CLIENT_SECRET`.
pub fn connector_secret_env(id: &str) -> String {
    env_name("DEX_CONNECTOR_", id, "_CLIENT_SECRET")
}

/// What Dex's connector config says for the client secret: `$DEX_CONNECTOR_<ID>_CLIENT_SECRET`.
pub fn connector_secret_ref(id: &str) -> String {
    format!("${}", connector_secret_env(id))
}

/// Secret of a client registered at an external issuer: `oidc-client-<id>`. Its presence
/// in an installation's secrets also tells the renderer the client is not Dex's.
pub fn registered_secret_name(id: &str) -> String {
    format!("oidc-client-{id}")
}

/// Key prefix, in a registered client's Secret, of the client a rotation replaced.
pub const RETIRING_PREFIX: &str = "retiring_";

/// Inventory `extra` key of an OIDC client: the client id its consumers hold now (a
/// registered client's id at the issuer; a rotated Dex static client's
/// [`generation_id`]). Absent for a Dex static client never rotated: the spec's id.
pub const CLIENT_ID: &str = "clientId";
/// Inventory `extra` key of an OIDC client: the client id the last rotation replaced,
/// still served by Dex (or registered at the issuer) until `mcb rotate --finish`.
pub const RETIRING_CLIENT_ID: &str = "retiringClientId";
/// Inventory `extra` key of a Dex static client: the generation of [`CLIENT_ID`] (1, the
/// spec's id, until the first rotation).
pub const GENERATION: &str = "generation";

/// The client id the cluster's API server accepts tokens for (`--oidc-client-id` in
/// `manifests/cluster/cluster.yaml`): the id must stay, so this client is public (PKCE)
/// and a confidential one is not rotated to a new id.
pub const API_SERVER_CLIENT_ID: &str = "kubectl";

/// The client id of generation `n` of Dex static client `id`: `id` itself for 1, else
/// `<id>-<n>`. Each rotation serves a new id next to the old one, so Dex, its replicas
/// and the consumers never disagree about one id's secret.
pub fn generation_id(id: &str, n: u32) -> String {
    match n {
        0 | 1 => id.to_owned(),
        n => format!("{id}-{n}"),
    }
}

/// The client ids Dex serves for its static client `id` (inventory entry `entry`): the
/// current one, then the one the last rotation replaced until `--finish` removes it.
pub fn served_ids(id: &str, entry: Option<&Credential>) -> Vec<String> {
    let extra = entry.map(|c| &c.extra);
    let current = extra
        .and_then(|e| e.get(CLIENT_ID))
        .cloned()
        .unwrap_or_else(|| id.to_owned());
    let mut ids = vec![current];
    ids.extend(extra.and_then(|e| e.get(RETIRING_CLIENT_ID)).cloned());
    ids
}

/// A Dex static client as the spec describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticClient {
    /// `id` (the OAuth client id)
    pub id: String,
    /// display name
    pub name: String,
    /// allowed redirect URIs
    pub redirect_uris: Vec<String>,
    /// a public client (CLI, SPA): uses PKCE, gets no secret
    pub public: bool,
}

/// One `staticClients` entry of Dex's config. It names the secret's env var, never the value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DexStaticClient {
    /// `id`
    pub id: String,
    /// `name`
    pub name: String,
    /// `redirectURIs`
    #[serde(rename = "redirectURIs", default)]
    pub redirect_uris: Vec<String>,
    /// `secretEnv` (absent for public clients)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_env: Option<String>,
    /// `public` (only written when true)
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub public: bool,
}

/// Dex's static clients: the config entries, the `dex-clients` Secret, inventory entries.
#[derive(Debug)]
pub struct DexClients {
    /// `staticClients` entries, in input order
    pub static_clients: Vec<DexStaticClient>,
    /// `dex-clients` in namespace `dex`: env var name -> secret
    pub secret: Secret,
    /// one `oidc-client` entry per client
    pub credentials: Vec<Credential>,
}

impl DexClients {
    /// The secret of served client id `id` (none for a public client).
    pub fn secret_of(&self, id: &str) -> Option<SecretString> {
        self.secret
            .data
            .get(&client_secret_env(id))
            .map(|v| SecretString::from(String::from_utf8_lossy(v.expose_secret()).into_owned()))
    }

    /// `staticClients:` as YAML, to splice into Dex's config. Holds no secret value.
    pub fn static_clients_yaml(&self) -> String {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Doc<'a> {
            static_clients: &'a [DexStaticClient],
        }
        serde_saphyr::to_string(&Doc {
            static_clients: &self.static_clients,
        })
        .expect("static clients serialize")
    }
}

/// Builds Dex's static clients. Each confidential client gets a new 32-byte secret unless
/// `keep` has one for its id (generate once, then keep: pass the current secrets on re-runs,
/// leave a client out of `keep` to rotate it). Public clients get no secret.
pub fn dex_static_clients(
    env: &Env,
    clients: &[StaticClient],
    keep: &BTreeMap<String, SecretString>,
) -> Result<DexClients, Error> {
    check_ids(
        "client",
        clients.iter().map(|c| c.id.as_str()),
        client_secret_env,
    )?;
    let mut secret = Secret::new(DEX_CLIENTS_SECRET, DEX_NAMESPACE, "Opaque");
    let mut entries = Vec::new();
    let mut credentials = Vec::new();
    for c in clients {
        if !c.public && c.redirect_uris.is_empty() {
            return Err(Error::NoRedirectUri { id: c.id.clone() });
        }
        let secret_env = (!c.public).then(|| client_secret_env(&c.id));
        // A public client has no secret: its id is what there is to fingerprint.
        let mut fingerprint = super::sha256_hex(c.id.as_bytes());
        if let Some(var) = &secret_env {
            let value = keep
                .get(&c.id)
                .cloned()
                .unwrap_or_else(|| generate_secret(env));
            fingerprint = super::secret_fingerprint(&format!("{KIND}/{}", c.id), &value);
            secret = secret.with(var.clone(), value.expose_secret().as_bytes().to_vec());
        }
        entries.push(DexStaticClient {
            id: c.id.clone(),
            name: c.name.clone(),
            redirect_uris: c.redirect_uris.clone(),
            secret_env,
            public: c.public,
        });
        let mut extra = BTreeMap::from([("provider".to_owned(), "dex".to_owned())]);
        if c.public {
            extra.insert("public".into(), "true".into());
        }
        credentials.push(credential(env, KIND, &c.id, fingerprint, None, extra));
    }
    Ok(DexClients {
        static_clients: entries,
        secret,
        credentials,
    })
}

/// A connector's client secret, supplied by the user (GitHub OAuth app, upstream OIDC).
#[derive(Debug)]
pub struct ConnectorSecret {
    /// the connector's `id` in Dex's config
    pub id: String,
    /// its client secret
    pub client_secret: SecretString,
}

/// The `dex-connectors` Secret (namespace `dex`): one `DEX_CONNECTOR_<ID>_CLIENT_SECRET` key
/// per connector, which Dex expands where its config says [`connector_secret_ref`].
pub fn dex_connectors_secret(connectors: &[ConnectorSecret]) -> Result<Secret, Error> {
    check_ids(
        "connector",
        connectors.iter().map(|c| c.id.as_str()),
        connector_secret_env,
    )?;
    Ok(connectors.iter().fold(
        Secret::new(DEX_CONNECTORS_SECRET, DEX_NAMESPACE, "Opaque"),
        |s, c| {
            s.with(
                connector_secret_env(&c.id),
                c.client_secret.expose_secret().as_bytes().to_vec(),
            )
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Env {
        Env::seeded(3, time::macros::datetime!(2026-11-25 12:00:00 UTC))
    }

    fn client(id: &str, public: bool) -> StaticClient {
        StaticClient {
            id: id.into(),
            name: format!("{id} app"),
            redirect_uris: vec![format!("https://{id}.example.com/callback")],
            public,
        }
    }

    #[test]
    fn env_names_follow_the_convention() {
        assert_eq!(client_secret_env("grafana"), "DEX_CLIENT_GRAFANA_SECRET");
        assert_eq!(
            client_secret_env("argo-cd.ui"),
            "DEX_CLIENT_ARGO_CD_UI_SECRET"
        );
        assert_eq!(
            connector_secret_env("github"),
            "DEX_CONNECTOR_GITHUB_CLIENT_SECRET"
        );
        assert_eq!(
            connector_secret_ref("my-oidc"),
            "$DEX_CONNECTOR_MY_OIDC_CLIENT_SECRET"
        );
    }

    #[test]
    fn static_clients_reference_env_and_keep_secrets_out() {
        let e = env();
        let out = dex_static_clients(
            &e,
            &[client("grafana", false), client("kubectl", true)],
            &BTreeMap::new(),
        )
        .unwrap();
        let yaml = out.static_clients_yaml();
        assert!(
            yaml.contains("secretEnv: DEX_CLIENT_GRAFANA_SECRET"),
            "{yaml}"
        );
        assert!(yaml.contains("public: true"), "{yaml}");
        for v in out.secret.data.values() {
            let v = std::str::from_utf8(v.expose_secret()).unwrap();
            assert!(!yaml.contains(v), "secret value leaked into config");
        }
        let keys: Vec<_> = out.secret.data.keys().collect();
        assert_eq!(
            keys,
            ["DEX_CLIENT_GRAFANA_SECRET"],
            "public client has no secret"
        );
        assert_eq!(out.credentials.len(), 2);
        assert_eq!(out.credentials[0].kind, KIND);
        assert_eq!(out.credentials[0].created, "2026-11-25T12:00:00Z");
        assert!(out.credentials[0].fingerprint.starts_with("hmac-sha256:"));
    }

    #[test]
    fn kept_secrets_are_reused_and_output_is_deterministic() {
        let keep = BTreeMap::from([("grafana".to_owned(), SecretString::from("old-secret"))]);
        let a = dex_static_clients(&env(), &[client("grafana", false)], &keep).unwrap();
        let v = a.secret.data["DEX_CLIENT_GRAFANA_SECRET"]
            .expose_secret()
            .clone();
        assert_eq!(v, b"old-secret");
        let b = dex_static_clients(&env(), &[client("x", false)], &BTreeMap::new()).unwrap();
        let c = dex_static_clients(&env(), &[client("x", false)], &BTreeMap::new()).unwrap();
        assert_eq!(
            b.secret.to_yaml().expose_secret(),
            c.secret.to_yaml().expose_secret()
        );
    }

    /// Issue #15 item 8: the fingerprint was the hash of the client id, so a rotated
    /// secret kept its fingerprint and the inventory could not show the rotation.
    #[test]
    fn issue_15_fingerprint_changes_with_the_secret() {
        let fp = |secret: &str| {
            let keep = BTreeMap::from([("grafana".to_owned(), SecretString::from(secret))]);
            dex_static_clients(&env(), &[client("grafana", false)], &keep)
                .unwrap()
                .credentials[0]
                .fingerprint
                .clone()
        };
        assert_eq!(fp("one"), fp("one"));
        assert_ne!(fp("one"), fp("two"));
        assert!(fp("one").starts_with("hmac-sha256:"));
        assert!(!fp("one").contains(&hex::encode(b"one")));
        // The same secret on another client does not look the same.
        let other = dex_static_clients(
            &env(),
            &[client("other", false)],
            &BTreeMap::from([("other".to_owned(), SecretString::from("one"))]),
        )
        .unwrap();
        assert_ne!(other.credentials[0].fingerprint, fp("one"));
    }

    #[test]
    fn confidential_client_needs_redirect() {
        let mut c = client("a", false);
        c.redirect_uris.clear();
        let e = dex_static_clients(&env(), &[c], &BTreeMap::new()).unwrap_err();
        assert!(matches!(e, Error::NoRedirectUri { .. }), "{e}");
    }

    #[test]
    fn connectors_secret_uses_env_names() {
        let s = dex_connectors_secret(&[ConnectorSecret {
            id: "github".into(),
            client_secret: SecretString::from("gh-secret"),
        }])
        .unwrap();
        assert_eq!(s.name, "dex-connectors");
        assert_eq!(s.namespace, "dex");
        assert_eq!(
            s.data["DEX_CONNECTOR_GITHUB_CLIENT_SECRET"].expose_secret(),
            b"gh-secret"
        );
        let dup = dex_connectors_secret(&[
            ConnectorSecret {
                id: "a-b".into(),
                client_secret: SecretString::from("1"),
            },
            ConnectorSecret {
                id: "a_b".into(),
                client_secret: SecretString::from("2"),
            },
        ]);
        assert!(matches!(dup, Err(Error::EnvNameCollision { .. })));
    }
}
