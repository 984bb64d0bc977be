//! The use cases, one module per command (`init`, `bootstrap`, …). Each runs as ordered,
//! re-runnable steps over the library modules (spec -> credentials -> render -> repo plan ->
//! git -> forge), reports progress through [`crate::progress::Progress`], returns a report
//! value and never prints.

pub mod bootstrap;
pub mod failpoint;
pub mod identity;
pub mod init;
pub mod kubeconfig;
pub mod publish;
pub mod rotate;
pub mod shared;
pub mod status;
pub mod transaction;

use std::path::PathBuf;

/// Failures that belong to a use case rather than to one library module.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `init-installation` for a name that is already in the repo.
    #[error("installation {name} already exists ({path})")]
    InstallationExists {
        /// the installation
        name: String,
        /// where it was found
        path: String,
    },
    /// `init-installation` for a name whose init branch already exists (committed by an
    /// earlier run, waiting for review).
    #[error("installation {name} already exists (branch {branch})")]
    InitBranchExists {
        /// the installation
        name: String,
        /// its init branch
        branch: String,
    },
    /// `mcb publish` for a branch mcb did not make (or that does not exist).
    #[error("`{branch}` is not an existing mcb branch")]
    NotAnMcbBranch {
        /// the branch given (or checked out)
        branch: String,
    },
    /// The spec file names another installation than the command line.
    #[error("{file}: the spec is for installation {spec_name}, not {name}")]
    NameMismatch {
        /// the spec file
        file: PathBuf,
        /// `name:` in the spec
        spec_name: String,
        /// NAME on the command line
        name: String,
    },
    /// None of the age identities found is the installation's own key.
    #[error("{sources}: the age identities found ({recipient}) are not a recipient of installation {name}")]
    KeyNotRecipient {
        /// where the identities came from
        sources: String,
        /// their public recipients
        recipient: String,
        /// the installation
        name: String,
        /// the recipients the installation's files are encrypted for
        expected: Vec<String>,
    },
    /// The Git host's SSH host key is unknown, so Flux could not verify it.
    #[error("no known_hosts entry for git host {host}")]
    NoKnownHosts {
        /// the host from `git.url`
        host: String,
    },
    /// A required credential input (key file, token) is missing.
    #[error("{what} is required: {why}")]
    MissingInput {
        /// what is missing (a flag or variable name)
        what: String,
        /// why it is needed
        why: String,
    },
    /// `mcb rotate --only` with something it does not know.
    #[error("cannot rotate `{given}`: unknown credential")]
    UnknownTarget {
        /// the `--only` value
        given: String,
        /// the values this installation has (empty when not known yet)
        valid: Vec<String>,
    },
    /// A credential that cannot be rotated in this installation (as asked).
    #[error("cannot rotate {target}: {why}")]
    NotRotatable {
        /// the target (`kubeconfig/ci`)
        target: String,
        /// why not
        why: String,
    },
    /// A key file, read back after writing, does not hold the key that was written.
    #[error("{}: the age key written there cannot be read back", key_file.display())]
    KeyUnreadable {
        /// the key file
        key_file: PathBuf,
    },
    /// The commit is on the branch, but the work tree could not be brought in line.
    #[error("committed {commit} on branch {branch}, but the working tree was not updated")]
    Unfinished {
        /// the branch
        branch: String,
        /// the commit id
        commit: String,
        /// what failed after the commit
        #[source]
        source: Box<crate::Error>,
    },
    /// An interrupted earlier run was finished (its commit checked out); this run stopped.
    #[error("an interrupted mcb run was finished: commit {commit} on branch {branch} is checked out now; nothing else was done")]
    Recovered {
        /// the branch
        branch: String,
        /// the commit id
        commit: String,
    },
    /// A test asked for a failure between two steps.
    #[error("injected failure after step `{0}` ({var})", var = failpoint::VAR)]
    Injected(String),
    /// A rendered file of the installation lacks what a command needs from it.
    #[error("{file}: no {what}")]
    NotRendered {
        /// the file (under `installations/<name>/manifests/`)
        file: PathBuf,
        /// what was looked for
        what: String,
    },
    /// `mcb kubeconfig` for a user the installation has no kubeconfig for.
    #[error("installation {name} has no kubeconfig for user {user} ({file})")]
    NoKubeconfig {
        /// the installation
        name: String,
        /// the user asked for
        user: String,
        /// where it would be
        file: PathBuf,
    },
    /// A bootstrap stage's object did not become ready within the timeout.
    #[error("bootstrap stage {stage}: {target} not ready after {timeout}s: {message}")]
    NotReady {
        /// the stage (`controllers`, `sync`)
        stage: String,
        /// what was waited for (`gitrepositories.source.toolkit.fluxcd.io/flux-system`)
        target: String,
        /// the timeout, in seconds
        timeout: u64,
        /// the object's own condition message (else kubectl's)
        message: String,
    },
    /// `rotate --finish` before the rotation is on the remote base branch: the old
    /// credential is still what the cluster (synced from that branch) uses.
    #[error("{target}: the rotation {} is not on {base} yet, so the cluster still uses the old credential", commit.as_deref().map(|c| format!("commit {}", &c[..c.len().min(12)])).unwrap_or_else(|| "commit".into()))]
    RotationNotMerged {
        /// what was rotated (`deploy-key/flux`)
        target: String,
        /// the commit that made the rotation, if found in the local history
        commit: Option<String>,
        /// the remote-tracking branch checked (`origin/main`)
        base: String,
    },
    /// `rotate --finish` while the forge says the new credential was never used since
    /// the rotation: the consumer has not switched to it.
    #[error("{target}: {detail}")]
    NewCredentialUnused {
        /// what was rotated
        target: String,
        /// what the forge said
        detail: String,
    },
    /// A new mcb branch starts from the remote's default branch, but the checkout the
    /// command read its files from differs from it there.
    #[error("the checked-out {checked_out} differs from {base}, where mcb starts its branch, in {}", paths.join(", "))]
    DiffersFromBase {
        /// the checked-out branch
        checked_out: String,
        /// the base (the remote's default branch)
        base: String,
        /// the command's paths that differ
        paths: Vec<String>,
    },
    /// The command's branch exists but another checkout is current: the command read its
    /// files from that checkout, so its commit would undo the branch's earlier ones.
    #[error("{branch} exists and continues from its own files, but {checked_out} is checked out")]
    ContinuesAnotherCheckout {
        /// the command's existing branch
        branch: String,
        /// what is checked out instead
        checked_out: String,
    },
    /// The branch's pull request was merged or closed, but the local branch holds commits
    /// the PR does not (or is checked out with no base to return to): mcb would start it
    /// afresh and lose them.
    #[error("pull request #{number} of {branch} was {how}, and the local {branch} is not what it proposed")]
    FinishedBranchDiverged {
        /// the branch
        branch: String,
        /// its pull request
        number: u64,
        /// `merged` or `closed`
        how: &'static str,
    },
    /// An external program (kubectl) failed.
    #[error("{program} failed ({status}): {stderr}")]
    Tool {
        /// the program
        program: String,
        /// its exit status
        status: String,
        /// the end of what it printed on stderr
        stderr: String,
    },
}

impl crate::Help for Error {
    fn help(&self) -> Option<String> {
        Some(match self {
            Error::InstallationExists { name, .. } => format!(
                "mcb never regenerates an installation's credentials; use `mcb rotate {name}` to replace them, or pick another name"
            ),
            Error::InitBranchExists { name, branch } => format!(
                "it waits on branch {branch}: publish it with `mcb publish {branch}` (or `mcb init-installation {name} --push --pr`); once merged, `mcb rotate {name}` replaces credentials"
            ),
            Error::DiffersFromBase { checked_out, base, .. } => format!(
                "switch to {base} and bring it up to date (`git switch {base} && git pull`), then run the command again; or pass `--base {checked_out}` to build on {checked_out} (its PR then targets {checked_out})"
            ),
            Error::RotationNotMerged { base, .. } => format!(
                "merge the rotation's pull request into {base} first (nothing was deleted); then run `--finish` again"
            ),
            Error::NewCredentialUnused { .. } => "wait until Flux has reconciled the merged rotation (`flux get sources git`), then run `--finish` again; nothing was deleted".into(),
            Error::ContinuesAnotherCheckout { branch, .. } => format!(
                "to add to its open pull request, `git switch {branch}` and run the command again (`mcb publish {branch}` only pushes it); if its pull request was merged or closed, run with `--push --pr` (mcb then starts {branch} afresh) or delete it (`git branch -D {branch}`)"
            ),
            Error::FinishedBranchDiverged { branch, .. } => format!(
                "keep what it holds under another name (`git switch main && git branch -m {branch} {branch}-old`), then run the command again: it starts {branch} afresh from the default branch"
            ),
            Error::NotAnMcbBranch { .. } => "name a branch mcb committed (`git branch --list 'mcb/*'`), e.g. `mcb publish mcb/init-NAME`".into(),
            Error::NameMismatch { spec_name, .. } => format!(
                "run `mcb init-installation {spec_name} --spec …`, or change `name:` in the spec"
            ),
            Error::KeyNotRecipient { expected, name, .. } => format!(
                "pass the key `mcb init-installation` wrote (--age-key-file FILE; by default it is ~/.config/mcb/keys/{name}.agekey); its recipients: {}",
                expected.join(", ")
            ),
            Error::NoKnownHosts { host } => format!(
                "pass the host's key with --git-known-hosts FILE (e.g. `ssh-keyscan {host} > FILE`)"
            ),
            Error::MissingInput { .. } => return None,
            Error::UnknownTarget { valid, .. } if !valid.is_empty() => format!(
                "this installation has: {} (or kubeconfig/<new user>; the `KIND ID` pairs `mcb status` prints work too)",
                valid.join(", ")
            ),
            Error::UnknownTarget { .. } => "use one of kubeconfig/<user>, oidc/<client>, github-app, deploy-key, sops-data-keys, age-key, ca/<cluster|etcd|proxy>".into(),
            Error::NotRotatable { .. } => "see `mcb rotate --help` and the installation's credentials.yaml for what it has".into(),
            Error::KeyUnreadable { .. } => "nothing was committed; write the key to a local disk (--age-key-out FILE) and run mcb again".into(),
            Error::Unfinished { .. } => "the commit and the age key file are in place; fix the cause above, then run mcb again (any mcb command that writes finishes the checkout)".into(),
            Error::Recovered { branch, .. } => format!(
                "review it (`git show {branch}`) and publish it with `mcb publish {branch}`; run your command again only for a further change"
            ),
            Error::Injected(_) => format!("unset {}", failpoint::VAR),
            Error::NotRendered { .. } => {
                "run `mcb render` to bring the installation's manifests up to date".into()
            }
            Error::NoKubeconfig { name, user, .. } => format!(
                "see installations/{name}/credentials.yaml for its kubeconfigs; \
                 `mcb rotate {name} --only kubeconfig/{user}` makes a new one from the CA"
            ),
            Error::NotReady { target, .. } => format!(
                "look at `kubectl -n flux-system describe {target}` and the controller's logs; \
                 fix the cause and run `mcb bootstrap --apply` again (re-applying is harmless), \
                 or allow more time with --timeout"
            ),
            Error::Tool { program, .. } => format!("check that {program} is installed and the kubeconfig is right"),
        })
    }
}
