//! Clients registered at an issuer that supports dynamic registration: discovery (OpenID
//! Connect Discovery 1.0), registration (RFC 7591), and management of the registered
//! client (RFC 7592: read, update, delete), over the blocking reqwest client of `creds`.

use std::collections::BTreeMap;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::{registered_secret_name, KIND, RETIRING_PREFIX};
use crate::creds::{credential, http_client, http_err, parse_json, Error};
use crate::inventory::Credential;
use crate::k8s::Secret;
use crate::Env;

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
                .map(crate::creds::rfc3339)
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
            Some(s) => crate::creds::secret_fingerprint(&format!("{KIND}/{id}"), s),
            None => {
                // Nothing to rotate: never due (as a public Dex client).
                extra.insert("public".into(), "true".into());
                crate::creds::sha256_hex(self.client_id.as_bytes())
            }
        };
        credential(env, KIND, id, fingerprint, not_after, extra)
    }
}
