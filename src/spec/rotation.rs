//! The spec's `rotation` section: the longest each credential kind may go unrotated, as
//! durations with a unit (`h`, `d`, `w`).

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};

/// When credentials are due for rotation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rotation {
    /// The longest a credential of each kind may go unrotated, as a number and a unit
    /// (`h`, `d`, `w`): due when it was created or last rotated longer ago, or when it
    /// expires, whichever comes first.
    #[serde(default, skip_serializing_if = "MaxAge::is_default")]
    pub max_age: MaxAge,
}

impl Rotation {
    pub(super) fn is_default(&self) -> bool {
        self == &Rotation::default()
    }
}

/// Maximum age per credential kind; unset kinds take the default named on each.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct MaxAge {
    /// Kubeconfig client certificates [default: `365d`, their validity].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubeconfig: Option<Age>,
    /// OIDC client secrets (Dex static and registered clients) [default: `180d`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc_client: Option<Age>,
    /// Flux's SSH deploy key [default: `365d`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploy_key: Option<Age>,
    /// The GitHub App's private key [default: `365d`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github_app: Option<Age>,
    /// The installation's SOPS age key [default: `730d`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_key: Option<Age>,
    /// The cluster, etcd and front-proxy CAs [default: none: due only by expiry (10 years)].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<Age>,
}

impl MaxAge {
    fn is_default(&self) -> bool {
        self == &MaxAge::default()
    }

    /// The maximum age of inventory kind `kind` (the spec's, else the default); None: the
    /// kind is due only when it expires.
    pub fn of(&self, kind: crate::inventory::CredentialKind) -> Option<time::Duration> {
        let days = time::Duration::days;
        use crate::inventory::CredentialKind;
        let (set, default) = match kind {
            CredentialKind::Kubeconfig => (&self.kubeconfig, Some(days(365))),
            CredentialKind::OidcClient => (&self.oidc_client, Some(days(180))),
            CredentialKind::DeployKey => (&self.deploy_key, Some(days(365))),
            CredentialKind::GithubApp => (&self.github_app, Some(days(365))),
            CredentialKind::AgeKey => (&self.age_key, Some(days(730))),
            CredentialKind::Ca => (&self.ca, None),
            // not rotated (sa-key), or listed only until it expires (superseded)
            CredentialKind::SaKey | CredentialKind::KubeconfigSuperseded => return None,
        };
        set.as_ref().map(Age::duration).or(default)
    }
}

/// A duration as a number and a unit: `12h`, `30d`, `2w`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Age(String, time::Duration);

impl Age {
    /// Parses `12h`, `30d`, `2w` (also `90m` where minutes make sense).
    pub fn parse(s: &str) -> Result<time::Duration, String> {
        let bad = || format!("{s:?}: expected a number and a unit (m, h, d, w), e.g. 30d");
        let unit = s.chars().last().ok_or_else(bad)?;
        let n: i64 = s[..s.len() - unit.len_utf8()].parse().map_err(|_| bad())?;
        if n < 0 {
            return Err(bad());
        }
        Ok(match unit {
            'm' => time::Duration::minutes(n),
            'h' => time::Duration::hours(n),
            'd' => time::Duration::days(n),
            'w' => time::Duration::weeks(n),
            _ => return Err(bad()),
        })
    }

    /// The duration.
    pub fn duration(&self) -> time::Duration {
        self.1
    }
}

impl TryFrom<String> for Age {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let d = Age::parse(&s)?;
        if d <= time::Duration::ZERO {
            return Err(format!("{s:?}: a maximum age must be more than zero"));
        }
        Ok(Age(s, d))
    }
}

impl From<Age> for String {
    fn from(a: Age) -> String {
        a.0
    }
}

impl JsonSchema for Age {
    fn schema_name() -> Cow<'static, str> {
        "Age".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schemars::json_schema!({
            "description": "A duration: a number and a unit (m, h, d, w), e.g. 90d.",
            "type": "string",
            "pattern": "^[0-9]*[1-9][0-9]*[mhdw]$"
        })
    }
}
