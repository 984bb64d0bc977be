//! Flux upgrades: an installation whose spec names another Flux than the install in the
//! repo is about to upgrade. When the new install no longer serves an API version the
//! current one stores, objects kept in that version become unreadable after the upgrade
//! until `flux migrate` rewrote them: warn before that happens. Reads the repo's install
//! and mcb's vendored ones; never the cluster.

use super::{Finding, RepoFile, Rule};
use crate::render::FLUX_INSTALL;
use crate::spec::Installation;

const RULE: Rule = Rule::FluxMigrate;

/// One warning per stored CRD version the spec's Flux no longer serves.
pub fn check(files: &[RepoFile], specs: &[Installation]) -> Vec<Finding> {
    let mut out = Vec::new();
    for s in specs {
        let Some(next) = crate::flux::find(&s.flux.version) else {
            continue;
        };
        let path = format!("installations/{}/{FLUX_INSTALL}", s.name.as_str());
        let Some(f) = files.iter().find(|f| f.path == path && f.text.is_some()) else {
            continue;
        };
        // The same install (after mcb's header): no upgrade pending.
        if f.text().ends_with(next.components) {
            continue;
        }
        for u in crate::flux::unserved_after_upgrade(f.text(), next.components) {
            out.push(Finding::warning(
                f,
                None,
                RULE,
                format!(
                    "Flux {} no longer serves {} {}, which the current install stores: run \
                     `flux migrate` on the cluster before this upgrade reaches it",
                    next.version, u.crd, u.version
                ),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(version: &str) -> Installation {
        let src = format!(
            "apiVersion: mcb/v1alpha1\nkind: Installation\nname: x1\nbaseDomain: x1.example.com\n\
             provider:\n  capa:\n    region: eu-west-1\ngit:\n  url: ssh://git@github.com/o/r\n\
             flux:\n  version: {version}\n"
        );
        crate::spec::parse(&src, std::path::Path::new("installation.yaml")).unwrap()
    }

    fn install_file(version: &str) -> RepoFile {
        let text = format!(
            "{}{}",
            crate::render::header("x1"),
            crate::flux::find(version).unwrap().components
        );
        RepoFile::new(
            format!("installations/x1/{FLUX_INSTALL}"),
            text.into_bytes(),
        )
    }

    #[test]
    fn upgrade_past_a_stored_version_warns_to_migrate_first() {
        let f = check(&[install_file("v2.4.0")], &[spec("v2.9.0")]);
        assert!(!f.is_empty());
        assert!(f
            .iter()
            .all(|f| f.rule == RULE && f.severity == super::super::Severity::Warning));
        let oci = f
            .iter()
            .find(|f| {
                f.message
                    .contains("ocirepositories.source.toolkit.fluxcd.io v1beta2")
            })
            .unwrap_or_else(|| panic!("{f:#?}"));
        assert!(oci.message.contains("flux migrate"), "{}", oci.message);
        // Rendered (the install is the spec's) or an upgrade that keeps what is stored: quiet.
        assert!(check(&[install_file("v2.9.0")], &[spec("v2.9.0")]).is_empty());
        assert!(check(&[install_file("v2.8.8")], &[spec("v2.9.0")]).is_empty());
    }
}
