//! The last steps every mutating command shares, in flux2's plan -> apply order: check out
//! the command's branch, compute the plan against it, write it all-or-nothing, commit
//! exactly the changed files, push, open or update the pull request. A failure before the
//! commit leaves the repo, the working tree and the checked-out branch as they were; a
//! failure after it keeps the commit, so a re-run completes the push and PR.

use std::path::PathBuf;

use crate::forge::{self, body::ChangeSummary, Forge, PrInfo, PrOptions, PullRequest};
use crate::git::{BranchStart, CommitRequest, ConfigRepo, PublishOptions, PushResult};
use crate::ops::failpoint;
use crate::progress::Progress;
use crate::repo::{Change, Plan};
use crate::{Env, Error};

/// What a command wants to publish.
#[derive(Debug, Clone)]
pub struct Request {
    /// the branch (`mcb/init-demo`)
    pub branch: String,
    /// commit message (`feat(demo): create installation`)
    pub message: String,
    /// PR title
    pub title: String,
    /// repo paths the command owns (directories end in `/`): they must be clean before
    /// the branch is checked out
    pub owned: Vec<String>,
    /// public facts for the PR body; files are filled in from the plan
    pub summary: ChangeSummary,
    /// reviewers to request on a new PR
    pub reviewers: Vec<String>,
}

/// How the PR is made, if one is wanted.
pub struct PrTarget {
    /// `--pr` settings
    pub options: PrOptions,
    /// GitHub credentials
    pub auth: forge::Auth,
}

/// What happened.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Outcome {
    /// every file that changed, with how
    pub files: Vec<(String, Change)>,
    /// the branch committed on (None for dry runs and --no-commit)
    pub branch: Option<String>,
    /// the commit id
    pub commit: Option<String>,
    /// where it was pushed (credentials removed from the URL)
    pub pushed_to: Option<String>,
    /// the pull request
    pub pr: Option<PrInfo>,
    /// nothing was written
    pub dry_run: bool,
}

impl Outcome {
    fn files_of(plan: &Plan) -> Vec<(String, Change)> {
        plan.changes().map(|e| (e.path.clone(), e.change)).collect()
    }
}

/// Runs the publish steps. `make_plan` is called once the branch is checked out (so it
/// compares with the branch's files); `after_commit` runs once the commit exists (init
/// moves the staged age key into place there).
#[allow(clippy::too_many_arguments)] // each is a distinct step input; a struct would only rename them
pub fn run(
    repo: &ConfigRepo,
    env: &Env,
    req: &Request,
    opts: &PublishOptions,
    pr: Option<PrTarget>,
    make_plan: &mut dyn FnMut() -> Result<Plan, Error>,
    after_commit: &mut dyn FnMut() -> Result<(), Error>,
    progress: &mut dyn Progress,
) -> Result<Outcome, Error> {
    if opts.dry_run || !opts.commit {
        let plan = make_plan()?;
        let mut out = Outcome {
            files: Outcome::files_of(&plan),
            dry_run: opts.dry_run,
            ..Outcome::default()
        };
        if !opts.dry_run {
            plan.apply()?;
            after_commit()?;
            progress.success(&format!(
                "wrote {} file(s); not committed (--no-commit)",
                out.files.len()
            ));
        } else {
            out.files.sort_by(|a, b| a.0.cmp(&b.0));
        }
        return Ok(out);
    }

    let owned: Vec<&str> = req.owned.iter().map(String::as_str).collect();
    let previous = repo.current_branch()?;
    progress.action(&format!("checking out branch {}", req.branch));
    let start = repo.start_branch(&req.branch, opts.base.as_deref(), &owned)?;
    let undo_branch = |repo: &ConfigRepo, start: &BranchStart| {
        let _ = repo.abandon_branch(start, previous.as_deref());
    };

    let plan =
        match make_plan().and_then(|p| failpoint::check("plan").map(|_| p).map_err(Error::from)) {
            Ok(p) => p,
            Err(e) => {
                undo_branch(repo, &start);
                return Err(e);
            }
        };
    let files = Outcome::files_of(&plan);
    if plan.is_clean() {
        undo_branch_if_new(repo, &start, previous.as_deref());
        progress.up_to_date("nothing to change: the repo is up to date");
        return Ok(Outcome::default());
    }
    if let Err(e) = plan.apply().map_err(Error::from) {
        undo_branch(repo, &start);
        return Err(e);
    }
    let paths: Vec<PathBuf> = files.iter().map(|(p, _)| repo.root().join(p)).collect();
    let committed = failpoint::check("apply")
        .map_err(Error::from)
        .and_then(|_| {
            repo.commit(
                &CommitRequest {
                    message: &req.message,
                    author: opts.author.as_ref(),
                    paths: &paths,
                },
                env,
            )
            .map_err(Error::from)
        });
    let committed = match committed {
        Ok(c) => c,
        Err(e) => {
            // Put the files back before leaving the branch, so the checkout is clean.
            let _ = plan.inverse().apply();
            undo_branch(repo, &start);
            return Err(e);
        }
    };
    after_commit()?;
    let mut out = Outcome {
        files,
        branch: Some(start.branch.clone()),
        commit: committed.as_ref().map(|c| c.id.clone()),
        ..Outcome::default()
    };
    progress.success(&format!(
        "committed {} file(s) on branch {}",
        out.files.len(),
        start.branch
    ));
    failpoint::check("commit")?;

    let Some(push) = &opts.push else {
        return Ok(out);
    };
    progress.action(&format!("pushing {} to {}", start.branch, push.remote));
    let pushed: PushResult = repo.push(&start.branch, push)?;
    progress.success(&format!("pushed {} to {}", start.branch, pushed.url));
    out.pushed_to = Some(pushed.url.clone());

    if let Some(target) = pr {
        let cfg = target.options.config(&pushed.url, target.auth)?;
        let gh = forge::GitHub::connect(cfg, env.now())?;
        let mut summary = req.summary.clone();
        for (path, change) in &out.files {
            match change {
                Change::Added => summary.added.push(path.clone()),
                Change::Changed => summary.changed.push(path.clone()),
                Change::Removed => summary.removed.push(path.clone()),
                Change::Unchanged => {}
            }
        }
        let base = start
            .base
            .clone()
            .or_else(|| opts.base.clone())
            .unwrap_or_else(|| "main".into());
        let info = gh.ensure_pull_request(&PullRequest {
            head: start.branch.clone(),
            base,
            title: req.title.clone(),
            body: forge::body::render(&summary),
            labels: target.options.labels.clone(),
            draft: target.options.draft,
            reviewers: req.reviewers.clone(),
        })?;
        progress.success(&format!(
            "{} pull request #{}: {}",
            if info.created { "opened" } else { "updated" },
            info.number,
            info.url
        ));
        out.pr = Some(info);
    }
    Ok(out)
}

fn undo_branch_if_new(repo: &ConfigRepo, start: &BranchStart, previous: Option<&str>) {
    if start.created {
        let _ = repo.abandon_branch(start, previous);
    }
}
