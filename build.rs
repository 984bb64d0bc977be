//! Embeds `templates/` and the schema data under `vendor/` into the binary: writes
//! `$OUT_DIR/templates.rs` and `$OUT_DIR/vendor.rs`, each with one
//! `(relative path, include_str!(..))` per file, in path order (deterministic builds), and
//! `$OUT_DIR/flux.rs` with one `(version, gotk-components.yaml, SOURCE)` per
//! `vendor/flux/<version>/` (the installs `src/flux.rs` ships).

use std::path::{Path, PathBuf};

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
/// `keep` selects, written to `$OUT_DIR/out`.
fn embed(dir: &str, out: &str, name: &str, doc: &str, keep: impl Fn(&str) -> bool) {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join(dir);
    println!("cargo:rerun-if-changed={dir}");
    let mut files = Vec::new();
    walk(&root, &mut files);
    let mut code = format!("/// {doc}\npub static {name}: &[(&str, &str)] = &[\n");
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
    }
    code.push_str("];\n");
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
    );
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    std::fs::write(out.join("flux.rs"), flux_installs()).unwrap();
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
