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

It goes on in stages, as `flux bootstrap` does: (1) Flux's Namespace and CRDs, then wait
until the CRDs are Established; (2) the controllers, then wait for their rollout; (3) the
two secrets and the sync objects, then wait until the GitRepository is Ready and the root
Kustomization has applied. --apply does all of it with server-side apply (re-running is
harmless) and fails with the controller's own condition message after --timeout.

By default the YAML goes to stdout, each stage introduced by a comment naming what to wait
for (it contains two secrets: do not save it). --out writes one kustomize directory per
stage and a README.md with the order.

--suspend-cluster (for the pivot, docs/recreate.md) adds a stage before the sync: the
installation's `cluster` Flux Kustomization with `spec.suspend: true`. Flux then installs
everything but the Cluster API objects, which `clusterctl move` brings. That stage is applied
under the field manager `mcb-suspend` (kustomize-controller undoes fields owned by `kubectl`;
applying the printed YAML by hand, use `--field-manager=mcb-suspend` too). Resume with
`kubectl -n flux-system patch kustomization cluster --type merge -p
'{\"spec\":{\"suspend\":false}}'`.

Examples:
  mcb bootstrap demo --age-key-file demo.agekey --apply --kubeconfig admin.kubeconfig
  mcb bootstrap demo --age-key-file demo.agekey --apply --timeout 10m
  mcb bootstrap demo --age-key-file demo.agekey --out ./bootstrap   # 01-crds/ 02-controllers/ 03-sync/
  mcb bootstrap demo --age-key-file demo.agekey --apply --kubeconfig mgmt.kubeconfig --suspend-cluster";

/// `mcb bootstrap`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The installation
    #[arg(value_name = "NAME", value_parser = super::name_arg, add = super::completions::installations())]
    pub name: String,

    /// The installation's age private key [default: SOPS_AGE_KEY*, then
    /// ~/.config/mcb/keys/NAME.agekey, then sops' keys.txt]
    #[arg(value_parser = super::path_arg, long, value_name = "FILE")]
    pub age_key_file: Option<PathBuf>,

    /// Write a kustomize directory instead of printing (secret files get mode 0600)
    #[arg(value_parser = super::path_arg, long, value_name = "DIR", conflicts_with = "apply")]
    pub out: Option<PathBuf>,

    /// Apply it stage by stage with `kubectl apply --server-side`, waiting after each
    #[arg(long)]
    pub apply: bool,

    /// Start the `cluster` Kustomization suspended (the pivot: see docs/recreate.md)
    #[arg(long)]
    pub suspend_cluster: bool,

    /// With --apply: wait for rollout and readiness after each stage (CRDs are always
    /// waited for); --wait=false applies and returns
    #[arg(
        long,
        value_name = "BOOL",
        default_value_t = true,
        action = clap::ArgAction::Set,
        num_args = 0..=1,
        default_missing_value = "true",
        requires = "apply"
    )]
    pub wait: bool,

    /// With --apply: how long each wait may take (m, h)
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = super::check::parse_duration, requires = "apply")]
    pub timeout: time::Duration,

    /// kubeconfig for --apply [default: kubectl's]
    #[arg(value_parser = super::path_arg, long, value_name = "FILE", requires = "apply")]
    pub kubeconfig: Option<PathBuf>,

    /// The kubeconfig context for --apply [default: its current context]
    #[arg(long, value_name = "NAME", requires = "apply")]
    pub context: Option<String>,

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
    g.no_json("bootstrap", "Kubernetes YAML (or applies it)")?;
    let mut reporter = Reporter::new(g);
    let root = super::repo_root(g);
    if let Some(dir) = &a.out {
        // The directory receives the age key (NN-sync/sops-age.yaml): never where git would
        // take it. Refused before anything is opened.
        let key = mcb::ops::bootstrap::Bootstrap::key_file_in_out(a.suspend_cluster);
        mcb::git::refuse_key_in_work_tree(&root, dir, Some(&key))?;
    }
    let ids = mcb::ops::identity::lookup(a.age_key_file.as_deref(), &[&a.name])?;
    let mut b = mcb::ops::bootstrap::build(&root, &a.name, &ids)?;
    if a.suspend_cluster {
        b.suspend_cluster(&root)?;
    }
    reporter.success(&format!("age key opens installation {}", a.name));
    if let Some(dir) = &a.out {
        for p in b.write_dir(dir)? {
            reporter.generated(&p.display().to_string());
        }
    } else if a.apply {
        let mut kubectl = mcb::ops::bootstrap::Kubectl {
            program: a.kubectl.clone(),
            kubeconfig: a.kubeconfig.clone(),
            context: a.context.clone(),
        };
        let opts = mcb::ops::bootstrap::ApplyOptions {
            wait: a.wait,
            timeout: std::time::Duration::try_from(a.timeout).unwrap_or_default(),
        };
        b.apply(&mut kubectl, opts, &mut reporter)?;
        reporter.success(if a.wait {
            "bootstrap applied and reconciled: Flux takes over from Git"
        } else {
            "bootstrap applied (not waited for): Flux takes over from Git"
        });
    } else {
        let stream = b.to_stream();
        std::io::stdout().lock().write_all(stream.expose_secret())?;
    }
    Ok(ExitCode::SUCCESS)
}
