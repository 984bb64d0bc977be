//! The vendored upstream data (`vendor/`) is exactly what the vendor scripts produced:
//! every file is listed in `vendor/checksums.sha256` with its sha256, the list is sorted,
//! and each version directory says where it came from (`SOURCE`).

use std::path::Path;

use sha2::{Digest, Sha256};

fn files(dir: &Path, root: &Path, out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, root, out);
        } else {
            out.push(p.strip_prefix(root).unwrap().to_string_lossy().into_owned());
        }
    }
}

#[test]
fn vendored_files_match_their_checksums() {
    let root = crate::support::root();
    let sums = std::fs::read_to_string(root.join("vendor/checksums.sha256")).unwrap();
    let mut listed = Vec::new();
    for line in sums.lines() {
        let (sum, path) = line
            .split_once("  ")
            .unwrap_or_else(|| panic!("not `sha256  path`: {line}"));
        let bytes = std::fs::read(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(
            hex::encode(Sha256::digest(&bytes)),
            sum,
            "{path} was changed after vendoring: re-run its scripts/vendor-*.sh instead of editing it"
        );
        listed.push(path.to_owned());
    }
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(
        listed, sorted,
        "vendor/checksums.sha256 must be sorted by path"
    );
    let mut present = Vec::new();
    files(&root.join("vendor"), &root, &mut present);
    present.retain(|p| p != "vendor/checksums.sha256" && p != "vendor/README.md");
    present.sort();
    assert_eq!(
        present, listed,
        "every vendored file is listed, and only those"
    );
    let sources: Vec<&Path> = listed
        .iter()
        .filter(|q| q.ends_with("/SOURCE"))
        .map(|q| Path::new(q).parent().unwrap())
        .collect();
    for p in &listed {
        assert!(
            sources.iter().any(|d| Path::new(p).starts_with(d)),
            "{p}: no SOURCE file above it records its provenance"
        );
    }
}

#[test]
fn kubernetes_schemas_are_the_minor_mcb_validates_against() {
    let root = crate::support::root();
    let dir = root
        .join("vendor/kubernetes")
        .join(mcb::schema::KUBERNETES_MINOR);
    let source = std::fs::read_to_string(dir.join("SOURCE")).unwrap();
    assert!(
        source.contains(&format!("kubernetes: {}", mcb::schema::KUBERNETES_MINOR)),
        "{source}"
    );
    // The vendored file is embedded in the binary.
    assert!(mcb::schema::vendored_files()
        .iter()
        .any(|(p, _)| *p == format!("kubernetes/{}/kinds.json", mcb::schema::KUBERNETES_MINOR)));
}
