//! What `mcb rotate` can replace ([`Target`]) and how the due ones are picked from the
//! inventory. Rotating each kind is `super::kinds`.

use std::fmt;
use std::str::FromStr;

use time::OffsetDateTime;

use crate::creds::oidc;
use crate::inventory::{Credential, CredentialKind, Inventory};
use crate::ops::Error as OpsError;

/// Inventory id of the age key being introduced by a two-step age-key rotation.
pub const NEXT_AGE_KEY: &str = "next";
/// Inventory id of an installation's current age key.
pub const CURRENT_AGE_KEY: &str = "installation";

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

/// Whether inventory entry `c` is a Dex static client.
pub(super) fn is_dex(c: &Credential) -> bool {
    c.extra.get("provider").map(String::as_str) == Some("dex")
}

/// Why the API server's confidential Dex client is not rotated.
pub(super) fn kubectl_why() -> String {
    format!(
        "a rotation serves a new client id and the API server accepts tokens for `{}` only: make it `public: true` in the spec (kubelogin with --oidc-use-pkce), a public client has no secret to rotate",
        oidc::API_SERVER_CLIENT_ID
    )
}

#[cfg(test)]
mod tests;
