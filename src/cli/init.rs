//! `mcb init-installation NAME (--spec FILE | --example)`: create an installation.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use mcb::creds::github_app::{self, AppOwner, Browser, ManifestParams};
use mcb::ops::init::{self, GithubAppSource, Request, SpecInput};
use mcb::progress::Progress;
use secrecy::SecretString;

use super::output::{print_files, print_json, print_published, OutputFormat, Reporter};
use super::publish::PublishArgs;

pub const LONG_ABOUT: &str = "\
Create an installation in the config repo, from a spec (or the built-in example): its SOPS
age key (the private key goes to --age-key-out, never into the repo), its .sops.yaml rule,
the cluster, etcd and front-proxy CAs and service-account key in the Secret shapes Cluster
API reads, an admin kubeconfig, Flux's Git credential (SSH deploy key or GitHub App), Dex
client secrets, the rendered Flux and Cluster API manifests and the credential inventory -
all on branch mcb/init-NAME in one commit, secrets SOPS-encrypted. An existing
installation is refused (use `mcb rotate`); a failure at any step leaves the repo and the
working tree as they were.

Examples:
  mcb init-installation demo --example --age-key-out demo.agekey
  mcb init-installation prod --spec prod.yaml --dry-run
  mcb init-installation prod --spec prod.yaml --push --pr
  mcb init-installation prod --spec prod.yaml --oidc-issuer https://idp.example.com/realms/x
  mcb init-installation prod --spec prod.yaml --import-github-app 123 --private-key-file app.pem
  mcb init-installation prod --spec prod.yaml --create-github-app --push --pr

Inputs from the environment: MCB_DEX_CONNECTOR_<ID>_CLIENT_SECRET (a Dex connector's client
secret, unless the spec takes it from a shared secret), MCB_OIDC_INITIAL_ACCESS_TOKEN (with
--oidc-issuer). External OIDC issuers and GitHub Apps (import, create, installation id,
GitHub Enterprise) are described in docs/init-installation.md.";

/// `mcb init-installation`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("spec_source").required(true).args(["spec", "example"])))]
pub struct Args {
    /// The installation's name (DNS-1123 label; also the cluster name)
    #[arg(value_name = "NAME", value_parser = super::name_arg)]
    pub name: String,

    /// The installation spec (see `mcb example-spec` and `mcb schema`)
    #[arg(value_parser = super::path_arg, long, value_name = "FILE")]
    pub spec: Option<PathBuf>,

    /// Use the built-in example spec, renamed to NAME
    #[arg(long)]
    pub example: bool,

    /// Where to write the installation's age private key (mode 0600; must not exist)
    /// [default: ~/.config/mcb/keys/NAME.agekey]
    #[arg(value_parser = super::path_arg, long, value_name = "FILE")]
    pub age_key_out: Option<PathBuf>,

    /// The old name of --known-hosts, which init uses for both mcb's push and the Git host
    /// Flux clones from
    #[arg(value_parser = super::path_arg, long, value_name = "FILE", hide = true, conflicts_with = "known_hosts")]
    pub git_known_hosts: Option<PathBuf>,

    /// An existing GitHub App's private key (PEM); the app id comes from
    /// --import-github-app or the spec's githubApp.appId
    #[arg(
        value_parser = super::path_arg,
        long,
        visible_alias = "private-key-file",
        value_name = "FILE",
        conflicts_with = "create_github_app"
    )]
    pub github_app_private_key: Option<PathBuf>,

    /// Import the existing GitHub App ID (with --private-key-file)
    #[arg(long, value_name = "ID", requires = "github_app_private_key")]
    pub import_github_app: Option<u64>,

    /// Create the GitHub App by GitHub's manifest flow: mcb serves a page on 127.0.0.1 and
    /// prints its URL; open it in a browser signed in to GitHub (not with --dry-run: the
    /// app would exist and its key be lost)
    #[arg(long, conflicts_with = "dry_run")]
    pub create_github_app: bool,

    /// Name of the app to create [default: mcb-NAME]
    #[arg(long, value_name = "APP", requires = "create_github_app")]
    pub github_app_name: Option<String>,

    /// The app's installation id on the config repo's owner (shown in the URL after
    /// installing it) [default: the spec's githubApp.installationId]
    #[arg(long, value_name = "N")]
    pub github_app_installation_id: Option<u64>,

    /// GitHub's web URL for --create-github-app (GitHub Enterprise: https://HOST);
    /// --github-api gives its API
    #[arg(long, value_name = "URL", default_value = github_app::GITHUB_WEB, requires = "create_github_app")]
    pub github_url: String,

    /// Register the spec's oidc.staticClients at this issuer (RFC 7591) instead of making
    /// them Dex static clients; the initial access token is read from
    /// MCB_OIDC_INITIAL_ACCESS_TOKEN
    #[arg(long, value_name = "URL")]
    pub oidc_issuer: Option<String>,

    /// Use an existing cluster CA instead of generating one
    #[arg(value_parser = super::path_arg, long, num_args = 2, value_names = ["CERT", "KEY"])]
    pub import_ca: Option<Vec<PathBuf>>,

    /// The CI workflow downloads mcb from this https URL (the binary or a .tar.gz holding
    /// it), verified with --ci-mcb-sha256. Without a pin the workflow fails until one is set
    #[arg(
        long,
        value_name = "URL",
        requires = "ci_mcb_sha256",
        conflicts_with = "ci_mcb_git"
    )]
    pub ci_mcb_url: Option<String>,

    /// SHA-256 of what --ci-mcb-url serves
    #[arg(long, value_name = "HEX", requires = "ci_mcb_url")]
    pub ci_mcb_sha256: Option<String>,

    /// The CI workflow builds mcb from this git repository (https) at --ci-mcb-rev, cached
    #[arg(long, value_name = "URL", requires = "ci_mcb_rev")]
    pub ci_mcb_git: Option<String>,

    /// The full commit id of --ci-mcb-git to build
    #[arg(long, value_name = "COMMIT", requires = "ci_mcb_git")]
    pub ci_mcb_rev: Option<String>,

    #[command(flatten)]
    pub publish: PublishArgs,
}

/// Where the CI workflow gets mcb: the pin given by the `--ci-mcb-*` flags.
fn ci_source(a: &Args) -> Result<mcb::render::ci::McbSource, super::UsageError> {
    use mcb::render::ci::McbSource;
    let pin = match (
        &a.ci_mcb_url,
        &a.ci_mcb_sha256,
        &a.ci_mcb_git,
        &a.ci_mcb_rev,
    ) {
        (Some(url), Some(sha), _, _) => McbSource::release(url, sha),
        (_, _, Some(url), Some(rev)) => McbSource::git(url, rev),
        _ => Ok(McbSource::Unpinned),
    };
    pin.map_err(|e| super::UsageError {
        message: e.to_string(),
        help: mcb::Help::help(&e),
    })
}

/// `-o json`: the init report, as docs/json.md documents it.
pub fn run(g: &super::GlobalArgs, a: Args) -> anyhow::Result<ExitCode> {
    let mut reporter = Reporter::new(g);
    let env = super::env(&mut reporter)?;
    let mut publish_args = a.publish.clone();
    // One flag for the Git host's keys: Flux's known_hosts and the push's host key check.
    let known_hosts = a.git_known_hosts.clone().or(a.publish.known_hosts.clone());
    publish_args.known_hosts = known_hosts.clone();
    // --github-api also names the API of --create-github-app, with or without --pr.
    let api = publish_args.github_api.clone();
    if !publish_args.pr {
        publish_args.github_api = mcb::forge::DEFAULT_API.into();
    }
    let (publish, pr) = publish_args.resolve_from_env()?;
    let read_text = |p: &PathBuf| -> anyhow::Result<String> {
        Ok(String::from_utf8_lossy(&mcb::fsutil::read(p)?).into_owned())
    };
    // Keyed by the env name Dex reads, so ids with `-` or `.` (`my-oidc` ->
    // DEX_CONNECTOR_MY_OIDC_CLIENT_SECRET) find theirs.
    let connector_secrets: BTreeMap<String, SecretString> = std::env::vars()
        .filter_map(|(k, v)| {
            let env = k.strip_prefix("MCB_")?;
            (env.starts_with("DEX_CONNECTOR_") && env.ends_with("_CLIENT_SECRET"))
                .then(|| (env.to_owned(), SecretString::from(v)))
        })
        .collect();
    let github_app = github_app_source(&a, &api, read_text)?;
    let ci_mcb = ci_source(&a)?;
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
        git_known_hosts: known_hosts.as_ref().map(read_text).transpose()?,
        github_app,
        github_app_installation_id: a.github_app_installation_id,
        oidc_issuer: a.oidc_issuer.clone(),
        oidc_initial_access_token: std::env::var("MCB_OIDC_INITIAL_ACCESS_TOKEN")
            .ok()
            .map(SecretString::from),
        import_ca: a.import_ca.map(|v| (v[0].clone(), v[1].clone())),
        ci_mcb,
        connector_secrets,
        publish,
        pr,
    };
    let root = super::repo_root(g);
    mcb::git::refuse_key_in_work_tree(&root, &req.age_key_out, None)?;
    let report =
        mcb::ops::init::run(&env, &root, req, &mut reporter).map_err(anyhow::Error::from)?;
    match g.output {
        OutputFormat::Json => print_json(&report)?,
        OutputFormat::Human | OutputFormat::Sarif => {
            let o = &report.outcome;
            print_files(o, &format!("installation {}", report.installation))?;
            outln!("\nCredentials:");
            for c in &report.credentials {
                let until = c
                    .not_after
                    .as_deref()
                    .map(|t| format!(" until {t}"))
                    .unwrap_or_default();
                outln!("  {}/{}  {}{until}", c.kind, c.id, c.fingerprint);
            }
            outln!("\nage recipient: {}", report.age_recipient);
            if let Some(k) = &report.age_key_file {
                outln!(
                    "age private key: {} (keep it in your password manager; it is the only copy)",
                    k.display()
                );
            }
            if let Some(url) = &report.github_app_install_url {
                outln!("\nGitHub App created: install it on the config repo's owner at\n  {url}");
            }
            if let Some(k) = &report.deploy_key {
                match (k.registered_id, &k.add_by_hand) {
                    (Some(id), _) => outln!(
                        "\nFlux's deploy key: added read-only at GitHub (key {id})\n  {}",
                        k.public_key
                    ),
                    (None, Some(step)) => outln!(
                        "\nFlux's deploy key (not registered yet):\n  {}\n{step}",
                        k.public_key
                    ),
                    (None, None) => {}
                }
            }
            print_published(o)?;
            if !o.dry_run {
                outln!("\nnext: review and merge, then on the new cluster:\n  mcb bootstrap {} --age-key-file <key> --apply", report.installation);
            }
        }
    }
    if report.outcome.dry_run {
        reporter.dry_run(&format!("installation {}", report.installation));
    } else {
        reporter.success(&format!("installation {} initialised", report.installation));
    }
    Ok(ExitCode::SUCCESS)
}

/// The app source from the flags: `--create-github-app`, or an import with the key file.
fn github_app_source(
    a: &Args,
    api: &str,
    read_text: impl Fn(&PathBuf) -> anyhow::Result<String>,
) -> anyhow::Result<Option<GithubAppSource>> {
    if a.create_github_app {
        let name = a
            .github_app_name
            .clone()
            .unwrap_or_else(|| format!("mcb-{}", a.name));
        let mut params = ManifestParams::new(&name, &a.github_url, AppOwner::User);
        params.web_base = a.github_url.clone();
        params.api_base = api.to_owned();
        return Ok(Some(GithubAppSource::Create {
            params,
            browser: Box::new(PrintUrl),
        }));
    }
    let Some(key) = &a.github_app_private_key else {
        return Ok(None);
    };
    Ok(Some(GithubAppSource::Import {
        app_id: a.import_github_app,
        private_key: SecretString::from(read_text(key)?),
    }))
}

/// Shows the manifest flow's local page by printing its URL on stderr; mcb never launches
/// a browser itself.
struct PrintUrl;

impl Browser for PrintUrl {
    fn open(&self, url: &str) -> Result<(), String> {
        eprintln!("open this URL in a browser signed in to GitHub to create the app:\n  {url}");
        Ok(())
    }
}
