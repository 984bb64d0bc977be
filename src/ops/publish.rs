//! The last steps every mutating command shares, in flux2's plan -> apply order: prepare
//! the command's branch, compute the plan against it, commit exactly the changed files
//! together with the key file the commit needs (one [`Transaction`]), push, open or update
//! the pull request. A failure before the commit leaves the repo, the working tree, the
//! checked-out branch and the key file as they were; a failure after it keeps the commit
//! and the key, so a re-run completes the checkout, the push and the PR.

use crate::forge::{self, body::ChangeSummary, Forge, PrInfo, PrOptions, PullRequest};
use crate::git::{ConfigRepo, PublishOptions, PushResult};
use crate::ops::failpoint;
use crate::ops::transaction::{self, KeyFile, Transaction};
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

/// Runs the publish steps. `make_plan` is called once the branch is prepared (so it
/// compares with the branch's files); `key` is the private key file the commit needs
/// (init's age key), written and verified before the commit (see [`transaction`]).
#[allow(clippy::too_many_arguments)] // each is a distinct step input; a struct would only rename them
pub fn run(
    repo: &ConfigRepo,
    env: &Env,
    req: &Request,
    opts: &PublishOptions,
    pr: Option<PrTarget>,
    make_plan: &mut dyn FnMut() -> Result<Plan, Error>,
    key: Option<&KeyFile>,
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
            transaction::with_key_written(key, || Ok(plan.apply()?))?;
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
    progress.action(&format!("preparing branch {}", req.branch));
    let txn = Transaction::begin(
        repo,
        &req.branch,
        opts.base.as_deref(),
        &owned,
        key,
        progress,
    )?;
    let plan =
        match make_plan().and_then(|p| failpoint::check("plan").map(|_| p).map_err(Error::from)) {
            Ok(p) => p,
            Err(e) => {
                let _ = txn.abort();
                return Err(e);
            }
        };
    let files = Outcome::files_of(&plan);
    if plan.is_clean() {
        txn.abort()?;
        progress.up_to_date("nothing to change: the repo is up to date");
        return Ok(Outcome::default());
    }
    let start = txn.start().clone();
    let changes: Vec<(String, Option<Vec<u8>>)> = plan
        .changes()
        .map(|e| (e.path.clone(), e.new_bytes().map(<[u8]>::to_vec)))
        .collect();
    let committed = txn.commit(key, &changes, &req.message, opts.author.as_ref(), env)?;
    let mut out = Outcome {
        files,
        branch: Some(start.branch.clone()),
        commit: committed.id.clone(),
        ..Outcome::default()
    };
    progress.success(&format!(
        "committed {} file(s) on branch {}",
        out.files.len(),
        start.branch
    ));

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
