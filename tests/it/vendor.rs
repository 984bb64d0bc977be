//! Vendored upstream data (`vendor/`, written by `scripts/vendor-*.sh`): every file is listed
//! in `vendor/checksums.sha256` with its sha256, the list is sorted and complete, and every
//! version directory says where it came from (`SOURCE`).

use std::collections::BTreeMap;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::support::root;

fn files(dir: &Path, out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else {
            let rel = p.strip_prefix(root()).unwrap().to_str().unwrap();
            out.push(rel.replace('\\', "/"));
        }
    }
}

#[test]
fn vendored_files_match_their_checksums() {
    let sums = std::fs::read_to_string(root().join("vendor/checksums.sha256")).unwrap();
    let listed: Vec<(&str, &str)> = sums
        .lines()
        .map(|l| l.split_once("  ").expect("`sha256  path` lines"))
        .collect();
    let paths: Vec<&str> = listed.iter().map(|(_, p)| *p).collect();
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(
        paths, sorted,
        "vendor/checksums.sha256 is not sorted by path"
    );
    let mut on_disk = Vec::new();
    files(&root().join("vendor"), &mut on_disk);
    on_disk.retain(|p| p != "vendor/checksums.sha256" && p != "vendor/README.md");
    on_disk.sort();
    assert_eq!(
        on_disk, sorted,
        "vendor/ and vendor/checksums.sha256 disagree: re-run the scripts/vendor-*.sh that owns it"
    );
    let by_path: BTreeMap<&str, &str> = listed.iter().map(|(s, p)| (*p, *s)).collect();
    for (path, want) in by_path {
        let got = hex::encode(Sha256::digest(std::fs::read(root().join(path)).unwrap()));
        assert_eq!(
            got, want,
            "{path} changed: vendored files are never edited by hand"
        );
    }
}

#[test]
fn every_vendored_version_names_its_source_and_pin() {
    let pins = std::fs::read_to_string(root().join("versions.env")).unwrap();
    for (component, key) in [
        ("cluster-api", "CAPI"),
        ("cluster-api-operator", "CAPI_OPERATOR"),
        ("cert-manager", "CERT_MANAGER"),
    ] {
        let tag = pins
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap();
        let dir = root().join("vendor").join(component);
        let versions: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(
            versions,
            [tag],
            "{component}: only the pinned version is vendored"
        );
        let source = std::fs::read_to_string(dir.join(tag).join("SOURCE")).unwrap();
        for field in [
            "repository: https://github.com/",
            &format!("tag: {tag}"),
            "commit: ",
        ] {
            assert!(source.contains(field), "{component} SOURCE lacks {field}");
        }
    }
}
