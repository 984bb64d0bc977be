//! The flags every mutating command shares (`--push`, `--pr`, `--base`, ...): parsing,
//! validation of their combinations, and resolution into `mcb::git::PublishOptions` and
//! `mcb::forge::PrOptions`. Credentials come from the environment here, at the edge.

use std::path::PathBuf;
use std::process::ExitCode;

use mcb::forge::{self, Auth, PrOptions, RepoSlug};
use mcb::git::{Author, PublishOptions, PushAuth, PushOptions};
use secrecy::SecretString;

use super::UsageError;

/// Text for a command's `long_about`, after its own examples.
pub const HELP: &str = "\
Publishing: the command writes its files on branch mcb/<command>-<name> and commits them.
--push pushes the branch (HTTPS: GH_TOKEN or GITHUB_TOKEN as user x-access-token, or
user:password in the remote URL; SSH: --ssh-key or ssh-agent, host key checked against
~/.ssh/known_hosts). --pr also opens or updates the pull request (the same token, or a
GitHub App through
GITHUB_APP_ID, GITHUB_APP_PRIVATE_KEY_FILE and optionally GITHUB_APP_INSTALLATION_ID; the
app's installation token, scoped to the repository, then also authenticates the push).

--dry-run --push --pr shows the plan, the push and the PR without contacting anything.
Remote, credentials and the GitHub repository are checked before anything is committed; a
branch committed earlier (a failed push or PR) is published with `mcb publish BRANCH`.

Examples:
  mcb init-installation prod --spec prod.yaml --push --pr --label mcb
  mcb publish mcb/init-prod
  mcb rotate prod --push --pr --base release --author \"Jane Doe <jane@example.com>\"";

/// `--push`, `--pr` and friends.
#[derive(Debug, Clone, Default, clap::Args)]
#[command(next_help_heading = "Publishing")]
pub struct PublishArgs {
    /// Push the branch to the remote after committing
    #[arg(long)]
    pub push: bool,
    /// Open (or update) a pull request for the branch; needs --push
    #[arg(long)]
    pub pr: bool,
    /// Start a new branch from BRANCH and target the PR at it [default: the remote's default branch]
    #[arg(long, value_name = "BRANCH")]
    pub base: Option<String>,
    /// The git remote to push to
    #[arg(long, value_name = "NAME", default_value = "origin")]
    pub remote: String,
    /// GitHub API base URL (GitHub Enterprise: https://HOST/api/v3)
    #[arg(long, value_name = "URL", default_value = forge::DEFAULT_API)]
    pub github_api: String,
    /// The GitHub repository [default: parsed from the remote's URL]
    #[arg(long, value_name = "OWNER/NAME")]
    pub github_repo: Option<String>,
    /// Write the files but leave git alone (no branch, no commit)
    #[arg(long)]
    pub no_commit: bool,
    /// Show what would change; write, commit and push nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Commit author [default: git config user.name and user.email]
    #[arg(long, value_name = "NAME <EMAIL>")]
    pub author: Option<String>,
    /// SSH private key for the push [default: ssh-agent]
    #[arg(value_parser = super::path_arg, long, value_name = "FILE")]
    pub ssh_key: Option<PathBuf>,
    /// known_hosts file for SSH host key checks [default: ~/.ssh/known_hosts]
    #[arg(value_parser = super::path_arg, long, value_name = "FILE")]
    pub known_hosts: Option<PathBuf>,
    /// Trust an SSH host key not yet in known_hosts and record it there
    #[arg(long)]
    pub accept_new_host_key: bool,
    /// Open the pull request as a draft
    #[arg(long)]
    pub draft: bool,
    /// Add a label to the pull request (repeatable)
    #[arg(long = "label", value_name = "LABEL")]
    pub labels: Vec<String>,
}

/// The flags, resolved.
#[derive(Debug)]
pub struct Publish {
    /// branch, commit and push settings for `mcb::git`
    pub git: PublishOptions,
    /// pull request settings for `mcb::forge`, with `--pr`
    pub pr: Option<PrOptions>,
}

fn usage(message: impl Into<String>, help: impl Into<String>) -> UsageError {
    UsageError {
        message: message.into(),
        help: Some(help.into()),
    }
}

/// A library error about a flag's value, as a usage error with the library's help.
fn from_lib<E: std::fmt::Display + mcb::Help>(e: E) -> UsageError {
    UsageError {
        message: e.to_string(),
        help: e.help(),
    }
}

/// `--flag` needs `--needed`: the usage error for each given flag that lacks it.
fn require(given: &[(&str, bool)], needed: &str, has_needed: bool) -> Result<(), UsageError> {
    match given.iter().find(|(_, on)| *on && !has_needed) {
        Some((flag, _)) => Err(usage(
            format!("{flag} needs {needed}"),
            format!("add {needed}, or drop {flag}"),
        )),
        None => Ok(()),
    }
}

impl PublishArgs {
    /// Checks flag combinations and resolves them. `var` reads the environment (the
    /// process environment in `main`, a map in tests).
    pub fn resolve(&self, var: impl Fn(&str) -> Option<String>) -> Result<Publish, UsageError> {
        require(&[("--pr", self.pr)], "--push", self.push)?;
        let push_only = [
            ("--ssh-key", self.ssh_key.is_some()),
            ("--known-hosts", self.known_hosts.is_some()),
            ("--accept-new-host-key", self.accept_new_host_key),
        ];
        require(&push_only, "--push", self.push)?;
        let pr_only = [
            ("--draft", self.draft),
            ("--label", !self.labels.is_empty()),
            ("--github-repo", self.github_repo.is_some()),
            ("--github-api", self.github_api != forge::DEFAULT_API),
        ];
        require(&pr_only, "--pr", self.pr)?;
        // --dry-run --push shows the plan, the push and the PR without doing any of it.
        if self.no_commit && self.push {
            return Err(usage(
                "--no-commit cannot be combined with --push",
                "drop --no-commit to push, or drop --push to only write the files",
            ));
        }
        if self.no_commit && self.author.is_some() {
            return Err(usage(
                "--author has no effect with --no-commit",
                "drop one of them",
            ));
        }
        // As git does: GIT_AUTHOR_NAME/GIT_AUTHOR_EMAIL stand in for a missing --author.
        let env_author = match (var("GIT_AUTHOR_NAME"), var("GIT_AUTHOR_EMAIL")) {
            (Some(n), Some(e)) if !n.is_empty() && !e.is_empty() => Some(format!("{n} <{e}>")),
            _ => None,
        };
        let author = self
            .author
            .clone()
            .or(env_author)
            .as_deref()
            .map(Author::parse)
            .transpose()
            .map_err(from_lib)?;
        if let Some(k) = &self.ssh_key {
            if !k.is_file() {
                return Err(usage(
                    format!("--ssh-key {}: no such file", k.display()),
                    "pass the private key file (e.g. ~/.ssh/id_ed25519), or omit it to use ssh-agent",
                ));
            }
        }
        let push = self.push.then(|| PushOptions {
            remote: self.remote.clone(),
            auth: PushAuth {
                // the same token the API gets: GH_TOKEN before GITHUB_TOKEN, as gh
                token: env_token(&var).map(SecretString::from),
                ssh_key: self.ssh_key.clone(),
                known_hosts: self.known_hosts.clone(),
                accept_new_host_key: self.accept_new_host_key,
            },
        });
        let pr = if self.pr {
            let api_ok = url::Url::parse(&self.github_api)
                .is_ok_and(|u| matches!(u.scheme(), "https" | "http"));
            if !api_ok {
                return Err(usage(
                    format!("--github-api {}: not an http(s) URL", self.github_api),
                    "use e.g. --github-api https://github.example.com/api/v3",
                ));
            }
            let repo = self
                .github_repo
                .as_deref()
                .map(RepoSlug::parse)
                .transpose()
                .map_err(from_lib)?;
            Some(PrOptions {
                api: self.github_api.clone(),
                repo,
                draft: self.draft,
                labels: self.labels.clone(),
            })
        } else {
            None
        };
        Ok(Publish {
            git: PublishOptions {
                base: self.base.clone(),
                author,
                commit: !self.no_commit && !self.dry_run,
                dry_run: self.dry_run,
                push,
            },
            pr,
        })
    }
}

impl PublishArgs {
    /// [`PublishArgs::resolve`] from the process environment, with the PR target (and its
    /// GitHub credentials) when `--pr` is given.
    pub fn resolve_from_env(
        &self,
    ) -> Result<(PublishOptions, Option<mcb::ops::publish::PrTarget>), UsageError> {
        let var = |k: &str| std::env::var(k).ok();
        let publish = self.resolve(var)?;
        let pr = match publish.pr {
            Some(options) => Some(mcb::ops::publish::PrTarget {
                options,
                auth: forge_auth(var)?,
            }),
            None => None,
        };
        Ok((publish.git, pr))
    }
}

pub const PUBLISH_LONG_ABOUT: &str = "\
Push a branch mcb committed (mcb/init-NAME, mcb/rotate-…, mcb/shared-…) and open or update
its one pull request, for a run that committed without --push or whose push or PR failed.
The remote, the push credentials and the GitHub repository are checked first. The PR body
lists the files the branch changes against its base and the credentials it creates or
rotates (fingerprints only). Running it again updates the same PR.

Examples:
  mcb publish                      # the checked-out mcb branch
  mcb publish mcb/init-prod --label mcb
  mcb publish mcb/init-prod --dry-run   # show the push and the PR, contact nothing";

/// `mcb publish [BRANCH]`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The mcb branch [default: the checked-out branch]
    #[arg(value_name = "BRANCH")]
    pub branch: Option<String>,
    /// Only push; open or update no pull request
    #[arg(long)]
    pub no_pr: bool,
    #[command(flatten)]
    pub publish: PublishArgs,
}

/// `-o json`: the publish outcome, as docs/json.md documents it.
pub fn run(g: &super::GlobalArgs, a: Args) -> anyhow::Result<ExitCode> {
    use mcb::progress::Progress;
    let mut reporter = super::Reporter::new(g);
    let env = super::env(&mut reporter)?;
    if a.publish.no_commit || a.publish.author.is_some() {
        return Err(usage(
            "--no-commit and --author have no effect: mcb publish commits nothing",
            "drop them",
        )
        .into());
    }
    let mut args = a.publish.clone();
    args.push = true;
    args.pr = !a.no_pr;
    let (opts, pr) = args.resolve_from_env()?;
    let root = super::repo_root(g);
    let out = mcb::ops::publish::publish_branch(
        &env,
        &root,
        a.branch.as_deref(),
        &opts,
        pr,
        &mut reporter,
    )
    .map_err(anyhow::Error::from)?;
    match g.output {
        super::OutputFormat::Json => super::output::print_json(&out)?,
        super::OutputFormat::Human | super::OutputFormat::Sarif => {
            let branch = out.branch.as_deref().unwrap_or_default();
            super::output::print_files(&out, &format!("branch {branch}"))?;
            if let Some(url) = &out.pushed_to {
                outln!("pushed {branch} to {url}");
            }
            if let Some(pr) = &out.pr {
                outln!("pull request: {}", pr.url);
            }
        }
    }
    if !opts.dry_run {
        reporter.success(&format!(
            "published {}",
            out.branch.as_deref().unwrap_or_default()
        ));
    }
    Ok(ExitCode::SUCCESS)
}

/// `GH_TOKEN`, else `GITHUB_TOKEN` (gh's order), if set and not empty.
fn env_token(var: &impl Fn(&str) -> Option<String>) -> Option<String> {
    ["GH_TOKEN", "GITHUB_TOKEN"]
        .into_iter()
        .find_map(|k| var(k).filter(|t| !t.is_empty()))
}

/// GitHub credentials from the environment: `GH_TOKEN`, else `GITHUB_TOKEN` (gh's order),
/// else a GitHub App from `GITHUB_APP_ID` + `GITHUB_APP_PRIVATE_KEY_FILE`
/// (+ `GITHUB_APP_INSTALLATION_ID`).
pub fn forge_auth(var: impl Fn(&str) -> Option<String>) -> Result<Auth, UsageError> {
    if let Some(t) = env_token(&var) {
        return Ok(Auth::Token(SecretString::from(t)));
    }
    let missing = || {
        usage(
            "--pr needs GitHub credentials",
            "set GH_TOKEN or GITHUB_TOKEN, or GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY_FILE for a GitHub App",
        )
    };
    let (Some(id), Some(key_file)) = (var("GITHUB_APP_ID"), var("GITHUB_APP_PRIVATE_KEY_FILE"))
    else {
        return Err(missing());
    };
    let number = |name: &str, v: &str| {
        v.trim().parse::<u64>().map_err(|_| {
            usage(
                format!("{name}={v:?} is not a number"),
                format!("set {name} to the numeric id shown in the app's settings"),
            )
        })
    };
    let app_id = number("GITHUB_APP_ID", &id)?;
    let installation_id = var("GITHUB_APP_INSTALLATION_ID")
        .map(|v| number("GITHUB_APP_INSTALLATION_ID", &v))
        .transpose()?;
    let pem = std::fs::read_to_string(&key_file).map_err(|e| {
        usage(
            format!("GITHUB_APP_PRIVATE_KEY_FILE={key_file}: {e}"),
            "point it at the .pem file downloaded from the app's settings",
        )
    })?;
    Ok(Auth::App {
        app_id,
        private_key: SecretString::from(pem),
        installation_id,
    })
}

#[cfg(test)]
mod tests;
