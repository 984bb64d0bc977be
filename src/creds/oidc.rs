//! OIDC clients: Dex static clients and connector secrets (packaged as the `dex-clients` and
//! `dex-connectors` Secrets, referenced from Dex's config by environment variable only), and
//! clients registered at an issuer that supports RFC 7591, managed later through RFC 7592.
//!
//! Dex facts used here (dexidp/dex `storage/storage.go` `Client`, `cmd/dex/serve.go`): a
//! static client has `id`, `name`, `redirectURIs`, `public`, and `secret` or `secretEnv`
//! (exclusive; one is required unless `public`); connector configs get `$VAR` expanded from
//! the environment (feature flag `expand_env`, on by default).
//! The env-var naming below is shared with the render helper: do not change it.

use std::collections::BTreeMap;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::{
    check_ids, credential, env_name, generate_secret, http_client, http_err, parse_json, Error,
};
use crate::inventory::{Credential, CredentialKind};
use crate::k8s::Secret;
use crate::Env;

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

// ---------------------------------------------------------------------------------------
// Dynamic registration (RFC 7591) and management (RFC 7592)
// ---------------------------------------------------------------------------------------

/// What discovery told us about an issuer (the fields mcb uses).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ProviderMetadata {
    /// `issuer`, checked equal to the one asked for
    pub issuer: String,
    /// `registration_endpoint`, when the issuer supports RFC 7591
    #[serde(default)]
    pub registration_endpoint: Option<String>,
    /// `token_endpoint`
    #[serde(default)]
    pub token_endpoint: Option<String>,
}

/// Fetches `{issuer}/.well-known/openid-configuration` and checks it names `issuer`
/// (OpenID Connect Discovery 1.0 §4.3).
pub fn discover(issuer: &str) -> Result<ProviderMetadata, Error> {
    let issuer = issuer.trim_end_matches('/');
    let url = format!("{issuer}/.well-known/openid-configuration");
    let resp = http_client()
        .get(&url)
        .header("Accept", "application/json")
        .send()
        .map_err(http_err("GET", &url))?;
    let status = resp.status();
    if !status.is_success() {
        return Err(Error::BadResponse {
            url,
            message: format!("HTTP {status} instead of a discovery document"),
        });
    }
    let meta: ProviderMetadata = parse_json(&url, resp, "a discovery document")?;
    if meta.issuer.trim_end_matches('/') != issuer {
        return Err(Error::IssuerMismatch {
            issuer: issuer.into(),
            url,
            found: meta.issuer,
        });
    }
    Ok(meta)
}

/// Client metadata sent on registration and update (RFC 7591 §2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientMetadata {
    /// `redirect_uris`
    pub redirect_uris: Vec<String>,
    /// `client_name`
    pub client_name: String,
    /// `grant_types`, e.g. `authorization_code`, `refresh_token`
    pub grant_types: Vec<String>,
    /// `response_types`, e.g. `code`
    pub response_types: Vec<String>,
    /// `token_endpoint_auth_method`, e.g. `client_secret_basic`, `none` for public clients
    pub token_endpoint_auth_method: String,
}

impl ClientMetadata {
    /// A public client (a CLI, a single-page app): the authorization code flow with PKCE
    /// and no secret (`token_endpoint_auth_method: none`).
    pub fn public(client_name: &str, redirect_uris: Vec<String>) -> Self {
        ClientMetadata {
            token_endpoint_auth_method: "none".into(),
            ..Self::web(client_name, redirect_uris)
        }
    }

    /// A confidential web client using the authorization code flow.
    pub fn web(client_name: &str, redirect_uris: Vec<String>) -> Self {
        ClientMetadata {
            redirect_uris,
            client_name: client_name.into(),
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            response_types: vec!["code".into()],
            token_endpoint_auth_method: "client_secret_basic".into(),
        }
    }
}

/// A client registered at an issuer, with what is needed to manage it later.
#[derive(Debug)]
pub struct RegisteredClient {
    /// `client_id`
    pub client_id: String,
    /// `client_secret` (absent for public clients)
    pub client_secret: Option<SecretString>,
    /// `registration_access_token`: the bearer token for RFC 7592 calls
    pub registration_access_token: SecretString,
    /// `registration_client_uri`: where RFC 7592 calls go
    pub registration_client_uri: String,
    /// `client_secret_expires_at` (seconds since the epoch), `None` if it does not expire
    pub client_secret_expires_at: Option<i64>,
    /// the metadata the issuer returned
    pub metadata: ClientMetadata,
}

/// Whether an update keeps the client secret or lets the issuer issue a new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretPolicy {
    /// send the current secret: the issuer keeps it
    Keep,
    /// omit it: an issuer that rotates on update returns a new one
    Rotate,
}

/// The registration response: metadata plus the RFC 7591/7592 credentials.
#[derive(Deserialize)]
struct RegistrationResponse {
    client_id: String,
    #[serde(default)]
    client_secret: Option<String>,
    #[serde(default)]
    registration_access_token: Option<String>,
    #[serde(default)]
    registration_client_uri: Option<String>,
    #[serde(default)]
    client_secret_expires_at: Option<i64>,
    #[serde(flatten)]
    metadata: ClientMetadataLenient,
}

/// Metadata as issuers return it: fields they leave out take RFC 7591's defaults.
#[derive(Deserialize)]
struct ClientMetadataLenient {
    #[serde(default)]
    redirect_uris: Vec<String>,
    #[serde(default)]
    client_name: String,
    #[serde(default = "default_grant_types")]
    grant_types: Vec<String>,
    #[serde(default = "default_response_types")]
    response_types: Vec<String>,
    #[serde(default = "default_auth_method")]
    token_endpoint_auth_method: String,
}

fn default_grant_types() -> Vec<String> {
    vec!["authorization_code".into()]
}
fn default_response_types() -> Vec<String> {
    vec!["code".into()]
}
fn default_auth_method() -> String {
    "client_secret_basic".into()
}

#[derive(Deserialize)]
struct OAuthError {
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
}

/// Registers a client at `issuer` (discovery first) with an initial access token (RFC 7591).
pub fn register(
    issuer: &str,
    initial_access_token: Option<&SecretString>,
    metadata: &ClientMetadata,
) -> Result<RegisteredClient, Error> {
    let meta = discover(issuer)?;
    let endpoint = meta
        .registration_endpoint
        .ok_or_else(|| Error::NoRegistrationEndpoint {
            issuer: issuer.trim_end_matches('/').into(),
        })?;
    let body = serde_json::to_value(metadata).expect("metadata serializes");
    call("POST", &endpoint, initial_access_token, Some(&body), None)
}

/// Reads the client's current registration (RFC 7592 §2.1).
pub fn read(client: &RegisteredClient) -> Result<RegisteredClient, Error> {
    call(
        "GET",
        &client.registration_client_uri,
        Some(&client.registration_access_token),
        None,
        Some(client),
    )
}

/// Replaces the client's metadata (RFC 7592 §2.2). The returned client carries the
/// registration access token and secret to store from now on (new ones if the issuer
/// rotated them, else the current ones).
pub fn update(
    client: &RegisteredClient,
    metadata: &ClientMetadata,
    policy: SecretPolicy,
) -> Result<RegisteredClient, Error> {
    let mut body = serde_json::to_value(metadata).expect("metadata serializes");
    let obj = body.as_object_mut().expect("metadata is an object");
    obj.insert("client_id".into(), client.client_id.clone().into());
    if let (SecretPolicy::Keep, Some(s)) = (policy, &client.client_secret) {
        obj.insert("client_secret".into(), s.expose_secret().into());
    }
    // A secret or token the issuer does not return again stays the valid one (see `call`).
    call(
        "PUT",
        &client.registration_client_uri,
        Some(&client.registration_access_token),
        Some(&body),
        Some(client),
    )
}

/// Registers the successor of `client` at `issuer`: a new client (new `client_id` and
/// secret) with the same metadata. The old client is left as it is, still valid, so every
/// consumer keeps working until it has the new one; `mcb rotate --finish` deletes it once
/// the rotation is merged. (An RFC 7592 update that omits the secret would change it in
/// place on issuers that rotate on update, breaking consumers at once.)
pub fn register_successor(
    issuer: &str,
    initial_access_token: Option<&SecretString>,
    client: &RegisteredClient,
) -> Result<RegisteredClient, Error> {
    register(issuer, initial_access_token, &client.metadata)
}

/// Whether a failed RFC 7592 call says the client is no longer there (deleted earlier:
/// its registration access token went with it).
pub fn is_gone(e: &Error) -> bool {
    matches!(
        e,
        Error::Registration {
            status: 401 | 404,
            ..
        }
    )
}

/// Deletes the client at the issuer (RFC 7592 §2.3).
pub fn delete(client: &RegisteredClient) -> Result<(), Error> {
    let url = &client.registration_client_uri;
    let resp = http_client()
        .delete(url)
        .bearer_auth(client.registration_access_token.expose_secret())
        .send()
        .map_err(http_err("DELETE", url))?;
    if resp.status().is_success() {
        Ok(())
    } else {
        Err(refused("DELETE", url, resp))
    }
}

/// One registration/management request; `prior` fills what the issuer may leave out.
fn call(
    method: &'static str,
    url: &str,
    token: Option<&SecretString>,
    body: Option<&serde_json::Value>,
    prior: Option<&RegisteredClient>,
) -> Result<RegisteredClient, Error> {
    let http = http_client();
    let mut req = match method {
        "POST" => http.post(url),
        "PUT" => http.put(url),
        "GET" => http.get(url),
        other => unreachable!("no registration call uses {other}"),
    }
    .header("Accept", "application/json");
    if let Some(t) = token {
        req = req.bearer_auth(t.expose_secret());
    }
    if let Some(b) = body {
        req = req.json(b);
    }
    let resp = req.send().map_err(http_err(method, url))?;
    if !resp.status().is_success() {
        return Err(refused(method, url, resp));
    }
    let r: RegistrationResponse = parse_json(url, resp, "a client registration response")?;
    let missing = |field: &str| Error::BadResponse {
        url: url.into(),
        message: format!(
            "no {field} in the answer: the issuer does not offer RFC 7592 client management"
        ),
    };
    let registration_access_token = match (r.registration_access_token, prior) {
        (Some(t), _) => SecretString::from(t),
        (None, Some(p)) => p.registration_access_token.clone(),
        (None, None) => return Err(missing("registration_access_token")),
    };
    let registration_client_uri = match (r.registration_client_uri, prior) {
        (Some(u), _) => u,
        (None, Some(p)) => p.registration_client_uri.clone(),
        (None, None) => return Err(missing("registration_client_uri")),
    };
    let m = r.metadata;
    Ok(RegisteredClient {
        client_id: r.client_id,
        client_secret: r
            .client_secret
            .map(SecretString::from)
            .or_else(|| prior.and_then(|p| p.client_secret.clone())),
        registration_access_token,
        registration_client_uri,
        client_secret_expires_at: r.client_secret_expires_at.filter(|t| *t > 0),
        metadata: ClientMetadata {
            redirect_uris: m.redirect_uris,
            client_name: m.client_name,
            grant_types: m.grant_types,
            response_types: m.response_types,
            token_endpoint_auth_method: m.token_endpoint_auth_method,
        },
    })
}

fn refused(method: &'static str, url: &str, resp: reqwest::blocking::Response) -> Error {
    let status = resp.status().as_u16();
    let e: OAuthError = resp.json().unwrap_or(OAuthError {
        error: None,
        error_description: None,
    });
    Error::Registration {
        method,
        url: url.into(),
        status,
        error: e.error,
        description: e.error_description,
    }
}

impl RegisteredClient {
    /// Secret `oidc-client-<id>` holding `client_id`, `client_secret` (if any),
    /// `registration_access_token` and `registration_client_uri`, so rotation can update or
    /// delete the client later.
    pub fn secret(&self, id: &str, namespace: &str) -> Secret {
        self.secret_retiring(id, namespace, None)
    }

    /// [`Self::secret`], plus the management credentials of the client this one replaces
    /// (`retiring_client_id`, `retiring_registration_access_token`,
    /// `retiring_registration_client_uri`), kept until `mcb rotate --finish` deletes it.
    pub fn secret_retiring(
        &self,
        id: &str,
        namespace: &str,
        retiring: Option<&RegisteredClient>,
    ) -> Secret {
        let mut s = Secret::new(registered_secret_name(id), namespace, "Opaque")
            .with("client_id", self.client_id.clone())
            .with(
                "registration_access_token",
                self.registration_access_token
                    .expose_secret()
                    .as_bytes()
                    .to_vec(),
            )
            .with(
                "registration_client_uri",
                self.registration_client_uri.clone(),
            );
        if let Some(cs) = &self.client_secret {
            s = s.with("client_secret", cs.expose_secret().as_bytes().to_vec());
        }
        if let Some(r) = retiring {
            s = s
                .with(
                    RETIRING_PREFIX.to_owned() + "client_id",
                    r.client_id.clone(),
                )
                .with(
                    RETIRING_PREFIX.to_owned() + "registration_access_token",
                    r.registration_access_token
                        .expose_secret()
                        .as_bytes()
                        .to_vec(),
                )
                .with(
                    RETIRING_PREFIX.to_owned() + "registration_client_uri",
                    r.registration_client_uri.clone(),
                );
        }
        s
    }

    /// Reads a client back from its `oidc-client-<id>` Secret (as [`Self::secret`] wrote
    /// it, decrypted) and fetches its current registration from the issuer, ready for
    /// [`update`], [`rotate_secret`] or [`delete`].
    pub fn load(secret: &Secret) -> Result<RegisteredClient, Error> {
        read(&Self::stored(secret, "")?.expect("the current client is required"))
    }

    /// The client stored in its Secret under `prefix` (`""`: the current one, required;
    /// [`RETIRING_PREFIX`]: the one a rotation replaced, None when there is none), as
    /// stored: no call to the issuer, so the metadata is empty.
    pub fn stored(secret: &Secret, prefix: &str) -> Result<Option<RegisteredClient>, Error> {
        let get = |key: &str| -> Result<Option<String>, Error> {
            let key = format!("{prefix}{key}");
            secret
                .data
                .get(&key)
                .map(|v| {
                    String::from_utf8(v.expose_secret().clone()).map_err(|_| Error::InvalidParam {
                        what: "OIDC client Secret",
                        message: format!("{}: key {key} is not UTF-8", secret.name),
                    })
                })
                .transpose()
        };
        let need = |key: &str| {
            get(key)?.ok_or_else(|| Error::InvalidParam {
                what: "OIDC client Secret",
                message: format!("{}: no key {prefix}{key}", secret.name),
            })
        };
        if prefix == RETIRING_PREFIX && get("client_id")?.is_none() {
            return Ok(None);
        }
        Ok(Some(RegisteredClient {
            client_id: need("client_id")?,
            client_secret: get("client_secret")?.map(SecretString::from),
            registration_access_token: SecretString::from(need("registration_access_token")?),
            registration_client_uri: need("registration_client_uri")?,
            client_secret_expires_at: None,
            metadata: ClientMetadata::web("", Vec::new()),
        }))
    }

    /// The inventory entry: fingerprint of the client secret (of the id for a public
    /// client), expiry of the secret if any.
    pub fn credential(&self, env: &Env, id: &str, issuer: &str) -> Credential {
        let not_after = self.client_secret_expires_at.and_then(|t| {
            time::OffsetDateTime::from_unix_timestamp(t)
                .ok()
                .map(super::rfc3339)
        });
        let extra = BTreeMap::from([
            ("clientId".to_owned(), self.client_id.clone()),
            ("issuer".to_owned(), issuer.trim_end_matches('/').to_owned()),
            (
                "registrationClientUri".to_owned(),
                self.registration_client_uri.clone(),
            ),
        ]);
        let mut extra = extra;
        let fingerprint = match &self.client_secret {
            Some(s) => super::secret_fingerprint(&format!("{KIND}/{id}"), s),
            None => {
                // Nothing to rotate: never due (as a public Dex client).
                extra.insert("public".into(), "true".into());
                super::sha256_hex(self.client_id.as_bytes())
            }
        };
        credential(env, KIND, id, fingerprint, not_after, extra)
    }
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
