//! `mcb secrets status`: each file's recipients, rule and whether every value that must
//! be is encrypted (no key needed); exit 1 when one is not.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use mcb::sops::{self, CryptRule};

use super::flags::{formats, Common};
use super::io::{read, sops_err};
use crate::cli::{GlobalArgs, OutputFormat};

/// `mcb secrets status`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Encrypted files
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    #[command(flatten, next_help_heading = "Keys, config and formats")]
    pub common: Common,
}

pub(super) fn run(g: &GlobalArgs, a: Args) -> anyhow::Result<ExitCode> {
    let mut all = Vec::new();
    for file in &a.files {
        let (format, _) = formats(&a.common, file);
        let info = sops::inspect(&read(file)?, format).map_err(|e| sops_err(e, file))?;
        all.push((file.clone(), info));
    }
    print_status(g, &all)?;
    Ok(if all.iter().any(|(_, i)| !i.fully_encrypted()) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
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

fn print_status(g: &GlobalArgs, all: &[(PathBuf, sops::FileInfo)]) -> anyhow::Result<()> {
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
        return crate::cli::output::print_json(&list);
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
