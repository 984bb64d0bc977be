//! The rotation of each credential kind on a [`Work`] ([`Target::apply`]), in memory:
//! nothing is written here.
//!
//! Size: one short function per credential kind over the shared [`Work`]; they share the
//! PKI and Secret helpers here.

use std::collections::{BTreeMap, BTreeSet};

use secrecy::{ExposeSecret, SecretString};

use super::targets::{expired, kubectl_why, Target, CURRENT_AGE_KEY, NEXT_AGE_KEY};
use super::Work;
use crate::creds::{self, deploy_key, github_app, oidc};
use crate::forge::body::{CredentialAction, CredentialChange};
use crate::inventory::{Credential, CredentialKind};
use crate::ops::Error as OpsError;
use crate::pki::{self, ClusterPki, UserParams, LEAF_VALIDITY};
use crate::repo::installation::AGE_KEY_KIND;
use crate::{sops, Error};

/// The Secret holding Flux's Git credential.
const FLUX_SECRET: &str = "flux-system";

impl Target {
    /// Rotates this credential in `w`.
    pub(crate) fn apply(&self, w: &mut Work<'_>) -> Result<(), Error> {
        match self {
            Target::Kubeconfig(user) => kubeconfig(w, user),
            Target::Oidc(id) => oidc_client(w, id),
            Target::GithubApp => github_app_key(w),
            Target::DeployKey => deploy_key(w),
            Target::SopsDataKeys => {
                data_keys(w);
                Ok(())
            }
            Target::AgeKey => age_key(w),
            Target::Ca(which) => super::ca::rotate(w, which),
        }
    }
}

/// The installation's PKI from its decrypted Secrets.
pub(super) fn load_pki(w: &Work<'_>) -> Result<ClusterPki, Error> {
    let name = w.name().to_owned();
    let ns = w.secret(&pki::secret_name(&name, "ca"))?.namespace.clone();
    Ok(ClusterPki::from_secrets(
        &name,
        &ns,
        &w.secrets(),
        w.env.now(),
    )?)
}

/// Who a kubeconfig is for: kubeadm's admin, else the CN and O of its current certificate.
pub(super) fn user_params(
    user: &str,
    pki: &ClusterPki,
    spec: &crate::spec::Installation,
) -> Result<UserParams, Error> {
    if user == "admin" {
        return Ok(UserParams::admin(spec.kubernetes_minor()));
    }
    let Some(k) = pki.kubeconfigs.get(user) else {
        return Err(OpsError::NotRotatable {
            target: format!("kubeconfig/{user}"),
            why: "the installation has no such kubeconfig".into(),
        }
        .into());
    };
    let mut p = UserParams {
        name: user.to_owned(),
        common_name: user.to_owned(),
        organizations: Vec::new(),
        validity: None,
    };
    for part in k.facts.subject.split(',') {
        match part.trim().split_once('=') {
            Some(("CN", v)) => p.common_name = v.to_owned(),
            Some(("O", v)) => p.organizations.push(v.to_owned()),
            _ => {}
        }
    }
    Ok(p)
}

/// Issues `user`'s kubeconfig anew from `pki`'s cluster CA, with the spec's server, key type
/// and (for the admin) group.
pub(super) fn reissue_kubeconfig(
    env: &crate::Env,
    pki: &mut ClusterPki,
    spec: &crate::spec::Installation,
    user: &str,
    validity: time::Duration,
) -> Result<(), Error> {
    let params = user_params(user, pki, spec)?;
    let server = format!("https://{}:{}", spec.api_endpoint(), spec.api_port());
    let key_type = spec.pki.key_type.into();
    pki.add_kubeconfig(env, &server, &params, validity, key_type)?;
    Ok(())
}

/// A new client certificate for `user` (`--validity`, else a year). The one it replaces
/// stays valid until it expires - Kubernetes checks no revocation - so it stays in the
/// inventory as a `kubeconfig-superseded` entry, which `mcb status` lists, until then.
fn kubeconfig(w: &mut Work<'_>, user: &str) -> Result<(), Error> {
    let mut pki = load_pki(w)?;
    let validity = w.validity.unwrap_or(LEAF_VALIDITY);
    reissue_kubeconfig(w.env, &mut pki, &w.inst.spec, user, validity)?;
    if let Some(old) = w
        .inst
        .inventory
        .get(CredentialKind::Kubeconfig, user)
        .cloned()
    {
        let short: String = old
            .fingerprint
            .rsplit(':')
            .next()
            .unwrap_or_default()
            .chars()
            .take(12)
            .collect();
        let mut kept = old;
        kept.kind = pki::SUPERSEDED_KUBECONFIG;
        kept.id = format!("{user}-{short}");
        kept.rotated = Some(w.now());
        kept.extra.insert(
            "note".into(),
            "superseded by a rotation; still valid until notAfter (client certificates cannot be revoked)".into(),
        );
        if !expired(&kept, w.env.now()) {
            w.inst.inventory.upsert(kept);
        }
    }
    let secret_name = pki::kubeconfig_secret_name(w.name(), user);
    let secret = pki
        .secrets()
        .into_iter()
        .find(|s| s.name == secret_name)
        .expect("add_kubeconfig added it");
    let now = w.now();
    let cred = pki
        .credentials(&now)
        .into_iter()
        .find(|c| c.kind == CredentialKind::Kubeconfig && c.id == user)
        .expect("every kubeconfig has an entry");
    w.put_secret(secret);
    w.record(cred);
    Ok(())
}

fn oidc_client(w: &mut Work<'_>, id: &str) -> Result<(), Error> {
    let entry = w.inst.inventory.get(oidc::KIND, id).cloned();
    let current = oidc::served_ids(id, entry.as_ref()).remove(0);
    let dex = w
        .file_of(oidc::DEX_CLIENTS_SECRET)
        .and_then(|_| w.secret(oidc::DEX_CLIENTS_SECRET).ok())
        .filter(|s| s.data.contains_key(&oidc::client_secret_env(&current)))
        .map(super::clone_secret);
    match dex {
        Some(secret) => dex_client(w, id, entry, &current, secret),
        None => registered_client(w, id),
    }
}

/// A Dex static client: a new client id (the next generation, `<id>-<n>`) with a new
/// secret, served by Dex next to the current one; the consumers get the new id and secret
/// in the same commit, applied by Flux only after Dex serves it. `--finish` after the merge
/// removes the old id from Dex. No secret of an id ever changes, so no Dex pod, old or
/// new, and no consumer disagree about one.
fn dex_client(
    w: &mut Work<'_>,
    id: &str,
    entry: Option<Credential>,
    current: &str,
    secret: crate::k8s::Secret,
) -> Result<(), Error> {
    if id == oidc::API_SERVER_CLIENT_ID {
        return Err(OpsError::NotRotatable {
            target: format!("oidc/{id}"),
            why: kubectl_why(),
        }
        .into());
    }
    if let Some(old) = entry.as_ref().and_then(|e| e.extra.get(RETIRING_CLIENT_ID)) {
        return Err(OpsError::NotRotatable {
            target: format!("oidc/{id}"),
            why: format!(
                "the previous rotation is not finished: Dex still serves the old client id {old}; merge that rotation, let the consumers pick up {current}, then run `mcb rotate {} --finish`",
                w.name()
            ),
        }
        .into());
    }
    let generation: u32 = entry
        .as_ref()
        .and_then(|e| e.extra.get(oidc::GENERATION))
        .and_then(|g| g.parse().ok())
        .unwrap_or(1);
    // The next generation whose id (and env var) no other client of the spec or Dex uses.
    let others: BTreeSet<String> = w
        .inst
        .spec
        .oidc
        .static_clients
        .iter()
        .filter(|c| c.id != id)
        .map(|c| oidc::client_secret_env(&c.id))
        .collect();
    let (generation, new_id) = (generation + 1..)
        .map(|n| (n, oidc::generation_id(id, n)))
        .find(|(_, i)| {
            let var = oidc::client_secret_env(i);
            !secret.data.contains_key(&var) && !others.contains(&var)
        })
        .expect("some generation is free");
    let value = creds::generate_secret(w.env);
    // The variables of generations before the current one (left by `--finish` for pods
    // restarting with the config before it) are served by no config since: dropped.
    let mut secret = secret;
    for old in (1..generation).map(|n| oidc::client_secret_env(&oidc::generation_id(id, n))) {
        if old != oidc::client_secret_env(current) && !others.contains(&old) {
            secret.data.remove(&old);
        }
    }
    w.put_secret(secret.with(
        oidc::client_secret_env(&new_id),
        value.expose_secret().as_bytes().to_vec(),
    ));
    // The fingerprint is of the new secret, so the PR shows before != after.
    let mut entry = entry.unwrap_or_else(|| {
        creds::credential(
            w.env,
            oidc::KIND,
            id,
            String::new(),
            None,
            BTreeMap::from([("provider".to_owned(), "dex".to_owned())]),
        )
    });
    entry.fingerprint = creds::secret_fingerprint(&format!("{}/{id}", oidc::KIND), &value);
    entry.extra.insert(oidc::CLIENT_ID.into(), new_id.clone());
    entry
        .extra
        .insert(RETIRING_CLIENT_ID.into(), current.to_owned());
    entry
        .extra
        .insert(oidc::GENERATION.into(), generation.to_string());
    let issuer = w.inst.spec.oidc_issuer();
    w.give_consumers(
        id,
        &creds::consumers::Credentials {
            client_id: &new_id,
            client_secret: Some(&value),
            issuer: &issuer,
        },
    );
    w.rerender = true;
    w.notes.push(format!(
        "oidc/{id}: Dex serves the new client id {new_id} next to {current}; Flux gives the consumers {new_id} only once Dex runs with it (layer oidc-consumers after apps). Once this is merged and the consumers run with {new_id}, `mcb rotate {} --finish` removes {current} from Dex",
        w.name()
    ));
    w.record(entry);
    Ok(())
}

use oidc::RETIRING_CLIENT_ID;

/// A client registered at an external issuer: a successor client is registered (new id,
/// new secret) and committed; the old one stays valid until `--finish` deletes it after
/// the merge. A dry run only says so: it calls no issuer.
fn registered_client(w: &mut Work<'_>, id: &str) -> Result<(), Error> {
    let name = oidc::registered_secret_name(id);
    let target = || format!("oidc/{id}");
    let Ok(secret) = w.secret(&name) else {
        return Err(OpsError::NotRotatable {
            target: target(),
            why: format!(
                "no Dex static client {id} with a secret and no Secret {name} of a registered client"
            ),
        }
        .into());
    };
    let ns = secret.namespace.clone();
    let current = oidc::RegisteredClient::stored(secret, "")?.expect("the current client");
    if let Some(old) = oidc::RegisteredClient::stored(secret, oidc::RETIRING_PREFIX)? {
        return Err(OpsError::NotRotatable {
            target: target(),
            why: format!(
                "the previous rotation is not finished: its old client {} is still registered; merge that rotation, then run `mcb rotate {} --finish`",
                old.client_id,
                w.name()
            ),
        }
        .into());
    }
    let issuer = w
        .inst
        .inventory
        .get(oidc::KIND, id)
        .and_then(|c| c.extra.get("issuer").cloned())
        .unwrap_or_default();
    if w.dry_run {
        w.planned.push(format!(
            "register a successor of client {} (oidc/{id}) at {issuer}; the old client stays valid until `mcb rotate {} --finish` after the merge",
            current.client_id,
            w.name()
        ));
        let previous = w
            .inst
            .inventory
            .get(oidc::KIND, id)
            .map(|c| c.fingerprint.clone());
        w.changes.push(CredentialChange {
            action: CredentialAction::Rotated,
            kind: oidc::KIND.to_string(),
            id: id.to_owned(),
            fingerprint: None,
            previous,
            not_after: None,
        });
        return Ok(());
    }
    let current = oidc::read(&current)?;
    let fresh = oidc::register_successor(&issuer, w.oidc_initial_access_token.as_ref(), &current)?;
    let stored = fresh.secret_retiring(id, &ns, Some(&current));
    if let Some(copy) = oidc::RegisteredClient::stored(&stored, "")? {
        w.registered.push((id.to_owned(), copy));
    }
    w.put_secret(stored);
    w.give_consumers(
        id,
        &creds::consumers::Credentials {
            client_id: &fresh.client_id,
            client_secret: fresh.client_secret.as_ref(),
            issuer: &issuer,
        },
    );
    let mut cred = fresh.credential(w.env, id, &issuer);
    cred.extra
        .insert(RETIRING_CLIENT_ID.into(), current.client_id.clone());
    w.notes.push(format!(
        "oidc/{id}: the new client {} is registered and the old client {} stays valid; once this is merged and the consumers run with the new one, `mcb rotate {} --finish` deletes the old client at {issuer}",
        fresh.client_id,
        current.client_id,
        w.name()
    ));
    w.record(cred);
    Ok(())
}

fn deploy_key(w: &mut Work<'_>) -> Result<(), Error> {
    let old = w.secret(FLUX_SECRET)?;
    if !old.data.contains_key("identity") {
        return Err(OpsError::NotRotatable {
            target: Target::DeployKey.to_string(),
            why: "Flux's Git credential is not an SSH key (git.auth is github-app?)".into(),
        }
        .into());
    }
    let known_hosts = old
        .data
        .get("known_hosts")
        .map(|v| String::from_utf8_lossy(v.expose_secret()).into_owned())
        .unwrap_or_default();
    let ns = old.namespace.clone();
    let name = w.name().to_owned();
    let pending = w
        .inst
        .inventory
        .get(deploy_key::KIND, "flux")
        .and_then(|c| c.extra.get(super::forge::RETIRING_KEY_ID));
    if let Some(id) = pending {
        return Err(OpsError::NotRotatable {
            target: Target::DeployKey.to_string(),
            why: format!(
                "the previous rotation is not finished: the old deploy key {id} is still registered; merge that rotation, then run `mcb rotate {name} --finish --push --pr`"
            ),
        }
        .into());
    }
    let key = deploy_key::generate(w.env, "flux", &format!("flux@{name}"))?;
    w.put_secret(key.flux_secret(FLUX_SECRET, &ns, &known_hosts));
    let mut cred = key.credential(w.env);
    if let Some(before) = w.inst.inventory.get(deploy_key::KIND, "flux") {
        cred.extra.insert(
            super::forge::PREVIOUS_FINGERPRINT.into(),
            before.fingerprint.clone(),
        );
        let next = match before.extra.get(super::forge::KEY_ID) {
            Some(id) => {
                cred.extra
                    .insert(super::forge::RETIRING_KEY_ID.into(), id.clone());
                format!("run `mcb rotate {name} --finish --push --pr` to delete it at the forge")
            }
            None => "delete it on the config repo's Settings > Deploy keys page".to_owned(),
        };
        w.notes.push(format!(
            "after the PR is merged and Flux has synced, the old deploy key ({}) is unused: {next}",
            before.fingerprint
        ));
    }
    w.new_deploy_key = Some(key.public_openssh.clone());
    w.record(cred);
    Ok(())
}

/// A new private key for the app Flux uses (`git.auth: github-app` only: with `ssh` the
/// Secret holds Flux's SSH identity). The key is checked at GitHub (`GET /app` as the app)
/// before it is committed; the API base URL Flux uses (`githubAppBaseURL`, GitHub
/// Enterprise) is kept; the old key leaves every Secret that held it.
fn github_app_key(w: &mut Work<'_>) -> Result<(), Error> {
    if w.inst.spec.git.auth != crate::spec::GitAuth::GithubApp {
        return Err(OpsError::NotRotatable {
            target: Target::GithubApp.to_string(),
            why: "git.auth is not github-app: Flux's Secret holds its SSH identity (rotate it with --only deploy-key)".into(),
        }
        .into());
    }
    let (app_id, inst_id) = crate::ops::init::github_app_ids(&w.inst.spec)?;
    let Some(pem) = w.github_app_key.clone() else {
        return Err(OpsError::MissingInput {
            what: "--import FILE (the app's new private key)".into(),
            why: format!(
                "GitHub cannot create an app key through its API: generate one at {}/settings/apps (your app > Private keys > Generate a private key), then pass the downloaded PEM",
                github_app::GITHUB_WEB
            ),
        }
        .into());
    };
    let current = w.secret(FLUX_SECRET).ok();
    let ns = current
        .map(|s| s.namespace.clone())
        .unwrap_or_else(|| github_app::FLUX_NAMESPACE.into());
    let api = current
        .and_then(|s| s.data.get("githubAppBaseURL"))
        .map(|v| String::from_utf8_lossy(v.expose_secret()).into_owned())
        .unwrap_or_else(|| crate::forge::DEFAULT_API.to_owned());
    let imported = github_app::import_app(app_id, inst_id, pem.clone())?;
    if w.dry_run {
        w.planned.push(format!(
            "check the new key of app {app_id} at {api}/app (GET /app as the app)"
        ));
    } else {
        crate::forge::GitHub::verify_app_key(&api, app_id, &pem, w.env.now())?;
    }
    w.put_secret(imported.flux_secret(FLUX_SECRET, &ns, &api));
    let app_secret = w
        .secret(crate::ops::init::APP_SECRET)
        .ok()
        .filter(|s| s.data.contains_key("privateKey"))
        .map(super::clone_secret);
    if let Some(s) = app_secret {
        w.put_secret(s.with("privateKey", pem.expose_secret().as_bytes().to_vec()));
    }
    let cred = imported.credential(w.env, "flux");
    w.notes.push(format!(
        "after the PR is merged and Flux has synced, delete the old private key ({}) on the app's settings page ({}/settings/apps)",
        w.inst
            .inventory
            .get(github_app::KIND, "flux")
            .map(|c| c.fingerprint.as_str())
            .unwrap_or("the previous one"),
        github_app::GITHUB_WEB
    ));
    w.record(cred);
    Ok(())
}

fn data_keys(w: &mut Work<'_>) {
    w.fresh_data_keys = true;
    w.changes.push(crate::forge::body::CredentialChange {
        action: crate::forge::body::CredentialAction::Rotated,
        kind: "sops-data-key".into(),
        id: format!("{} files", w.files.len()),
        fingerprint: None,
        previous: None,
        not_after: None,
    });
}

/// Step 1 adds a new age key next to the current one (files readable with both); step 2
/// (the same command once step 1 is merged) drops the old key and gives every file a new
/// data key, so the old key opens nothing written after it.
fn age_key(w: &mut Work<'_>) -> Result<(), Error> {
    w.reseal_all = true;
    match w.inst.inventory.get(AGE_KEY_KIND, NEXT_AGE_KEY).cloned() {
        Some(next) => {
            let old = w.inst.inventory.remove(AGE_KEY_KIND, CURRENT_AGE_KEY);
            w.inst.inventory.remove(AGE_KEY_KIND, NEXT_AGE_KEY);
            let mut current = next;
            current.id = CURRENT_AGE_KEY.into();
            current.extra.remove("phase");
            current.subject = old.as_ref().and_then(|o| o.subject.clone());
            w.fresh_data_keys = true;
            w.branch_suffix = Some("-age-key-step2".into());
            w.notes.push(format!(
                "step 2 of 2: the old age key opens none of these files; after the merge, give the cluster only the new key (`mcb bootstrap {} --age-key-file NEW`) and destroy the old one",
                w.name()
            ));
            // `record` compares with the entry it replaces: the old current key.
            if let Some(o) = old {
                w.inst.inventory.upsert(o);
            }
            w.record(current);
            Ok(())
        }
        None => age_key_step1(w),
    }
}

fn age_key_step1(w: &mut Work<'_>) -> Result<(), Error> {
    let Some(old_text) = w.key_text.clone() else {
        return Err(OpsError::MissingInput {
            what: "the installation's current age key (--age-key-file FILE)".into(),
            why: "the new key file carries the current key too, until step 2; none of the identities found is the installation's own key".into(),
        }
        .into());
    };
    let new = sops::generate_age_key(w.env);
    let now = w.now();
    let both = SecretString::from(format!(
        "{}# previous key of installation {}: remove once `mcb rotate {} --only age-key` step 2 is merged\n{}\n",
        crate::ops::init::key_file(&new, &now).expose_secret(),
        w.name(),
        w.name(),
        identity_lines(&old_text)
    ));
    w.ids = sops::Identities::from_text(&both)?;
    w.new_key_file = Some(both);
    let mut entry = creds::credential(
        w.env,
        AGE_KEY_KIND,
        NEXT_AGE_KEY,
        new.recipient.clone(),
        None,
        BTreeMap::from([("phase".to_owned(), "1".to_owned())]),
    );
    entry.subject = Some(format!("SOPS age key of installation {} (next)", w.name()));
    let previous = w
        .inst
        .inventory
        .get(AGE_KEY_KIND, CURRENT_AGE_KEY)
        .map(|c| c.fingerprint.clone());
    w.changes.push(crate::forge::body::CredentialChange {
        action: crate::forge::body::CredentialAction::Rotated,
        kind: AGE_KEY_KIND.to_string(),
        id: CURRENT_AGE_KEY.into(),
        fingerprint: Some(new.recipient.clone()),
        previous,
        not_after: None,
    });
    w.notes.push(format!(
        "step 1 of 2: files open with the old and the new key; after the merge, give the cluster the new key file (`mcb bootstrap {} --age-key-file NEW`: its sops-age Secret then carries both keys), then run `mcb rotate {} --only age-key --age-key-file NEW` again to drop the old key",
        w.name(),
        w.name()
    ));
    w.inst.inventory.upsert(entry);
    Ok(())
}

/// The `AGE-SECRET-KEY-1…` lines of a key file.
fn identity_lines(text: &SecretString) -> String {
    text.expose_secret()
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("AGE-SECRET-KEY-1"))
        .collect::<Vec<_>>()
        .join("\n")
}
