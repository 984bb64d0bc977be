//! The command line: clap argument structs (one file per subcommand), how results are
//! printed (human or JSON), and progress on stderr. Resolves flags into library requests;
//! the work itself happens in `mcb::ops`.

/// `println!` that returns a write error to the caller (through `?`) instead of panicking:
/// `mcb ... | head` closes stdout early, and `main` ends such a run quietly with exit 0, as
/// ripgrep does. The enclosing function must return a `Result` an `io::Error` converts into.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)?;
    }};
}

/// `print!` as [`outln!`] does `println!`.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        write!(std::io::stdout().lock(), $($arg)*)?;
    }};
}

mod bootstrap;
mod check;
mod completions;
mod example_spec;
mod init;
mod interrupt;
mod kubeconfig;
pub mod output;
pub mod publish;
mod render;
mod rotate;
mod schema;
mod secrets;
mod shared;
mod status;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use mcb::progress::Progress;

pub use output::{OutputFormat, Reporter};

const ABOUT: &str = "Bootstrap Kubernetes management clusters the GitOps way";

const LONG_ABOUT: &str = "\
mcb turns a short installation spec into a complete, SOPS-encrypted GitOps config repo for
a Kubernetes management cluster: the SOPS age key, the cluster CA and certificates in
Cluster API format, kubeconfigs, OIDC clients, GitHub Apps, deploy keys and the Flux and
kustomize manifests. Every change is committed on a branch and proposed as a pull request;
the only manual step on a new cluster is `mcb bootstrap` (install Flux, hand it the key).

Everything runs offline against a local repo unless you ask for the network with --push,
--pr or an issuer URL.";

const AFTER_HELP: &str = "\
Examples, in workflow order:
  mcb example-spec > demo.yaml                             # edit it: name, provider, git.url, sops.recipients
  mcb init-installation demo --spec demo.yaml --dry-run    # the plan: files and credentials
  mcb init-installation demo --spec demo.yaml --push --pr  # one commit on mcb/init-demo, one PR
  mcb bootstrap demo --apply --kubeconfig new-cluster.kubeconfig
  mcb kubeconfig demo > admin.kubeconfig                   # the pre-generated admin kubeconfig
  mcb check                                                # the config repo's CI gate
  mcb rotate demo --due-within 30d --push --pr             # what expires, as a reviewed PR

Exit status: 0 ok, 1 a check or drift was found, 2 usage or runtime error.

Environment: age identities come from --age-key-file, SOPS_AGE_KEY, SOPS_AGE_KEY_FILE,
SOPS_AGE_KEY_CMD (as in sops), ~/.config/mcb/keys/NAME.agekey (where init-installation
saves the key), ~/.config/sops/age/keys.txt; GITHUB_TOKEN (or GH_TOKEN) authenticates to
GitHub; MCB_REPO is --repo; NO_COLOR turns colour off.";

/// `mcb`: the parsed command line.
#[derive(Debug, Parser)]
#[command(name = "mcb", version, about = ABOUT, long_about = LONG_ABOUT, after_help = AFTER_HELP)]
#[command(propagate_version = true, arg_required_else_help = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every subcommand takes (listed under their own heading, as flux, kubectl and gh do).
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// The config repo [default: the git repository around the current directory]
    #[arg(value_parser = path_arg, long, global = true, value_name = "DIR", env = "MCB_REPO")]
    pub repo: Option<PathBuf>,

    /// More detail on stderr: -v each step as it runs, -vv also the time since the start
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Only errors on stderr (no progress, no warnings)
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// When to colour stderr: auto (a terminal, and NO_COLOR unset), always, never
    #[arg(long, global = true, value_enum, default_value_t = Color::Auto, value_name = "WHEN")]
    pub color: Color,

    /// Output format of a command's result: human (text), json (one document on stdout,
    /// docs/json.md), sarif (SARIF 2.1.0 for code scanning; `mcb check` only)
    #[arg(short = 'o', long = "output", global = true, value_enum, default_value_t = OutputFormat::Human, value_name = "FORMAT")]
    pub output: OutputFormat,
}

impl GlobalArgs {
    /// For a command whose output is not a JSON result: `-o json` is an error, never
    /// silently ignored (docs/json.md lists the commands that have one).
    pub fn no_json(&self, command: &str, prints: &str) -> Result<(), UsageError> {
        if self.output != OutputFormat::Json {
            return Ok(());
        }
        Err(UsageError {
            message: format!("`mcb {command}` has no -o json output: it prints {prints}"),
            help: Some("drop -o json; docs/json.md lists the commands with JSON output".into()),
        })
    }
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
// The values are explained in the flag's help (one line, not a list in every --help).
pub enum Color {
    Auto,
    Always,
    Never,
}

impl Color {
    /// Whether to colour what goes to stderr.
    pub fn enabled_for_stderr(self) -> bool {
        match self {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => {
                std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal()
            }
        }
    }
}

/// The subcommands. Each appears here only once it works.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create an installation: keys, PKI, credentials, manifests, on a branch
    #[command(long_about = init::LONG_ABOUT, after_long_help = publish::HELP)]
    InitInstallation(Box<init::Args>),
    /// Push a committed mcb branch and open or update its pull request
    #[command(long_about = publish::PUBLISH_LONG_ABOUT)]
    Publish(Box<publish::Args>),
    /// Print or apply the minimal bootstrap of an installation (Flux + its SOPS key)
    #[command(long_about = bootstrap::LONG_ABOUT)]
    Bootstrap(bootstrap::Args),
    /// Print an installation's decrypted admin (or other user's) kubeconfig
    #[command(long_about = kubeconfig::LONG_ABOUT)]
    Kubeconfig(kubeconfig::Args),
    /// Render installations' manifests from specs and templates
    #[command(long_about = render::LONG_ABOUT)]
    Render(render::Args),
    /// Rotate credentials that are due (or named) as a reviewed pull request
    #[command(long_about = rotate::LONG_ABOUT, after_long_help = publish::HELP)]
    Rotate(Box<rotate::Args>),
    /// Check the config repo: plaintext secrets, SOPS files, specs, drift, expiry (CI gate)
    #[command(long_about = check::LONG_ABOUT)]
    Check(check::Args),
    /// Show every credential, its fingerprint, expiry and last rotation
    #[command(long_about = status::LONG_ABOUT)]
    Status(status::Args),
    /// Decrypt, encrypt, edit and re-key SOPS files (sops-compatible)
    #[command(long_about = secrets::LONG_ABOUT)]
    Secrets(Box<secrets::Args>),
    /// Shared secrets (registry credentials, OAuth apps) used by several installations
    #[command(long_about = shared::LONG_ABOUT)]
    Shared(Box<shared::Args>),
    /// Print the JSON Schema of the installation spec
    #[command(long_about = schema::LONG_ABOUT)]
    Schema(schema::Args),
    /// Print an annotated example installation spec
    #[command(long_about = example_spec::LONG_ABOUT)]
    ExampleSpec(example_spec::Args),
    /// Print shell completions for bash, zsh or fish
    #[command(long_about = completions::LONG_ABOUT)]
    Completions(completions::Args),
}

/// A usage error found after parsing (a bad flag combination), with a fix.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct UsageError {
    /// what is wrong
    pub message: String,
    /// what to do instead
    pub help: Option<String>,
}

impl mcb::Help for UsageError {
    fn help(&self) -> Option<String> {
        self.help.clone()
    }
}

/// The config repo: `--repo`, else the git work tree around the current directory, else
/// the current directory (commands that need git then say it is not a repo).
pub fn repo_root(g: &GlobalArgs) -> PathBuf {
    discover_repo(g.repo.as_deref())
}

/// [`repo_root`] from an explicit repo (`--repo`, MCB_REPO), if any.
pub fn discover_repo(explicit: Option<&std::path::Path>) -> PathBuf {
    if let Some(r) = explicit {
        return r.to_path_buf();
    }
    git2::Repository::discover(".")
        .ok()
        .and_then(|r| r.workdir().map(|p| p.to_path_buf()))
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Answers a shell's completion request (`COMPLETE=SHELL mcb -- ...`) and exits; returns
/// on a normal run.
pub fn answer_completion_requests() {
    completions::answer_requests();
}

/// Parses the process arguments (exits 2 on a usage error, as clap does).
pub fn parse() -> Cli {
    Cli::parse()
}

/// Builds the clap command (for completions and help tests).
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

/// An installation or shared-secret name from the command line, checked like a name in a
/// spec (a DNS-1123 label): it becomes a path under the repo, so `../x` must never pass.
pub fn name_arg(s: &str) -> Result<String, String> {
    mcb::spec::Name::try_from(s.to_owned()).map(String::from)
}

/// A path flag's value with `~` and `~/…` expanded to the home directory, as a shell does
/// for a word of its own but not after `--flag=`; so `--age-key-out=~/keys/x.agekey` never
/// makes a directory named `~`. `~user/…` is refused rather than taken literally.
pub fn path_arg(s: &str) -> Result<PathBuf, String> {
    let Some(rest) = s.strip_prefix('~') else {
        return Ok(PathBuf::from(s));
    };
    if !(rest.is_empty() || rest.starts_with('/')) {
        return Err(format!(
            "`{s}`: only `~` and `~/…` are expanded; write the full path"
        ));
    }
    let home = dirs::home_dir().ok_or_else(|| {
        format!("`{s}`: the home directory is unknown (HOME is not set); write the full path")
    })?;
    Ok(home.join(rest.trim_start_matches('/')))
}

/// Builds the run's [`mcb::Env`], warning when tests have pinned it.
pub fn env(reporter: &mut Reporter) -> anyhow::Result<mcb::Env> {
    let env = mcb::Env::from_process_env().map_err(anyhow::Error::msg)?;
    if env.is_seeded() {
        reporter.warn(&format!(
            "{} is set: randomness is predictable; never use this outside tests",
            mcb::env::SEED_VAR
        ));
    }
    Ok(env)
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let g = cli.global;
    if g.output == OutputFormat::Sarif && !matches!(cli.command, Command::Check(_)) {
        return Err(UsageError {
            message: "-o sarif is only for `mcb check`".into(),
            help: Some("use -o json or -o human".into()),
        }
        .into());
    }
    match cli.command {
        Command::Completions(a) => completions::run(&g, a),
        Command::Check(a) => check::run(&g, a),
        Command::Status(a) => status::run(&g, a),
        Command::Render(a) => render::run(&g, a),
        Command::Kubeconfig(a) => kubeconfig::run(&g, a),
        Command::Schema(a) => schema::run(&g, a),
        Command::ExampleSpec(a) => example_spec::run(&g, a),
        Command::InitInstallation(a) => init::run(&g, *a),
        Command::Bootstrap(a) => bootstrap::run(&g, a),
        Command::Secrets(a) => secrets::run(&g, *a),
        Command::Rotate(a) => rotate::run(&g, *a),
        Command::Publish(a) => publish::run(&g, *a),
        Command::Shared(a) => shared::run(&g, *a),
    }
}
