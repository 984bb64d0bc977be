//! The pull-request body: what changed, for a reviewer. It is built from public facts only
//! ([`ChangeSummary`] has no field that could hold a secret value), and the output is
//! deterministic: lists are sorted, so a re-run renders the same bytes.

use std::fmt::Write as _;

/// Created or rotated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CredentialAction {
    /// made for the first time
    Created,
    /// replaced by a new one
    Rotated,
}

/// A credential that changed, described by its public facts.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CredentialChange {
    /// created or rotated
    pub action: CredentialAction,
    /// `ca`, `kubeconfig`, `oidc-client`, `deploy-key`, ...
    pub kind: String,
    /// the id within its kind
    pub id: String,
    /// e.g. `sha256:ab12…` of the public part
    pub fingerprint: Option<String>,
    /// the fingerprint it replaced (rotations), so a reviewer sees before and after
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous: Option<String>,
    /// expiry, RFC 3339
    pub not_after: Option<String>,
}

/// Everything a PR body says.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ChangeSummary {
    /// one line saying what the command did ("Create installation prod")
    pub headline: String,
    /// installations touched
    pub installations: Vec<String>,
    /// files added, relative to the repo root
    pub added: Vec<String>,
    /// files changed
    pub changed: Vec<String>,
    /// files removed
    pub removed: Vec<String>,
    /// credentials created or rotated
    pub credentials: Vec<CredentialChange>,
}

/// Renders the Markdown body.
pub fn render(s: &ChangeSummary) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}\n", md_text(&s.headline));
    if !s.installations.is_empty() {
        let mut inst: Vec<&str> = s.installations.iter().map(String::as_str).collect();
        inst.sort_unstable();
        inst.dedup();
        let list: Vec<String> = inst.iter().map(|i| format!("`{}`", code(i))).collect();
        let _ = writeln!(out, "**Installations:** {}\n", list.join(", "));
    }
    if !s.credentials.is_empty() {
        let mut creds = s.credentials.clone();
        creds.sort();
        out.push_str("### Credentials\n\n| action | kind | id | fingerprint (before → after) | not after |\n|---|---|---|---|---|\n");
        for c in &creds {
            let action = match c.action {
                CredentialAction::Created => "created",
                CredentialAction::Rotated => "rotated",
            };
            let _ = writeln!(
                out,
                "| {action} | {} | {} | {} | {} |",
                cell(&c.kind),
                cell(&c.id),
                fingerprints(c),
                c.not_after
                    .as_deref()
                    .map(cell)
                    .unwrap_or_else(|| "—".into()),
            );
        }
        out.push('\n');
    }
    let total = s.added.len() + s.changed.len() + s.removed.len();
    if total > 0 {
        let _ = writeln!(
            out,
            "### Files\n\n{} added, {} changed, {} removed\n",
            s.added.len(),
            s.changed.len(),
            s.removed.len()
        );
        for (label, files) in [
            ("added", &s.added),
            ("changed", &s.changed),
            ("removed", &s.removed),
        ] {
            let mut files: Vec<&str> = files.iter().map(String::as_str).collect();
            files.sort_unstable();
            for f in files {
                let _ = writeln!(out, "- {label}: `{}`", code(f));
            }
        }
        out.push('\n');
    }
    out.push_str("---\nOpened by mcb. Secret values are SOPS-encrypted and never shown here; review the plaintext parts of the diff.\n");
    out
}

/// `after`, or `before → after` for a rotation.
fn fingerprints(c: &CredentialChange) -> String {
    let after = c
        .fingerprint
        .as_deref()
        .map(cell)
        .unwrap_or_else(|| "—".into());
    match &c.previous {
        Some(before) => format!("{} → {after}", cell(before)),
        None => after,
    }
}

/// Inside backticks: a backtick would end the span.
fn code(s: &str) -> String {
    s.replace('`', "'")
}

/// A table cell: pipes and newlines would break the table.
fn cell(s: &str) -> String {
    format!(
        "`{}`",
        code(s).replace('|', "\\|").replace(['\n', '\r'], " ")
    )
}

/// Free text on one line.
fn md_text(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary() -> ChangeSummary {
        ChangeSummary {
            headline: "Create installation prod".into(),
            installations: vec!["prod".into(), "prod".into()],
            added: vec![
                "installations/prod/secrets/b.sops.yaml".into(),
                "installations/prod/installation.yaml".into(),
            ],
            changed: vec![".sops.yaml".into()],
            removed: vec![],
            credentials: vec![
                CredentialChange {
                    action: CredentialAction::Rotated,
                    kind: "kubeconfig".into(),
                    id: "admin".into(),
                    fingerprint: Some("sha256:ab12".into()),
                    previous: Some("sha256:0ld".into()),
                    not_after: Some("2027-11-25T12:00:00Z".into()),
                },
                CredentialChange {
                    action: CredentialAction::Created,
                    kind: "ca".into(),
                    id: "cluster|x".into(),
                    fingerprint: None,
                    previous: None,
                    not_after: None,
                },
            ],
        }
    }

    #[test]
    fn renders_sorted_markdown() {
        let b = render(&summary());
        assert!(
            b.starts_with("Create installation prod\n\n**Installations:** `prod`\n"),
            "{b}"
        );
        let created = b
            .find("| created | `ca` | `cluster\\|x` | — | — |")
            .unwrap();
        let rotated = b
            .find("| rotated | `kubeconfig` | `admin` | `sha256:0ld` → `sha256:ab12` | `2027-11-25T12:00:00Z` |")
            .unwrap();
        assert!(created < rotated, "{b}");
        assert!(b.contains("2 added, 1 changed, 0 removed"), "{b}");
        let i = b
            .find("added: `installations/prod/installation.yaml`")
            .unwrap();
        let s = b
            .find("added: `installations/prod/secrets/b.sops.yaml`")
            .unwrap();
        assert!(i < s, "{b}");
        assert_eq!(b, render(&summary()), "deterministic");
    }

    #[test]
    fn empty_summary_is_just_headline_and_footer() {
        let b = render(&ChangeSummary {
            headline: "Nothing".into(),
            ..Default::default()
        });
        assert!(!b.contains("###"), "{b}");
    }
}
