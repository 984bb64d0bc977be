//! `mcb status`: every credential of each installation from its `credentials.yaml` (kind,
//! id, fingerprint, not-after, days left, last rotation) and the CA rotation phase. Reads
//! only the public inventory: no key is needed and no secret is seen.

use std::path::Path;

use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::check;
use crate::inventory::{CredentialKind, Inventory};

/// The `extra` key of a `ca` credential that holds its rotation phase (`1`: new CA
/// trusted next to the old, `2`: new CA signs; absent when no rotation is under way), as
/// `mcb rotate` writes it.
pub const PHASE_KEY: &str = "phase";

/// One credential's row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CredentialStatus {
    /// `ca`, `kubeconfig`, `oidc-client`…
    pub kind: String,
    /// Which one within the kind.
    pub id: String,
    /// `sha256:…` or the age recipient.
    pub fingerprint: String,
    /// RFC 3339 expiry, if it expires.
    pub not_after: Option<String>,
    /// Whole days until `not_after` (negative once expired).
    pub days_left: Option<i64>,
    /// RFC 3339 time of the last rotation, or of creation if never rotated.
    pub last_rotated: String,
    /// CA rotation phase (`ca` credentials only), when one is under way.
    pub rotation_phase: Option<String>,
}

/// One installation's credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InstallationStatus {
    /// The installation.
    pub name: String,
    /// `none`, or `id: phase N of 3` for each CA in rotation.
    pub ca_rotation_phase: String,
    /// Credentials sorted by kind and id.
    pub credentials: Vec<CredentialStatus>,
    /// Dex connectors in spec order, with where their client secret is kept and whether it
    /// is there (empty when the spec does not parse: `mcb check` reports that).
    pub connectors: Vec<check::dex::ConnectorSecret>,
}

/// The status of each installation in `names` (all when empty).
pub fn collect(
    root: &Path,
    names: &[String],
    now: OffsetDateTime,
) -> Result<Vec<InstallationStatus>, crate::Error> {
    check::select(root, names)?
        .into_iter()
        .map(|name| {
            let inv = crate::repo::installation::read_inventory(root, &name)?;
            let mut status = of_inventory(name, &inv, now);
            status.connectors = connectors(root, &status.name);
            Ok(status)
        })
        .collect()
}

/// The connectors of installation `name` and their secrets; none when its spec is unusable.
fn connectors(root: &Path, name: &str) -> Vec<check::dex::ConnectorSecret> {
    let read = |p: &str| {
        crate::fsutil::read_optional(root.join(p))
            .ok()
            .flatten()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    };
    let spec_path = crate::repo::spec_path(name);
    read(&spec_path)
        .and_then(|src| crate::spec::parse(&src, Path::new(&spec_path)).ok())
        .map(|spec| check::dex::connector_secrets(&spec, &read))
        .unwrap_or_default()
}

/// The status rows of one inventory.
pub fn of_inventory(name: String, inv: &Inventory, now: OffsetDateTime) -> InstallationStatus {
    let mut credentials: Vec<CredentialStatus> = inv
        .credentials
        .iter()
        .map(|c| CredentialStatus {
            kind: c.kind.to_string(),
            id: c.id.clone(),
            fingerprint: c.fingerprint.clone(),
            not_after: c.not_after.clone(),
            days_left: c
                .not_after
                .as_deref()
                .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
                .map(|t| (t - now).whole_days()),
            last_rotated: c.rotated.clone().unwrap_or_else(|| c.created.clone()),
            rotation_phase: (c.kind == CredentialKind::Ca)
                .then(|| c.extra.get(PHASE_KEY).cloned())
                .flatten(),
        })
        .collect();
    credentials.sort_by(|a, b| (&a.kind, &a.id).cmp(&(&b.kind, &b.id)));
    let phases: Vec<String> = credentials
        .iter()
        .filter_map(|c| {
            c.rotation_phase
                .as_ref()
                .map(|p| format!("{}: phase {p} of 3", c.id))
        })
        .collect();
    InstallationStatus {
        name,
        ca_rotation_phase: if phases.is_empty() {
            "none".into()
        } else {
            phases.join(", ")
        },
        credentials,
        connectors: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::Credential;
    use time::macros::datetime;

    #[test]
    fn rows_days_left_and_phase() {
        let mut inv = Inventory::new();
        let mut ca = Credential {
            kind: CredentialKind::Ca,
            id: "cluster".into(),
            subject: None,
            fingerprint: "sha256:ab".into(),
            not_before: None,
            not_after: Some("2026-12-05T12:00:00Z".into()),
            created: "2026-01-01T00:00:00Z".into(),
            rotated: Some("2026-06-01T00:00:00Z".into()),
            file: None,
            extra: Default::default(),
        };
        ca.extra.insert(PHASE_KEY.into(), "1".into());
        inv.upsert(ca);
        inv.upsert(Credential {
            kind: CredentialKind::AgeKey,
            id: "installation".into(),
            not_after: None,
            rotated: None,
            extra: Default::default(),
            ..inv.credentials[0].clone()
        });
        let s = of_inventory("a".into(), &inv, datetime!(2026-11-25 12:00 UTC));
        assert_eq!(s.ca_rotation_phase, "cluster: phase 1 of 3");
        assert_eq!(s.credentials[0].kind, "age-key");
        assert_eq!(s.credentials[0].days_left, None);
        assert_eq!(s.credentials[0].last_rotated, "2026-01-01T00:00:00Z");
        assert_eq!(s.credentials[1].days_left, Some(10));
        assert_eq!(s.credentials[1].last_rotated, "2026-06-01T00:00:00Z");
    }
}
