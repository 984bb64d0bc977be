//! The forge side of a deploy-key rotation: register the new public key before the PR
//! (Flux needs it the moment the PR merges). Deleting the old one is `--finish`
//! (`finish.rs`).

use crate::creds::deploy_key;
use crate::forge::{Forge, GitHub, Needs};
use crate::git::{ConfigRepo, PublishOptions};
use crate::ops::publish::PrTarget;
use crate::progress::Progress;
use crate::{Env, Error};

use super::Work;

/// Inventory `extra` key: the forge's id of this deploy key.
pub const KEY_ID: &str = "forgeKeyId";
/// Inventory `extra` key: the forge's id of the key this one replaced, until `--finish`.
pub const RETIRING_KEY_ID: &str = "retiringForgeKeyId";
/// Inventory `extra` key: the fingerprint of the key this one replaced, until `--finish`.
pub const PREVIOUS_FINGERPRINT: &str = "previousFingerprint";

/// A GitHub client for the config repo's deploy keys (`administration: write`).
pub(super) fn connect(
    repo_git: &ConfigRepo,
    env: &Env,
    publish: &PublishOptions,
    pr: &PrTarget,
) -> Result<GitHub, Error> {
    crate::ops::publish::connect(repo_git, env, publish, pr, Needs::deploy_keys())
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
    if publish.dry_run {
        w.planned.push(match pr {
            Some(_) => "register the new public key as a read-only deploy key at GitHub".to_owned(),
            None => "(add the new public key as a read-only deploy key by hand)".to_owned(),
        });
        return Ok(());
    }
    let Some(pr) = pr else {
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
