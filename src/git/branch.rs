//! Branches of the config repo: starting mcb's branch (existing or from a base), the
//! recorded base, HEAD and switching back.

use git2::BranchType;

use super::{git, BranchStart, ConfigRepo, Error, Head, Result, BASE_KEY};

impl ConfigRepo {
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

    pub(super) fn find_commit(&self, id: &str) -> Result<git2::Commit<'_>> {
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
    pub(super) fn resolve_base(&self, base: &str) -> Result<git2::Commit<'_>> {
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

    pub(super) fn switch_to(
        &self,
        refname: &str,
        tree_of: Option<&git2::Commit<'_>>,
    ) -> Result<()> {
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
}
