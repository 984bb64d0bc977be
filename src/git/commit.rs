//! Commits of exactly the files mcb changed, built on the branch's tree (the user's staged
//! files stay out), and the index and work tree kept in step with them.

use std::path::{Path, PathBuf};

use git2::Signature;

use super::{
    git, is_under_secrets_dir, looks_sops_encrypted, Author, CommitRequest, Committed, ConfigRepo,
    Error, Result,
};
use crate::Env;

impl ConfigRepo {
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
    pub(super) fn sync_index(&self, files: &[(String, Option<Vec<u8>>)]) -> Result<()> {
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

    pub(super) fn relative_paths(&self, paths: &[PathBuf]) -> Result<Vec<(String, PathBuf)>> {
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
pub(super) fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
pub(super) fn is_executable(_: &Path) -> bool {
    false
}
