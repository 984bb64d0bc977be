//! Embeds `templates/` and the schema data under `vendor/` into the binary: writes
//! `$OUT_DIR/templates.rs` and `$OUT_DIR/vendor.rs`, each with one
//! `(relative path, include_str!(..))` per file, in path order (deterministic builds), and
//! `$OUT_DIR/flux.rs` with one `(version, gotk-components.yaml, SOURCE)` per
//! `vendor/flux/<version>/` (the installs `src/flux.rs` ships). `vendor.rs` also holds
//! `CRD_INDEX`, the vendored CustomResourceDefinitions found by the scan the schema
//! module uses (`src/schema/scan.rs`), so `mcb check` does not scan 6 MB at start-up.

use std::path::{Path, PathBuf};

#[path = "src/schema/scan.rs"]
mod scan;

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.map(|e| e.expect("dir entry").path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// `pub static NAME: &[(&str, &str)]` over the files under `CARGO_MANIFEST_DIR/dir` that
/// `keep` selects, written to `$OUT_DIR/out` (followed by `extra` of the embedded files:
/// (path under `dir`, file), in the table's order).
fn embed(
    dir: &str,
    out: &str,
    name: &str,
    doc: &str,
    keep: impl Fn(&str) -> bool,
    extra: impl Fn(&[(String, PathBuf)]) -> String,
) {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join(dir);
    println!("cargo:rerun-if-changed={dir}");
    let mut files = Vec::new();
    walk(&root, &mut files);
    let mut code = format!("/// {doc}\npub static {name}: &[(&str, &str)] = &[\n");
    let mut kept = Vec::new();
    for f in &files {
        let rel = f
            .strip_prefix(&root)
            .unwrap()
            .to_str()
            .unwrap()
            .replace('\\', "/");
        if !keep(&rel) {
            continue;
        }
        println!("cargo:rerun-if-changed={}", f.display());
        code.push_str(&format!(
            "    ({rel:?}, include_str!({:?})),\n",
            f.display().to_string()
        ));
        kept.push((rel, f.clone()));
    }
    code.push_str("];\n");
    code.push_str(&extra(&kept));
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join(out);
    std::fs::write(out, code).unwrap();
}

fn main() {
    embed(
        "templates",
        "templates.rs",
        "BUILTIN",
        "Built-in templates: (path under templates/, content).",
        |_| true,
        |_| String::new(),
    );
    // Every vendored YAML (CustomResourceDefinitions are picked out at run time) and the
    // built-in Kubernetes kind schemas; not Dex's Helm chart (Go templates, read by the
    // tests only: Flux installs the chart from its repository).
    embed(
        "vendor",
        "vendor.rs",
        "VENDORED",
        "Vendored schema data: (path under vendor/, content).",
        |rel| {
            !rel.starts_with("dex-chart/")
                && (rel.ends_with(".yaml")
                    || rel.ends_with(".yml")
                    || (rel.starts_with("kubernetes/") && rel.ends_with(".json")))
        },
        crd_index,
    );
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    std::fs::write(out.join("flux.rs"), flux_installs()).unwrap();
}

/// `pub static CRD_INDEX: &[(group, kind, file, start, end)]`: every CRD document of the
/// embedded YAML files (`file` indexes the table, `start..end` its bytes), files in path
/// order with version numbers compared numerically, so a kind's newest version comes last.
fn crd_index(files: &[(String, PathBuf)]) -> String {
    println!("cargo:rerun-if-changed=src/schema/scan.rs");
    let mut order: Vec<usize> = (0..files.len()).collect();
    order.sort_by(|&a, &b| scan::natural_cmp(&files[a].0, &files[b].0));
    let mut code = String::from(
        "/// Vendored CRDs: (group, kind, file index, start, end), newest version last.\n\
         pub static CRD_INDEX: &[(&str, &str, usize, usize, usize)] = &[\n",
    );
    for i in order {
        let (rel, path) = &files[i];
        if !(rel.ends_with(".yaml") || rel.ends_with(".yml")) {
            continue;
        }
        let text = std::fs::read_to_string(path).expect("vendored file is UTF-8");
        for (start, end) in scan::split_documents(&text) {
            if let Some((group, kind)) = scan::crd_identity(&text[start..end]) {
                code.push_str(&format!(
                    "    ({group:?}, {kind:?}, {i}, {start}, {end}),\n"
                ));
            }
        }
    }
    code.push_str("];\n");
    code
}

fn flux_installs() -> String {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("vendor/flux");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .expect("vendor/flux/ is readable")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let mut code = String::from(
        "/// Vendored Flux installs: (version, gotk-components.yaml, SOURCE).\n\
         pub static VENDORED: &[(&str, &str, &str)] = &[\n",
    );
    for d in dirs {
        let version = d.file_name().unwrap().to_str().unwrap().to_string();
        let (gotk, source) = (d.join("gotk-components.yaml"), d.join("SOURCE"));
        for f in [&gotk, &source] {
            println!("cargo:rerun-if-changed={}", f.display());
        }
        code.push_str(&format!(
            "    ({version:?}, include_str!({:?}), include_str!({:?})),\n",
            gotk.display().to_string(),
            source.display().to_string()
        ));
    }
    code.push_str("];\n");
    code
}
