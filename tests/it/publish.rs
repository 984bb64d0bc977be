//! Publishing later (issue #15 item 6, issue #24 item 2): re-running `init-installation
//! NAME --push --pr` on the committed init branch, `mcb publish [BRANCH]` after a failed PR,
//! remote and credentials checked before anything is committed, `--dry-run --push` as a
//! plan. Real git remotes (bare over file://, smart HTTP with basic auth); GitHub's API is
//! the wiremock fake serving the official example payloads (no real GitHub here).

use std::path::Path;

use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::init::{config_repo, git, init, init_cmd};
use crate::support::github::{fixture, Fake, REPO};
use crate::support::{run, Run, Service, TestEnv};

const BRANCH: &str = "mcb/init-demo";

fn origin_tip(t: &TestEnv) -> Option<String> {
    let mut c = t.command("git");
    c.arg("--git-dir").arg(t.path().join("origin.git")).args([
        "rev-parse",
        "--verify",
        "-q",
        &format!("refs/heads/{BRANCH}"),
    ]);
    let r = run(c);
    r.status.success().then(|| r.stdout.trim().to_owned())
}

fn posts(fake: &Fake) -> Vec<serde_json::Value> {
    fake.requests()
        .iter()
        .filter(|r| r.method.as_str() == "POST")
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

fn mcb_publish(t: &TestEnv, repo: &Path, fake: &Fake, args: &[&str]) -> Run {
    let mut c = t.mcb();
    c.arg("--repo").arg(repo).arg("publish").args(args);
    fake.publish_to(&mut c);
    run(c)
}

#[test]
fn issue_24_rerunning_init_with_push_pr_publishes_the_committed_branch() {
    let t = TestEnv::new();
    let repo = config_repo(&t);
    let key = t.path().join("demo.agekey");
    init(&t, &repo, &key, &[]).ok();
    let key_text = std::fs::read(&key).unwrap();
    let tip = git(&t, &repo, &["rev-parse", BRANCH]).trim().to_owned();

    // README step 2, as written: the same command with --push --pr
    let fake = Fake::accepting_a_new_pull_request();
    let mut c = init_cmd(&t, &repo, &key, &[]);
    fake.publish_to(&mut c);
    let r = run(c).ok();
    assert!(r.stdout.contains("pull request:"), "{}", r.stdout);
    assert_eq!(
        origin_tip(&t).as_deref(),
        Some(tip.as_str()),
        "the commit, pushed"
    );
    assert_eq!(
        git(&t, &repo, &["rev-parse", BRANCH]).trim(),
        tip,
        "no new commit"
    );
    assert_eq!(
        std::fs::read(&key).unwrap(),
        key_text,
        "the key is untouched"
    );
    let pr = fake.the_created_pull_request();
    assert_eq!(
        (pr["head"].as_str(), pr["base"].as_str()),
        (Some(BRANCH), Some("main"))
    );
    let body = pr["body"].as_str().unwrap();
    assert!(
        body.contains("| created | `ca` | `cluster` | `sha256:"),
        "{body}"
    );
    assert!(
        body.contains("installations/demo/secrets/demo-ca.sops.yaml"),
        "{body}"
    );

    // and again: the open PR is updated, never a second one
    let fake = Fake::start();
    let existing = fixture("pulls.create.json");
    fake.mount(
        Mock::given(method("GET"))
            .and(path(format!("{REPO}/pulls")))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!([existing]))),
    );
    fake.mount(
        Mock::given(method("PATCH"))
            .and(path(format!("{REPO}/pulls/{}", existing["number"])))
            .respond_with(ResponseTemplate::new(200).set_body_json(&existing)),
    );
    let r = mcb_publish(&t, &repo, &fake, &[BRANCH]).ok();
    assert!(r.stderr.contains("updated pull request"), "{}", r.stderr);
    assert!(posts(&fake).is_empty(), "no second PR");
}

/// The push worked, the PR failed: `mcb publish` completes it later.
#[test]
fn issue_24_publish_retries_a_failed_pull_request() {
    let t = TestEnv::new();
    let repo = config_repo(&t);
    let key = t.path().join("demo.agekey");
    let failing = Fake::start();
    failing.mount(
        Mock::given(method("GET"))
            .and(path(format!("{REPO}/pulls")))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!([]))),
    );
    failing.mount(
        Mock::given(method("POST"))
            .and(path(format!("{REPO}/pulls")))
            .respond_with(ResponseTemplate::new(502)),
    );
    let mut c = init_cmd(&t, &repo, &key, &[]);
    failing.publish_to(&mut c);
    run(c).fails_with(2);
    assert!(origin_tip(&t).is_some(), "pushed before the PR failed");
    assert!(key.exists());

    let fake = Fake::accepting_a_new_pull_request();
    // from another branch, naming it
    git(&t, &repo, &["checkout", "-q", "main"]);
    let r = mcb_publish(&t, &repo, &fake, &[BRANCH]).ok();
    assert!(r.stdout.contains("pull request:"), "{}", r.stdout);
    assert_eq!(fake.the_created_pull_request()["head"], BRANCH);

    // not an mcb branch
    let r = mcb_publish(&t, &repo, &fake, &["main"]).fails_with(2);
    assert!(
        r.stderr.contains("not an existing mcb branch"),
        "{}",
        r.stderr
    );
}

/// A remote that does not exist, and a smart HTTP server refusing the token: init stops
/// before anything is committed (no branch, no key), naming the cause.
#[test]
fn issue_24_remote_and_credentials_are_checked_before_the_commit() {
    let t = TestEnv::new();
    let repo = config_repo(&t);
    let key = t.path().join("demo.agekey");
    let fake = Fake::accepting_a_new_pull_request();
    let init_push = |t: &TestEnv, token: &str| {
        let mut c = init_cmd(t, &repo, &key, &[]);
        fake.publish_to(&mut c);
        c.env("GITHUB_TOKEN", token);
        run(c)
    };
    let nowhere = format!("file://{}", t.path().join("nowhere.git").display());
    git(&t, &repo, &["remote", "set-url", "origin", &nowhere]);
    let r = init_push(&t, "tok").fails_with(2);
    assert!(r.stderr.contains("nowhere.git"), "{}", r.stderr);
    assert_eq!(git(&t, &repo, &["branch", "--list", "mcb/*"]), "");
    assert!(!key.exists());

    let sdir = t.path().join("git-http");
    let srv = Service::start(
        "git-http.sh",
        &sdir,
        &["0", "x-access-token", "tok-123"],
        &[],
    );
    let mut c = t.command("git");
    c.args(["init", "-q", "--bare", "-b", "main"])
        .arg(sdir.join("repos/o/r.git"));
    run(c).ok();
    let url = format!("http://127.0.0.1:{}/o/r.git", srv.var("GIT_HTTP_PORT"));
    git(&t, &repo, &["remote", "set-url", "origin", &url]);
    let r = init_push(&t, "wrong-token").fails_with(2);
    assert!(r.stderr.contains("authentication failed"), "{}", r.stderr);
    assert!(!r.stderr.contains("wrong-token"), "{}", r.stderr);
    assert_eq!(git(&t, &repo, &["branch", "--list", "mcb/*"]), "");
    assert!(!key.exists());
    assert!(posts(&fake).is_empty());

    // the right token: committed, pushed over HTTP, PR opened
    init_push(&t, "tok-123").ok();
    let mut c = t.command("git");
    c.arg("--git-dir")
        .arg(sdir.join("repos/o/r.git"))
        .args(["rev-parse", BRANCH]);
    run(c).ok();
    assert_eq!(fake.the_created_pull_request()["head"], BRANCH);
}

#[test]
fn issue_24_dry_run_with_push_shows_the_plan_and_contacts_nothing() {
    let t = TestEnv::new();
    let repo = config_repo(&t);
    let key = t.path().join("demo.agekey");
    let fake = Fake::accepting_a_new_pull_request();
    let mut c = init_cmd(&t, &repo, &key, &["--dry-run"]);
    fake.publish_to(&mut c);
    let r = run(c).ok();
    assert!(
        r.stdout.contains("push it to remote origin (file://"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(
            "open or update the pull request mcb/init-demo -> main in octocat/Hello-World"
        ),
        "{}",
        r.stdout
    );
    assert!(fake.requests().is_empty(), "a dry run contacts nothing");
    assert_eq!(git(&t, &repo, &["branch", "--list", "mcb/*"]), "");
    assert!(origin_tip(&t).is_none() && !key.exists());
}

/// A smart HTTP remote (`git-http.sh`) accepting only user `x-access-token` with
/// `password`, set as `repo`'s origin; returns the service and its bare repository.
fn http_remote(t: &TestEnv, repo: &Path, password: &str) -> (Service, std::path::PathBuf) {
    let sdir = t.path().join("git-http");
    let srv = Service::start(
        "git-http.sh",
        &sdir,
        &["0", "x-access-token", password],
        &[],
    );
    let bare = sdir.join("repos/o/r.git");
    let mut c = t.command("git");
    c.args(["init", "-q", "--bare", "-b", "main"]).arg(&bare);
    run(c).ok();
    let url = format!("http://127.0.0.1:{}/o/r.git", srv.var("GIT_HTTP_PORT"));
    git(t, repo, &["remote", "set-url", "origin", &url]);
    (srv, bare)
}

/// Issue #23 item 4: with only GitHub App credentials (no GITHUB_TOKEN) init pushes over
/// HTTPS with the installation token, which is minted before the push, scoped to the one
/// repository and to what init does: contents and pull requests, and workflows because
/// init commits the CI workflow (GitHub refuses such a push without it). Before, the
/// token was minted after the push, which had no credentials. The fake GitHub stands in
/// for github.com; the git remote is a real smart HTTP server.
#[test]
fn issue_23_app_credentials_alone_push_with_a_scoped_installation_token() {
    use wiremock::matchers::body_partial_json;
    let t = TestEnv::new();
    let repo = config_repo(&t);
    let key = t.path().join("demo.agekey");
    let mut token = fixture("apps.create-installation-access-token.json");
    token["expires_at"] = serde_json::json!("2026-11-25T13:00:00Z");
    let minted = token["token"].as_str().unwrap().to_owned();
    let (_srv, bare) = http_remote(&t, &repo, &minted);
    let fake = Fake::accepting_a_new_pull_request();
    fake.mount(
        Mock::given(method("POST"))
            .and(path("/app/installations/7/access_tokens"))
            .and(body_partial_json(serde_json::json!({
                "repositories": ["Hello-World"],
            })))
            .respond_with(ResponseTemplate::new(201).set_body_json(&token)),
    );
    let pem = crate::support::github::app_pem_file(t.path());
    let mut c = init_cmd(&t, &repo, &key, &["--push", "--pr"]);
    c.args(fake.aim())
        .env("GITHUB_APP_ID", "1")
        .env("GITHUB_APP_INSTALLATION_ID", "7")
        .env("GITHUB_APP_PRIVATE_KEY_FILE", &pem);
    let r = run(c).ok();
    assert!(r.stdout.contains("pull request:"), "{}", r.stdout);
    let mut c = t.command("git");
    c.arg("--git-dir").arg(&bare).args(["rev-parse", BRANCH]);
    run(c).ok();

    let reqs = fake.requests();
    let minting: Vec<serde_json::Value> = reqs
        .iter()
        .filter(|r| r.url.path() == "/app/installations/7/access_tokens")
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    // the publish token, and one for the deploy key (issue_23_init_registers_…)
    assert_eq!(minting.len(), 2, "{minting:?}");
    assert_eq!(
        minting[1],
        serde_json::json!({
            "repositories": ["Hello-World"],
            "permissions": {"administration": "write", "metadata": "read"},
        })
    );
    assert_eq!(
        minting[0],
        serde_json::json!({
            "repositories": ["Hello-World"],
            "permissions": {
                "contents": "write", "metadata": "read",
                "pull_requests": "write", "workflows": "write",
            },
        })
    );
    let pr = reqs
        .iter()
        .find(|r| r.method.as_str() == "POST" && r.url.path() == format!("{REPO}/pulls"))
        .expect("the PR was opened");
    assert_eq!(
        pr.headers.get("authorization").unwrap().to_str().unwrap(),
        format!("token {minted}")
    );
}

/// Issue #23 item 5: `init-installation --push --pr` registers Flux's deploy key at GitHub,
/// read-only, and records its id in the inventory (so a rotation can retire it); before,
/// init never registered or printed it and Flux's first clone failed. Fake GitHub.
#[test]
fn issue_23_init_registers_flux_s_deploy_key_read_only() {
    let t = TestEnv::new();
    let repo = config_repo(&t);
    let key = t.path().join("demo.agekey");
    let fake = Fake::accepting_a_new_pull_request();
    fake.mount(
        Mock::given(method("POST"))
            .and(path(format!("{REPO}/keys")))
            .respond_with(
                ResponseTemplate::new(201).set_body_json(fixture("repos.create-deploy-key.json")),
            ),
    );
    let mut c = init_cmd(&t, &repo, &key, &["-o", "json"]);
    fake.publish_to(&mut c);
    let r = run(c).ok();
    let out: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let keys: Vec<serde_json::Value> = fake
        .requests()
        .iter()
        .filter(|r| r.url.path() == format!("{REPO}/keys"))
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert_eq!(keys.len(), 1, "registered once");
    assert_eq!(keys[0]["read_only"], true);
    let public = keys[0]["key"].as_str().unwrap();
    assert!(public.starts_with("ssh-ed25519 "), "{public}");
    assert_eq!(out["deployKey"]["publicKey"], public);
    assert_eq!(out["deployKey"]["registeredId"], 1);
    assert!(out["deployKey"]["addByHand"].is_null());
    let inventory = git(
        &t,
        &repo,
        &[
            "show",
            &format!("{BRANCH}:installations/demo/credentials.yaml"),
        ],
    );
    let flux = inventory
        .split("- kind:")
        .find(|c| c.contains("deploy-key"))
        .unwrap();
    assert!(
        flux.contains("forgeKeyId: '1'") || flux.contains("forgeKeyId: \"1\""),
        "{flux}"
    );
    assert_eq!(
        fake.the_created_pull_request()["head"],
        BRANCH,
        "the PR after the key"
    );
}

/// Issue #23 item 5: credentials that may not add deploy keys (403), or no `--pr`: init
/// still completes, warns, and prints the public key with the exact step to add it (the
/// repository's Settings > Deploy keys page, or `gh repo deploy-key add`). Fake GitHub.
#[test]
fn issue_23_init_names_the_step_when_it_cannot_register_the_deploy_key() {
    let t = TestEnv::new();
    let repo = config_repo(&t);
    let key = t.path().join("demo.agekey");
    let fake = Fake::accepting_a_new_pull_request();
    fake.mount(
        Mock::given(method("POST"))
            .and(path(format!("{REPO}/keys")))
            .respond_with(ResponseTemplate::new(403).set_body_json(serde_json::json!({
                "message": "Resource not accessible by integration"
            }))),
    );
    let mut c = init_cmd(&t, &repo, &key, &[]);
    fake.publish_to(&mut c);
    let r = run(c).ok();
    assert!(
        r.stderr.contains("could not register Flux's deploy key") && r.stderr.contains("403"),
        "{}",
        r.stderr
    );
    let step = "https://github.com/example/management-clusters/settings/keys > Add deploy key";
    assert!(r.stdout.contains(step), "{}", r.stdout);
    assert!(
        r.stdout.contains("gh repo deploy-key add flux-demo.pub --repo example/management-clusters --title flux@demo"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("ssh-ed25519 AAAA"), "{}", r.stdout);
    assert!(r.stdout.contains("pull request:"), "{}", r.stdout);

    // without --push: the same step
    let t = TestEnv::new();
    let repo = config_repo(&t);
    let r = init(&t, &repo, &t.path().join("demo.agekey"), &[]).ok();
    assert!(r.stdout.contains(step), "{}", r.stdout);
}

/// Issue #24 item 8: after a push mcb returns to where the user was (as gh does), and a
/// later run that would continue the open branch from another checkout is refused before
/// anything is written: the command computes its files from the checkout, so its commit
/// would undo the branch's first one. From the branch itself it continues.
#[test]
fn issue_24_after_a_push_mcb_is_back_where_the_user_was() {
    let t = TestEnv::new();
    let repo = config_repo(&t);
    let key = t.path().join("demo.agekey");
    let current = || {
        git(&t, &repo, &["branch", "--show-current"])
            .trim()
            .to_owned()
    };
    let fake = Fake::accepting_a_new_pull_request();
    let mut c = init_cmd(&t, &repo, &key, &["-o", "json"]);
    fake.publish_to(&mut c);
    let r = run(c).ok();
    let out: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(out["returnedTo"], "main", "{out}");
    assert_eq!(current(), "main");
    assert!(r.stderr.contains("back on main"), "{}", r.stderr);
    assert!(!repo.join("installations/demo").exists(), "main's files");
    // as the README says, `git switch -` takes you to the branch
    git(&t, &repo, &["switch", "-q", "-"]);
    assert_eq!(current(), BRANCH);
    git(&t, &repo, &["switch", "-q", "main"]);
    let tip = git(&t, &repo, &["rev-parse", BRANCH]).trim().to_owned();
    assert_eq!(origin_tip(&t).as_deref(), Some(tip.as_str()), "pushed");

    // From main, init without --push does not compute afresh onto mcb/init-demo: refused,
    // nothing written.
    let other_key = t.path().join("other.agekey");
    let r = run(init_cmd(&t, &repo, &other_key, &[])).fails_with(2);
    assert!(
        r.stderr.contains("already exists (branch mcb/init-demo)"),
        "{}",
        r.stderr
    );
    assert_eq!(git(&t, &repo, &["rev-parse", BRANCH]).trim(), tip);
    assert_eq!(current(), "main");
    assert!(!other_key.exists(), "no key written");
    assert!(git(&t, &repo, &["status", "--porcelain"]).trim().is_empty());

    // README step 2's re-run from main publishes the committed branch (nothing computed).
    let mut c = init_cmd(&t, &repo, &key, &[]);
    fake.publish_to(&mut c);
    run(c).ok();
    assert_eq!(current(), "main");
    assert_eq!(git(&t, &repo, &["rev-parse", BRANCH]).trim(), tip);
}

/// Issue #24 item 8 for a branch that is continued: a second rotation of the open rotation
/// branch runs from the branch's checkout (from main it is refused), keeps the first
/// rotation's commit and, started there, stays there.
#[test]
fn issue_24_an_open_rotation_branch_is_continued_from_its_checkout() {
    use crate::rotate::{fake_github, installation, rotate_with_pr};
    let (t, repo, key) = installation();
    git(&t, &repo, &["push", "-q", "origin", "main"]);
    let current = || {
        git(&t, &repo, &["branch", "--show-current"])
            .trim()
            .to_owned()
    };
    let fake = fake_github();
    let args = [
        "--only",
        "kubeconfig/admin",
        "--age-key-file",
        key.to_str().unwrap(),
    ];
    let json = |r: Run| -> serde_json::Value { serde_json::from_str(&r.stdout).unwrap() };
    let with_json: Vec<&str> = args.iter().copied().chain(["-o", "json"]).collect();
    let out = json(rotate_with_pr(&t, &repo, &fake, &with_json).ok());
    let branch = out["branch"].as_str().unwrap().to_owned();
    assert_eq!(out["returnedTo"], "main", "{out}");
    assert_eq!(current(), "main");
    let first = git(&t, &repo, &["rev-parse", &branch]).trim().to_owned();

    let r = rotate_with_pr(&t, &repo, &fake, &args).fails_with(2);
    assert!(
        r.stderr
            .contains(&format!("{branch} exists and continues from its own files")),
        "{}",
        r.stderr
    );
    assert_eq!(git(&t, &repo, &["rev-parse", &branch]).trim(), first);
    assert!(git(&t, &repo, &["status", "--porcelain"]).trim().is_empty());

    git(&t, &repo, &["switch", "-q", &branch]);
    let out = json(rotate_with_pr(&t, &repo, &fake, &with_json).ok());
    assert_eq!(out["returnedTo"], serde_json::Value::Null, "{out}");
    assert_eq!(current(), branch);
    assert_eq!(
        git(&t, &repo, &["rev-parse", &format!("{branch}^")]).trim(),
        first,
        "the second rotation is on top of the first"
    );
}
