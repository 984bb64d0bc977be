//! Issue #23: a rotation never breaks a running system. `--dry-run` calls no issuer and no
//! forge; rotations with an external side (registered OIDC clients at the real
//! oidc-provider, deploy keys at the fake GitHub) keep the old credential valid until
//! `--finish`, which deletes it only once the rotation is on the remote base branch.

use std::path::Path;

use mcb::creds::oidc;
use mcb::inventory::Inventory;
use secrecy::ExposeSecret;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::creds::{oidc_provider, secret_authenticates, IAT};
use crate::init::git;
use crate::rotate::{
    changed, fake_github, installation, merge_on_remote, rotate, rotate_with_pr, secret_value,
    snapshot, with_registered_client,
};
use crate::support::github::{fixture, Fake, REPO};
use crate::support::{run, TestEnv};

fn inventory(repo: &Path) -> Inventory {
    let p = repo.join("installations/demo/credentials.yaml");
    Inventory::parse("credentials.yaml", &std::fs::read_to_string(p).unwrap()).unwrap()
}

/// `mcb rotate demo ARGS` with the issuer's initial access token.
fn rotate_oidc(t: &TestEnv, repo: &Path, args: &[&str]) -> crate::support::Run {
    let mut c = t.mcb();
    c.env("MCB_INSECURE_TEST_SEED", "43")
        .env("MCB_OIDC_INITIAL_ACCESS_TOKEN", IAT)
        .arg("--repo")
        .arg(repo)
        .args(["rotate", "demo"])
        .args(args);
    run(c)
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

#[test]
fn registered_client_old_one_is_deleted_by_finish_only_after_the_merge() {
    let (t, repo, key) = installation();
    let key_arg = key.to_str().unwrap();
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
    assert!(secret_authenticates(&issuer, &old.client_id, &old_secret));
    let entry = inventory(&repo).get("oidc-client", "ext").unwrap().clone();
    assert_eq!(entry.extra["retiringClientId"], old.client_id);
    assert_eq!(entry.extra["clientId"], new_id);
    assert_eq!(
        String::from_utf8(secret_value(&t, &file, &key, "retiring_client_id")).unwrap(),
        old.client_id
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
    assert!(secret_authenticates(&issuer, &old.client_id, &old_secret));

    // Merged (the remote's main now holds the rotation): the old client is deleted.
    merge_on_remote(&t, &repo, "mcb/rotate-demo-oidc-ext");
    finish(&t).ok();
    assert!(!secret_authenticates(&issuer, &old.client_id, &old_secret));
    assert!(secret_authenticates(&issuer, &new_id, &new_secret));
    let entry = inventory(&repo).get("oidc-client", "ext").unwrap().clone();
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
    let (t, repo, key) = installation();
    let key_arg = key.to_str().unwrap();
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
    assert!(!secret_authenticates(&issuer, &old.client_id, &old_secret));
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
    rotate_with_pr(&t, &repo, &fake, &args).ok();
    rotate_with_pr(&t, &repo, &fake, &args).ok();
    merge_on_remote(&t, &repo, "mcb/rotate-demo-deploy-key");
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
        .get("oidc-client", "grafana")
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
        .get("oidc-client", "grafana")
        .unwrap()
        .clone();
    assert_eq!(line["fingerprint"], after.fingerprint.as_str());
    assert_ne!(after.fingerprint, before.fingerprint);
}
