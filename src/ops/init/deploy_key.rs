//! Flux's first clone over SSH: `init-installation` registers the new deploy key
//! (read-only) at GitHub when it publishes with credentials that may (`--push --pr`), or
//! names the exact step to add it by hand, so the bootstrap's first clone works.

use crate::creds::deploy_key;
use crate::forge::{Forge, GitHub, Needs, RepoSlug};
use crate::git::{ConfigRepo, PublishOptions};
use crate::inventory::Inventory;
use crate::ops::publish::{self, PrTarget};
use crate::ops::rotate::KEY_ID;
use crate::Env;

/// What became of Flux's deploy key (`-o json`: `deployKey`).
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeployKeyReport {
    /// the public key line Flux clones with
    pub public_key: String,
    /// its id at GitHub, when init registered it
    pub registered_id: Option<u64>,
    /// the step to add it by hand, when init did not register it
    pub add_by_hand: Option<String>,
}

/// Registers `public` as a read-only deploy key through `pr`'s credentials (a token of
/// their own, scoped to `administration: write`) and records its id in the inventory, as
/// a rotation later retires it. Credentials that may not (403, a GitHub App without
/// `administration`) or an unreachable API leave the step to the user, with a warning:
/// the key is not what the commit depends on. Returns the client and id, to delete the
/// key again when nothing is committed.
pub(super) fn register(
    env: &Env,
    repo_git: &ConfigRepo,
    opts: &PublishOptions,
    pr: &PrTarget,
    name: &str,
    public: &str,
    inventory: &mut Inventory,
) -> Result<(GitHub, u64), String> {
    let gh = publish::connect(repo_git, env, opts, pr, Needs::deploy_keys())
        .map_err(|e| e.to_string())?;
    let title = format!("flux@{name} (mcb, {})", super::rfc3339(env));
    let id = gh
        .add_deploy_key(&title, public, true)
        .map_err(|e| e.to_string())?;
    if let Some(mut c) = inventory.get(deploy_key::KIND, "flux").cloned() {
        c.extra.insert(KEY_ID.into(), id.to_string());
        inventory.upsert(c);
    }
    Ok((gh, id))
}

/// The exact step to add `public` by hand to the repository Flux clones (`git_url`): the
/// repository's Settings > Deploy keys page, or `gh repo deploy-key add` (read-only by
/// default).
pub(super) fn by_hand(name: &str, git_url: &str, public: &str) -> String {
    let host = super::git_host(git_url);
    match RepoSlug::from_remote_url(git_url) {
        Ok(slug) => {
            let gh_repo = match host.as_str() {
                "github.com" => slug.to_string(),
                _ => format!("{host}/{slug}"),
            };
            format!(
                "add Flux's public key as a read-only deploy key of {slug} before the bootstrap (Flux's first clone needs it): https://{host}/{slug}/settings/keys > Add deploy key, title flux@{name}, \"Allow write access\" off; or: printf '%s\\n' '{public}' > flux-{name}.pub && gh repo deploy-key add flux-{name}.pub --repo {gh_repo} --title flux@{name}"
            )
        }
        Err(_) => format!(
            "add Flux's public key as a read-only deploy key of {git_url} before the bootstrap (Flux's first clone needs it): {public}"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_hand_names_the_settings_page_and_gh() {
        let s = by_hand(
            "demo",
            "ssh://git@github.com/acme/fleet.git",
            "ssh-ed25519 AAAA x",
        );
        assert!(
            s.contains("https://github.com/acme/fleet/settings/keys"),
            "{s}"
        );
        assert!(
            s.contains("gh repo deploy-key add flux-demo.pub --repo acme/fleet --title flux@demo"),
            "{s}"
        );
        let s = by_hand("demo", "ssh://git@ghe.example.com/acme/fleet.git", "k");
        assert!(s.contains("--repo ghe.example.com/acme/fleet"), "{s}");
    }
}
