//! `mcb secrets encrypt`: plaintext files encrypted for the recipients of the flags,
//! SOPS_AGE_RECIPIENTS or the matching `.sops.yaml` rule.

use std::path::PathBuf;

use mcb::sops;

use super::flags::{encrypt_options, formats, Common, OutFlags, RuleFlags};
use super::io::{deliver, indented, one_output, read, sops_err};
use crate::cli::{GlobalArgs, Reporter};

/// `mcb secrets encrypt`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Plaintext files
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub out: OutFlags,
    #[command(
        flatten,
        next_help_heading = "Recipients and rules (default: .sops.yaml)"
    )]
    pub rules: RuleFlags,
    #[command(flatten, next_help_heading = "Keys, config and formats")]
    pub common: Common,
}

pub(super) fn run(g: &GlobalArgs, rep: &mut Reporter, a: Args) -> anyhow::Result<()> {
    let Args {
        files,
        out,
        rules: flags,
        common,
    } = a;
    one_output(g, &files, &out)?;
    let env = crate::cli::env(rep)?;
    let mut outs = Vec::new();
    for file in &files {
        let (input, output) = formats(&common, file);
        let opts = encrypt_options(&common, &flags, file)?;
        let plain = zeroize::Zeroizing::new(read(file)?);
        let content = sops::load_plain(&plain, input).map_err(|e| sops_err(e, file))?;
        let enc =
            sops::encrypt_content(&env, &content, output, &opts).map_err(|e| sops_err(e, file))?;
        outs.push(indented(&common, enc, output, file)?);
    }
    deliver(g, rep, &files, &outs, &out, "encrypted")
}
