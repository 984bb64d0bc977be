//! The bootstrap as an ordered list of named stages, after flux2's `install` and `bootstrap`
//! (`internal/utils/apply.go`): CRDs and Namespaces first, then wait until the CRDs are
//! Established (no custom object can be applied before); then the controllers, then wait for
//! their rollout; then the secrets and sync objects, then wait until Flux reconciled them.
//! Stages are plain data, so a use case can insert its own (a pivot can add "suspend the
//! cluster Kustomization"). Pure: splitting and describing, never applying.

use crate::fileset::Content;

/// Namespace of the Flux install and its sync objects.
pub const FLUX_NAMESPACE: &str = "flux-system";

/// One step of the bootstrap: objects applied together, then waited for.
#[derive(Debug)]
pub struct Stage {
    /// short name, also the `--out` directory suffix (`crds`, `controllers`, `sync`)
    pub name: String,
    /// what it does, one line (progress, README)
    pub about: String,
    /// file name and YAML (one or more documents), in apply order
    pub files: Vec<(String, Content)>,
    /// what must hold before the next stage
    pub waits: Vec<Wait>,
    /// the server-side apply field manager ([`FIELD_MANAGER`] but for the pivot's suspend)
    pub field_manager: &'static str,
}

/// The field manager the bootstrap applies with. Not `kubectl`: kustomize-controller removes
/// fields owned by kubectl's managers once it takes an object over.
pub const FIELD_MANAGER: &str = "mcb";

/// A condition the bootstrap waits for after applying a stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wait {
    /// The CustomResourceDefinitions are Established (served by the API server).
    Established {
        /// CRD names (`gitrepositories.source.toolkit.fluxcd.io`)
        crds: Vec<String>,
    },
    /// A Deployment finished its rollout.
    Rollout {
        /// its namespace
        namespace: String,
        /// its name
        name: String,
    },
    /// A Flux object reports condition Ready=True (reconciled).
    Ready {
        /// its namespace
        namespace: String,
        /// resource, fully qualified (`gitrepositories.source.toolkit.fluxcd.io`)
        resource: String,
        /// its name
        name: String,
    },
}

impl Wait {
    /// Whether the next stage cannot be applied without it (a custom object needs its CRD
    /// established). The others are skipped with `--wait=false`.
    pub fn required(&self) -> bool {
        matches!(self, Wait::Established { .. })
    }

    /// The object(s) waited for, as kubectl names them (`deployment/source-controller`).
    pub fn target(&self) -> String {
        match self {
            Wait::Established { crds } => format!("{} CustomResourceDefinitions", crds.len()),
            Wait::Rollout { name, .. } => format!("deployment/{name}"),
            Wait::Ready { resource, name, .. } => format!("{resource}/{name}"),
        }
    }

    /// The same wait as a kubectl command line (for the `--out` README).
    pub fn command(&self) -> String {
        match self {
            Wait::Established { crds } => format!(
                "kubectl wait --for=condition=Established --timeout=5m {}",
                crds.iter()
                    .map(|c| format!("crd/{c}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            Wait::Rollout { namespace, name } => {
                format!("kubectl -n {namespace} rollout status deployment/{name} --timeout=5m")
            }
            Wait::Ready {
                namespace,
                resource,
                name,
            } => format!(
                "kubectl -n {namespace} wait --for=condition=Ready --timeout=5m {resource}/{name}"
            ),
        }
    }
}

/// One YAML document of a stream with the identity the stages need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Doc {
    /// the document's text, comments included, without the `---` separator
    pub text: String,
    /// top-level `kind` (empty for a comment-only document)
    pub kind: String,
    /// `metadata.name`
    pub name: String,
}

/// Splits a YAML stream at its `---` lines. Reads `kind` and `metadata.name` from block-style
/// top-level keys (what kustomize and mcb emit; the vendored installs are tested against a
/// full parse), so a 500 KB install splits without building a tree.
pub fn split(stream: &str) -> Vec<Doc> {
    let mut docs = Vec::new();
    let mut cur = String::new();
    let mut flush = |cur: &mut String| {
        if !cur.trim().is_empty() {
            docs.push(identify(std::mem::take(cur)));
        }
        cur.clear();
    };
    for line in stream.split_inclusive('\n') {
        if line.trim_end() == "---" {
            flush(&mut cur);
        } else {
            cur.push_str(line);
        }
    }
    flush(&mut cur);
    docs
}

fn identify(text: String) -> Doc {
    let mut kind = String::new();
    let mut name = String::new();
    let mut in_metadata = false;
    for line in text.lines() {
        if !line.starts_with(' ') && !line.starts_with('#') && !line.is_empty() {
            in_metadata = line.trim_end() == "metadata:";
            if let Some(k) = line.strip_prefix("kind:") {
                kind = unquote(k);
            }
        } else if in_metadata && name.is_empty() {
            if let Some(n) = line.strip_prefix("  name:") {
                name = unquote(n);
            }
        }
    }
    Doc { text, kind, name }
}

fn unquote(v: &str) -> String {
    v.trim().trim_matches(|c| c == '"' || c == '\'').to_string()
}

/// Joins documents into one stream.
pub fn join<'a>(docs: impl IntoIterator<Item = &'a Doc>) -> String {
    let mut out = String::new();
    for d in docs {
        out.push_str("---\n");
        out.push_str(&d.text);
        if !d.text.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

/// The Flux install split into its two stages: `crds` (Namespaces and CRDs, wait until
/// Established) and `controllers` (everything else, wait for every Deployment's rollout).
/// Comment-only documents (the generation header) stay at the top of `crds`.
pub fn install_stages(install: &str) -> [Stage; 2] {
    let docs = split(install);
    let first = |d: &Doc| {
        d.kind.is_empty() || d.kind == "Namespace" || d.kind == "CustomResourceDefinition"
    };
    let (crds, rest): (Vec<&Doc>, Vec<&Doc>) = docs.iter().partition(|d| first(d));
    let crd_names = crds
        .iter()
        .filter(|d| d.kind == "CustomResourceDefinition")
        .map(|d| d.name.clone())
        .collect();
    let rollouts = rest
        .iter()
        .filter(|d| d.kind == "Deployment")
        .map(|d| Wait::Rollout {
            namespace: FLUX_NAMESPACE.into(),
            name: d.name.clone(),
        })
        .collect();
    [
        Stage {
            name: "crds".into(),
            about: "Flux's Namespace and CustomResourceDefinitions".into(),
            files: vec![(
                "flux-crds.yaml".into(),
                Content::Plain(join(crds).into_bytes()),
            )],
            waits: vec![Wait::Established { crds: crd_names }],
            field_manager: FIELD_MANAGER,
        },
        Stage {
            name: "controllers".into(),
            about: "Flux's controllers, RBAC, Services and NetworkPolicies".into(),
            files: vec![(
                "flux-controllers.yaml".into(),
                Content::Plain(join(rest).into_bytes()),
            )],
            waits: rollouts,
            field_manager: FIELD_MANAGER,
        },
    ]
}

/// The waits after the sync objects: the GitRepository has fetched, the root Kustomization
/// has applied.
pub fn sync_waits() -> Vec<Wait> {
    [
        ("gitrepositories.source.toolkit.fluxcd.io", "flux-system"),
        ("kustomizations.kustomize.toolkit.fluxcd.io", "flux-system"),
    ]
    .into_iter()
    .map(|(resource, name)| Wait::Ready {
        namespace: FLUX_NAMESPACE.into(),
        resource: resource.into(),
        name: name.into(),
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_finds_kind_and_name_like_a_parser() {
        for install in crate::flux::installs() {
            let docs = split(install.components);
            let parsed: Vec<serde_json::Value> =
                serde_saphyr::from_multiple(install.components).unwrap();
            let parsed: Vec<(String, String)> = parsed
                .iter()
                .filter(|d| !d.is_null())
                .map(|d| {
                    (
                        d["kind"].as_str().unwrap().to_string(),
                        d["metadata"]["name"].as_str().unwrap().to_string(),
                    )
                })
                .collect();
            let scanned: Vec<(String, String)> = docs
                .iter()
                .filter(|d| !d.kind.is_empty())
                .map(|d| (d.kind.clone(), d.name.clone()))
                .collect();
            assert_eq!(scanned, parsed, "{}", install.version);
        }
    }

    #[test]
    fn install_splits_into_crds_then_controllers() {
        let install = crate::flux::find(crate::flux::DEFAULT_VERSION).unwrap();
        let [crds, controllers] = install_stages(install.components);
        let Content::Plain(first) = &crds.files[0].1 else {
            panic!()
        };
        let first = String::from_utf8(first.clone()).unwrap();
        assert!(first.starts_with("---\n# This manifest was generated by flux."));
        let kinds: std::collections::BTreeSet<String> =
            split(&first).into_iter().map(|d| d.kind).collect();
        assert!(kinds.contains("Namespace") && kinds.contains("CustomResourceDefinition"));
        assert!(!kinds.contains("Deployment"), "{kinds:?}");
        let Wait::Established { crds: names } = &crds.waits[0] else {
            panic!()
        };
        assert!(names.contains(&"gitrepositories.source.toolkit.fluxcd.io".to_string()));
        assert_eq!(controllers.waits.len(), 4, "{:?}", controllers.waits);
        assert!(controllers.waits.iter().all(|w| !w.required()));
        assert!(crds.waits[0].required());
    }

    #[test]
    fn split_keeps_every_byte_of_each_document() {
        let s = "# head\n---\nkind: A\nmetadata:\n  labels:\n    name: no\n  name: a\n---\nkind: B\nmetadata: {name: b}\n";
        let d = split(s);
        assert_eq!(d.len(), 3);
        assert_eq!(d[0].kind, "");
        assert_eq!((d[1].kind.as_str(), d[1].name.as_str()), ("A", "a"));
        assert_eq!(d[2].kind, "B");
        assert_eq!(join(&d), format!("---\n{s}"));
    }
}
