//! The forge side of a deploy-key rotation: register the new public key before the PR
//! (Flux needs it the moment the PR merges), and `--finish`: delete the old key once the
//! PR is merged, recording that in the inventory as its own small commit.

use std::path::Path;

use crate::creds::deploy_key;
use crate::fileset::FileSet;
use crate::forge::{Auth, Forge, GitHub};
use crate::git::{ConfigRepo, PublishOptions};
use crate::ops::installation;
use crate::ops::publish::{self, PrTarget};
use crate::ops::Error as OpsError;
use crate::progress::Progress;
use crate::repo::{self, SealError, Sealer};
use crate::{Env, Error};

use super::{Report, Work};

/// Inventory `extra` key: the forge's id of this deploy key.
pub const KEY_ID: &str = "forgeKeyId";
/// Inventory `extra` key: the forge's id of the key this one replaced, until `--finish`.
pub const RETIRING_KEY_ID: &str = "retiringForgeKeyId";
/// Inventory `extra` key: the fingerprint of the key this one replaced, until `--finish`.
pub const PREVIOUS_FINGERPRINT: &str = "previousFingerprint";

/// A GitHub client for the config repo: `--github-repo`, else the push remote's URL.
fn connect(
    repo_git: &ConfigRepo,
    env: &Env,
    publish: &PublishOptions,
    pr: &PrTarget,
) -> Result<GitHub, Error> {
    let remote = publish
        .push
        .as_ref()
        .map(|p| p.remote.as_str())
        .unwrap_or("origin");
    let url = repo_git
        .git2()
        .find_remote(remote)
        .ok()
        .and_then(|r| r.url().ok().map(str::to_owned))
        .unwrap_or_default();
    let cfg = pr.options.config(&url, clone_auth(&pr.auth))?;
    Ok(GitHub::connect(cfg, env.now())?)
}

fn clone_auth(a: &Auth) -> Auth {
    match a {
        Auth::Token(t) => Auth::Token(t.clone()),
        Auth::App {
            app_id,
            private_key,
            installation_id,
        } => Auth::App {
            app_id: *app_id,
            private_key: private_key.clone(),
            installation_id: *installation_id,
        },
    }
}

/// Registers the rotated deploy key (read-only) and records its id; without `--pr` the
/// user is told to add it by hand.
pub(super) fn register_new_key(
    repo_git: &ConfigRepo,
    w: &mut Work<'_>,
    publish: &PublishOptions,
    pr: Option<&PrTarget>,
    progress: &mut dyn Progress,
) -> Result<(), Error> {
    let Some(public) = w.new_deploy_key.clone() else {
        return Ok(());
    };
    let Some(pr) = pr.filter(|_| !publish.dry_run) else {
        w.notes.push(format!(
            "add the new public key as a read-only deploy key of the config repo before merging: {public}"
        ));
        return Ok(());
    };
    let gh = connect(repo_git, w.env, publish, pr)?;
    let title = format!("flux@{} (mcb, {})", w.name(), w.now());
    let id = gh.add_deploy_key(&title, &public, true)?;
    progress.success(&format!("added deploy key {id} to {}", gh.repo()));
    if let Some(c) = w.inst.inventory.get(deploy_key::KIND, "flux").cloned() {
        let mut c = c;
        c.extra.insert(KEY_ID.into(), id.to_string());
        w.inst.inventory.upsert(c);
    }
    Ok(())
}

/// `mcb rotate NAME --finish`: deletes the replaced deploy key at the forge and drops the
/// retiring facts from the inventory (a commit and PR of its own).
pub(super) fn finish(
    env: &Env,
    root: &Path,
    name: &str,
    publish: &PublishOptions,
    pr: Option<PrTarget>,
    progress: &mut dyn Progress,
) -> Result<Report, Error> {
    let repo_git = crate::ops::transaction::open(root, progress)?;
    let root = repo_git.root().to_path_buf();
    let mut inst = installation::load(&root, name)?;
    let Some(mut entry) = inst.inventory.get(deploy_key::KIND, "flux").cloned() else {
        return Err(not_pending(name));
    };
    let Some(old_id) = entry.extra.remove(RETIRING_KEY_ID) else {
        return Err(not_pending(name));
    };
    let Some(pr) = pr else {
        return Err(OpsError::MissingInput {
            what: "--push --pr".into(),
            why: "--finish deletes the old deploy key through the GitHub API and proposes the inventory change".into(),
        }
        .into());
    };
    let previous = entry.extra.remove(PREVIOUS_FINGERPRINT);
    if !publish.dry_run {
        let gh = connect(&repo_git, env, publish, &pr)?;
        let id: u64 = old_id.parse().map_err(|_| OpsError::NotRotatable {
            target: "deploy-key".into(),
            why: format!("{RETIRING_KEY_ID} {old_id:?} in the inventory is not a number"),
        })?;
        gh.delete_deploy_key(id)?;
        progress.success(&format!(
            "deleted the old deploy key {id} from {}",
            gh.repo()
        ));
    }
    inst.inventory.upsert(entry);
    let mut files = FileSet::new();
    files.plain(repo::credentials_path(name), inst.inventory.to_yaml());
    let request = publish::Request {
        branch: crate::git::branch_name("rotate", &format!("{name}-deploy-key-finish"), None)?,
        message: format!("chore({name}): old deploy key removed\n\nGenerated by mcb rotate --finish."),
        title: format!("Old deploy key of {name} removed"),
        owned: vec![repo::credentials_path(name)],
        summary: crate::forge::body::ChangeSummary {
            headline: format!(
                "The deploy key replaced by the last rotation of `{name}` ({}) was deleted from the repository's deploy keys.",
                previous.as_deref().unwrap_or("previous key")
            ),
            installations: vec![name.to_owned()],
            ..Default::default()
        },
        reviewers: Vec::new(),
    };
    let mut make_plan = || repo::plan(&root, &files, &[], &NoSecrets).map_err(Error::from);
    let outcome = publish::run(
        &repo_git,
        env,
        &request,
        publish,
        Some(pr),
        &mut make_plan,
        None,
        progress,
    )?;
    Ok(Report {
        installation: name.to_owned(),
        rotated: Vec::new(),
        notes: Vec::new(),
        age_key_file: None,
        outcome,
    })
}

fn not_pending(name: &str) -> Error {
    OpsError::NotRotatable {
        target: "deploy-key --finish".into(),
        why: format!("installation {name} has no replaced deploy key waiting for removal (its inventory entry deploy-key/flux has no {RETIRING_KEY_ID})"),
    }
    .into()
}

/// `--finish` writes no secret file.
struct NoSecrets;

impl Sealer for NoSecrets {
    fn seal(
        &self,
        path: &str,
        _: &secrecy::SecretBox<Vec<u8>>,
        _: Option<&[u8]>,
    ) -> Result<Vec<u8>, SealError> {
        Err(SealError(format!("{path}: --finish writes no secrets")))
    }
}
