//! `mcb secrets …`: sops-compatible commands on SOPS files (decrypt, encrypt, edit,
//! updatekeys, rotate, set, unset, status). Resolves flags, `.sops.yaml` and key sources into
//! calls to `mcb::sops`; prints plaintext only to stdout, never partially.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use mcb::progress::Progress;
use mcb::sops::{self, rules, treepath, Content, CryptRule, EncryptOptions, Format, Identities};

use super::{OutputFormat, Reporter, UsageError};

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

/// Flags every secrets subcommand takes (sops' global options, and mcb's key file).
#[derive(Debug, clap::Args, Clone, Default)]
pub struct Common {
    /// An age identity file to try first (besides SOPS_AGE_KEY* and the default keys.txt)
    #[arg(value_parser = super::path_arg, long, value_name = "FILE")]
    pub age_key_file: Option<PathBuf>,
    /// The .sops.yaml to use [default: searched from the current directory upwards]
    #[arg(value_parser = super::path_arg, long, value_name = "FILE", env = "SOPS_CONFIG")]
    pub config: Option<PathBuf>,
    /// Format of the input [default: from the extension]
    #[arg(long, value_name = "TYPE", value_parser = ["yaml", "json", "dotenv", "ini", "binary"])]
    pub input_type: Option<String>,
    /// Format of the output [default: the input's]
    #[arg(long, value_name = "TYPE", value_parser = ["yaml", "json", "dotenv", "ini", "binary"])]
    pub output_type: Option<String>,
    /// Spaces per indentation level of YAML or JSON output [default: YAML 4, JSON a tab]
    #[arg(long, value_name = "N")]
    pub indent: Option<usize>,
    /// Use this name instead of the file's for the format and the .sops.yaml rule
    #[arg(long, value_name = "NAME")]
    pub filename_override: Option<PathBuf>,
    /// Where `.sops.yaml` is searched from: `--repo` when given, else the current directory
    #[arg(skip)]
    pub search_from: Option<PathBuf>,
    /// Key types to try in order (sops' flag; mcb only has age keys, so it changes nothing)
    #[arg(long, value_name = "TYPES", env = "SOPS_DECRYPTION_ORDER", hide = true)]
    pub decryption_order: Option<String>,
}

/// Where a result goes: stdout (default), back into the file (`-i`), or another file.
#[derive(Debug, clap::Args, Clone, Default)]
pub struct OutFlags {
    /// Write the result back to the file instead of stdout
    #[arg(short, long, conflicts_with = "output")]
    pub in_place: bool,
    /// Write the result to this file instead of stdout (one input file only)
    #[arg(value_parser = super::path_arg, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Flags choosing recipients and crypt rules (encrypt; updatekeys takes the recipients).
#[derive(Debug, clap::Args, Clone, Default)]
pub struct RuleFlags {
    /// Age recipients, comma-separated (overrides .sops.yaml's keys)
    #[arg(short, long, value_name = "R,...")]
    pub age: Option<String>,
    /// Encrypt only values under keys matching this regex
    #[arg(long, value_name = "REGEX")]
    pub encrypted_regex: Option<String>,
    /// Leave values under keys matching this regex clear
    #[arg(long, value_name = "REGEX")]
    pub unencrypted_regex: Option<String>,
    /// Encrypt only values under keys ending with this suffix
    #[arg(long, value_name = "SUFFIX")]
    pub encrypted_suffix: Option<String>,
    /// Leave values under keys ending with this suffix clear [default: _unencrypted]
    #[arg(long, value_name = "SUFFIX")]
    pub unencrypted_suffix: Option<String>,
    /// Encrypt only values after a comment matching this regex
    #[arg(long, value_name = "REGEX")]
    pub encrypted_comment_regex: Option<String>,
    /// Leave values after a comment matching this regex clear
    #[arg(long, value_name = "REGEX")]
    pub unencrypted_comment_regex: Option<String>,
    /// Put only encrypted values in the MAC (clear values may then be edited)
    #[arg(long)]
    pub mac_only_encrypted: bool,
    /// Shares needed to recover the data key when there are several key groups
    #[arg(long, value_name = "N")]
    pub shamir_secret_sharing_threshold: Option<usize>,
}

/// The subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Sub {
    /// Decrypt files to stdout (or in place, or to --output)
    Decrypt {
        /// Encrypted files (several: printed one after the other)
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Print only this part of the tree, e.g. '["data"]["password"]'
        #[arg(long, value_name = "PATH")]
        extract: Option<String>,
        /// Skip the MAC check (a tampered file then decrypts: dangerous)
        #[arg(long)]
        ignore_mac: bool,
        #[command(flatten)]
        out: OutFlags,
        #[command(flatten, next_help_heading = "Keys, config and formats")]
        common: Common,
    },
    /// Encrypt files to stdout (or in place, or to --output)
    Encrypt {
        /// Plaintext files
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        #[command(flatten)]
        out: OutFlags,
        #[command(
            flatten,
            next_help_heading = "Recipients and rules (default: .sops.yaml)"
        )]
        rules: RuleFlags,
        #[command(flatten, next_help_heading = "Keys, config and formats")]
        common: Common,
    },
    /// Edit a file's plaintext in $SOPS_EDITOR/$EDITOR; re-encrypts only if it changed
    /// (exit 200 when it did not, as sops)
    Edit {
        /// The encrypted file
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Open it even if the MAC does not match
        #[arg(long)]
        ignore_mac: bool,
        /// Show the master keys while editing (sops' flag; mcb never shows them)
        #[arg(short = 's', long, hide = true)]
        show_master_keys: bool,
        #[command(flatten, next_help_heading = "Keys, config and formats")]
        common: Common,
    },
    /// Re-wrap the data key for the recipients of the matching .sops.yaml rule
    Updatekeys {
        /// Encrypted files
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Do not ask for confirmation
        #[arg(short, long)]
        yes: bool,
        /// Shares needed to recover the data key when there are several key groups
        #[arg(long, value_name = "N")]
        shamir_secret_sharing_threshold: Option<usize>,
        #[command(flatten, next_help_heading = "Keys, config and formats")]
        common: Common,
    },
    /// Generate a new data key and re-encrypt every value with it
    Rotate {
        /// Encrypted files
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        #[command(flatten)]
        out: OutFlags,
        /// Add these age recipients (comma-separated) to the first key group
        #[arg(long, value_name = "R,...")]
        add_age: Option<String>,
        /// Remove these age recipients (comma-separated) from every key group
        #[arg(long, value_name = "R,...")]
        rm_age: Option<String>,
        #[command(flatten, next_help_heading = "Keys, config and formats")]
        common: Common,
    },
    /// Set a value (JSON) at a path, in place; other values keep their ciphertext
    Set {
        /// The encrypted file
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Where, e.g. '["db"]["password"]'
        #[arg(value_name = "PATH")]
        path: String,
        /// The value as JSON, e.g. '"text"', '-5', '{"a": [1, true]}'
        #[arg(
            value_name = "JSON",
            allow_hyphen_values = true,
            required_unless_present = "value_stdin"
        )]
        value: Option<String>,
        /// VALUE names a file holding the JSON value (keeps it out of process listings)
        #[arg(long, conflicts_with = "value_stdin")]
        value_file: bool,
        /// Read the JSON value from stdin (keeps it out of process listings)
        #[arg(long)]
        value_stdin: bool,
        /// Do nothing if the path already holds this value
        #[arg(long)]
        idempotent: bool,
        /// Open the file even if the MAC does not match
        #[arg(long)]
        ignore_mac: bool,
        /// Accepted for sops compatibility (the file keeps its key groups)
        #[arg(long, value_name = "N", hide = true)]
        shamir_secret_sharing_threshold: Option<usize>,
        #[command(flatten, next_help_heading = "Keys, config and formats")]
        common: Common,
    },
    /// Remove the value at a path, in place
    Unset {
        /// The encrypted file
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Where, e.g. '["db"]["password"]'
        #[arg(value_name = "PATH")]
        path: String,
        /// Do nothing if the path does not exist
        #[arg(long)]
        idempotent: bool,
        /// Open the file even if the MAC does not match
        #[arg(long)]
        ignore_mac: bool,
        #[command(flatten, next_help_heading = "Keys, config and formats")]
        common: Common,
    },
    /// Show a file's recipients, rule and whether every value that must be is encrypted (no key needed)
    Status {
        /// Encrypted files
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        #[command(flatten, next_help_heading = "Keys, config and formats")]
        common: Common,
    },
}

/// A `--extract`/`set`/`unset` path problem in `file`.
impl Sub {
    /// The FILE arguments and the common flags, to resolve them against `--repo`.
    fn paths(&mut self) -> (Vec<&mut PathBuf>, &mut Common) {
        match self {
            Sub::Decrypt { files, common, .. }
            | Sub::Encrypt { files, common, .. }
            | Sub::Updatekeys { files, common, .. }
            | Sub::Rotate { files, common, .. }
            | Sub::Status { files, common, .. } => (files.iter_mut().collect(), common),
            Sub::Edit { file, common, .. }
            | Sub::Set { file, common, .. }
            | Sub::Unset { file, common, .. } => (vec![file], common),
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

fn tree_path_err(file: &Path, path: &str, message: String) -> anyhow::Error {
    sops_err(
        sops::Error::TreePath {
            file: PathBuf::new(),
            path: path.to_owned(),
            message,
        },
        file,
    )
}

fn sops_err(e: sops::Error, file: &Path) -> anyhow::Error {
    anyhow::Error::new(mcb::Error::from(e.with_file(file)))
}

fn read(file: &Path) -> anyhow::Result<Vec<u8>> {
    Ok(mcb::fsutil::read(file)?)
}

/// Writes a file in place keeping its permission bits.
fn write_in_place(file: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    #[cfg(unix)]
    let mode = {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(file)
            .ok()
            .map(|m| m.permissions().mode() & 0o7777)
    };
    #[cfg(not(unix))]
    let mode = None;
    mcb::fsutil::write_atomic(file, bytes, mode)?;
    Ok(())
}

/// The name that picks the format and the `.sops.yaml` rule (`--filename-override`).
fn named<'a>(common: &'a Common, file: &'a Path) -> &'a Path {
    common.filename_override.as_deref().unwrap_or(file)
}

fn formats(common: &Common, file: &Path) -> (Format, Format) {
    let input = common
        .input_type
        .as_deref()
        .and_then(Format::from_name)
        .unwrap_or_else(|| Format::from_path(named(common, file)));
    let output = common
        .output_type
        .as_deref()
        .and_then(Format::from_name)
        .unwrap_or(input);
    (input, output)
}

/// The one identity lookup (`mcb::ops::identity`), with the default key file of every
/// installation of the repo around the current directory (or `--repo`) among the places.
fn identities(common: &Common, root: &Path) -> anyhow::Result<Identities> {
    Ok(mcb::ops::identity::lookup_any(
        common.age_key_file.as_deref(),
        root,
    )?)
}

fn absolute(file: &Path) -> anyhow::Result<PathBuf> {
    if file.is_absolute() {
        return Ok(file.to_owned());
    }
    Ok(std::env::current_dir()
        .context("cannot read the current directory")?
        .join(file))
}

/// The `.sops.yaml` in force: `--config`, else searched from the current directory (or
/// `--repo`) upwards.
fn config(common: &Common) -> anyhow::Result<Option<(PathBuf, rules::Config)>> {
    let found = match &common.config {
        Some(p) => Some((p.clone(), rules::Config::load(p)?)),
        None => {
            let from = match &common.search_from {
                Some(d) => d.clone(),
                None => std::env::current_dir().context("cannot read the current directory")?,
            };
            rules::Config::find(&from)?
        }
    };
    Ok(found)
}

/// The rule options for `file` from `.sops.yaml`, if a config exists.
fn rule_options(common: &Common, file: &Path) -> anyhow::Result<Option<EncryptOptions>> {
    let Some((path, cfg)) = config(common)? else {
        return Ok(None);
    };
    let dir = absolute(path.parent().unwrap_or(Path::new(".")))?;
    let opts = cfg
        .options_for(&dir, &absolute(named(common, file))?)
        .map_err(|e| sops_err(e, file))?;
    Ok(Some(opts))
}

/// Encryption options: flags first, then SOPS_AGE_RECIPIENTS, then `.sops.yaml`.
fn encrypt_options(
    common: &Common,
    flags: &RuleFlags,
    file: &Path,
) -> anyhow::Result<EncryptOptions> {
    let explicit = flags
        .age
        .clone()
        .or_else(|| std::env::var("SOPS_AGE_RECIPIENTS").ok())
        .map(|a| rules::split_recipients(&a));
    // With explicit recipients the config's crypt rules still apply, but a missing rule is fine.
    let from_config = match (&explicit, rule_options(common, file)) {
        (_, Ok(o)) => o,
        (Some(_), Err(_)) => None,
        (None, Err(e)) => return Err(e),
    };
    let mut opts = from_config.unwrap_or_default();
    if let Some(r) = explicit {
        opts.key_groups = vec![r];
        opts.shamir_threshold = 0;
    }
    let flag_rules = [
        flags
            .unencrypted_suffix
            .clone()
            .map(CryptRule::UnencryptedSuffix),
        flags
            .encrypted_suffix
            .clone()
            .map(CryptRule::EncryptedSuffix),
        flags
            .unencrypted_regex
            .clone()
            .map(CryptRule::UnencryptedRegex),
        flags.encrypted_regex.clone().map(CryptRule::EncryptedRegex),
        flags
            .unencrypted_comment_regex
            .clone()
            .map(CryptRule::UnencryptedCommentRegex),
        flags
            .encrypted_comment_regex
            .clone()
            .map(CryptRule::EncryptedCommentRegex),
    ];
    let mut given = flag_rules.into_iter().flatten();
    if let Some(r) = given.next() {
        if given.next().is_some() {
            return Err(UsageError {
                message: "only one of --encrypted-regex, --unencrypted-regex, --encrypted-suffix, --unencrypted-suffix, --encrypted-comment-regex, --unencrypted-comment-regex may be given".into(),
                help: Some("pick the one rule that describes which values to encrypt".into()),
            }
            .into());
        }
        opts.rule = Some(r);
    }
    if flags.mac_only_encrypted {
        opts.mac_only_encrypted = true;
    }
    if let Some(t) = flags.shamir_secret_sharing_threshold {
        opts.shamir_threshold = t;
    }
    if opts.key_groups.iter().all(|g| g.is_empty()) {
        return Err(sops_err(
            sops::Error::NoRecipients {
                file: PathBuf::new(),
            },
            file,
        ));
    }
    Ok(opts)
}

/// Writes every result back to its file (`-i`), to `--output`, or, all at once, to stdout.
fn deliver(
    g: &super::GlobalArgs,
    rep: &mut Reporter,
    files: &[PathBuf],
    outs: &[Vec<u8>],
    out: &OutFlags,
    what: &str,
) -> anyhow::Result<()> {
    if let Some(target) = &out.output {
        // Only the owner may read what may be plaintext.
        mcb::fsutil::write_atomic(target, &outs.concat(), Some(0o600))?;
        return report_written(g, rep, target, true, what);
    }
    if !out.in_place {
        return write_stdout(outs);
    }
    for (file, bytes) in files.iter().zip(outs) {
        write_in_place(file, bytes)?;
        report_written(g, rep, file, true, what)?;
    }
    Ok(())
}

/// Refuses `--output` with several input files (sops takes one file).
/// Checks where a result goes: `--output` takes one file, and a result printed to stdout
/// (the file itself) has no JSON form, so `-o json`/`--json` is refused then.
fn one_output(g: &super::GlobalArgs, files: &[PathBuf], out: &OutFlags) -> anyhow::Result<()> {
    if out.output.is_none() && !out.in_place {
        g.no_json("secrets", "the file itself to stdout")?;
    }
    if out.output.is_some() && files.len() > 1 {
        return Err(UsageError {
            message: format!("--output takes one input file, {} were given", files.len()),
            help: Some(
                "run the command once per file, or use -i to write each file in place".into(),
            ),
        }
        .into());
    }
    Ok(())
}

/// Applies `--indent` to emitted bytes.
fn indented(
    common: &Common,
    bytes: Vec<u8>,
    format: Format,
    file: &Path,
) -> anyhow::Result<Vec<u8>> {
    match common.indent {
        None => Ok(bytes),
        Some(n) => sops::reindent(&bytes, format, n).map_err(|e| sops_err(e, file)),
    }
}

fn write_stdout(chunks: &[Vec<u8>]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    for c in chunks {
        out.write_all(c)?;
    }
    out.flush()?;
    Ok(())
}

/// Reports an in-place change (stderr, or a JSON line per file on stdout with `-o json`).
fn report_written(
    g: &super::GlobalArgs,
    rep: &mut Reporter,
    file: &Path,
    changed: bool,
    what: &str,
) -> anyhow::Result<()> {
    if g.output == OutputFormat::Json {
        super::output::print_json(
            &serde_json::json!({ "file": file, "changed": changed, "action": what }),
        )?;
    } else if changed {
        rep.success(&format!("{what} {}", file.display()));
    } else {
        rep.up_to_date(&format!("{} unchanged", file.display()));
    }
    Ok(())
}

/// An extracted value as sops prints it (see [`sops::emit_extracted`]).
fn extract(content: &Content, format: Format, path: &str, file: &Path) -> anyhow::Result<Vec<u8>> {
    let tree_err = |message: String| tree_path_err(file, path, message);
    let steps = treepath::parse(path).map_err(tree_err)?;
    let Content::Tree(t) = content else {
        return Err(tree_err("a binary file has no paths".into()));
    };
    let v = t
        .docs
        .first()
        .and_then(|d| treepath::get(d, &steps))
        .ok_or_else(|| tree_err("no value at this path".into()))?;
    sops::emit_extracted(v, format).map_err(|e| sops_err(e, file))
}

/// Parses a JSON value for `set` (numbers become floats, as in sops).
fn json_value(text: &str) -> anyhow::Result<sops::Value> {
    let wrapped = format!("{{\"v\": {text}}}");
    let t = sops::store::json::parse(wrapped.as_bytes()).map_err(|_| UsageError {
        message: format!("`{text}` is not a JSON value"),
        help: Some(
            "quote strings as JSON: '\"text\"'; numbers, true/false, null, [..] and {..} work too"
                .into(),
        ),
    })?;
    let v = t.docs[0].get("v").cloned().unwrap_or(sops::Value::Null);
    // sops loads a structured value as a JSON *file*, whose top level must be an object.
    if matches!(v, sops::Value::List(_)) {
        return Err(UsageError {
            message: format!("`{text}` is a list; sops' set takes a scalar or an object"),
            help: Some(
                "set the items one by one ('[\"key\"][0]'), or wrap the list in an object".into(),
            ),
        }
        .into());
    }
    Ok(v)
}

fn editor_command() -> String {
    std::env::var("SOPS_EDITOR")
        .or_else(|_| std::env::var("EDITOR"))
        .unwrap_or_else(|_| "vi".to_owned())
}

/// sops' exit code when `edit` leaves the file as it was (`codes.FileHasNotBeenModified`).
const EXIT_NOT_MODIFIED: u8 = 200;

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
    let mut rep = Reporter::new(g);
    match cli.command {
        Sub::Decrypt {
            files,
            extract: path,
            ignore_mac,
            out,
            common,
        } => {
            one_output(g, &files, &out)?;
            let ids = identities(&common, &super::repo_root(g))?;
            if ignore_mac {
                rep.warn(
                    "--ignore-mac: the MAC is NOT checked; a tampered file decrypts without error",
                );
            }
            let mut outs = Vec::new();
            for file in &files {
                let (input, output) = formats(&common, file);
                let enc = read(file)?;
                let opened =
                    sops::open_for_reading(&enc, input, &ids, sops::DecryptOptions { ignore_mac })
                        .map_err(|e| sops_err(e, file))?;
                let bytes = match &path {
                    Some(p) => extract(&opened.content, output, p, file)?,
                    None => indented(
                        &common,
                        sops::emit_plain(&opened.content, output).map_err(|e| sops_err(e, file))?,
                        output,
                        file,
                    )?,
                };
                outs.push(bytes);
            }
            deliver(g, &mut rep, &files, &outs, &out, "decrypted")?;
        }
        Sub::Encrypt {
            files,
            out,
            rules: flags,
            common,
        } => {
            one_output(g, &files, &out)?;
            let env = super::env(&mut rep)?;
            let mut outs = Vec::new();
            for file in &files {
                let (input, output) = formats(&common, file);
                let opts = encrypt_options(&common, &flags, file)?;
                let plain = zeroize::Zeroizing::new(read(file)?);
                let content = sops::load_plain(&plain, input).map_err(|e| sops_err(e, file))?;
                let enc = sops::encrypt_content(&env, &content, output, &opts)
                    .map_err(|e| sops_err(e, file))?;
                outs.push(indented(&common, enc, output, file)?);
            }
            deliver(g, &mut rep, &files, &outs, &out, "encrypted")?;
        }
        Sub::Edit {
            file,
            ignore_mac,
            show_master_keys: _,
            common,
        } => {
            let env = super::env(&mut rep)?;
            let ids = identities(&common, &super::repo_root(g))?;
            let (format, _) = formats(&common, &file);
            let enc = read(&file)?;
            if ignore_mac {
                rep.warn("--ignore-mac: the MAC is NOT checked");
            }
            let opened = sops::open(&enc, format, &ids, sops::DecryptOptions { ignore_mac })
                .map_err(|e| sops_err(e, &file))?;
            let plain = zeroize::Zeroizing::new(
                sops::emit_plain(&opened.content, format).map_err(|e| sops_err(e, &file))?,
            );
            // A private directory (0700) holds the plaintext only while the editor runs;
            // signals are caught first so an interrupt removes it before mcb exits.
            let signals = super::interrupt::Guard::install();
            let dir = tempfile::Builder::new()
                .prefix("mcb-edit-")
                .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
                .tempdir()
                .context("cannot create a temporary directory")?;
            let name = file
                .file_name()
                .map(|n| n.to_owned())
                .unwrap_or_else(|| "file".into());
            let tmp = dir.path().join(name);
            mcb::fsutil::write_atomic(&tmp, &plain, Some(0o600))?;
            let editor = editor_command();
            let mut child = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("{editor} \"$1\""))
                .arg("sh")
                .arg(&tmp)
                .spawn()
                .with_context(|| format!("cannot start the editor `{editor}`"))?;
            let status = match signals.wait(&mut child)? {
                Ok(status) => status,
                Err(sig) => {
                    drop(dir);
                    anyhow::bail!(
                        "interrupted (signal {sig}): the temporary plaintext was removed and {} was not changed",
                        file.display()
                    );
                }
            };
            if !status.success() {
                anyhow::bail!(
                    "the editor `{editor}` failed ({status}); {} was not changed",
                    file.display()
                );
            }
            let edited = zeroize::Zeroizing::new(read(&tmp)?);
            if edited[..] == plain[..] {
                // sops exits 200 here; scripts that wrap an editor rely on it (issue 21 D12).
                report_written(g, &mut rep, &file, false, "edited")?;
                return Ok(ExitCode::from(EXIT_NOT_MODIFIED));
            }
            let content = sops::load_plain(&edited, format).map_err(|e| sops_err(e, &file))?;
            let out = sops::write_back(&env, &enc, &opened, &content, format)
                .map_err(|e| sops_err(e, &file))?;
            write_in_place(&file, &out)?;
            report_written(g, &mut rep, &file, out != enc, "edited")?;
        }
        Sub::Updatekeys {
            files,
            yes,
            shamir_secret_sharing_threshold,
            common,
        } => {
            let env = super::env(&mut rep)?;
            let ids = identities(&common, &super::repo_root(g))?;
            for file in &files {
                let (format, _) = formats(&common, file);
                let enc = read(file)?;
                let mut opts = rule_options(&common, file)?.ok_or_else(|| UsageError {
                    message: "updatekeys needs a .sops.yaml with a creation rule for the file"
                        .into(),
                    help: Some(
                        "run it from inside the repository that holds .sops.yaml, or pass --config"
                            .into(),
                    ),
                })?;
                // As sops: the threshold comes from the flag or the file, never the rule (D5).
                opts.shamir_threshold = shamir_secret_sharing_threshold.unwrap_or(0);
                let info = sops::inspect(&enc, format).map_err(|e| sops_err(e, file))?;
                if info.recipients == opts.key_groups {
                    report_written(g, &mut rep, file, false, "updated keys of")?;
                    continue;
                }
                if !yes
                    && !confirm(&format!(
                        "{}: recipients {:?} -> {:?}. Apply?",
                        file.display(),
                        info.recipients,
                        opts.key_groups
                    ))?
                {
                    rep.warn(&format!("{}: left unchanged", file.display()));
                    continue;
                }
                let out = sops::updatekeys(&env, &enc, format, &ids, &opts)
                    .map_err(|e| sops_err(e, file))?;
                write_in_place(file, &out)?;
                report_written(g, &mut rep, file, true, "updated keys of")?;
            }
        }
        Sub::Rotate {
            files,
            out,
            add_age,
            rm_age,
            common,
        } => {
            one_output(g, &files, &out)?;
            let env = super::env(&mut rep)?;
            let ids = identities(&common, &super::repo_root(g))?;
            let add = add_age
                .as_deref()
                .map(rules::split_recipients)
                .unwrap_or_default();
            let rm = rm_age
                .as_deref()
                .map(rules::split_recipients)
                .unwrap_or_default();
            let mut outs = Vec::new();
            for file in &files {
                let (format, _) = formats(&common, file);
                let enc = read(file)?;
                let rotated = sops::rotate_with(&env, &enc, format, &ids, &add, &rm)
                    .map_err(|e| sops_err(e, file))?;
                outs.push(indented(&common, rotated, format, file)?);
            }
            deliver(g, &mut rep, &files, &outs, &out, "rotated")?;
        }
        Sub::Set {
            file,
            path,
            value,
            value_file,
            value_stdin,
            idempotent: _,
            ignore_mac,
            shamir_secret_sharing_threshold: _,
            common,
        } => {
            let text = set_value_text(value, value_file, value_stdin)?;
            let v = json_value(&text)?;
            // Unchanged content leaves the file byte-identical, so --idempotent is the default.
            change_tree(
                g,
                &mut rep,
                &file,
                &common,
                &path,
                "set",
                ignore_mac,
                |doc, steps| treepath::set(doc, steps, v),
            )?;
        }
        Sub::Unset {
            file,
            path,
            idempotent,
            ignore_mac,
            common,
        } => {
            change_tree(
                g,
                &mut rep,
                &file,
                &common,
                &path,
                "unset",
                ignore_mac,
                |doc, steps| {
                    if idempotent && treepath::get(doc, steps).is_none() {
                        return Ok(());
                    }
                    treepath::unset(doc, steps)
                },
            )?;
        }
        Sub::Status { files, common } => {
            let mut all = Vec::new();
            for file in &files {
                let (format, _) = formats(&common, file);
                let info = sops::inspect(&read(file)?, format).map_err(|e| sops_err(e, file))?;
                all.push((file.clone(), info));
            }
            print_status(g, &all)?;
            if all.iter().any(|(_, i)| !i.fully_encrypted()) {
                return Ok(ExitCode::from(1));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The JSON text `set` writes: the argument, the file it names (`--value-file`), or stdin.
fn set_value_text(
    value: Option<String>,
    from_file: bool,
    from_stdin: bool,
) -> anyhow::Result<String> {
    if from_stdin {
        let mut text = String::new();
        std::io::stdin()
            .lock()
            .read_to_string(&mut text)
            .context("cannot read the value from stdin")?;
        return Ok(text);
    }
    let value = value.unwrap_or_default();
    if from_file {
        let bytes = read(Path::new(&value))?;
        return String::from_utf8(bytes).map_err(|_| {
            anyhow::Error::new(UsageError {
                message: format!("{value}: the value file is not UTF-8 text"),
                help: Some("write the value as JSON text".into()),
            })
        });
    }
    Ok(value)
}

/// Decrypts, applies `f` to the first document, writes back in place (sops `set`/`unset`).
#[allow(clippy::too_many_arguments)]
fn change_tree(
    g: &super::GlobalArgs,
    rep: &mut Reporter,
    file: &Path,
    common: &Common,
    path: &str,
    what: &str,
    ignore_mac: bool,
    f: impl FnOnce(&mut sops::Branch, &[treepath::Step]) -> Result<(), String>,
) -> anyhow::Result<()> {
    let env = super::env(rep)?;
    let ids = identities(common, &super::repo_root(g))?;
    let (format, _) = formats(common, file);
    let tree_err = |message: String| tree_path_err(file, path, message);
    let steps = treepath::parse(path).map_err(tree_err)?;
    let enc = read(file)?;
    let opened = sops::open(&enc, format, &ids, sops::DecryptOptions { ignore_mac })
        .map_err(|e| sops_err(e, file))?;
    let Content::Tree(mut t) = opened.content.clone() else {
        return Err(tree_err("a binary file has no paths".into()));
    };
    if t.docs.is_empty() {
        t.docs.push(sops::Branch::default());
    }
    f(&mut t.docs[0], &steps).map_err(tree_err)?;
    let out = sops::write_back(&env, &enc, &opened, &Content::Tree(t), format)
        .map_err(|e| sops_err(e, file))?;
    let changed = out != enc;
    if changed {
        write_in_place(file, &out)?;
    }
    report_written(g, rep, file, changed, what)
}

fn confirm(question: &str) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        return Err(UsageError {
            message: "updatekeys would change recipients and needs confirmation".into(),
            help: Some("pass -y to apply without asking".into()),
        }
        .into());
    }
    eprint!("{question} [y/N] ");
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .take(64)
        .read_to_string(&mut answer)
        .ok();
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

fn rule_text(rule: &Option<CryptRule>) -> String {
    match rule {
        None => "none (binary)".into(),
        Some(r) => {
            let (k, v) = sops::metadata::rule_field(r);
            format!("{k}: {v}")
        }
    }
}

fn print_status(g: &super::GlobalArgs, all: &[(PathBuf, sops::FileInfo)]) -> anyhow::Result<()> {
    if g.output == OutputFormat::Json {
        let list: Vec<_> = all
            .iter()
            .map(|(f, i)| {
                serde_json::json!({
                    "file": f,
                    "recipients": i.recipients,
                    "shamirThreshold": i.shamir_threshold,
                    "lastmodified": i.lastmodified,
                    "version": i.version,
                    "rule": rule_text(&i.rule),
                    "macOnlyEncrypted": i.mac_only_encrypted,
                    "fullyEncrypted": i.fully_encrypted(),
                    "clearValues": i.clear_values,
                })
            })
            .collect();
        return super::output::print_json(&list);
    }
    let mut out = std::io::stdout().lock();
    for (f, i) in all {
        writeln!(out, "{}:", f.display())?;
        for (n, g) in i.recipients.iter().enumerate() {
            writeln!(out, "  key group {n}: {}", g.join(", "))?;
        }
        writeln!(out, "  rule: {}", rule_text(&i.rule))?;
        writeln!(
            out,
            "  lastmodified: {}  version: {}",
            i.lastmodified, i.version
        )?;
        if i.fully_encrypted() {
            writeln!(out, "  encrypted: yes")?;
        } else {
            writeln!(
                out,
                "  encrypted: NO, clear values at {}",
                i.clear_values.join(", ")
            )?;
        }
    }
    Ok(())
}
