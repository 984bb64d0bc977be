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
//! Size: the steps above in order, one function each, sharing the request and the report;
//! what talks to issuers and GitHub is `init/external.rs`.

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
use crate::pki;
use crate::progress::Progress;
use crate::render::{self, MapSource, Templates};
use crate::repo;
use crate::repo::installation::{self, Loaded, AGE_KEY_KIND};
use crate::repo::seal::SopsSealer;
use crate::sops;
use crate::spec::{self, GitAuth, Installation};
use crate::{Env, Error};

mod deploy_key;
mod external;
pub use crate::ops::identity::default_key_path;
pub use deploy_key::DeployKeyReport;
pub use external::{GithubAppSource, APP_SECRET};

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

/// The credentials of a new installation and the secrets that carry them.
struct Generated {
    age: sops::AgeKey,
    secrets: Vec<Secret>,
    /// the OIDC clients' consumer Secrets, by file name in `secrets/oidc-consumers/`
    consumers: Vec<(String, Secret)>,
    credentials: Vec<Credential>,
    github_app_install_url: Option<String>,
    /// Flux's deploy key's public line (`git.auth: ssh`)
    deploy_key: Option<String>,
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

fn generate(
    env: &Env,
    spec: &Installation,
    req: &Request,
    made: &mut external::Made,
    progress: &mut dyn Progress,
) -> Result<Generated, Error> {
    let name = spec.name.as_str();
    let created = rfc3339(env);
    let age = sops::generate_age_key(env);
    let mut credentials = vec![Credential {
        kind: AGE_KEY_KIND,
        id: "installation".into(),
        subject: Some(format!("SOPS age key of installation {name}")),
        fingerprint: age.recipient.clone(),
        not_before: None,
        not_after: None,
        created: created.clone(),
        rotated: None,
        file: None,
        extra: BTreeMap::new(),
    }];
    progress.generated(&format!("age key {}", age.recipient));
    let mut secrets = Vec::new();
    let mut consumers = Vec::new();

    // PKI: the cluster CA (imported or new), etcd and front-proxy CAs, SA key, kubeconfigs.
    let server = format!("https://{}:{}", spec.api_endpoint(), spec.api_port());
    let mut params = pki::Params::new(name, spec.cluster.namespace.as_str(), &server);
    params.key_type = spec.pki.key_type.into();
    params.kubernetes_minor = spec.kubernetes_minor();
    let cluster_pki = match &req.import_ca {
        Some((cert, key)) => {
            let ca = pki::import_ca_files(cert, key, env.now())?;
            pki::generate_with_ca(env, &params, ca)?
        }
        None => pki::generate(env, &params)?,
    };
    secrets.extend(cluster_pki.secrets());
    let pki_creds: Vec<Credential> = cluster_pki
        .credentials(&created)
        .into_iter()
        .map(|c| {
            let secret = c.extra.get("secret").cloned().unwrap_or_default();
            in_file(c, name, &secret)
        })
        .collect();
    for c in &pki_creds {
        progress.generated(&format!("{}/{} ({})", c.kind, c.id, c.fingerprint));
    }
    credentials.extend(pki_creds);

    // OIDC clients registered at an external issuer: before the GitHub App, because a
    // registration can be undone and a created app cannot.
    if let Some(issuer) = &req.oidc_issuer {
        let clients = external::register_clients(
            env,
            spec,
            issuer,
            req.oidc_initial_access_token.as_ref(),
            progress,
        )?;
        for r in clients {
            let id = r.credential.id.clone();
            if let Some(c) = spec.oidc.static_clients.iter().find(|c| c.id == id) {
                consumers.extend(creds::consumers::secrets(
                    c,
                    &creds::consumers::Credentials {
                        client_id: &r.client.client_id,
                        client_secret: r.client.client_secret.as_ref(),
                        issuer,
                    },
                ));
            }
            credentials.push(in_file(r.credential, name, &r.secret.name));
            secrets.push(r.secret);
            made.clients.push(r.client);
        }
    }

    // The GitHub App before the Git credential, which may be the app's.
    let mut app = external::github_app(
        env,
        spec,
        req.github_app.as_ref(),
        req.github_app_installation_id,
        made,
        progress,
    )?;

    // Git credential Flux clones with.
    let mut deploy_key = None;
    match spec.git.auth {
        GitAuth::Ssh => {
            let key = creds::deploy_key::generate(env, "flux", &format!("flux@{name}"))?;
            let known_hosts = match &req.git_known_hosts {
                Some(k) => k.clone(),
                None => default_known_hosts(&spec.git.url)?,
            };
            secrets.push(key.flux_secret("flux-system", "flux-system", &known_hosts));
            progress.generated(&format!("deploy-key/flux ({})", key.fingerprint));
            credentials.push(in_file(key.credential(env), name, "flux-system"));
            deploy_key = Some(key.public_openssh.clone());
        }
        GitAuth::GithubApp => match app.as_mut().and_then(|a| a.imported.take()) {
            Some(imported) => {
                let api = app.as_ref().map_or(crate::forge::DEFAULT_API, |a| &a.api_base);
                secrets.push(imported.flux_secret("flux-system", "flux-system", api));
                credentials.push(in_file(
                    imported.credential(env, "flux"),
                    name,
                    "flux-system",
                ));
            }
            // The app exists now and its key is only in Secret github-app: keep it.
            None if app.as_ref().is_some_and(|a| a.secret.is_some()) => progress.warn(&format!(
                "no flux-system Secret: the new GitHub App's installation id is unknown until it is installed; install it, set githubApp.appId and githubApp.installationId in {}, then run `mcb rotate {name} --only github-app --import KEY` with privateKey from {}",
                repo::spec_path(name),
                app_secret_path(name)
            )),
            None => {
                return Err(OpsError::MissingInput {
                    what: "--github-app-private-key FILE (or --create-github-app with --github-app-installation-id N)".into(),
                    why: "git.auth is github-app: Flux authenticates as the app's installation"
                        .into(),
                }
                .into())
            }
        },
    }
    let mut github_app_install_url = None;
    if let Some(a) = app {
        if let Some(s) = a.secret {
            credentials.extend(a.imported.map(|i| {
                let mut c = i.credential(env, "app");
                c.file = Some(app_secret_path(name));
                c
            }));
            secrets.push(s);
        }
        github_app_install_url = a.install_url;
    }

    // Dex static clients, unless registered at an external issuer above.
    let dex_static = req
        .oidc_issuer
        .is_none()
        .then_some(&spec.oidc.static_clients);
    let clients: Vec<creds::oidc::StaticClient> = dex_static
        .into_iter()
        .flatten()
        .map(|c| creds::oidc::StaticClient {
            id: c.id.clone(),
            name: c.name.clone().unwrap_or_else(|| c.id.clone()),
            redirect_uris: c.redirect_uris.clone(),
            public: c.public,
        })
        .collect();
    if !clients.is_empty() {
        let dex = creds::oidc::dex_static_clients(env, &clients, &BTreeMap::new())?;
        let issuer = spec.oidc_issuer();
        for c in dex_static.into_iter().flatten() {
            let value = dex.secret_of(&c.id);
            consumers.extend(creds::consumers::secrets(
                c,
                &creds::consumers::Credentials {
                    client_id: &c.id,
                    client_secret: value.as_ref(),
                    issuer: &issuer,
                },
            ));
        }
        secrets.push(dex.secret);
        credentials.extend(
            dex.credentials
                .into_iter()
                .map(|c| in_file(c, name, creds::oidc::DEX_CLIENTS_SECRET)),
        );
    }
    if !spec.oidc.connectors.is_empty() {
        let mut given = Vec::new();
        // A connector with `clientSecret` reads a shared secret, not dex-connectors.
        for c in spec
            .oidc
            .connectors
            .iter()
            .filter(|c| c.client_secret.is_none())
        {
            let var = creds::oidc::connector_secret_env(c.id.as_str());
            match req.connector_secrets.get(&var) {
                Some(s) => given.push(creds::oidc::ConnectorSecret {
                    id: c.id.as_str().to_owned(),
                    client_secret: s.clone(),
                }),
                None => progress.warn(&format!(
                    "Dex connector {} has no client secret (set MCB_{} when running init, or give it `clientSecret` from a shared secret): Dex cannot use it and `mcb check` fails (dex-connector-secret) until {}dex-connectors.sops.yaml holds it",
                    c.id.as_str(),
                    var,
                    repo::secrets_dir(name)
                )),
            }
        }
        if !given.is_empty() {
            secrets.push(creds::oidc::dex_connectors_secret(&given)?);
        }
    }
    Ok(Generated {
        age,
        secrets,
        consumers,
        credentials,
        github_app_install_url,
        deploy_key,
    })
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

/// Records which repo file holds a credential (the Secret `secret` of installation `name`).
fn in_file(mut c: Credential, name: &str, secret: &str) -> Credential {
    c.file = Some(format!("{}{secret}.sops.yaml", repo::secrets_dir(name)));
    c
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
