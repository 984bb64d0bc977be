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

/// A config repo with installation `demo` (from the example), its key at `demo.agekey`.
fn initialised() -> (TestEnv, PathBuf, PathBuf) {
    let t = TestEnv::new();
    let repo = config_repo(&t);
    let key = t.path().join("demo.agekey");
    init(&t, &repo, &key, &[]).ok();
    (t, repo, key)
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
    let (t, repo, key) = initialised();
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
    let (t, repo, _) = initialised();
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

#[test]
fn issue_24_render_check_status_in_the_wrong_directory_say_so() {
    let t = TestEnv::new();
    let repo = config_repo(&t);
    let elsewhere = t.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    for dir in [&repo, &elsewhere] {
        for cmd in [
            &["render"][..],
            &["check"],
            &["status"],
            &["render", "--check"],
        ] {
            let mut c = t.mcb();
            c.current_dir(dir).args(cmd);
            let r = run(c).fails_with(2);
            assert!(
                r.stderr.contains("no installations under installations/")
                    && r.stderr.contains(&dir.display().to_string())
                    && r.stderr.contains("--repo"),
                "{cmd:?} in {}:\n{}",
                dir.display(),
                r.stderr
            );
        }
    }
}

#[test]
fn issue_24_one_unknown_installation_error_for_every_command() {
    let t = TestEnv::new();
    let repo = config_repo(&t);
    init(&t, &repo, &t.path().join("demo.agekey"), &[]).ok();
    let mut messages = Vec::new();
    for cmd in [
        &["render", "nope"][..],
        &["check", "nope"],
        &["status", "nope"],
        &["kubeconfig", "nope"],
        &["bootstrap", "nope"],
        &["rotate", "nope", "--dry-run"],
    ] {
        let r = mcb(
            &t,
            &repo,
            cmd,
            &[("SOPS_AGE_KEY_FILE", &t.path().join("demo.agekey"))],
        )
        .fails_with(2);
        let first = r
            .stderr
            .lines()
            .find(|l| l.starts_with("error:"))
            .unwrap_or_default()
            .to_owned();
        assert!(
            r.stderr.contains("installations here: demo"),
            "{cmd:?}:\n{}",
            r.stderr
        );
        messages.push(first);
    }
    let want = format!(
        "error: no installation nope: {} does not exist",
        repo.join("installations/nope/installation.yaml").display()
    );
    assert!(messages.iter().all(|m| *m == want), "{want}\n{messages:#?}");
}

#[test]
fn issue_24_tilde_in_path_flags_is_the_home_directory() {
    let t = TestEnv::new();
    let repo = config_repo(&t);
    let mut c = t.mcb();
    c.current_dir(&repo).args([
        "init-installation",
        "demo",
        "--example",
        "--age-key-out=~/keys/demo.agekey",
    ]);
    run(c).ok();
    assert!(t.home().join("keys/demo.agekey").is_file());
    assert!(!repo.join("~").exists(), "no directory named ~ in the repo");

    let mut c = t.mcb();
    c.current_dir(&repo)
        .args(["bootstrap", "demo", "--age-key-file=~/keys/demo.agekey"]);
    run(c).ok();

    let mut c = t.mcb();
    c.current_dir(&repo)
        .args(["kubeconfig", "demo", "--age-key-file=~nobody/demo.agekey"]);
    let r = run(c).fails_with(2);
    assert!(
        r.stderr.contains("only `~` and `~/…` are expanded"),
        "{}",
        r.stderr
    );
    assert!(!repo.join("~nobody").exists());
}

#[test]
fn issue_24_rotate_only_takes_the_names_status_prints() {
    let (t, repo, key) = initialised();
    let status = mcb(&t, &repo, &["status", "demo"], &[]).ok().stdout;
    assert!(status.contains("oidc-client  grafana"), "{status}");
    let env = [("SOPS_AGE_KEY_FILE", key.as_path())];
    for only in ["oidc-client/grafana", "oidc-client grafana", "oidc/grafana"] {
        let r = mcb(
            &t,
            &repo,
            &["rotate", "demo", "--only", only, "--dry-run"],
            &env,
        )
        .ok();
        assert!(r.stdout.contains("oidc"), "{only}: {}", r.stdout);
    }
    let r = mcb(
        &t,
        &repo,
        &["rotate", "demo", "--only", "nope", "--dry-run"],
        &env,
    )
    .fails_with(2);
    for valid in [
        "age-key",
        "ca/cluster",
        "ca/etcd",
        "ca/proxy",
        "deploy-key",
        "kubeconfig/admin",
        "oidc/grafana",
        "oidc/kubectl",
        "sops-data-keys",
    ] {
        assert!(r.stderr.contains(valid), "{valid}:\n{}", r.stderr);
    }
    assert!(
        !r.stderr.contains("github-app,"),
        "demo has no GitHub App:\n{}",
        r.stderr
    );
    let r = mcb(
        &t,
        &repo,
        &["rotate", "demo", "--only", "sa-key/sa", "--dry-run"],
        &env,
    )
    .fails_with(2);
    assert!(
        r.stderr.contains("cannot rotate sa-key/sa") && r.stderr.contains("ServiceAccount token"),
        "{}",
        r.stderr
    );
}

#[test]
fn issue_24_help_has_global_options_examples_and_the_spec_alternative() {
    let t = TestEnv::new();
    let help = |args: &[&str]| {
        let mut c = t.mcb();
        c.args(args);
        run(c).ok().stdout
    };
    for args in [
        &["--help"][..],
        &["check", "--help"],
        &["init-installation", "--help"],
    ] {
        let h = help(args);
        let (before, global) = h
            .split_once("Global options:")
            .unwrap_or_else(|| panic!("{args:?}: no Global options heading:\n{h}"));
        for flag in ["--repo", "--verbose", "--quiet", "--color", "--output"] {
            assert!(
                global.contains(flag),
                "{args:?}: {flag} under Global options"
            );
            assert!(
                !before.contains(&format!("{flag} <")) && !before.contains(&format!("{flag}\n")),
                "{args:?}: {flag} listed before Global options:\n{before}"
            );
        }
    }
    let top = help(&["--help"]);
    assert!(top.contains("Examples"), "{top}");
    assert!(
        top.contains("mcb init-installation demo --spec demo.yaml"),
        "{top}"
    );
    let init = help(&["init-installation", "--help"]);
    let usage = init.lines().find(|l| l.starts_with("Usage:")).unwrap();
    assert!(usage.contains("<--spec <FILE>|--example>"), "{usage}");
    // `mcb shared list` as the README has it now.
    let readme = std::fs::read_to_string(crate::support::root().join("README.md")).unwrap();
    assert!(
        !readme.contains("list NAME"),
        "README lists `shared list NAME`"
    );
    assert!(
        readme.contains("mcb shared list "),
        "README shows `mcb shared list`"
    );
}

#[test]
fn issue_24_dry_runs_do_not_say_done() {
    let t = TestEnv::new();
    let repo = config_repo(&t);
    let key = t.path().join("demo.agekey");
    let r = init(&t, &repo, &key, &["--dry-run"]).ok();
    assert!(!r.stderr.contains("initialised"), "{}", r.stderr);
    assert!(
        r.stderr.contains("dry run: installation demo planned"),
        "{}",
        r.stderr
    );
    init(&t, &repo, &key, &[]).ok();
    let env = [("SOPS_AGE_KEY_FILE", key.as_path())];
    let r = mcb(
        &t,
        &repo,
        &["rotate", "demo", "--only", "kubeconfig/admin", "--dry-run"],
        &env,
    )
    .ok();
    assert!(!r.stderr.contains("rotated"), "{}", r.stderr);
    assert!(r.stdout.contains("Would rotate:"), "{}", r.stdout);
    assert!(
        r.stderr.contains("dry run: rotation of demo planned"),
        "{}",
        r.stderr
    );
}

#[test]
fn issue_24_the_example_placeholder_recipient_warns_loudly_and_q_silences_warnings() {
    let t = TestEnv::new();
    let repo = config_repo(&t);
    let key = t.path().join("demo.agekey");
    let r = init(&t, &repo, &key, &["--dry-run"]).ok();
    assert!(
        r.stderr.contains("EXAMPLE placeholder") && r.stderr.contains("NOBODY on your team"),
        "{}",
        r.stderr
    );
    // An unedited spec from `mcb example-spec`, renamed only, warns the same.
    let mut c = t.mcb();
    c.arg("example-spec");
    let spec = run(c).ok().stdout.replace("name: gauss", "name: demo");
    let spec_file = t.path().join("demo.yaml");
    std::fs::write(&spec_file, spec).unwrap();
    let mut c = crate::init::init_with_spec(&t, &repo, &spec_file, &key);
    c.arg("--dry-run");
    let r = run(c).ok();
    assert!(r.stderr.contains("NOBODY on your team"), "{}", r.stderr);
    // -q: errors only.
    let mut c = t.mcb();
    c.arg("-q")
        .arg("--repo")
        .arg(&repo)
        .args([
            "init-installation",
            "demo",
            "--example",
            "--dry-run",
            "--age-key-out",
        ])
        .arg(&key);
    let r = run(c).ok();
    assert_eq!(r.stderr, "", "-q prints no warning");
}

#[test]
fn issue_24_file_errors_name_the_file_once_with_help() {
    let t = TestEnv::new();
    let repo = config_repo(&t);
    let missing = t.path().join("nowhere/spec.yaml");
    let mut c = t.mcb();
    c.arg("--repo")
        .arg(&repo)
        .args(["init-installation", "demo", "--spec"])
        .arg(&missing)
        .arg("--age-key-out")
        .arg(t.path().join("k.agekey"));
    let r = run(c).fails_with(2);
    let shown = missing.display().to_string();
    assert_eq!(r.stderr.matches(&shown).count(), 1, "{}", r.stderr);
    assert_eq!(
        r.stderr.matches("No such file or directory").count(),
        1,
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("help: check the path"), "{}", r.stderr);

    // A malformed key file: named, with what a key file holds.
    let bad = t.path().join("bad.agekey");
    std::fs::write(&bad, "not a key\n").unwrap();
    init(&t, &repo, &t.path().join("demo.agekey"), &[]).ok();
    for (args, env) in [
        (
            vec![
                "kubeconfig",
                "demo",
                "--age-key-file",
                bad.to_str().unwrap(),
            ],
            vec![],
        ),
        (
            vec!["kubeconfig", "demo"],
            vec![("SOPS_AGE_KEY_FILE", bad.as_path())],
        ),
    ] {
        let r = mcb(&t, &repo, &args, &env).fails_with(2);
        assert!(
            r.stderr.contains(&bad.display().to_string())
                && r.stderr
                    .contains("help: an identity file holds AGE-SECRET-KEY-1"),
            "{args:?}:\n{}",
            r.stderr
        );
    }
}

#[test]
fn issue_24_secrets_paths_are_in_the_repo_given_by_repo() {
    let (t, repo, key) = initialised();
    let env = [("SOPS_AGE_KEY_FILE", key.as_path())];
    // Run from outside the repo: FILE is in the repo, .sops.yaml is the repo's.
    let r = mcb(
        &t,
        &repo,
        &[
            "secrets",
            "decrypt",
            "installations/demo/secrets/demo-ca.sops.yaml",
        ],
        &env,
    )
    .ok();
    assert!(r.stdout.contains("kind: Secret"), "{}", r.stdout);
    let extra = repo.join("installations/demo/secrets/extra.sops.yaml");
    std::fs::write(
        &extra,
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: extra\nstringData:\n  a: b\n",
    )
    .unwrap();
    mcb(
        &t,
        &repo,
        &[
            "secrets",
            "encrypt",
            "-i",
            "installations/demo/secrets/extra.sops.yaml",
        ],
        &env,
    )
    .ok();
    let text = std::fs::read_to_string(&extra).unwrap();
    let recipient = std::fs::read_to_string(&key)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("# public key: ").map(str::to_owned))
        .unwrap();
    assert!(text.contains("ENC[") && text.contains(&recipient), "{text}");
}

#[test]
fn issue_24_one_flag_per_concept() {
    let (t, repo, _) = initialised();
    // check: -o is the format (sarif too); --format is its old name and may not disagree.
    let r = mcb(
        &t,
        &repo,
        &["-o", "sarif", "check", "--skip", "kustomize-build"],
        &[],
    );
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["version"], "2.1.0");
    let r = mcb(
        &t,
        &repo,
        &["-o", "json", "check", "--format", "sarif"],
        &[],
    )
    .fails_with(2);
    assert!(
        r.stderr.contains("-o and --format disagree"),
        "{}",
        r.stderr
    );
    let r = mcb(&t, &repo, &["-o", "sarif", "status"], &[]).fails_with(2);
    assert!(r.stderr.contains("only for `mcb check`"), "{}", r.stderr);
    // init: one flag for the Git host's keys.
    let kh = t.path().join("known_hosts");
    std::fs::write(&kh, "github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n").unwrap();
    let mut c = t.mcb();
    c.arg("--repo")
        .arg(&repo)
        .args([
            "init-installation",
            "other",
            "--example",
            "--dry-run",
            "--known-hosts",
        ])
        .arg(&kh)
        .arg("--git-known-hosts")
        .arg(&kh);
    let r = run(c).fails_with(2);
    assert!(r.stderr.contains("cannot be used with"), "{}", r.stderr);
}
