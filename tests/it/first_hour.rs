//! Issue #24, "the first hour": keys found where mcb put them, one answer for a wrong
//! directory, `~` in paths, the names `status` prints, help and README truth, smaller edges.
//! Real git repos and the real `mcb` binary; no network.

use std::path::{Path, PathBuf};

use crate::init::{config_repo, init};
use crate::support::{run, Run, TestEnv};

/// `mcb --repo REPO ARGS…` with extra environment.
fn mcb(t: &TestEnv, repo: &Path, args: &[&str], env: &[(&str, &Path)]) -> Run {
    let mut c = t.mcb();
    c.arg("--repo").arg(repo).args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    run(c)
}

/// An installation `demo` whose key init saved where it saves it by default.
fn init_with_default_key(t: &TestEnv) -> (PathBuf, PathBuf) {
    let repo = config_repo(t);
    let mut c = t.mcb();
    c.arg("--repo")
        .arg(&repo)
        .args(["init-installation", "demo", "--example"]);
    run(c).ok();
    let key = t.home().join(".config/mcb/keys/demo.agekey");
    assert!(key.is_file(), "init saves the key to its default place");
    (repo, key)
}

#[test]
fn issue_24_bootstrap_takes_the_key_from_sops_age_key_file() {
    let t = TestEnv::new();
    let repo = config_repo(&t);
    let key = t.path().join("demo.agekey");
    init(&t, &repo, &key, &[]).ok();
    let r = mcb(
        &t,
        &repo,
        &["bootstrap", "demo"],
        &[("SOPS_AGE_KEY_FILE", &key)],
    )
    .ok();
    assert!(r.stdout.contains("name: sops-age"), "{}", r.stderr);
}

#[test]
fn issue_24_every_command_finds_the_key_where_init_saved_it() {
    let t = TestEnv::new();
    let (repo, key) = init_with_default_key(&t);
    let key_line = std::fs::read_to_string(&key)
        .unwrap()
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
        .unwrap()
        .to_owned();

    // README step 4 as written (run inside the repo, no flag, no variable).
    let mut c = t.mcb();
    c.current_dir(&repo).args([
        "secrets",
        "decrypt",
        "installations/demo/secrets/demo-kubeconfig-admin.sops.yaml",
        "--extract",
        "[\"data\"][\"value\"]",
    ]);
    let r = run(c).ok();
    assert!(!r.stdout.is_empty());

    let r = mcb(&t, &repo, &["kubeconfig", "demo"], &[]).ok();
    assert!(r.stdout.contains("kind: Config"), "{}", r.stdout);

    let r = mcb(&t, &repo, &["bootstrap", "demo"], &[]).ok();
    let sops_age = r
        .stdout
        .split("---\n")
        .find(|d| d.contains("name: sops-age"))
        .unwrap();
    let b64 = sops_age
        .lines()
        .find_map(|l| l.trim().strip_prefix("demo.agekey: "))
        .unwrap();
    use base64::Engine as _;
    let given = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    assert_eq!(
        String::from_utf8(given).unwrap().trim(),
        key_line,
        "the cluster gets the installation's key and nothing else"
    );

    let r = mcb(
        &t,
        &repo,
        &["check", "demo", "--skip", "kustomize-build"],
        &[],
    );
    assert!(
        r.stdout.contains("MACs verified"),
        "{}\n{}",
        r.stdout,
        r.stderr
    );

    mcb(
        &t,
        &repo,
        &["rotate", "demo", "--only", "kubeconfig/admin", "--dry-run"],
        &[],
    )
    .ok();
}

#[test]
fn issue_24_no_identity_names_every_place_looked_at() {
    let t = TestEnv::new();
    let repo = config_repo(&t);
    let key = t.path().join("demo.agekey");
    init(&t, &repo, &key, &[]).ok();
    let r = mcb(&t, &repo, &["bootstrap", "demo"], &[]).fails_with(2);
    for place in [
        "--age-key-file",
        "SOPS_AGE_KEY (not set)",
        "SOPS_AGE_KEY_FILE (not set)",
        "SOPS_AGE_KEY_CMD (not set)",
        ".config/mcb/keys/demo.agekey (no such file)",
        ".config/sops/age/keys.txt (no such file)",
    ] {
        assert!(r.stderr.contains(place), "{place}:\n{}", r.stderr);
    }
    assert!(r.stderr.contains("help:"), "{}", r.stderr);
    assert!(r.stdout.is_empty());
    // The same lookup, the same answer, for a command that decrypts.
    let r = mcb(&t, &repo, &["kubeconfig", "demo"], &[]).fails_with(2);
    assert!(
        r.stderr
            .contains(".config/mcb/keys/demo.agekey (no such file)"),
        "{}",
        r.stderr
    );
}
