//! A light, read-only view of the repo's YAML documents for the checks: each file parsed
//! once into generic values (key order kept), plus helpers to find the line of a key.
//! Exact SOPS semantics (MAC, typing) are the SOPS engine's business, not this module's.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use super::RepoFile;

/// The YAML documents of one file.
#[derive(Debug)]
pub struct Parsed {
    /// Index into the checked files.
    pub file: usize,
    /// The documents, in order (empty on a parse error).
    pub docs: Vec<Value>,
    /// 1-based line where each document starts.
    pub starts: Vec<usize>,
    /// Why the file does not parse: (line, message).
    pub error: Option<(Option<usize>, String)>,
    /// Whether the file is SOPS-encrypted (has top-level `sops` metadata, or looks like it).
    pub sops: bool,
}

impl Parsed {
    /// Documents with their start lines.
    pub fn docs(&self) -> impl Iterator<Item = (&Value, usize)> {
        self.docs
            .iter()
            .zip(self.starts.iter().copied().chain(std::iter::repeat(1)))
    }
}

/// Parses the YAML/JSON files among `files` that a check reads as documents: SOPS files
/// and files with a `Secret` or `Cluster` in them. The rest (most rendered manifests) are
/// only scanned as text, which keeps a large repo fast.
pub fn parse_all(files: &[RepoFile]) -> Vec<Parsed> {
    let wanted: Vec<usize> = (0..files.len())
        .filter(|&i| {
            let f = &files[i];
            f.is_yaml()
                && f.text.is_some()
                && (super::sopsfile::named_sops(&f.path) || interesting(f.text()))
        })
        .collect();
    super::par_map(&wanted, |&i| parse(i, files[i].text()))
}

/// Every YAML file of `files` with its documents, each distinct text parsed once: what
/// `parsed` holds already is reused, the rest is parsed now (on every core) into `fresh`.
pub fn parse_rest(files: &[RepoFile], parsed: &[Parsed]) -> Vec<Parsed> {
    let known: HashSet<&str> = parsed.iter().map(|p| files[p.file].text()).collect();
    let mut seen = HashSet::new();
    let todo: Vec<usize> = (0..files.len())
        .filter(|&i| files[i].is_yaml() && files[i].text.is_some())
        .filter(|&i| {
            let t = files[i].text();
            !known.contains(t) && seen.insert(t)
        })
        .collect();
    super::par_map(&todo, |&i| parse(i, files[i].text()))
}

/// Every YAML file's documents by file index, from `parsed` and `fresh` ([`parse_rest`]).
pub fn index<'a>(
    files: &[RepoFile],
    parsed: &'a [Parsed],
    fresh: &'a [Parsed],
) -> HashMap<usize, &'a Parsed> {
    let by_text: HashMap<&str, &Parsed> = parsed
        .iter()
        .chain(fresh)
        .map(|p| (files[p.file].text(), p))
        .collect();
    (0..files.len())
        .filter(|&i| files[i].is_yaml() && files[i].text.is_some())
        .filter_map(|i| Some((i, *by_text.get(files[i].text())?)))
        .collect()
}

/// Whether a file may hold a document a check reads. `Secret` can only be spelled without
/// the literal word through an escape (`"Secr\x65t"`, JSON `\u0053`) or a tag (`!!binary`),
/// so files with a backslash or a tag are parsed too: the plaintext check must see every
/// form of YAML, not just the usual one.
fn interesting(text: &str) -> bool {
    ["sops", "Secret", "Cluster", "\\", "!!"]
        .iter()
        .any(|w| text.contains(w))
}

/// Parses one file's text (index `file` among the checked files).
pub(super) fn parse(file: usize, text: &str) -> Parsed {
    // An installation spec has a `sops:` section too: only sops' own metadata counts.
    let looks_sops = text
        .lines()
        .any(|l| l.starts_with("sops:") || l.trim_start().starts_with("\"sops\":"))
        && ["lastmodified", "mac"].iter().any(|k| text.contains(k));
    match serde_saphyr::from_multiple::<Value>(text) {
        Ok(docs) => {
            let sops = docs.iter().any(is_sops);
            Parsed {
                file,
                starts: doc_starts(text),
                docs,
                error: None,
                sops,
            }
        }
        Err(e) => Parsed {
            file,
            docs: Vec::new(),
            starts: Vec::new(),
            error: Some((
                e.location().map(|l| l.line() as usize),
                e.without_snippet()
                    .to_string()
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_owned(),
            )),
            sops: looks_sops,
        },
    }
}

/// Start line of each document: 1, then the line after every `---` separator that follows
/// content (a leading `---` does not open a second document).
fn doc_starts(text: &str) -> Vec<usize> {
    let mut starts = vec![1];
    let mut content = false;
    for (i, l) in text.lines().enumerate() {
        let is_sep = l == "---" || l.starts_with("--- ");
        if is_sep && content {
            starts.push(i + 2);
            content = false;
        } else if is_sep {
            *starts.last_mut().expect("one start") = i + 2;
        } else if !l.trim().is_empty() && !l.trim_start().starts_with('#') {
            content = true;
        }
    }
    starts
}

/// Whether a document carries sops metadata (a `sops` mapping with sops' own keys).
pub fn is_sops(doc: &Value) -> bool {
    doc.get("sops").and_then(Value::as_object).is_some_and(|m| {
        ["mac", "lastmodified", "version"]
            .iter()
            .any(|k| m.contains_key(*k))
    })
}

/// `doc[a][b]…` as a string.
pub fn str_at<'a>(doc: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(doc, |v, k| v.get(*k))?.as_str()
}

/// `doc[a][b]…` as a mapping.
pub fn map_at<'a>(doc: &'a Value, path: &[&str]) -> Option<&'a Map<String, Value>> {
    path.iter().try_fold(doc, |v, k| v.get(*k))?.as_object()
}

/// The first line at or after line `from` (1-based) whose trimmed text starts with
/// `prefix`; `from` itself when there is none.
pub fn find_line(text: &str, from: usize, prefix: &str) -> usize {
    text.lines()
        .enumerate()
        .skip(from.saturating_sub(1))
        .find(|(_, l)| {
            let t = l.trim_start();
            t.starts_with(prefix) || t.strip_prefix("- ").is_some_and(|t| t.starts_with(prefix))
        })
        .map(|(i, _)| i + 1)
        .unwrap_or(from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_doc_starts_and_sops_detection() {
        let t = "---\na: 1\n---\nb: 2\nsops:\n    mac: x\n";
        let p = parse(0, t);
        assert_eq!(p.docs.len(), 2);
        assert_eq!(p.starts, vec![2, 4]);
        assert!(p.sops);
        assert_eq!(find_line(t, 4, "mac:"), 6);
        assert!(!parse(0, "kind: Installation\nsops:\n  recipients: [a]\n").sops);
    }

    #[test]
    fn parse_error_has_line() {
        let p = parse(0, "a: [1,\nsops:\n  mac: {\n");
        assert!(p.error.is_some());
        assert!(p.sops);
    }
}
