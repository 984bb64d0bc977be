//! `mcb init-installation` and `mcb bootstrap` end to end: a fresh config repo with a bare
//! origin, the real Go sops, kubectl kustomize, age-keygen and a fake GitHub API.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::github::Fake;
use crate::support::{run, tool, Run, TestEnv};

/// A config repo with one empty commit on `main` and a bare `origin` over file://.
pub(crate) fn config_repo(t: &TestEnv) -> PathBuf {
    config_repo_at(t, "repo")
}

/// [`config_repo`] in `t`'s directory `name` (origin: `origin.git`, or `name-origin.git`).
pub(crate) fn config_repo_at(t: &TestEnv, name: &str) -> PathBuf {
    let repo = t.path().join(name);
    let origin = match name {
        "repo" => t.path().join("origin.git"),
        _ => t.path().join(format!("{name}-origin.git")),
    };
    for args in [
        vec![
            "init",
            "-q",
            "--bare",
            "-b",
            "main",
            origin.to_str().unwrap(),
        ],
        vec!["init", "-q", "-b", "main", repo.to_str().unwrap()],
    ] {
        let mut c = t.command("git");
        c.args(&args);
        run(c).ok();
    }
    git(
        t,
        &repo,
        &["commit", "-q", "--allow-empty", "-m", "empty config repo"],
    );
    git(
        t,
        &repo,
        &[
            "remote",
            "add",
            "origin",
            &format!("file://{}", origin.display()),
        ],
    );
    git(t, &repo, &["push", "-q", "origin", "main"]);
    repo
}

pub(crate) fn git(t: &TestEnv, repo: &Path, args: &[&str]) -> String {
    let mut c = t.command("git");
    c.arg("-C").arg(repo).args(args);
    run(c).ok().stdout
}

pub(crate) fn init(t: &TestEnv, repo: &Path, key: &Path, extra: &[&str]) -> Run {
    run(init_cmd(t, repo, key, extra))
}

/// `mcb --repo REPO init-installation demo --example --age-key-out KEY EXTRA…`.
pub(crate) fn init_cmd(t: &TestEnv, repo: &Path, key: &Path, extra: &[&str]) -> Command {
    let mut c = t.mcb();
    c.arg("--repo")
        .arg(repo)
        .args(["init-installation", "demo", "--example", "--age-key-out"])
        .arg(key)
        .args(extra);
    c
}

/// `mcb --repo REPO init-installation demo --spec SPEC --age-key-out KEY`, to add flags to.
pub(crate) fn init_with_spec(t: &TestEnv, repo: &Path, spec: &Path, key: &Path) -> Command {
    let mut c = t.mcb();
    c.arg("--repo")
        .arg(repo)
        .args(["init-installation", "demo", "--spec"])
        .arg(spec)
        .arg("--age-key-out")
        .arg(key);
    c
}

/// Every SOPS file of installation `demo`: its `secrets/` and the OIDC consumers' copies.
pub(crate) fn secret_files(repo: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = ["secrets", "secrets/oidc-consumers"]
        .iter()
        .map(|d| repo.join("installations/demo").join(d))
        .filter(|d| d.is_dir())
        .flat_map(|d| std::fs::read_dir(d).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".sops.yaml"))
        .collect();
    v.sort();
    v
}

/// The Go sops decrypting `file` with only `key` available.
pub(crate) fn go_sops_decrypt(t: &TestEnv, file: &Path, key: &Path) -> Run {
    let mut c = t.command(tool("sops"));
    c.env("SOPS_AGE_KEY_FILE", key).arg("decrypt").arg(file);
    run(c)
}

#[test]
fn init_example_makes_a_complete_encrypted_installation_on_a_branch() {
    let t = TestEnv::new();
    let repo = config_repo(&t);
    let key = t.path().join("demo.agekey");
    let started = std::time::Instant::now();
    let r = init(&t, &repo, &key, &[]).ok();
    eprintln!("init --example took {:?}", started.elapsed());
    assert!(
        r.stdout.contains("committed on branch mcb/init-demo"),
        "{}",
        r.stdout
    );

    // One commit on its own branch, nothing left uncommitted.
    assert_eq!(
        git(&t, &repo, &["branch", "--show-current"]).trim(),
        "mcb/init-demo"
    );
    assert_eq!(
        git(&t, &repo, &["rev-list", "--count", "main..mcb/init-demo"]).trim(),
        "1"
    );
    assert_eq!(git(&t, &repo, &["status", "--porcelain"]), "");

    // The key: 0600, age-keygen layout, its recipient in .sops.yaml, never in the repo.
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let key_text = std::fs::read_to_string(&key).unwrap();
    let secret_line = key_text
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
        .unwrap();
    let recipient = key_text
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .unwrap();
    let sops_yaml = std::fs::read_to_string(repo.join(".sops.yaml")).unwrap();
    assert!(sops_yaml.contains(recipient), "{sops_yaml}");
    let mut c = t.command("git");
    c.arg("-C")
        .arg(&repo)
        .args(["grep", "-l", secret_line, "mcb/init-demo", "--"]);
    let grep = run(c);
    assert_eq!(
        grep.code(),
        1,
        "the age secret key is in the repo: {}",
        grep.stdout
    );

    // Every secret: the Go sops decrypts it with the printed key, and not with another.
    let files = secret_files(&repo);
    assert!(files.len() >= 7, "{files:?}");
    let other = t.path().join("other.agekey");
    let mut kg = t.command("age-keygen");
    kg.arg("-o").arg(&other);
    run(kg).ok();
    for f in &files {
        let r = go_sops_decrypt(&t, f, &key).ok();
        assert!(
            r.stdout.contains("kind: Secret"),
            "{}: {}",
            f.display(),
            r.stdout
        );
        let bad = go_sops_decrypt(&t, f, &other);
        assert_ne!(bad.code(), 0, "{} opened with a foreign key", f.display());
        assert!(bad.stdout.is_empty());
    }
    // CAPI secrets are there by name.
    for name in [
        "demo-ca",
        "demo-etcd",
        "demo-proxy",
        "demo-sa",
        "demo-kubeconfig-admin",
        "flux-system",
    ] {
        assert!(
            repo.join(format!("installations/demo/secrets/{name}.sops.yaml"))
                .is_file(),
            "{name}"
        );
    }
    // `demo-kubeconfig` belongs to the control plane provider (it mints and renews it from
    // demo-ca): nothing in the repo may own that name, or KCP would never renew it.
    assert!(!repo
        .join("installations/demo/secrets/demo-kubeconfig.sops.yaml")
        .exists());
    let all = std::fs::read_dir(repo.join("installations/demo/secrets"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap_or_default())
        .collect::<String>();
    assert!(
        !all.contains("name: demo-kubeconfig\n"),
        "a Secret named demo-kubeconfig is rendered"
    );

    // kubectl kustomize builds every directory.
    for dir in [
        "manifests",
        "manifests/flux-system",
        "manifests/cluster",
        "manifests/apps",
        "secrets",
        "bootstrap",
    ] {
        let mut c = t.command(tool("kubectl"));
        c.arg("kustomize")
            .arg(repo.join("installations/demo").join(dir));
        let out = run(c).ok();
        assert!(out.stdout.contains("kind:"), "{dir}");
    }

    // The config repo's CI gate runs mcb check.
    let wf = std::fs::read_to_string(repo.join(".github/workflows/mcb-check.yaml")).unwrap();
    let v: serde_json::Value = serde_saphyr::from_str(&wf).unwrap();
    let runs: Vec<&str> = v["jobs"]["check"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["run"].as_str())
        .collect();
    assert!(
        runs.iter()
            .any(|r| r.trim_end().ends_with("mcb check \"${flags[@]}\"")),
        "{wf}"
    );

    // Render right after init: no drift.
    let mut c = t.mcb();
    c.arg("--repo").arg(&repo).args(["render", "--check"]);
    run(c).ok();

    // A second init is refused and changes nothing.
    let head = git(&t, &repo, &["rev-parse", "HEAD"]);
    let key2 = t.path().join("second.agekey");
    let r = init(&t, &repo, &key2, &[]).fails_with(2);
    assert!(r.stderr.contains("already exists"), "{}", r.stderr);
    assert!(r.stderr.contains("help: "), "{}", r.stderr);
    assert_eq!(git(&t, &repo, &["rev-parse", "HEAD"]), head);
    assert!(!key2.exists());
}

#[test]
fn init_failure_between_steps_leaves_no_partial_installation() {
    for step in ["credentials", "plan", "apply"] {
        let t = TestEnv::new();
        let repo = config_repo(&t);
        let key = t.path().join("demo.agekey");
        let mut c = init_cmd(&t, &repo, &key, &[]);
        c.env("MCB_TEST_FAIL_AFTER", step);
        let r = run(c).fails_with(2);
        assert!(
            r.stderr.contains(&format!("after step `{step}`")),
            "{step}: {}",
            r.stderr
        );
        assert_eq!(
            git(&t, &repo, &["status", "--porcelain", "--ignored"]),
            "",
            "{step}: files left behind"
        );
        assert_eq!(
            git(&t, &repo, &["branch", "--show-current"]).trim(),
            "main",
            "{step}"
        );
        assert_eq!(
            git(&t, &repo, &["branch", "--list", "mcb/*"]),
            "",
            "{step}: branch left behind"
        );
        assert!(!repo.join("installations").exists(), "{step}");
        assert!(
            !key.exists(),
            "{step}: key written although nothing was committed"
        );
        // and a clean re-run succeeds
        init(&t, &repo, &key, &[]).ok();
    }
}

#[test]
fn init_dry_run_prints_the_plan_and_writes_nothing() {
    let t = TestEnv::new();
    let repo = config_repo(&t);
    let key = t.path().join("demo.agekey");
    let r = init(&t, &repo, &key, &["--dry-run"]).ok();
    assert!(r.stdout.contains("dry run"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("installations/demo/secrets/demo-ca.sops.yaml"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("ca/cluster"), "{}", r.stdout);
    assert_eq!(git(&t, &repo, &["status", "--porcelain", "--ignored"]), "");
    assert_eq!(git(&t, &repo, &["branch", "--list", "mcb/*"]), "");
    assert!(!key.exists());
}

#[test]
fn init_spec_name_must_match() {
    let t = TestEnv::new();
    let repo = config_repo(&t);
    let spec = t.path().join("spec.yaml");
    let mut c = t.mcb();
    c.arg("example-spec");
    std::fs::write(&spec, run(c).ok().stdout).unwrap();
    let mut c = t.mcb();
    c.arg("--repo")
        .arg(&repo)
        .args(["init-installation", "other", "--spec"])
        .arg(&spec);
    let r = run(c).fails_with(2);
    assert!(r.stderr.contains("not other"), "{}", r.stderr);
    assert_eq!(git(&t, &repo, &["status", "--porcelain"]), "");
}

#[test]
fn init_push_opens_one_pull_request_without_secrets_in_it() {
    let t = TestEnv::new();
    let repo = config_repo(&t);
    let key = t.path().join("demo.agekey");
    let fake = Fake::accepting_a_new_pull_request();
    let mut c = t.mcb();
    c.arg("--repo")
        .arg(&repo)
        .args(["init-installation", "demo", "--example", "--age-key-out"])
        .arg(&key);
    fake.publish_to(&mut c);
    let r = run(c).ok();
    assert!(r.stdout.contains("pull request:"), "{}", r.stdout);

    // The branch reached origin.
    let origin = t.path().join("origin.git");
    let mut c = t.command("git");
    c.arg("--git-dir")
        .arg(&origin)
        .args(["rev-parse", "refs/heads/mcb/init-demo"]);
    run(c).ok();

    // Exactly one PR was created, with auth; its body holds no secret value.
    let pr = fake.the_created_pull_request();
    assert_eq!(pr["head"], "mcb/init-demo");
    assert_eq!(pr["base"], "main");
    let body = pr["body"].as_str().unwrap();
    assert!(
        body.contains("| created | `ca` | `cluster` | `sha256:"),
        "{body}"
    );
    let key_text = std::fs::read_to_string(&key).unwrap();
    for f in secret_files(&repo) {
        let plain = go_sops_decrypt(&t, &f, &key).ok().stdout;
        let doc: serde_json::Value = serde_saphyr::from_str(&plain).unwrap();
        for (k, v) in doc["data"].as_object().unwrap() {
            use base64::Engine;
            let raw = base64::engine::general_purpose::STANDARD
                .decode(v.as_str().unwrap())
                .unwrap();
            let raw = String::from_utf8_lossy(&raw);
            for line in raw
                .lines()
                .filter(|l| l.len() >= 16 && !l.starts_with("-----"))
            {
                assert!(!body.contains(line), "PR body leaks {k} of {}", f.display());
            }
            assert!(!body.contains(v.as_str().unwrap()), "PR body leaks {k}");
        }
    }
    let identity = key_text
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
        .unwrap();
    assert!(!body.contains(identity), "PR body leaks the age key");
}

fn bootstrap(t: &TestEnv, repo: &Path, key: &Path, extra: &[&str]) -> Run {
    let mut c = t.mcb();
    c.arg("--repo")
        .arg(repo)
        .args(["bootstrap", "demo", "--age-key-file"])
        .arg(key)
        .args(extra);
    run(c)
}

#[test]
fn bootstrap_prints_only_flux_the_two_secrets_and_the_sync() {
    let t = TestEnv::new();
    let repo = config_repo(&t);
    let key = t.path().join("demo.agekey");
    init(&t, &repo, &key, &[]).ok();
    let out = bootstrap(&t, &repo, &key, &[]).ok().stdout;
    let docs: Vec<serde_json::Value> = out
        .split("\n---\n")
        .flat_map(|d| d.split("---\n"))
        .filter(|d| d.contains("kind:"))
        .map(|d| serde_saphyr::from_str(d).unwrap())
        .collect();
    let mut kinds: Vec<String> = docs
        .iter()
        .map(|d| {
            format!(
                "{}/{}",
                d["kind"].as_str().unwrap(),
                d["metadata"]["name"].as_str().unwrap()
            )
        })
        .collect();
    // Flux's own components: the upstream install (namespace, CRDs, controllers, RBAC,
    // quota, network policies).
    kinds.retain(|k| {
        !(k.starts_with("CustomResourceDefinition/")
            || k.starts_with("Deployment/")
            || k.starts_with("ServiceAccount/")
            || k.starts_with("ClusterRole")
            || k.starts_with("Service/")
            || k.starts_with("NetworkPolicy/")
            || k.starts_with("ResourceQuota/"))
    });
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "GitRepository/flux-system",
            "Kustomization/flux-system",
            "Namespace/flux-system",
            "Secret/flux-system",
            "Secret/sops-age"
        ],
        "{out}"
    );
    let sops_age = docs
        .iter()
        .find(|d| d["metadata"]["name"] == "sops-age")
        .unwrap();
    assert!(
        sops_age["data"]["demo.agekey"].is_string(),
        "key must be <name>.agekey (flux2 #5154)"
    );
    let ks = docs.iter().find(|d| d["kind"] == "Kustomization").unwrap();
    assert_eq!(ks["spec"]["path"], "./installations/demo/manifests");
    assert_eq!(ks["spec"]["decryption"]["secretRef"]["name"], "sops-age");

    // The core objects validate against the Kubernetes schema.
    let f = t.path().join("bootstrap.yaml");
    std::fs::write(&f, &out).unwrap();
    let mut c = t.command(tool("kubernetes-validate"));
    c.arg(&f);
    let v = run(c);
    assert!(v.status.success(), "{}\n{}", v.stdout, v.stderr);
    // Every object, Flux's included, validates strictly against its schema (the CRDs the
    // bootstrap itself installs, the vendored ones, the built-in kinds).
    let v = crate::support::assert_schema_valid(&[&f]);
    assert!(v.unknown_kinds.is_empty(), "{:?}", v.unknown_kinds);
    assert_eq!(
        (
            v.count("GitRepository"),
            v.count("Kustomization"),
            v.count("Secret")
        ),
        (1, 1, 2),
        "{:#?}",
        v.objects
    );

    // --out: tests/it/bootstrap.rs.
}

#[test]
fn bootstrap_refuses_a_key_that_is_not_the_installations() {
    let t = TestEnv::new();
    let repo = config_repo(&t);
    let key = t.path().join("demo.agekey");
    init(&t, &repo, &key, &[]).ok();
    let other = t.path().join("other.agekey");
    let mut kg = Command::new("age-keygen");
    kg.arg("-o").arg(&other);
    run(kg).ok();
    let r = bootstrap(&t, &repo, &other, &[]).fails_with(2);
    assert!(
        r.stderr.contains("not a recipient of installation demo"),
        "{}",
        r.stderr
    );
    assert!(
        r.stdout.is_empty(),
        "nothing may be printed before the key is proven"
    );
}

/// Issue #15 item 3: `installations -> /elsewhere` made init write the whole installation
/// (secrets included) outside the repo.
#[test]
fn issue_15_init_refuses_a_symlinked_installations_dir() {
    let t = TestEnv::new();
    let repo = config_repo(&t);
    let elsewhere = t.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, repo.join("installations")).unwrap();
    let head = git(&t, &repo, &["rev-parse", "HEAD"]);
    let key = t.path().join("demo.agekey");
    let r = init(&t, &repo, &key, &[]).fails_with(2);
    assert!(
        r.stderr.contains("installations") && r.stderr.contains("symbolic link"),
        "{}",
        r.stderr
    );
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
    assert_eq!(git(&t, &repo, &["rev-parse", "HEAD"]), head);
    assert_eq!(git(&t, &repo, &["branch", "--list", "mcb/*"]), "");
}

/// Issue #15 item 9: the workflow installed mcb by name from a public registry; now it
/// gets the binary pinned at init (URL + sha256), and a bad pin is refused up front.
#[test]
fn issue_15_init_pins_where_ci_gets_mcb() {
    let t = TestEnv::new();
    let repo = config_repo(&t);
    let key = t.path().join("demo.agekey");
    let sha = "ab".repeat(32);
    let r = init(
        &t,
        &repo,
        &key,
        &[
            "--ci-mcb-url",
            "http://example.com/mcb",
            "--ci-mcb-sha256",
            &sha,
        ],
    )
    .fails_with(2);
    assert!(r.stderr.contains("--ci-mcb-url"), "{}", r.stderr);
    assert!(!key.exists());
    init(
        &t,
        &repo,
        &key,
        &[
            "--ci-mcb-url",
            "https://example.com/mcb.tar.gz",
            "--ci-mcb-sha256",
            &sha,
        ],
    )
    .ok();
    let w = git(
        &t,
        &repo,
        &["show", "mcb/init-demo:.github/workflows/mcb-check.yaml"],
    );
    assert!(w.contains(&sha) && w.contains("sha256sum -c -"), "{w}");
    assert!(!w.contains("--version"), "{w}");
    let v: serde_json::Value = serde_saphyr::from_str(&w).unwrap();
    for s in v["jobs"]["check"]["steps"].as_array().unwrap() {
        let keyed = s["env"].get("MCB_CHECK_AGE_KEY").is_some();
        assert_eq!(
            keyed,
            s["run"].as_str().unwrap_or("").contains("mcb check"),
            "{s}"
        );
    }
}

/// Issue #15 item 8: `--age-key-out` inside the repo's work tree wrote the private key
/// where `git add -A` takes it; refused unless git ignores the path.
#[test]
fn issue_15_init_refuses_an_age_key_out_inside_the_work_tree() {
    let t = TestEnv::new();
    let repo = config_repo(&t);
    let inside = repo.join("demo.agekey");
    let r = init(&t, &repo, &inside, &[]).fails_with(2);
    assert!(
        r.stderr.contains("demo.agekey") && r.stderr.contains("not ignored by git"),
        "{}",
        r.stderr
    );
    assert!(!inside.exists());
    assert_eq!(git(&t, &repo, &["branch", "--list", "mcb/*"]), "");
    // bootstrap --out into the work tree is refused the same way, before anything runs.
    let mut c = t.mcb();
    c.arg("--repo")
        .arg(&repo)
        .args([
            "bootstrap",
            "demo",
            "--age-key-file",
            "/nonexistent",
            "--out",
        ])
        .arg(repo.join("boot"));
    let r = run(c).fails_with(2);
    assert!(r.stderr.contains("not ignored by git"), "{}", r.stderr);
    assert!(!repo.join("boot").exists());
}

/// The spec's `pki.keyType` makes the CAs, and `kubernetesVersion` picks the group kubeadm
/// binds for the admin kubeconfig (before 1.29: `system:masters`, or the admin has no rights).
#[test]
fn spec_pki_key_type_and_kubernetes_version_shape_the_pki() {
    let t = TestEnv::new();
    let repo = config_repo(&t);
    let mut c = t.mcb();
    c.arg("example-spec");
    let spec_text = run(c)
        .ok()
        .stdout
        .replace("name: gauss", "name: demo")
        .replace(
            "kubernetesVersion: v1.33.4",
            "kubernetesVersion: v1.28.15\npki:\n  keyType: ecdsa-p384",
        );
    let spec = t.path().join("demo.yaml");
    std::fs::write(&spec, spec_text).unwrap();
    let key = t.path().join("demo.agekey");
    run(init_with_spec(&t, &repo, &spec, &key)).ok();
    let secrets = repo.join("installations/demo/secrets");
    let ca = crate::rotate::secret_value(&t, &secrets.join("demo-ca.sops.yaml"), &key, "tls.crt");
    let ca_file = t.path().join("ca.crt");
    std::fs::write(&ca_file, ca).unwrap();
    let mut c = t.command(tool("openssl"));
    c.args(["x509", "-noout", "-text", "-in"]).arg(&ca_file);
    let text = run(c).ok().stdout;
    assert!(text.contains("NIST CURVE: P-384"), "{text}");

    let kc = crate::rotate::secret_value(
        &t,
        &secrets.join("demo-kubeconfig-admin.sops.yaml"),
        &key,
        "value",
    );
    let kc = String::from_utf8(kc).unwrap();
    let b64 = kc
        .lines()
        .find_map(|l| l.trim().strip_prefix("client-certificate-data: "))
        .unwrap();
    let cert = t.path().join("admin.crt");
    std::fs::write(
        &cert,
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, b64).unwrap(),
    )
    .unwrap();
    let mut c = t.command(tool("openssl"));
    c.args(["x509", "-noout", "-subject", "-in"]).arg(&cert);
    let subject = run(c).ok().stdout;
    assert!(subject.contains("O = system:masters"), "{subject}");
}
