//! The config repo against its remote and its history: URLs, pushes, fetching the base,
//! ancestry and what a branch introduced.

use std::path::Path;

use git2::BranchType;

use super::{
    git, push, redact_url, BranchChanges, ConfigRepo, Error, PushOptions, PushResult, Result,
    BASE_KEY,
};

impl ConfigRepo {
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
