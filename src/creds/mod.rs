//! Credentials mcb makes or registers for an installation: Dex static OIDC clients and
//! connector secrets, OIDC clients registered dynamically (RFC 7591/7592), GitHub Apps (the
//! manifest flow or an imported key) and SSH deploy keys for Flux.
//!
//! Every function returns values: a [`crate::k8s::Secret`] (plaintext, in `secrecy` types)
//! and an inventory [`Credential`] (public facts only). Encrypting and writing them is the
//! ops layer's job; this module never touches the config repo and never prints.

pub mod consumers;
pub mod deploy_key;
pub mod github_app;
pub mod oidc;

use std::collections::BTreeMap;

use base64::Engine;
use secrecy::SecretString;
use sha2::{Digest, Sha256};

use crate::inventory::{Credential, CredentialKind};
use crate::Env;

/// Why a credential could not be made, registered or imported. Never carries a secret value.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A client or connector id is empty.
    #[error("{what} id is empty")]
    EmptyId {
        /// `client` or `connector`
        what: &'static str,
    },
    /// Two clients (or connectors) share an id.
    #[error("{what} id `{id}` is listed twice")]
    DuplicateId {
        /// `client` or `connector`
        what: &'static str,
        /// the repeated id
        id: String,
    },
    /// Two ids map to the same environment variable name.
    #[error("{what} ids `{a}` and `{b}` both map to the environment variable {env}")]
    EnvNameCollision {
        /// `client` or `connector`
        what: &'static str,
        /// first id
        a: String,
        /// second id
        b: String,
        /// the shared variable name
        env: String,
    },
    /// A confidential client has no redirect URI (Dex refuses it).
    #[error("client `{id}` has no redirect URI")]
    NoRedirectUri {
        /// the client id
        id: String,
    },
    /// A URL given as a parameter does not parse.
    #[error("{what} `{url}` is not a valid URL: {message}")]
    InvalidUrl {
        /// which parameter
        what: &'static str,
        /// the value given
        url: String,
        /// what the parser said
        message: String,
    },
    /// The request could not be sent or its answer not read (connection, timeout, TLS).
    #[error("{method} {url}: {message}")]
    Http {
        /// HTTP method
        method: &'static str,
        /// the URL requested
        url: String,
        /// what failed
        message: String,
    },
    /// The server answered with a body mcb cannot use.
    #[error("{url}: unexpected answer: {message}")]
    BadResponse {
        /// the URL requested
        url: String,
        /// what is wrong with it
        message: String,
    },
    /// The discovery document names another issuer than the one asked for.
    #[error("{url}: the discovery document names issuer `{found}`, expected `{issuer}`")]
    IssuerMismatch {
        /// the issuer asked for
        issuer: String,
        /// the discovery URL
        url: String,
        /// the issuer in the document
        found: String,
    },
    /// The issuer does not offer dynamic client registration.
    #[error("issuer {issuer} does not support dynamic client registration (its discovery document has no registration_endpoint)")]
    NoRegistrationEndpoint {
        /// the issuer
        issuer: String,
    },
    /// The issuer refused a registration or management request.
    #[error("{method} {url}: the issuer answered {status}{}", oauth_error(.error, .description))]
    Registration {
        /// HTTP method
        method: &'static str,
        /// the URL requested
        url: String,
        /// HTTP status
        status: u16,
        /// the OAuth `error` code, if any
        error: Option<String>,
        /// the OAuth `error_description`, if any
        description: Option<String>,
    },
    /// The callback carried another `state` than the flow sent (a stale tab or a forgery).
    #[error("the GitHub redirect to the local callback carried the wrong state; the app manifest flow was aborted")]
    StateMismatch,
    /// Nobody completed the flow in time.
    #[error("no redirect from GitHub reached the local callback within {seconds} s")]
    CallbackTimeout {
        /// how long mcb waited
        seconds: u64,
    },
    /// The local callback server could not start or failed.
    #[error("local callback server: {message}")]
    CallbackServer {
        /// what failed
        message: String,
    },
    /// The browser could not be opened.
    #[error("cannot open the browser: {message}")]
    Browser {
        /// what failed
        message: String,
    },
    /// GitHub no longer accepts the manifest code (expired after one hour, or already used).
    #[error("POST {url}: GitHub answered {status}: the app manifest code has expired (codes live one hour) or was already used")]
    ManifestCodeExpired {
        /// the conversion URL
        url: String,
        /// 404 or 422
        status: u16,
    },
    /// Another GitHub API failure.
    #[error("{method} {url}: GitHub answered {status}: {message}")]
    GitHub {
        /// HTTP method
        method: &'static str,
        /// the URL requested
        url: String,
        /// HTTP status
        status: u16,
        /// GitHub's `message`
        message: String,
    },
    /// A GitHub App private key that is not an RSA key in PEM.
    #[error("GitHub App {app_id}: the private key is not an RSA private key in PEM ({message})")]
    NotRsaKey {
        /// the app id
        app_id: u64,
        /// what the parser said (never key material)
        message: String,
    },
    /// A parameter is out of range (an org name with odd characters, a zero id…).
    #[error("{what}: {message}")]
    InvalidParam {
        /// which parameter
        what: &'static str,
        /// what is wrong
        message: String,
    },
    /// The SSH key could not be encoded.
    #[error("SSH deploy key `{id}`: {message}")]
    SshKey {
        /// the key id
        id: String,
        /// what failed
        message: String,
    },
}

fn oauth_error(error: &Option<String>, description: &Option<String>) -> String {
    match (error, description) {
        (Some(e), Some(d)) => format!(": {e} ({d})"),
        (Some(e), None) => format!(": {e}"),
        (None, Some(d)) => format!(": {d}"),
        (None, None) => String::new(),
    }
}

impl crate::Help for Error {
    fn help(&self) -> Option<String> {
        let h = match self {
            Error::EmptyId { .. } | Error::DuplicateId { .. } => {
                "give every entry a unique, non-empty id in the spec".into()
            }
            Error::EnvNameCollision { .. } => {
                "ids are turned into variable names by upper-casing and replacing every non-alphanumeric character with `_`; rename one of them".into()
            }
            Error::NoRedirectUri { .. } => {
                "add redirectURIs to the client, or mark it public (public clients use PKCE and have no secret)".into()
            }
            Error::InvalidUrl { .. } => "give an absolute URL such as https://host/path".into(),
            Error::Http { .. } => "check the URL and that the server is reachable from here".into(),
            Error::BadResponse { .. } | Error::IssuerMismatch { .. } => {
                "check that the issuer URL is exactly the `iss` your provider uses (scheme, host, path, no trailing slash)".into()
            }
            Error::NoRegistrationEndpoint { .. } => {
                "enable dynamic client registration at the provider (Keycloak, Okta, Authentik support it; Dex does not), or configure the client as a static client".into()
            }
            Error::Registration { status: 401 | 403, .. } => {
                "the token was refused: check MCB_OIDC_INITIAL_ACCESS_TOKEN for registration; for read/update/delete the stored registration access token is invalid or the client was deleted".into()
            }
            Error::Registration { .. } => "check the client metadata against what the provider allows".into(),
            Error::StateMismatch => "close old browser tabs of earlier attempts and run the command again".into(),
            Error::CallbackTimeout { .. } => "run the command again and finish the form on GitHub before the timeout".into(),
            Error::CallbackServer { .. } | Error::Browser { .. } => {
                "open the printed URL in a browser on this machine yourself".into()
            }
            Error::ManifestCodeExpired { .. } => {
                "run the manifest flow again; if the app was created, delete it on GitHub (Settings > Developer settings) or import it with its id and a new private key".into()
            }
            Error::GitHub { .. } => "check the API base URL (GitHub Enterprise: https://HOST/api/v3)".into(),
            Error::NotRsaKey { .. } => {
                "download a private key for the app on GitHub (App settings > Private keys); it is a PEM file starting with -----BEGIN RSA PRIVATE KEY-----".into()
            }
            Error::InvalidParam { .. } => return None,
            Error::SshKey { .. } => return None,
        };
        Some(h)
    }
}

/// A new client secret: 32 bytes from the env's generator, URL-safe base64 without padding
/// (43 characters of `[A-Za-z0-9_-]`), so it survives env vars, YAML and URLs unquoted.
pub fn generate_secret(env: &Env) -> SecretString {
    let mut bytes = env.random_bytes::<32>();
    let s = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    zeroize::Zeroize::zeroize(&mut bytes);
    SecretString::from(s)
}

/// `sha256:<hex>` of `bytes` (the inventory's fingerprint form).
pub fn sha256_hex(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// `hmac-sha256:<hex>`: the inventory fingerprint of a shared secret (an OIDC client
/// secret), keyed by what the secret belongs to (`oidc-client/<id>`). It changes whenever
/// the secret does, so a rotation shows in the inventory and `mcb status`; the secrets are
/// 256-bit random, so the fingerprint gives nothing away, and the key keeps equal secrets
/// of different clients from looking equal.
pub fn secret_fingerprint(owner: &str, secret: &SecretString) -> String {
    use secrecy::ExposeSecret;
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, owner.as_bytes());
    let tag = ring::hmac::sign(&key, secret.expose_secret().as_bytes());
    format!("hmac-sha256:{}", hex::encode(tag.as_ref()))
}

/// `SHA256:<base64, unpadded>` of `bytes`: the form `ssh-keygen -l` and GitHub's settings
/// pages show, so reviewers can compare the inventory with what the forge displays.
pub fn sha256_b64(bytes: &[u8]) -> String {
    let d = Sha256::digest(bytes);
    format!(
        "SHA256:{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(d)
    )
}

/// An inventory entry created now (`env.now()`), with no expiry unless given.
pub(crate) fn credential(
    env: &Env,
    kind: CredentialKind,
    id: &str,
    fingerprint: String,
    not_after: Option<String>,
    extra: BTreeMap<String, String>,
) -> Credential {
    Credential {
        kind,
        id: id.into(),
        subject: None,
        fingerprint,
        not_before: None,
        not_after,
        created: rfc3339(env.now()),
        rotated: None,
        file: None,
        extra,
    }
}

pub(crate) fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .expect("UTC times format")
}

/// `PREFIX` + `id` upper-cased with every non-alphanumeric character as `_` + `SUFFIX`
/// ([`crate::spec::id_key`]: ids the spec lets through never share a name).
fn env_name(prefix: &str, id: &str, suffix: &str) -> String {
    format!("{prefix}{}{suffix}", crate::spec::id_key(id))
}

/// Checks ids are non-empty and unique, and that their variable names do not collide.
fn check_ids<'a>(
    what: &'static str,
    ids: impl IntoIterator<Item = &'a str>,
    env_of: fn(&str) -> String,
) -> Result<(), Error> {
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    let mut ids_seen = std::collections::BTreeSet::new();
    for id in ids {
        if id.is_empty() {
            return Err(Error::EmptyId { what });
        }
        if !ids_seen.insert(id) {
            return Err(Error::DuplicateId {
                what,
                id: id.into(),
            });
        }
        let env = env_of(id);
        if let Some(a) = seen.insert(env.clone(), id) {
            return Err(Error::EnvNameCollision {
                what,
                a: a.into(),
                b: id.into(),
                env,
            });
        }
    }
    Ok(())
}

/// A blocking HTTP client for the issuer and GitHub calls (rustls, 30 s timeout, no
/// redirects: an API that redirects is a misconfigured base URL, better reported).
pub(crate) fn http_client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .user_agent(concat!("mcb/", env!("CARGO_PKG_VERSION")))
        .timeout(std::time::Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("static HTTP client configuration is valid")
}

/// Maps a transport failure to [`Error::Http`].
pub(crate) fn http_err<'a>(
    method: &'static str,
    url: &'a str,
) -> impl FnOnce(reqwest::Error) -> Error + 'a {
    move |e| Error::Http {
        method,
        url: url.to_owned(),
        message: error_chain(&e),
    }
}

/// Decodes a JSON answer. The error names where decoding failed, never a value: serde's
/// messages quote the offending value, which could be a secret.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(
    url: &str,
    resp: reqwest::blocking::Response,
    what: &str,
) -> Result<T, Error> {
    let bad = |message: String| Error::BadResponse {
        url: url.to_owned(),
        message,
    };
    let body = zeroize::Zeroizing::new(
        resp.bytes()
            .map_err(|e| bad(format!("cannot read the body: {}", error_chain(&e))))?
            .to_vec(),
    );
    serde_json::from_slice(&body).map_err(|e| {
        let detail = e.to_string();
        // "missing field `x`" names a field, never a value: worth showing.
        let kind = match detail.starts_with("missing field") {
            true => detail
                .split(" at line")
                .next()
                .unwrap_or_default()
                .to_owned(),
            false => format!("{:?} error", e.classify()),
        };
        bad(format!(
            "not {what}: {kind} at line {} column {}",
            e.line(),
            e.column()
        ))
    })
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn env() -> Env {
        Env::seeded(1, time::macros::datetime!(2026-11-25 12:00:00 UTC))
    }

    #[test]
    fn secrets_are_strong_and_url_safe() {
        let e = env();
        let a = generate_secret(&e);
        let b = generate_secret(&e);
        assert_eq!(
            a.expose_secret().len(),
            43,
            "32 bytes, base64url, no padding"
        );
        assert!(a
            .expose_secret()
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_ne!(a.expose_secret(), b.expose_secret());
    }

    #[test]
    fn fingerprints() {
        assert_eq!(
            sha256_hex(b"abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            sha256_b64(b"abc"),
            "SHA256:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0"
        );
    }

    #[test]
    fn json_errors_never_quote_values() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct T {
            a: u64,
            b: String,
        }
        let resp =
            |body: &'static str| reqwest::blocking::Response::from(axum::http::Response::new(body));
        let e = parse_json::<T>("http://x", resp(r#"{"a": "topsecret", "b": ""}"#), "a T")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("topsecret"), "{e}");
        assert_eq!(
            e,
            "http://x: unexpected answer: not a T: Data error at line 1 column 17"
        );
        let e = parse_json::<T>("http://x", resp(r#"{"b": "v"}"#), "a T").unwrap_err();
        assert_eq!(
            e.to_string(),
            "http://x: unexpected answer: not a T: missing field `a` at line 1 column 10"
        );
    }

    #[test]
    fn id_checks_name_the_problem() {
        let f: fn(&str) -> String = |id| env_name("P_", id, "");
        assert!(check_ids("client", ["a", "b"], f).is_ok());
        assert!(matches!(
            check_ids("client", ["a", ""], f),
            Err(Error::EmptyId { .. })
        ));
        assert!(matches!(
            check_ids("client", ["a", "a"], f),
            Err(Error::DuplicateId { .. })
        ));
        let e = check_ids("client", ["a-b", "a.b"], f).unwrap_err();
        assert_eq!(
            e.to_string(),
            "client ids `a-b` and `a.b` both map to the environment variable P_A_B"
        );
    }
}
