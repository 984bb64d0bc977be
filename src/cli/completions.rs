//! Shell completion: `mcb completions SHELL` prints a script that asks mcb itself for
//! candidates (clap_complete's dynamic engine), so it offers the config repo's installation
//! names and each installation's `--only` values, not just subcommands and flags.

use std::path::PathBuf;
use std::process::ExitCode;

use clap_complete::engine::{ArgValueCandidates, CompletionCandidate};
use clap_complete::env::EnvCompleter;

/// The variable the script sets when it asks mcb for candidates (clap_complete's default).
const VAR: &str = "COMPLETE";

pub const LONG_ABOUT: &str = "\
Print a completion script for your shell to stdout. Besides subcommands and flags it
completes the installation names of the config repo (MCB_REPO, else the git repository
around the current directory) and `rotate --only` values, by running `mcb` on each TAB.

Examples:
  mcb completions bash > /etc/bash_completion.d/mcb
  mcb completions zsh  > \"${fpath[1]}/_mcb\"
  mcb completions fish > ~/.config/fish/completions/mcb.fish";

/// `mcb completions`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell to write completions for
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: CompletionShell,
}

/// Shells we generate completions for.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum CompletionShell {
    /// GNU bash
    Bash,
    /// Z shell
    Zsh,
    /// fish
    Fish,
}

pub fn run(g: &super::GlobalArgs, a: Args) -> anyhow::Result<ExitCode> {
    g.no_json("completions", "a shell script")?;
    let shell: &dyn EnvCompleter = match a.shell {
        CompletionShell::Bash => &clap_complete::env::Bash,
        CompletionShell::Zsh => &clap_complete::env::Zsh,
        CompletionShell::Fish => &clap_complete::env::Fish,
    };
    // Rendered into memory, then written fallibly, so a closed pipe (`| head -1`) ends
    // quietly.
    let mut script = Vec::new();
    shell.write_registration(VAR, "mcb", "mcb", "mcb", &mut script)?;
    std::io::Write::write_all(&mut std::io::stdout().lock(), &script)?;
    Ok(ExitCode::SUCCESS)
}

/// Answers a completion request from the script (`COMPLETE=bash mcb -- ...`) and exits;
/// returns at once on a normal run. Called before anything else writes to stdout.
pub fn answer_requests() {
    clap_complete::CompleteEnv::with_factory(super::command)
        .var(VAR)
        .complete();
}

/// The config repo a completion looks in: `--repo` is not parsed yet when the shell asks,
/// so MCB_REPO, else the git work tree around the current directory.
fn repo() -> PathBuf {
    let explicit = std::env::var_os("MCB_REPO").filter(|r| !r.is_empty());
    super::discover_repo(explicit.as_deref().map(std::path::Path::new))
}

/// Candidates for an existing installation's NAME.
pub fn installations() -> ArgValueCandidates {
    ArgValueCandidates::new(|| {
        mcb::repo::list_installations(&repo())
            .unwrap_or_default()
            .into_iter()
            .map(CompletionCandidate::new)
            .collect::<Vec<_>>()
    })
}

/// Candidates for `rotate --only`: what each installation's inventory can rotate (the
/// installation itself is not known to a value completer, so the union over all).
pub fn rotate_targets() -> ArgValueCandidates {
    ArgValueCandidates::new(|| {
        let root = repo();
        let mut values: Vec<String> = mcb::repo::list_installations(&root)
            .unwrap_or_default()
            .iter()
            .filter_map(|name| mcb::repo::installation::read_inventory(&root, name).ok())
            .flat_map(|inv| mcb::ops::rotate::only_values(&inv))
            .collect();
        values.sort();
        values.dedup();
        values
            .into_iter()
            .map(CompletionCandidate::new)
            .collect::<Vec<_>>()
    })
}
