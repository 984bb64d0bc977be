//! The check rules: one [`Rule`] per kind of finding, with its stable kebab-case id (JSON,
//! SARIF, `--skip`, the human output) and its one-line description (the SARIF rule table,
//! `mcb check --help`). Adding a rule is adding a variant: every exhaustive match shows
//! what it touches.

use std::fmt;

use serde::Serialize;

/// A check rule. Declaration order is the SARIF rule table's order (its `ruleIndex`);
/// findings sort by the id, as they did when rules were strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    PlaintextSecret,
    SopsInvalid,
    SopsMac,
    SopsRecipients,
    RenderDrift,
    SpecInvalid,
    FluxMigrate,
    CertExpired,
    CertExpiring,
    KustomizeBuild,
    CapiSecretName,
    SharedUnknown,
    SharedUnreadable,
    ProviderCredentials,
    DexConnectorSecret,
    OidcConsumerSecret,
    Schema,
    InventoryInvalid,
}

impl Rule {
    /// Every rule, in the SARIF table's order.
    pub const ALL: &'static [Rule] = &[
        Rule::PlaintextSecret,
        Rule::SopsInvalid,
        Rule::SopsMac,
        Rule::SopsRecipients,
        Rule::RenderDrift,
        Rule::SpecInvalid,
        Rule::FluxMigrate,
        Rule::CertExpired,
        Rule::CertExpiring,
        Rule::KustomizeBuild,
        Rule::CapiSecretName,
        Rule::SharedUnknown,
        Rule::SharedUnreadable,
        Rule::ProviderCredentials,
        Rule::DexConnectorSecret,
        Rule::OidcConsumerSecret,
        Rule::Schema,
        Rule::InventoryInvalid,
    ];

    /// The stable id (`render-drift`).
    pub fn id(self) -> &'static str {
        match self {
            Rule::PlaintextSecret => "plaintext-secret",
            Rule::SopsInvalid => "sops-invalid",
            Rule::SopsMac => "sops-mac",
            Rule::SopsRecipients => "sops-recipients",
            Rule::RenderDrift => "render-drift",
            Rule::SpecInvalid => "spec-invalid",
            Rule::FluxMigrate => "flux-migrate",
            Rule::CertExpired => "cert-expired",
            Rule::CertExpiring => "cert-expiring",
            Rule::KustomizeBuild => "kustomize-build",
            Rule::CapiSecretName => "capi-secret-name",
            Rule::SharedUnknown => "shared-unknown",
            Rule::SharedUnreadable => "shared-unreadable",
            Rule::ProviderCredentials => "provider-credentials",
            Rule::DexConnectorSecret => "dex-connector-secret",
            Rule::OidcConsumerSecret => "oidc-consumer-secret",
            Rule::Schema => "schema",
            Rule::InventoryInvalid => "inventory-invalid",
        }
    }

    /// What a finding of this rule means, in one line.
    pub fn description(self) -> &'static str {
        match self {
            Rule::PlaintextSecret => "A secret value is stored in clear text outside SOPS encryption",
            Rule::SopsInvalid => "A SOPS file's metadata is missing or malformed",
            Rule::SopsMac => "A SOPS file's MAC does not match its content (edited without sops)",
            Rule::SopsRecipients => "A SOPS file is not encrypted for exactly the recipients its .sops.yaml rule names",
            Rule::RenderDrift => "Rendered manifests differ from what the spec renders to",
            Rule::SpecInvalid => "The installation spec does not validate",
            Rule::FluxMigrate => "The spec's Flux no longer serves an API version the repo's current Flux install stores",
            Rule::CertExpired => "A certificate or credential has expired",
            Rule::CertExpiring => "A certificate or credential expires within --warn-within",
            Rule::KustomizeBuild => "A kustomization does not build",
            Rule::CapiSecretName => "A Cluster API secret's name, label or namespace does not match its cluster",
            Rule::SharedUnknown => "An installation uses a shared secret the repo does not have",
            Rule::SharedUnreadable => "A shared secret's file is not encrypted for every installation that uses it",
            Rule::ProviderCredentials => "A credential Secret the infrastructure provider needs is missing or lacks a key",
            Rule::DexConnectorSecret => "A Dex connector has no client secret in the repo (dex-connectors or its shared secret)",
            Rule::OidcConsumerSecret => "An OIDC client's consumer named in the spec has no Secret in secrets/oidc-consumers/, or a file there is no consumer's",
            Rule::Schema => "A manifest does not validate strictly against the upstream schema of its kind, or no schema knows its kind",
            Rule::InventoryInvalid => "An installation's credentials.yaml does not parse",
        }
    }

    /// What `--skip` of this rule leaves out beyond its findings: the report's "not checked"
    /// line for a check that then does not run at all.
    pub fn skipped_note(self) -> Option<String> {
        match self {
            Rule::RenderDrift | Rule::KustomizeBuild => Some(format!("{self}: skipped by --skip")),
            Rule::Schema => None,
            Rule::PlaintextSecret
            | Rule::SopsInvalid
            | Rule::SopsMac
            | Rule::SopsRecipients
            | Rule::SpecInvalid
            | Rule::FluxMigrate
            | Rule::CertExpired
            | Rule::CertExpiring
            | Rule::CapiSecretName
            | Rule::SharedUnknown
            | Rule::SharedUnreadable
            | Rule::ProviderCredentials
            | Rule::DexConnectorSecret
            | Rule::OidcConsumerSecret
            | Rule::InventoryInvalid => None,
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

// By id, so findings keep the order they had when rules were strings.
impl Ord for Rule {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.id().cmp(other.id())
    }
}

impl PartialOrd for Rule {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// `--skip RULE`: clap lists the ids with their descriptions in `--help` and in the error
/// for an unknown one.
impl clap::ValueEnum for Rule {
    fn value_variants<'a>() -> &'a [Self] {
        Rule::ALL
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.id()).help(self.description()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_lists_every_variant_once_and_ids_are_unique() {
        // The match in `id` is exhaustive; ALL must name each variant exactly once.
        let ids: std::collections::BTreeSet<&str> = Rule::ALL.iter().map(|r| r.id()).collect();
        assert_eq!(ids.len(), Rule::ALL.len());
        for r in Rule::ALL {
            assert_eq!(serde_json::to_value(r).unwrap(), r.id());
            assert_eq!(
                <Rule as clap::ValueEnum>::from_str(r.id(), false).unwrap(),
                *r
            );
        }
    }
}
