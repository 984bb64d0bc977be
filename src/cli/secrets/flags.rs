//! The flags the `mcb secrets` subcommands share (sops' global options, outputs, crypt
//! rules) and what they resolve to: formats, identities, `.sops.yaml` rule options.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use mcb::sops::{self, rules, CryptRule, EncryptOptions, Format, Identities};

use super::io::sops_err;
use crate::cli::UsageError;

/// Flags every secrets subcommand takes (sops' global options, and mcb's key file).
#[derive(Debug, clap::Args, Clone, Default)]
pub struct Common {
    /// An age identity file to try first (besides SOPS_AGE_KEY* and the default keys.txt)
    #[arg(value_parser = super::super::path_arg, long, value_name = "FILE")]
    pub age_key_file: Option<PathBuf>,
    /// The .sops.yaml to use [default: searched from the current directory upwards]
    #[arg(value_parser = super::super::path_arg, long, value_name = "FILE", env = "SOPS_CONFIG")]
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
    #[arg(value_parser = super::super::path_arg, long, value_name = "FILE")]
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

/// The name that picks the format and the `.sops.yaml` rule (`--filename-override`).
fn named<'a>(common: &'a Common, file: &'a Path) -> &'a Path {
    common.filename_override.as_deref().unwrap_or(file)
}

pub(super) fn formats(common: &Common, file: &Path) -> (Format, Format) {
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
pub(super) fn identities(common: &Common, root: &Path) -> anyhow::Result<Identities> {
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
pub(super) fn rule_options(common: &Common, file: &Path) -> anyhow::Result<Option<EncryptOptions>> {
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
pub(super) fn encrypt_options(
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
