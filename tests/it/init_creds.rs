//! `mcb init-installation` with credentials from outside services: OIDC clients registered
//! at a real OpenID Provider (node `oidc-provider`), and a GitHub App created by the
//! manifest flow against the fake GitHub, the test playing the browser.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::creds::{oidc_provider, read_page, secret_authenticates, IAT};
use crate::init::{config_repo, git, init, init_with_spec, secret_files};
use crate::rotate::secret_value;
use crate::support::github::{fixture, Fake};
use crate::support::{run, tool, Run, TestEnv};

const SECRETS: &str = "installations/demo/secrets";

/// The example's GitHub connector gets its client secret at init (`mcb check` requires it).
fn with_connector_secret(t: &mut TestEnv) {
    t.vars.insert(
        "MCB_DEX_CONNECTOR_GITHUB_CLIENT_SECRET".into(),
        "connector-secret".into(),
    );
}

/// `mcb check` passes on the new installation.
fn no_check_findings(t: &TestEnv, repo: &Path) {
    crate::support::provide_aws_credentials(t, repo, "demo");
    let mut c = t.mcb();
    c.arg("--repo")
        .arg(repo)
        .args(["check", "--kubectl"])
        .arg(tool("kubectl"));
    let r = run(c).ok();
    assert!(r.stdout.contains("0 error(s)"), "{}", r.stdout);
}

fn text(t: &TestEnv, file: &Path, key: &Path, k: &str) -> String {
    String::from_utf8(secret_value(t, file, key, k)).unwrap()
}

#[test]
fn init_registers_the_spec_clients_at_the_issuer_and_rotate_renews_them() {
    let dir = tempfile::tempdir().unwrap();
    let svc = oidc_provider(&dir);
    let issuer = svc.var("OIDC_ISSUER").to_owned();
    let mut t = TestEnv::new();
    t.vars
        .insert("MCB_OIDC_INITIAL_ACCESS_TOKEN".into(), IAT.into());
    with_connector_secret(&mut t);
    let repo = config_repo(&t);
    let key = t.path().join("demo.agekey");
    let r = init(&t, &repo, &key, &["--oidc-issuer", &issuer]).ok();
    assert!(!r.stdout.contains(IAT) && !r.stderr.contains(IAT));

    // The spec's clients are registered, not Dex's: no dex-clients, none in Dex's config.
    let secrets = repo.join(SECRETS);
    assert!(!secrets.join("dex-clients.sops.yaml").exists());
    let dex =
        std::fs::read_to_string(repo.join("installations/demo/manifests/apps/dex/release.yaml"))
            .unwrap();
    assert!(dex.contains("staticClients: []"), "{dex}");
    let inventory =
        std::fs::read_to_string(repo.join("installations/demo/credentials.yaml")).unwrap();
    let mut grafana = (String::new(), String::new());
    // kubectl is public (PKCE): registered without a secret, nothing to rotate.
    let kubectl = secrets.join("oidc-client-kubectl.sops.yaml");
    let plain = crate::init::go_sops_decrypt(&t, &kubectl, &key).ok().stdout;
    assert!(
        plain.contains("client_id") && !plain.contains("client_secret"),
        "{plain}"
    );
    assert!(
        inventory.contains("public: 'true'") || inventory.contains("public: \"true\""),
        "{inventory}"
    );
    for id in ["grafana"] {
        let file = secrets.join(format!("oidc-client-{id}.sops.yaml"));
        let client_id = text(&t, &file, &key, "client_id");
        let secret = text(&t, &file, &key, "client_secret");
        assert!(secret_authenticates(&issuer, &client_id, &secret), "{id}");
        assert!(!secret_authenticates(&issuer, &client_id, "wrong"));
        let uri = text(&t, &file, &key, "registration_client_uri");
        assert!(uri.starts_with(&format!("{issuer}/reg/")), "{uri}");
        let token = text(&t, &file, &key, "registration_access_token");
        for out in [&r.stdout, &r.stderr, &inventory] {
            assert!(
                !out.contains(&secret) && !out.contains(&token),
                "{id} leaks"
            );
        }
        assert!(inventory.contains(&client_id), "{inventory}");
        if id == "grafana" {
            grafana = (client_id, secret);
        }
    }
    assert!(
        inventory.contains(&format!("issuer: {issuer}")),
        "{inventory}"
    );
    // The rendered Dex config agrees with the spec and the secrets: no drift.
    no_check_findings(&t, &repo);

    // What init stored is what rotation loads: a successor client with a new secret at the
    // issuer; the old client stays valid until `--finish` after the merge (issue #23).
    crate::rotate::merge_locally(&t, &repo, "mcb/init-demo");
    let mut c = t.mcb();
    c.env("MCB_INSECURE_TEST_SEED", "43")
        .arg("--repo")
        .arg(&repo)
        .args(["rotate", "demo", "--only", "oidc/grafana", "--age-key-file"])
        .arg(&key);
    run(c).ok();
    let file = secrets.join("oidc-client-grafana.sops.yaml");
    let (new_id, new_secret) = (
        text(&t, &file, &key, "client_id"),
        text(&t, &file, &key, "client_secret"),
    );
    assert_ne!(new_secret, grafana.1);
    assert!(secret_authenticates(&issuer, &new_id, &new_secret));
    assert!(secret_authenticates(&issuer, &grafana.0, &grafana.1));

    // Lifecycle of the client's consumer (the example's Grafana Secret): at every step,
    // what main holds (what Flux applies) and what the rotation branch holds is accepted.
    let consumer = repo.join(CONSUMER);
    let held = |rev: &str| {
        let f = t.path().join("consumer.sops.yaml");
        std::fs::write(&f, git(&t, &repo, &["show", &format!("{rev}:{CONSUMER}")])).unwrap();
        (
            text(&t, &f, &key, "GF_AUTH_GENERIC_OAUTH_CLIENT_ID"),
            text(&t, &f, &key, "GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET"),
        )
    };
    assert_eq!(
        held("main"),
        grafana,
        "init gave the consumer the registered client"
    );
    assert_eq!(
        held("HEAD"),
        (new_id.clone(), new_secret.clone()),
        "the rotation's commit"
    );
    for (id, secret) in [held("main"), held("HEAD")] {
        assert!(secret_authenticates(&issuer, &id, &secret), "{id}");
    }
    crate::rotate::merge_on_remote(&t, &repo, "mcb/rotate-demo-oidc-grafana");
    let mut c = t.mcb();
    c.arg("--repo")
        .arg(&repo)
        .args(["rotate", "demo", "--finish", "--age-key-file"])
        .arg(&key);
    run(c).ok();
    assert!(
        !secret_authenticates(&issuer, &grafana.0, &grafana.1),
        "old client deleted"
    );
    let (id, secret) = (
        text(&t, &consumer, &key, "GF_AUTH_GENERIC_OAUTH_CLIENT_ID"),
        text(&t, &consumer, &key, "GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET"),
    );
    assert_eq!((&id, &secret), (&new_id, &new_secret));
    assert!(
        secret_authenticates(&issuer, &id, &secret),
        "the consumer's client lives"
    );
}

/// The example's Grafana consumer Secret.
const CONSUMER: &str =
    "installations/demo/secrets/oidc-consumers/monitoring.grafana-oidc.sops.yaml";

/// A fake issuer whose discovery document has `extra` besides `issuer`.
fn issuer_with(extra: impl Fn(&str) -> serde_json::Value) -> Fake {
    let fake = Fake::start();
    let issuer = fake.server.uri();
    let mut doc = extra(&issuer);
    doc["issuer"] = issuer.clone().into();
    fake.mount(
        Mock::given(method("GET"))
            .and(path("/.well-known/openid-configuration"))
            .respond_with(ResponseTemplate::new(200).set_body_json(doc)),
    );
    fake
}

#[test]
fn init_with_an_issuer_without_registration_fails_and_writes_nothing() {
    let fake = issuer_with(|i| serde_json::json!({"token_endpoint": format!("{i}/token")}));
    let issuer = fake.server.uri();
    let t = TestEnv::new();
    let repo = config_repo(&t);
    let key = t.path().join("demo.agekey");
    let r = init(&t, &repo, &key, &["--oidc-issuer", &issuer]).fails_with(2);
    assert!(
        r.stderr.contains(&format!(
            "issuer {issuer} does not support dynamic client registration"
        )),
        "{}",
        r.stderr
    );
    assert!(!key.exists());
    assert_eq!(git(&t, &repo, &["status", "--porcelain"]), "");
    assert_eq!(git(&t, &repo, &["branch", "--list", "mcb/init-*"]), "");
    assert!(!repo.join("installations").exists());
}

/// An issuer that registers every client as `c1` and accepts its deletion.
fn registering_issuer() -> Fake {
    let fake = issuer_with(|i| serde_json::json!({"registration_endpoint": format!("{i}/reg")}));
    let issuer = fake.server.uri();
    fake.mount(Mock::given(method("POST")).and(path("/reg")).respond_with(
        ResponseTemplate::new(201).set_body_json(serde_json::json!({
            "client_id": "c1",
            "client_secret": "s1-not-kept",
            "registration_access_token": "rat-not-kept",
            "registration_client_uri": format!("{issuer}/reg/c1"),
        })),
    ));
    fake.mount(
        Mock::given(method("DELETE"))
            .and(path("/reg/c1"))
            .respond_with(ResponseTemplate::new(204)),
    );
    fake
}

#[test]
fn registrations_nothing_keeps_are_deleted_again() {
    for (flag, fail_after) in [("--dry-run", None), ("--no-commit", Some("credentials"))] {
        let fake = registering_issuer();
        let mut t = TestEnv::new();
        if let Some(step) = fail_after {
            t.vars.insert("MCB_TEST_FAIL_AFTER".into(), step.into());
        }
        let repo = config_repo(&t);
        let key = t.path().join("demo.agekey");
        let r = init(
            &t,
            &repo,
            &key,
            &["--oidc-issuer", &fake.server.uri(), flag],
        );
        let r = if fail_after.is_some() {
            r.fails_with(2)
        } else {
            r.ok()
        };
        let count = |m: &str| {
            fake.requests()
                .iter()
                .filter(|q| q.method.as_str() == m)
                .count()
        };
        // The example has two clients: both registered, both deleted.
        assert_eq!(
            (count("POST"), count("DELETE")),
            (2, 2),
            "{flag}: {}",
            r.stderr
        );
        assert!(!r.stdout.contains("s1-not-kept") && !r.stderr.contains("rat-not-kept"));
        assert!(!repo.join("installations").exists());
    }
}

/// The example spec as `demo`, Flux authenticating as the GitHub App.
fn github_app_spec(t: &TestEnv) -> std::path::PathBuf {
    let spec = mcb::spec::EXAMPLE
        .replace("name: gauss", "name: demo")
        .replace(
            "url: ssh://git@github.com/example/management-clusters",
            "url: https://github.com/example/management-clusters",
        )
        .replace("auth: ssh", "auth: github-app");
    let p = t.path().join("demo.yaml");
    std::fs::write(&p, spec).unwrap();
    p
}

/// Runs mcb in the background and returns the first 127.0.0.1 URL it prints on stderr,
/// with a channel carrying the rest of stderr once it exits.
fn spawn_until_url(
    mut c: std::process::Command,
) -> (std::process::Child, String, mpsc::Receiver<String>) {
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (url_tx, url_rx) = mpsc::channel();
    let (rest_tx, rest_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines() {
            let line = line.unwrap();
            if let Some(i) = line.find("http://127.0.0.1:") {
                let _ = url_tx.send(line[i..].trim().to_owned());
            }
            all.push_str(&line);
            all.push('\n');
        }
        let _ = rest_tx.send(all);
    });
    let url = url_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("mcb printed the local page's URL");
    (child, url, rest_rx)
}

/// A fake GitHub that converts code `abc123` into the fixture's app and accepts a PR.
fn github_converting_the_fixture() -> (Fake, serde_json::Value) {
    let fake = Fake::accepting_a_new_pull_request();
    let created = fixture("apps.create-from-manifest.json");
    fake.mount(
        Mock::given(method("POST"))
            .and(path("/app-manifests/abc123/conversions"))
            .respond_with(ResponseTemplate::new(201).set_body_json(&created)),
    );
    (fake, created)
}

/// Runs `c` (an init with --create-github-app) playing the browser and GitHub: reads the
/// local page, checks where it posts the manifest, then sends GitHub's redirect back.
fn drive_app_flow(c: std::process::Command) -> Run {
    let (child, url, stderr_rx) = spawn_until_url(c);
    // The page posts the manifest to the owner's new-app form...
    let (action, manifest) = read_page(&url);
    let state = action
        .strip_prefix("https://github.example.com/organizations/example/settings/apps/new?state=")
        .unwrap_or_else(|| panic!("unexpected form action {action}"));
    assert_eq!(manifest["name"], "mcb-demo");
    assert_eq!(
        manifest["url"],
        "https://github.com/example/management-clusters"
    );
    // ...and GitHub redirects back with the code.
    let redirect = manifest["redirect_url"].as_str().unwrap();
    let cb = reqwest::blocking::get(format!("{redirect}?code=abc123&state={state}")).unwrap();
    assert_eq!(cb.status(), 200);
    let out = child.wait_with_output().unwrap();
    Run {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: stderr_rx.recv_timeout(Duration::from_secs(10)).unwrap(),
    }
}

const CREATE_FLAGS: [&str; 5] = [
    "--create-github-app",
    "--github-url",
    "https://github.example.com",
    "--github-app-installation-id",
    "4242",
];

#[test]
fn init_creates_the_github_app_by_the_manifest_flow() {
    let mut t = TestEnv::new();
    with_connector_secret(&mut t);
    let repo = config_repo(&t);
    let key = t.path().join("demo.agekey");
    let spec = github_app_spec(&t);
    let (fake, created) = github_converting_the_fixture();
    let mut c = init_with_spec(&t, &repo, &spec, &key);
    c.args(CREATE_FLAGS);
    fake.publish_to(&mut c);
    let r = drive_app_flow(c).ok();
    assert!(
        r.stdout
            .contains("https://github.com/apps/octoapp/installations/new"),
        "{}",
        r.stdout
    );
    crate::rotate::back_on_then_switch(&t, &repo, "main", "mcb/init-demo");

    // Flux's Secret and the app's own Secret hold the fixture's values.
    let secrets = repo.join(SECRETS);
    let flux = secrets.join("flux-system.sops.yaml");
    let pem = created["pem"].as_str().unwrap();
    assert_eq!(text(&t, &flux, &key, "githubAppID"), "1");
    assert_eq!(text(&t, &flux, &key, "githubAppInstallationID"), "4242");
    assert_eq!(text(&t, &flux, &key, "githubAppPrivateKey"), pem);
    assert_eq!(text(&t, &flux, &key, "githubAppBaseURL"), fake.server.uri());
    // The app's own Secret stays encrypted in the repo, outside every path Flux applies
    // (issue #23 item 4): Flux gets only flux-system's four keys.
    let app = repo.join("installations/demo/forge/secrets/github-app.sops.yaml");
    assert!(!secrets.join("github-app.sops.yaml").exists());
    let applied = std::fs::read_to_string(secrets.join("kustomization.yaml")).unwrap();
    assert!(!applied.contains("github-app"), "{applied}");
    assert!(!applied.contains("forge"), "{applied}");
    for (k, field) in [
        ("clientID", "client_id"),
        ("clientSecret", "client_secret"),
        ("webhookSecret", "webhook_secret"),
        ("privateKey", "pem"),
    ] {
        assert_eq!(
            text(&t, &app, &key, k),
            created[field].as_str().unwrap(),
            "{k}"
        );
    }
    assert_eq!(text(&t, &app, &key, "appID"), "1");
    let flux_keys = secret_keys(&flux);
    assert_eq!(
        flux_keys,
        [
            "githubAppBaseURL",
            "githubAppID",
            "githubAppInstallationID",
            "githubAppPrivateKey"
        ],
        "only what Flux reads"
    );
    no_check_findings(&t, &repo);
    // `mcb check` verifies it like every SOPS file: a changed `lastmodified` breaks its MAC.
    let sealed = std::fs::read_to_string(&app).unwrap();
    let tampered = regex::Regex::new(r"lastmodified: .*")
        .unwrap()
        .replace(&sealed, "lastmodified: \"2020-01-01T00:00:00Z\"");
    std::fs::write(&app, tampered.as_bytes()).unwrap();
    let mut c = t.mcb();
    c.arg("--repo")
        .arg(&repo)
        .args(["check", "--kubectl"])
        .arg(tool("kubectl"))
        .arg("--age-key-file")
        .arg(&key);
    let r = run(c).fails_with(1);
    assert!(
        r.stdout.contains("sops-mac") && r.stdout.contains("forge/secrets/github-app.sops.yaml"),
        "{}",
        r.stdout
    );
    std::fs::write(&app, sealed).unwrap();

    // No secret value in the output or the pull request.
    let reqs = fake.requests();
    let pr = reqs
        .iter()
        .find(|r| r.method.as_str() == "POST" && r.url.path().ends_with("/pulls"))
        .expect("a pull request was opened");
    let body: serde_json::Value = serde_json::from_slice(&pr.body).unwrap();
    let body = body["body"].as_str().unwrap();
    let secret_values = [
        created["client_secret"].as_str().unwrap(),
        created["webhook_secret"].as_str().unwrap(),
    ];
    let pem_lines = pem.lines().filter(|l| !l.starts_with("-----"));
    for s in secret_values.into_iter().chain(pem_lines) {
        for (what, text) in [
            ("stdout", &r.stdout),
            ("stderr", &r.stderr),
            ("PR body", &body.to_owned()),
        ] {
            assert!(!text.contains(s), "{what} leaks a secret value");
        }
    }
    assert!(
        !secret_files(&repo).contains(&app),
        "not among the applied ones"
    );
}

/// The keys (names, in clear) of a SOPS Secret file's `data`.
fn secret_keys(file: &Path) -> Vec<String> {
    let doc: serde_json::Value =
        serde_saphyr::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    let mut keys: Vec<String> = doc["data"].as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

#[test]
fn init_imports_an_existing_github_app_by_id_and_key_file() {
    let t = TestEnv::new();
    let repo = config_repo(&t);
    let key = t.path().join("demo.agekey");
    let spec = github_app_spec(&t);
    let pem = crate::support::github::app_pem();
    let pem_file = t.path().join("app.pem");
    std::fs::write(&pem_file, &pem).unwrap();
    let import = |extra: &[&str]| {
        let mut c = init_with_spec(&t, &repo, &spec, &key);
        c.args(["--import-github-app", "77", "--private-key-file"])
            .arg(&pem_file)
            .args(extra);
        run(c)
    };
    // The installation id is required: without it nothing is written.
    let r = import(&[]).fails_with(2);
    assert!(
        r.stderr.contains("--github-app-installation-id"),
        "{}",
        r.stderr
    );
    assert!(!repo.join("installations").exists());
    import(&["--github-app-installation-id", "88"]).ok();
    let flux = repo.join(SECRETS).join("flux-system.sops.yaml");
    assert_eq!(text(&t, &flux, &key, "githubAppID"), "77");
    assert_eq!(text(&t, &flux, &key, "githubAppInstallationID"), "88");
    assert_eq!(text(&t, &flux, &key, "githubAppPrivateKey"), pem);
    assert!(!repo.join(SECRETS).join("github-app.sops.yaml").exists());
}

#[test]
fn a_created_app_that_is_not_kept_is_named_and_a_dry_run_is_refused() {
    let mut t = TestEnv::new();
    let repo = config_repo(&t);
    let key = t.path().join("demo.agekey");
    let spec = github_app_spec(&t);
    let mut c = init_with_spec(&t, &repo, &spec, &key);
    c.args(CREATE_FLAGS).arg("--dry-run");
    let r = run(c).fails_with(2);
    assert!(r.stderr.contains("cannot be used with"), "{}", r.stderr);

    t.vars
        .insert("MCB_TEST_FAIL_AFTER".into(), "credentials".into());
    let (fake, _) = github_converting_the_fixture();
    let mut c = init_with_spec(&t, &repo, &spec, &key);
    c.args(CREATE_FLAGS)
        .args(["--github-api", &fake.server.uri()]);
    let r = drive_app_flow(c).fails_with(2);
    assert!(
        r.stderr
            .contains("GitHub App octoapp (id 1) was created but is not kept"),
        "{}",
        r.stderr
    );
    assert!(!repo.join("installations").exists());
}
