//! The layer picture of docs/design.md ("Architecture") holds in the sources: imports go
//! downwards only, so no module below the use cases imports `ops`, and `check` is a layer
//! the use cases call, never one that calls them (issue #19).

use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The `use`/path mentions of `crate::<module>` in code (comments skipped).
fn imports_of(file: &Path, module: &str) -> Vec<String> {
    let needle = format!("crate::{module}");
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .filter(|l| {
            l.match_indices(&needle).any(|(i, _)| {
                let rest = &l[i + needle.len()..];
                rest.starts_with("::") || rest.starts_with(';') || rest.starts_with(',')
            })
        })
        .map(|l| format!("{}: {}", file.display(), l.trim()))
        .collect()
}

#[test]
fn modules_below_the_use_cases_never_import_them() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let below_ops = [
        "check", "render", "repo", "spec", "creds", "pki", "git", "forge", "schema",
    ];
    let mut wrong = Vec::new();
    for m in below_ops {
        let dir = src.join(m);
        assert!(
            dir.is_dir(),
            "{} moved: update this test and design.md",
            dir.display()
        );
        for f in sources(&dir) {
            wrong.extend(imports_of(&f, "ops"));
            wrong.extend(imports_of(&f, "cli"));
        }
    }
    for m in ["render", "repo", "spec", "creds", "pki", "schema"] {
        for f in sources(&src.join(m)) {
            wrong.extend(imports_of(&f, "check"));
        }
    }
    // The spec is the input every layer reads: it knows no credential's naming (creds
    // builds its names from the spec's ids, not the other way round).
    for f in sources(&src.join("spec")) {
        for m in ["creds", "render", "repo", "forge", "git"] {
            wrong.extend(imports_of(&f, m));
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layers:\n{}",
        wrong.join("\n")
    );
}

/// The SOPS engine is a crate of its own (`crates/mcb-sops`): the compiler keeps it from
/// importing mcb (a dependency cycle), and it forbids `unsafe` in its source and its
/// `[lints]` table.
#[test]
fn the_sops_engine_is_a_crate_without_unsafe() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    assert!(
        !root.join("src/sops").exists(),
        "src/sops is back: the engine lives in crates/mcb-sops"
    );
    let crate_dir = root.join("crates/mcb-sops");
    let lib = std::fs::read_to_string(crate_dir.join("src/lib.rs")).unwrap();
    assert!(lib.contains("#![forbid(unsafe_code)]"));
    let manifest = std::fs::read_to_string(crate_dir.join("Cargo.toml")).unwrap();
    assert!(manifest.contains("unsafe_code = \"forbid\""), "{manifest}");
    assert!(
        !manifest.contains("\nmcb ="),
        "mcb-sops must not depend on mcb"
    );
}

/// Issue #19: a source file over 500 lines says at its top why it stays whole (a `//! Size:`
/// line), or it is split by concern.
#[test]
fn large_files_state_why_they_stay_whole() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut unexplained = Vec::new();
    for dir in [root.join("src"), root.join("crates/mcb-sops/src")] {
        for f in sources(&dir) {
            let text = std::fs::read_to_string(&f).unwrap();
            let lines = text.lines().count();
            let explained = text
                .lines()
                .take_while(|l| l.starts_with("//!") || l.trim().is_empty())
                .any(|l| l.starts_with("//! Size:"));
            if lines > 500 && !explained {
                unexplained.push(format!("{} ({lines} lines)", f.display()));
            }
        }
    }
    assert!(
        unexplained.is_empty(),
        "split these by concern, or say why at the top (`//! Size: ...`):\n{}",
        unexplained.join("\n")
    );
}
