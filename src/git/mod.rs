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

mod guard;
mod keypath;
mod push;

use std::path::{Path, PathBuf};

use git2::{BranchType, Repository, Signature, StatusOptions};

use crate::Env;
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

    /// Checks out `branch` (see the module doc): existing as is, else new from `base` or
    /// the current branch. Refuses while `owned` paths are dirty.
    pub fn start_branch(
        &self,
        branch: &str,
        base: Option<&str>,
        owned: &[&str],
    ) -> Result<BranchStart> {
        let mut start = self.prepare_branch(branch, base, owned)?;
        if !start.exists {
            let refname = format!("refs/heads/{branch}");
            if let Some(tip) = &start.tip {
                let c = self.find_commit(tip)?;
                self.repo
                    .branch(branch, &c, false)
                    .map_err(git(format!("create branch {branch}")))?;
            }
            // same commit as HEAD: only HEAD moves, the work tree is untouched
            self.switch_to(&refname, None)?;
            start.exists = start.tip.is_some();
            self.record_base(&start)?;
        }
        Ok(start)
    }

    /// Like [`ConfigRepo::start_branch`], but a new branch that starts at HEAD is not
    /// created: its first commit creates it ([`ConfigRepo::move_branch`]), so nothing
    /// changes in the repo before then. An existing branch, or a new one from another
    /// `base`, is checked out as `start_branch` does.
    pub fn prepare_branch(
        &self,
        branch: &str,
        base: Option<&str>,
        owned: &[&str],
    ) -> Result<BranchStart> {
        self.ensure_clean(owned)?;
        let current = self.current_branch()?;
        let refname = format!("refs/heads/{branch}");
        if let Ok(existing) = self.repo.find_branch(branch, BranchType::Local) {
            let commit = existing
                .get()
                .peel_to_commit()
                .map_err(git(format!("read branch {branch}")))?;
            if current.as_deref() != Some(branch) {
                self.switch_to(&refname, Some(&commit))?;
            }
            let stored = self.stored_base(branch);
            return Ok(BranchStart {
                branch: branch.to_owned(),
                created: false,
                base: base.map(str::to_owned).or(stored),
                tip: Some(commit.id().to_string()),
                exists: true,
            });
        }
        let head = self.repo.head().ok().and_then(|h| h.peel_to_commit().ok());
        let start = match base {
            Some(b) => Some(self.resolve_base(b)?),
            None => head.clone(),
        };
        let base_name = base.map(str::to_owned).or(current);
        let mut out = BranchStart {
            branch: branch.to_owned(),
            created: true,
            base: base_name,
            tip: start.as_ref().map(|c| c.id().to_string()),
            exists: false,
        };
        let at_head = start.as_ref().map(|c| c.id()) == head.as_ref().map(|c| c.id());
        if let (Some(c), false) = (&start, at_head) {
            // another base: the work tree must show it before the plan compares with it
            self.repo
                .branch(branch, c, false)
                .map_err(git(format!("create branch {branch}")))?;
            self.switch_to(&refname, Some(c))?;
            out.exists = true;
            self.record_base(&out)?;
        }
        Ok(out)
    }

    /// Remembers the PR base of a new branch in git config (`branch.<b>.mcbbase`).
    pub fn record_base(&self, start: &BranchStart) -> Result<()> {
        if let (true, Some(b)) = (start.created, &start.base) {
            let mut cfg = self.repo.config().map_err(git("open git config"))?;
            cfg.set_str(&format!("branch.{}.{BASE_KEY}", start.branch), b)
                .map_err(git("record the base branch"))?;
        }
        Ok(())
    }

    /// Where HEAD is now.
    pub fn head(&self) -> Result<Head> {
        if let Some(b) = self.current_branch()? {
            return Ok(Head::Branch(b));
        }
        let id = self
            .repo
            .head()
            .and_then(|h| h.peel_to_commit())
            .map_err(git("read HEAD"))?
            .id();
        Ok(Head::Detached(id.to_string()))
    }

    /// The commit `branch` points at, None if there is no such branch.
    pub fn branch_tip(&self, branch: &str) -> Result<Option<String>> {
        match self.repo.find_reference(&format!("refs/heads/{branch}")) {
            Ok(r) => Ok(Some(
                r.peel_to_commit()
                    .map_err(git(format!("read branch {branch}")))?
                    .id()
                    .to_string(),
            )),
            Err(e) if e.code() == git2::ErrorCode::NotFound => Ok(None),
            Err(e) => Err(git(format!("read branch {branch}"))(e)),
        }
    }

    /// Fails with [`Error::IndexLocked`] while `.git/index.lock` exists: git would refuse
    /// to update the index, and mcb finds that out before it commits, not after.
    pub fn ensure_index_unlocked(&self) -> Result<()> {
        let lock = self.repo.path().join("index.lock");
        match lock.exists() {
            true => Err(Error::IndexLocked { lock }),
            false => Ok(()),
        }
    }

    fn find_commit(&self, id: &str) -> Result<git2::Commit<'_>> {
        git2::Oid::from_str(id)
            .and_then(|o| self.repo.find_commit(o))
            .map_err(git(format!("read commit {id}")))
    }

    /// The base recorded when mcb created `branch` (its PR's target).
    pub fn stored_base(&self, branch: &str) -> Option<String> {
        let cfg = self.repo.config().ok()?;
        cfg.get_string(&format!("branch.{branch}.{BASE_KEY}")).ok()
    }

    /// A local branch (or a remote-tracking branch of the same name that is ahead of it:
    /// the remote's state after a fetch), else a remote-tracking branch of any remote,
    /// else any revision.
    fn resolve_base(&self, base: &str) -> Result<git2::Commit<'_>> {
        if let Ok(local) = self
            .repo
            .revparse_single(&format!("refs/heads/{base}"))
            .and_then(|o| o.peel_to_commit())
        {
            let remotes = self.repo.remotes().map_err(git("list remotes"))?;
            for r in remotes.iter().flatten().flatten() {
                let Ok(tracking) = self
                    .repo
                    .revparse_single(&format!("refs/remotes/{r}/{base}"))
                    .and_then(|o| o.peel_to_commit())
                else {
                    continue;
                };
                if self
                    .repo
                    .graph_descendant_of(tracking.id(), local.id())
                    .unwrap_or(false)
                {
                    return Ok(tracking);
                }
            }
            return Ok(local);
        }
        let remotes = self.repo.remotes().map_err(git("list remotes"))?;
        let mut candidates = vec![format!("refs/heads/{base}")];
        candidates.extend(
            remotes
                .iter()
                .flatten()
                .flatten()
                .map(|r| format!("refs/remotes/{r}/{base}")),
        );
        candidates.push(base.to_owned());
        candidates
            .iter()
            .find_map(|r| self.repo.revparse_single(r).ok()?.peel_to_commit().ok())
            .ok_or_else(|| Error::BaseNotFound {
                repo: self.root.clone(),
                base: base.to_owned(),
            })
    }

    fn switch_to(&self, refname: &str, tree_of: Option<&git2::Commit<'_>>) -> Result<()> {
        if let Some(c) = tree_of {
            let mut co = git2::build::CheckoutBuilder::new();
            co.safe();
            self.repo
                .checkout_tree(c.as_object(), Some(&mut co))
                .map_err(git(format!("check out {refname}")))?;
        }
        self.repo
            .set_head(refname)
            .map_err(git(format!("switch HEAD to {refname}")))
    }

    /// Undoes [`ConfigRepo::start_branch`] after a failure before the commit: checks
    /// `previous` out again and deletes the branch if it was created for this run. The
    /// caller has already restored the files it wrote.
    pub fn abandon_branch(&self, start: &BranchStart, previous: Option<&str>) -> Result<()> {
        match previous {
            Some(p) => self.return_to(start, &Head::Branch(p.to_owned())),
            None => self.return_to(start, &self.head()?),
        }
    }

    /// Undoes [`ConfigRepo::prepare_branch`] before the commit: HEAD back at `previous`
    /// (a branch, or the detached commit), the branch deleted if this run created it.
    pub fn return_to(&self, start: &BranchStart, previous: &Head) -> Result<()> {
        self.restore_head(previous)?;
        if start.created {
            if let Ok(mut b) = self.repo.find_branch(&start.branch, BranchType::Local) {
                // only a branch that still holds no commit of its own
                if b.get().peel_to_commit().ok().map(|c| c.id().to_string()) == start.tip {
                    b.delete()
                        .map_err(git(format!("delete branch {}", start.branch)))?;
                }
            }
        }
        Ok(())
    }

    /// Checks `head` out again (safely: files that differ are kept) unless HEAD is there.
    pub fn restore_head(&self, head: &Head) -> Result<()> {
        if self.head().ok().as_ref() == Some(head) {
            return Ok(());
        }
        match head {
            Head::Branch(b) => {
                let refname = format!("refs/heads/{b}");
                match self
                    .repo
                    .find_reference(&refname)
                    .and_then(|r| r.peel_to_commit())
                {
                    Ok(c) => self.switch_to(&refname, Some(&c)),
                    // an unborn branch: only HEAD moves
                    Err(_) => self.switch_to(&refname, None),
                }
            }
            Head::Detached(id) => {
                let c = self.find_commit(id)?;
                let mut co = git2::build::CheckoutBuilder::new();
                co.safe();
                self.repo
                    .checkout_tree(c.as_object(), Some(&mut co))
                    .map_err(git(format!("check out {id}")))?;
                self.repo
                    .set_head_detached(c.id())
                    .map_err(git(format!("detach HEAD at {id}")))
            }
        }
    }

    /// Resolves the author: the given one, else git config `user.name`/`user.email`.
    pub fn author(&self, given: Option<&Author>) -> Result<Author> {
        if let Some(a) = given {
            return Ok(a.clone());
        }
        let cfg = self.repo.config().map_err(git("open git config"))?;
        match (cfg.get_string("user.name"), cfg.get_string("user.email")) {
            (Ok(name), Ok(email)) if !name.is_empty() && !email.is_empty() => {
                Ok(Author { name, email })
            }
            _ => Err(Error::NoAuthor),
        }
    }

    /// Commits exactly `req.paths` (their current content; a missing file is a deletion)
    /// on the checked-out branch. Returns None when nothing changed (no empty commits).
    pub fn commit(&self, req: &CommitRequest<'_>, env: &Env) -> Result<Option<Committed>> {
        let branch = self.current_branch()?.ok_or_else(|| Error::Git {
            what: "commit".into(),
            source: git2::Error::from_str("HEAD is detached; run start_branch first"),
        })?;
        let parent = self
            .repo
            .head()
            .ok()
            .and_then(|h| h.peel_to_commit().ok())
            .map(|c| c.id().to_string());
        let mut files = Vec::new();
        for (rel, abs) in self.relative_paths(req.paths)? {
            files.push((rel, crate::fsutil::read_optional(&abs)?));
        }
        let Some(id) =
            self.write_commit(parent.as_deref(), &files, req.message, req.author, env)?
        else {
            return Ok(None);
        };
        self.move_branch(&branch, parent.as_deref(), &id)?;
        self.sync_index(&files)?;
        Ok(Some(Committed { id, branch }))
    }

    /// Writes a commit object (blobs, tree, commit) on top of `parent` that changes exactly
    /// `files` (repo-relative path, new bytes or None for a deletion). No ref moves and no
    /// file in the work tree changes. None when the tree would not change. A plaintext
    /// file under a `secrets/` directory is refused before git sees anything.
    pub fn write_commit(
        &self,
        parent: Option<&str>,
        files: &[(String, Option<Vec<u8>>)],
        message: &str,
        author: Option<&Author>,
        env: &Env,
    ) -> Result<Option<String>> {
        let author = self.author(author)?;
        for (rel, bytes) in files {
            if let Some(b) = bytes {
                if is_under_secrets_dir(rel) && !looks_sops_encrypted(b) {
                    return Err(Error::PlaintextSecret { path: rel.clone() });
                }
            }
        }
        let parent = parent.map(|p| self.find_commit(p)).transpose()?;
        // Build the tree from the parent's tree plus our files only.
        let mut index = git2::Index::new().map_err(git("create index"))?;
        if let Some(p) = &parent {
            index
                .read_tree(&p.tree().map_err(git("read tree"))?)
                .map_err(git("read tree"))?;
        }
        for (rel, bytes) in files {
            match bytes {
                Some(b) => {
                    let oid = self.repo.blob(b).map_err(git(format!("store {rel}")))?;
                    let exec = is_executable(&self.root.join(rel));
                    index
                        .add(&index_entry(rel, oid, b.len(), exec))
                        .map_err(git(format!("stage {rel}")))?;
                }
                None => {
                    // a deletion of a file that was never committed is a no-op
                    let _ = index.remove_path(Path::new(rel.as_str()));
                }
            }
        }
        let tree_id = index.write_tree_to(&self.repo).map_err(git("write tree"))?;
        if parent.as_ref().map(|p| p.tree_id()) == Some(tree_id) {
            return Ok(None);
        }
        let tree = self.repo.find_tree(tree_id).map_err(git("read tree"))?;
        let when = git2::Time::new(env.now().unix_timestamp(), 0);
        let sig =
            Signature::new(&author.name, &author.email, &when).map_err(|_| Error::BadAuthor {
                input: format!("{} <{}>", author.name, author.email),
            })?;
        let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
        let id = self
            .repo
            .commit(None, &sig, &sig, message, &tree, &parents)
            .map_err(git("write commit"))?;
        Ok(Some(id.to_string()))
    }

    /// Points `branch` at commit `to` in one atomic ref update, if it is still at `from`
    /// (None: the branch must not exist yet). This is the moment a commit happens.
    pub fn move_branch(&self, branch: &str, from: Option<&str>, to: &str) -> Result<()> {
        let refname = format!("refs/heads/{branch}");
        let to = git2::Oid::from_str(to).map_err(git("parse commit id"))?;
        let log = "mcb: commit";
        let r = match from {
            None => self.repo.reference(&refname, to, false, log).map(|_| ()),
            Some(f) => {
                let f = git2::Oid::from_str(f).map_err(git("parse commit id"))?;
                self.repo
                    .reference_matching(&refname, to, true, f, log)
                    .map(|_| ())
            }
        };
        r.map_err(|e| match e.code() {
            git2::ErrorCode::Exists | git2::ErrorCode::Modified => Error::BranchMoved {
                branch: branch.to_owned(),
            },
            _ => git(format!("update branch {branch}"))(e),
        })
    }

    /// Brings the work tree and the index in line with `commit` for `paths` (written
    /// atomically; a path the commit lacks is deleted) and then checks `branch` out (HEAD),
    /// without touching any other file. Run after [`ConfigRepo::move_branch`], it makes the
    /// commit visible; run again after an interruption, it finishes the job.
    pub fn check_out_paths(&self, branch: &str, commit: &str, paths: &[String]) -> Result<()> {
        let tree = self
            .find_commit(commit)?
            .tree()
            .map_err(git(format!("read tree of {commit}")))?;
        let mut files = Vec::with_capacity(paths.len());
        for rel in paths {
            let abs = self.root.join(rel);
            let entry = tree.get_path(Path::new(rel)).ok();
            let bytes = match entry {
                Some(e) => {
                    let blob = self
                        .repo
                        .find_blob(e.id())
                        .map_err(git(format!("read {rel} from {commit}")))?;
                    let mode = if e.filemode() == 0o100755 {
                        0o755
                    } else {
                        0o644
                    };
                    if crate::fsutil::read_optional(&abs)?.as_deref() != Some(blob.content()) {
                        crate::fsutil::write_atomic(&abs, blob.content(), Some(mode))?;
                    }
                    Some(blob.content().to_vec())
                }
                None => {
                    match std::fs::remove_file(&abs) {
                        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                            return Err(crate::fsutil::PathError {
                                path: abs,
                                source: e,
                            }
                            .into())
                        }
                        _ => crate::fsutil::remove_empty_parents(&self.root, &abs),
                    }
                    None
                }
            };
            files.push((rel.clone(), bytes));
        }
        self.sync_index(&files)?;
        if self.current_branch()?.as_deref() != Some(branch) {
            self.repo
                .set_head(&format!("refs/heads/{branch}"))
                .map_err(git(format!("switch HEAD to {branch}")))?;
        }
        Ok(())
    }

    /// Makes the user's index agree with the new commit for the committed paths, so
    /// `git status` shows them clean.
    fn sync_index(&self, files: &[(String, Option<Vec<u8>>)]) -> Result<()> {
        let mut index = self.repo.index().map_err(git("open index"))?;
        for (rel, bytes) in files {
            let p = Path::new(rel.as_str());
            let r = match bytes {
                Some(_) => index.add_path(p),
                None => index.remove_path(p),
            };
            r.map_err(git(format!("update index for {rel}")))?;
        }
        index.write().map_err(|e| {
            let lock = self.repo.path().join("index.lock");
            match lock.exists() {
                true => Error::IndexLocked { lock },
                false => git("write index")(e),
            }
        })
    }

    fn relative_paths(&self, paths: &[PathBuf]) -> Result<Vec<(String, PathBuf)>> {
        let mut out = Vec::with_capacity(paths.len());
        for p in paths {
            let abs = if p.is_absolute() {
                p.clone()
            } else {
                self.root.join(p)
            };
            let rel = abs
                .strip_prefix(&self.root)
                .ok()
                .filter(|r| {
                    r.components()
                        .all(|c| matches!(c, std::path::Component::Normal(_)))
                })
                .and_then(|r| r.to_str())
                .ok_or_else(|| Error::OutsideRepo {
                    path: p.clone(),
                    repo: self.root.clone(),
                })?
                .to_owned();
            out.push((rel, abs));
        }
        Ok(out)
    }

    /// The URL of remote `name` (credentials removed), or [`Error::NoRemote`].
    pub fn remote_url(&self, name: &str) -> Result<String> {
        let remote = self.repo.find_remote(name).map_err(|_| Error::NoRemote {
            remote: name.to_owned(),
            repo: self.root.clone(),
        })?;
        let url = remote
            .pushurl()
            .ok()
            .flatten()
            .or_else(|| remote.url().ok());
        Ok(redact_url(url.unwrap_or_default()))
    }

    /// What `branch` changes against `base` (a local or remote-tracking branch): the
    /// files since their merge base, and the subject of the branch's last commit.
    pub fn describe_branch(&self, branch: &str, base: &str) -> Result<BranchChanges> {
        let tip = self
            .repo
            .revparse_single(&format!("refs/heads/{branch}"))
            .and_then(|o| o.peel_to_commit())
            .map_err(git(format!("read branch {branch}")))?;
        let base_commit = self.resolve_base(base)?;
        let merge_base = self
            .repo
            .merge_base(tip.id(), base_commit.id())
            .map_err(git(format!("find where {branch} left {base}")))?;
        let old_tree = self
            .repo
            .find_commit(merge_base)
            .and_then(|c| c.tree())
            .map_err(git("read tree"))?;
        let new_tree = tip.tree().map_err(git("read tree"))?;
        let diff = self
            .repo
            .diff_tree_to_tree(Some(&old_tree), Some(&new_tree), None)
            .map_err(git(format!("diff {base}..{branch}")))?;
        let files = diff
            .deltas()
            .filter_map(|d| {
                let change = match d.status() {
                    git2::Delta::Added => crate::repo::Change::Added,
                    git2::Delta::Deleted => crate::repo::Change::Removed,
                    _ => crate::repo::Change::Changed,
                };
                let file = d.new_file().path().or_else(|| d.old_file().path())?;
                Some((file.to_string_lossy().into_owned(), change))
            })
            .collect();
        Ok(BranchChanges {
            title: tip.summary().ok().flatten().unwrap_or_default().to_owned(),
            files,
            merge_base: merge_base.to_string(),
        })
    }

    /// The text of `path` at revision `rev` (a branch or commit), None if it is not there.
    pub fn file_at(&self, rev: &str, path: &str) -> Result<Option<String>> {
        let Ok(commit) = self
            .repo
            .revparse_single(rev)
            .and_then(|o| o.peel_to_commit())
        else {
            return Ok(None);
        };
        let tree = commit.tree().map_err(git(format!("read tree of {rev}")))?;
        let Ok(entry) = tree.get_path(Path::new(path)) else {
            return Ok(None);
        };
        let blob = self
            .repo
            .find_blob(entry.id())
            .map_err(git(format!("read {path} at {rev}")))?;
        Ok(Some(String::from_utf8_lossy(blob.content()).into_owned()))
    }

    /// Pushes `branch` to the remote in `opts` (see [`push`]).
    pub fn push(&self, branch: &str, opts: &PushOptions) -> Result<PushResult> {
        push::push(self, branch, opts, false, None)
    }

    /// [`ConfigRepo::push`] of a branch started afresh after its pull request was merged or
    /// closed: a remote branch still at `old_tip` (the closed PR's head) is replaced; one
    /// anywhere else is refused ([`Error::Rejected`]).
    pub fn push_replacing(
        &self,
        branch: &str,
        opts: &PushOptions,
        old_tip: &str,
    ) -> Result<PushResult> {
        push::push(self, branch, opts, false, Some(old_tip))
    }

    /// Deletes local branch `branch` (not the checked-out one) and its recorded PR base.
    pub fn delete_branch(&self, branch: &str) -> Result<()> {
        let mut b = self
            .repo
            .find_branch(branch, BranchType::Local)
            .map_err(git(format!("find branch {branch}")))?;
        b.delete().map_err(git(format!("delete branch {branch}")))?;
        if let Ok(mut cfg) = self.repo.config() {
            let _ = cfg.remove(&format!("branch.{branch}.{BASE_KEY}"));
        }
        Ok(())
    }

    /// Fetches `base` (None: the remote's default branch) from the remote in `opts` into its
    /// remote-tracking ref, with the push's credentials.
    pub fn fetch_base(
        &self,
        opts: &PushOptions,
        base: Option<&str>,
    ) -> Result<Option<push::Fetched>> {
        push::fetch(self, opts, base)
    }

    /// The remote's default branch as this clone knows it, offline: what
    /// `refs/remotes/<remote>/HEAD` points at, else `main`, else `master` (local or
    /// remote-tracking); None when there is none (an empty or remote-less repository).
    pub fn known_default_branch(&self, remote: &str) -> Option<String> {
        let prefix = format!("refs/remotes/{remote}/");
        let head = self
            .repo
            .find_reference(&format!("{prefix}HEAD"))
            .ok()
            .and_then(|r| r.symbolic_target().ok().flatten().map(str::to_owned));
        if let Some(b) = head.as_deref().and_then(|t| t.strip_prefix(&prefix)) {
            return Some(b.to_owned());
        }
        ["main", "master"]
            .into_iter()
            .find(|b| {
                self.repo.find_branch(b, BranchType::Local).is_ok()
                    || self.repo.find_reference(&format!("{prefix}{b}")).is_ok()
            })
            .map(str::to_owned)
    }

    /// The `paths` (files, or directories ending in `/`) whose content at HEAD differs
    /// from their content on `base`.
    pub fn differs_from(&self, base: &str, paths: &[&str]) -> Result<Vec<String>> {
        let base_commit = self.resolve_base(base)?;
        let head = match self.repo.head().and_then(|h| h.peel_to_commit()) {
            Ok(c) => c,
            Err(_) => return Ok(Vec::new()), // no commit yet: nothing to differ
        };
        if head.id() == base_commit.id() {
            return Ok(Vec::new());
        }
        let id_at = |c: &git2::Commit<'_>, p: &str| -> Option<git2::Oid> {
            let tree = c.tree().ok()?;
            let p = p.trim_end_matches('/');
            tree.get_path(Path::new(p)).ok().map(|e| e.id())
        };
        Ok(paths
            .iter()
            .filter(|p| id_at(&head, p) != id_at(&base_commit, p))
            .map(|p| p.to_string())
            .collect())
    }

    /// Whether commit `commit` is `tip` or one of its ancestors.
    pub fn is_ancestor(&self, commit: &str, tip: &str) -> Result<bool> {
        let (Ok(c), Ok(t)) = (git2::Oid::from_str(commit), git2::Oid::from_str(tip)) else {
            return Ok(false);
        };
        if c == t {
            return Ok(true);
        }
        self.repo
            .graph_descendant_of(t, c)
            .map_err(git(format!("compare {commit} with {tip}")))
    }

    /// The newest commit reachable from HEAD whose version of `path` satisfies `holds` while
    /// its parent's does not (the commit that introduced a fact), None if none did.
    pub fn introduced(
        &self,
        path: &str,
        holds: &dyn Fn(Option<&str>) -> bool,
    ) -> Result<Option<String>> {
        let mut walk = self.repo.revwalk().map_err(git("walk history"))?;
        walk.push_head().map_err(git("walk history"))?;
        walk.simplify_first_parent().map_err(git("walk history"))?;
        for oid in walk {
            let oid = oid.map_err(git("walk history"))?;
            let id = oid.to_string();
            if !holds(self.file_at(&id, path)?.as_deref()) {
                continue;
            }
            let commit = self.repo.find_commit(oid).map_err(git("read commit"))?;
            let parent = match commit.parent_id(0) {
                Ok(p) => self.file_at(&p.to_string(), path)?,
                Err(_) => None,
            };
            if !holds(parent.as_deref()) {
                return Ok(Some(id));
            }
        }
        Ok(None)
    }

    /// Connects to the remote in `opts` as a push would, sending nothing: fails as the push
    /// would on a missing remote, an unreachable host, a host key or rejected credentials.
    pub fn check_push(&self, branch: &str, opts: &PushOptions) -> Result<PushResult> {
        push::push(self, branch, opts, true, None)
    }
}

fn index_entry(path: &str, id: git2::Oid, size: usize, exec: bool) -> git2::IndexEntry {
    let zero = git2::IndexTime::new(0, 0);
    git2::IndexEntry {
        ctime: zero,
        mtime: zero,
        dev: 0,
        ino: 0,
        mode: if exec { 0o100755 } else { 0o100644 },
        uid: 0,
        gid: 0,
        file_size: u32::try_from(size).unwrap_or(u32::MAX),
        id,
        flags: 0,
        flags_extended: 0,
        path: path.as_bytes().to_vec(),
    }
}

#[cfg(unix)]
fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(_: &Path) -> bool {
    false
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
