//! Tests of the check's orchestration: parallel order, batching, the verdict.

use super::*;

#[test]
fn par_map_keeps_order() {
    let items: Vec<usize> = (0..1000).collect();
    assert_eq!(
        par_map(&items, |i| i * 2),
        items.iter().map(|i| i * 2).collect::<Vec<_>>()
    );
    assert_eq!(par_map(&items[..3], |i| *i), vec![0, 1, 2]);
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// Batches change what is held at once, never the report: five installations (the
/// check corpus's clean one and copies with its broken cases laid over), one at a time
/// and all at once, give the same JSON, byte for byte.
#[test]
fn batched_report_is_the_unbatched_report() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/check");
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("repo");
    copy_tree(&corpus.join("clean"), &root);
    copy_tree(&corpus.join("tampered-mac"), &root);
    let demo = root.join("installations/demo");
    for (name, case) in [
        ("b-drift", "drift"),
        ("c-leak", "plaintext-secret"),
        ("d-expired", "expired-cert"),
        ("e-invalid", "invalid-spec"),
    ] {
        let dir = root.join("installations").join(name);
        copy_tree(&demo, &dir);
        copy_tree(&corpus.join(case).join("installations/demo"), &dir);
        let spec = dir.join("installation.yaml");
        let text = std::fs::read_to_string(&spec).unwrap();
        std::fs::write(
            &spec,
            text.replace("\nname: demo\n", &format!("\nname: {name}\n")),
        )
        .unwrap();
    }
    // Two kustomizations only kubectl builds (and there is none): one warning for both.
    for name in ["c-leak", "e-invalid"] {
        let dir = root.join("installations").join(name).join("extra");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("kustomization.yaml"),
            "resources: []\ncomponents: [c]\n",
        )
        .unwrap();
    }
    // One rule for every installation's files, so their recipients and MACs check out.
    let rules = root.join(".sops.yaml");
    let text = std::fs::read_to_string(&rules).unwrap();
    std::fs::write(
        &rules,
        text.replace("^installations/demo/", "^installations/[^/]+/"),
    )
    .unwrap();
    let key = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/sops-vectors/keys/age1.txt"),
    )
    .unwrap();
    let ids = crate::sops::Identities::from_text(&key.into()).unwrap();
    let opts = Options {
        names: Vec::new(),
        warn_within: time::Duration::days(30),
        opener: Some(Box::new(SopsOpener(ids))),
        kubectl: None,
        allow_remote: false,
        skip: BTreeSet::new(),
        changed_since: None,
    };
    let now = time::macros::datetime!(2026-12-01 0:00 UTC);
    let report = |batch| {
        let mut progress = crate::progress::Recorder::default();
        let r = run_batched(&root, &opts, now, &mut progress, batch).unwrap();
        let advances: Vec<String> = progress
            .0
            .into_iter()
            .filter(|(verb, _)| *verb == "advance")
            .map(|(_, m)| m)
            .collect();
        (serde_json::to_string_pretty(&r).unwrap(), advances)
    };
    let ((one, steps), (all, once)) = (report(1), report(usize::MAX));
    assert_eq!(one, all);
    // Progress: from none, one step per batch, counting installations.
    let n = steps.len() - 1;
    assert!(n >= 4, "{steps:?}");
    assert_eq!(steps[0], format!("installations checked 0/{n}"));
    assert_eq!(steps[1], format!("installations checked 1/{n}"));
    assert_eq!(steps[n], format!("installations checked {n}/{n}"));
    assert_eq!(
        once,
        [0, n].map(|d| format!("installations checked {d}/{n}"))
    );
    let v: serde_json::Value = serde_json::from_str(&all).unwrap();
    let with_findings: BTreeSet<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["installation"].as_str())
        .collect();
    assert!(with_findings.len() >= 4, "{all}");
    assert!(all.contains("2 kustomization(s) were not built"), "{all}");
    // Every installation's SOPS files counted and verified once across the batches.
    let mismatches = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "sops-mac")
        .count() as u64;
    let sops_files = v["sopsFiles"].as_u64().unwrap();
    assert!(sops_files >= 25 && mismatches >= 1, "{all}");
    assert_eq!(
        v["macsVerified"].as_u64(),
        Some(sops_files - mismatches),
        "{all}"
    );
}

#[test]
fn report_verdict() {
    let f = RepoFile::new("a", Vec::new());
    let mut r = Report::default();
    assert!(!r.failed(true));
    r.findings
        .push(Finding::warning(&f, None, Rule::CertExpiring, "w"));
    assert!(!r.failed(false) && r.failed(true));
    r.findings
        .push(Finding::error(&f, Some(1), Rule::SopsMac, "e"));
    assert_eq!((r.errors(), r.warnings()), (1, 1));
    assert!(r.failed(false));
    assert_eq!(r.findings[1].location(), "a:1");
}
