//! `mcb bootstrap NAME --age-key-file KEY`: print, write or apply the minimal bootstrap.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use mcb::progress::Progress;
use secrecy::ExposeSecret;

use super::output::Reporter;

pub const LONG_ABOUT: &str = "\
Produce the minimal bootstrap of an installation, the only manual step on a new cluster:
the Flux install for the spec's version, Secret sops-age (the installation's age key, as
<NAME>.agekey), the Git credential Flux clones with (decrypted from the repo with that
key) and the flux-system GitRepository + Kustomization pointing at
installations/<NAME>/manifests. Nothing else: every other object comes from Git through
Flux. The key is checked first: it must be the installation's and open its files.

By default the YAML goes to stdout (it contains two secrets: pipe it, do not save it).

Examples:
  mcb bootstrap demo --age-key-file demo.agekey | kubectl apply --server-side -f -
  mcb bootstrap demo --age-key-file demo.agekey --apply --kubeconfig admin.kubeconfig
  mcb bootstrap demo --age-key-file demo.agekey --out ./bootstrap   # kustomize dir";

/// `mcb bootstrap`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The installation
    #[arg(value_name = "NAME", value_parser = super::name_arg)]
    pub name: String,

    /// The installation's age private key (as written by init-installation)
    #[arg(long, value_name = "FILE")]
    pub age_key_file: PathBuf,

    /// Write a kustomize directory instead of printing (secret files get mode 0600)
    #[arg(long, value_name = "DIR", conflicts_with = "apply")]
    pub out: Option<PathBuf>,

    /// Apply it with `kubectl apply --server-side -f -`
    #[arg(long)]
    pub apply: bool,

    /// kubeconfig for --apply [default: kubectl's]
    #[arg(long, value_name = "FILE", requires = "apply")]
    pub kubeconfig: Option<PathBuf>,

    /// kubectl to use for --apply
    #[arg(
        long,
        value_name = "PATH",
        default_value = "kubectl",
        requires = "apply"
    )]
    pub kubectl: PathBuf,
}

pub fn run(g: &super::GlobalArgs, a: Args) -> anyhow::Result<ExitCode> {
    let mut reporter = Reporter::new(g);
    let root = super::repo_root(g);
    if let Some(dir) = &a.out {
        // The directory receives the age key (sops-age.yaml): never where git would take it.
        mcb::git::refuse_key_in_work_tree(&root, dir, Some(mcb::ops::bootstrap::ORDER[1]))
            .map_err(mcb::Error::from)?;
    }
    let b = mcb::ops::bootstrap::build(&root, &a.name, &a.age_key_file)?;
    reporter.success(&format!("age key opens installation {}", a.name));
    if let Some(dir) = &a.out {
        for p in b.write_dir(dir)? {
            reporter.generated(&p.display().to_string());
        }
    } else if a.apply {
        let out = b.apply(&a.kubectl, a.kubeconfig.as_deref())?;
        out!("{out}");
        reporter.success("bootstrap applied: Flux takes over from Git");
    } else {
        let stream = b.to_stream();
        std::io::stdout().lock().write_all(stream.expose_secret())?;
    }
    Ok(ExitCode::SUCCESS)
}
