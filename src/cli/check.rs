//! `mcb check [NAME...]`: the config repo's CI gate. Resolves flags into
//! [`mcb::check::Options`], runs the checks and prints the report (human, JSON or SARIF).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde::Serialize;

use super::{GlobalArgs, OutputFormat, Reporter};
use mcb::check::{Report, Severity};

pub const LONG_ABOUT: &str = "\
Check the config repo the way CI should on every pull request. For every installation (or
the NAMEs given), it reports:

  plaintext-secret   a Kubernetes Secret outside a SOPS file, a PEM private key, age secret
                     key, GitHub token or kubeconfig client key in clear text, or a value a
                     SOPS file's own rule says must be encrypted but is not
  sops-invalid       SOPS metadata missing or malformed; an unreadable .sops.yaml
  sops-mac           no MAC; with --age-key-file, a MAC that does not match the content
  sops-recipients    age recipients differ from those the file's .sops.yaml rule names
  spec-invalid       installation.yaml does not validate
  render-drift       manifests or .sops.yaml differ from what the specs render to (`mcb render`)
  shared-unknown     a spec uses a shared secret that shared/secrets/ does not have
  cert-expired       a certificate or credential has expired (error)
  cert-expiring      ... or expires within --warn-within (warning)
  inventory-invalid  credentials.yaml does not parse
  kustomize-build    a kustomization does not build: checked natively (resources exist, no
                     cycles, unique objects, generator files, patch targets); kubectl
                     kustomize builds only what uses other features (a warning without it)
  capi-secret-name   a Cluster API secret's name, label or namespace does not match its
                     cluster, so Cluster API would ignore it and make its own CA

Without a key it checks structure, recipients and plaintext; MACs need the data key: with
an identity (--age-key-file, SOPS_AGE_KEY*, ~/.config/mcb/keys/NAME.agekey or sops'
keys.txt) it checks them too (and certificates inside encrypted secrets).

--changed-since REF (pull requests): only the installations a change since REF affects;
the others are named as unchanged and not checked.

Files: in a git checkout, tracked files plus untracked files git does not ignore; paths in
.mcbignore (one per line, `dir/` for a directory, no globs) are left out of every check.

Output: grouped by installation, one `file:line: rule: message` per finding. `-o json`
prints {ok, errors, warnings, installations, files, sopsFiles, macChecked, skipped,
findings: [{installation, file, line, rule, severity, message}]} (docs/json.md); `-o sarif` prints
SARIF 2.1.0 for code scanning. Exit 1 if any error was found (or any warning with
--strict), 0 otherwise, 2 if the check could not run.

Examples:
  mcb check
  mcb check prod-eu --age-key-file ~/.config/mcb/prod-eu.agekey
  mcb check -o json | jq '.findings[] | select(.rule == \"cert-expiring\")'
  mcb check -o sarif > mcb-check.sarif
  mcb check --changed-since origin/main
  mcb check --warn-within 60d --strict --skip kustomize-build";

/// `mcb check`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Installations to check [default: all]
    #[arg(value_name = "NAME", value_parser = super::name_arg, add = super::completions::installations())]
    pub names: Vec<String>,

    /// Warn about certificates and credentials expiring within this time (`30d`, `12h`, `2w`)
    #[arg(long, value_name = "DURATION", default_value = "30d", value_parser = parse_duration)]
    pub warn_within: time::Duration,

    /// age identity file: also verify MACs and check certificates inside secrets
    /// [default: SOPS_AGE_KEY*, ~/.config/mcb/keys/NAME.agekey, sops' keys.txt, if any]
    #[arg(value_parser = super::path_arg, long, value_name = "FILE")]
    pub age_key_file: Option<PathBuf>,

    /// The old name of -o (kept so existing CI jobs work): -o sarif, -o json
    #[arg(long, value_enum, value_name = "FORMAT", hide = true)]
    pub format: Option<CheckFormat>,

    /// Fail on warnings too
    #[arg(long)]
    pub strict: bool,

    /// Rule to leave out (repeatable), e.g. `kustomize-build`
    #[arg(long, value_enum, value_name = "RULE")]
    pub skip: Vec<mcb::check::Rule>,

    /// kubectl for kustomize builds [default: kubectl on PATH]
    #[arg(long, value_name = "PATH")]
    pub kubectl: Option<PathBuf>,

    /// Check only the installations a change since this git revision affects (their files,
    /// or templates, vendor/, .mcbignore, a shared secret they use, a .sops.yaml rule for
    /// their files); the rest are listed as unchanged. For pull requests: `origin/main`
    #[arg(long, value_name = "REF")]
    pub changed_since: Option<String>,

    /// Let kustomize fetch remote resources (URLs, git repos) while building. Off by
    /// default: check runs offline, and a kustomization with a remote resource is reported
    /// as not built
    #[arg(long)]
    pub allow_remote: bool,
}

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CheckFormat {
    /// text for people, grouped by installation
    Human,
    /// the report as one JSON document
    Json,
    /// SARIF 2.1.0 for code scanning
    Sarif,
}

/// `-o json`: the report plus the verdict.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonReport<'a> {
    ok: bool,
    errors: usize,
    warnings: usize,
    #[serde(flatten)]
    report: &'a Report,
}

/// Parses `30d`, `12h`, `2w`, `90m`.
pub fn parse_duration(s: &str) -> Result<time::Duration, String> {
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = num
        .parse()
        .map_err(|_| format!("`{s}`: expected a number and a unit, like 30d"))?;
    match unit {
        "w" => Ok(time::Duration::weeks(n)),
        "d" => Ok(time::Duration::days(n)),
        "h" => Ok(time::Duration::hours(n)),
        "m" => Ok(time::Duration::minutes(n)),
        _ => Err(format!("`{s}`: unit must be w, d, h or m (e.g. 30d)")),
    }
}

/// libgit2 reads every system CA certificate when it starts (a fifth of a `--changed-since`
/// check's CPU), for HTTPS that check never does through it: it only reads the local
/// repository. So it starts here with none, while this process has one thread, and the
/// variables are put back at once (kubectl gets the user's).
#[cfg(unix)]
fn start_libgit2_without_ca_certificates() {
    const VARS: [&str; 2] = ["SSL_CERT_FILE", "SSL_CERT_DIR"];
    let saved = VARS.map(std::env::var_os);
    for v in VARS {
        std::env::set_var(v, "/dev/null");
    }
    // Any git2 call starts libgit2, once per process; caching is on by default.
    git2::opts::enable_caching(true);
    for (v, old) in VARS.into_iter().zip(saved) {
        match old {
            Some(old) => std::env::set_var(v, old),
            None => std::env::remove_var(v),
        }
    }
}

pub fn run(g: &GlobalArgs, a: Args) -> anyhow::Result<ExitCode> {
    #[cfg(unix)]
    start_libgit2_without_ca_certificates();
    let mut reporter = Reporter::new(g);
    let env = super::env(&mut reporter)?;
    let root = super::repo_root(g);
    let from_o = match g.output {
        OutputFormat::Human => CheckFormat::Human,
        OutputFormat::Json => CheckFormat::Json,
        OutputFormat::Sarif => CheckFormat::Sarif,
    };
    // `--format` is the old spelling of `-o`: one flag for one concept, so two answers clash.
    if a.format
        .is_some_and(|f| g.output != OutputFormat::Human && f != from_o)
    {
        return Err(super::UsageError {
            message: "-o and --format disagree".into(),
            help: Some(
                "give the format once, with -o human|json|sarif (--format is its old name)".into(),
            ),
        }
        .into());
    }
    let format = a.format.unwrap_or(from_o);
    let opener = opener(&root, a.age_key_file.as_deref(), &a.names)?;
    let kubectl = a.kubectl.clone().or_else(|| find_on_path("kubectl"));
    let opts = mcb::check::Options {
        names: a.names,
        warn_within: a.warn_within,
        opener,
        kubectl,
        allow_remote: a.allow_remote,
        skip: a.skip.into_iter().collect(),
        changed_since: a.changed_since,
    };
    let report = mcb::check::run(&root, &opts, env.now(), &mut reporter)?;
    match format {
        CheckFormat::Human => print_human(&report)?,
        CheckFormat::Json => super::output::print_json(&JsonReport {
            ok: !report.failed(a.strict),
            errors: report.errors(),
            warnings: report.warnings(),
            report: &report,
        })?,
        CheckFormat::Sarif => super::output::print_json(&mcb::check::sarif::to_sarif(&report))?,
    }
    Ok(if report.failed(a.strict) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn print_human(report: &Report) -> std::io::Result<()> {
    let mut group: Option<Option<&str>> = None;
    for f in &report.findings {
        let inst = f.installation.as_deref();
        if group != Some(inst) {
            match inst {
                Some(n) => outln!("installation {n}:"),
                None => outln!("repository:"),
            }
            group = Some(inst);
        }
        let sev = match f.severity {
            Severity::Error => "",
            Severity::Warning => " (warning)",
        };
        // A finding about no file (a check that could not run) has no location prefix.
        let loc = if f.file.is_empty() {
            String::new()
        } else {
            format!("{}: ", f.location())
        };
        outln!("  {loc}{}{sev}: {}", f.rule, f.message);
    }
    for s in &report.skipped {
        outln!("not checked: {s}");
    }
    outln!(
        "checked {} installation(s), {} files ({} SOPS){}: {} error(s), {} warning(s)",
        report.installations.len(),
        report.files,
        report.sops_files,
        macs_summary(report),
        report.errors(),
        report.warnings()
    );
    Ok(())
}

/// `, MACs verified` only when every MAC was checked (mismatches are findings); when the key
/// opened only some files, how many matched.
fn macs_summary(report: &mcb::check::Report) -> String {
    if report.mac_checked {
        ", MACs verified".into()
    } else if report.macs_verified > 0 {
        format!(", {} MAC(s) verified, not all", report.macs_verified)
    } else {
        String::new()
    }
}

/// Opens SOPS files with the engine and the identities the lookup finds for the
/// installations checked; `None` (MACs not checked) when it finds none.
fn opener(
    root: &Path,
    key_file: Option<&Path>,
    names: &[String],
) -> anyhow::Result<Option<Box<dyn mcb::check::Opener>>> {
    let ids = if names.is_empty() {
        mcb::ops::identity::lookup_any(key_file, root)?
    } else {
        mcb::ops::identity::lookup(key_file, names)?
    };
    Ok((!ids.is_empty())
        .then(|| Box::new(mcb::check::SopsOpener(ids)) as Box<dyn mcb::check::Opener>))
}

/// `name` in a directory of `PATH`.
fn find_on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30d"), Ok(time::Duration::days(30)));
        assert_eq!(parse_duration("2w"), Ok(time::Duration::weeks(2)));
        assert!(parse_duration("30").is_err());
        assert!(parse_duration("d").is_err());
    }
}
