//! GitHub (and GitHub Enterprise, via the API base URL) over blocking reqwest (rustls), so
//! callers stay synchronous. Requests are built by hand (method, path, JSON) so every status
//! and rate-limit header is ours to interpret, and every one carries `User-Agent:
//! mcb/<version>` (octocrab, used before, always appended its own `octocrab` agent).
//!
//! Size: one client, one method per GitHub endpoint mcb calls (pull requests, deploy keys,
//! app tokens) over one request/response handling; the tests are in `github/tests.rs`.

use std::time::Duration;

use http::header::{ACCEPT, AUTHORIZATION, USER_AGENT};
use http::Method;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use time::OffsetDateTime;

use super::{BranchPr, Error, Forge, LastUsed, Needs, PrInfo, PullRequest, RepoSlug};

/// The public GitHub API.
pub const DEFAULT_API: &str = "https://api.github.com";

/// The `User-Agent` of every request (GitHub asks for the application's name).
pub const AGENT: &str = concat!("mcb/", env!("CARGO_PKG_VERSION"));

/// How mcb authenticates to the API.
#[derive(Clone)]
pub enum Auth {
    /// A token (`GITHUB_TOKEN`: personal, fine-grained or an installation token).
    Token(SecretString),
    /// A GitHub App: a JWT signed with its key buys an installation token.
    App {
        /// the app's numeric id
        app_id: u64,
        /// its PEM private key
        private_key: SecretString,
        /// the installation; None asks `GET /repos/{o}/{r}/installation`
        installation_id: Option<u64>,
    },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Token(_) => f.write_str("Auth::Token(..)"),
            Auth::App {
                app_id,
                installation_id,
                ..
            } => f
                .debug_struct("Auth::App")
                .field("app_id", app_id)
                .field("installation_id", installation_id)
                .finish_non_exhaustive(),
        }
    }
}

/// Retries on rate limits: at most `max_tries` requests, never waiting longer than
/// `max_wait` at once (a longer wait fails with [`Error::RateLimited`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// requests in total, first one included
    pub max_tries: u32,
    /// the longest single wait
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_tries: 3,
            max_wait: Duration::from_secs(60),
        }
    }
}

/// Where and as whom to talk to GitHub.
#[derive(Debug)]
pub struct GitHubConfig {
    /// API base URL, e.g. [`DEFAULT_API`] or `https://ghe.example.com/api/v3`
    pub api: String,
    /// the config repo
    pub repo: RepoSlug,
    /// credentials
    pub auth: Auth,
    /// what the command does at GitHub: an app's installation token asks for exactly that
    pub needs: Needs,
    /// rate-limit retries
    pub retry: RetryPolicy,
}

/// A connected GitHub client for one repository.
pub struct GitHub {
    http: reqwest::blocking::Client,
    api: String,
    repo: RepoSlug,
    authorization: SecretString,
    /// a GitHub App's installation token, which also authenticates the push over HTTPS
    installation_token: Option<SecretString>,
    retry: RetryPolicy,
    now: OffsetDateTime,
}

impl std::fmt::Debug for GitHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitHub")
            .field("api", &self.api)
            .field("repo", &self.repo)
            .finish_non_exhaustive()
    }
}

/// A decoded response.
struct Reply {
    status: u16,
    headers: http::HeaderMap,
    body: String,
}

impl GitHub {
    /// Builds the client and, for a GitHub App, trades a JWT for an installation token.
    /// `now` (from [`crate::Env`]) signs the JWT and checks the token's expiry.
    pub fn connect(cfg: GitHubConfig, now: OffsetDateTime) -> Result<GitHub, Error> {
        let api = cfg.api.trim_end_matches('/').to_owned();
        if url::Url::parse(&api).is_err() {
            return Err(Error::BadApiUrl { input: cfg.api });
        }
        let http = http_client()?;
        let mut gh = GitHub {
            http,
            api,
            repo: cfg.repo,
            authorization: SecretString::from(String::new()),
            installation_token: None,
            retry: cfg.retry,
            now,
        };
        gh.authorization = match cfg.auth {
            Auth::Token(t) => SecretString::from(format!("Bearer {}", t.expose_secret())),
            Auth::App {
                app_id,
                private_key,
                installation_id,
            } => {
                let jwt = app_jwt(app_id, &private_key, now)?;
                let token = gh.mint_installation_token(&jwt, installation_id, cfg.needs)?;
                let header = SecretString::from(format!("token {}", token.expose_secret()));
                gh.installation_token = Some(token);
                header
            }
        };
        Ok(gh)
    }

    /// The installation token of a GitHub App client (None for a token client): the
    /// credential of an HTTPS push as user `x-access-token`, so a push needs no other
    /// token.
    pub fn installation_token(&self) -> Option<&SecretString> {
        self.installation_token.as_ref()
    }

    /// Checks that `private_key` is a key of app `app_id` at `api`: `GET /app` with a JWT
    /// it signs must answer that app (a key GitHub does not know gets 401).
    pub fn verify_app_key(
        api: &str,
        app_id: u64,
        private_key: &SecretString,
        now: OffsetDateTime,
    ) -> Result<(), Error> {
        let http = http_client()?;
        let gh = GitHub {
            http,
            api: api.trim_end_matches('/').to_owned(),
            repo: RepoSlug {
                owner: String::new(),
                name: String::new(),
            },
            authorization: SecretString::from(String::new()),
            installation_token: None,
            retry: RetryPolicy::default(),
            now,
        };
        let jwt = app_jwt(app_id, private_key, now)?;
        let bearer = SecretString::from(format!("Bearer {}", jwt.expose_secret()));
        let v = gh.call_as(&bearer, Method::GET, "/app", None)?;
        let id = u64_field(&v, "id", "GET /app")?;
        if id != app_id {
            return Err(decode(
                "GET /app",
                &format!("the key belongs to app {id}, not {app_id}"),
            ));
        }
        Ok(())
    }

    /// Trades the app's JWT for an installation token scoped to this repository and to the
    /// permissions `needs` names (GitHub: `repositories` and `permissions` of `POST
    /// /app/installations/{id}/access_tokens`; unscoped, a token could write every
    /// repository of the installation with every permission of the app).
    fn mint_installation_token(
        &self,
        jwt: &SecretString,
        installation_id: Option<u64>,
        needs: Needs,
    ) -> Result<SecretString, Error> {
        let bearer = SecretString::from(format!("Bearer {}", jwt.expose_secret()));
        let id = match installation_id {
            Some(id) => id,
            None => {
                let path = format!("/repos/{}/installation", self.repo);
                let v = self.call_as(&bearer, Method::GET, &path, None)?;
                u64_field(&v, "id", &format!("GET {path}"))?
            }
        };
        let path = format!("/app/installations/{id}/access_tokens");
        let what = format!("POST {path}");
        let scope = json!({
            "repositories": [self.repo.name],
            "permissions": needs.permissions(),
        });
        let v = self.call_as(&bearer, Method::POST, &path, Some(&scope))?;
        let token = v
            .get("token")
            .and_then(Value::as_str)
            .ok_or_else(|| decode(&what, "no `token`"))?;
        let token = SecretString::from(token.to_owned());
        if let Some(exp) = v.get("expires_at").and_then(Value::as_str) {
            let at = OffsetDateTime::parse(exp, &time::format_description::well_known::Rfc3339)
                .map_err(|_| decode(&what, "`expires_at` is not RFC 3339"))?;
            if at <= self.now {
                return Err(Error::TokenExpired {
                    expires_at: exp.to_owned(),
                });
            }
        }
        Ok(token)
    }

    /// The repository this client works on.
    pub fn repo(&self) -> &RepoSlug {
        &self.repo
    }

    fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value, Error> {
        self.call_as(&self.authorization, method, path, body)
    }

    /// One API call with rate-limit retries; the JSON body of a 2xx answer.
    fn call_as(
        &self,
        authorization: &SecretString,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, Error> {
        let what = format!("{method} {}", path.split('?').next().unwrap_or(path));
        let mut tries = 0;
        loop {
            tries += 1;
            let r = self.send(authorization, method.clone(), path, body, &what)?;
            if (200..300).contains(&r.status) {
                if r.body.trim().is_empty() {
                    return Ok(Value::Null);
                }
                return serde_json::from_str(&r.body).map_err(|e| decode(&what, &e.to_string()));
            }
            if let Some(wait) = self.rate_limit_wait(&r) {
                if tries < self.retry.max_tries && wait <= self.retry.max_wait {
                    std::thread::sleep(wait);
                    continue;
                }
                return Err(Error::RateLimited {
                    what,
                    wait_secs: wait.as_secs(),
                });
            }
            return Err(status_error(what, &r));
        }
    }

    fn send(
        &self,
        authorization: &SecretString,
        method: Method,
        path: &str,
        body: Option<&Value>,
        what: &str,
    ) -> Result<Reply, Error> {
        let url = format!("{}{path}", self.api);
        let method = reqwest::Method::from_bytes(method.as_str().as_bytes())
            .expect("an HTTP method is a valid method");
        let mut req = self
            .http
            .request(method, &url)
            .header(AUTHORIZATION, authorization.expose_secret())
            .header(ACCEPT, "application/vnd.github+json")
            .header(USER_AGENT, AGENT)
            .header("x-github-api-version", "2022-11-28");
        if let Some(b) = body {
            req = req.json(b);
        }
        let network = |e: reqwest::Error| Error::Network {
            what: what.to_owned(),
            message: transport_message(&e),
        };
        let resp = req.send().map_err(network)?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.text().map_err(network)?;
        Ok(Reply {
            status,
            headers,
            body,
        })
    }

    /// How long GitHub asks us to wait, if this is a rate-limit answer (429, or 403 with
    /// `retry-after` or `x-ratelimit-remaining: 0`).
    fn rate_limit_wait(&self, r: &Reply) -> Option<Duration> {
        let header = |n: &str| r.headers.get(n).and_then(|v| v.to_str().ok());
        let retry_after = header("retry-after").and_then(|v| v.trim().parse::<u64>().ok());
        let exhausted = header("x-ratelimit-remaining") == Some("0");
        if !(r.status == 429 || (r.status == 403 && (retry_after.is_some() || exhausted))) {
            return None;
        }
        if let Some(s) = retry_after {
            return Some(Duration::from_secs(s));
        }
        if let Some(reset) = header("x-ratelimit-reset").and_then(|v| v.parse::<i64>().ok()) {
            // compare with the server's clock when it sent one
            let server_now = header("date")
                .and_then(|d| {
                    OffsetDateTime::parse(d, &time::format_description::well_known::Rfc2822).ok()
                })
                .unwrap_or(self.now)
                .unix_timestamp();
            return Some(Duration::from_secs(
                u64::try_from(reset - server_now).unwrap_or(0).max(1),
            ));
        }
        Some(Duration::from_secs(60)) // GitHub's advice for secondary limits without headers
    }
}

impl GitHub {
    /// The number of the open pull request from branch `head`, if there is one. A read
    /// that needs the repository and working credentials, so it doubles as the check
    /// before anything is committed or pushed.
    pub fn open_pull_request(&self, head: &str) -> Result<Option<u64>, Error> {
        let pulls = format!("/repos/{}/pulls", self.repo);
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("head", &format!("{}:{head}", self.repo.owner))
            .append_pair("state", "open")
            .finish();
        let list = self.call(Method::GET, &format!("{pulls}?{query}"), None)?;
        list.as_array()
            .ok_or_else(|| decode(&format!("GET {pulls}"), "not a list"))?
            .first()
            .map(|p| u64_field(p, "number", &format!("GET {pulls}")))
            .transpose()
    }
}

impl GitHub {
    /// What became of the pull requests from branch `head` (this repository's owner): one
    /// open, none ever, or the newest merged or closed - then a publishing command starts
    /// the branch afresh instead of stacking on work that is done. A read that needs the
    /// repository and working credentials, so it doubles as the check before anything is
    /// committed or pushed.
    pub fn branch_pull_requests(&self, head: &str) -> Result<BranchPr, Error> {
        let pulls = format!("/repos/{}/pulls", self.repo);
        let what = format!("GET {pulls}");
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("head", &format!("{}:{head}", self.repo.owner))
            .append_pair("state", "all")
            .append_pair("sort", "created")
            .append_pair("direction", "desc")
            .finish();
        let list = self.call(Method::GET, &format!("{pulls}?{query}"), None)?;
        let items = list.as_array().ok_or_else(|| decode(&what, "not a list"))?;
        // the listing filters by head; a fake or an older server may not
        let mine: Vec<&Value> = items
            .iter()
            .filter(|p| {
                p.pointer("/head/ref")
                    .and_then(Value::as_str)
                    .is_none_or(|r| r == head)
            })
            .collect();
        if let Some(open) = mine
            .iter()
            .find(|p| p.get("state").and_then(Value::as_str) == Some("open"))
        {
            return Ok(BranchPr::Open(u64_field(open, "number", &what)?));
        }
        let Some(newest) = mine.first() else {
            return Ok(BranchPr::None);
        };
        Ok(BranchPr::Done {
            number: u64_field(newest, "number", &what)?,
            merged: newest.get("merged_at").is_some_and(|m| !m.is_null()),
            head_sha: newest
                .pointer("/head/sha")
                .and_then(Value::as_str)
                .ok_or_else(|| decode(&what, "no `head.sha`"))?
                .to_owned(),
        })
    }

    /// The open pull request whose head branch is `head`, from any owner, searching the
    /// open pull requests page by page (at most 1000).
    fn find_open_pull_request(&self, head: &str) -> Result<Option<u64>, Error> {
        let pulls = format!("/repos/{}/pulls", self.repo);
        for page in 1..=10 {
            let list = self.call(
                Method::GET,
                &format!("{pulls}?state=open&per_page=100&page={page}"),
                None,
            )?;
            let items = list
                .as_array()
                .ok_or_else(|| decode(&format!("GET {pulls}"), "not a list"))?;
            let found = items
                .iter()
                .find(|p| p.pointer("/head/ref").and_then(Value::as_str) == Some(head));
            if let Some(p) = found {
                return u64_field(p, "number", &format!("GET {pulls}")).map(Some);
            }
            if items.len() < 100 {
                break;
            }
        }
        Ok(None)
    }
}

impl Forge for GitHub {
    fn ensure_pull_request(&self, pr: &PullRequest) -> Result<PrInfo, Error> {
        let pulls = format!("/repos/{}/pulls", self.repo);
        let existing = self.open_pull_request(&pr.head)?;
        let (v, created) = match existing {
            Some(n) => {
                let body = json!({"title": pr.title, "body": pr.body});
                (
                    self.call(Method::PATCH, &format!("{pulls}/{n}"), Some(&body))?,
                    false,
                )
            }
            None => {
                let body = json!({
                    "title": pr.title, "head": pr.head, "base": pr.base,
                    "body": pr.body, "draft": pr.draft,
                });
                match self.call(Method::POST, &pulls, Some(&body)) {
                    Ok(v) => (v, true),
                    // The list missed it (another head owner, a lagging index): find it
                    // among the open pull requests and update it.
                    Err(Error::Unprocessable { message, .. })
                        if message.contains("already exists") =>
                    {
                        let n = self.find_open_pull_request(&pr.head)?.ok_or_else(|| {
                            decode(
                                &format!("POST {pulls}"),
                                "GitHub says a pull request exists, but none is open for this branch",
                            )
                        })?;
                        let body = json!({"title": pr.title, "body": pr.body});
                        (
                            self.call(Method::PATCH, &format!("{pulls}/{n}"), Some(&body))?,
                            false,
                        )
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        let number = u64_field(&v, "number", &format!("POST {pulls}"))?;
        let url = v
            .get("html_url")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if created && !pr.reviewers.is_empty() {
            let body = json!({ "reviewers": pr.reviewers });
            let path = format!("{pulls}/{number}/requested_reviewers");
            self.call(Method::POST, &path, Some(&body))?;
        }
        if !pr.labels.is_empty() {
            let body = json!({ "labels": pr.labels });
            let path = format!("/repos/{}/issues/{number}/labels", self.repo);
            self.call(Method::POST, &path, Some(&body))?;
        }
        Ok(PrInfo {
            number,
            url,
            created,
        })
    }

    fn add_deploy_key(&self, title: &str, key: &str, read_only: bool) -> Result<u64, Error> {
        let path = format!("/repos/{}/keys", self.repo);
        let body = json!({"title": title, "key": key, "read_only": read_only});
        let v = self.call(Method::POST, &path, Some(&body))?;
        u64_field(&v, "id", &format!("POST {path}"))
    }

    fn delete_deploy_key(&self, id: u64) -> Result<(), Error> {
        let path = format!("/repos/{}/keys/{id}", self.repo);
        self.call(Method::DELETE, &path, None).map(drop)
    }

    fn deploy_key_last_used(&self, id: u64) -> Result<LastUsed, Error> {
        let path = format!("/repos/{}/keys/{id}", self.repo);
        let v = self.call(Method::GET, &path, None)?;
        Ok(match v.get("last_used") {
            None => LastUsed::Unknown,
            Some(Value::String(t)) => LastUsed::At(t.clone()),
            Some(_) => LastUsed::Never,
        })
    }
}

/// The HTTP client of every GitHub request: mcb's User-Agent, bounded waits.
fn http_client() -> Result<reqwest::blocking::Client, Error> {
    reqwest::blocking::Client::builder()
        .user_agent(AGENT)
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| Error::Runtime(e.to_string()))
}

/// The App JWT: RS256, issued a minute in the past against clock skew, valid 9 minutes
/// (GitHub allows at most 10).
fn app_jwt(
    app_id: u64,
    private_key: &SecretString,
    now: OffsetDateTime,
) -> Result<SecretString, Error> {
    #[derive(serde::Serialize)]
    struct Claims {
        iat: i64,
        exp: i64,
        iss: String,
    }
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(private_key.expose_secret().as_bytes())
        .map_err(|e| Error::AppKey {
            message: e.to_string(),
        })?;
    let t = now.unix_timestamp();
    let claims = Claims {
        iat: t - 60,
        exp: t + 540,
        iss: app_id.to_string(),
    };
    let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    jsonwebtoken::encode(&header, &claims, &key)
        .map(SecretString::from)
        .map_err(|e| Error::AppKey {
            message: e.to_string(),
        })
}

fn u64_field(v: &Value, field: &str, what: &str) -> Result<u64, Error> {
    v.get(field)
        .and_then(Value::as_u64)
        .ok_or_else(|| decode(what, &format!("no numeric `{field}`")))
}

fn decode(what: &str, message: &str) -> Error {
    Error::Decode {
        what: what.to_owned(),
        message: message.to_owned(),
    }
}

/// The innermost cause of a transport error (e.g. "Connection refused").
fn transport_message(e: &reqwest::Error) -> String {
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg = s.to_string();
        src = s.source();
    }
    msg
}

/// GitHub's `message` plus any field `errors[].message`/`code`.
fn github_message(body: &str) -> String {
    let Ok(v) = serde_json::from_str::<Value>(body) else {
        return body.chars().take(200).collect();
    };
    let mut msg = v
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    for e in v
        .get("errors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let part = e
            .get("message")
            .or_else(|| e.get("code"))
            .and_then(Value::as_str);
        if let Some(p) = part {
            msg.push_str("; ");
            msg.push_str(p);
        }
    }
    msg
}

fn status_error(what: String, r: &Reply) -> Error {
    let message = github_message(&r.body);
    match r.status {
        401 => Error::Unauthorized { what, message },
        403 => Error::Forbidden { what, message },
        404 => Error::NotFound { what, message },
        422 => Error::Unprocessable { what, message },
        status => Error::Status {
            what,
            status,
            message,
        },
    }
}

#[cfg(test)]
mod tests;
