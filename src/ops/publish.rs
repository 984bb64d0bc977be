//! The last steps every mutating command shares, in flux2's plan -> apply order: prepare
//! the command's branch, compute the plan against it, commit exactly the changed files
//! together with the key file the commit needs (one [`Transaction`]), push, open or update
//! the pull request. A failure before the commit leaves the repo, the working tree, the
//! checked-out branch and the key file as they were; a failure after it keeps the commit
//! and the key, so a re-run completes the checkout, the push and the PR.
//!
//! Size: one ordered flow (prepare, plan, commit, push, PR) whose failure handling spans
//! the steps: what a failure leaves depends on the steps before it.

use crate::forge::{
    self, body::ChangeSummary, BranchPr, Forge, Needs, PrInfo, PrOptions, PullRequest,
};
use crate::git::{ConfigRepo, Head, PublishOptions, PushOptions, PushResult};
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
    /// what the command does at GitHub (a GitHub App's token is scoped to it)
    pub needs: Needs,
}

/// How the PR is made, if one is wanted.
#[derive(Clone)]
pub struct PrTarget {
    /// `--pr` settings
    pub options: PrOptions,
    /// GitHub credentials
    pub auth: forge::Auth,
}

/// What happened (`-o json`: docs/json.md, "The publishing outcome").
#[derive(Debug, Clone, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    /// every file that changed, with how (JSON: `[{path, change}]`)
    #[serde(serialize_with = "files_as_objects")]
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
    /// what a dry run with --push would do on the network, in order
    pub planned: Vec<String>,
    /// where HEAD went back to after the push (the branch, or detached commit, the run
    /// started on); None: the committed branch stays checked out
    pub returned_to: Option<String>,
}

/// `files` as `[{"path", "change"}]`: objects, not pairs (one JSON style, issue #24).
fn files_as_objects<S: serde::Serializer>(
    files: &[(String, Change)],
    s: S,
) -> Result<S::Ok, S::Error> {
    #[derive(serde::Serialize)]
    struct File<'a> {
        path: &'a str,
        change: Change,
    }
    s.collect_seq(files.iter().map(|(path, change)| File {
        path,
        change: *change,
    }))
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
            out.planned = planned_steps(repo, &req.branch, opts, pr.as_ref())?;
        }
        return Ok(out);
    }
    let was = repo.head()?;
    // The remote, the credentials and the GitHub repository, before anything is committed.
    let mut checked = preflight(repo, env, &req.branch, opts, pr, req.needs, progress)?;
    let with_token = checked.as_ref().map(|c| c.options(opts));
    let opts = with_token.as_ref().unwrap_or(opts);
    if let Some(c) = checked.as_mut() {
        c.replacing = start_afresh(repo, &req.branch, &c.history, progress)?;
    }

    ensure_continued_here(repo, &req.branch)?;
    let owned: Vec<&str> = req.owned.iter().map(String::as_str).collect();
    let base = base_of(repo, &req.branch, opts, &owned, progress)?;
    progress.action(&format!("preparing branch {}", req.branch));
    let txn = Transaction::begin(repo, &req.branch, base.as_deref(), &owned, key, progress)?;
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

    let base = start.base.clone().or_else(|| opts.base.clone());
    let pr = PrText {
        title: req.title.clone(),
        summary: with_files(&req.summary, &out.files),
        reviewers: req.reviewers.clone(),
    };
    deliver(repo, &start.branch, base, &pr, checked, progress, &mut out)?;
    if out.pushed_to.is_some() {
        out.returned_to = return_to(repo, &was, &start.branch, progress);
    }
    Ok(out)
}

/// The command computed its files from the work tree, so it may continue an existing
/// branch only from that branch's checkout: from another one (say main, where mcb returns
/// after a push) its commit would undo the branch's earlier commits.
fn ensure_continued_here(repo: &ConfigRepo, branch: &str) -> Result<(), Error> {
    let current = repo.current_branch()?;
    if repo.branch_tip(branch)?.is_none() || current.as_deref() == Some(branch) {
        return Ok(());
    }
    Err(crate::ops::Error::ContinuesAnotherCheckout {
        branch: branch.to_owned(),
        checked_out: current.unwrap_or_else(|| "a detached HEAD".into()),
    }
    .into())
}

/// After a push, HEAD goes back to where the run started (as gh leaves you where you
/// were); the branch is on the remote and in its PR. Without a push it stays checked out
/// for review. A switch that would touch files changed meanwhile is not made (a warning):
/// the commit and the push stand either way.
fn return_to(
    repo: &ConfigRepo,
    was: &Head,
    branch: &str,
    progress: &mut dyn Progress,
) -> Option<String> {
    let name = match was {
        Head::Branch(b) if b == branch => return None,
        Head::Branch(b) => b.clone(),
        Head::Detached(id) => id.clone(),
    };
    match repo.restore_head(was) {
        Ok(()) => {
            progress.success(&format!(
                "back on {name}; `git switch {branch}` to continue the branch"
            ));
            Some(name)
        }
        Err(e) => {
            progress.warn(&format!(
                "{branch} stays checked out: switching back to {name} failed: {e}"
            ));
            None
        }
    }
}

/// The branch a new mcb branch starts from and its PR targets: `--base`, else the remote's
/// default branch (fetched with `--push`, else as this clone knows it), as gh does - never
/// just the checked-out branch, so commands do not stack on each other's branches. The
/// command computed its files from the work tree, so a checkout that differs from that
/// base in the command's paths is refused (switch to the base, or name the branch to build
/// on with `--base`). An existing branch is continued as it is.
pub(crate) fn base_of(
    repo: &ConfigRepo,
    branch: &str,
    opts: &PublishOptions,
    owned: &[&str],
    progress: &mut dyn Progress,
) -> Result<Option<String>, Error> {
    if opts.base.is_some() || repo.branch_tip(branch)?.is_some() {
        return Ok(opts.base.clone());
    }
    let base = match &opts.push {
        Some(push) => {
            progress.action(&format!("fetching the default branch of {}", push.remote));
            match repo.fetch_base(push, None)? {
                Some(f) => Some(f.branch),
                None => repo.known_default_branch(&push.remote), // an empty remote
            }
        }
        None => repo.known_default_branch("origin"),
    };
    let Some(base) = base else {
        return Ok(None);
    };
    let differs = repo.differs_from(&base, owned)?;
    if !differs.is_empty() {
        return Err(crate::ops::Error::DiffersFromBase {
            checked_out: repo.current_branch()?.unwrap_or_else(|| "HEAD".into()),
            base,
            paths: differs,
        }
        .into());
    }
    Ok(Some(base))
}

/// The GitHub side of a publish, connected and checked, and the push as it authenticates.
pub(crate) struct Checked {
    gh: Option<(forge::GitHub, PrOptions)>,
    /// `--push`'s options; without a token of their own, a GitHub App's installation token
    push: PushOptions,
    /// what became of the branch's earlier pull requests (`None` without `--pr`)
    history: BranchPr,
    /// the remote branch tip the push may replace (the merged or closed PR's head)
    replacing: Option<String>,
}

impl Checked {
    /// `opts` with the push as checked (its token included), for fetches and the push.
    pub(crate) fn options(&self, opts: &PublishOptions) -> PublishOptions {
        PublishOptions {
            push: Some(self.push.clone()),
            ..opts.clone()
        }
    }
}

/// Connects to GitHub first (a GitHub App's installation token, scoped to the repository
/// and to `needs`, is minted here, so it can authenticate the push when no token was
/// given), then checks that the push remote exists and accepts the credentials and that
/// the GitHub repository answers (its open pull requests are listed), before anything is
/// committed or pushed. None without `--push`.
pub(crate) fn preflight(
    repo: &ConfigRepo,
    env: &Env,
    branch: &str,
    opts: &PublishOptions,
    pr: Option<PrTarget>,
    needs: Needs,
    progress: &mut dyn Progress,
) -> Result<Option<Checked>, Error> {
    let Some(push) = &opts.push else {
        return Ok(None);
    };
    let gh = match pr {
        Some(target) => {
            let url = repo.remote_url(&push.remote)?;
            let mut cfg = target.options.config(&url, target.auth)?;
            cfg.needs = needs;
            let gh = forge::GitHub::connect(cfg, env.now())?;
            Some((gh, target.options))
        }
        None => None,
    };
    let mut push = push.clone();
    if push.auth.token.is_none() {
        push.auth.token = gh
            .as_ref()
            .and_then(|(gh, _)| gh.installation_token().cloned());
    }
    progress.action(&format!("checking access to remote {}", push.remote));
    repo.check_push(branch, &push)?;
    let history = match &gh {
        Some((gh, _)) => gh.branch_pull_requests(branch)?,
        None => BranchPr::None,
    };
    Ok(Some(Checked {
        gh,
        push,
        history,
        replacing: None,
    }))
}

/// A branch whose pull request was merged or closed is done: a publishing command starts
/// it afresh from the remote's default branch instead of stacking on it (after a squash
/// merge that would conflict). The local branch goes (GitHub keeps the PR's commits; one
/// with commits the PR does not have is refused), and the push may replace the remote
/// branch if it is still at the PR's head. Returns that head.
fn start_afresh(
    repo: &ConfigRepo,
    branch: &str,
    history: &BranchPr,
    progress: &mut dyn Progress,
) -> Result<Option<String>, Error> {
    let BranchPr::Done {
        number,
        merged,
        head_sha,
    } = history
    else {
        return Ok(None);
    };
    let how = if *merged { "merged" } else { "closed" };
    if let Some(tip) = repo.branch_tip(branch)? {
        if &tip != head_sha {
            return Err(crate::ops::Error::FinishedBranchDiverged {
                branch: branch.to_owned(),
                number: *number,
                how,
            }
            .into());
        }
        if repo.current_branch()?.as_deref() == Some(branch) {
            let base = repo
                .stored_base(branch)
                .or_else(|| repo.known_default_branch("origin"))
                .filter(|b| repo.branch_tip(b).ok().flatten().is_some())
                .ok_or_else(|| crate::ops::Error::FinishedBranchDiverged {
                    branch: branch.to_owned(),
                    number: *number,
                    how,
                })?;
            repo.restore_head(&Head::Branch(base))?;
        }
        repo.delete_branch(branch)?;
    }
    progress.warn(&format!(
        "pull request #{number} of {branch} was {how}: starting {branch} afresh from the default branch"
    ));
    Ok(Some(head_sha.clone()))
}

/// A GitHub client for the config repo outside the publish steps (deploy keys), its token
/// scoped to `needs`: `--github-repo`, else the push remote's URL names the repository.
pub(crate) fn connect(
    repo: &ConfigRepo,
    env: &Env,
    opts: &PublishOptions,
    pr: &PrTarget,
    needs: Needs,
) -> Result<forge::GitHub, Error> {
    let remote = opts.push.as_ref().map_or("origin", |p| p.remote.as_str());
    let url = repo.remote_url(remote).unwrap_or_default();
    let mut cfg = pr.options.config(&url, pr.auth.clone())?;
    cfg.needs = needs;
    Ok(forge::GitHub::connect(cfg, env.now())?)
}

/// What the pull request says.
struct PrText {
    title: String,
    summary: ChangeSummary,
    reviewers: Vec<String>,
}

/// `summary` with the changed files listed.
fn with_files(summary: &ChangeSummary, files: &[(String, Change)]) -> ChangeSummary {
    let mut summary = summary.clone();
    for (path, change) in files {
        match change {
            Change::Added => summary.added.push(path.clone()),
            Change::Changed => summary.changed.push(path.clone()),
            Change::Removed => summary.removed.push(path.clone()),
            Change::Unchanged => {}
        }
    }
    summary
}

/// Pushes `branch` and opens or updates its pull request (with `checked` from
/// [`preflight`]); both are idempotent, so a re-run completes what failed.
#[allow(clippy::too_many_arguments)] // distinct inputs of the last step
fn deliver(
    repo: &ConfigRepo,
    branch: &str,
    base: Option<String>,
    pr: &PrText,
    checked: Option<Checked>,
    progress: &mut dyn Progress,
    out: &mut Outcome,
) -> Result<(), Error> {
    let Some(checked) = checked else {
        return Ok(());
    };
    let push = &checked.push;
    progress.action(&format!("pushing {branch} to {}", push.remote));
    let pushed: PushResult = match &checked.replacing {
        Some(old) => repo.push_replacing(branch, push, old)?,
        None => repo.push(branch, push)?,
    };
    progress.success(&format!("pushed {branch} to {}", pushed.url));
    out.pushed_to = Some(pushed.url.clone());
    let Some((gh, options)) = checked.gh else {
        return Ok(());
    };
    let info = gh.ensure_pull_request(&PullRequest {
        head: branch.to_owned(),
        base: base.unwrap_or_else(|| "main".into()),
        title: pr.title.clone(),
        body: forge::body::render(&pr.summary),
        labels: options.labels.clone(),
        draft: options.draft,
        reviewers: pr.reviewers.clone(),
    })?;
    progress.success(&format!(
        "{} pull request #{}: {}",
        if info.created { "opened" } else { "updated" },
        info.number,
        info.url
    ));
    out.pr = Some(info);
    Ok(())
}

/// What a dry run with `--push` would do on the network (nothing is contacted): the
/// remote and its URL, and the pull request with its repository and base.
fn planned_steps(
    repo: &ConfigRepo,
    branch: &str,
    opts: &PublishOptions,
    pr: Option<&PrTarget>,
) -> Result<Vec<String>, Error> {
    let Some(push) = &opts.push else {
        return Ok(Vec::new());
    };
    let url = repo.remote_url(&push.remote)?;
    let mut steps = vec![format!(
        "commit on branch {branch}, push it to remote {} ({url})",
        push.remote
    )];
    if let Some(target) = pr {
        let slug = match &target.options.repo {
            Some(r) => r.clone(),
            None => forge::RepoSlug::from_remote_url(&url)?,
        };
        let base = match &opts.base {
            Some(b) => b.clone(),
            None => repo
                .stored_base(branch)
                .or_else(|| repo.known_default_branch(&push.remote))
                .unwrap_or_else(|| "main".into()),
        };
        steps.push(format!(
            "open or update the pull request {branch} -> {base} in {slug} ({})",
            target.options.api
        ));
    }
    Ok(steps)
}

/// `mcb publish [BRANCH]`: pushes an existing mcb branch (default: the checked-out one)
/// and opens or updates its pull request, after checking the remote and the credentials.
/// The PR body lists the files the branch changes against its base and the credentials
/// its inventories add or change. Nothing is committed.
pub fn publish_branch(
    env: &Env,
    root: &std::path::Path,
    branch: Option<&str>,
    opts: &PublishOptions,
    pr: Option<PrTarget>,
    progress: &mut dyn Progress,
) -> Result<Outcome, Error> {
    let repo = transaction::open(root, progress)?;
    let branch = match branch {
        Some(b) => b.to_owned(),
        None => repo.current_branch()?.unwrap_or_default(),
    };
    let not_mcb = || crate::ops::Error::NotAnMcbBranch {
        branch: branch.clone(),
    };
    if !branch.starts_with("mcb/") || repo.branch_tip(&branch)?.is_none() {
        return Err(not_mcb().into());
    }
    let base = opts
        .base
        .clone()
        .or_else(|| repo.stored_base(&branch))
        .unwrap_or_else(|| "main".into());
    let described = repo.describe_branch(&branch, &base)?;
    let mut out = Outcome {
        files: described.files.clone(),
        branch: Some(branch.clone()),
        commit: repo.branch_tip(&branch)?,
        dry_run: opts.dry_run,
        ..Outcome::default()
    };
    let text = PrText {
        title: described.title.clone(),
        summary: with_files(&summary_of(&repo, &branch, &described)?, &described.files),
        reviewers: Vec::new(),
    };
    if opts.dry_run {
        out.planned = planned_steps(&repo, &branch, opts, pr.as_ref())?;
        return Ok(out);
    }
    let needs = Needs::for_paths(described.files.iter().map(|(p, _)| p.as_str()));
    let checked = preflight(&repo, env, &branch, opts, pr, needs, progress)?;
    deliver(
        &repo,
        &branch,
        Some(base),
        &text,
        checked,
        progress,
        &mut out,
    )?;
    Ok(out)
}

/// The PR summary of a committed branch: its subject, the installations it touches, and
/// the credentials their inventories add (created) or change (rotated) against the base.
fn summary_of(
    repo: &ConfigRepo,
    branch: &str,
    d: &crate::git::BranchChanges,
) -> Result<ChangeSummary, Error> {
    use crate::forge::body::{CredentialAction, CredentialChange};
    let mut summary = ChangeSummary {
        headline: format!("{} (published with mcb)", d.title),
        ..ChangeSummary::default()
    };
    for (path, _) in &d.files {
        let Some(name) = path
            .strip_prefix("installations/")
            .and_then(|r| r.strip_suffix("/credentials.yaml"))
        else {
            continue;
        };
        summary.installations.push(name.to_owned());
        let read = |rev: &str| -> Result<crate::inventory::Inventory, Error> {
            match repo.file_at(rev, path)? {
                Some(text) => Ok(crate::inventory::Inventory::parse(path, &text)?),
                None => Ok(crate::inventory::Inventory::new()),
            }
        };
        let (before, after) = (read(&d.merge_base)?, read(branch)?);
        for c in &after.credentials {
            let old = before.get(c.kind, &c.id);
            if old.is_some_and(|o| o.fingerprint == c.fingerprint) {
                continue;
            }
            summary.credentials.push(CredentialChange {
                action: match old {
                    Some(_) => CredentialAction::Rotated,
                    None => CredentialAction::Created,
                },
                kind: c.kind.to_string(),
                id: c.id.clone(),
                fingerprint: Some(c.fingerprint.clone()),
                previous: old.map(|o| o.fingerprint.clone()),
                not_after: c.not_after.clone(),
            });
        }
    }
    Ok(summary)
}
