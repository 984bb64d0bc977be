//! `mcb check` and `mcb status` against the fixture corpus in `fixtures/check/`: a clean
//! repo (`clean/`) and one overlay per broken case, each of which must yield exactly its
//! finding. SOPS files in the corpus were written by the real Go sops (see
//! `generate_fixtures`, run by hand with `-- --ignored`); kustomize builds use real kubectl.

use std::fs;
use std::path::{Path, PathBuf};

use crate::support::{fixtures, run, tool, Run, TestEnv};

const R1: &str = "age1e8n74a6a7gupww7ll0y7hj2v8v7qklt3mfhdvy6sr6a2upnmlpjq3ysh0u";
const R2: &str = "age1zr5cftauhg65ruh2ksqdvr5k359pxc2jf9g7znk5evq5y26fvyrscan7sw";
const R3: &str = "age1tulyt5ag0dchjxwt689tu4d7fkdfp5yqaqen4awctrgkmpntjf6qxptwn4";

fn corpus() -> PathBuf {
    fixtures().join("check")
}

fn copy_tree(from: &Path, to: &Path) {
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            fs::create_dir_all(&dst).unwrap();
            copy_tree(&e.path(), &dst);
        } else {
            fs::copy(e.path(), &dst).unwrap();
        }
    }
}

/// A temp repo: the clean corpus, with `case`'s files laid over it.
fn repo(t: &TestEnv, case: Option<&str>) -> PathBuf {
    let dir = t.path().join("repo");
    fs::create_dir_all(&dir).unwrap();
    copy_tree(&corpus().join("clean"), &dir);
    if let Some(c) = case {
        copy_tree(&corpus().join(c), &dir);
    }
    dir
}

fn check(t: &TestEnv, repo: &Path, extra: &[&str]) -> Run {
    let mut c = t.mcb();
    c.arg("--repo")
        .arg(repo)
        .args(["check", "-o", "json", "--kubectl"])
        .arg(tool("kubectl"))
        .args(extra);
    run(c)
}

/// `(rule, file, line)` of every finding in a JSON report.
fn findings(r: &Run) -> Vec<(String, String, Option<u64>)> {
    let v: serde_json::Value = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", r.stdout, r.stderr));
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_owned(),
                f["file"].as_str().unwrap().to_owned(),
                f["line"].as_u64(),
            )
        })
        .collect()
}

#[track_caller]
fn assert_exactly(case: &str, extra: &[&str], rule: &str, file: &str) -> Run {
    let t = TestEnv::new();
    let dir = repo(&t, Some(case));
    let r = check(&t, &dir, extra).fails_with(1);
    let f = findings(&r);
    assert_eq!(
        f.len(),
        1,
        "{case}: expected exactly one finding, got {f:#?}\n{}",
        r.stderr
    );
    assert_eq!(
        (f[0].0.as_str(), f[0].1.as_str()),
        (rule, file),
        "{case}: {f:#?}"
    );
    r
}

#[test]
fn clean_repo_has_no_findings() {
    let t = TestEnv::new();
    let dir = repo(&t, None);
    let r = check(&t, &dir, &[]).ok();
    assert_eq!(findings(&r), vec![], "{}", r.stdout);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["installations"], serde_json::json!(["demo"]));
    assert_eq!(v["sopsFiles"], 6, "{}", r.stdout);
    // human output: a summary and exit 0
    let mut c = t.mcb();
    c.arg("--repo")
        .arg(&dir)
        .args(["check", "--kubectl"])
        .arg(tool("kubectl"));
    let r = run(c).ok();
    assert!(
        r.stdout.contains("checked 1 installation(s)") && r.stdout.contains("0 error(s)"),
        "{}",
        r.stdout
    );
}

#[test]
fn clean_fixture_has_no_schema_findings() {
    let t = TestEnv::new();
    let dir = repo(&t, None);
    let r = check(&t, &dir, &[]).ok();
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let schema: Vec<&serde_json::Value> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "schema")
        .collect();
    // Every kind it renders has a schema: none is unknown (an error since #17).
    assert!(schema.is_empty(), "{schema:#?}");
    // Edited by hand: an unknown field in a rendered manifest is an error, with its line.
    let ns = dir.join("installations/demo/manifests/namespaces.yaml");
    let text = fs::read_to_string(&ns).unwrap();
    let line = text.lines().count() + 1;
    fs::write(&ns, format!("{text}  bogus: 1\n")).unwrap();
    let r = check(&t, &dir, &["--skip", "render-drift"]).fails_with(1);
    assert_eq!(
        findings(&r),
        vec![(
            "schema".to_string(),
            "installations/demo/manifests/namespaces.yaml".to_string(),
            Some(line as u64)
        )],
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("unknown field \\\"bogus\\\""),
        "{}",
        r.stdout
    );
}

#[test]
fn plaintext_secret() {
    let r = assert_exactly(
        "plaintext-secret",
        &[],
        "plaintext-secret",
        "installations/demo/leaked-secret.yaml",
    );
    assert_eq!(findings(&r)[0].2, Some(2));
    assert!(
        !r.stdout.contains("aHVudGVyMg"),
        "the value must not be echoed: {}",
        r.stdout
    );
}

#[test]
fn extra_recipient() {
    let r = assert_exactly(
        "extra-recipient",
        &[],
        "sops-recipients",
        "installations/demo/secrets/dex-clients.sops.yaml",
    );
    assert!(r.stdout.contains(R3), "{}", r.stdout);
}

#[test]
fn missing_recipient() {
    let r = assert_exactly(
        "missing-recipient",
        &[],
        "sops-recipients",
        "installations/demo/secrets/dex-clients.sops.yaml",
    );
    assert!(
        r.stdout.contains(R2) && r.stdout.contains("not encrypted for"),
        "{}",
        r.stdout
    );
}

#[test]
fn render_drift() {
    let r = assert_exactly(
        "drift",
        &[],
        "render-drift",
        "installations/demo/manifests/namespaces.yaml",
    );
    assert!(
        findings(&r)[0].2.is_some(),
        "drift names the first changed line"
    );
}

#[test]
fn expired_cert() {
    let r = assert_exactly(
        "expired-cert",
        &[],
        "cert-expired",
        "installations/demo/credentials.yaml",
    );
    assert!(r.stdout.contains("ca `cluster`"), "{}", r.stdout);
}

#[test]
fn invalid_spec() {
    let r = assert_exactly(
        "invalid-spec",
        &[],
        "spec-invalid",
        "installations/demo/installation.yaml",
    );
    assert!(findings(&r)[0].2.is_some(), "spec errors carry the line");
}

#[test]
fn tampered_mac_passes_without_key() {
    // Without the data key a MAC cannot be checked: the tampered file is structurally fine.
    let t = TestEnv::new();
    let dir = repo(&t, Some("tampered-mac"));
    let r = check(&t, &dir, &[]).ok();
    assert_eq!(findings(&r), vec![]);
    assert!(r.stdout.contains("\"macChecked\": false"), "{}", r.stdout);
}

fn age_key() -> PathBuf {
    fixtures().join("sops-vectors/keys/age1.txt")
}

#[test]
fn tampered_mac_with_key() {
    let key = age_key();
    let r = assert_exactly(
        "tampered-mac",
        &["--age-key-file", key.to_str().unwrap()],
        "sops-mac",
        "installations/demo/secrets/dex-clients.sops.yaml",
    );
    assert!(r.stdout.contains("\"macChecked\": true"), "{}", r.stdout);
}

/// Issue #15 item 8: a key that opens no file verified no MAC, and says so.
#[test]
fn issue_15_wrong_key_does_not_claim_macs_verified() {
    let t = TestEnv::new();
    let dir = repo(&t, None);
    let wrong = t.path().join("wrong.agekey");
    fs::write(
        &wrong,
        "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX\n",
    )
    .unwrap();
    let mut c = t.mcb();
    c.arg("--repo")
        .arg(&dir)
        .args(["check", "--kubectl"])
        .arg(tool("kubectl"))
        .arg("--age-key-file")
        .arg(&wrong);
    let r = run(c);
    assert!(!r.stdout.contains("MACs verified"), "{}", r.stdout);
    assert!(r.stdout.contains("MAC not verified"), "{}", r.stdout);
    let r = check(&t, &dir, &["--age-key-file", wrong.to_str().unwrap()]);
    assert!(r.stdout.contains("\"macChecked\": false"), "{}", r.stdout);
    assert!(r.stdout.contains("\"macsVerified\": 0"), "{}", r.stdout);
}

/// Issue #15 item 8: check built kustomizations with kubectl, which fetched their remote
/// resources. A local HTTP server counts the fetches: offline, there must be none.
#[test]
fn issue_15_check_fetches_no_remote_kustomize_resource_unless_asked() {
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    std::thread::spawn(move || {
        for s in listener.incoming() {
            let Ok(mut s) = s else { continue };
            counter.fetch_add(1, Ordering::SeqCst);
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let body = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: remote\n";
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    let t = TestEnv::new();
    let dir = repo(&t, None);
    let extra = dir.join("installations/demo/extra");
    fs::create_dir_all(&extra).unwrap();
    fs::write(
        extra.join("kustomization.yaml"),
        format!("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- http://127.0.0.1:{port}/remote.yaml\n"),
    )
    .unwrap();
    let r = check(&t, &dir, &[]);
    let f = findings(&r);
    assert_eq!(hits.load(Ordering::SeqCst), 0, "check went online: {f:?}");
    assert!(
        f.iter()
            .any(|f| f.0 == "kustomize-build"
                && f.1 == "installations/demo/extra/kustomization.yaml"),
        "{f:?}"
    );
    assert!(r.stdout.contains("--allow-remote"), "{}", r.stdout);
    // Asked to, kustomize fetches it.
    let r = check(&t, &dir, &["--allow-remote"]);
    assert!(hits.load(Ordering::SeqCst) > 0, "{}", r.stdout);
}

#[test]
fn clean_repo_with_key_verifies_every_mac() {
    let t = TestEnv::new();
    let dir = repo(&t, None);
    let key = age_key();
    let r = check(&t, &dir, &["--age-key-file", key.to_str().unwrap()]).ok();
    assert_eq!(findings(&r), vec![]);
    // The CA inside the encrypted demo-ca secret is only visible with the key: a window
    // reaching past its expiry turns it into a warning, with the line of `tls.crt`.
    let r = check(
        &t,
        &dir,
        &[
            "--age-key-file",
            key.to_str().unwrap(),
            "--warn-within",
            "1100w",
        ],
    )
    .ok();
    let f = findings(&r);
    assert!(
        f.iter()
            .any(|f| f.0 == "cert-expiring" && f.1.ends_with("secrets/demo-ca.sops.yaml")),
        "{f:?}"
    );
}

#[test]
fn expiring_is_a_warning_unless_strict() {
    let t = TestEnv::new();
    let dir = repo(&t, None);
    // The CA in credentials.yaml expires in 2036: a 20-year window makes it "expiring".
    let r = check(&t, &dir, &["--warn-within", "1100w"]).ok();
    let f = findings(&r);
    assert!(
        !f.is_empty() && f.iter().all(|f| f.0 == "cert-expiring"),
        "{f:?}"
    );
    check(&t, &dir, &["--warn-within", "1100w", "--strict"]).fails_with(1);
}

#[test]
fn sarif_output_is_valid_shape() {
    let t = TestEnv::new();
    let dir = repo(&t, Some("plaintext-secret"));
    let mut c = t.mcb();
    c.arg("--repo")
        .arg(&dir)
        .args(["check", "--format", "sarif", "--kubectl"])
        .arg(tool("kubectl"));
    let r = run(c).fails_with(1);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["version"], "2.1.0");
    let res = &v["runs"][0]["results"][0];
    assert_eq!(res["ruleId"], "plaintext-secret");
    assert_eq!(
        res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "installations/demo/leaked-secret.yaml"
    );
    assert_eq!(
        res["locations"][0]["physicalLocation"]["region"]["startLine"],
        2
    );
}

#[test]
fn human_output_groups_by_installation() {
    let t = TestEnv::new();
    let dir = repo(&t, Some("plaintext-secret"));
    fs::write(
        dir.join("stray.pem"),
        format!("-----BEGIN {}-----\n", "RSA PRIVATE KEY"),
    )
    .unwrap();
    let mut c = t.mcb();
    c.arg("--repo")
        .arg(&dir)
        .args(["check", "--kubectl"])
        .arg(tool("kubectl"));
    let r = run(c).fails_with(1);
    let want = "repository:\n  stray.pem:1: plaintext-secret: PEM private key in clear text";
    assert!(r.stdout.contains(want), "{}", r.stdout);
    assert!(
        r.stdout.contains(
            "installation demo:\n  installations/demo/leaked-secret.yaml:2: plaintext-secret: "
        ),
        "{}",
        r.stdout
    );
}

#[test]
fn mcbignore_and_kubectl_missing() {
    let t = TestEnv::new();
    let dir = repo(&t, None);
    fs::create_dir_all(dir.join("testdata")).unwrap();
    fs::write(
        dir.join("testdata/key.txt"),
        fs::read(fixtures().join("sops-vectors/keys/age1.txt")).unwrap(),
    )
    .unwrap();
    let mut c = t.mcb();
    c.arg("--repo")
        .arg(&dir)
        .args(["check", "-o", "json", "--kubectl", "/nonexistent/kubectl"]);
    let r = run(c).fails_with(1);
    let f = findings(&r);
    assert!(
        f.iter()
            .any(|f| f.0 == "plaintext-secret" && f.1 == "testdata/key.txt"),
        "{f:?}"
    );
    fs::write(
        dir.join(".mcbignore"),
        "# test keys, public on purpose\ntestdata/\n",
    )
    .unwrap();
    // no kubectl at all: mcb's own kustomizations are verified natively, no finding
    let no_kubectl = || {
        let mut c = t.mcb();
        c.env("PATH", "/nonexistent")
            .arg("--repo")
            .arg(&dir)
            .args(["check", "-o", "json"]);
        findings(&run(c).ok())
    };
    assert_eq!(no_kubectl(), vec![]);
    // a feature only kubectl builds, without kubectl: one warning, not an error
    let extra = dir.join("installations/demo/extra");
    fs::create_dir_all(&extra).unwrap();
    fs::write(
        extra.join("kustomization.yaml"),
        "resources: []\nreplacements: []\n",
    )
    .unwrap();
    let f = no_kubectl();
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].0, "kustomize-build");
}

/// A kubectl that writes each directory it is asked to build to `log`, then runs the real one.
fn recording_kubectl(t: &TestEnv) -> (PathBuf, PathBuf) {
    let log = t.path().join("kubectl.log");
    let wrapper = t.path().join("kubectl");
    fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\necho \"$2\" >> '{}'\nexec '{}' \"$@\"\n",
            log.display(),
            tool("kubectl").display()
        ),
    )
    .unwrap();
    fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    (wrapper, log)
}

/// Issue #20: kubectl ran once or more per installation (most of check's time). Now the
/// kustomizations mcb renders are verified natively and kubectl builds only what uses a
/// feature the model does not cover; a broken kustomization is still caught either way.
#[test]
fn issue_20_kustomizations_build_natively_and_kubectl_only_for_unmodelled_features() {
    let t = TestEnv::new();
    let dir = repo(&t, None);
    let (kubectl, log) = recording_kubectl(&t);
    let check_with = |extra: &[&str]| {
        let mut c = t.mcb();
        c.arg("--repo")
            .arg(&dir)
            .args(["check", "-o", "json", "--skip", "render-drift", "--kubectl"])
            .arg(&kubectl)
            .args(extra);
        run(c)
    };
    assert_eq!(findings(&check_with(&[]).ok()), vec![]);
    assert!(
        !log.exists(),
        "kubectl ran for modelled kustomizations: {:?}",
        fs::read_to_string(&log)
    );

    // Broken natively: the same object twice, and a missing generator file.
    let extra = dir.join("installations/demo/extra");
    fs::create_dir_all(&extra).unwrap();
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  namespace: apps\n";
    fs::write(extra.join("a.yaml"), cm).unwrap();
    fs::write(extra.join("b.yaml"), cm).unwrap();
    fs::write(
        extra.join("kustomization.yaml"),
        "resources:\n- a.yaml\n- b.yaml\nconfigMapGenerator:\n- name: g\n  files: [nope.txt]\n",
    )
    .unwrap();
    let r = check_with(&[]).fails_with(1);
    let f = findings(&r);
    assert_eq!(f.len(), 2, "{f:#?}");
    assert!(
        f.iter()
            .all(|f| f.0 == "kustomize-build"
                && f.1 == "installations/demo/extra/kustomization.yaml"),
        "{f:#?}"
    );
    assert!(
        r.stdout
            .contains("ConfigMap apps/x is defined in `a.yaml` and in `b.yaml`"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("file `nope.txt` does not exist"),
        "{}",
        r.stdout
    );
    assert!(
        !log.exists(),
        "kubectl ran for a natively broken kustomization"
    );

    // Unmodelled (replacements): kubectl builds it, offline, and reports its error.
    fs::write(
        extra.join("kustomization.yaml"),
        "resources:\n- a.yaml\nreplacements:\n- source: {kind: ConfigMap, name: missing}\n  targets:\n  - select: {kind: ConfigMap}\n    fieldPaths: [data.x]\n",
    )
    .unwrap();
    let r = check_with(&[]).fails_with(1);
    let f = findings(&r);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(
        (f[0].0.as_str(), f[0].1.as_str()),
        (
            "kustomize-build",
            "installations/demo/extra/kustomization.yaml"
        )
    );
    assert!(
        r.stdout
            .contains("`kubectl kustomize installations/demo/extra` fails"),
        "{}",
        r.stdout
    );
    let built = fs::read_to_string(&log).unwrap();
    assert_eq!(built.lines().count(), 1, "{built}");
    assert!(built.ends_with("installations/demo/extra\n"), "{built}");
}

/// A repo with installations `alpha` and `beta` (`--example`, keys `NAME.agekey` in `t`),
/// committed: the base the `--changed-since` tests change.
fn alpha_and_beta(t: &TestEnv) -> PathBuf {
    let repo = empty_repo(t, "repo");
    for name in ["alpha", "beta"] {
        let mut c = t.mcb();
        c.arg("--repo")
            .arg(&repo)
            .args([
                "init-installation",
                name,
                "--example",
                "--no-commit",
                "--age-key-out",
            ])
            .arg(t.path().join(format!("{name}.agekey")));
        run(c).ok();
    }
    for args in [
        ["add", "-A"].as_slice(),
        &["commit", "-q", "-m", "alpha and beta"],
    ] {
        let mut c = t.command("git");
        c.arg("-C").arg(&repo).args(args);
        run(c).ok();
    }
    repo
}

/// Issue #20: `--changed-since REF` checks the installations a change since REF affects and
/// names the others; templates affect all, a `.sops.yaml` rule the installations it covers.
#[test]
fn issue_20_changed_since_checks_only_affected_installations() {
    let t = TestEnv::new();
    let repo = alpha_and_beta(&t);
    let changed = |rev: &str| {
        let mut c = t.mcb();
        c.arg("--repo").arg(&repo).args([
            "check",
            "-o",
            "json",
            "--skip",
            "kustomize-build",
            "--changed-since",
            rev,
        ]);
        let r = run(c);
        let v: serde_json::Value = serde_json::from_str(&r.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}\n{}", r.stdout, r.stderr));
        (v["installations"].clone(), v["unchanged"].clone(), r)
    };
    let (checked, unchanged, r) = changed("HEAD");
    assert_eq!(
        (checked, unchanged),
        (serde_json::json!([]), serde_json::json!(["alpha", "beta"]))
    );
    r.ok();
    // an untracked file in beta (a leak about to be committed)
    fs::write(
        repo.join("installations/beta/leak.yaml"),
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\nstringData:\n  a: b\n",
    )
    .unwrap();
    let (checked, unchanged, r) = changed("HEAD");
    assert_eq!(
        (checked, unchanged),
        (serde_json::json!(["beta"]), serde_json::json!(["alpha"]))
    );
    let r = r.fails_with(1);
    assert!(
        r.stdout.contains("installations/beta/leak.yaml"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("1 installation(s) unchanged since HEAD: alpha"),
        "{}",
        r.stdout
    );
    fs::remove_file(repo.join("installations/beta/leak.yaml")).unwrap();
    // a rule in front of the others that changes alpha's recipients
    let cfg = repo.join(".sops.yaml");
    let text = fs::read_to_string(&cfg).unwrap();
    fs::write(
        &cfg,
        text.replacen("creation_rules:\n", &format!("creation_rules:\n- path_regex: ^installations/alpha/.*\\.sops\\.yaml$\n  age: {R3}\n"), 1),
    )
    .unwrap();
    assert_eq!(changed("HEAD").0, serde_json::json!(["alpha"]));
    fs::write(&cfg, &text).unwrap();
    // templates shape every installation
    fs::create_dir_all(repo.join("templates")).unwrap();
    fs::write(repo.join("templates/notes.md"), "x\n").unwrap();
    assert_eq!(changed("HEAD").0, serde_json::json!(["alpha", "beta"]));
    let mut c = t.mcb();
    c.arg("--repo")
        .arg(&repo)
        .args(["check", "--changed-since", "no-such-ref"]);
    let r = run(c).fails_with(2);
    assert!(
        r.stderr.contains("--changed-since no-such-ref"),
        "{}",
        r.stderr
    );
}

/// Issue #20: what `--changed-since` reports for a changed installation, and for the repo,
/// is what the full check reports for them, byte for byte, every rule on and MACs verified:
/// a staged leak (REF against the index), an edited manifest (index against the work tree)
/// and an untracked file are all seen, and the unchanged installation is named.
#[test]
fn issue_20_changed_since_reports_what_the_full_check_reports() {
    let t = TestEnv::new();
    let repo = alpha_and_beta(&t);
    let git = |args: &[&str]| {
        let mut c = t.command("git");
        c.arg("-C").arg(&repo).args(args);
        run(c).ok();
    };
    let beta = repo.join("installations/beta");
    let key = t.path().join("beta.agekey");
    let report = |extra: &[&str]| {
        let mut c = t.mcb();
        c.arg("--repo")
            .arg(&repo)
            .args(["check", "-o", "json", "--age-key-file"])
            .arg(&key)
            .arg("--kubectl")
            .arg(tool("kubectl"))
            .args(extra);
        let r = run(c).fails_with(1);
        let v: serde_json::Value = serde_json::from_str(&r.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}\n{}", r.stdout, r.stderr));
        v
    };
    // Each finding as the JSON the report prints, for beta and for no installation.
    let of_beta = |v: &serde_json::Value| -> Vec<String> {
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["installation"] == "beta" || f["installation"].is_null())
            .map(|f| serde_json::to_string_pretty(f).unwrap())
            .collect()
    };
    let since_head = || report(&["--changed-since", "HEAD"]);
    // A tracked file edited in the work tree, then (alone) a file staged since REF.
    let cluster = beta.join("manifests/cluster/cluster.yaml");
    let text = fs::read_to_string(&cluster).unwrap();
    fs::write(&cluster, format!("{text}bogus: 1\n")).unwrap();
    assert_eq!(since_head()["installations"], serde_json::json!(["beta"]));
    fs::write(&cluster, &text).unwrap();
    fs::write(
        beta.join("leak.yaml"),
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\nstringData:\n  a: b\n",
    )
    .unwrap();
    git(&["add", "installations/beta/leak.yaml"]);
    assert_eq!(since_head()["installations"], serde_json::json!(["beta"]));
    // All three at once, and an untracked file.
    fs::write(&cluster, format!("{text}bogus: 1\n")).unwrap();
    fs::write(beta.join("notes.yaml"), "apiVersion: v1\nkind: Nope\n").unwrap();
    let full = report(&[]);
    let changed = since_head();
    assert_eq!(changed["installations"], serde_json::json!(["beta"]));
    assert_eq!(changed["unchanged"], serde_json::json!(["alpha"]));
    assert!(
        changed["skipped"][0]
            .as_str()
            .unwrap()
            .contains("1 installation(s) unchanged since HEAD: alpha"),
        "{changed}"
    );
    assert_eq!(of_beta(&changed), of_beta(&full));
    let files: std::collections::BTreeSet<&str> = changed["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["file"].as_str())
        .collect();
    for f in ["leak.yaml", "manifests/cluster/cluster.yaml", "notes.yaml"] {
        assert!(
            files.contains(format!("installations/beta/{f}").as_str()),
            "{changed}"
        );
    }
    assert_eq!(changed["macChecked"], true, "{changed}");
}

#[test]
fn broken_kustomization_is_reported() {
    let t = TestEnv::new();
    let dir = repo(&t, None);
    let k = dir.join("installations/demo/secrets/kustomization.yaml");
    let text = fs::read_to_string(&k).unwrap();
    fs::write(&k, format!("{text}  - missing.sops.yaml\n")).unwrap();
    let f = findings(&check(&t, &dir, &["--skip", "render-drift"]).fails_with(1));
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(
        (f[0].0.as_str(), f[0].1.as_str()),
        (
            "kustomize-build",
            "installations/demo/secrets/kustomization.yaml"
        )
    );
}

#[test]
fn unknown_installation_is_exit_2_with_help() {
    let t = TestEnv::new();
    let dir = repo(&t, None);
    let mut c = t.mcb();
    c.arg("--repo").arg(&dir).args(["check", "nope"]);
    let r = run(c).fails_with(2);
    assert!(
        // The one unknown-installation error of every command (issue #24 item 11).
        r.stderr.contains("no installation nope")
            && r.stderr.contains("help: installations here: demo"),
        "{}",
        r.stderr
    );
}

#[test]
fn status_table_and_json() {
    let t = TestEnv::new();
    let dir = repo(&t, None);
    let mut c = t.mcb();
    c.arg("--repo").arg(&dir).args(["status"]);
    let r = run(c).ok();
    assert!(
        r.stdout
            .starts_with("installation demo (CA rotation: none)\n"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("KIND") && r.stdout.contains("DAYS LEFT"),
        "{}",
        r.stdout
    );
    let mut c = t.mcb();
    c.arg("--repo").arg(&dir).args(["status", "-o", "json"]);
    let r = run(c).ok();
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let ca = v[0]["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "ca" && c["id"] == "cluster")
        .unwrap()
        .clone();
    // MCB_TEST_NOW is 2026-11-25T12:00:00Z; the CA expires 2036-11-23T12:00:00Z.
    assert_eq!(ca["daysLeft"], 3651);
    assert_eq!(ca["notAfter"], "2036-11-23T12:00:00Z");
}

/// Issue #19 item 4: `status` reads `credentials.yaml` with the one inventory reader, so a
/// broken inventory is the same error, with its `help:`, as for every other command.
#[test]
fn status_names_a_broken_inventory_with_help() {
    let t = TestEnv::new();
    let dir = repo(&t, None);
    std::fs::write(
        dir.join("installations/demo/credentials.yaml"),
        "credentials: [oops\n",
    )
    .unwrap();
    let mut c = t.mcb();
    c.arg("--repo").arg(&dir).arg("status");
    let r = run(c).fails_with(2);
    assert!(
        r.stderr
            .contains("installations/demo/credentials.yaml: not a valid credential inventory")
            && r.stderr
                .contains("help: restore the file from git: mcb writes it"),
        "{}",
        r.stderr
    );
}

#[test]
fn init_installation_output_passes_check() {
    // What mcb writes must pass mcb's own gate, MACs included (the example's GitHub
    // connector gets its client secret at init, else dex-connector-secret fails it).
    let mut t = TestEnv::new();
    t.vars.insert(
        "MCB_DEX_CONNECTOR_GITHUB_CLIENT_SECRET".into(),
        "connector-secret".into(),
    );
    let repo = empty_repo(&t, "cfg");
    let key = t.path().join("demo.agekey");
    let mut c = t.mcb();
    c.arg("--repo")
        .arg(&repo)
        .args(["init-installation", "demo", "--example", "--age-key-out"])
        .arg(&key);
    run(c).ok();
    crate::support::provide_aws_credentials(&t, &repo, "demo");
    let r = check(&t, &repo, &["--age-key-file", key.to_str().unwrap()]);
    assert_eq!(findings(&r), vec![], "{}\n{}", r.stdout, r.stderr);
    let r = r.ok();
    assert!(r.stdout.contains("\"macChecked\": true"), "{}", r.stdout);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert!(v["sopsFiles"].as_u64().unwrap() >= 4, "{}", r.stdout);
}

#[test]
fn sops_config_drift_and_unknown_shared_secret() {
    let t = TestEnv::new();
    let dir = repo(&t, None);
    let cfg = dir.join(".sops.yaml");
    let text = fs::read_to_string(&cfg).unwrap();
    fs::write(&cfg, format!("{text}# hand edit\n")).unwrap();
    let f = findings(&check(&t, &dir, &[]).fails_with(1));
    assert_eq!(
        f,
        vec![(
            "render-drift".to_owned(),
            ".sops.yaml".to_owned(),
            Some(text.lines().count() as u64 + 1)
        )]
    );
    fs::write(&cfg, text).unwrap();
    let spec = dir.join("installations/demo/installation.yaml");
    let s = fs::read_to_string(&spec).unwrap();
    fs::write(&spec, format!("{s}sharedSecrets:\n  - registry\n")).unwrap();
    let f = findings(&check(&t, &dir, &[]).fails_with(1));
    assert!(
        f.iter()
            .any(|f| f.0 == "shared-unknown" && f.1 == "installations/demo/installation.yaml"),
        "{f:?}"
    );
}

#[test]
fn ci_workflow_runs_check() {
    let w = mcb::render::ci::ci_workflow(&mcb::render::ci::McbSource::Unpinned);
    assert!(w.contains("mcb check"));
    assert_eq!(
        mcb::render::ci::CI_WORKFLOW_PATH,
        ".github/workflows/mcb-check.yaml"
    );
}

// ---------------------------------------------------------------------------------------
// The corpus generator. Run by hand when the templates or the spec change:
//   cargo test --test it check::generate_fixtures -- --ignored
// It renders the clean repo with mcb's own renderer and encrypts with the Go sops.

#[test]
#[ignore = "regenerates fixtures/check/; run by hand"]
fn generate_fixtures() {
    use mcb::fileset::Content;
    use secrecy::ExposeSecret;

    let out = corpus();
    let _ = fs::remove_dir_all(&out);
    let clean = out.join("clean");
    let demo = clean.join("installations/demo");
    fs::create_dir_all(demo.join("secrets")).unwrap();
    let spec_text = mcb::spec::EXAMPLE
        .replace("name: gauss", "name: demo")
        .replace("gauss.example.com", "demo.example.com")
        .replace(
            "    - age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p",
            &format!("    - {R2}"),
        );
    fs::write(demo.join("installation.yaml"), &spec_text).unwrap();
    // A real 10-year CA (from MCB_TEST_NOW) for the CAPI secret and the inventory.
    let not_after = time::macros::datetime!(2036-11-23 12:00 UTC);
    let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    p.distinguished_name
        .push(rcgen::DnType::CommonName, "kubernetes");
    p.not_before = time::macros::datetime!(2026-11-25 12:00 UTC);
    p.not_after = not_after;
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = p.self_signed(&key).unwrap();
    let ca = mcb::k8s::Secret::new("demo-ca", "default", "cluster.x-k8s.io/secret")
        .label("cluster.x-k8s.io/cluster-name", "demo")
        .with("tls.crt", cert.pem().into_bytes())
        .with("tls.key", key.serialize_pem().into_bytes());
    let aws = mcb::k8s::Secret::new("capa-variables", "capa-system", "Opaque")
        .with("AWS_B64ENCODED_CREDENTIALS", b"W2RlZmF1bHRdCg==".to_vec());
    let dex = mcb::k8s::Secret::new("dex-clients", "dex", "Opaque")
        .label("app", "dex")
        .with("grafana", b"fixture-client-secret".to_vec());
    let connectors = mcb::k8s::Secret::new("dex-connectors", "dex", "Opaque").with(
        "DEX_CONNECTOR_GITHUB_CLIENT_SECRET",
        b"fixture-connector-secret".to_vec(),
    );
    let etcd = mcb::k8s::Secret::new("demo-etcd", "default", "cluster.x-k8s.io/secret")
        .label("cluster.x-k8s.io/cluster-name", "demo")
        .with("tls.crt", cert.pem().into_bytes());
    let grafana = mcb::k8s::Secret::new("grafana-oidc", "monitoring", "Opaque")
        .with("GF_AUTH_GENERIC_OAUTH_CLIENT_ID", b"grafana".to_vec())
        .with(
            "GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET",
            b"fixture-client-secret".to_vec(),
        );
    let secrets = [
        ("capa-variables", &aws),
        ("demo-ca", &ca),
        ("demo-etcd", &etcd),
        ("dex-clients", &dex),
        ("dex-connectors", &connectors),
        ("oidc-consumers/monitoring.grafana-oidc", &grafana),
    ];

    // Inventory.
    let mut inv = mcb::inventory::Inventory::new();
    let fp = |s: &str| {
        format!(
            "sha256:{}",
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(s.as_bytes()))
        )
    };
    for (kind, id, na, fingerprint) in [
        ("ca", "cluster", Some("2036-11-23T12:00:00Z"), fp("cluster")),
        ("age-key", "installation", None, R1.to_owned()),
    ] {
        inv.upsert(mcb::inventory::Credential {
            kind: kind.parse().unwrap(),
            id: id.into(),
            subject: None,
            fingerprint,
            not_before: None,
            not_after: na.map(Into::into),
            created: "2026-11-25T12:00:00Z".into(),
            rotated: None,
            file: None,
            extra: Default::default(),
        });
    }
    fs::write(demo.join("credentials.yaml"), inv.to_yaml()).unwrap();

    // .sops.yaml as mcb derives it from the spec and inventory, then the Go sops encrypts
    // with its rule (own key R1 from the inventory, admin R2 from the spec).
    let loaded = mcb::repo::installation::load_all(&clean).unwrap();
    let rules = mcb::repo::installation::sops_config(&loaded.iter().collect::<Vec<_>>());
    fs::write(clean.join(".sops.yaml"), rules).unwrap();
    for (name, s) in secrets {
        let rel = format!("installations/demo/secrets/{name}.sops.yaml");
        fs::create_dir_all(clean.join(&rel).parent().unwrap()).unwrap();
        fs::write(clean.join(&rel), s.to_yaml().expose_secret()).unwrap();
        sops(&clean, &["encrypt", "-i", &rel]);
    }

    // Rendered manifests, exactly as `mcb render` writes them.
    let spec = mcb::spec::parse(&spec_text, Path::new("installation.yaml")).unwrap();
    let templates = mcb::render::Templates::builtin().unwrap();
    let names: Vec<String> = secrets
        .iter()
        .map(|(n, _)| format!("{n}.sops.yaml"))
        .collect();
    let fs_ = mcb::render::render(
        &templates,
        &spec,
        &names,
        &mcb::inventory::Inventory::new(),
        &mcb::render::NoSecrets,
    )
    .unwrap();
    for (path, content) in fs_ {
        let Content::Plain(b) = content else {
            panic!("{path}: the corpus spec renders no secrets")
        };
        let p = clean.join(&path);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, b).unwrap();
    }

    // Broken cases, each an overlay on clean/.
    let case = |name: &str, rel: &str, content: &[u8]| {
        let p = out.join(name).join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, content).unwrap();
    };
    case(
        "plaintext-secret",
        "installations/demo/leaked-secret.yaml",
        b"apiVersion: v1\nkind: Secret\nmetadata:\n    name: db\n    namespace: default\ndata:\n    password: aHVudGVyMg==\n",
    );
    let dex_rel = "installations/demo/secrets/dex-clients.sops.yaml";
    let dex_clean = fs::read_to_string(clean.join(dex_rel)).unwrap();
    // A clear value the MAC covers, changed without sops.
    let tampered = dex_clean.replacen("        app: dex\n", "        app: dex-tampered\n", 1);
    assert_ne!(tampered, dex_clean, "label not found in {dex_clean}");
    case("tampered-mac", dex_rel, tampered.as_bytes());
    for (name, recipients) in [
        ("extra-recipient", format!("{R1},{R2},{R3}")),
        ("missing-recipient", R1.to_owned()),
    ] {
        let tmp = out.join(name).join(dex_rel);
        fs::create_dir_all(tmp.parent().unwrap()).unwrap();
        fs::write(&tmp, dex.to_yaml().expose_secret()).unwrap();
        // cwd outside clean/: no .sops.yaml applies, the flags decide.
        sops(
            &out.join(name),
            &[
                "encrypt",
                "-i",
                "--encrypted-regex",
                "^(data|stringData)$",
                "--age",
                &recipients,
                dex_rel,
            ],
        );
    }
    let ns_rel = "installations/demo/manifests/namespaces.yaml";
    let ns = fs::read_to_string(clean.join(ns_rel)).unwrap();
    case(
        "drift",
        ns_rel,
        format!("{ns}---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: hand-made\n")
            .as_bytes(),
    );
    let creds = fs::read_to_string(demo.join("credentials.yaml")).unwrap();
    let expired = creds.replace("2036-11-23T12:00:00Z", "2026-11-01T00:00:00Z");
    assert_ne!(expired, creds);
    case(
        "expired-cert",
        "installations/demo/credentials.yaml",
        expired.as_bytes(),
    );
    case(
        "invalid-spec",
        "installations/demo/installation.yaml",
        spec_text
            .replace(
                "kubernetesVersion: v1.33.4",
                "kubernetesVersion: v1.33.4\nkubernetesVersoin: v1.34.0",
            )
            .as_bytes(),
    );
}

/// Runs the Go sops in `cwd` with a sealed environment (no key: only encryption).
fn sops(cwd: &Path, args: &[&str]) {
    let t = TestEnv::new();
    let mut c = t.command(tool("sops"));
    c.current_dir(cwd).args(args);
    run(c).ok();
}

#[test]
fn missing_provider_credentials_are_reported() {
    // The clean repo without its AWS credentials Secret: the provider could not start.
    let t = TestEnv::new();
    let dir = repo(&t, None);
    fs::remove_file(dir.join("installations/demo/secrets/capa-variables.sops.yaml")).unwrap();
    let r = check(
        &t,
        &dir,
        &["--skip", "render-drift", "--skip", "kustomize-build"],
    )
    .fails_with(1);
    assert_eq!(
        findings(&r),
        vec![(
            "provider-credentials".to_owned(),
            "installations/demo/installation.yaml".to_owned(),
            Some(14)
        )],
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("capa-system/capa-variables"),
        "{}",
        r.stdout
    );
}

/// A git repository `name` under the test dir on branch main with one empty commit and no
/// remote (so mcb branches from the local main).
fn empty_repo(t: &TestEnv, name: &str) -> PathBuf {
    let repo = t.path().join(name);
    for args in [
        vec!["init", "-q", "-b", "main", repo.to_str().unwrap()],
        vec![
            "-C",
            repo.to_str().unwrap(),
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "empty",
        ],
    ] {
        let mut c = t.command("git");
        c.args(&args);
        run(c).ok();
    }
    repo
}

/// Issue #19 item 3: `--skip` parses into the typed rule, so clap rejects an unknown one
/// (usage error, exit 2) naming every valid id, and `--help` lists each with its description.
#[test]
fn skip_takes_a_known_rule_and_help_lists_them() {
    let t = TestEnv::new();
    let mut c = t.mcb();
    c.args(["check", "--skip", "render-drfit"]);
    let r = run(c).fails_with(2);
    for rule in mcb::check::Rule::ALL {
        assert!(r.stderr.contains(rule.id()), "{rule}: {}", r.stderr);
    }
    let mut c = t.mcb();
    c.args(["check", "--help"]);
    let help = run(c).ok().stdout;
    // clap wraps long descriptions; compare with whitespace collapsed.
    let flat = help.split_whitespace().collect::<Vec<_>>().join(" ");
    for rule in mcb::check::Rule::ALL {
        let line = format!("- {}: {}", rule.id(), rule.description());
        let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(flat.contains(&line), "`{line}` missing from:\n{help}");
    }
}

/// docs/check.md's rule table names every rule, and only rules (a new rule needs a row).
#[test]
fn docs_rule_table_lists_every_rule() {
    let doc =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/check.md")).unwrap();
    let table = doc
        .split("## What is checked")
        .nth(1)
        .and_then(|s| s.split("\n\n").nth(1))
        .expect("docs/check.md has a rule table under `## What is checked`");
    let mut documented = std::collections::BTreeSet::new();
    for row in table.lines().skip(2) {
        let first = row.split('|').nth(1).expect("a table row");
        for id in first.split('`').skip(1).step_by(2) {
            let rule = <mcb::check::Rule as clap::ValueEnum>::from_str(id, false)
                .unwrap_or_else(|e| panic!("docs/check.md names `{id}`, not a rule: {e}"));
            documented.insert(rule);
        }
    }
    for rule in mcb::check::Rule::ALL {
        assert!(
            documented.contains(rule),
            "docs/check.md's rule table has no row for `{rule}` ({})",
            rule.description()
        );
    }
}
