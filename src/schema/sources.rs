//! Where schemas come from: the vendored data embedded at build time (every
//! CustomResourceDefinition in `vendor/**/*.yaml`, the built-in kinds of one Kubernetes
//! minor in `vendor/kubernetes/`), and CRD documents handed in at run time. Vendored CRDs
//! are indexed at build time by a cheap text scan (`scan.rs`) and parsed only when their
//! kind is first validated.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde_json::Value;

use super::compile::Defs;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/vendor.rs"));
}

/// The Kubernetes minor whose built-in kind schemas mcb validates against: the minor of
/// the default `kubernetesVersion` (`v1.33.4`, see src/spec/).
pub const KUBERNETES_MINOR: &str = "v1.33";

/// The vendored files: (path under `vendor/`, content), in path order.
pub fn vendored_files() -> &'static [(&'static str, &'static str)] {
    embedded::VENDORED
}

/// The built-in kinds: `apiVersion/Kind` -> definition name, and the definitions.
pub(crate) struct Builtin {
    pub kinds: BTreeMap<String, String>,
    pub defs: Defs,
}

/// The vendored built-in kind schemas, parsed on first use.
pub(crate) fn builtin() -> &'static Builtin {
    static B: OnceLock<Builtin> = OnceLock::new();
    B.get_or_init(|| {
        let path = format!("kubernetes/{KUBERNETES_MINOR}/kinds.json");
        let text = vendored_files()
            .iter()
            .find(|(p, _)| *p == path)
            .map(|(_, t)| *t)
            .unwrap_or("{}");
        let mut v: Value = serde_json::from_str(text).unwrap_or_default();
        let kinds = v
            .get("kinds")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, d)| Some((k.clone(), d.as_str()?.to_owned())))
                    .collect()
            })
            .unwrap_or_default();
        // Taken, not cloned: the definitions are most of the file.
        let defs = match v.get_mut("$defs").map(Value::take) {
            Some(Value::Object(m)) => m,
            _ => Defs::new(),
        };
        Builtin { kinds, defs }
    })
}

/// A vendored CRD document: which file, which byte range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct DocRef {
    pub file: usize,
    pub start: usize,
    pub end: usize,
}

impl DocRef {
    /// The document's text.
    pub fn text(&self) -> &'static str {
        &vendored_files()[self.file].1[self.start..self.end]
    }
}

/// Vendored CRDs by (group, kind); several when more than one vendored version defines a
/// kind, in path order with version numbers compared numerically (the newest last).
/// `build.rs` scanned the files (`scan.rs`), so this only groups its table.
pub(crate) fn vendored_index() -> &'static BTreeMap<(String, String), Vec<DocRef>> {
    static I: OnceLock<BTreeMap<(String, String), Vec<DocRef>>> = OnceLock::new();
    I.get_or_init(|| {
        let mut out: BTreeMap<(String, String), Vec<DocRef>> = BTreeMap::new();
        for &(group, kind, file, start, end) in embedded::CRD_INDEX {
            out.entry((group.to_owned(), kind.to_owned()))
                .or_default()
                .push(DocRef { file, start, end });
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::super::scan::{crd_identity, split_documents};
    use super::*;

    #[test]
    fn every_vendored_crd_is_indexed_as_a_full_parse_sees_it() {
        let mut scanned = BTreeMap::<(String, String), Vec<DocRef>>::new();
        let mut files: Vec<usize> = (0..vendored_files().len()).collect();
        files.sort_by(|&a, &b| {
            super::super::scan::natural_cmp(vendored_files()[a].0, vendored_files()[b].0)
        });
        for file in files {
            let (path, text) = vendored_files()[file];
            if !(path.ends_with(".yaml") || path.ends_with(".yml")) {
                continue;
            }
            for (start, end) in split_documents(text) {
                let doc: Value = match serde_saphyr::from_str(&text[start..end]) {
                    Ok(v) => v,
                    Err(_) => continue,
                };
                let parsed = (doc["kind"] == "CustomResourceDefinition").then(|| {
                    (
                        doc["spec"]["group"].as_str().unwrap_or_default().to_owned(),
                        doc["spec"]["names"]["kind"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned(),
                    )
                });
                assert_eq!(crd_identity(&text[start..end]), parsed, "{path}");
                if let Some(id) = parsed {
                    scanned
                        .entry(id)
                        .or_default()
                        .push(DocRef { file, start, end });
                }
            }
        }
        // build.rs's table is what a scan at run time finds, in the same order.
        assert!(!scanned.is_empty());
        assert_eq!(*vendored_index(), scanned);
    }

    #[test]
    fn builtin_kinds_are_vendored() {
        let b = builtin();
        assert_eq!(
            b.kinds["apps/v1/Deployment"],
            "io.k8s.api.apps.v1.Deployment"
        );
        assert!(b.kinds.contains_key("v1/Secret"));
        assert!(b.defs.contains_key(super::super::compile::OBJECT_META));
    }
}
