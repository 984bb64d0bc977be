//! Strict schema validation of rendered manifests for the tests, with mcb's own validator
//! (`mcb::schema`): every API object in the given files or directories must validate
//! against the vendored upstream schemas or a CRD found among the same files.

use std::path::{Path, PathBuf};

use mcb::schema::{Catalog, Violation, ViolationKind};
use serde_json::Value;

/// What [`assert_schema_valid`] saw.
#[derive(Debug, Default)]
pub struct Validated {
    /// `apiVersion Kind ns/name` of every object validated (in file order).
    pub objects: Vec<String>,
    /// Kinds without any schema (`apiVersion Kind`), sorted and unique: nothing installs them.
    pub unknown_kinds: Vec<String>,
}

impl Validated {
    /// How many objects of `kind` were validated.
    pub fn count(&self, kind: &str) -> usize {
        self.objects
            .iter()
            .filter(|o| o.split(' ').nth(1) == Some(kind))
            .count()
    }
}

fn yaml_files(p: &Path, out: &mut Vec<PathBuf>) {
    if p.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for e in entries {
            yaml_files(&e, out);
        }
    } else if p
        .extension()
        .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
    {
        out.push(p.to_path_buf());
    }
}

/// Validates every API object in `paths` (files, or directories walked for `*.yaml`)
/// strictly; panics listing every violation (file, object, field path, message). A kind
/// no schema knows is not a failure here but listed in [`Validated::unknown_kinds`], so a
/// test can assert which kinds are still uninstalled.
#[track_caller]
pub fn assert_schema_valid<P: AsRef<Path>>(paths: &[P]) -> Validated {
    let mut files = Vec::new();
    for p in paths {
        yaml_files(p.as_ref(), &mut files);
    }
    let mut docs: Vec<(PathBuf, Value)> = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let parsed: Vec<Value> = serde_saphyr::from_multiple(&text)
            .unwrap_or_else(|e| panic!("{}: not YAML: {e}", f.display()));
        docs.extend(parsed.into_iter().map(|d| (f.clone(), d)));
    }
    let mut catalog = Catalog::new();
    for (_, d) in &docs {
        catalog.add_crd(d, None);
    }
    let mut out = Validated::default();
    let mut failures: Vec<String> = Vec::new();
    for (f, d) in &docs {
        if !mcb::schema::is_api_object(d) {
            continue;
        }
        let sops = d.get("sops").is_some_and(Value::is_object);
        let vs: Vec<Violation> = catalog.validate(d, None, sops);
        let id = format!(
            "{} {} {}{}",
            d["apiVersion"].as_str().unwrap_or_default(),
            d["kind"].as_str().unwrap_or_default(),
            d["metadata"]["namespace"]
                .as_str()
                .map(|n| format!("{n}/"))
                .unwrap_or_default(),
            d["metadata"]["name"].as_str().unwrap_or_default()
        );
        if vs.iter().any(|v| v.violation == ViolationKind::UnknownKind) {
            out.unknown_kinds.push(format!(
                "{} {}",
                d["apiVersion"].as_str().unwrap_or_default(),
                d["kind"].as_str().unwrap_or_default()
            ));
            continue;
        }
        failures.extend(vs.iter().map(|v| format!("{}: {v}", f.display())));
        out.objects.push(id);
    }
    out.unknown_kinds.sort();
    out.unknown_kinds.dedup();
    assert!(
        failures.is_empty(),
        "{} schema violation(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
    out
}
