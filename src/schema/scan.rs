//! Text scans of vendored YAML that need no parser: where a stream's documents start
//! and end, and which CRD a document defines. Shared with `build.rs`, which indexes the
//! vendored CRDs with them at build time (so this module uses `std` only).

/// Byte ranges of the documents of a YAML stream (split at `---` lines).
pub fn split_documents(text: &str) -> Vec<(usize, usize)> {
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
pub fn crd_identity(doc: &str) -> Option<(String, String)> {
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
pub fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
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
}
