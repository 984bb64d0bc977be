//! `mcb rotate NAME --finish`: the second step of a rotation with an external side. The
//! credentials a rotation replaced (the old deploy key at GitHub, the old registered OIDC
//! clients at their issuers) are deleted only once the rotation is on the remote base
//! branch, which is what the cluster syncs from: the base is fetched, and the commit that
//! made the rotation must be one of its ancestors (or, after a squash or rebase merge, the
//! base's inventory must hold the new credential). A deploy key is also refused while
//! GitHub reports it unused since the rotation. Then the retiring facts leave the
//! inventory (and the client's Secret) in a commit of their own.

use crate::creds::oidc::RETIRING_CLIENT_ID;
use crate::creds::{deploy_key, oidc};
use crate::fileset::FileSet;
use crate::forge::{Forge, LastUsed};
use crate::git::{ConfigRepo, Fetched, PushOptions};
use crate::inventory::{CredentialKind, Inventory};
use crate::ops::publish::{self, PrTarget};
use crate::ops::Error as OpsError;
use crate::progress::Progress;
use crate::repo::installation;
use crate::repo::seal::SopsSealer;
use crate::repo::{self, SealError, Sealer};
use crate::{Env, Error};

use super::forge::{connect, KEY_ID, PREVIOUS_FINGERPRINT, RETIRING_KEY_ID};
use super::{Report, Request, Work};

/// One replaced credential waiting for removal.
enum Pending {
    /// the old deploy key (forge id), and the new one's id if known
    DeployKey { old: u64, new: Option<u64> },
    /// the old client of registered client `id`
    Client { id: String, old_client: String },
}

impl Pending {
    fn kind_id(&self) -> (CredentialKind, &str) {
        match self {
            Pending::DeployKey { .. } => (deploy_key::KIND, "flux"),
            Pending::Client { id, .. } => (oidc::KIND, id),
        }
    }

    fn target(&self) -> String {
        let (k, i) = self.kind_id();
        format!("{k}/{i}")
    }
}

fn pending(name: &str, inv: &Inventory) -> Result<Vec<Pending>, Error> {
    let mut out = Vec::new();
    if let Some(old) = inv
        .get(deploy_key::KIND, "flux")
        .and_then(|c| c.extra.get(RETIRING_KEY_ID).map(|v| (c, v)))
    {
        let (c, v) = old;
        let old = v.parse().map_err(|_| OpsError::NotRotatable {
            target: super::Target::DeployKey.to_string(),
            why: format!("{RETIRING_KEY_ID} {v:?} in the inventory is not a number"),
        })?;
        let new = c.extra.get(KEY_ID).and_then(|v| v.parse().ok());
        out.push(Pending::DeployKey { old, new });
    }
    for c in inv.credentials.iter().filter(|c| c.kind == oidc::KIND) {
        if let Some(old) = c.extra.get(RETIRING_CLIENT_ID) {
            out.push(Pending::Client {
                id: c.id.clone(),
                old_client: old.clone(),
            });
        }
    }
    if out.is_empty() {
        return Err(OpsError::NotRotatable {
            target: "--finish".into(),
            why: format!("installation {name} has no replaced credential waiting for removal (no {RETIRING_KEY_ID} or {RETIRING_CLIENT_ID} in its credentials.yaml)"),
        }
        .into());
    }
    Ok(out)
}

/// Runs `--finish`.
pub(super) fn finish(
    env: &Env,
    root: &std::path::Path,
    req: &Request,
    pr: Option<PrTarget>,
    progress: &mut dyn Progress,
) -> Result<Report, Error> {
    let repo_git = crate::ops::transaction::open(root, progress)?;
    let root = repo_git.root().to_path_buf();
    let name = req.name.as_str();
    let inst = installation::load(&root, name)?;
    let todo = pending(name, &inst.inventory)?;
    let has_key = todo.iter().any(|p| matches!(p, Pending::DeployKey { .. }));
    if has_key && pr.is_none() {
        return Err(OpsError::MissingInput {
            what: "--push --pr".into(),
            why: "--finish deletes the old deploy key through the GitHub API and proposes the inventory change".into(),
        }
        .into());
    }
    let mut remote = req.publish.push.clone().unwrap_or_else(|| PushOptions {
        remote: "origin".into(),
        auth: Default::default(),
    });
    // With only a GitHub App's credentials, its installation token fetches the base (as
    // it pushes, `publish::preflight`).
    if let (None, Some(target), false) = (&remote.auth.token, &pr, req.publish.dry_run) {
        if matches!(target.auth, crate::forge::Auth::App { .. }) {
            let gh = publish::connect(&repo_git, env, &req.publish, target, Default::default())?;
            remote.auth.token = gh.installation_token().cloned();
        }
    }
    let mut planned = Vec::new();
    let mut notes = Vec::new();
    // A secret file changes only for registered clients: then the secrets are opened.
    let mut work = match todo.iter().any(|p| matches!(p, Pending::Client { .. })) {
        true => Some(Work::load(env, &root, req)?),
        false => None,
    };
    let mut inv = inst.inventory.clone();
    if req.publish.dry_run {
        planned.push(format!(
            "fetch {} from remote {} and check that each rotation is on it",
            req.publish.base.as_deref().unwrap_or("the default branch"),
            remote.remote
        ));
    } else {
        progress.action(&format!("fetching the base branch from {}", remote.remote));
        let base = repo_git
            .fetch_base(&remote, req.publish.base.as_deref())?
            .ok_or_else(|| OpsError::RotationNotMerged {
                target: todo[0].target(),
                commit: None,
                base: format!("{} (empty)", remote.remote),
            })?;
        for p in &todo {
            check_merged(&repo_git, name, &inst.inventory, p, &base)?;
        }
        // Where its commit will go, checked before anything is deleted.
        let owned = repo::installation_dir(name);
        let branch = finish_branch(name)?;
        let with_token = crate::git::PublishOptions {
            push: req.publish.push.as_ref().map(|_| remote.clone()),
            ..req.publish.clone()
        };
        publish::base_of(&repo_git, &branch, &with_token, &[&owned], progress)?;
        progress.success(&format!(
            "the rotation is on {}/{} ({})",
            remote.remote,
            base.branch,
            &base.tip[..12]
        ));
    }
    let gh = match (&pr, has_key, req.publish.dry_run) {
        (Some(pr), true, false) => Some(connect(&repo_git, env, &req.publish, pr)?),
        _ => None,
    };
    for p in &todo {
        let (kind, id) = p.kind_id();
        let mut entry = inv.get(kind, id).cloned().expect("pending entries exist");
        match p {
            Pending::DeployKey { old, new } => {
                entry.extra.remove(RETIRING_KEY_ID);
                let previous = entry.extra.remove(PREVIOUS_FINGERPRINT);
                let Some(gh) = &gh else {
                    planned.push(format!("delete the old deploy key {old} at GitHub"));
                    inv.upsert(entry);
                    continue;
                };
                if let Some(new) = new {
                    check_used(gh, *new, entry.rotated.as_deref())?;
                }
                match gh.delete_deploy_key(*old) {
                    Ok(()) | Err(crate::forge::Error::NotFound { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
                progress.success(&format!(
                    "deleted the old deploy key {old} ({}) from {}",
                    previous.as_deref().unwrap_or("previous key"),
                    gh.repo()
                ));
            }
            Pending::Client { id, old_client }
                if entry.extra.get("provider").map(String::as_str) == Some("dex") =>
            {
                // Dex stops serving the old id: it leaves the re-rendered config; nothing
                // is called. Its variable stays in dex-clients until the next rotation: Flux
                // applies dex-clients before Dex's new config, and a Dex pod restarting
                // with the old config in between must still find it.
                entry.extra.remove(RETIRING_CLIENT_ID);
                let w = work.as_mut().expect("loaded for clients");
                w.rerender = true;
                progress.success(&format!(
                    "Dex no longer serves the old client id {old_client} of oidc/{id} once this is merged"
                ));
            }
            Pending::Client { id, old_client } => {
                entry.extra.remove(RETIRING_CLIENT_ID);
                let w = work.as_mut().expect("loaded for clients");
                let secret_name = oidc::registered_secret_name(id);
                let secret = w.secret(&secret_name)?;
                let old = oidc::RegisteredClient::stored(secret, oidc::RETIRING_PREFIX)?;
                let mut kept = super::clone_secret(secret);
                kept.data
                    .retain(|k, _| !k.starts_with(oidc::RETIRING_PREFIX));
                if req.publish.dry_run {
                    planned.push(format!(
                        "delete the old client {old_client} of oidc/{id} at its issuer (RFC 7592)"
                    ));
                } else if let Some(old) = old {
                    match oidc::delete(&old) {
                        Ok(()) => {}
                        Err(e) if oidc::is_gone(&e) => notes.push(format!(
                            "the old client {old_client} of oidc/{id} was already gone at the issuer"
                        )),
                        Err(e) => return Err(e.into()),
                    }
                    progress.success(&format!(
                        "deleted the old client {old_client} of oidc/{id} at its issuer"
                    ));
                }
                w.put_secret(kept);
            }
        }
        inv.upsert(entry);
    }
    commit(
        &repo_git, env, req, pr, inv, work, &todo, planned, notes, progress,
    )
}

/// Fails unless the rotation of `p` is on the fetched `base`: its commit is an ancestor,
/// or (squash and rebase merges make new commits) the base's inventory holds the new
/// credential.
fn check_merged(
    repo_git: &ConfigRepo,
    name: &str,
    inv: &Inventory,
    p: &Pending,
    base: &Fetched,
) -> Result<(), Error> {
    let (kind, id) = p.kind_id();
    let path = repo::credentials_path(name);
    let fingerprint = inv
        .get(kind, id)
        .map(|c| c.fingerprint.clone())
        .unwrap_or_default();
    let holds = |text: Option<&str>| {
        text.and_then(|t| Inventory::parse(&path, t).ok())
            .and_then(|i| i.get(kind, id).map(|c| c.fingerprint == fingerprint))
            .unwrap_or(false)
    };
    let commit = repo_git.introduced(&path, &holds)?;
    if let Some(c) = &commit {
        if repo_git.is_ancestor(c, &base.tip)? {
            return Ok(());
        }
    }
    if holds(repo_git.file_at(&base.tip, &path)?.as_deref()) {
        return Ok(());
    }
    Err(OpsError::RotationNotMerged {
        target: p.target(),
        commit,
        base: base
            .tracking
            .strip_prefix("refs/remotes/")
            .unwrap_or(&base.tracking)
            .to_owned(),
    }
    .into())
}

/// Fails while GitHub says the new deploy key was not used since the rotation (Flux
/// has not fetched with it): deleting the old one would lock Flux out.
fn check_used(gh: &crate::forge::GitHub, new: u64, rotated: Option<&str>) -> Result<(), Error> {
    let rfc = time::format_description::well_known::Rfc3339;
    let parse = |t: &str| time::OffsetDateTime::parse(t, &rfc).ok();
    let detail = match gh.deploy_key_last_used(new)? {
        LastUsed::Unknown => return Ok(()),
        LastUsed::At(t) => match (parse(&t), rotated.and_then(parse)) {
            (Some(used), Some(rot)) if used < rot => {
                format!("GitHub says the new deploy key {new} was last used at {t}, before the rotation ({})", rotated.unwrap_or_default())
            }
            _ => return Ok(()),
        },
        LastUsed::Never => format!("GitHub says the new deploy key {new} was never used"),
    };
    Err(OpsError::NewCredentialUnused {
        target: "deploy-key/flux".into(),
        detail,
    }
    .into())
}

/// Commits the inventory (and the Secrets) without the retiring facts, on branch
/// `mcb/rotate-<name>-finish`.
#[allow(clippy::too_many_arguments)] // the parts of the finished run
fn commit(
    repo_git: &ConfigRepo,
    env: &Env,
    req: &Request,
    pr: Option<PrTarget>,
    inv: Inventory,
    work: Option<Work<'_>>,
    todo: &[Pending],
    planned: Vec<String>,
    notes: Vec<String>,
    progress: &mut dyn Progress,
) -> Result<Report, Error> {
    let name = req.name.as_str();
    let root = repo_git.root().to_path_buf();
    let targets: Vec<String> = todo.iter().map(Pending::target).collect();
    let request = publish::Request {
        branch: finish_branch(name)?,
        message: format!(
            "chore({name}): replaced credentials removed ({})\n\nGenerated by mcb rotate --finish.",
            targets.join(", ")
        ),
        title: format!("Replaced credentials of {name} removed"),
        owned: vec![repo::installation_dir(name)],
        summary: crate::forge::body::ChangeSummary {
            headline: format!(
                "The credentials replaced by the last rotation of `{name}` ({}) were deleted where they were registered; the rotation was verified to be on the base branch first.",
                targets.join(", ")
            ),
            installations: vec![name.to_owned()],
            ..Default::default()
        },
        reviewers: Vec::new(),
        needs: Default::default(),
    };
    // With work: the rotated files sealed with the installation's keys; without: only the
    // inventory, which holds no secret.
    let mut work = work;
    let (files, sealer): (FileSet, Box<dyn Sealer>) = match work.as_mut() {
        Some(w) => {
            w.inst.inventory = inv;
            let sops_yaml = w.sops_config(&root)?;
            let files = w.desired_files(&root, &sops_yaml)?;
            let sealer = SopsSealer::new(env, &root, &sops_yaml, &w.ids)?;
            (files, Box::new(sealer))
        }
        None => {
            let mut files = FileSet::new();
            files.plain(repo::credentials_path(name), inv.to_yaml());
            (files, Box::new(NoSecrets))
        }
    };
    let mut make_plan = || repo::plan(&root, &files, &[], sealer.as_ref()).map_err(Error::from);
    let mut outcome = publish::run(
        repo_git,
        env,
        &request,
        &req.publish,
        pr,
        &mut make_plan,
        None,
        progress,
    )?;
    let mut all = planned;
    all.append(&mut outcome.planned);
    outcome.planned = all;
    Ok(Report {
        installation: name.to_owned(),
        rotated: Vec::new(),
        notes,
        age_key_file: None,
        outcome,
    })
}

/// The branch of the finishing commit: `mcb/rotate-<name>-finish`.
fn finish_branch(name: &str) -> Result<String, Error> {
    Ok(crate::git::branch_name(
        "rotate",
        &format!("{name}-finish"),
        None,
    )?)
}

/// A finish without registered clients writes no secret file.
struct NoSecrets;

impl Sealer for NoSecrets {
    fn seal(
        &self,
        path: &str,
        _: &secrecy::SecretBox<Vec<u8>>,
        _: Option<&[u8]>,
    ) -> Result<Vec<u8>, SealError> {
        Err(SealError::new(format!(
            "{path}: --finish writes no secrets"
        )))
    }
}
