//! The forge that hosts the config repo: pull requests and deploy keys behind a small
//! synchronous [`Forge`] trait, with GitHub (`github`, on blocking reqwest) as the implementation,
//! and the PR body renderer (`body`). It never touches the local repository (that is
//! `crate::git`) and never sees a secret value except its own API token.

pub mod body;
mod github;

pub use github::{Auth, GitHub, GitHubConfig, RetryPolicy, DEFAULT_API};

/// Forge API failures. `what` is the request (`POST /repos/o/r/pulls`), never a token.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 401: the credentials were not accepted.
    #[error("{what}: GitHub rejected the credentials (401): {message}")]
    Unauthorized {
        /// the request
        what: String,
        /// GitHub's message
        message: String,
    },
    /// 403 that is not a rate limit: the token lacks a permission.
    #[error("{what}: forbidden (403): {message}")]
    Forbidden {
        /// the request
        what: String,
        /// GitHub's message
        message: String,
    },
    /// 404: repository or object not found (or not visible to this token).
    #[error("{what}: not found (404): {message}")]
    NotFound {
        /// the request
        what: String,
        /// GitHub's message
        message: String,
    },
    /// 422: the request was understood but refused (e.g. the head branch is not pushed).
    #[error("{what}: GitHub refused the request (422): {message}")]
    Unprocessable {
        /// the request
        what: String,
        /// GitHub's message and field errors
        message: String,
    },
    /// Rate limited and the wait would be too long, or tries ran out.
    #[error("{what}: rate limited by GitHub (retry in {wait_secs} s)")]
    RateLimited {
        /// the request
        what: String,
        /// how long GitHub asked us to wait
        wait_secs: u64,
    },
    /// The API could not be reached.
    #[error("{what}: cannot reach the GitHub API: {message}")]
    Network {
        /// the request
        what: String,
        /// the transport error
        message: String,
    },
    /// Any other unexpected status.
    #[error("{what}: unexpected HTTP {status}: {message}")]
    Status {
        /// the request
        what: String,
        /// the HTTP status
        status: u16,
        /// GitHub's message
        message: String,
    },
    /// The response was not the JSON we expected.
    #[error("{what}: unexpected response: {message}")]
    Decode {
        /// the request
        what: String,
        /// what did not parse
        message: String,
    },
    /// `OWNER/NAME` or a remote URL that names no GitHub repository.
    #[error("cannot tell the GitHub repository from `{input}`")]
    BadRepo {
        /// what was given
        input: String,
    },
    /// The API base URL is not a URL.
    #[error("`{input}` is not a valid API URL")]
    BadApiUrl {
        /// what was given
        input: String,
    },
    /// The GitHub App private key could not sign a JWT.
    #[error("GitHub App private key: {message}")]
    AppKey {
        /// why it failed (never the key)
        message: String,
    },
    /// The installation token GitHub returned has already expired.
    #[error("the installation token returned by GitHub expired at {expires_at}")]
    TokenExpired {
        /// its `expires_at`
        expires_at: String,
    },
    /// The async runtime could not start.
    #[error("cannot start the HTTP runtime: {0}")]
    Runtime(String),
}

impl crate::Help for Error {
    fn help(&self) -> Option<String> {
        Some(match self {
            Error::Unauthorized { .. } => {
                "check GITHUB_TOKEN (expired or revoked?) or the GitHub App id and key".into()
            }
            Error::Forbidden { .. } => "the token lacks a permission: pull requests need `pull_requests: write` (classic: `repo` scope), deploy keys `administration: write`, a pushed workflow `workflows: write` (a GitHub App: grant it in the app's settings, then accept the new permissions on its installation)".into(),
            Error::NotFound { .. } => {
                "check --github-repo OWNER/NAME and that the token can see the repository".into()
            }
            // GitHub refuses a token asking for a permission the installation lacks
            Error::Unprocessable { what, .. } if what.ends_with("/access_tokens") => {
                "the GitHub App lacks a permission this command asks for (contents and pull_requests: write to publish, workflows: write when the CI workflow is added, administration: write for deploy keys): grant it in the app's settings, then accept the new permissions on its installation".into()
            }
            Error::Unprocessable { .. } => {
                "check that the branch was pushed (--push) and that --base names an existing branch".into()
            }
            Error::RateLimited { .. } => "wait and re-run; the branch is already pushed".into(),
            Error::Network { .. } => {
                "check --github-api and your connection, then re-run (the push is kept)".into()
            }
            Error::BadRepo { .. } => "pass --github-repo OWNER/NAME".into(),
            Error::BadApiUrl { .. } => {
                "use e.g. --github-api https://github.example.com/api/v3".into()
            }
            Error::AppKey { .. } => "pass the app's PEM private key as downloaded from GitHub".into(),
            Error::TokenExpired { .. } => "check the system clock".into(),
            Error::Status { .. } | Error::Decode { .. } | Error::Runtime(_) => return None,
        })
    }
}

/// What a command does at GitHub, so a GitHub App's installation token asks for exactly
/// the permissions that needs (docs/design.md, "The GitHub App's permissions"). The
/// default: push a branch and open its pull request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Needs {
    /// push (and fetch) a branch and open or update its pull request
    pub publish: bool,
    /// the pushed commits add or change a file under `.github/workflows/` (GitHub refuses
    /// such a push without `workflows: write`)
    pub workflows: bool,
    /// deploy keys are added, read or removed (`administration: write`)
    pub deploy_keys: bool,
}

impl Default for Needs {
    fn default() -> Needs {
        Needs {
            publish: true,
            workflows: false,
            deploy_keys: false,
        }
    }
}

/// Where GitHub requires `workflows: write` for a push that changes a file.
pub const WORKFLOWS_DIR: &str = ".github/workflows/";

impl Needs {
    /// Needs of a publish whose changed files are `paths` (repo-relative).
    pub fn for_paths<'a>(paths: impl IntoIterator<Item = &'a str>) -> Needs {
        Needs {
            workflows: paths.into_iter().any(|p| p.starts_with(WORKFLOWS_DIR)),
            ..Needs::default()
        }
    }

    /// Deploy keys only (register, check, delete).
    pub fn deploy_keys() -> Needs {
        Needs {
            publish: false,
            workflows: false,
            deploy_keys: true,
        }
    }

    /// The `permissions` of an installation token request: `metadata: read` (every app has
    /// it); to publish `contents: write` (push, fetch) and `pull_requests: write` (open,
    /// update, label, request reviewers); `workflows` and `administration: write` only
    /// when needed.
    pub fn permissions(&self) -> std::collections::BTreeMap<&'static str, &'static str> {
        let mut p = std::collections::BTreeMap::from([("metadata", "read")]);
        if self.publish {
            p.insert("contents", "write");
            p.insert("pull_requests", "write");
        }
        if self.workflows {
            p.insert("workflows", "write");
        }
        if self.deploy_keys {
            p.insert("administration", "write");
        }
        p
    }
}

/// A pull request to create or update.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PullRequest {
    /// the branch with the changes
    pub head: String,
    /// the branch to merge into
    pub base: String,
    /// PR title
    pub title: String,
    /// PR body (Markdown), from [`body::render`]
    pub body: String,
    /// labels to add
    pub labels: Vec<String>,
    /// open as draft (on creation only)
    pub draft: bool,
    /// users asked to review (on creation only)
    pub reviewers: Vec<String>,
}

/// The pull request after [`Forge::ensure_pull_request`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PrInfo {
    /// its number
    pub number: u64,
    /// its web URL
    pub url: String,
    /// true when it was opened now, false when an open one was updated
    pub created: bool,
}

/// What mcb needs from a forge. Synchronous: callers are plain CLI code.
pub trait Forge {
    /// Opens a PR for `pr.head`, or updates title and body of the open one: never two.
    fn ensure_pull_request(&self, pr: &PullRequest) -> Result<PrInfo, Error>;
    /// Adds an SSH deploy key (public key line); returns its id.
    fn add_deploy_key(&self, title: &str, key: &str, read_only: bool) -> Result<u64, Error>;
    /// Removes a deploy key by id.
    fn delete_deploy_key(&self, id: u64) -> Result<(), Error>;
    /// When deploy key `id` was last used: `Unknown` when the forge does not say.
    fn deploy_key_last_used(&self, id: u64) -> Result<LastUsed, Error>;
}

/// What became of a branch's pull requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BranchPr {
    /// none was ever opened
    None,
    /// one is open: its number
    Open(u64),
    /// none is open and the newest was merged or closed
    Done {
        /// its number
        number: u64,
        /// merged (else closed unmerged)
        merged: bool,
        /// the commit its head branch pointed at
        head_sha: String,
    },
}

/// What a forge says about a credential's last use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LastUsed {
    /// never used
    Never,
    /// last used at this time (RFC 3339)
    At(String),
    /// the forge does not report it (older GitHub Enterprise)
    Unknown,
}

/// The resolved `--pr` flags: where the PR goes and how it looks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrOptions {
    /// API base URL (`--github-api`)
    pub api: String,
    /// `--github-repo`; None derives it from the push remote's URL
    pub repo: Option<RepoSlug>,
    /// open as draft
    pub draft: bool,
    /// labels to add
    pub labels: Vec<String>,
}

impl PrOptions {
    /// The client configuration for these options, `remote_url` naming the repo unless
    /// `--github-repo` did.
    pub fn config(&self, remote_url: &str, auth: Auth) -> Result<GitHubConfig, Error> {
        let repo = match &self.repo {
            Some(r) => r.clone(),
            None => RepoSlug::from_remote_url(remote_url)?,
        };
        Ok(GitHubConfig {
            api: self.api.clone(),
            repo,
            auth,
            needs: Needs::default(),
            retry: RetryPolicy::default(),
        })
    }
}

/// `owner/name` of a repository on the forge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoSlug {
    /// user or organisation
    pub owner: String,
    /// repository name (without `.git`)
    pub name: String,
}

impl std::fmt::Display for RepoSlug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

impl RepoSlug {
    /// Parses `OWNER/NAME`.
    pub fn parse(input: &str) -> Result<RepoSlug, Error> {
        let bad = || Error::BadRepo {
            input: input.to_owned(),
        };
        let (owner, name) = input.split_once('/').ok_or_else(bad)?;
        let name = name.strip_suffix(".git").unwrap_or(name);
        let ok = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        if !ok(owner) || !ok(name) {
            return Err(bad());
        }
        Ok(RepoSlug {
            owner: owner.to_owned(),
            name: name.to_owned(),
        })
    }

    /// The repository a git remote URL points at: `https://host/o/r(.git)`,
    /// `ssh://git@host(:port)/o/r.git` or `git@host:o/r.git`. Only the last two path
    /// segments count, so GHE paths work too.
    pub fn from_remote_url(url: &str) -> Result<RepoSlug, Error> {
        let path = if let Some((scheme, rest)) = url.split_once("://") {
            let remote = matches!(scheme, "https" | "http" | "ssh" | "git+ssh" | "git");
            rest.split_once('/').map(|(_, p)| p).filter(|_| remote)
        } else {
            url.split_once(':').map(|(_, p)| p)
        };
        let path = path.unwrap_or("").trim_end_matches('/');
        let mut parts = path.rsplit('/');
        match (parts.next(), parts.next()) {
            (Some(name), Some(owner)) => RepoSlug::parse(&format!("{owner}/{name}")),
            _ => Err(Error::BadRepo {
                input: crate::git::redact_url(url),
            }),
        }
        .map_err(|_| Error::BadRepo {
            input: crate::git::redact_url(url),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slug_from_remote_urls() {
        let want = RepoSlug {
            owner: "acme".into(),
            name: "fleet-config".into(),
        };
        for u in [
            "https://github.com/acme/fleet-config.git",
            "https://x-access-token:t@github.com/acme/fleet-config",
            "git@github.com:acme/fleet-config.git",
            "ssh://git@github.com/acme/fleet-config.git",
            "ssh://git@ghe.example.com:2222/acme/fleet-config.git",
            "https://ghe.example.com/scm/acme/fleet-config.git/",
        ] {
            assert_eq!(RepoSlug::from_remote_url(u).unwrap(), want, "{u}");
        }
        for u in ["file:///tmp/x.git", "https://github.com/acme", "nonsense"] {
            assert!(RepoSlug::from_remote_url(u).is_err(), "{u}");
        }
        let e = RepoSlug::from_remote_url("https://u:pw@h/x").unwrap_err();
        assert!(!e.to_string().contains("pw"), "{e}");
    }

    #[test]
    fn slug_parse() {
        assert_eq!(RepoSlug::parse("a/b.git").unwrap().to_string(), "a/b");
        for bad in ["a", "a/", "/b", "a/b/c", "a b/c"] {
            assert!(RepoSlug::parse(bad).is_err(), "{bad}");
        }
    }
}
