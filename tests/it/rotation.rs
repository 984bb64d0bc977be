//! Issue #23: a rotation never breaks a running system. `--dry-run` calls no issuer and no
//! forge; rotations with an external side (registered OIDC clients at the real
//! oidc-provider, deploy keys at the fake GitHub) keep the old credential valid until
//! `--finish`, which deletes it only once the rotation is on the remote base branch.

use std::path::{Path, PathBuf};

use mcb::creds::oidc;
use mcb::inventory::Inventory;
use secrecy::ExposeSecret;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::creds::{oidc_provider, secret_authenticates, IAT};
use crate::init::git;
use crate::rotate::{
    back_on_then_switch, changed, fake_github, installation, merge_on_remote, rotate,
    rotate_with_pr, secret_value, snapshot, with_registered_client,
};
use crate::support::github::{fixture, Fake, REPO};
use crate::support::{run, Service, TestEnv};

fn inventory(repo: &Path) -> Inventory {
    let p = repo.join("installations/demo/credentials.yaml");
    Inventory::parse("credentials.yaml", &std::fs::read_to_string(p).unwrap()).unwrap()
}

/// `mcb rotate demo ARGS` with `vars` set (a seed other than init's by default).
fn rotate_with(
    t: &TestEnv,
    repo: &Path,
    vars: &[(&str, &str)],
    args: &[&str],
) -> std::process::Command {
    let mut c = t.mcb();
    c.env("MCB_INSECURE_TEST_SEED", "43");
    for (k, v) in vars {
        c.env(k, v);
    }
    c.arg("--repo")
        .arg(repo)
        .args(["rotate", "demo"])
        .args(args);
    c
}

/// `mcb rotate demo ARGS` with the issuer's initial access token.
fn rotate_oidc(t: &TestEnv, repo: &Path, args: &[&str]) -> crate::support::Run {
    run(rotate_with(
        t,
        repo,
        &[("MCB_OIDC_INITIAL_ACCESS_TOKEN", IAT)],
        args,
    ))
}

#[test]
fn dry_run_calls_no_issuer_and_no_forge_and_prints_the_plan() {
    let (t, repo, key) = installation();
    let key_arg = key.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let svc = oidc_provider(&dir);
    let issuer = svc.var("OIDC_ISSUER").to_owned();
    let c = with_registered_client(&t, &repo, &issuer);
    let old_secret = c.client_secret.as_ref().unwrap().expose_secret().to_owned();
    let fake = fake_github();
    let before = snapshot(&repo);
    let head = git(&t, &repo, &["rev-parse", "HEAD"]);

    let mut c2 = t.mcb();
    c2.env("MCB_OIDC_INITIAL_ACCESS_TOKEN", IAT)
        .arg("--repo")
        .arg(&repo)
        .args([
            "rotate",
            "demo",
            "--only",
            "oidc/ext",
            "--only",
            "deploy-key",
        ])
        .args(["--age-key-file", key_arg, "--dry-run"]);
    fake.publish_to(&mut c2);
    let r = run(c2).ok();

    // Nothing changed at the issuer: the old client still authenticates and its
    // registration is still readable with the stored token (a rotation deletes it).
    assert!(secret_authenticates(&issuer, &c.client_id, &old_secret));
    let read = oidc::read(&c).unwrap();
    assert_eq!(read.client_id, c.client_id);
    // Nothing at the forge, nothing in the repo.
    let reqs = fake.requests();
    assert!(
        reqs.is_empty(),
        "the dry run called GitHub: {:?}",
        reqs.iter()
            .map(|r| format!("{} {}", r.method, r.url))
            .collect::<Vec<_>>()
    );
    assert!(changed(&before, &snapshot(&repo)).is_empty());
    assert_eq!(git(&t, &repo, &["rev-parse", "HEAD"]), head);
    // The plan names the calls it left out.
    assert!(r.stdout.contains("dry run"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains(&format!("register a successor of client {}", c.client_id)),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("read-only deploy key"), "{}", r.stdout);
    assert!(r.stdout.contains("Would rotate"), "{}", r.stdout);
    assert!(!r.stderr.contains("rotated"), "{}", r.stderr);
}

/// An installation whose client `ext` is registered at a real oidc-provider (kept running
/// while this lives: `_svc` drops before `_dir`).
struct Registered {
    t: TestEnv,
    repo: PathBuf,
    key: PathBuf,
    issuer: String,
    old_id: String,
    old_secret: String,
    _svc: Service,
    _dir: tempfile::TempDir,
}

fn registered() -> Registered {
    let (t, repo, key) = installation();
    let dir = tempfile::tempdir().unwrap();
    let svc = oidc_provider(&dir);
    let issuer = svc.var("OIDC_ISSUER").to_owned();
    let old = with_registered_client(&t, &repo, &issuer);
    let old_secret = old
        .client_secret
        .as_ref()
        .unwrap()
        .expose_secret()
        .to_owned();
    Registered {
        t,
        repo,
        key,
        issuer,
        old_id: old.client_id,
        old_secret,
        _svc: svc,
        _dir: dir,
    }
}

#[test]
fn registered_client_old_one_is_deleted_by_finish_only_after_the_merge() {
    let Registered {
        t,
        repo,
        key,
        issuer,
        old_id,
        old_secret,
        _svc,
        _dir,
    } = registered();
    let key_arg = key.to_str().unwrap();
    let file = repo.join("installations/demo/secrets/oidc-client-ext.sops.yaml");

    let r = rotate_oidc(
        &t,
        &repo,
        &["--only", "oidc/ext", "--age-key-file", key_arg],
    )
    .ok();
    assert!(r.stdout.contains("--finish"), "{}", r.stdout);
    let new_id = String::from_utf8(secret_value(&t, &file, &key, "client_id")).unwrap();
    let new_secret = String::from_utf8(secret_value(&t, &file, &key, "client_secret")).unwrap();
    // Both work while the PR is open.
    assert!(secret_authenticates(&issuer, &new_id, &new_secret));
    assert!(secret_authenticates(&issuer, &old_id, &old_secret));
    let entry = inventory(&repo)
        .get(mcb::inventory::CredentialKind::OidcClient, "ext")
        .unwrap()
        .clone();
    assert_eq!(entry.extra["retiringClientId"], old_id);
    assert_eq!(entry.extra["clientId"], new_id);
    assert_eq!(
        String::from_utf8(secret_value(&t, &file, &key, "retiring_client_id")).unwrap(),
        old_id
    );

    // A second rotation before the first is finished is refused (it would lose the old
    // client's registration token).
    let r = rotate_oidc(
        &t,
        &repo,
        &["--only", "oidc/ext", "--age-key-file", key_arg],
    )
    .fails_with(2);
    assert!(r.stderr.contains("not finished"), "{}", r.stderr);

    // --finish before the merge: refused, the old client untouched.
    let finish = |t: &TestEnv| rotate_oidc(t, &repo, &["--finish", "--age-key-file", key_arg]);
    let r = finish(&t).fails_with(2);
    assert!(r.stderr.contains("not on origin/main"), "{}", r.stderr);
    assert!(secret_authenticates(&issuer, &old_id, &old_secret));

    // Merged (the remote's main now holds the rotation): the old client is deleted.
    merge_on_remote(&t, &repo, "mcb/rotate-demo-oidc-ext");
    finish(&t).ok();
    assert!(!secret_authenticates(&issuer, &old_id, &old_secret));
    assert!(secret_authenticates(&issuer, &new_id, &new_secret));
    let entry = inventory(&repo)
        .get(mcb::inventory::CredentialKind::OidcClient, "ext")
        .unwrap()
        .clone();
    assert!(!entry.extra.contains_key("retiringClientId"), "{entry:?}");
    let mut c = t.command(crate::support::tool("sops"));
    c.env("SOPS_AGE_KEY_FILE", &key)
        .args(["decrypt", "--output-type", "json"])
        .arg(&file);
    let plain: serde_json::Value = serde_json::from_str(&run(c).ok().stdout).unwrap();
    let keys: Vec<&String> = plain["data"].as_object().unwrap().keys().collect();
    assert!(keys.iter().all(|k| !k.starts_with("retiring_")), "{keys:?}");
    assert_eq!(
        String::from_utf8(secret_value(&t, &file, &key, "client_id")).unwrap(),
        new_id
    );
}

#[test]
fn finish_after_a_squash_merge_is_accepted() {
    let Registered {
        t,
        repo,
        key,
        issuer,
        old_id,
        old_secret,
        _svc,
        _dir,
    } = registered();
    let key_arg = key.to_str().unwrap();
    rotate_oidc(
        &t,
        &repo,
        &["--only", "oidc/ext", "--age-key-file", key_arg],
    )
    .ok();
    // A squash merge: one new commit on main with the branch's tree, no shared history
    // with the rotation commit.
    let tree = git(&t, &repo, &["rev-parse", "mcb/rotate-demo-oidc-ext^{tree}"]);
    let squash = git(
        &t,
        &repo,
        &["commit-tree", tree.trim(), "-p", "main", "-m", "squashed"],
    );
    git(
        &t,
        &repo,
        &[
            "push",
            "-q",
            "origin",
            &format!("{}:refs/heads/main", squash.trim()),
        ],
    );
    rotate_oidc(&t, &repo, &["--finish", "--age-key-file", key_arg]).ok();
    assert!(!secret_authenticates(&issuer, &old_id, &old_secret));
}

#[test]
fn deploy_key_finish_waits_until_github_saw_the_new_key_used() {
    let (t, repo, key) = installation();
    let key_arg = key.to_str().unwrap();
    // GitHub reports the new key (id 2) last used before the rotation: Flux still
    // fetches with the old one.
    let fake = Fake::start();
    let ok = |m: &str, p: String, body: serde_json::Value| {
        Mock::given(method(m))
            .and(path(p))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
    };
    fake.mount(ok("GET", format!("{REPO}/pulls"), json!([])));
    fake.mount(
        Mock::given(method("POST"))
            .and(path(format!("{REPO}/pulls")))
            .respond_with(ResponseTemplate::new(201).set_body_json(fixture("pulls.create.json"))),
    );
    let first = fixture("repos.create-deploy-key.json");
    let mut second = first.clone();
    second["id"] = json!(2);
    second["last_used"] = serde_json::Value::Null;
    fake.mount(
        Mock::given(method("POST"))
            .and(path(format!("{REPO}/keys")))
            .respond_with(ResponseTemplate::new(201).set_body_json(first))
            .up_to_n_times(1),
    );
    fake.mount(
        Mock::given(method("POST"))
            .and(path(format!("{REPO}/keys")))
            .respond_with(ResponseTemplate::new(201).set_body_json(second.clone())),
    );
    fake.mount(ok("GET", format!("{REPO}/keys/2"), second));
    let args = ["--only", "deploy-key", "--age-key-file", key_arg];
    let branch = "mcb/rotate-demo-deploy-key";
    rotate_with_pr(&t, &repo, &fake, &args).ok();
    back_on_then_switch(&t, &repo, "main", branch);
    rotate_with_pr(&t, &repo, &fake, &args).ok();
    merge_on_remote(&t, &repo, branch);
    let r = rotate_with_pr(&t, &repo, &fake, &["--finish"]).fails_with(2);
    assert!(r.stderr.contains("never used"), "{}", r.stderr);
    let deletes = fake
        .requests()
        .iter()
        .filter(|r| r.method.as_str() == "DELETE")
        .count();
    assert_eq!(deletes, 0);
}

#[test]
fn static_client_rotation_shows_a_new_fingerprint() {
    let (t, repo, key) = installation();
    let before = inventory(&repo)
        .get(mcb::inventory::CredentialKind::OidcClient, "grafana")
        .unwrap()
        .clone();
    let r = rotate(
        &t,
        &repo,
        &[
            "--only",
            "oidc/grafana",
            "--age-key-file",
            key.to_str().unwrap(),
            "-o",
            "json",
        ],
    )
    .ok();
    let report: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let line = &report["rotated"][0];
    assert_eq!(line["previous"], before.fingerprint.as_str());
    assert_ne!(line["previous"], line["fingerprint"], "{line}");
    let after = inventory(&repo)
        .get(mcb::inventory::CredentialKind::OidcClient, "grafana")
        .unwrap()
        .clone();
    assert_eq!(line["fingerprint"], after.fingerprint.as_str());
    assert_ne!(after.fingerprint, before.fingerprint);
}

/// `mcb rotate demo ARGS` at time `now` (RFC 3339).
fn rotate_at(t: &TestEnv, repo: &Path, now: &str, args: &[&str]) -> std::process::Command {
    rotate_with(
        t,
        repo,
        &[("MCB_INSECURE_TEST_SEED", "44"), ("MCB_TEST_NOW", now)],
        args,
    )
}

/// `openssl x509 -noout -subject -enddate` of the admin kubeconfig's client certificate.
fn admin_cert(t: &TestEnv, repo: &Path, key: &Path) -> String {
    let file = repo.join("installations/demo/secrets/demo-kubeconfig-admin.sops.yaml");
    let kc = String::from_utf8(secret_value(t, &file, key, "value")).unwrap();
    let b64 = kc
        .lines()
        .find_map(|l| l.trim().strip_prefix("client-certificate-data: "))
        .unwrap();
    use base64::Engine;
    let pem = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .unwrap();
    let pem_file = t.path().join("admin.crt");
    std::fs::write(&pem_file, pem).unwrap();
    let mut c = t.command("openssl");
    c.args([
        "x509", "-noout", "-nameopt", "RFC2253", "-subject", "-enddate", "-in",
    ])
    .arg(&pem_file);
    run(c).ok().stdout
}

/// Issue #23 item 6: a re-issued admin certificate had the same subject as the one it
/// replaced, which stays valid (no revocation) and which `mcb status` no longer showed.
#[test]
fn kubeconfig_rotation_gives_a_distinct_subject_and_status_lists_the_old_one() {
    let (t, repo, key) = installation();
    let key_arg = key.to_str().unwrap();
    let old = admin_cert(&t, &repo, &key);
    let old_fp = inventory(&repo)
        .get(mcb::inventory::CredentialKind::Kubeconfig, "admin")
        .unwrap()
        .clone();
    rotate(
        &t,
        &repo,
        &[
            "--only",
            "kubeconfig/admin",
            "--age-key-file",
            key_arg,
            "--validity",
            "30d",
        ],
    )
    .ok();
    let new = admin_cert(&t, &repo, &key);
    let subject = |s: &str| s.lines().next().unwrap().to_owned();
    assert_ne!(subject(&old), subject(&new));
    for s in [&old, &new] {
        assert!(subject(s).contains("CN=kubernetes-admin"), "{s}");
        assert!(subject(s).contains("O=kubeadm:cluster-admins"), "{s}");
    }
    // --validity: 30 days from MCB_TEST_NOW (2026-11-25T12:00:00Z).
    assert!(new.contains("notAfter=Dec 25 12:00:00 2026 GMT"), "{new}");

    // The replaced certificate is listed until it expires.
    let mut c = t.mcb();
    c.arg("--repo").arg(&repo).args(["status", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&run(c).ok().stdout).unwrap();
    let creds = v[0]["credentials"].as_array().unwrap();
    let old_row = creds
        .iter()
        .find(|c| c["kind"] == "kubeconfig-superseded")
        .unwrap_or_else(|| panic!("{creds:?}"));
    assert_eq!(old_row["fingerprint"], old_fp.fingerprint.as_str());
    assert_eq!(old_row["notAfter"], old_fp.not_after.as_deref().unwrap());
    // It is no finding of `mcb check`, and a rotation after it expired drops it.
    let mut c = t.mcb();
    c.arg("--repo")
        .arg(&repo)
        .args(["check", "--age-key-file", key_arg]);
    let r = run(c);
    assert!(!r.stdout.contains("kubeconfig-superseded"), "{}", r.stdout);
    let c = rotate_at(
        &t,
        &repo,
        "2028-01-01T00:00:00Z",
        &["--only", "kubeconfig/admin", "--age-key-file", key_arg],
    );
    run(c).ok();
    let inv = inventory(&repo);
    let left: Vec<_> = inv
        .credentials
        .iter()
        .filter(|c| c.kind == mcb::inventory::CredentialKind::KubeconfigSuperseded)
        .collect();
    // the first certificate expired in 2027, the 30-day one replaced now in 2026
    assert_eq!(left.len(), 0, "{left:?}");
}

/// Issue #23 item 7: deploy keys had no maximum age (never due) and a CA inside the
/// window was skipped without a word.
#[test]
fn due_within_includes_every_kind_and_names_the_ca_command() {
    let (t, repo, key) = installation();
    let key_arg = key.to_str().unwrap();
    // 9 years and 11 months later: everything is due, the CAs expire within 90 days.
    let c = rotate_at(
        &t,
        &repo,
        "2036-10-01T12:00:00Z",
        &[
            "--age-key-file",
            key_arg,
            "--due-within",
            "90d",
            "--dry-run",
            "-o",
            "json",
        ],
    );
    let r = run(c).ok();
    let report: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let rotated = crate::rotate::rotated_names(&report);
    assert!(
        rotated.contains(&"deploy-key/flux".to_owned()),
        "{rotated:?}"
    );
    let notes = report["notes"].to_string();
    for ca in ["cluster", "etcd", "proxy"] {
        assert!(
            notes.contains(&format!("mcb rotate demo --only ca/{ca}")),
            "{notes}"
        );
    }
    assert!(notes.contains("--only age-key --age-key-out"), "{notes}");
}

/// `mcb init-installation NAME` with a small spec of its own, to add flags to.
fn init_named_cmd(t: &TestEnv, repo: &Path, name: &str) -> std::process::Command {
    let spec = t.path().join(format!("{name}.yaml"));
    std::fs::write(
        &spec,
        format!(
            "apiVersion: mcb/v1alpha1\nkind: Installation\nname: {name}\nbaseDomain: {name}.example.com\n\
             provider:\n  capa:\n    region: eu-central-1\ngit:\n  url: ssh://git@github.com/example/mc\n"
        ),
    )
    .unwrap();
    let mut c = t.mcb();
    c.arg("--repo")
        .arg(repo)
        .args(["init-installation", name, "--spec"])
        .arg(&spec)
        .arg("--age-key-out")
        .arg(t.path().join(format!("{name}.agekey")));
    c
}

fn init_named(t: &TestEnv, repo: &Path, name: &str) -> crate::support::Run {
    run(init_named_cmd(t, repo, name))
}

/// Issue #23 item 5 / #24 item 8: each command branched from the checked-out branch, so
/// `init a` then `init b` stacked b on a's unmerged branch (and a rotation run from an
/// init branch targeted it). New branches start from the remote's default branch; a
/// checkout that differs from it where the command writes is refused, naming `--base`.
#[test]
fn new_branches_start_from_the_default_branch_and_never_stack() {
    let t = TestEnv::new();
    let repo = crate::init::config_repo(&t);
    let main = git(&t, &repo, &["rev-parse", "main"]);
    init_named(&t, &repo, "alpha").ok();
    assert_eq!(
        git(&t, &repo, &["branch", "--show-current"]).trim(),
        "mcb/init-alpha"
    );
    let r = init_named(&t, &repo, "beta").fails_with(2);
    assert!(r.stderr.contains("differs from main"), "{}", r.stderr);
    assert!(r.stderr.contains("--base mcb/init-alpha"), "{}", r.stderr);
    assert_eq!(git(&t, &repo, &["branch", "--list", "mcb/init-beta"]), "");

    git(&t, &repo, &["switch", "-q", "main"]);
    init_named(&t, &repo, "beta").ok();
    assert_eq!(git(&t, &repo, &["rev-parse", "mcb/init-beta^"]), main);
    let sops = git(&t, &repo, &["show", "mcb/init-beta:.sops.yaml"]);
    assert!(!sops.contains("alpha"), "{sops}");

    // With --push the default branch is fetched: a main that moved on at the remote is
    // where a new branch starts, and the PR targets it.
    git(&t, &repo, &["switch", "-q", "main"]);
    let other = t.path().join("other");
    let mut c = t.command("git");
    c.arg("clone")
        .arg("-q")
        .arg(t.path().join("origin.git"))
        .arg(&other);
    run(c).ok();
    git(
        &t,
        &other,
        &["commit", "-q", "--allow-empty", "-m", "moved on"],
    );
    git(&t, &other, &["push", "-q", "origin", "main"]);
    let moved = git(&t, &other, &["rev-parse", "HEAD"]);
    let fake = Fake::accepting_a_new_pull_request();
    let mut c = init_named_cmd(&t, &repo, "gamma");
    fake.publish_to(&mut c);
    run(c).ok();
    assert_eq!(git(&t, &repo, &["rev-parse", "mcb/init-gamma^"]), moved);
    assert_eq!(fake.the_created_pull_request()["base"], "main");
}
