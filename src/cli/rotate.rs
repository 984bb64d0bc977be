//! `mcb rotate NAME [--only WHAT]... [--due-within 30d]`: replace credentials as a PR.

use std::path::PathBuf;
use std::process::ExitCode;

use mcb::ops::rotate::{self, Request, Target};
use mcb::progress::Progress;
use secrecy::SecretString;

use super::output::{print_json, OutputFormat, Reporter};
use super::publish::PublishArgs;
use super::UsageError;

pub const LONG_ABOUT: &str = "\
Rotate an installation's credentials and propose the change as one reviewed commit on
branch mcb/rotate-NAME[-WHAT]. Without --only, everything due within --due-within is
rotated: what expires by then, or passes its kind's maximum age by then (spec
`rotation.maxAge`; defaults: kubeconfig 365d, oidc-client 180d, deploy-key 365d,
github-app 365d, age-key 730d, CAs only by expiry). Due credentials that need a command of
their own (CAs: three phases; github-app without --import; age-key without --age-key-out)
are named with that command. Files of credentials that
are not rotated keep their bytes; the inventory (credentials.yaml) records the rotation time
and the new fingerprints, and the PR body lists before/after fingerprints and expiry.
Re-running on the same branch adds a commit to it and updates its PR.

What --only accepts:
  kubeconfig/USER   new client certificate from the existing cluster CA (--validity, default
                    365d). The old certificate stays valid until it expires: Kubernetes
                    checks no revocation. `mcb status` lists it as kubeconfig-superseded
                    until then. Use OIDC for people and short-lived certificates
                    (--validity 1d) for break-glass access.
  oidc/CLIENT       a new client id (CLIENT-N) and secret that Dex serves next to the
                    current one until --finish (or, for a client registered at an issuer,
                    a successor client with a new id and secret; the old one stays valid
                    until --finish); the spec's consumers of the client get the new id
                    and secret in the same commit, applied by Flux once Dex serves it
  deploy-key        new SSH deploy key for Flux, registered read-only at GitHub with --pr
                    (else add it by hand); the old one stays until --finish
  github-app        import a new app private key (--import FILE): GitHub cannot create
                    one through its API; delete the old key on the app's page afterwards
  sops-data-keys    a new SOPS data key for every secret file (sops rotate)
  age-key           two steps: (1) add a new installation key next to the old one, every
                    file re-wrapped for both, the new key file (--age-key-out) carries both;
                    (2) the same command again, once (1) is merged: drop the old key and
                    give every file a new data key
  ca/WHICH          cluster, etcd or proxy CA, in three phases, each its own PR (run the
                    same command again after each merge): (1) the new CA is trusted next
                    to the old one, (2) it signs and kubeconfigs are re-issued from it,
                    (3) the old CA is no longer trusted. The phase is in credentials.yaml
                    (extra.phase).

Rotations of OIDC clients and deploy keys take two steps: the rotation creates the new
credential and commits it while the old one stays valid; once its PR is merged (and the
consumers run with the new client), `mcb rotate NAME --finish` fetches the base branch,
checks that the rotation commit is on it (and, for a deploy key, that GitHub saw the new
key used), and only then deletes the old credential where it is registered (Dex: the old
client id leaves its config). --dry-run calls no issuer and no forge:
it lists those calls. The issuer's initial access token for registering a successor client,
if it needs one, is read from MCB_OIDC_INITIAL_ACCESS_TOKEN.

The installation's secrets are opened with --age-key-file (else SOPS_AGE_KEY_FILE,
SOPS_AGE_KEY, SOPS_AGE_KEY_CMD as in sops).

Examples:
  mcb rotate prod --age-key-file prod.agekey --dry-run
  mcb rotate prod --only kubeconfig/admin --age-key-file prod.agekey --push --pr
  mcb rotate prod --only age-key --age-key-file prod.agekey --age-key-out prod-next.agekey
  mcb rotate prod --due-within 90d";

/// The initial access token for issuers that re-register a client to rotate its secret.
const OIDC_IAT_VAR: &str = "MCB_OIDC_INITIAL_ACCESS_TOKEN";

/// `mcb rotate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The installation
    #[arg(value_name = "NAME", value_parser = super::name_arg, add = super::completions::installations())]
    pub name: String,

    /// Rotate exactly this (repeatable): kubeconfig/USER, oidc/CLIENT, deploy-key,
    /// github-app, sops-data-keys, age-key, ca/cluster|etcd|proxy, or a `KIND/ID` as
    /// `mcb status` prints it (oidc-client/grafana)
    #[arg(long, value_name = "WHAT", add = super::completions::rotate_targets())]
    pub only: Vec<String>,

    /// Without --only: rotate what is due (expires or passes its maximum age) within this
    /// window (e.g. 30d, 12h, 2w)
    #[arg(long, value_name = "DURATION", default_value = "30d", value_parser = parse_duration, conflicts_with = "only")]
    pub due_within: time::Duration,

    /// The age key that opens the installation's secrets
    #[arg(value_parser = super::path_arg, long, value_name = "FILE")]
    pub age_key_file: Option<PathBuf>,

    /// Where an age-key rotation writes the new key file (mode 0600; must not exist)
    #[arg(value_parser = super::path_arg, long, value_name = "FILE")]
    pub age_key_out: Option<PathBuf>,

    /// After a rotation is merged: delete the credentials it replaced (old deploy key at
    /// GitHub with --push --pr, old registered OIDC clients at their issuers, old Dex
    /// client ids from Dex's config)
    #[arg(long, conflicts_with_all = ["only", "age_key_out", "import"])]
    pub finish: bool,

    /// Lifetime of re-issued kubeconfig client certificates (e.g. 30d, 12h) [default: 365d].
    /// A replaced certificate stays valid until it expires: certificates cannot be revoked
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub validity: Option<time::Duration>,

    /// The GitHub App's new private key (PEM), for --only github-app
    #[arg(value_parser = super::path_arg, long = "import", value_name = "FILE")]
    pub import: Option<PathBuf>,

    #[command(flatten)]
    pub publish: PublishArgs,
}

/// `30d`, `12h`, `2w`, `90m`.
fn parse_duration(s: &str) -> Result<time::Duration, String> {
    mcb::spec::Age::parse(s)
}

/// `-o json`: the rotate report, as docs/json.md documents it.
pub fn run(g: &super::GlobalArgs, a: Args) -> anyhow::Result<ExitCode> {
    let mut reporter = Reporter::new(g);
    let env = super::env(&mut reporter)?;
    let (publish, pr) = a.publish.resolve_from_env()?;
    let only = if a.only.is_empty() {
        Vec::new()
    } else {
        let inst = mcb::repo::installation::load(&super::repo_root(g), &a.name)?;
        mcb::ops::rotate::parse_only(&inst.inventory, &a.only)?
    };
    if only.contains(&Target::GithubApp) && a.import.is_none() {
        return Err(UsageError {
            message: "--only github-app needs --import FILE".into(),
            help: Some(format!(
                "generate a new private key on the app's settings page ({}/settings/apps > your app > Private keys), then pass the downloaded PEM with --import",
                mcb::creds::github_app::GITHUB_WEB
            )),
        }
        .into());
    }
    if let Some(out) = &a.age_key_out {
        mcb::git::refuse_key_in_work_tree(&super::repo_root(g), out, None)?;
    }
    let github_app_key = match &a.import {
        Some(p) => Some(SecretString::from(
            String::from_utf8_lossy(&mcb::fsutil::read(p)?).into_owned(),
        )),
        None => None,
    };
    let req = Request {
        name: a.name.clone(),
        only,
        due_within: a.due_within,
        age_key_file: a.age_key_file,
        age_key_out: a.age_key_out,
        github_app_key,
        finish: a.finish,
        validity: a.validity,
        oidc_initial_access_token: std::env::var(OIDC_IAT_VAR)
            .ok()
            .filter(|v| !v.is_empty())
            .map(SecretString::from),
        publish,
        pr,
    };
    let root = super::repo_root(g);
    let report = rotate::run(&env, &root, req, &mut reporter).map_err(anyhow::Error::from)?;
    match g.output {
        OutputFormat::Json => print_json(&report)?,
        OutputFormat::Human | OutputFormat::Sarif => print_human(&report)?,
    }
    if report.outcome.dry_run {
        reporter.dry_run(&format!("rotation of {}", report.installation));
    } else if !report.rotated.is_empty() {
        reporter.success(&format!(
            "rotated {} credential(s) of {}",
            report.rotated.len(),
            report.installation
        ));
    }
    Ok(ExitCode::SUCCESS)
}

fn print_human(report: &rotate::Report) -> std::io::Result<()> {
    let o = &report.outcome;
    super::output::print_files(o, &format!("rotating {}", report.installation))?;
    if !report.rotated.is_empty() {
        outln!("\n{}:", if o.dry_run { "Would rotate" } else { "Rotated" });
    }
    for c in &report.rotated {
        let before = c.previous.as_deref().unwrap_or("—");
        let after = c.fingerprint.as_deref().unwrap_or("—");
        let until = c
            .not_after
            .as_deref()
            .map(|t| format!(" until {t}"))
            .unwrap_or_default();
        outln!("  {}/{}  {before} -> {after}{until}", c.kind, c.id);
    }
    if let Some(k) = &report.age_key_file {
        outln!(
            "\nnew age key file: {} (keep it safe; it is the only copy)",
            k.display()
        );
    }
    super::output::print_published(o)?;
    for n in &report.notes {
        outln!("\nnext: {n}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("30d").unwrap(), time::Duration::days(30));
        assert_eq!(parse_duration("2w").unwrap(), time::Duration::days(14));
        assert_eq!(parse_duration("12h").unwrap(), time::Duration::hours(12));
        for bad in ["", "d", "30", "3x", "-"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    /// Adding a credential kind fails to compile here until its rotation is documented:
    /// `rotate --help`'s defaults and `--only` list, and docs/design.md's maxAge defaults.
    #[test]
    fn every_rotatable_kind_is_documented() {
        use mcb::inventory::CredentialKind;
        let flat = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        let help = flat(LONG_ABOUT);
        let design = flat(include_str!("../../docs/design.md"));
        let max_age = mcb::spec::MaxAge::default();
        for k in CredentialKind::ALL {
            // (the `--only` value, whether a maximum age applies)
            let (only, aged) = match k {
                CredentialKind::Kubeconfig => ("kubeconfig/USER", true),
                CredentialKind::OidcClient => ("oidc/CLIENT", true),
                CredentialKind::DeployKey => ("deploy-key", true),
                CredentialKind::GithubApp => ("github-app", true),
                CredentialKind::AgeKey => ("age-key", true),
                CredentialKind::Ca => ("ca/WHICH", false),
                CredentialKind::SaKey | CredentialKind::KubeconfigSuperseded => continue,
            };
            assert!(
                LONG_ABOUT.contains(&format!("\n  {only} ")),
                "--only {only}"
            );
            match max_age.of(k) {
                Some(d) if aged => {
                    let days = d.whole_days();
                    assert!(help.contains(&format!("{k} {days}d")), "help: {k} {days}d");
                    assert!(design.contains(&format!("`{k}: {days}d`")), "design: {k}");
                }
                None if !aged => {
                    assert!(help.contains("CAs only by expiry"), "help: {k}");
                    assert!(design.contains("CAs only by expiry"), "design: {k}");
                }
                other => panic!("{k}: maximum age {other:?}, documented as aged={aged}"),
            }
        }
    }
}
