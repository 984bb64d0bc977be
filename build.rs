//! Embeds `templates/` and the vendored Flux installs into the binary: writes
//! `$OUT_DIR/templates.rs` with one `(relative path, include_str!(..))` per file, and
//! `$OUT_DIR/flux.rs` with one `(version, gotk-components.yaml, SOURCE)` per
//! `vendor/flux/<version>/`, both in path order (deterministic builds).

use std::path::{Path, PathBuf};

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("templates/ is readable")
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("templates");
    println!("cargo:rerun-if-changed=templates");
    let mut files = Vec::new();
    walk(&root, &mut files);
    let mut code = String::from("/// Built-in templates: (path under templates/, content).\npub static BUILTIN: &[(&str, &str)] = &[\n");
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let rel = f
            .strip_prefix(&root)
            .unwrap()
            .to_str()
            .unwrap()
            .replace('\\', "/");
        code.push_str(&format!(
            "    ({rel:?}, include_str!({:?})),\n",
            f.display().to_string()
        ));
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    std::fs::write(out.join("templates.rs"), code).unwrap();
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
