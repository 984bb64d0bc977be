//! `mcb rotate`: replaces an installation's due (or named) credentials and publishes the
//! result as one reviewed change on branch `mcb/rotate-<name>[-<what>]`. Steps: load the
//! installation and decrypt its secrets; pick the targets; rotate each one in memory
//! (secrets + inventory); plan only the files whose plaintext changed (plus every secret
//! file when recipients or data keys change); publish. Files of credentials that were not
//! rotated keep their bytes. It never prints; it talks to the network only to register
//! the successor of a registered OIDC client (RFC 7591) and a new deploy key at the forge
//! (never in a dry run, which lists those calls instead). Old credentials with an
//! external side stay valid until `--finish` (`finish.rs`) removes them after the merge.
//!
//! Size: the use case's flow and its in-memory [`Work`], the state every kind rotates on;
//! picking targets is `targets.rs`, each kind `kinds.rs`, CA phases `ca.rs`, `--finish` `finish.rs`.

mod ca;
mod finish;
mod forge;
mod kinds;
mod targets;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretBox, SecretString};
use time::Duration;

use crate::forge::body::{ChangeSummary, CredentialAction, CredentialChange};
use crate::git::{ConfigRepo, PublishOptions};
use crate::inventory::Credential;
use crate::k8s::Secret;
use crate::ops::publish::{self, Outcome, PrTarget};
use crate::ops::transaction::KeyFile;
use crate::progress::Progress;
use crate::repo::installation::{self, Loaded};
use crate::repo::seal::SopsSealer;
use crate::repo::{self, SealError, Sealer};
use crate::sops::{self, Format, Identities};
use crate::{pki, Env, Error};

pub(crate) use forge::KEY_ID;
pub use targets::{only_values, parse_only, Target};

/// How far ahead `mcb rotate` looks for expiring credentials unless told.
pub const DEFAULT_DUE_WITHIN: Duration = Duration::days(30);

/// Everything `mcb rotate` needs, resolved by the CLI.
pub struct Request {
    /// the installation
    pub name: String,
    /// rotate exactly these (`--only`); empty: what expires within `due_within`
    pub only: Vec<Target>,
    /// the due window
    pub due_within: Duration,
    /// the age key that opens the installation's secrets (else the one identity lookup,
    /// [`crate::ops::identity`])
    pub age_key_file: Option<PathBuf>,
    /// where an age-key rotation writes the new key file (must not exist)
    pub age_key_out: Option<PathBuf>,
    /// a new GitHub App private key (PEM), for `--only github-app`
    pub github_app_key: Option<SecretString>,
    /// the initial access token of OIDC issuers that must register a client anew to
    /// change its secret (RFC 7591), for `--only oidc/<registered client>`
    pub oidc_initial_access_token: Option<SecretString>,
    /// `--validity`: lifetime of re-issued kubeconfig client certificates (else a year)
    pub validity: Option<Duration>,
    /// `--finish`: delete the deploy key a rotation replaced, once its PR is merged
    pub finish: bool,
    /// branch, commit and push settings
    pub publish: PublishOptions,
    /// the pull request, with `--pr`
    pub pr: Option<PrTarget>,
}

/// What `mcb rotate` did (`-o json`: docs/json.md).
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// the installation
    pub installation: String,
    /// the credentials replaced, with before/after fingerprints
    pub rotated: Vec<CredentialChange>,
    /// what the user must do by hand (delete an old key at the forge, next phase…)
    pub notes: Vec<String>,
    /// the new age key file of an age-key rotation
    pub age_key_file: Option<PathBuf>,
    /// files, branch, commit, push, PR
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// One decrypted secret file of the installation.
struct SecretFile {
    /// the decrypted bytes as they are now
    plain: SecretBox<Vec<u8>>,
    /// parsed
    secret: Secret,
}

/// The installation being rotated, in memory.
pub(crate) struct Work<'a> {
    env: &'a Env,
    inst: Loaded,
    /// repo path -> decrypted file
    files: BTreeMap<String, SecretFile>,
    /// repo paths whose plaintext changed
    changed: BTreeSet<String>,
    /// re-seal every secret file (recipients changed)
    reseal_all: bool,
    /// give every secret file a new data key
    fresh_data_keys: bool,
    changes: Vec<CredentialChange>,
    notes: Vec<String>,
    /// a branch suffix that overrides the targets' (a later step of a multi-step rotation
    /// gets its own branch and PR)
    branch_suffix: Option<String>,
    /// a new age key to hand to the user after the commit (key file text)
    new_key_file: Option<SecretString>,
    /// the identities that open the installation's files (after this rotation too)
    ids: Identities,
    /// the installation's own age identities found (`AGE-SECRET-KEY-1…` lines)
    key_text: Option<SecretString>,
    github_app_key: Option<SecretString>,
    /// the public key line of a new deploy key, to register at the forge
    new_deploy_key: Option<String>,
    oidc_initial_access_token: Option<SecretString>,
    /// `--dry-run`: no issuer or forge is called; what would be is in `planned`
    dry_run: bool,
    /// lifetime of re-issued kubeconfig certificates
    validity: Option<Duration>,
    /// the calls to issuers and the forge a dry run leaves out, in order
    planned: Vec<String>,
    /// clients registered at issuers by this run (`oidc/<id>`, the client): deleted again
    /// if the run fails before its commit holds them
    registered: Vec<(String, crate::creds::oidc::RegisteredClient)>,
    /// Dex's served client ids changed: the manifests are rendered into the commit
    rerender: bool,
}

/// Runs `mcb rotate`.
pub fn run(
    env: &Env,
    root: &Path,
    mut req: Request,
    progress: &mut dyn Progress,
) -> Result<Report, Error> {
    let pr = req.pr.take();
    if req.finish {
        return finish::finish(env, root, &req, pr, progress);
    }
    let repo_git = crate::ops::transaction::open(root, progress)?;
    let root = repo_git.root().to_path_buf();
    let mut work = Work::load(env, &root, &req)?;
    let targets = match req.only.is_empty() {
        true => {
            let inputs = targets::Inputs {
                age_key_out: req.age_key_out.is_some(),
                github_app_key: req.github_app_key.is_some(),
            };
            let due = targets::due(
                &req.name,
                &work.inst.inventory,
                env.now() + req.due_within,
                &work.inst.spec.rotation.max_age,
                inputs,
            );
            work.notes.extend(due.elsewhere);
            due.targets
        }
        false => req.only.clone(),
    };
    if targets.is_empty() && work.notes.is_empty() {
        progress.up_to_date(&format!(
            "nothing of {} is due within {} days",
            req.name,
            req.due_within.whole_days()
        ));
    }
    progress.advance("credentials rotated", 0, targets.len());
    for (i, t) in targets.iter().enumerate() {
        progress.action(&format!("rotating {t}"));
        t.apply(&mut work)?;
        progress.advance("credentials rotated", i + 1, targets.len());
    }
    if !targets.is_empty() {
        // superseded certificates are listed until they expire, not longer
        let now = env.now();
        work.inst
            .inventory
            .credentials
            .retain(|c| c.kind != crate::pki::SUPERSEDED_KUBECONFIG || !targets::expired(c, now));
    }
    if work.new_key_file.is_some() && req.age_key_out.is_none() && !req.publish.dry_run {
        return Err(crate::ops::Error::MissingInput {
            what: "--age-key-out FILE".into(),
            why: "an age-key rotation makes a new private key, written only there".into(),
        }
        .into());
    }
    let registered = std::mem::take(&mut work.registered);
    let branch = work.branch(&req)?;
    let result = forge::register_new_key(&repo_git, &mut work, &req.publish, pr.as_ref(), progress)
        .and_then(|_| publish_work(&repo_git, env, work, &req, pr, &branch, &targets, progress));
    if result.is_err() {
        forget_uncommitted(&repo_git, &req.name, &branch, registered, progress);
    }
    result
}

/// After a failed run: deletes the clients it registered that its branch does not hold
/// (the run failed before its commit), so no secret exists only at the issuer.
fn forget_uncommitted(
    repo_git: &ConfigRepo,
    name: &str,
    branch: &str,
    registered: Vec<(String, crate::creds::oidc::RegisteredClient)>,
    progress: &mut dyn Progress,
) {
    use crate::creds::oidc;
    let path = repo::credentials_path(name);
    let committed = repo_git
        .file_at(branch, &path)
        .ok()
        .flatten()
        .and_then(|text| crate::inventory::Inventory::parse(&path, &text).ok());
    for (id, client) in registered {
        let held = committed.as_ref().is_some_and(|inv| {
            inv.get(oidc::KIND, &id)
                .and_then(|c| c.extra.get(oidc::CLIENT_ID))
                .is_some_and(|c| *c == client.client_id)
        });
        if !held && oidc::delete(&client).is_ok() {
            progress.warn(&format!(
                "deleted the client {} registered for oidc/{id}: nothing was committed",
                client.client_id
            ));
        }
    }
}

#[allow(clippy::too_many_arguments)] // the run's parts, each used once
fn publish_work(
    repo_git: &ConfigRepo,
    env: &Env,
    work: Work<'_>,
    req: &Request,
    pr: Option<PrTarget>,
    branch: &str,
    targets: &[Target],
    progress: &mut dyn Progress,
) -> Result<Report, Error> {
    let root = repo_git.root().to_path_buf();
    let name = req.name.clone();
    let sops_yaml = work.sops_config(&root)?;
    let files = work.desired_files(&root, &sops_yaml)?;
    let inner = SopsSealer::new(env, &root, &sops_yaml, &work.ids)?;
    let sealer = RotatingSealer {
        inner,
        env,
        ids: &work.ids,
        fresh: work.fresh_data_keys,
    };
    let described: Vec<String> = targets.iter().map(Target::to_string).collect();
    let request = publish::Request {
        branch: branch.to_owned(),
        message: format!(
            "chore({name}): rotate {}\n\nGenerated by mcb rotate.",
            described.join(", ")
        ),
        title: format!("Rotate {} of {name}", described.join(", ")),
        owned: vec![repo::installation_dir(&name), repo::SOPS_CONFIG.to_owned()],
        summary: ChangeSummary {
            headline: format!("Rotate credentials of installation `{name}` with mcb"),
            installations: vec![name.clone()],
            credentials: work.changes.clone(),
            ..ChangeSummary::default()
        },
        reviewers: Vec::new(),
        needs: Default::default(),
    };
    let mut make_plan = || repo::plan(&root, &files, &[], &sealer).map_err(Error::from);
    let key_text = work.new_key_file.clone();
    let key = match (&req.age_key_out, &key_text) {
        (Some(path), Some(text)) => Some(KeyFile {
            path: path.clone(),
            text: text.clone(),
        }),
        _ => None,
    };
    let mut outcome = if targets.is_empty() {
        Outcome::default()
    } else {
        publish::run(
            repo_git,
            env,
            &request,
            &req.publish,
            pr,
            &mut make_plan,
            key.as_ref(),
            progress,
        )?
    };
    let mut planned = work.planned;
    planned.append(&mut outcome.planned);
    outcome.planned = planned;
    Ok(Report {
        installation: name,
        age_key_file: key_text
            .is_some()
            .then(|| req.age_key_out.clone())
            .flatten()
            .filter(|_| !req.publish.dry_run),
        rotated: work.changes,
        notes: work.notes,
        outcome,
    })
}

impl<'a> Work<'a> {
    /// Loads the installation and decrypts every secret file.
    fn load(env: &'a Env, root: &Path, req: &Request) -> Result<Self, Error> {
        let inst = installation::load(root, &req.name)?;
        let ids =
            crate::ops::identity::lookup(req.age_key_file.as_deref(), &[&req.name])?.require()?;
        // The installation's own keys, carried into the new key file of an age-key rotation.
        let own = ids.x25519_for(&inst.own_recipients());
        let key_text = (!own.is_empty()).then(|| {
            SecretString::from(
                own.iter()
                    .map(|k| format!("{}\n", k.identity.expose_secret()))
                    .collect::<String>(),
            )
        });
        let mut files = BTreeMap::new();
        let dir = repo::secrets_dir(&req.name);
        let consumers = repo::consumers_dir(&req.name);
        let paths = repo::secret_files(root, &req.name)?
            .into_iter()
            .map(|f| format!("{dir}{f}"))
            .chain(
                repo::consumer_files(root, &req.name)?
                    .into_iter()
                    .map(|f| format!("{consumers}{f}")),
            )
            // and the ones no Flux layer applies (a created GitHub App's own Secret)
            .chain(repo::forge_secret_files(root, &req.name)?);
        for rel in paths {
            let abs = root.join(&rel);
            let enc = crate::fsutil::read(&abs)?;
            let plain = sops::decrypt(&enc, Format::Yaml, &ids, Default::default())
                .map_err(|e| e.with_file(&abs))?;
            let secret = pki::parse_secret(&rel, &plain)?;
            files.insert(rel, SecretFile { plain, secret });
        }
        Ok(Work {
            env,
            inst,
            files,
            changed: BTreeSet::new(),
            reseal_all: false,
            fresh_data_keys: false,
            changes: Vec::new(),
            notes: Vec::new(),
            branch_suffix: None,
            new_key_file: None,
            ids,
            key_text,
            github_app_key: req.github_app_key.clone(),
            new_deploy_key: None,
            oidc_initial_access_token: req.oidc_initial_access_token.clone(),
            dry_run: req.publish.dry_run,
            validity: req.validity,
            planned: Vec::new(),
            registered: Vec::new(),
            rerender: false,
        })
    }

    fn name(&self) -> &str {
        self.inst.name()
    }

    /// The rotation's branch: `mcb/rotate-<name>[-<what>]`.
    fn branch(&self, req: &Request) -> Result<String, Error> {
        let what = self
            .branch_suffix
            .clone()
            .unwrap_or_else(|| targets::branch_suffix(&req.only));
        Ok(crate::git::branch_name(
            "rotate",
            &format!("{}{what}", req.name),
            None,
        )?)
    }

    fn now(&self) -> String {
        pki::rfc3339(self.env.now())
    }

    /// The decrypted Secrets, in file order.
    fn secrets(&self) -> Vec<Secret> {
        self.files
            .values()
            .map(|f| clone_secret(&f.secret))
            .collect()
    }

    /// The repo path of the file holding Secret `name` (not a consumer's copy).
    fn file_of(&self, name: &str) -> Option<String> {
        let consumers = repo::consumers_dir(self.name());
        self.files
            .iter()
            .find(|(p, f)| f.secret.name == name && !p.starts_with(&consumers))
            .map(|(p, _)| p.clone())
    }

    /// The Secret `name`, or an error saying which file was expected.
    fn secret(&self, name: &str) -> Result<&Secret, Error> {
        self.file_of(name)
            .and_then(|p| self.files.get(&p))
            .map(|f| &f.secret)
            .ok_or_else(|| {
                crate::ops::Error::MissingInput {
                    what: format!("Secret {name} in {}", repo::secrets_dir(self.name())),
                    why: "the credential to rotate lives there".into(),
                }
                .into()
            })
    }

    /// Replaces Secret `s` (same name) in its file, or adds a file for it.
    fn put_secret(&mut self, s: Secret) {
        let path = self.file_of(&s.name).unwrap_or_else(|| {
            format!(
                "{}{}",
                repo::secrets_dir(self.name()),
                crate::ops::init::secret_file(&s)
            )
        });
        self.put_secret_at(path, s);
    }

    /// Writes the Secrets of OIDC client `id`'s consumers (spec `consumers`) with `creds`,
    /// in this rotation's commit.
    fn give_consumers(&mut self, id: &str, creds: &crate::creds::consumers::Credentials<'_>) {
        let Some(client) = self
            .inst
            .spec
            .oidc
            .static_clients
            .iter()
            .find(|c| c.id == id)
        else {
            return;
        };
        let dir = repo::consumers_dir(self.name());
        for (file, s) in crate::creds::consumers::secrets(client, creds) {
            self.put_secret_at(format!("{dir}{file}"), s);
        }
    }

    /// The installation's manifests rendered from its spec and the inventory as this run
    /// leaves it (Dex's static clients follow the inventory's served client ids).
    fn rendered(&self, root: &Path) -> Result<crate::fileset::FileSet, Error> {
        let templates = crate::render::repo_templates(root)?;
        let spec = &self.inst.spec;
        let shared = spec.shared_secrets.iter().map(|r| r.name().as_str());
        let mut secret_files = repo::listed_secret_files(root, self.name(), shared)?;
        // Consumer files this run adds are listed too.
        let consumers = repo::consumers_dir(self.name());
        for p in self.files.keys() {
            if let Some(f) = p.strip_prefix(&consumers) {
                let listed = format!("{}/{f}", crate::creds::consumers::DIR);
                if !secret_files.contains(&listed) {
                    secret_files.push(listed);
                }
            }
        }
        let mut source = crate::render::MapSource::default();
        for f in self.files.values() {
            for (k, v) in &f.secret.data {
                source = source.with(
                    &f.secret.name,
                    k,
                    &String::from_utf8_lossy(v.expose_secret()),
                );
            }
        }
        Ok(crate::render::render(
            &templates,
            spec,
            &secret_files,
            &self.inst.inventory,
            &source,
        )?)
    }

    /// Writes Secret `s` to the file at repo path `path` (a consumer's copy).
    fn put_secret_at(&mut self, path: String, s: Secret) {
        let plain = s.to_yaml();
        self.files
            .insert(path.clone(), SecretFile { plain, secret: s });
        self.changed.insert(path);
    }

    /// Records a rotated credential: inventory entry (keeping `created`) and PR line.
    fn record(&mut self, mut after: Credential) {
        let before = self.inst.inventory.get(after.kind, &after.id).cloned();
        if let Some(b) = &before {
            after.created = b.created.clone();
            after.file = after.file.or_else(|| b.file.clone());
        }
        after.rotated = Some(self.now());
        self.note_change(&after, before.map(|b| b.fingerprint));
        self.inst.inventory.upsert(after);
    }

    /// A PR line: `after`'s public facts, and the fingerprint it replaces.
    fn note_change(&mut self, after: &Credential, previous: Option<String>) {
        self.changes.push(CredentialChange {
            action: CredentialAction::Rotated,
            kind: after.kind.to_string(),
            id: after.id.clone(),
            fingerprint: Some(after.fingerprint.clone()),
            previous,
            not_after: after.not_after.clone(),
        });
    }

    /// `.sops.yaml` for every installation, with this one's updated recipients.
    fn sops_config(&self, root: &Path) -> Result<String, Error> {
        let others = installation::load_all(root)?;
        let mut all: Vec<&Loaded> = others.iter().filter(|l| l.name() != self.name()).collect();
        all.push(&self.inst);
        Ok(installation::sops_config(&all))
    }

    /// The files to plan: the inventory, `.sops.yaml`, the secret files that change, and
    /// the installation's rendered manifests when Dex's served clients change.
    fn desired_files(
        &self,
        root: &Path,
        sops_yaml: &str,
    ) -> Result<crate::fileset::FileSet, Error> {
        let mut files = match self.rerender {
            true => self.rendered(root)?,
            false => crate::fileset::FileSet::new(),
        };
        files.plain(
            repo::credentials_path(self.name()),
            self.inst.inventory.to_yaml(),
        );
        files.plain(repo::SOPS_CONFIG, sops_yaml.to_owned());
        let all = self.reseal_all || self.fresh_data_keys;
        for (path, f) in &self.files {
            if all || self.changed.contains(path) {
                let bytes = f.plain.expose_secret().clone();
                files.insert(
                    path.clone(),
                    crate::fileset::Content::Secret(SecretBox::new(Box::new(bytes))),
                );
            }
        }
        Ok(files)
    }
}

/// A copy of a Secret (Secret holds `SecretBox` values, which are not `Clone`).
fn clone_secret(s: &Secret) -> Secret {
    let mut c = Secret::new(s.name.clone(), s.namespace.clone(), s.type_.clone());
    c.labels = s.labels.clone();
    c.annotations = s.annotations.clone();
    for (k, v) in &s.data {
        c = c.with(k.clone(), v.expose_secret().clone());
    }
    c
}

/// The init sealer, plus a new data key for every file when asked (sops `rotate`).
struct RotatingSealer<'a> {
    inner: SopsSealer<'a>,
    env: &'a Env,
    ids: &'a Identities,
    fresh: bool,
}

impl Sealer for RotatingSealer<'_> {
    fn seal(
        &self,
        path: &str,
        plain: &SecretBox<Vec<u8>>,
        existing: Option<&[u8]>,
    ) -> Result<Vec<u8>, SealError> {
        let sealed = self.inner.seal(path, plain, existing)?;
        if !self.fresh {
            return Ok(sealed);
        }
        sops::rotate_data_key(
            self.env,
            &sealed,
            Format::from_path(Path::new(path)),
            self.ids,
        )
        .map_err(|e| SealError::caused(path, &e))
    }
}
