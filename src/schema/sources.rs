//! Where schemas come from: the vendored data embedded at build time (every
//! CustomResourceDefinition in `vendor/**/*.yaml`, the built-in kinds of one Kubernetes
//! minor in `vendor/kubernetes/`), and CRD documents handed in at run time. Vendored CRDs
//! are indexed by a cheap text scan and parsed only when their kind is first validated.

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
        let v: Value = serde_json::from_str(text).unwrap_or_default();
        let kinds = v
            .get("kinds")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, d)| Some((k.clone(), d.as_str()?.to_owned())))
                    .collect()
            })
            .unwrap_or_default();
        let defs = v
            .get("$defs")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
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
pub(crate) fn vendored_index() -> &'static BTreeMap<(String, String), Vec<DocRef>> {
    static I: OnceLock<BTreeMap<(String, String), Vec<DocRef>>> = OnceLock::new();
    I.get_or_init(|| {
        let mut files: Vec<usize> = (0..vendored_files().len()).collect();
        files.sort_by(|&a, &b| natural_cmp(vendored_files()[a].0, vendored_files()[b].0));
        let mut out: BTreeMap<(String, String), Vec<DocRef>> = BTreeMap::new();
        for file in files {
            let (path, text) = vendored_files()[file];
            if !(path.ends_with(".yaml") || path.ends_with(".yml")) {
                continue;
            }
            for (start, end) in split_documents(text) {
                let doc = &text[start..end];
                if let Some(id) = crd_identity(doc) {
                    out.entry(id).or_default().push(DocRef { file, start, end });
                }
            }
        }
        out
    })
}

/// Byte ranges of the documents of a YAML stream (split at `---` lines).
pub(crate) fn split_documents(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        let l = line.trim_end();
        if l == "---" || l.starts_with("--- ") || l == "..." {
            if at > start {
                out.push((start, at));
            }
            start = at + line.len();
        }
        at += line.len();
    }
    if text.len() > start {
        out.push((start, text.len()));
    }
    out
}

/// (`spec.group`, `spec.names.kind`) of a CRD document by a scan of its top-level layout
/// (`kind:` at column 0, `  group:` and `    kind:` under `  names:`), or `None` when the
/// document is not a CRD. A test proves the scan agrees with a full parse for every
/// vendored file.
pub(crate) fn crd_identity(doc: &str) -> Option<(String, String)> {
    let mut is_crd = false;
    let mut in_spec = false;
    let mut in_names = false;
    let mut group = None;
    let mut kind = None;
    for line in doc.lines() {
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        if indent == 0 {
            is_crd |= scalar(line, "kind:").is_some_and(|k| k == "CustomResourceDefinition");
            in_spec = line.starts_with("spec:");
            in_names = false;
            continue;
        }
        if !in_spec {
            continue;
        }
        if indent == 2 {
            in_names = line.trim_start() == "names:";
            if let Some(g) = scalar(&line[2..], "group:") {
                group = Some(g);
            }
        } else if indent == 4 && in_names && kind.is_none() {
            kind = scalar(&line[4..], "kind:");
        }
    }
    if !is_crd {
        return None;
    }
    Some((group?, kind?))
}

fn scalar(line: &str, key: &str) -> Option<String> {
    let v = line.strip_prefix(key)?.trim();
    let v = v.split(" #").next().unwrap_or(v).trim();
    Some(v.trim_matches(|c| c == '"' || c == '\'').to_owned())
}

/// Compares paths with runs of digits as numbers (`v2.10.0` after `v2.9.0`).
pub(crate) fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    fn parts(s: &str) -> Vec<(bool, &str)> {
        let mut out = Vec::new();
        let mut start = 0;
        let b = s.as_bytes();
        for i in 1..=b.len() {
            if i == b.len() || b[i].is_ascii_digit() != b[i - 1].is_ascii_digit() {
                out.push((b[start].is_ascii_digit(), &s[start..i]));
                start = i;
            }
        }
        out
    }
    let (pa, pb) = (parts(a), parts(b));
    for (x, y) in pa.iter().zip(&pb) {
        let o = match (x, y) {
            ((true, x), (true, y)) => x
                .trim_start_matches('0')
                .len()
                .cmp(&y.trim_start_matches('0').len())
                .then_with(|| x.trim_start_matches('0').cmp(y.trim_start_matches('0'))),
            ((_, x), (_, y)) => x.cmp(y),
        };
        if o.is_ne() {
            return o;
        }
    }
    pa.len().cmp(&pb.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_split_at_separators() {
        let t = "---\na: 1\n---\nb: 2\n--- # c\nc: 3\n";
        let docs: Vec<&str> = split_documents(t).iter().map(|&(s, e)| &t[s..e]).collect();
        assert_eq!(docs, vec!["a: 1\n", "b: 2\n", "c: 3\n"]);
    }

    #[test]
    fn crd_identity_from_layout() {
        let crd = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: xs.example.com\n  labels:\n    kind: nope\nspec:\n  group: example.com\n  names:\n    plural: xs\n    kind: X\n  versions: []\nstatus:\n  acceptedNames:\n    kind: ''\n";
        assert_eq!(crd_identity(crd), Some(("example.com".into(), "X".into())));
        assert_eq!(crd_identity("kind: ConfigMap\nspec:\n  group: a\n"), None);
    }

    #[test]
    fn natural_order() {
        use std::cmp::Ordering::*;
        assert_eq!(natural_cmp("flux/v2.9.0/a", "flux/v2.10.0/a"), Less);
        assert_eq!(natural_cmp("a/v1", "a/v1"), Equal);
        assert_eq!(natural_cmp("b", "a"), Greater);
    }

    #[test]
    fn every_vendored_crd_is_indexed_as_a_full_parse_sees_it() {
        let mut scanned = 0;
        for (path, text) in vendored_files() {
            if !(path.ends_with(".yaml") || path.ends_with(".yml")) {
                continue;
            }
            for (s, e) in split_documents(text) {
                let doc: Value = match serde_saphyr::from_str(&text[s..e]) {
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
                assert_eq!(crd_identity(&text[s..e]), parsed, "{path}");
                scanned += parsed.is_some() as usize;
            }
        }
        let indexed: usize = vendored_index().values().map(Vec::len).sum();
        assert_eq!(indexed, scanned);
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
