//! `mcb completions SHELL`: shell completion scripts from the clap definition.

use std::process::ExitCode;

use clap_complete::Shell;

pub const LONG_ABOUT: &str = "\
Print a completion script for your shell to stdout.

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
    let shell = match a.shell {
        CompletionShell::Bash => Shell::Bash,
        CompletionShell::Zsh => Shell::Zsh,
        CompletionShell::Fish => Shell::Fish,
    };
    let mut cmd = super::command();
    // clap_complete panics on a write error; render into memory, then write fallibly so a
    // closed pipe (`| head -1`) ends quietly.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "mcb", &mut script);
    std::io::Write::write_all(&mut std::io::stdout().lock(), &script)?;
    Ok(ExitCode::SUCCESS)
}
