//! `schema`: every API object in the repo validates strictly (unknown fields are errors)
//! against the upstream schemas of the pinned versions ([`crate::schema`]): the vendored
//! CRDs and built-in kinds, plus the CRDs each installation installs itself. A kind with
//! no schema anywhere is reported with [`UNKNOWN_KIND_SEVERITY`].
//!
//! Fast on large repos: a file's body is parsed once however many installations hold it
//! ([`yaml::Cache`]: rendered files differ only in their header), and its documents are
//! validated once per distinct set of CRDs in scope.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

use super::yaml::{self, find_line, Parsed};
use super::{Finding, RepoFile, Rule, Severity};
use crate::schema::{Catalog, Violation, ViolationKind};

const RULE: Rule = Rule::Schema;

/// Severity of an object whose kind no schema knows (nothing in the repo or vendor/
/// installs it). An error: every kind mcb renders has a vendored schema (Flux, cert-manager,
/// Cluster API and its operator, the five infrastructure providers, CAAPH), so an unknown
/// kind is one nothing installs, and Flux would fail on it ("no matches for kind").
pub const UNKNOWN_KIND_SEVERITY: Severity = Severity::Error;

/// Files that are not applied to a cluster (nor read as manifests by kustomize).
fn candidate(f: &RepoFile) -> bool {
    f.is_yaml()
        && f.text.is_some()
        && !f.path.starts_with("templates/")
        && !f.path.split('/').any(|seg| seg.starts_with('.'))
}

/// Repo paths that kustomizations use as patches (partial objects, not validated alone).
fn patch_files(files: &[RepoFile], docs: &HashMap<usize, &Parsed>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (&i, p) in docs {
        let f = &files[i];
        if !super::kustomize::NAMES
            .iter()
            .any(|n| f.path.rsplit('/').next() == Some(*n))
        {
            continue;
        }
        let dir = f.path.rsplit_once('/').map_or("", |(d, _)| d);
        for (d, _) in p.docs() {
            let mut paths: Vec<&str> = Vec::new();
            for key in ["patches", "patchesJson6902"] {
                if let Some(a) = d.get(key).and_then(Value::as_array) {
                    paths.extend(a.iter().filter_map(|p| p.get("path")?.as_str()));
                }
            }
            if let Some(a) = d.get("patchesStrategicMerge").and_then(Value::as_array) {
                paths.extend(a.iter().filter_map(Value::as_str));
            }
            out.extend(paths.into_iter().map(|p| normalize(dir, p)));
        }
    }
    out
}

/// `dir/rel` with `.` and `..` resolved.
fn normalize(dir: &str, rel: &str) -> String {
    let mut parts: Vec<&str> = dir.split('/').filter(|s| !s.is_empty()).collect();
    for seg in rel.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    parts.join("/")
}

/// Validates every API object of every candidate file among `files`; `docs` are every YAML
/// file's documents by file index ([`yaml::index`]: one parse per distinct body).
pub fn check(files: &[RepoFile], docs: &HashMap<usize, &Parsed>) -> Vec<Finding> {
    let wanted: Vec<usize> = (0..files.len()).filter(|&i| candidate(&files[i])).collect();
    let by_file: HashMap<usize, &Parsed> = wanted
        .iter()
        .filter_map(|&i| Some((i, *docs.get(&i)?)))
        .collect();

    let patches = patch_files(files, &by_file);
    let mut catalog = Catalog::new();
    for &i in &wanted {
        if let Some(p) = by_file.get(&i) {
            for (d, _) in p.docs() {
                catalog.add_crd(d, files[i].installation.as_deref());
            }
        }
    }

    // Each distinct (body, CRDs in scope) is validated once.
    let targets: Vec<usize> = wanted
        .iter()
        .copied()
        .filter(|i| !patches.contains(&files[*i].path) && by_file.contains_key(i))
        .collect();
    let mut jobs: Vec<(usize, Vec<usize>)> = Vec::new();
    let mut job_of: HashMap<(*const yaml::Body, Vec<usize>), usize> = HashMap::new();
    let mut file_job: Vec<(usize, usize)> = Vec::new();
    for &i in &targets {
        let scope = catalog.scope(files[i].installation.as_deref());
        let key = (std::sync::Arc::as_ptr(&by_file[&i].body), scope.clone());
        let j = *job_of.entry(key).or_insert_with(|| {
            jobs.push((i, scope));
            jobs.len() - 1
        });
        file_job.push((i, j));
    }
    let results: Vec<Vec<(usize, Violation)>> = super::par_map(&jobs, |(i, _)| {
        let p = by_file[i];
        let owner = files[*i].installation.as_deref();
        let mut out = Vec::new();
        for (n, d) in p.docs.iter().enumerate() {
            if crate::schema::is_api_object(d) {
                let sops = yaml::is_sops(d);
                out.extend(catalog.validate(d, owner, sops).into_iter().map(|v| (n, v)));
            }
        }
        out
    });
    let mut out = Vec::new();
    for (i, j) in file_job {
        let f = &files[i];
        let p = by_file[&i];
        for (n, v) in &results[j] {
            let start = p.starts.get(*n).copied().unwrap_or(1);
            out.push(finding(f, start, v));
        }
    }
    out
}

fn finding(f: &RepoFile, start: usize, v: &Violation) -> Finding {
    let line = Some(path_line(f.text(), start, &v.path));
    match v.violation {
        ViolationKind::UnknownKind => Finding::new(
            UNKNOWN_KIND_SEVERITY,
            f,
            line,
            RULE,
            format!(
                "{v}; help: vendor its CustomResourceDefinition (scripts/vendor-*.sh) or install it from the repo"
            ),
        ),
        ViolationKind::UnservedVersion | ViolationKind::Invalid => {
            Finding::error(f, line, RULE, v.to_string())
        }
    }
}

/// The line of field `path` (`spec.template.spec.containers[0].image`) in the document
/// starting at line `start`: each key's line searched after its parent's. Approximate
/// (list items are not counted), exact for the usual one-key-per-line YAML.
fn path_line(text: &str, start: usize, path: &str) -> usize {
    let mut line = start;
    for seg in segments(path) {
        if seg.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let next = find_line(text, line, &format!("{seg}:"));
        let quoted = find_line(text, line, &format!("\"{seg}\":"));
        line = if next != line || quoted == line {
            next
        } else {
            quoted
        };
    }
    line
}

/// `a.b[c.d][0]` -> `a`, `b`, `c.d`, `0`.
fn segments(path: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = path;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']').unwrap_or(r.len());
            out.push(&r[..end]);
            rest = r.get(end + 1..).unwrap_or("");
        } else {
            let r = rest.strip_prefix('.').unwrap_or(rest);
            let end = r.find(['.', '[']).unwrap_or(r.len());
            out.push(&r[..end]);
            rest = &r[end..];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(files: &[(&str, &str)]) -> Vec<Finding> {
        let files: Vec<RepoFile> = files
            .iter()
            .map(|(p, t)| RepoFile::new(*p, t.as_bytes().to_vec()))
            .collect();
        let fresh = yaml::parse_rest(&files, &[]);
        let mut out = check(&files, &yaml::index(&[], &fresh));
        out.sort();
        out
    }

    const CRD: &str = "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
";

    #[test]
    fn violations_name_file_line_object_and_path() {
        let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: x\ndata:\n  k: v\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n  labels:\n    app: 1\ndatta:\n  k: v\n";
        let f = run(&[("installations/one/manifests/cm.yaml", cm)]);
        let got: Vec<String> = f
            .iter()
            .map(|f| format!("{}: {:?}: {}", f.location(), f.severity, f.message))
            .collect();
        assert_eq!(
            got,
            vec![
                "installations/one/manifests/cm.yaml:14: Error: ConfigMap b: metadata.labels.app: must be of type string, got integer".to_string(),
                "installations/one/manifests/cm.yaml:15: Error: ConfigMap b: datta: unknown field \"datta\"".to_string(),
            ]
        );
    }

    #[test]
    fn an_installations_crd_makes_its_kind_known_there_only() {
        let w =
            "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\nspec:\n  size: big\n";
        let f = run(&[
            ("installations/one/manifests/crds.yaml", CRD),
            ("installations/one/manifests/w.yaml", w),
            ("installations/two/manifests/w.yaml", w),
            // A patch is a partial object, and templates are not manifests.
            ("installations/one/manifests/kustomization.yaml", "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [w.yaml]\npatches:\n- path: ./patch.yaml\n"),
            ("installations/one/manifests/patch.yaml", "apiVersion: v1\nkind: ConfigMap\nbogus: 1\n"),
            ("templates/x.yaml", "apiVersion: v1\nkind: ConfigMap\nbogus: 1\n"),
        ]);
        assert_eq!(f.len(), 2, "{f:#?}");
        assert_eq!(f[0].location(), "installations/one/manifests/w.yaml:6");
        assert_eq!(f[0].severity, Severity::Error);
        assert!(
            f[0].message.contains("spec.size: must be of type integer"),
            "{}",
            f[0].message
        );
        assert_eq!(f[1].file, "installations/two/manifests/w.yaml");
        assert_eq!(f[1].severity, UNKNOWN_KIND_SEVERITY);
        assert!(
            f[1].message.contains("no schema for Widget"),
            "{}",
            f[1].message
        );
    }

    #[test]
    fn identical_files_are_validated_once_but_reported_for_each() {
        let bad =
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ns1\nspec:\n  finalizers: [1]\n";
        let f = run(&[
            ("installations/a/manifests/ns.yaml", bad),
            ("installations/b/manifests/ns.yaml", bad),
        ]);
        assert_eq!(f.len(), 2, "{f:#?}");
        assert_eq!(f[1].installation.as_deref(), Some("b"));
        assert_eq!(f[1].line, Some(6));
    }

    #[test]
    fn path_segments_and_normalize() {
        assert_eq!(
            segments("a.b[c.d/e][0].f"),
            vec!["a", "b", "c.d/e", "0", "f"]
        );
        assert_eq!(normalize("x/y", "../z/./p.yaml"), "x/z/p.yaml");
    }
}
