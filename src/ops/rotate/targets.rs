//! What `mcb rotate` can replace ([`Target`]), how the due ones are picked from the
//! inventory, and the rotation of each kind on a [`Work`] (in memory; nothing is written
//! here).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use secrecy::{ExposeSecret, SecretString};
use time::OffsetDateTime;

use super::Work;
use crate::creds::{self, deploy_key, github_app, oidc};
use crate::forge::body::{CredentialAction, CredentialChange};
use crate::inventory::{Credential, CredentialKind, Inventory};
use crate::ops::Error as OpsError;
use crate::pki::{self, ClusterPki, UserParams, LEAF_VALIDITY};
use crate::repo::installation::AGE_KEY_KIND;
use crate::{sops, Error};

/// Inventory id of the age key being introduced by a two-step age-key rotation.
pub const NEXT_AGE_KEY: &str = "next";
/// Inventory id of an installation's current age key.
pub const CURRENT_AGE_KEY: &str = "installation";
/// The Secret holding Flux's Git credential.
const FLUX_SECRET: &str = "flux-system";

/// One thing to rotate (`--only` value).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    /// `kubeconfig/<user>`: a new client certificate from the existing CA
    Kubeconfig(String),
    /// `oidc/<client>`: a new client secret (Dex static client or registered client)
    Oidc(String),
    /// `github-app`: import a new private key for the app Flux uses
    GithubApp,
    /// `deploy-key`: a new SSH deploy key for Flux
    DeployKey,
    /// `sops-data-keys`: a new data key for every secret file
    SopsDataKeys,
    /// `age-key`: a new installation age key (two steps)
    AgeKey,
    /// `ca/<cluster|etcd|proxy>`: a new CA (three phases)
    Ca(String),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Kubeconfig(u) => write!(f, "kubeconfig/{u}"),
            Target::Oidc(c) => write!(f, "oidc/{c}"),
            Target::GithubApp => f.write_str(CredentialKind::GithubApp.as_str()),
            Target::DeployKey => f.write_str(CredentialKind::DeployKey.as_str()),
            Target::SopsDataKeys => f.write_str("sops-data-keys"),
            Target::AgeKey => f.write_str(CredentialKind::AgeKey.as_str()),
            Target::Ca(w) => write!(f, "ca/{w}"),
        }
    }
}

/// Why the service-account key is not a rotation target.
pub const SA_KEY_WHY: &str = "the service-account key signs every ServiceAccount token of the cluster and kubeadm (so Cluster API) configures exactly one key: a new one would void every token at once, and API servers would disagree during the rollout. mcb does not rotate it; recreate the cluster to replace it (docs/recreate.md)";

impl FromStr for Target {
    type Err = OpsError;

    /// mcb's names (`oidc/grafana`) and the `KIND ID` / `KIND/ID` pairs `mcb status` prints
    /// (`oidc-client grafana`, `deploy-key/flux`, `age-key installation`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || OpsError::UnknownTarget {
            given: s.to_owned(),
            valid: Vec::new(),
        };
        let id = |rest: &str| {
            (!rest.is_empty() && !rest.contains('/'))
                .then(|| rest.to_owned())
                .ok_or_else(bad)
        };
        let t = s.trim();
        let (kind, rest) = match t.split_once(['/', ' ']) {
            Some((k, r)) => (k, Some(r.trim())),
            None => (t, None),
        };
        // mcb's own names first, then the inventory kinds (every kind decides here).
        match (kind, rest) {
            ("oidc", Some(r)) => return Ok(Target::Oidc(id(r)?)),
            ("sops-data-keys", None) => return Ok(Target::SopsDataKeys),
            _ => {}
        }
        let kind: CredentialKind = kind.parse().map_err(|_| bad())?;
        Ok(match (kind, rest) {
            (CredentialKind::Kubeconfig, Some(r)) => Target::Kubeconfig(id(r)?),
            (CredentialKind::OidcClient, Some(r)) => Target::Oidc(id(r)?),
            (CredentialKind::Ca, Some(w @ ("cluster" | "etcd" | "proxy"))) => {
                Target::Ca(w.to_owned())
            }
            (CredentialKind::GithubApp, None) => Target::GithubApp,
            (CredentialKind::GithubApp, Some(r)) => {
                id(r)?;
                Target::GithubApp
            }
            (CredentialKind::DeployKey, None) => Target::DeployKey,
            (CredentialKind::DeployKey, Some(r)) => {
                id(r)?;
                Target::DeployKey
            }
            (CredentialKind::AgeKey, None | Some(CURRENT_AGE_KEY | NEXT_AGE_KEY)) => Target::AgeKey,
            (CredentialKind::SaKey, _) => {
                return Err(OpsError::NotRotatable {
                    target: t.replace(' ', "/"),
                    why: SA_KEY_WHY.into(),
                })
            }
            (CredentialKind::Kubeconfig | CredentialKind::OidcClient, None)
            | (CredentialKind::Ca, _)
            | (CredentialKind::AgeKey, Some(_))
            | (CredentialKind::KubeconfigSuperseded, _) => return Err(bad()),
        })
    }
}

/// The `--only` values for an installation with this inventory, as `mcb rotate` names
/// them (sorted; `sops-data-keys` always).
pub fn only_values(inv: &Inventory) -> Vec<String> {
    let mut v: Vec<String> = inv
        .credentials
        .iter()
        .filter_map(|c| format!("{} {}", c.kind, c.id).parse::<Target>().ok())
        .map(|t| t.to_string())
        .chain(["sops-data-keys".to_owned()])
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Parses `--only` values for an installation with inventory `inv`; an unknown one is an
/// error listing [`valid`].
pub fn parse_only(inv: &Inventory, given: &[String]) -> Result<Vec<Target>, OpsError> {
    given
        .iter()
        .map(|g| {
            g.parse::<Target>().map_err(|e| match e {
                OpsError::UnknownTarget { given, .. } => OpsError::UnknownTarget {
                    given,
                    valid: only_values(inv),
                },
                other => other,
            })
        })
        .collect()
}

/// What is due by `deadline`: credentials that expire by then or pass their kind's maximum
/// age (`max_age`, from the spec's `rotation.maxAge`) by then.
pub struct Due {
    /// what `mcb rotate` rotates now
    pub targets: Vec<Target>,
    /// due credentials that need a command of their own, one line each saying which
    pub elsewhere: Vec<String>,
}

/// What inputs a run has, so kinds that need them can be rotated when due.
#[derive(Debug, Clone, Copy, Default)]
pub struct Inputs {
    /// `--age-key-out` (an age-key rotation writes its new key there)
    pub age_key_out: bool,
    /// `--import` (a GitHub App key rotation imports it)
    pub github_app_key: bool,
}

/// Every kind is considered: what can be rotated unattended becomes a target, the rest
/// (CAs: three phases; the app key without `--import`; the age key without
/// `--age-key-out`) is named with the command that rotates it.
pub fn due(
    name: &str,
    inv: &Inventory,
    deadline: OffsetDateTime,
    max_age: &crate::spec::MaxAge,
    inputs: Inputs,
) -> Due {
    let mut out = Due {
        targets: Vec::new(),
        elsewhere: Vec::new(),
    };
    for c in &inv.credentials {
        let Some(why) = due_why(c, deadline, max_age.of(c.kind)) else {
            continue;
        };
        let id = &c.id;
        match c.kind {
            CredentialKind::Kubeconfig => out.targets.push(Target::Kubeconfig(id.clone())),
            CredentialKind::OidcClient if c.extra.contains_key("public") => {}
            CredentialKind::OidcClient if id == oidc::API_SERVER_CLIENT_ID && is_dex(c) => out.elsewhere.push(
                format!("oidc-client/{id} is due ({why}) but {}", kubectl_why())
            ),
            CredentialKind::OidcClient => out.targets.push(Target::Oidc(id.clone())),
            CredentialKind::DeployKey => out.targets.push(Target::DeployKey),
            CredentialKind::GithubApp if inputs.github_app_key => out.targets.push(Target::GithubApp),
            CredentialKind::GithubApp => out.elsewhere.push(format!(
                "github-app/{id} is due ({why}): generate a new private key on the app's page, then `mcb rotate {name} --only github-app --import NEW.pem`"
            )),
            CredentialKind::AgeKey if id == NEXT_AGE_KEY => {}
            CredentialKind::AgeKey if inputs.age_key_out => out.targets.push(Target::AgeKey),
            CredentialKind::AgeKey => out.elsewhere.push(format!(
                "age-key/{id} is due ({why}): `mcb rotate {name} --only age-key --age-key-out NEW.agekey` (two steps)"
            )),
            CredentialKind::Ca if c.extra.contains_key("phase") => {}
            CredentialKind::KubeconfigSuperseded => {}
            CredentialKind::Ca => out.elsewhere.push(format!(
                "ca/{id} is due ({why}): CAs rotate in three reviewed phases: `mcb rotate {name} --only ca/{id}`, again after each merge"
            )),
            CredentialKind::SaKey => out.elsewhere.push(format!(
                "{}/{id} is due ({why}) but mcb cannot rotate it",
                c.kind
            )),
        }
    }
    out.targets.sort();
    out.targets.dedup();
    out
}

/// Whether `c` has a `notAfter` in the past.
pub(super) fn expired(c: &Credential, now: OffsetDateTime) -> bool {
    let rfc = time::format_description::well_known::Rfc3339;
    c.not_after
        .as_deref()
        .and_then(|t| OffsetDateTime::parse(t, &rfc).ok())
        .is_some_and(|t| t <= now)
}

/// Why `c` is due by `deadline` ("expires …", "last rotated …, maximum age N days"), if it is.
fn due_why(
    c: &Credential,
    deadline: OffsetDateTime,
    max_age: Option<time::Duration>,
) -> Option<String> {
    let rfc = time::format_description::well_known::Rfc3339;
    let parse = |t: &str| OffsetDateTime::parse(t, &rfc).ok();
    if let Some(t) = c.not_after.as_deref() {
        if parse(t).is_some_and(|t| t <= deadline) {
            return Some(format!("expires {t}"));
        }
    }
    let since = c.rotated.as_deref().unwrap_or(&c.created);
    let (Some(max), Some(at)) = (max_age, parse(since)) else {
        return None;
    };
    (at + max <= deadline).then(|| {
        format!(
            "{} {since}, maximum age {} days",
            if c.rotated.is_some() {
                "last rotated"
            } else {
                "created"
            },
            max.whole_days()
        )
    })
}

/// `-<what>` for the branch name when exactly one thing is rotated, else nothing.
pub fn branch_suffix(targets: &[Target]) -> String {
    match targets {
        [one] => format!("-{}", one.to_string().replace('/', "-")),
        _ => String::new(),
    }
}

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

/// Whether inventory entry `c` is a Dex static client.
fn is_dex(c: &Credential) -> bool {
    c.extra.get("provider").map(String::as_str) == Some("dex")
}

/// Why the API server's confidential Dex client is not rotated.
fn kubectl_why() -> String {
    format!(
        "a rotation serves a new client id and the API server accepts tokens for `{}` only: make it `public: true` in the spec (kubelogin with --oidc-use-pkce), a public client has no secret to rotate",
        oidc::API_SERVER_CLIENT_ID
    )
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_and_print_round_trip() {
        for s in [
            "kubeconfig/admin",
            "oidc/grafana",
            "github-app",
            "deploy-key",
            "sops-data-keys",
            "age-key",
            "ca/cluster",
            "ca/etcd",
        ] {
            assert_eq!(s.parse::<Target>().unwrap().to_string(), s);
        }
        for bad in ["kubeconfig", "kubeconfig/", "ca/other", "oidc/a/b", "nope"] {
            assert!(bad.parse::<Target>().is_err(), "{bad}");
        }
        // The names `mcb status` prints.
        for (status, ours) in [
            ("oidc-client grafana", "oidc/grafana"),
            ("oidc-client/grafana", "oidc/grafana"),
            ("deploy-key flux", "deploy-key"),
            ("age-key installation", "age-key"),
            ("ca proxy", "ca/proxy"),
            ("kubeconfig admin", "kubeconfig/admin"),
            ("github-app/flux", "github-app"),
        ] {
            assert_eq!(status.parse::<Target>().unwrap().to_string(), ours);
        }
        let e = "sa-key sa".parse::<Target>().unwrap_err();
        assert!(
            e.to_string().contains("sa-key/sa") && e.to_string().contains("ServiceAccount token"),
            "{e}"
        );
    }

    fn cred(kind: &str, id: &str, created: &str, not_after: Option<&str>) -> Credential {
        Credential {
            kind: kind.parse().unwrap(),
            id: id.into(),
            subject: None,
            fingerprint: "sha256:00".into(),
            not_before: None,
            not_after: not_after.map(str::to_owned),
            created: created.into(),
            rotated: None,
            file: None,
            extra: BTreeMap::new(),
        }
    }

    #[test]
    fn the_api_servers_confidential_dex_client_is_named_not_rotated() {
        let mut inv = Inventory::new();
        let mut k = cred("oidc-client", "kubectl", "2026-01-01T00:00:00Z", None);
        k.extra.insert("provider".into(), "dex".into());
        inv.upsert(k);
        let d = due(
            "demo",
            &inv,
            time::macros::datetime!(2027-01-15 00:00:00 UTC),
            &Default::default(),
            Inputs::default(),
        );
        assert!(d.targets.is_empty(), "{:?}", d.targets);
        assert!(d.elsewhere[0].contains("public: true"), "{:?}", d.elsewhere);
    }

    #[test]
    fn due_picks_expiring_credentials_and_names_cas() {
        let mut inv = Inventory::new();
        let c = |kind: &str, id: &str, not_after: Option<&str>| {
            cred(kind, id, "2026-11-01T00:00:00Z", not_after)
        };
        inv.upsert(c("kubeconfig", "admin", Some("2027-01-10T00:00:00Z")));
        inv.upsert(c("kubeconfig", "ci", Some("2027-06-01T00:00:00Z")));
        inv.upsert(c("ca", "cluster", Some("2027-01-05T00:00:00Z")));
        inv.upsert(c("oidc-client", "grafana", Some("2027-01-02T00:00:00Z")));
        inv.upsert(c("deploy-key", "flux", None));
        let deadline = time::macros::datetime!(2027-01-15 00:00:00 UTC);
        let d = due(
            "demo",
            &inv,
            deadline,
            &Default::default(),
            Inputs::default(),
        );
        assert_eq!(
            d.targets,
            [
                Target::Kubeconfig("admin".into()),
                Target::Oidc("grafana".into())
            ]
        );
        // Issue #23 item 7: a CA in the window is named with its phased command.
        assert_eq!(d.elsewhere.len(), 1, "{:?}", d.elsewhere);
        assert!(d.elsewhere[0].contains("mcb rotate demo --only ca/cluster"));
        let none = due(
            "demo",
            &inv,
            time::macros::datetime!(2026-12-01 00:00:00 UTC),
            &Default::default(),
            Inputs::default(),
        );
        assert!(none.targets.is_empty() && none.elsewhere.is_empty());
    }

    /// Issue #23 item 7: deploy keys, app keys and age keys had no maximum age, so they
    /// were never due.
    #[test]
    fn every_kind_has_a_maximum_age() {
        let mut inv = Inventory::new();
        let created = "2026-01-01T00:00:00Z";
        inv.upsert(cred("deploy-key", "flux", created, None));
        inv.upsert(cred("github-app", "flux", created, None));
        inv.upsert(cred("age-key", "installation", created, None));
        inv.upsert(cred("oidc-client", "grafana", created, None));
        let soon = time::macros::datetime!(2026-07-15 00:00:00 UTC);
        let d = due("demo", &inv, soon, &Default::default(), Inputs::default());
        assert_eq!(d.targets, [Target::Oidc("grafana".into())], "180 days");
        let late = time::macros::datetime!(2027-01-15 00:00:00 UTC);
        let d = due("demo", &inv, late, &Default::default(), Inputs::default());
        assert_eq!(
            d.targets,
            [Target::Oidc("grafana".into()), Target::DeployKey]
        );
        assert!(d
            .elsewhere
            .iter()
            .any(|l| l.contains("--only github-app --import")));
        let all = Inputs {
            age_key_out: true,
            github_app_key: true,
        };
        let d = due(
            "demo",
            &inv,
            time::macros::datetime!(2028-01-15 00:00:00 UTC),
            &Default::default(),
            all,
        );
        assert_eq!(
            d.targets,
            [
                Target::Oidc("grafana".into()),
                Target::GithubApp,
                Target::DeployKey,
                Target::AgeKey
            ]
        );
        // The spec's maximum age wins over the default.
        let spec: crate::spec::MaxAge =
            serde_json::from_value(serde_json::json!({"deploy-key": "30d"})).unwrap();
        let d = due(
            "demo",
            &inv,
            time::macros::datetime!(2026-02-15 00:00:00 UTC),
            &spec,
            Inputs::default(),
        );
        assert_eq!(d.targets, [Target::DeployKey]);
    }

    #[test]
    fn branch_suffix_names_a_single_target() {
        assert_eq!(
            branch_suffix(&[Target::Kubeconfig("admin".into())]),
            "-kubeconfig-admin"
        );
        assert_eq!(branch_suffix(&[]), "");
        assert_eq!(branch_suffix(&[Target::AgeKey, Target::DeployKey]), "");
    }
}
