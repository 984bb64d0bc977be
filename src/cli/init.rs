//! `mcb init-installation NAME (--spec FILE | --example)`: create an installation.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use mcb::ops::init::{self, Request, SpecInput};
use mcb::progress::Progress;
use secrecy::SecretString;

use super::output::{print_files, print_json, print_published, OutputFormat, Reporter};
use super::publish::PublishArgs;

pub const LONG_ABOUT: &str = "\
Create an installation in the config repo, from a spec (or the built-in example):

  - its SOPS age key (the private key goes to --age-key-out, never into the repo),
  - a .sops.yaml creation rule (its key + the spec's admin recipients, values of
    data/stringData encrypted),
  - the cluster CA, etcd CA, front-proxy CA and service-account key in the exact Secret
    shapes Cluster API reads, and an admin kubeconfig signed by that CA,
  - the Git credential Flux clones with (SSH deploy key, or an imported GitHub App key),
  - Dex static client secrets,
  - the rendered Flux and Cluster API manifests and the credential inventory,

all on branch mcb/init-NAME in one commit, secrets SOPS-encrypted. Nothing is regenerated
later unless you rotate it; an existing installation is refused. A failure at any step
leaves the repo and the working tree as they were.

Examples:
  mcb init-installation demo --example --age-key-out demo.agekey
  mcb init-installation prod --spec prod.yaml --dry-run
  mcb init-installation prod --spec prod.yaml --push --pr

Dex connector client secrets are read from MCB_DEX_CONNECTOR_<ID>_CLIENT_SECRET.";

/// `mcb init-installation`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The installation's name (DNS-1123 label; also the cluster name)
    #[arg(value_name = "NAME")]
    pub name: String,

    /// The installation spec (see `mcb example-spec` and `mcb schema`)
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "example",
        conflicts_with = "example"
    )]
    pub spec: Option<PathBuf>,

    /// Use the built-in example spec, renamed to NAME
    #[arg(long)]
    pub example: bool,

    /// Where to write the installation's age private key (mode 0600; must not exist)
    /// [default: ~/.config/mcb/keys/NAME.agekey]
    #[arg(long, value_name = "FILE")]
    pub age_key_out: Option<PathBuf>,

    /// known_hosts lines for the Git host Flux clones from (built in for github.com)
    #[arg(long, value_name = "FILE")]
    pub git_known_hosts: Option<PathBuf>,

    /// The GitHub App's private key (PEM), when the spec has git.auth: github-app
    #[arg(long, value_name = "FILE")]
    pub github_app_private_key: Option<PathBuf>,

    /// Use an existing cluster CA instead of generating one
    #[arg(long, num_args = 2, value_names = ["CERT", "KEY"])]
    pub import_ca: Option<Vec<PathBuf>>,

    #[command(flatten)]
    pub publish: PublishArgs,
}

/// `-o json`: the init report (installation, age_recipient, age_key_file, credentials[],
/// files[[path, change]], branch, commit, pushed_to, pr, dry_run).
pub fn run(g: &super::GlobalArgs, a: Args) -> anyhow::Result<ExitCode> {
    let mut reporter = Reporter::new(g);
    let env = super::env(&mut reporter)?;
    let (publish, pr) = a.publish.resolve_from_env()?;
    let read_text = |p: &PathBuf| -> anyhow::Result<String> {
        Ok(String::from_utf8_lossy(&mcb::fsutil::read(p).map_err(mcb::Error::from)?).into_owned())
    };
    let connector_secrets: BTreeMap<String, SecretString> = std::env::vars()
        .filter_map(|(k, v)| {
            let id = k
                .strip_prefix("MCB_DEX_CONNECTOR_")?
                .strip_suffix("_CLIENT_SECRET")?;
            Some((id.to_ascii_lowercase(), SecretString::from(v)))
        })
        .collect();
    let req = Request {
        name: a.name.clone(),
        spec: match a.spec {
            Some(p) => SpecInput::File(p),
            None => SpecInput::Example,
        },
        age_key_out: a
            .age_key_out
            .clone()
            .unwrap_or_else(|| init::default_key_path(&a.name)),
        git_known_hosts: a.git_known_hosts.as_ref().map(read_text).transpose()?,
        github_app_key: a
            .github_app_private_key
            .as_ref()
            .map(read_text)
            .transpose()?
            .map(SecretString::from),
        import_ca: a.import_ca.map(|v| (v[0].clone(), v[1].clone())),
        connector_secrets,
        publish,
        pr,
    };
    let root = super::repo_root(g);
    let report =
        mcb::ops::init::run(&env, &root, req, &mut reporter).map_err(anyhow::Error::from)?;
    match g.output {
        OutputFormat::Json => print_json(&report)?,
        OutputFormat::Human => {
            let o = &report.outcome;
            print_files(o, &format!("installation {}", report.installation));
            println!("\nCredentials:");
            for c in &report.credentials {
                let until = c
                    .not_after
                    .as_deref()
                    .map(|t| format!(" until {t}"))
                    .unwrap_or_default();
                println!("  {}/{}  {}{until}", c.kind, c.id, c.fingerprint);
            }
            println!("\nage recipient: {}", report.age_recipient);
            if let Some(k) = &report.age_key_file {
                println!(
                    "age private key: {} (keep it in your password manager; it is the only copy)",
                    k.display()
                );
            }
            print_published(o);
            if !o.dry_run {
                println!("\nnext: review and merge, then on the new cluster:\n  mcb bootstrap {} --age-key-file <key> --apply", report.installation);
            }
        }
    }
    reporter.success(&format!("installation {} initialised", report.installation));
    Ok(ExitCode::SUCCESS)
}
