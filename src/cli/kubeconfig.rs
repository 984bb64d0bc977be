//! `mcb kubeconfig NAME`: print an installation's decrypted kubeconfig (the pre-generated
//! admin's by default) to stdout, for piping into a file or `kubectl --kubeconfig`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use secrecy::ExposeSecret;

pub const LONG_ABOUT: &str = "\
Print an installation's kubeconfig, decrypted, to stdout: the admin kubeconfig mcb made
before the cluster existed (Secret <NAME>-kubeconfig-admin in the repo, signed by the
installation's CA), or another user's with --user. It is the plain kubeconfig, not the
Secret and not base64: pipe it or redirect it to a file you delete afterwards.

The cluster's own `<NAME>-kubeconfig` Secret is not in the repo: the Cluster API control
plane provider creates and renews it on the management cluster.

Identities come from --age-key-file, SOPS_AGE_KEY, SOPS_AGE_KEY_FILE, SOPS_AGE_KEY_CMD,
~/.config/mcb/keys/NAME.agekey (where init-installation saves the key) and
~/.config/sops/age/keys.txt.

Examples:
  mcb kubeconfig demo --age-key-file demo.agekey > mgmt.kubeconfig
  kubectl --kubeconfig <(mcb kubeconfig demo) get nodes
  mcb kubeconfig demo --user ci";

/// `mcb kubeconfig`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The installation
    #[arg(value_name = "NAME", value_parser = super::name_arg, add = super::completions::installations())]
    pub name: String,

    /// Whose kubeconfig (a `kubeconfig/<user>` of the installation's credentials.yaml)
    #[arg(long, value_name = "USER", default_value = "admin")]
    pub user: String,

    /// An age identity file that opens the installation's secrets
    #[arg(value_parser = super::path_arg, long, value_name = "FILE")]
    pub age_key_file: Option<PathBuf>,
}

pub fn run(g: &super::GlobalArgs, a: Args) -> anyhow::Result<ExitCode> {
    g.no_json("kubeconfig", "a kubeconfig")?;
    let root = super::repo_root(g);
    let ids = mcb::ops::identity::lookup(a.age_key_file.as_deref(), &[&a.name])?.require()?;
    let kubeconfig = mcb::ops::kubeconfig::read(&root, &a.name, &a.user, &ids)?;
    std::io::stdout()
        .lock()
        .write_all(kubeconfig.expose_secret())?;
    Ok(ExitCode::SUCCESS)
}
