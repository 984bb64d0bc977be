//! The upstream Flux installs mcb ships: `vendor/flux/<version>/` (made by
//! `scripts/vendor-flux.sh`, exactly what `flux install --export` emits for that release),
//! embedded at build time. Owns which versions exist, the default, and the facts mcb reads
//! from an install: controller image tags (from its `SOURCE`), whether it has GitHub App
//! auth, and which CRD versions it serves and stores. Pure data; never reads the disk.

use std::collections::{BTreeMap, BTreeSet};

mod vendored {
    include!(concat!(env!("OUT_DIR"), "/flux.rs"));
}

/// The Flux version a spec without `flux.version` gets: the newest vendored release.
pub const DEFAULT_VERSION: &str = "v2.9.0";

/// The first source-controller with GitHub App auth on a GitRepository (`provider: github`,
/// Flux v2.5.0).
pub const GITHUB_APP_SOURCE_CONTROLLER: (u64, u64, u64) = (1, 5, 0);

/// One vendored Flux install.
#[derive(Debug, Clone, Copy)]
pub struct Install {
    /// The flux2 release, `vX.Y.Z`.
    pub version: &'static str,
    /// `gotk-components.yaml`: every CRD, Deployment, Service, RBAC object and NetworkPolicy.
    pub components: &'static str,
    /// `SOURCE`: upstream repositories, tags and commits, asset URLs and images.
    pub source: &'static str,
}

/// Every vendored install, oldest first.
pub fn installs() -> Vec<Install> {
    let mut all: Vec<Install> = vendored::VENDORED
        .iter()
        .map(|&(version, components, source)| Install {
            version,
            components,
            source,
        })
        .collect();
    all.sort_by_key(|i| semver(i.version));
    all
}

/// The vendored install of `version`, if mcb ships it.
pub fn find(version: &str) -> Option<Install> {
    installs().into_iter().find(|i| i.version == version)
}

/// The versions mcb ships, oldest first.
pub fn versions() -> Vec<&'static str> {
    installs().into_iter().map(|i| i.version).collect()
}

impl Install {
    /// The image of `controller` (e.g. `source-controller`) as SOURCE records it.
    pub fn image(&self, controller: &str) -> Option<&'static str> {
        self.source.lines().find_map(|l| {
            let rest = l.strip_prefix("image ")?;
            let (c, image) = rest.split_once(' ')?;
            (c == controller).then_some(image.trim())
        })
    }

    /// The release tag of `controller` in this install (`v1.9.1`).
    pub fn controller_tag(&self, controller: &str) -> Option<&'static str> {
        self.image(controller)?.rsplit_once(':').map(|(_, t)| t)
    }

    /// Whether a GitRepository may use GitHub App auth with this install.
    pub fn supports_github_app(&self) -> bool {
        self.controller_tag("source-controller")
            .and_then(semver)
            .is_some_and(|v| v >= GITHUB_APP_SOURCE_CONTROLLER)
    }
}

/// `vX.Y.Z` as numbers; `None` for anything else.
pub fn semver(v: &str) -> Option<(u64, u64, u64)> {
    let mut p = v.strip_prefix('v')?.splitn(3, '.').map(|x| x.parse().ok());
    Some((p.next()??, p.next()??, p.next()??))
}

/// The API versions of one CRD in an install.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CrdVersions {
    /// versions with `served: true`
    pub served: BTreeSet<String>,
    /// the version with `storage: true`
    pub storage: Option<String>,
}

/// The CRDs of an install (any `gotk-components.yaml` text), by name
/// (`gitrepositories.source.toolkit.fluxcd.io`). Documents that do not parse are skipped.
pub fn crd_versions(install: &str) -> BTreeMap<String, CrdVersions> {
    let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(install).unwrap_or_default();
    let mut out = BTreeMap::new();
    for d in docs {
        if d["kind"] != "CustomResourceDefinition" {
            continue;
        }
        let Some(name) = d["metadata"]["name"].as_str() else {
            continue;
        };
        let mut v = CrdVersions::default();
        for ver in d["spec"]["versions"].as_array().into_iter().flatten() {
            let Some(n) = ver["name"].as_str() else {
                continue;
            };
            if ver["served"] == true {
                v.served.insert(n.to_string());
            }
            if ver["storage"] == true {
                v.storage = Some(n.to_string());
            }
        }
        out.insert(name.to_string(), v);
    }
    out
}

/// A CRD version the current install stores that the next one no longer serves: objects
/// stored in it must be migrated (`flux migrate`) before the upgrade.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unserved {
    /// the CRD (`ocirepositories.source.toolkit.fluxcd.io`)
    pub crd: String,
    /// the stored version (`v1beta2`)
    pub version: String,
}

/// The stored versions of `current`'s CRDs that `next` does not serve (a CRD `next` drops
/// altogether is not listed: Flux no longer manages it).
pub fn unserved_after_upgrade(current: &str, next: &str) -> Vec<Unserved> {
    let next = crd_versions(next);
    crd_versions(current)
        .into_iter()
        .filter_map(|(crd, v)| {
            let stored = v.storage?;
            let n = next.get(&crd)?;
            (!n.served.contains(&stored)).then_some(Unserved {
                crd,
                version: stored,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_the_newest_vendored_release() {
        let v = versions();
        assert_eq!(v.last().copied(), Some(DEFAULT_VERSION), "{v:?}");
        assert!(
            v.len() >= 2,
            "one earlier release for existing clusters: {v:?}"
        );
    }

    #[test]
    fn github_app_needs_source_controller_1_5() {
        assert!(find(DEFAULT_VERSION).unwrap().supports_github_app());
        let old = find("v2.4.0").unwrap();
        assert_eq!(old.controller_tag("source-controller"), Some("v1.4.1"));
        assert!(!old.supports_github_app());
    }

    #[test]
    fn crd_versions_of_an_install() {
        let crds = crd_versions(find("v2.4.0").unwrap().components);
        let oci = &crds["ocirepositories.source.toolkit.fluxcd.io"];
        assert_eq!(oci.storage.as_deref(), Some("v1beta2"));
        let git = &crds["gitrepositories.source.toolkit.fluxcd.io"];
        assert!(git.served.contains("v1") && git.served.contains("v1beta2"));
        assert_eq!(crds.len(), 10);
    }

    #[test]
    fn upgrade_from_2_4_drops_stored_oci_v1beta2() {
        let old = find("v2.4.0").unwrap().components;
        let new = find(DEFAULT_VERSION).unwrap().components;
        let u = unserved_after_upgrade(old, new);
        assert!(
            u.contains(&Unserved {
                crd: "ocirepositories.source.toolkit.fluxcd.io".into(),
                version: "v1beta2".into()
            }),
            "{u:?}"
        );
        assert!(unserved_after_upgrade(new, new).is_empty());
        assert!(unserved_after_upgrade(find("v2.8.8").unwrap().components, new).is_empty());
    }

    #[test]
    fn semver_parses_tags_only() {
        assert_eq!(semver("v1.5.0"), Some((1, 5, 0)));
        assert_eq!(semver("1.5.0"), None);
        assert_eq!(semver("v1.5"), None);
    }
}
