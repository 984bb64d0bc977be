//! The commit-and-key sequence every mutating command shares, crash-consistent: the repo
//! is either as it was or fully committed with the user's key file in place, whatever
//! fails and wherever the process is killed.
//!
//! Order: a journal (`.git/mcb-transaction.json`) records where HEAD was, the branch and
//! the key file; the key file is written (fsync'd, 0600, temp name then rename, directory
//! fsync'd) and read back and proven to open data sealed for its recipients; the commit
//! is built as git objects only (no file in the work tree changes); the journal records
//! the commit id; ONE atomic ref update puts it on the branch (the commit point); then the
//! work tree, the index and HEAD are brought in line and the journal is removed.
//!
//! Before the commit point a failure rolls back (key removed, HEAD and branch as before);
//! after it nothing is undone: the key is already safe and the next run (or this one)
//! finishes the checkout. A run killed anywhere leaves the journal, and the next mcb
//! command settles it the same way ([`open`]): roll forward if the branch holds the
//! journal's commit, else roll back. It never prints; it reports through `Progress`.

use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};

use crate::git::{Author, BranchStart, ConfigRepo, Head};
use crate::ops::failpoint;
use crate::progress::Progress;
use crate::{Env, Error};

/// The journal's file name inside the git directory (never in the work tree).
const JOURNAL: &str = "mcb-transaction.json";

/// A private key file to hand to the user together with a commit (the age key of a new
/// installation, or of an age-key rotation).
pub struct KeyFile {
    /// where it goes (must not exist)
    pub path: PathBuf,
    /// the file's text (`AGE-SECRET-KEY-1…` lines and comments)
    pub text: SecretString,
}

impl KeyFile {
    /// The public recipients of the identities in the text.
    fn recipients(text: &SecretString) -> Vec<String> {
        text.expose_secret()
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("AGE-SECRET-KEY-1"))
            .filter_map(|l| crate::sops::keys::recipient_of(&SecretString::from(l.to_owned())))
            .collect()
    }

    /// Writes the file durably and proves it is usable: read back, every recipient of
    /// the text present, and data sealed for each opens with what was read.
    fn write_verified(&self) -> Result<(), Error> {
        let bytes = self.text.expose_secret().as_bytes();
        crate::fsutil::write_new(&self.path, bytes, 0o600)?;
        let back = SecretString::from(
            String::from_utf8_lossy(&crate::fsutil::read(&self.path)?).into_owned(),
        );
        let unreadable = || crate::ops::Error::KeyUnreadable {
            key_file: self.path.clone(),
        };
        let ids = crate::sops::Identities::from_text(&back).map_err(|_| unreadable())?;
        let wanted = Self::recipients(&self.text);
        if wanted.is_empty() || Self::recipients(&back) != wanted {
            return Err(unreadable().into());
        }
        for r in &wanted {
            let sealed = crate::sops::keys::wrap(r, b"mcb key check").map_err(|_| unreadable())?;
            let opened = crate::sops::keys::unwrap(&sealed, &ids);
            if opened.as_deref().map(Vec::as_slice) != Some(b"mcb key check".as_slice()) {
                return Err(unreadable().into());
            }
        }
        Ok(())
    }
}

/// What a run has done so far, on disk so the next run can settle it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Journal {
    /// the branch being committed to
    branch: String,
    /// where HEAD was before the run
    previous: Head,
    /// the branch's commit before the run (None: the branch did not exist)
    tip_before: Option<String>,
    /// the key file this run writes, with its first recipient (so only this key is removed)
    key: Option<(PathBuf, String)>,
    /// the commit, once its objects are written and before the branch points at it
    commit: Option<String>,
    /// the repo paths the commit changes
    paths: Vec<String>,
    /// the process that wrote the journal (absent in journals of older mcb versions)
    #[serde(default)]
    pid: Option<u32>,
}

fn journal_path(repo: &ConfigRepo) -> PathBuf {
    repo.git2().path().join(JOURNAL)
}

impl Journal {
    fn save(&self, repo: &ConfigRepo) -> Result<(), Error> {
        let json = serde_json::to_vec_pretty(self).expect("the journal serialises");
        crate::fsutil::write_atomic(journal_path(repo), &json, Some(0o600))?;
        Ok(())
    }

    fn load(repo: &ConfigRepo) -> Result<Option<Journal>, Error> {
        let path = journal_path(repo);
        let Some(bytes) = crate::fsutil::read_optional(&path)? else {
            return Ok(None);
        };
        // A journal that cannot be read was cut short before anything depended on it.
        Ok(serde_json::from_slice(&bytes).ok())
    }

    fn remove(repo: &ConfigRepo) -> Result<(), Error> {
        let path = journal_path(repo);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(crate::fsutil::PathError { path, source: e }.into()),
        }
    }

    /// Whether the branch holds this run's commit (the commit point was passed).
    fn committed(&self, repo: &ConfigRepo) -> Result<bool, Error> {
        Ok(self.commit.is_some() && repo.branch_tip(&self.branch)? == self.commit)
    }

    /// Removes the lock files this journal's run left when it was killed while git wrote:
    /// `.git/index.lock`, `HEAD.lock` and the branch's `refs/heads/<branch>.lock`. git
    /// (and mcb) refuse to go on while they exist. A lock is the dead run's when the run's
    /// process is gone and the lock is no older than the journal's last write (a run
    /// refuses to start while the index is locked, so an older one is not the run's).
    /// Where liveness cannot be told (no `/proc`), locks stay and the error names the
    /// command to run.
    fn release_own_locks(&self, repo: &ConfigRepo) -> Result<(), Error> {
        let Some(pid) = self.pid.filter(|p| *p != std::process::id()) else {
            return Ok(());
        };
        let proc = Path::new("/proc");
        if !proc.join("self").exists() || proc.join(pid.to_string()).exists() {
            return Ok(());
        }
        let Ok(written) = std::fs::metadata(journal_path(repo)).and_then(|m| m.modified()) else {
            return Ok(());
        };
        let git_dir = repo.git2().path();
        let locks = [
            git_dir.join("index.lock"),
            git_dir.join("HEAD.lock"),
            git_dir.join(format!("refs/heads/{}.lock", self.branch)),
        ];
        for lock in locks {
            let own = std::fs::metadata(&lock)
                .and_then(|m| m.modified())
                .is_ok_and(|locked| locked >= written);
            if own {
                std::fs::remove_file(&lock).map_err(|source| crate::fsutil::PathError {
                    path: lock.clone(),
                    source,
                })?;
            }
        }
        Ok(())
    }

    /// Finishes (after the commit point) or undoes (before it) the run this journal
    /// describes, then removes the journal. Returns whether it was committed.
    fn settle(&self, repo: &ConfigRepo) -> Result<bool, Error> {
        self.release_own_locks(repo)?;
        let committed = self.committed(repo)?;
        let dirs: Vec<&str> = self.paths.iter().map(String::as_str).collect();
        if committed {
            let commit = self.commit.as_deref().expect("committed has a commit");
            repo.check_out_paths(&self.branch, commit, &self.paths)?;
        } else {
            if let Some((path, recipient)) = &self.key {
                remove_key_if(path, recipient)?;
                // the temp file of a key write that was cut short holds the key too
                if let (Some(dir), Some(name)) = (path.parent(), path.file_name()) {
                    let name = name.to_string_lossy();
                    crate::repo::clean_leftovers(dir, &[name.as_ref()])?;
                }
            }
            let tip_now = repo.branch_tip(&self.branch)?;
            let start = BranchStart {
                branch: self.branch.clone(),
                created: self.tip_before.is_none(),
                base: None,
                tip: tip_now,
                exists: true,
            };
            repo.return_to(&start, &self.previous)?;
        }
        crate::repo::clean_leftovers(repo.root(), &dirs)?;
        Journal::remove(repo)?;
        Ok(committed)
    }
}

/// Removes the key file at `path` if it holds the identity of `recipient` (the key this
/// run wrote and nothing committed uses); any other file there is left alone.
fn remove_key_if(path: &Path, recipient: &str) -> Result<(), Error> {
    // unreadable (missing, or under a file: the write failed) is not this run's key
    let Ok(bytes) = std::fs::read(path) else {
        return Ok(());
    };
    let text = SecretString::from(String::from_utf8_lossy(&bytes).into_owned());
    if KeyFile::recipients(&text).iter().any(|r| r == recipient) {
        std::fs::remove_file(path).map_err(|source| crate::fsutil::PathError {
            path: path.to_path_buf(),
            source,
        })?;
    }
    Ok(())
}

/// Opens the config repo and settles what an interrupted earlier run left (see the
/// module doc), so every command starts from a consistent repo. A run that was rolled
/// back is reported and the command goes on; one that was finished stops the command
/// with [`crate::ops::Error::Recovered`], so a re-run never makes a second change (a
/// second rotation) the user did not see coming.
pub fn open(root: &Path, progress: &mut dyn Progress) -> Result<ConfigRepo, Error> {
    let repo = ConfigRepo::open(root)?;
    // a journal cut short while it was written
    crate::repo::clean_leftovers(repo.git2().path(), &[JOURNAL])?;
    let Some(j) = Journal::load(&repo)? else {
        return Ok(repo);
    };
    if j.settle(&repo)? {
        return Err(crate::ops::Error::Recovered {
            branch: j.branch.clone(),
            commit: j.commit.clone().unwrap_or_default(),
        }
        .into());
    }
    progress.warn(&format!(
        "rolled back an interrupted run on branch {}: nothing of it had been committed",
        j.branch
    ));
    Ok(repo)
}

/// One commit of one command, with its key file: begun on a branch, then committed or
/// rolled back.
pub struct Transaction<'r> {
    repo: &'r ConfigRepo,
    journal: Journal,
    start: BranchStart,
}

/// What a transaction committed.
#[derive(Debug, Clone)]
pub struct Committed {
    /// the commit id (None: nothing changed)
    pub id: Option<String>,
    /// the branch
    pub branch: String,
}

impl<'r> Transaction<'r> {
    /// Starts work on `branch`: cleans temp files a killed run left under `owned`, checks
    /// that the owned paths are clean and the index is not locked, records the journal,
    /// and prepares the branch ([`ConfigRepo::prepare_branch`]).
    pub fn begin(
        repo: &'r ConfigRepo,
        branch: &str,
        base: Option<&str>,
        owned: &[&str],
        key: Option<&KeyFile>,
        progress: &mut dyn Progress,
    ) -> Result<Self, Error> {
        let cleaned = crate::repo::clean_leftovers(repo.root(), owned)?;
        if !cleaned.is_empty() {
            progress.warn(&format!(
                "removed temp files of an interrupted run: {}",
                cleaned.join(", ")
            ));
        }
        repo.ensure_clean(owned)?;
        repo.ensure_index_unlocked()?;
        let journal = Journal {
            branch: branch.to_owned(),
            previous: repo.head()?,
            tip_before: repo.branch_tip(branch)?,
            key: key.map(|k| {
                let first = KeyFile::recipients(&k.text).into_iter().next();
                (k.path.clone(), first.unwrap_or_default())
            }),
            commit: None,
            paths: Vec::new(),
            pid: Some(std::process::id()),
        };
        journal.save(repo)?;
        let start = match repo
            .prepare_branch(branch, base, owned)
            .map_err(Error::from)
            .and_then(|s| failpoint::check("branch").map(|_| s).map_err(Error::from))
        {
            Ok(s) => s,
            Err(e) => {
                let _ = journal.settle(repo);
                return Err(e);
            }
        };
        Ok(Transaction {
            repo,
            journal,
            start,
        })
    }

    /// The branch as prepared.
    pub fn start(&self) -> &BranchStart {
        &self.start
    }

    /// Gives up before the commit: HEAD and the branch as they were, the key removed.
    pub fn abort(self) -> Result<(), Error> {
        self.journal.settle(self.repo).map(|_| ())
    }

    /// Writes and verifies `key`, then commits `files` (repo path, new bytes or None for
    /// a deletion) on the branch and checks them out. Rolls back on any failure before
    /// the commit point; after it, fails with [`crate::ops::Error::Unfinished`] and
    /// leaves the journal for the next run.
    pub fn commit(
        mut self,
        key: Option<&KeyFile>,
        files: &[(String, Option<Vec<u8>>)],
        message: &str,
        author: Option<&Author>,
        env: &Env,
    ) -> Result<Committed, Error> {
        let id = match self.prepare(key, files, message, author, env) {
            Ok(Some(id)) => id,
            Ok(None) => {
                let branch = self.start.branch.clone();
                self.abort()?;
                return Ok(Committed { id: None, branch });
            }
            Err(e) => {
                let _ = self.journal.settle(self.repo);
                return Err(e);
            }
        };
        // The commit point: one atomic ref update.
        let from = self.start.tip.as_deref().filter(|_| self.start.exists);
        if let Err(e) = self.repo.move_branch(&self.start.branch, from, &id) {
            let _ = self.journal.settle(self.repo);
            return Err(e.into());
        }
        let finish = failpoint::check("commit")
            .map_err(Error::from)
            .and_then(|_| self.finish(&id));
        if let Err(e) = finish {
            return Err(crate::ops::Error::Unfinished {
                branch: self.start.branch.clone(),
                commit: id,
                source: Box::new(e),
            }
            .into());
        }
        Ok(Committed {
            id: Some(id),
            branch: self.start.branch.clone(),
        })
    }

    /// Everything before the commit point: the key, the commit object, the journal.
    fn prepare(
        &mut self,
        key: Option<&KeyFile>,
        files: &[(String, Option<Vec<u8>>)],
        message: &str,
        author: Option<&Author>,
        env: &Env,
    ) -> Result<Option<String>, Error> {
        if let Some(k) = key {
            k.write_verified()?;
            failpoint::check("key")?;
        }
        let Some(id) =
            self.repo
                .write_commit(self.start.tip.as_deref(), files, message, author, env)?
        else {
            return Ok(None);
        };
        self.journal.commit = Some(id.clone());
        self.journal.paths = files.iter().map(|(p, _)| p.clone()).collect();
        self.journal.save(self.repo)?;
        failpoint::check("apply")?;
        Ok(Some(id))
    }

    /// After the commit point: work tree, index, HEAD, the base recorded, journal gone.
    fn finish(&self, id: &str) -> Result<(), Error> {
        self.repo
            .check_out_paths(&self.start.branch, id, &self.journal.paths)?;
        self.repo.record_base(&self.start)?;
        failpoint::check("checkout")?;
        Journal::remove(self.repo)
    }
}

/// Writes `key` (verified) and then runs `write`, removing the key again if `write`
/// fails: the `--no-commit` path, where the files are the only record.
pub fn with_key_written<T>(
    key: Option<&KeyFile>,
    write: impl FnOnce() -> Result<T, Error>,
) -> Result<T, Error> {
    if let Some(k) = key {
        k.write_verified()?;
    }
    write().inspect_err(|_| {
        if let Some(k) = key {
            let first = KeyFile::recipients(&k.text).into_iter().next();
            let _ = remove_key_if(&k.path, &first.unwrap_or_default());
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(dir: &Path) -> KeyFile {
        let env = Env::seeded(7, time::OffsetDateTime::UNIX_EPOCH);
        let age = crate::sops::generate_age_key(&env);
        KeyFile {
            path: dir.join("k.agekey"),
            text: SecretString::from(format!(
                "# public key: {}\n{}\n",
                age.recipient,
                age.identity.expose_secret()
            )),
        }
    }

    #[test]
    fn key_is_written_0600_and_verified() {
        let d = tempfile::tempdir().unwrap();
        let k = key(d.path());
        k.write_verified().unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let m = std::fs::metadata(&k.path).unwrap().permissions().mode();
            assert_eq!(m & 0o777, 0o600);
        }
        // never overwritten
        assert!(k.write_verified().is_err());
    }

    #[test]
    fn key_under_a_file_fails_before_anything() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("notadir"), "x").unwrap();
        let mut k = key(d.path());
        k.path = d.path().join("notadir/k.agekey");
        let e = k.write_verified().unwrap_err();
        assert!(e.to_string().contains("notadir"), "{e}");
    }

    #[test]
    fn only_the_runs_own_key_is_removed() {
        let d = tempfile::tempdir().unwrap();
        let k = key(d.path());
        k.write_verified().unwrap();
        remove_key_if(&k.path, "age1someoneelse").unwrap();
        assert!(k.path.exists(), "another recipient: kept");
        let r = KeyFile::recipients(&k.text).remove(0);
        remove_key_if(&k.path, &r).unwrap();
        assert!(!k.path.exists());
    }
}
