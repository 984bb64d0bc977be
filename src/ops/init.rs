//! `mcb init-installation`: from a spec to a committed (and optionally pushed and proposed)
//! installation. Steps, in order: validate the spec; refuse an existing installation;
//! generate the age key, the PKI, the Git credential and the OIDC client secrets (or
//! register the clients at an external issuer, and create or import the GitHub App: see
//! `init/external.rs`, undone or named when nothing keeps them); render
//! the manifests; derive `.sops.yaml`; plan the files (secrets sealed for the new rule);
//! then publish (branch, key file, commit, push, PR). The age private key is written to
//! the user's file and verified before the commit exists (`ops::transaction`), never
//! into the repo; no commit exists without its key file.
//!
//! Size: the steps above in order, sharing the request and the report; making the
//! credentials is `init/generate.rs`, what talks to issuers and GitHub `init/external.rs`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};

use crate::creds;
use crate::fileset::FileSet;
use crate::forge::body::{ChangeSummary, CredentialAction, CredentialChange};
use crate::git::{ConfigRepo, PublishOptions};
use crate::inventory::{Credential, Inventory};
use crate::k8s::Secret;
use crate::ops::publish::{self, Outcome, PrTarget};
use crate::ops::transaction::KeyFile;
use crate::ops::{failpoint, Error as OpsError};
use crate::progress::Progress;
use crate::render::{self, MapSource, Templates};
use crate::repo;
use crate::repo::installation::{self, Loaded, AGE_KEY_KIND};
use crate::repo::seal::SopsSealer;
use crate::sops;
use crate::spec::{self, Installation};
use crate::{Env, Error};

mod deploy_key;
mod external;
mod generate;
pub use crate::ops::identity::default_key_path;
pub use deploy_key::DeployKeyReport;
pub use external::{GithubAppSource, APP_SECRET};
use generate::{generate, Generated};

/// Where the spec comes from.
#[derive(Debug, Clone)]
pub enum SpecInput {
    /// a spec file
    File(PathBuf),
    /// the embedded example ([`spec::EXAMPLE`]), renamed to the installation's name
    Example,
}

/// Everything `init-installation` needs, resolved by the CLI.
pub struct Request {
    /// the installation's name
    pub name: String,
    /// its spec
    pub spec: SpecInput,
    /// where the age private key goes (must not exist)
    pub age_key_out: PathBuf,
    /// known_hosts lines for the Git host (SSH auth); defaults exist for github.com
    pub git_known_hosts: Option<String>,
    /// the GitHub App: imported (id + private key) or created by the manifest flow
    pub github_app: Option<GithubAppSource>,
    /// the app's installation id [default: the spec's `githubApp.installationId`]
    pub github_app_installation_id: Option<u64>,
    /// register the spec's `oidc.staticClients` at this issuer (RFC 7591) instead of
    /// making them Dex static clients
    pub oidc_issuer: Option<String>,
    /// the issuer's initial access token for registration
    pub oidc_initial_access_token: Option<SecretString>,
    /// an existing cluster CA (cert PEM file, key PEM file)
    pub import_ca: Option<(PathBuf, PathBuf)>,
    /// where the config repo's CI workflow gets mcb (written with the first installation)
    pub ci_mcb: crate::render::ci::McbSource,
    /// Dex connector client secrets by their env name (`DEX_CONNECTOR_<ID>_CLIENT_SECRET`,
    /// given as `MCB_DEX_CONNECTOR_<ID>_CLIENT_SECRET`)
    pub connector_secrets: BTreeMap<String, SecretString>,
    /// branch, commit and push settings
    pub publish: PublishOptions,
    /// the pull request, with `--pr`
    pub pr: Option<PrTarget>,
}

/// What `init-installation` did (`-o json`: docs/json.md).
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// the installation
    pub installation: String,
    /// the installation's age recipient (public)
    pub age_recipient: String,
    /// where its private key was written (None on a dry run)
    pub age_key_file: Option<PathBuf>,
    /// every credential created, by its public facts
    pub credentials: Vec<Credential>,
    /// where to install a GitHub App created by the manifest flow
    pub github_app_install_url: Option<String>,
    /// Flux's SSH deploy key (`git.auth: ssh`): registered at GitHub, or the step to add it
    pub deploy_key: Option<DeployKeyReport>,
    /// files, branch, commit, push, PR
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// GitHub's published SSH host keys, so Flux can verify github.com without a prompt.
const GITHUB_KNOWN_HOSTS: &str =
    "github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n";

/// The branch init works on.
pub fn branch(name: &str) -> String {
    format!("mcb/init-{name}")
}

/// Runs `init-installation`.
pub fn run(
    env: &Env,
    root: &Path,
    mut req: Request,
    progress: &mut dyn Progress,
) -> Result<Report, Error> {
    let (spec_text, spec) = load_spec(&req)?;
    if let Some(w) = spec::placeholder_warning(&spec) {
        progress.warn(&w);
    }
    let name = spec.name.as_str().to_owned();
    let repo_git = crate::ops::transaction::open(root, progress)?;
    let root = repo_git.root().to_path_buf();
    // README step 2: the same command with --push --pr publishes the committed branch.
    if req.publish.push.is_some() && repo_git.branch_tip(&branch(&name))?.is_some() {
        return publish_existing(env, &repo_git, &name, req, progress);
    }
    refuse_existing(&repo_git, &root, &name)?;
    if !req.publish.dry_run && req.age_key_out.exists() {
        return Err(crate::fsutil::PathError {
            path: req.age_key_out.clone(),
            source: std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "file exists; refusing to overwrite an age key",
            ),
        }
        .into());
    }

    progress.action(&format!("generating credentials for {name}"));
    // What is made at outside services, to undo if nothing keeps it.
    let mut made = external::Made::default();
    let result = generate(env, &spec, &req, &mut made, progress).and_then(|generated| {
        let (outcome, key) = publish_installation(
            env,
            &repo_git,
            (&spec_text, &spec),
            &generated,
            &mut req,
            &mut made,
            progress,
        )?;
        Ok((generated, outcome, key))
    });
    // Not kept in a commit (or in written files), they would be orphans at the issuer. The
    // init branch exists only once its commit does.
    let committed = || repo_git.branch_tip(&branch(&name)).ok().flatten().is_some();
    if req.publish.dry_run || (result.is_err() && !committed()) {
        made.undo(progress);
    }
    let (generated, outcome, deploy_key) = result?;
    let dry_run = req.publish.dry_run;
    Ok(Report {
        installation: name,
        age_recipient: generated.age.recipient.clone(),
        age_key_file: (!dry_run).then_some(req.age_key_out),
        credentials: generated.credentials,
        github_app_install_url: generated.github_app_install_url,
        deploy_key,
        outcome,
    })
}

/// Publishes the init branch an earlier run committed (push, PR) instead of creating the
/// installation again: nothing is generated, written or committed, no key is written.
fn publish_existing(
    env: &Env,
    repo_git: &ConfigRepo,
    name: &str,
    mut req: Request,
    progress: &mut dyn Progress,
) -> Result<Report, Error> {
    let b = branch(name);
    progress.action(&format!(
        "installation {name} is committed on {b} already: publishing it"
    ));
    let path = repo::credentials_path(name);
    let inventory = match repo_git.file_at(&b, &path)? {
        Some(text) => Inventory::parse(&path, &text)?,
        None => Inventory::new(),
    };
    let outcome = publish::publish_branch(
        env,
        repo_git.root(),
        Some(&b),
        &req.publish,
        req.pr.take(),
        progress,
    )?;
    Ok(Report {
        installation: name.to_owned(),
        age_recipient: inventory
            .get(AGE_KEY_KIND, "installation")
            .map(|c| c.fingerprint.clone())
            .unwrap_or_default(),
        age_key_file: None,
        credentials: inventory.credentials,
        github_app_install_url: None,
        deploy_key: None,
        outcome,
    })
}

/// Derives the files of the new installation from what was generated and publishes them
/// (plan, key file, commit, push, PR). Flux's deploy key is registered once the remote and
/// the GitHub repository are checked, before the commit (its id goes into the inventory).
#[allow(clippy::too_many_arguments)] // distinct inputs; `made` is what outlives a failure
fn publish_installation(
    env: &Env,
    repo_git: &ConfigRepo,
    (spec_text, spec): (&str, &Installation),
    generated: &Generated,
    req: &mut Request,
    made: &mut external::Made,
    progress: &mut dyn Progress,
) -> Result<(Outcome, Option<DeployKeyReport>), Error> {
    let root = repo_git.root().to_path_buf();
    let name = spec.name.as_str().to_owned();
    failpoint::check("credentials")?;

    let others = installation::load_all(&root)?;
    let created = rfc3339(env);
    let mut inventory = Inventory::new();
    for c in &generated.credentials {
        inventory.upsert(c.clone());
    }
    let this = Loaded {
        spec: spec.clone(),
        spec_text: spec_text.to_owned(),
        inventory: inventory.clone(),
    };
    let mut all: Vec<&Loaded> = others.iter().collect();
    all.push(&this);
    let sops_yaml = installation::sops_config(&all);

    let mut files = desired_files(&this, generated, &sops_yaml)?;
    step(progress, &name, 4);
    // The config repo's CI gate, once: a workflow the team has edited is theirs.
    let writes_workflow = !root.join(crate::render::ci::CI_WORKFLOW_PATH).exists();
    if writes_workflow {
        files.plain(
            crate::render::ci::CI_WORKFLOW_PATH,
            crate::render::ci::ci_workflow(&req.ci_mcb),
        );
    }
    let identity_text = generated.age.identity.clone();
    let ids = sops::Identities::from_text(&identity_text)?;
    let sealer = SopsSealer::new(env, &root, &sops_yaml, &ids)?;
    let mut owned = vec![repo::installation_dir(&name)];
    owned.push(repo::SOPS_CONFIG.to_owned());
    owned.push(crate::render::ci::CI_WORKFLOW_PATH.to_owned());

    let summary = ChangeSummary {
        headline: format!("Create installation `{name}` with mcb"),
        installations: vec![name.clone()],
        credentials: generated
            .credentials
            .iter()
            .map(|c| CredentialChange {
                action: CredentialAction::Created,
                kind: c.kind.to_string(),
                id: c.id.clone(),
                fingerprint: Some(c.fingerprint.clone()),
                previous: None,
                not_after: c.not_after.clone(),
            })
            .collect(),
        ..ChangeSummary::default()
    };
    let request = publish::Request {
        branch: branch(&name),
        message: format!("feat({name}): create installation\n\nGenerated by mcb init-installation: credentials, encrypted secrets, rendered manifests."),
        title: format!("Create installation {name}"),
        owned: owned.clone(),
        summary,
        reviewers: Vec::new(),
        // GitHub refuses a push that adds a workflow unless the token may write workflows
        needs: crate::forge::Needs {
            workflows: writes_workflow,
            ..Default::default()
        },
    };
    let owned_dirs: Vec<String> = vec![format!("{}/", repo::installation_dir(&name))];
    let pr = req.pr.take();
    let mut key_report = generated.deploy_key.as_ref().map(|public| DeployKeyReport {
        public_key: public.clone(),
        registered_id: None,
        add_by_hand: None,
    });
    // Messages of the registration, shown after the run (the run holds `progress`).
    let mut said: Vec<Result<String, String>> = Vec::new();
    let register = if req.publish.dry_run {
        None
    } else {
        pr.clone()
    };
    let register_opts = req.publish.clone();
    let mut make_plan = || {
        if let (Some(k), Some(target)) = (key_report.as_mut(), register.as_ref()) {
            match deploy_key::register(
                env,
                repo_git,
                &register_opts,
                target,
                &name,
                &k.public_key,
                &mut inventory,
            ) {
                Ok((gh, id)) => {
                    said.push(Ok(format!(
                        "added Flux's deploy key (read-only) to {} as key {id}",
                        gh.repo()
                    )));
                    k.registered_id = Some(id);
                    made.deploy_key = Some((gh, id));
                    files.plain(repo::credentials_path(&name), inventory.to_yaml());
                }
                Err(why) => said.push(Err(format!(
                    "could not register Flux's deploy key at GitHub ({why})"
                ))),
            }
        }
        repo::plan(&root, &files, &owned_dirs, &sealer).map_err(Error::from)
    };
    let key = KeyFile {
        path: req.age_key_out.clone(),
        text: key_file(&generated.age, &created),
    };
    let pr_given = pr.is_some();
    let mut outcome = publish::run(
        repo_git,
        env,
        &request,
        &req.publish,
        pr,
        &mut make_plan,
        Some(&key),
        progress,
    )?;
    step(progress, &name, STEPS);
    for s in said {
        match s {
            Ok(m) => progress.success(&m),
            Err(m) => progress.warn(&m),
        }
    }
    if let Some(k) = key_report.as_mut() {
        if req.publish.dry_run && pr_given {
            outcome.planned.insert(
                0,
                "register Flux's deploy key (read-only) at GitHub, or name the step to add it"
                    .to_owned(),
            );
        } else if k.registered_id.is_none() {
            k.add_by_hand = Some(deploy_key::by_hand(&name, &spec.git.url, &k.public_key));
        }
    }
    Ok((outcome, key_report))
}

fn rfc3339(env: &Env) -> String {
    env.now()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("UTC times format")
}

/// The spec's text (as it will be written) and the validated spec.
fn load_spec(req: &Request) -> Result<(String, Installation), Error> {
    let (text, file) = match &req.spec {
        SpecInput::Example => {
            let re = regex::Regex::new(r"(?m)^name: .*$").expect("valid regex");
            let text = re
                .replace(spec::EXAMPLE, format!("name: {}", req.name))
                .into_owned();
            (text, PathBuf::from("<example>"))
        }
        SpecInput::File(p) => {
            let bytes = crate::fsutil::read(p)?;
            (spec::decode(&bytes, p)?.to_owned(), p.clone())
        }
    };
    let spec = spec::parse(&text, &file)?;
    if spec.name.as_str() != req.name {
        return Err(OpsError::NameMismatch {
            file,
            spec_name: spec.name.as_str().to_owned(),
            name: req.name.clone(),
        }
        .into());
    }
    Ok((text, spec))
}

/// An installation exists if its directory is in the working tree or its init branch
/// already exists (a previous run committed it and is waiting for review).
fn refuse_existing(repo_git: &ConfigRepo, root: &Path, name: &str) -> Result<(), Error> {
    let b = branch(name);
    if repo_git.branch_tip(&b)?.is_some() {
        return Err(OpsError::InitBranchExists {
            name: name.to_owned(),
            branch: b,
        }
        .into());
    }
    let dir = repo::installation_dir(name);
    if root.join(&dir).exists() {
        return Err(OpsError::InstallationExists {
            name: name.to_owned(),
            path: dir,
        }
        .into());
    }
    Ok(())
}

/// The parts of an init the progress counts: the age key, the PKI, the other credentials,
/// the rendered files, then the sealed files committed (and pushed).
const STEPS: usize = 5;

/// Init of installation `name` is through part `done` of [`STEPS`].
fn step(progress: &mut dyn Progress, name: &str, done: usize) {
    progress.advance(&format!("initialising {name}"), done, STEPS);
}

/// The GitHub App's id and installation id from the spec, required with `git.auth:
/// github-app`.
pub(crate) fn github_app_ids(spec: &Installation) -> Result<(u64, u64), Error> {
    let app = spec.github_app.as_ref();
    match (
        app.and_then(|a| a.app_id),
        app.and_then(|a| a.installation_id),
    ) {
        (Some(app_id), Some(inst_id)) => Ok((app_id, inst_id)),
        _ => Err(OpsError::MissingInput {
            what: "githubApp.appId and githubApp.installationId in the spec".into(),
            why: "git.auth is github-app".into(),
        }
        .into()),
    }
}

/// Where a created GitHub App's own Secret ([`APP_SECRET`]: OAuth client, webhook secret,
/// key) is kept: encrypted, outside every path Flux applies (the cluster needs none of it;
/// Flux's `flux-system` Secret holds what Flux needs).
pub fn app_secret_path(name: &str) -> String {
    format!("{}{APP_SECRET}.sops.yaml", repo::forge_secrets_dir(name))
}

/// known_hosts for the Git URL's host: built in for github.com, else required.
fn default_known_hosts(url: &str) -> Result<String, Error> {
    let host = git_host(url);
    if host == "github.com" {
        return Ok(GITHUB_KNOWN_HOSTS.to_owned());
    }
    Err(OpsError::NoKnownHosts { host }.into())
}

/// The host of an SSH or HTTPS Git URL (`ssh://git@host:22/o/r`, `git@host:o/r`).
fn git_host(url: &str) -> String {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let rest = rest.rsplit_once('@').map(|(_, r)| r).unwrap_or(rest);
    rest.split(['/', ':']).next().unwrap_or_default().to_owned()
}

/// The secret file name of a Secret.
pub fn secret_file(s: &Secret) -> String {
    format!("{}.sops.yaml", s.name)
}

/// Every file of the new installation.
fn desired_files(this: &Loaded, generated: &Generated, sops_yaml: &str) -> Result<FileSet, Error> {
    let name = this.name();
    let mut files = FileSet::new();
    files.plain(repo::spec_path(name), this.spec_text.clone());
    files.plain(repo::credentials_path(name), this.inventory.to_yaml());
    files.plain(repo::SOPS_CONFIG, sops_yaml.to_owned());
    let mut secret_names = Vec::new();
    let mut source = MapSource::default();
    for s in &generated.secrets {
        if s.name == APP_SECRET {
            files.insert(
                app_secret_path(name),
                crate::fileset::Content::Secret(s.to_yaml()),
            );
            continue;
        }
        let file = secret_file(s);
        for (k, v) in &s.data {
            let text = String::from_utf8_lossy(v.expose_secret()).into_owned();
            source = source.with(&s.name, k, &text);
        }
        files.insert(
            format!("{}{file}", repo::secrets_dir(name)),
            crate::fileset::Content::Secret(s.to_yaml()),
        );
        secret_names.push(file);
    }
    secret_names.sort();
    for (file, s) in &generated.consumers {
        files.insert(
            format!("{}{file}", repo::consumers_dir(name)),
            crate::fileset::Content::Secret(s.to_yaml()),
        );
        secret_names.push(format!("{}/{file}", creds::consumers::DIR));
    }
    let templates = Templates::builtin()?;
    files.extend(render::render(
        &templates,
        &this.spec,
        &secret_names,
        &this.inventory,
        &source,
    )?);
    files.plain(
        format!("{}kustomization.yaml", repo::bootstrap_dir(name)),
        bootstrap_kustomization(name),
    );
    Ok(files)
}

/// `installations/<name>/bootstrap/kustomization.yaml`: Flux and its sync, no secrets
/// (`mcb bootstrap` adds `sops-age` and the Git credential at the cluster).
fn bootstrap_kustomization(name: &str) -> String {
    format!(
        "{}# The minimal bootstrap without secrets: Flux and the sync of this installation.\n# `mcb bootstrap {name} --age-key-file KEY` adds the sops-age and Git auth Secrets.\n{}",
        render::header(name),
        crate::k8s::kustomization(&["../manifests/flux-system"])
    )
}

/// The key file as age-keygen writes it.
pub(crate) fn key_file(age: &sops::AgeKey, created: &str) -> SecretString {
    SecretString::from(format!(
        "# created: {created}\n# public key: {}\n{}\n",
        age.recipient,
        age.identity.expose_secret()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_host_of_common_urls() {
        assert_eq!(git_host("ssh://git@github.com/o/r"), "github.com");
        assert_eq!(git_host("git@github.com:o/r.git"), "github.com");
        assert_eq!(
            git_host("ssh://git@git.example.com:2222/o/r"),
            "git.example.com"
        );
        assert_eq!(git_host("https://user:pw@host.example/o/r"), "host.example");
    }

    #[test]
    fn unknown_host_needs_known_hosts() {
        assert!(default_known_hosts("ssh://git@github.com/o/r").is_ok());
        let e = default_known_hosts("ssh://git@gitea.local/o/r").unwrap_err();
        assert!(e.to_string().contains("gitea.local"), "{e}");
    }

    #[test]
    fn branch_name_is_stable() {
        assert_eq!(branch("demo"), "mcb/init-demo");
        let _ = crate::git::branch_name("init", "demo", None).unwrap();
    }
}
