//! `mcb secrets …`: sops-compatible commands on SOPS files (decrypt, encrypt, edit,
//! updatekeys, rotate, set, unset, status), one module each. Resolves flags, `.sops.yaml`
//! and key sources into calls to `mcb::sops`; prints plaintext only to stdout, never
//! partially.

mod decrypt;
mod edit;
mod encrypt;
mod flags;
mod io;
mod keys;
mod set;
mod status;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::{OutputFormat, Reporter};

pub const LONG_ABOUT: &str = "\
Read and write SOPS files like the `sops` tool does (same format, same .sops.yaml, same key
sources), with age keys. Files mcb writes decrypt with sops and the other way round.

Formats come from the extension (.yaml/.yml, .json, .env, .ini, anything else binary);
--input-type/--output-type override it. Identities for decrypting come from --age-key-file,
SOPS_AGE_KEY, SOPS_AGE_KEY_FILE, SOPS_AGE_KEY_CMD, ~/.config/sops/age/keys.txt and SSH keys.
Recipients for encrypting come from --age, SOPS_AGE_RECIPIENTS, or the first creation rule
of .sops.yaml (searched from the current directory upwards) whose path_regex matches.

Examples:
  mcb secrets encrypt --age age1… secret.yaml > secret.sops.yaml
  mcb secrets encrypt -i clusters/mgmt/secret.yaml        # recipients from .sops.yaml
  mcb secrets decrypt secret.sops.yaml
  mcb secrets decrypt --extract '[\"data\"][\"password\"]' secret.sops.yaml
  mcb secrets edit secret.sops.yaml                        # $SOPS_EDITOR or $EDITOR
  mcb secrets set secret.sops.yaml '[\"db\"][\"password\"]' '\"new\"'
  mcb secrets updatekeys -y secret.sops.yaml               # re-wrap for current rules
  mcb secrets rotate -i secret.sops.yaml                   # new data key";

/// `mcb secrets`: everything after `secrets` is parsed by [`Cli`], so the subcommands take
/// sops' flags with sops' meaning (`--output FILE`, `-i`, `--indent N`, …) where mcb's
/// global `-o/--output FORMAT` would otherwise be in their way. Global flags given before
/// `secrets` still apply.
#[derive(Debug, clap::Args)]
#[command(disable_help_flag = true)]
pub struct Args {
    /// A secrets subcommand and its flags (see `mcb secrets --help`)
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    pub raw: Vec<std::ffi::OsString>,
}

/// The `mcb secrets` command line proper.
#[derive(Debug, clap::Parser)]
#[command(
    name = "mcb secrets",
    about = "SOPS-compatible operations on encrypted files",
    long_about = LONG_ABOUT,
    disable_version_flag = true
)]
struct Cli {
    #[command(subcommand)]
    command: Sub,
    /// Only errors on stderr
    #[arg(short, long, global = true)]
    quiet: bool,
    /// More detail on stderr (sops' --verbose)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Report results as JSON lines on stdout (what `mcb -o json` does elsewhere)
    #[arg(long, global = true)]
    json: bool,
}

/// The subcommands.
#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Decrypt files to stdout (or in place, or to --output)
    Decrypt(decrypt::Args),
    /// Encrypt files to stdout (or in place, or to --output)
    Encrypt(encrypt::Args),
    /// Edit a file's plaintext in $SOPS_EDITOR/$EDITOR; re-encrypts only if it changed
    /// (exit 200 when it did not, as sops)
    Edit(edit::Args),
    /// Re-wrap the data key for the recipients of the matching .sops.yaml rule
    Updatekeys(keys::UpdatekeysArgs),
    /// Generate a new data key and re-encrypt every value with it
    Rotate(keys::RotateArgs),
    /// Set a value (JSON) at a path, in place; other values keep their ciphertext
    Set(set::SetArgs),
    /// Remove the value at a path, in place
    Unset(set::UnsetArgs),
    /// Show a file's recipients, rule and whether every value that must be is encrypted (no key needed)
    Status(status::Args),
}

impl Sub {
    /// The FILE arguments and the common flags, to resolve them against `--repo`.
    fn paths(&mut self) -> (Vec<&mut PathBuf>, &mut flags::Common) {
        match self {
            Sub::Decrypt(a) => (a.files.iter_mut().collect(), &mut a.common),
            Sub::Encrypt(a) => (a.files.iter_mut().collect(), &mut a.common),
            Sub::Updatekeys(a) => (a.files.iter_mut().collect(), &mut a.common),
            Sub::Rotate(a) => (a.files.iter_mut().collect(), &mut a.common),
            Sub::Status(a) => (a.files.iter_mut().collect(), &mut a.common),
            Sub::Edit(a) => (vec![&mut a.file], &mut a.common),
            Sub::Set(a) => (vec![&mut a.file], &mut a.common),
            Sub::Unset(a) => (vec![&mut a.file], &mut a.common),
        }
    }

    /// With `--repo DIR`, relative FILE arguments name files in that repo and `.sops.yaml`
    /// is searched from there (flags keep their meaning relative to the current directory).
    fn resolve_in_repo(&mut self, repo: &Path) {
        let (files, common) = self.paths();
        for f in files {
            if f.is_relative() {
                *f = repo.join(&*f);
            }
        }
        common.search_from = Some(repo.to_owned());
    }
}

pub fn run(g: &super::GlobalArgs, a: Args) -> anyhow::Result<ExitCode> {
    let argv = std::iter::once(std::ffi::OsString::from("mcb secrets")).chain(a.raw);
    let mut cli = <Cli as clap::Parser>::try_parse_from(argv).unwrap_or_else(|e| e.exit());
    if let Some(repo) = &g.repo {
        cli.command.resolve_in_repo(repo);
    }
    let mut g = g.clone();
    g.quiet |= cli.quiet;
    g.verbose = g.verbose.saturating_add(cli.verbose);
    if cli.json {
        g.output = OutputFormat::Json;
    }
    let g = &g;
    let rep = &mut Reporter::new(g);
    match cli.command {
        Sub::Decrypt(a) => decrypt::run(g, rep, a)?,
        Sub::Encrypt(a) => encrypt::run(g, rep, a)?,
        Sub::Edit(a) => return edit::run(g, rep, a),
        Sub::Updatekeys(a) => keys::updatekeys(g, rep, a)?,
        Sub::Rotate(a) => keys::rotate(g, rep, a)?,
        Sub::Set(a) => set::set(g, rep, a)?,
        Sub::Unset(a) => set::unset(g, rep, a)?,
        Sub::Status(a) => return status::run(g, a),
    }
    Ok(ExitCode::SUCCESS)
}
