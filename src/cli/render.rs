//! `mcb render [NAME...] [--check | --diff]`: re-render installations' manifests from their
//! specs and templates.

use std::path::PathBuf;
use std::process::ExitCode;

use mcb::ops::shared::RenderExtra;
use mcb::progress::Progress;
use mcb::render::{NoSecrets, SecretSource};
use mcb::repo::seal::SopsSealer;
use mcb::repo::Change;

use super::output::{print_json, OutputFormat, Reporter};

pub const LONG_ABOUT: &str = "\
Render installations/<name>/manifests/ (and secrets/kustomization.yaml) from each
installation's spec and the templates: mcb's built-in ones, overridden by path by the
config repo's own templates/ directory. Also regenerates .sops.yaml, places each shared
secret an installation lists in `sharedSecrets` at
installations/<name>/secrets/shared/<secret>.sops.yaml, and re-wraps shared files whose
recipients changed (values untouched). Reading shared secrets needs an admin age key
(--age-key-file or SOPS_AGE_KEY*). Rendering is deterministic: same spec and
templates, same bytes. Files mcb no longer produces are removed from manifests/ (and only
there). Secret values are never written in clear.

With --check nothing is written; the command prints a unified diff of what would change
and exits 1 if the repo is not up to date (use it in CI). --diff prints the same diff and
exits 0.

Examples:
  mcb render                    render every installation
  mcb render gauss              render one
  mcb render --check            CI: fail on drift between specs and manifests
  mcb render gauss --diff       show what would change
  mcb render -o json            list changed files as JSON";

/// `mcb render`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Installations to render [default: all under installations/]
    #[arg(value_name = "NAME", value_parser = super::name_arg, add = super::completions::installations())]
    pub names: Vec<String>,

    /// Write nothing; print the diff and exit 1 if anything would change
    #[arg(long, conflicts_with = "diff")]
    pub check: bool,

    /// Write nothing; print the diff
    #[arg(long)]
    pub diff: bool,

    /// An age identity file to try first (besides SOPS_AGE_KEY* and the default keys.txt);
    /// needed to read shared secrets and keep existing secret files unchanged
    #[arg(value_parser = super::path_arg, long, value_name = "FILE")]
    pub age_key_file: Option<PathBuf>,
}

/// `-o json` output: `{"changes": [{"path", "change", "secret"}], "written": bool}`.
#[derive(serde::Serialize)]
struct JsonOut<'a> {
    /// every file that differs, in path order
    changes: Vec<JsonChange<'a>>,
    /// whether the files were written (false with --check/--diff)
    written: bool,
}

#[derive(serde::Serialize)]
struct JsonChange<'a> {
    path: &'a str,
    change: Change,
    secret: bool,
}

pub fn run(g: &super::GlobalArgs, a: Args) -> anyhow::Result<ExitCode> {
    let mut reporter = Reporter::new(g);
    let env = super::env(&mut reporter)?;
    let root = super::repo_root(g);
    // In the wrong directory, say so before anything (not an invalid .sops.yaml).
    mcb::repo::require_installations(&root)?;
    let source = |_: &str| -> Box<dyn SecretSource> { Box::new(NoSecrets) };
    let ids = mcb::ops::identity::lookup_any(a.age_key_file.as_deref(), &root)?;
    let all = mcb::repo::installation::load_all(&root)?;
    for w in all
        .iter()
        .filter_map(|l| mcb::spec::placeholder_warning(&l.spec))
    {
        reporter.warn(&w);
    }
    let extra = RenderExtra::load(&root, &all, &ids)?;
    let sealer = SopsSealer::new(&env, &root, extra.sops_yaml(), &ids)?;
    let plan = mcb::render::plan_repo(&root, &a.names, &source, &sealer, &extra, &mut reporter)?;
    let dry = a.check || a.diff;
    let written = !dry && !plan.is_clean();
    if written {
        plan.apply()?;
    }
    match g.output {
        OutputFormat::Json => print_json(&JsonOut {
            changes: plan
                .changes()
                .map(|e| JsonChange {
                    path: &e.path,
                    change: e.change,
                    secret: e.secret,
                })
                .collect(),
            written,
        })?,
        OutputFormat::Human | OutputFormat::Sarif if dry => out!("{}", plan.diff()),
        OutputFormat::Human | OutputFormat::Sarif => {
            for e in plan.changes() {
                outln!("{:?}: {}", e.change, e.path);
            }
        }
    }
    if plan.is_clean() {
        reporter.up_to_date("manifests are up to date");
    } else if a.check {
        reporter.warn(&format!(
            "{} file(s) differ from the specs: run `mcb render`",
            plan.changes().count()
        ));
        return Ok(ExitCode::from(1));
    } else if written {
        reporter.success(&format!("wrote {} file(s)", plan.changes().count()));
    }
    Ok(ExitCode::SUCCESS)
}
