//! GitHub Apps: created by the manifest flow (a page on 127.0.0.1 posts the manifest to
//! GitHub, GitHub redirects back to a local callback with a one-hour code, mcb converts it
//! at `POST {api}/app-manifests/{code}/conversions`), or imported from an app id and a
//! private key. Either way the result feeds Flux's `github` provider Secret
//! (fluxcd/source-controller `docs/spec/v1/gitrepositories.md`, "GitHub": keys
//! `githubAppID`, `githubAppInstallationID`, `githubAppPrivateKey`, optional
//! `githubAppBaseURL` = `https://HOST/api/v3` for GitHub Enterprise Server).
//!
//! Network: one local listener on 127.0.0.1 (random port) for the flow, and GitHub's API.
//! Opening a browser is the caller's [`Browser`]; this module never prints.
//!
//! Size: the manifest flow and the import end in the same app credentials and Secrets;
//! the tests are in `github_app/tests.rs`.

use std::collections::{BTreeMap, HashMap};
use std::future::IntoFuture;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use base64::Engine;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::{credential, http_client, http_err, parse_json, sha256_b64, Error};
use crate::inventory::{Credential, CredentialKind};
use crate::k8s::Secret;
use crate::Env;

/// Inventory kind of GitHub Apps.
pub const KIND: CredentialKind = CredentialKind::GithubApp;
/// Default web base URL (GitHub Enterprise Server: `https://HOST`).
pub const GITHUB_WEB: &str = "https://github.com";
/// Default API base URL (GitHub Enterprise Server: `https://HOST/api/v3`).
pub const GITHUB_API: &str = "https://api.github.com";
/// Namespace of Flux's Git credentials.
pub const FLUX_NAMESPACE: &str = "flux-system";

/// The repository permissions mcb asks for, the least that works for one app used by
/// both Flux and mcb (docs/design.md, "The GitHub App's permissions"):
/// - `contents: write`: mcb pushes its branch; Flux clones (read would do for Flux alone);
/// - `pull_requests: write`: mcb opens the pull request;
/// - `workflows: write`: init commits the config repo's CI workflow, and GitHub refuses a
///   push that adds or changes a file under `.github/workflows/` without it;
/// - `metadata: read`: mandatory for every app that has repository permissions.
///
/// Not `administration`: deploy keys are an alternative to the app, registered with the
/// user's own token. Each installation token mcb mints asks only for what its command
/// needs (`forge::Needs`).
pub fn default_permissions() -> BTreeMap<String, String> {
    [
        ("contents", "write"),
        ("metadata", "read"),
        ("pull_requests", "write"),
        ("workflows", "write"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// Who will own the new app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppOwner {
    /// the signed-in user
    User,
    /// an organization (its login)
    Organization(String),
}

/// What the manifest flow creates and where.
#[derive(Debug, Clone)]
pub struct ManifestParams {
    /// app name (unique on GitHub)
    pub name: String,
    /// homepage URL (required by GitHub)
    pub url: String,
    /// optional description
    pub description: Option<String>,
    /// user or organization
    pub owner: AppOwner,
    /// installable by anyone (default: only the owner)
    pub public: bool,
    /// repository/organization permissions (default: [`default_permissions`])
    pub permissions: BTreeMap<String, String>,
    /// webhook receiver; `None` keeps the webhook off (`hook_attributes.active=false`)
    pub webhook_url: Option<String>,
    /// web base URL (default [`GITHUB_WEB`])
    pub web_base: String,
    /// API base URL (default [`GITHUB_API`])
    pub api_base: String,
    /// how long to wait for the redirect back
    pub timeout: Duration,
}

impl ManifestParams {
    /// A private, webhook-less app on github.com with the default permissions.
    pub fn new(name: &str, url: &str, owner: AppOwner) -> Self {
        ManifestParams {
            name: name.into(),
            url: url.into(),
            description: None,
            owner,
            public: false,
            permissions: default_permissions(),
            webhook_url: None,
            web_base: GITHUB_WEB.into(),
            api_base: GITHUB_API.into(),
            timeout: Duration::from_secs(15 * 60),
        }
    }

    /// The manifest GitHub registers the app from; `redirect_url` receives `?code=&state=`.
    pub fn manifest(&self, redirect_url: &str) -> serde_json::Value {
        let mut m = serde_json::json!({
            "name": self.name,
            "url": self.url,
            "public": self.public,
            "redirect_url": redirect_url,
            "default_permissions": self.permissions,
            "default_events": [],
            "hook_attributes": {
                "url": self.webhook_url.as_deref().unwrap_or(&self.url),
                "active": self.webhook_url.is_some(),
            },
        });
        if let Some(d) = &self.description {
            m["description"] = d.clone().into();
        }
        m
    }

    /// Where the manifest is posted: `{web}/settings/apps/new?state=S` for a user,
    /// `{web}/organizations/{org}/settings/apps/new?state=S` for an organization.
    pub fn new_app_url(&self, state: &str) -> Result<String, Error> {
        let web = self.web_base.trim_end_matches('/');
        Ok(match &self.owner {
            AppOwner::User => format!("{web}/settings/apps/new?state={state}"),
            AppOwner::Organization(org) => {
                if org.is_empty() || !org.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                    return Err(Error::InvalidParam {
                        what: "organization",
                        message: format!("`{org}` is not a GitHub login (letters, digits, `-`)"),
                    });
                }
                format!("{web}/organizations/{org}/settings/apps/new?state={state}")
            }
        })
    }
}

/// Opens a URL for the user. The CLI prints it (and may launch a browser); tests capture it.
pub trait Browser {
    /// Shows `url` to the user.
    fn open(&self, url: &str) -> Result<(), String>;
}

/// A [`Browser`] that does nothing (the caller has shown the URL some other way).
#[derive(Debug, Default)]
pub struct NoBrowser;

impl Browser for NoBrowser {
    fn open(&self, _: &str) -> Result<(), String> {
        Ok(())
    }
}

/// An app just created on GitHub.
#[derive(Debug)]
pub struct CreatedApp {
    /// app id
    pub id: u64,
    /// URL slug
    pub slug: String,
    /// display name
    pub name: String,
    /// owner login, when GitHub says
    pub owner: Option<String>,
    /// `https://github.com/apps/<slug>`
    pub html_url: String,
    /// where the user installs it: `{html_url}/installations/new`
    pub install_url: String,
    /// OAuth client id
    pub client_id: String,
    /// OAuth client secret
    pub client_secret: SecretString,
    /// webhook secret (GitHub makes one even with the webhook off)
    pub webhook_secret: Option<SecretString>,
    /// the app's private key (PEM, RSA)
    pub private_key_pem: SecretString,
}

/// Runs the manifest flow: serves the auto-posting page on 127.0.0.1 (random port), calls
/// `browser` with its URL, waits for GitHub's redirect to `/callback`, rejects a wrong
/// `state` (HTTP 400, [`Error::StateMismatch`]), then converts the code.
pub fn create_app(
    env: &Env,
    params: &ManifestParams,
    browser: &dyn Browser,
) -> Result<CreatedApp, Error> {
    let server_err = |e: std::io::Error| Error::CallbackServer {
        message: e.to_string(),
    };
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(server_err)?;
    listener.set_nonblocking(true).map_err(server_err)?;
    let port = listener.local_addr().map_err(server_err)?.port();
    let state = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(env.random_bytes::<16>());
    let redirect = format!("http://127.0.0.1:{port}/callback");
    let page = page_html(
        &params.name,
        &params.new_app_url(&state)?,
        &params.manifest(&redirect),
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(server_err)?;
    // The listener is bound, so a browser that connects now waits in the backlog.
    browser
        .open(&format!("http://127.0.0.1:{port}/"))
        .map_err(|message| Error::Browser { message })?;
    let code = rt.block_on(serve(listener, state, page, params.timeout))?;
    drop(rt);
    exchange_code(&params.api_base, &code)
}

struct Flow {
    state: String,
    page: String,
    tx: tokio::sync::mpsc::Sender<Result<String, Error>>,
}

async fn serve(
    listener: std::net::TcpListener,
    state: String,
    page: String,
    timeout: Duration,
) -> Result<String, Error> {
    let listener =
        tokio::net::TcpListener::from_std(listener).map_err(|e| Error::CallbackServer {
            message: e.to_string(),
        })?;
    let (tx, mut rx) = tokio::sync::mpsc::channel(1);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let app = axum::Router::new()
        .route("/", axum::routing::get(show_page))
        .route("/callback", axum::routing::get(callback))
        .with_state(Arc::new(Flow { state, page, tx }));
    // Graceful shutdown lets the callback's answer reach the browser before we stop.
    let server = tokio::spawn(
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .into_future(),
    );
    let outcome = match tokio::time::timeout(timeout, rx.recv()).await {
        Ok(Some(r)) => r,
        Ok(None) => Err(Error::CallbackServer {
            message: "the server stopped".into(),
        }),
        Err(_) => Err(Error::CallbackTimeout {
            seconds: timeout.as_secs(),
        }),
    };
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    outcome
}

async fn show_page(State(flow): State<Arc<Flow>>) -> Html<String> {
    Html(flow.page.clone())
}

async fn callback(
    State(flow): State<Arc<Flow>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let (outcome, status, text) = match (q.get("state"), q.get("code")) {
        (Some(s), Some(code)) if *s == flow.state => (
            Ok(code.clone()),
            StatusCode::OK,
            "The GitHub App was created. You can close this tab; mcb continues in the terminal.",
        ),
        (Some(s), _) if *s == flow.state => (
            Err(Error::CallbackServer {
                message: "GitHub redirected without a code".into(),
            }),
            StatusCode::BAD_REQUEST,
            "error: GitHub redirected without a code; run mcb again.",
        ),
        _ => (
            Err(Error::StateMismatch),
            StatusCode::BAD_REQUEST,
            "error: state mismatch; this redirect does not belong to the running mcb flow.",
        ),
    };
    // Only the first outcome counts; later hits find the channel full and are ignored.
    let _ = flow.tx.try_send(outcome);
    (status, text).into_response()
}

/// The page that posts the manifest to GitHub as soon as it loads (with a button as fallback).
fn page_html(name: &str, action: &str, manifest: &serde_json::Value) -> String {
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>mcb: create GitHub App</title></head>\n\
         <body>\n<p>Creating the GitHub App <b>{name}</b>…</p>\n\
         <form id=\"manifest\" method=\"post\" action=\"{action}\">\n\
         <input type=\"hidden\" name=\"manifest\" value=\"{manifest}\">\n\
         <button type=\"submit\">Continue on GitHub</button>\n</form>\n\
         <script>document.getElementById(\"manifest\").submit();</script>\n</body></html>\n",
        name = html_escape(name),
        action = html_escape(action),
        manifest = html_escape(&manifest.to_string()),
    )
}

fn html_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

#[derive(Deserialize)]
struct Conversion {
    id: u64,
    slug: String,
    name: String,
    html_url: String,
    client_id: String,
    client_secret: String,
    #[serde(default)]
    webhook_secret: Option<String>,
    pem: String,
    #[serde(default)]
    owner: Option<Owner>,
}

#[derive(Deserialize)]
struct Owner {
    login: String,
}

#[derive(Deserialize)]
struct GitHubError {
    #[serde(default)]
    message: String,
}

/// Converts a manifest code into the app's credentials (`POST {api}/app-manifests/{code}/conversions`).
pub fn exchange_code(api_base: &str, code: &str) -> Result<CreatedApp, Error> {
    if code.is_empty()
        || !code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
    {
        return Err(Error::InvalidParam {
            what: "manifest code",
            message: "GitHub codes are letters, digits, `-` and `_`".into(),
        });
    }
    let url = format!(
        "{}/app-manifests/{code}/conversions",
        api_base.trim_end_matches('/')
    );
    let resp = http_client()
        .post(&url)
        .header("Accept", "application/vnd.github+json")
        .header("X-GitHub-Api-Version", "2022-11-28")
        .send()
        .map_err(http_err("POST", &url))?;
    let status = resp.status().as_u16();
    match status {
        200 | 201 => {}
        404 | 422 => return Err(Error::ManifestCodeExpired { url, status }),
        _ => {
            let message = resp
                .json::<GitHubError>()
                .map(|e| e.message)
                .unwrap_or_default();
            return Err(Error::GitHub {
                method: "POST",
                url,
                status,
                message,
            });
        }
    }
    let c: Conversion = parse_json(&url, resp, "an app conversion")?;
    Ok(CreatedApp {
        install_url: format!("{}/installations/new", c.html_url.trim_end_matches('/')),
        id: c.id,
        slug: c.slug,
        name: c.name,
        owner: c.owner.map(|o| o.login),
        html_url: c.html_url,
        client_id: c.client_id,
        client_secret: SecretString::from(c.client_secret),
        webhook_secret: c.webhook_secret.map(SecretString::from),
        private_key_pem: SecretString::from(c.pem),
    })
}

impl CreatedApp {
    /// The app as Flux uses it, once installed (`installation_id` from the installation).
    pub fn import(&self, installation_id: u64) -> Result<ImportedApp, Error> {
        import_app(self.id, installation_id, self.private_key_pem.clone())
    }
}

/// An app mcb (or Flux) authenticates as: id, installation and private key.
#[derive(Debug)]
pub struct ImportedApp {
    /// app id
    pub app_id: u64,
    /// installation id
    pub installation_id: u64,
    /// the RSA private key (PEM)
    pub private_key_pem: SecretString,
    /// `SHA256:…` of the public key (SubjectPublicKeyInfo DER), as GitHub's app page shows it
    pub fingerprint: String,
}

/// Takes an existing app: checks ids are set and `pem` is an RSA private key (PKCS#1, as
/// GitHub issues them, or PKCS#8).
pub fn import_app(
    app_id: u64,
    installation_id: u64,
    pem: SecretString,
) -> Result<ImportedApp, Error> {
    for (what, v) in [("app id", app_id), ("installation id", installation_id)] {
        if v == 0 {
            return Err(Error::InvalidParam {
                what,
                message: "must be a positive number".into(),
            });
        }
    }
    let text = pem.expose_secret();
    let key = rsa::RsaPrivateKey::from_pkcs1_pem(text)
        .or_else(|_| rsa::RsaPrivateKey::from_pkcs8_pem(text))
        .map_err(|e| Error::NotRsaKey {
            app_id,
            message: e.to_string(),
        })?;
    let spki = key
        .to_public_key()
        .to_public_key_der()
        .map_err(|e| Error::NotRsaKey {
            app_id,
            message: e.to_string(),
        })?;
    Ok(ImportedApp {
        app_id,
        installation_id,
        fingerprint: sha256_b64(spki.as_bytes()),
        private_key_pem: pem,
    })
}

impl ImportedApp {
    /// Flux's `github` provider Secret `name` in `namespace`; `api_base` is set as
    /// `githubAppBaseURL` unless it is github.com's.
    pub fn flux_secret(&self, name: &str, namespace: &str, api_base: &str) -> Secret {
        let mut s = Secret::new(name, namespace, "Opaque")
            .with("githubAppID", self.app_id.to_string())
            .with("githubAppInstallationID", self.installation_id.to_string())
            .with(
                "githubAppPrivateKey",
                self.private_key_pem.expose_secret().as_bytes().to_vec(),
            );
        let api = api_base.trim_end_matches('/');
        if api != GITHUB_API {
            s = s.with("githubAppBaseURL", api.to_owned());
        }
        s
    }

    /// The inventory entry: `id` (e.g. the app slug), key fingerprint, app/installation ids.
    pub fn credential(&self, env: &Env, id: &str) -> Credential {
        let extra = BTreeMap::from([
            ("appId".to_owned(), self.app_id.to_string()),
            (
                "installationId".to_owned(),
                self.installation_id.to_string(),
            ),
        ]);
        credential(env, KIND, id, self.fingerprint.clone(), None, extra)
    }
}

#[cfg(test)]
mod tests;
