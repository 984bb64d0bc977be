//! `mcb secrets updatekeys` and `mcb secrets rotate`: the data key re-wrapped for the
//! current recipients, or replaced by a new one.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;

use mcb::progress::Progress;
use mcb::sops::{self, rules};

use super::flags::{formats, identities, rule_options, Common, OutFlags};
use super::io::{deliver, indented, one_output, read, report_written, sops_err, write_in_place};
use crate::cli::{GlobalArgs, Reporter, UsageError};

/// `mcb secrets updatekeys`.
#[derive(Debug, clap::Args)]
pub struct UpdatekeysArgs {
    /// Encrypted files
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Do not ask for confirmation
    #[arg(short, long)]
    pub yes: bool,
    /// Shares needed to recover the data key when there are several key groups
    #[arg(long, value_name = "N")]
    pub shamir_secret_sharing_threshold: Option<usize>,
    #[command(flatten, next_help_heading = "Keys, config and formats")]
    pub common: Common,
}

/// `mcb secrets rotate`.
#[derive(Debug, clap::Args)]
pub struct RotateArgs {
    /// Encrypted files
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub out: OutFlags,
    /// Add these age recipients (comma-separated) to the first key group
    #[arg(long, value_name = "R,...")]
    pub add_age: Option<String>,
    /// Remove these age recipients (comma-separated) from every key group
    #[arg(long, value_name = "R,...")]
    pub rm_age: Option<String>,
    #[command(flatten, next_help_heading = "Keys, config and formats")]
    pub common: Common,
}

pub(super) fn updatekeys(
    g: &GlobalArgs,
    rep: &mut Reporter,
    a: UpdatekeysArgs,
) -> anyhow::Result<()> {
    let UpdatekeysArgs {
        files,
        yes,
        shamir_secret_sharing_threshold,
        common,
    } = a;
    let env = crate::cli::env(rep)?;
    let ids = identities(&common, &crate::cli::repo_root(g))?;
    for file in &files {
        let (format, _) = formats(&common, file);
        let enc = read(file)?;
        let mut opts = rule_options(&common, file)?.ok_or_else(|| UsageError {
            message: "updatekeys needs a .sops.yaml with a creation rule for the file".into(),
            help: Some(
                "run it from inside the repository that holds .sops.yaml, or pass --config".into(),
            ),
        })?;
        // As sops: the threshold comes from the flag or the file, never the rule (D5).
        opts.shamir_threshold = shamir_secret_sharing_threshold.unwrap_or(0);
        let info = sops::inspect(&enc, format).map_err(|e| sops_err(e, file))?;
        if info.recipients == opts.key_groups {
            report_written(g, rep, file, false, "updated keys of")?;
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
        let out =
            sops::updatekeys(&env, &enc, format, &ids, &opts).map_err(|e| sops_err(e, file))?;
        write_in_place(file, &out)?;
        report_written(g, rep, file, true, "updated keys of")?;
    }
    Ok(())
}

pub(super) fn rotate(g: &GlobalArgs, rep: &mut Reporter, a: RotateArgs) -> anyhow::Result<()> {
    let RotateArgs {
        files,
        out,
        add_age,
        rm_age,
        common,
    } = a;
    one_output(g, &files, &out)?;
    let env = crate::cli::env(rep)?;
    let ids = identities(&common, &crate::cli::repo_root(g))?;
    let recipients = |r: Option<String>| {
        r.as_deref()
            .map(rules::split_recipients)
            .unwrap_or_default()
    };
    let (add, rm) = (recipients(add_age), recipients(rm_age));
    let mut outs = Vec::new();
    for file in &files {
        let (format, _) = formats(&common, file);
        let enc = read(file)?;
        let rotated = sops::rotate_with(&env, &enc, format, &ids, &add, &rm)
            .map_err(|e| sops_err(e, file))?;
        outs.push(indented(&common, rotated, format, file)?);
    }
    deliver(g, rep, &files, &outs, &out, "rotated")
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
