//! The config repo as a git repository (git2): open it, put mcb's work on its own branch,
//! commit exactly the files mcb changed, push. It owns no file contents and never talks to
//! a forge API (that is `crate::forge`); it never prints.
//!
//! # Workflow
//!
//! 1. [`ConfigRepo::open`] fails if the directory is not inside a git work tree.
//! 2. [`ConfigRepo::start_branch`] refuses to run while any mcb-owned path (the caller
//!    passes the prefixes, e.g. `installations/prod/`) has uncommitted changes, then checks
//!    the branch out in the user's working tree: an existing branch as it is (a re-run adds
//!    a commit on top, never a second branch), a new one from `--base` or the current
//!    branch. Changes outside owned paths are carried along, as `git switch` would.
//! 3. The caller writes its files, then calls [`ConfigRepo::commit`] with the exact list of
//!    paths it changed, deletions included. Only those enter the commit, built on the
//!    branch's tree, so files the user staged elsewhere stay out. A plaintext file under a
//!    `secrets/` directory is a hard error before anything is written to git.
//! 4. [`ConfigRepo::push`] pushes the branch. A failed push keeps the local commit; running
//!    the same command again pushes it.
//!
//! Commits are stamped with the clock from [`crate::Env`], so tests get the same ids.

mod branch;
mod commit;
mod guard;
mod keypath;
mod push;
mod remote;

use std::path::{Path, PathBuf};

use git2::{Repository, StatusOptions};

pub use guard::{is_under_secrets_dir, looks_sops_encrypted};
pub use keypath::refuse_key_in_work_tree;
pub use push::{redact_url, Fetched, PushAuth, PushOptions, PushResult};

/// Git failures, each naming the repo, branch, remote or file involved (never a secret).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The directory is not inside a git work tree.
    #[error("{}: not a git repository", path.display())]
    NotARepo {
        /// the directory mcb was pointed at
        path: PathBuf,
    },
    /// Uncommitted changes in files mcb would write.
    #[error("{}: uncommitted changes in files mcb manages: {}", repo.display(), files.join(", "))]
    Dirty {
        /// the repository root
        repo: PathBuf,
        /// the changed files (relative to the root)
        files: Vec<String>,
    },
    /// The branch to start from does not exist.
    #[error("base branch `{base}` not found in {}", repo.display())]
    BaseNotFound {
        /// the repository root
        repo: PathBuf,
        /// what `--base` named
        base: String,
    },
    /// A branch name git would not accept.
    #[error("`{name}` is not a valid branch name")]
    BadBranchName {
        /// the name that was built
        name: String,
    },
    /// `--author` is not `Name <email>`.
    #[error("author `{input}` is not of the form `Name <email>`")]
    BadAuthor {
        /// what was given
        input: String,
    },
    /// No author given and git has no user.name/user.email.
    #[error("no commit author: --author not given and git config has no user.name/user.email")]
    NoAuthor,
    /// A file under `secrets/` is not SOPS-encrypted.
    #[error("{path}: refusing to commit a file under secrets/ that is not SOPS-encrypted")]
    PlaintextSecret {
        /// the file, relative to the repository root
        path: String,
    },
    /// A path to commit lies outside the repository.
    #[error("{}: not inside the repository {}", path.display(), repo.display())]
    OutsideRepo {
        /// the path given
        path: PathBuf,
        /// the repository root
        repo: PathBuf,
    },
    /// The remote is not configured.
    #[error("no git remote named `{remote}` in {}", repo.display())]
    NoRemote {
        /// the remote asked for
        remote: String,
        /// the repository root
        repo: PathBuf,
    },
    /// The server refused the credentials (or none were usable).
    #[error("push to {url}: authentication failed ({detail})")]
    Auth {
        /// the remote URL, credentials removed
        url: String,
        /// what went wrong, in git's words
        detail: String,
    },
    /// The SSH host key is not in known_hosts.
    #[error("push to {url}: host key of {host} is unknown ({fingerprint}) and not in {}", known_hosts.display())]
    UnknownHostKey {
        /// the remote URL
        url: String,
        /// the known_hosts name (`[host]:port` or `host`)
        host: String,
        /// `SHA256:...` of the offered key
        fingerprint: String,
        /// the file that was searched
        known_hosts: PathBuf,
    },
    /// The SSH host key differs from the one in known_hosts.
    #[error("push to {url}: host key of {host} ({fingerprint}) does NOT match {}", known_hosts.display())]
    HostKeyMismatch {
        /// the remote URL
        url: String,
        /// the known_hosts name
        host: String,
        /// `SHA256:...` of the offered key
        fingerprint: String,
        /// the file that was searched
        known_hosts: PathBuf,
    },
    /// The remote rejected the update (usually not a fast-forward).
    #[error("push to {url}: {refname} was rejected: {reason}")]
    Rejected {
        /// the remote URL
        url: String,
        /// the remote ref
        refname: String,
        /// what the server said
        reason: String,
    },
    /// The remote could not be reached.
    #[error("push to {url}: cannot reach the remote ({detail})")]
    Network {
        /// the remote URL
        url: String,
        /// what went wrong
        detail: String,
    },
    /// A private key would be written into the work tree where git would pick it up.
    #[error("{}: inside the work tree of {} and not ignored by git; a private key there is one `git add` away from being committed", path.display(), repo.display())]
    KeyInWorkTree {
        /// where the key would go
        path: PathBuf,
        /// the repository's work tree
        repo: PathBuf,
    },
    /// Any other git failure.
    #[error("git: {what}")]
    Git {
        /// what mcb was doing
        what: String,
        /// libgit2's error
        #[source]
        source: git2::Error,
    },
    /// Another git process holds the index (or a crashed one left its lock).
    #[error("{}: the git index is locked", lock.display())]
    IndexLocked {
        /// the lock file
        lock: PathBuf,
    },
    /// The branch moved while mcb was working (another process committed to it).
    #[error("branch {branch} moved while mcb was working on it")]
    BranchMoved {
        /// the branch
        branch: String,
    },
    /// A file could not be read or written.
    #[error(transparent)]
    Io(#[from] crate::fsutil::PathError),
}

impl crate::Help for Error {
    fn help(&self) -> Option<String> {
        Some(match self {
            Error::NotARepo { .. } => {
                "run mcb inside the config repo or pass --repo DIR; create one with `git init`".into()
            }
            Error::Dirty { .. } => {
                "commit or stash these changes first (`git stash -u`), then run mcb again".into()
            }
            Error::BaseNotFound { .. } => {
                "name an existing branch with --base, or fetch it first (`git fetch`)".into()
            }
            Error::BadBranchName { .. } => {
                "use an installation name of letters, digits, '-' and '.'".into()
            }
            Error::BadAuthor { .. } => "write it as --author \"Jane Doe <jane@example.com>\"".into(),
            Error::NoAuthor => "pass --author \"Name <email>\" or run `git config user.name ...` and `git config user.email ...`".into(),
            Error::PlaintextSecret { .. } => {
                "encrypt it (`mcb secrets encrypt FILE`) or move it out of secrets/; nothing was committed".into()
            }
            Error::OutsideRepo { .. } => return None,
            Error::NoRemote { .. } => {
                "add it (`git remote add origin URL`) or name another with --remote".into()
            }
            Error::Auth { .. } => {
                "HTTPS: set GITHUB_TOKEN (sent as user x-access-token) or put user:password in the URL; SSH: pass --ssh-key FILE or load the key into ssh-agent. The commit is kept: re-run to push".into()
            }
            Error::UnknownHostKey { .. } => {
                "check the fingerprint with the server's owner, then pass --known-hosts FILE or --accept-new-host-key to record it".into()
            }
            Error::HostKeyMismatch { .. } => {
                "the server's key changed or someone is intercepting: verify it before editing known_hosts".into()
            }
            Error::Rejected { .. } => {
                "someone else pushed to this branch: fetch it and rebase your commit (or delete the remote branch), then re-run; the local commit is kept".into()
            }
            Error::Network { .. } => {
                "check the remote URL (`git remote -v`) and your connection; the commit is kept: re-run to push".into()
            }
            Error::IndexLocked { lock } => format!(
                "if no git command is running, remove the stale lock (`rm {}`) and run mcb again; nothing was changed",
                lock.display()
            ),
            Error::BranchMoved { branch } => format!(
                "nothing was committed; look at `git log {branch}`, then run mcb again"
            ),
            Error::KeyInWorkTree { .. } => {
                "write it outside the repository (the default is under ~/.config/mcb/), or add the path to .gitignore first".into()
            }
            Error::Io(e) => return crate::Help::help(e),
            Error::Git { .. } => return None,
        })
    }
}

type Result<T, E = Error> = std::result::Result<T, E>;

fn git(what: impl Into<String>) -> impl FnOnce(git2::Error) -> Error {
    let what = what.into();
    move |source| Error::Git { what, source }
}

/// A commit author, `Name <email>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Author {
    /// the display name
    pub name: String,
    /// the email address
    pub email: String,
}

impl Author {
    /// Parses `Name <email>`.
    pub fn parse(input: &str) -> Result<Author> {
        let bad = || Error::BadAuthor {
            input: input.to_owned(),
        };
        let (name, rest) = input.trim().split_once('<').ok_or_else(bad)?;
        let email = rest.strip_suffix('>').ok_or_else(bad)?.trim();
        let name = name.trim();
        if name.is_empty() || email.is_empty() || email.contains(['<', '>']) {
            return Err(bad());
        }
        Ok(Author {
            name: name.to_owned(),
            email: email.to_owned(),
        })
    }
}

/// `mcb/<command>-<name>[-<date>]`, checked to be a valid branch name.
pub fn branch_name(command: &str, name: &str, date: Option<time::Date>) -> Result<String> {
    let mut b = format!("mcb/{command}-{name}");
    if let Some(d) = date {
        b.push_str(&format!(
            "-{:04}-{:02}-{:02}",
            d.year(),
            u8::from(d.month()),
            d.day()
        ));
    }
    if !git2::Branch::name_is_valid(&b).unwrap_or(false) {
        return Err(Error::BadBranchName { name: b });
    }
    Ok(b)
}

/// How a mutating command records its work: the resolved `--base`, `--author`,
/// `--no-commit`, `--dry-run` and `--push` flags.
#[derive(Debug, Default, Clone)]
pub struct PublishOptions {
    /// branch to start a new mcb branch from (None: the remote's default branch, see
    /// `ops::publish::base_of`)
    pub base: Option<String>,
    /// commit author (None: git config)
    pub author: Option<Author>,
    /// false with `--no-commit`: files are written, git is left alone
    pub commit: bool,
    /// nothing is written, committed or pushed; the command only reports
    pub dry_run: bool,
    /// push after committing (`--push`)
    pub push: Option<PushOptions>,
}

/// What [`ConfigRepo::start_branch`] did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BranchStart {
    /// the branch now checked out
    pub branch: String,
    /// whether it was created now (false: a re-run continues it)
    pub created: bool,
    /// the branch it started from, the PR's base (None when unknown)
    pub base: Option<String>,
    /// the commit the next commit goes on top of (None in an empty repository)
    #[serde(skip)]
    pub tip: Option<String>,
    /// whether the branch ref exists yet (a new branch from HEAD is only created by its
    /// first commit, so an interrupted run leaves no empty branch behind)
    #[serde(skip)]
    pub exists: bool,
}

/// What a committed branch changes against its base ([`ConfigRepo::describe_branch`]).
#[derive(Debug, Clone)]
pub struct BranchChanges {
    /// the subject of its last commit
    pub title: String,
    /// the files it changes since the merge base
    pub files: Vec<(String, crate::repo::Change)>,
    /// the merge base with the base branch
    pub merge_base: String,
}

/// Where HEAD was, so a command can return the user there.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Head {
    /// on a branch (possibly one without commits yet)
    Branch(String),
    /// detached at a commit
    Detached(String),
}

/// What to commit.
#[derive(Debug, Clone)]
pub struct CommitRequest<'a> {
    /// conventional message, e.g. `feat(prod): create installation`
    pub message: &'a str,
    /// the author; None reads git config
    pub author: Option<&'a Author>,
    /// every path mcb wrote or deleted, relative to the repository root
    pub paths: &'a [PathBuf],
}

/// A commit that was made.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Committed {
    /// the commit id (hex)
    pub id: String,
    /// the branch it is on
    pub branch: String,
}

/// The config repo, opened.
pub struct ConfigRepo {
    repo: Repository,
    root: PathBuf,
}

impl std::fmt::Debug for ConfigRepo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigRepo")
            .field("root", &self.root)
            .finish()
    }
}

const BASE_KEY: &str = "mcbbase";

impl ConfigRepo {
    /// Opens the git work tree at or above `path`.
    pub fn open(path: &Path) -> Result<ConfigRepo> {
        let not_a_repo = || Error::NotARepo {
            path: path.to_path_buf(),
        };
        let repo = Repository::discover(path).map_err(|_| not_a_repo())?;
        // components() drops libgit2's trailing slash, so messages read `/x/repo`
        let root = repo
            .workdir()
            .ok_or_else(not_a_repo)?
            .components()
            .collect();
        Ok(ConfigRepo { repo, root })
    }

    /// The work tree's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The underlying git2 repository (for callers that need more).
    pub fn git2(&self) -> &Repository {
        &self.repo
    }

    /// The checked-out branch, if HEAD is on one (also when it has no commit yet).
    pub fn current_branch(&self) -> Result<Option<String>> {
        let head = match self.repo.find_reference("HEAD") {
            Ok(h) => h,
            Err(e) => return Err(git("read HEAD")(e)),
        };
        Ok(head
            .symbolic_target()
            .ok()
            .flatten()
            .and_then(|t| t.strip_prefix("refs/heads/"))
            .map(str::to_owned))
    }

    /// Fails with [`Error::Dirty`] if any file under the `owned` prefixes is modified,
    /// staged, deleted or untracked.
    pub fn ensure_clean(&self, owned: &[&str]) -> Result<()> {
        let mut opts = StatusOptions::new();
        opts.include_untracked(true)
            .recurse_untracked_dirs(true)
            .include_ignored(false);
        for p in owned {
            opts.pathspec(p);
        }
        let statuses = self
            .repo
            .statuses(Some(&mut opts))
            .map_err(git("read status"))?;
        let files: Vec<String> = statuses
            .iter()
            .filter(|s| s.status() != git2::Status::CURRENT)
            .filter_map(|s| s.path().ok().map(str::to_owned))
            .collect();
        if files.is_empty() {
            Ok(())
        } else {
            Err(Error::Dirty {
                repo: self.root.clone(),
                files,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn author_parses_name_and_email() {
        let a = Author::parse(" Jane Doe <jane@example.com> ").unwrap();
        assert_eq!(a.name, "Jane Doe");
        assert_eq!(a.email, "jane@example.com");
        for bad in ["Jane", "<j@x>", "Jane <>", "Jane <j@x", "Jane <a<b>"] {
            assert!(Author::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn branch_names() {
        assert_eq!(branch_name("init", "prod", None).unwrap(), "mcb/init-prod");
        let d = time::macros::date!(2026 - 03 - 04);
        assert_eq!(
            branch_name("rotate", "prod", Some(d)).unwrap(),
            "mcb/rotate-prod-2026-03-04"
        );
        assert!(branch_name("init", "a..b", None).is_err());
        assert!(branch_name("init", "a b", None).is_err());
    }
}
