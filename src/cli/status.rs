//! `mcb status [NAME...]`: the credential inventory of each installation as a table or JSON.

use std::process::ExitCode;

use super::{GlobalArgs, OutputFormat, Reporter};

pub const LONG_ABOUT: &str = "\
Show every credential of each installation (or the NAMEs given): kind, id, fingerprint,
expiry, days left and when it was last rotated, plus the CA rotation phase. Reads only
installations/<name>/credentials.yaml, which holds no secret, so no key is needed.

Also lists each Dex connector and whether its client secret is in the repo (the key in
dex-connectors or in its shared secret; key names only, no value is read).

`-o json` prints [{name, caRotationPhase, credentials: [{kind, id, fingerprint, notAfter,
daysLeft, lastRotated, rotationPhase}], connectors: [{id, file, key, source, present}]}];
absent values are null.

Examples:
  mcb status
  mcb status prod-eu
  mcb status -o json | jq '.[].credentials[] | select(.daysLeft != null and .daysLeft < 30)'";

/// `mcb status`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Installations to show [default: all]
    #[arg(value_name = "NAME", value_parser = super::name_arg, add = super::completions::installations())]
    pub names: Vec<String>,
}

pub fn run(g: &GlobalArgs, a: Args) -> anyhow::Result<ExitCode> {
    let mut reporter = Reporter::new(g);
    let env = super::env(&mut reporter)?;
    let root = super::repo_root(g);
    let all = mcb::ops::status::collect(&root, &a.names, env.now())?;
    if g.output == OutputFormat::Json {
        super::output::print_json(&all)?;
        return Ok(ExitCode::SUCCESS);
    }
    for (i, s) in all.iter().enumerate() {
        if i > 0 {
            outln!("");
        }
        outln!(
            "installation {} (CA rotation: {})",
            s.name,
            s.ca_rotation_phase
        );
        let mut rows = vec![[
            "KIND",
            "ID",
            "FINGERPRINT",
            "NOT AFTER",
            "DAYS LEFT",
            "LAST ROTATED",
        ]
        .map(String::from)];
        for c in &s.credentials {
            rows.push([
                c.kind.clone(),
                c.id.clone(),
                short(&c.fingerprint),
                c.not_after.clone().unwrap_or_else(|| "-".into()),
                c.days_left.map_or_else(|| "-".into(), |d| d.to_string()),
                c.last_rotated.clone(),
            ]);
        }
        print_connectors(&s.connectors)?;
        if s.credentials.is_empty() {
            outln!("  no credentials recorded");
            continue;
        }
        let widths: Vec<usize> = (0..6)
            .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
            .collect();
        for r in rows {
            let line: Vec<String> = r
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            outln!("  {}", line.join("  ").trim_end());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One line per Dex connector: where its client secret is kept, or that it is missing.
fn print_connectors(connectors: &[mcb::check::dex::ConnectorSecret]) -> std::io::Result<()> {
    for c in connectors {
        let state = if c.present {
            "secret present"
        } else {
            "SECRET MISSING"
        };
        outln!(
            "  dex connector {}: {state} ({} key {})",
            c.id,
            c.file,
            c.key
        );
    }
    Ok(())
}

/// `sha256:0123456789ab…`: enough to compare by eye; JSON has the whole value.
fn short(fp: &str) -> String {
    match fp.char_indices().nth(19) {
        Some((i, _)) => format!("{}…", &fp[..i]),
        None => fp.to_owned(),
    }
}
