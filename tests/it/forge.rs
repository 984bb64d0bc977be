//! `mcb::forge` against a fake GitHub API (wiremock) that serves the official example
//! payloads from `fixtures/github/` and checks request shape and auth headers.

use std::time::{Duration, Instant};

use mcb::forge::body::{self, ChangeSummary, CredentialAction, CredentialChange};
use mcb::forge::{Auth, Error, Forge, GitHub, PullRequest};
use mcb::Help;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use wiremock::matchers::{body_partial_json, header, header_regex, method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

use crate::git::{commit, push_opts, Fx, BRANCH, OWNED};
use crate::support::github::{fixture, now, Fake, REPO, TOKEN};

fn list_open(head: &str) -> wiremock::MockBuilder {
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/pulls")))
        .and(query_param("head", format!("octocat:{head}")))
        .and(query_param("state", "open"))
}

/// What a credential generator knows: public facts and, in memory, the secret itself.
struct GeneratedCredential {
    kind: &'static str,
    id: &'static str,
    secret: SecretString,
    fingerprint: String,
}

fn summary_of(creds: &[GeneratedCredential]) -> ChangeSummary {
    ChangeSummary {
        headline: "Create installation prod".into(),
        installations: vec!["prod".into()],
        added: vec!["installations/prod/secrets/oidc.sops.yaml".into()],
        credentials: creds
            .iter()
            .map(|c| CredentialChange {
                action: CredentialAction::Created,
                kind: c.kind.into(),
                id: c.id.into(),
                fingerprint: Some(c.fingerprint.clone()),
                previous: None,
                not_after: Some("2027-11-25T12:00:00Z".into()),
            })
            .collect(),
        ..Default::default()
    }
}

#[test]
fn pull_request_is_created_once_and_updated_on_rerun() {
    let fake = Fake::start();
    let head = "mcb/init-prod";
    let auth = || header("authorization", format!("Bearer {TOKEN}").as_str());
    fake.mount(
        list_open(head)
            .and(auth())
            .and(header("accept", "application/vnd.github+json"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
            .up_to_n_times(1)
            .expect(1),
    );
    fake.mount(
        list_open(head)
            .and(auth())
            .respond_with(ResponseTemplate::new(200).set_body_json(fixture("pulls.list.json")))
            .expect(1),
    );
    fake.mount(
        Mock::given(method("POST"))
            .and(path(format!("{REPO}/pulls")))
            .and(auth())
            .and(header("content-type", "application/json"))
            .and(body_partial_json(json!({
                "head": head, "base": "main", "title": "feat(prod): create installation",
                "draft": true,
            })))
            .respond_with(ResponseTemplate::new(201).set_body_json(fixture("pulls.create.json")))
            .expect(1),
    );
    fake.mount(
        Mock::given(method("PATCH"))
            .and(path(format!("{REPO}/pulls/1347")))
            .and(auth())
            .and(body_partial_json(
                json!({"title": "feat(prod): create installation (2)"}),
            ))
            .respond_with(ResponseTemplate::new(200).set_body_json(fixture("pulls.create.json")))
            .expect(1),
    );
    fake.mount(
        Mock::given(method("POST"))
            .and(path(format!("{REPO}/pulls/1347/requested_reviewers")))
            .and(body_partial_json(json!({"reviewers": ["hubot"]})))
            .respond_with(ResponseTemplate::new(201).set_body_json(fixture("pulls.create.json")))
            .expect(1),
    );
    fake.mount(
        Mock::given(method("POST"))
            .and(path(format!("{REPO}/issues/1347/labels")))
            .and(body_partial_json(json!({"labels": ["mcb"]})))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
            .expect(2),
    );

    let secret = "s3cr3t-client-secret-value";
    let creds = [GeneratedCredential {
        kind: "oidc-client",
        id: "dex/grafana",
        secret: SecretString::from(secret.to_owned()),
        fingerprint: "sha256:9f86d081".into(),
    }];
    let rendered = body::render(&summary_of(&creds));
    assert!(rendered.contains("`dex/grafana`") && rendered.contains("`sha256:9f86d081`"));
    assert!(!rendered.contains(creds[0].secret.expose_secret()));
    let summary_debug = format!("{:?}", summary_of(&creds));
    assert!(
        !summary_debug.contains(secret),
        "the renderer never received it"
    );

    let gh = fake.client();
    let mut pr = PullRequest {
        head: head.into(),
        base: "main".into(),
        title: "feat(prod): create installation".into(),
        body: rendered,
        labels: vec!["mcb".into()],
        draft: true,
        reviewers: vec!["hubot".into()],
    };
    let first = gh.ensure_pull_request(&pr).unwrap();
    assert!(first.created);
    assert_eq!(first.number, 1347);
    assert_eq!(
        first.url,
        "https://github.com/octocat/Hello-World/pull/1347"
    );

    pr.title = "feat(prod): create installation (2)".into();
    let second = gh.ensure_pull_request(&pr).unwrap();
    assert!(!second.created, "updated, not duplicated");
    assert_eq!(second.number, 1347);
    fake.verify();

    for r in fake.requests() {
        let text = String::from_utf8_lossy(&r.body);
        assert!(
            !text.contains(secret),
            "{} {} leaked the secret",
            r.method,
            r.url
        );
    }
}

#[test]
fn github_app_auth_trades_a_jwt_for_an_installation_token() {
    let fake = Fake::start();
    let jwt = || header_regex("authorization", r"^Bearer eyJ[\w-]+\.[\w-]+\.[\w-]+$");
    fake.mount(
        Mock::given(method("GET"))
            .and(path(format!("{REPO}/installation")))
            .and(jwt())
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(fixture("apps.get-repo-installation.json")),
            )
            .expect(2),
    );
    let mut token = fixture("apps.create-installation-access-token.json");
    let installation_token = token["token"].as_str().unwrap().to_owned();
    let expired = token.clone();
    token["expires_at"] = json!("2026-11-25T13:00:00Z");
    fake.mount(
        Mock::given(method("POST"))
            .and(path("/app/installations/1/access_tokens"))
            .and(jwt())
            .respond_with(ResponseTemplate::new(201).set_body_json(token))
            .up_to_n_times(1),
    );
    fake.mount(
        Mock::given(method("POST"))
            .and(path("/app/installations/1/access_tokens"))
            .respond_with(ResponseTemplate::new(201).set_body_json(expired)),
    );
    fake.mount(
        Mock::given(method("POST"))
            .and(path(format!("{REPO}/keys")))
            .and(header(
                "authorization",
                format!("token {installation_token}").as_str(),
            ))
            .and(body_partial_json(json!({
                "title": "flux-prod", "key": "ssh-ed25519 AAAAC3Nz test", "read_only": true
            })))
            .respond_with(
                ResponseTemplate::new(201).set_body_json(fixture("repos.create-deploy-key.json")),
            )
            .expect(1),
    );
    fake.mount(
        Mock::given(method("DELETE"))
            .and(path(format!("{REPO}/keys/1")))
            .respond_with(ResponseTemplate::new(204))
            .expect(1),
    );
    let pem = crate::support::github::app_pem();
    let app = || Auth::App {
        app_id: 1,
        private_key: SecretString::from(pem.clone()),
        installation_id: None,
    };
    let gh = fake.client_with(app()).unwrap();
    let id = gh
        .add_deploy_key("flux-prod", "ssh-ed25519 AAAAC3Nz test", true)
        .unwrap();
    assert_eq!(id, 1);
    gh.delete_deploy_key(id).unwrap();

    // the JWT names the app and is signed RS256
    let r = &fake.requests()[0];
    let auth = r.headers.get("authorization").unwrap().to_str().unwrap();
    let jwt = auth.strip_prefix("Bearer ").unwrap();
    let claims = jwt.split('.').nth(1).unwrap();
    use base64::Engine as _;
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(claims)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["iss"], "1");

    // a token that is already expired (the fixture's 2016 date) is refused
    let e = fake.client_with(app()).unwrap_err();
    assert!(matches!(e, Error::TokenExpired { .. }), "{e}");
    fake.verify();
}

fn error_case(status: u16, body: Value) -> Error {
    let fake = Fake::start();
    fake.mount(list_open("b").respond_with(ResponseTemplate::new(200).set_body_json(json!([]))));
    fake.mount(
        Mock::given(method("POST"))
            .and(path(format!("{REPO}/pulls")))
            .respond_with(ResponseTemplate::new(status).set_body_json(body)),
    );
    let pr = PullRequest {
        head: "b".into(),
        base: "main".into(),
        title: "t".into(),
        ..Default::default()
    };
    fake.client().ensure_pull_request(&pr).unwrap_err()
}

#[test]
fn api_errors_say_what_to_fix() {
    let e = error_case(401, json!({"message": "Bad credentials"}));
    assert!(matches!(e, Error::Unauthorized { .. }), "{e}");
    assert!(
        e.to_string()
            .contains("POST /repos/octocat/Hello-World/pulls"),
        "{e}"
    );
    assert!(e.to_string().contains("Bad credentials"), "{e}");
    assert!(!e.to_string().contains(TOKEN));
    assert!(e.help().unwrap().contains("GITHUB_TOKEN"));

    let e = error_case(
        403,
        json!({"message": "Resource not accessible by integration"}),
    );
    assert!(matches!(e, Error::Forbidden { .. }), "{e}");
    assert!(e.help().unwrap().contains("pull_requests: write"));

    let e = error_case(
        422,
        json!({"message": "Validation Failed", "errors": [
            {"resource": "PullRequest", "field": "head", "code": "invalid"}]}),
    );
    assert!(matches!(e, Error::Unprocessable { .. }), "{e}");
    assert!(e.to_string().contains("Validation Failed; invalid"), "{e}");
    assert!(e.help().unwrap().contains("--push"));

    let e = error_case(404, json!({"message": "Not Found"}));
    assert!(e.help().unwrap().contains("--github-repo"), "{e}");
}

#[test]
fn rate_limits_are_waited_out_within_bounds() {
    let fake = Fake::start();
    fake.mount(
        list_open("b")
            .respond_with(
                ResponseTemplate::new(429)
                    .insert_header("retry-after", "1")
                    .set_body_json(json!({"message": "slow down"})),
            )
            .up_to_n_times(1)
            .expect(1),
    );
    fake.mount(
        list_open("b")
            .respond_with(
                ResponseTemplate::new(403)
                    .insert_header("x-ratelimit-remaining", "0")
                    .insert_header("retry-after", "1")
                    .set_body_json(json!({"message": "API rate limit exceeded"})),
            )
            .up_to_n_times(1)
            .expect(1),
    );
    fake.mount(
        list_open("b")
            .respond_with(ResponseTemplate::new(200).set_body_json(fixture("pulls.list.json")))
            .expect(1),
    );
    fake.mount(
        Mock::given(method("PATCH"))
            .and(path(format!("{REPO}/pulls/1347")))
            .respond_with(ResponseTemplate::new(200).set_body_json(fixture("pulls.create.json"))),
    );
    let pr = PullRequest {
        head: "b".into(),
        base: "main".into(),
        title: "t".into(),
        ..Default::default()
    };
    let t = Instant::now();
    let info = fake.client().ensure_pull_request(&pr).unwrap();
    assert_eq!(info.number, 1347);
    assert!(t.elapsed() >= Duration::from_secs(2), "{:?}", t.elapsed());
    fake.verify();

    // a wait beyond the bound fails at once instead of hanging
    let fake = Fake::start();
    fake.mount(
        list_open("b")
            .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "3600")),
    );
    let t = Instant::now();
    let e = fake.client().ensure_pull_request(&pr).unwrap_err();
    assert!(
        matches!(
            e,
            Error::RateLimited {
                wait_secs: 3600,
                ..
            }
        ),
        "{e}"
    );
    assert!(t.elapsed() < Duration::from_secs(5));

    // tries are bounded too
    let fake = Fake::start();
    fake.mount(
        list_open("b")
            .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "0"))
            .expect(3),
    );
    let e = fake.client().ensure_pull_request(&pr).unwrap_err();
    assert!(matches!(e, Error::RateLimited { .. }), "{e}");
    fake.verify();
}

#[test]
fn api_down_is_a_network_error_and_a_rerun_completes() {
    let fake = Fake::start();
    let gh = fake.client();
    let pr = PullRequest {
        head: "b".into(),
        base: "main".into(),
        title: "t".into(),
        ..Default::default()
    };
    drop(fake); // the server goes away after the client connected
    let e = gh.ensure_pull_request(&pr).unwrap_err();
    assert!(matches!(e, Error::Network { .. }), "{e}");
    assert!(e.to_string().to_lowercase().contains("connect"), "{e}");
    assert!(e.help().unwrap().contains("re-run"));

    let fake = Fake::start();
    fake.mount(list_open("b").respond_with(ResponseTemplate::new(200).set_body_json(json!([]))));
    fake.mount(
        Mock::given(method("POST"))
            .and(path(format!("{REPO}/pulls")))
            .respond_with(ResponseTemplate::new(201).set_body_json(fixture("pulls.create.json")))
            .expect(1),
    );
    assert!(fake.client().ensure_pull_request(&pr).unwrap().created);
    fake.verify();
}

#[test]
fn enterprise_api_base_path_is_kept() {
    let fake = Fake::start();
    fake.mount(
        Mock::given(method("POST"))
            .and(path(format!("/api/v3{REPO}/keys")))
            .respond_with(
                ResponseTemplate::new(201).set_body_json(fixture("repos.create-deploy-key.json")),
            )
            .expect(1),
    );
    let api = format!("{}/api/v3/", fake.server.uri());
    let gh = fake
        .client_at(&api, Auth::Token(SecretString::from(TOKEN.to_owned())))
        .unwrap();
    assert_eq!(
        gh.add_deploy_key("k", "ssh-ed25519 AAAA", false).unwrap(),
        1
    );
    fake.verify();
    let e = fake
        .client_at(
            "not a url",
            Auth::Token(SecretString::from(TOKEN.to_owned())),
        )
        .unwrap_err();
    assert!(matches!(e, Error::BadApiUrl { .. }), "{e}");
}

#[test]
fn publish_flow_survives_an_api_outage_and_a_rerun_completes() {
    // branch, commit and push over smart HTTP, then the PR; the API is down the first time
    let fx = Fx::new();
    let (_srv, bare) = fx.served_remote("git-http.sh", &[], "GIT_HTTP_URL", None);
    let repo = fx.repo();
    let first = fx.first_commit(&repo);
    let pushed = repo
        .push(BRANCH, &push_opts(mcb::git::PushAuth::default()))
        .unwrap();
    let opts = mcb::forge::PrOptions {
        api: String::new(),
        repo: None,
        draft: false,
        labels: vec![],
    };
    let token = || Auth::Token(SecretString::from(TOKEN.to_owned()));
    let pr = |base: &str| PullRequest {
        head: BRANCH.into(),
        base: base.into(),
        title: "feat(prod): create installation".into(),
        body: body::render(&ChangeSummary::default()),
        ..Default::default()
    };

    let down = Fake::start();
    let api = down.server.uri();
    drop(down);
    let cfg = mcb::forge::PrOptions {
        api,
        ..opts.clone()
    }
    .config(&pushed.url, token())
    .unwrap();
    assert_eq!(
        cfg.repo.to_string(),
        "o/r",
        "repo parsed from the remote URL"
    );
    let e = GitHub::connect(cfg, now())
        .unwrap()
        .ensure_pull_request(&pr("main"))
        .unwrap_err();
    assert!(matches!(e, Error::Network { .. }), "{e}");
    assert_eq!(fx.git_in(&bare, &["rev-parse", BRANCH]), first, "push kept");

    // re-run: same branch, nothing new to commit, push is a no-op, the PR gets opened
    let again = repo.start_branch(BRANCH, None, OWNED).unwrap();
    assert!(!again.created);
    let p = fx.write("installations/prod/installation.yaml", "name: prod\n");
    assert_eq!(
        commit(&repo, "feat(prod): create installation", &[p]).unwrap(),
        None
    );
    repo.push(BRANCH, &push_opts(mcb::git::PushAuth::default()))
        .unwrap();
    let up = Fake::start();
    up.mount(
        Mock::given(method("GET"))
            .and(path("/repos/o/r/pulls"))
            .and(query_param("head", format!("o:{BRANCH}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([]))),
    );
    up.mount(
        Mock::given(method("POST"))
            .and(path("/repos/o/r/pulls"))
            .and(body_partial_json(json!({"head": BRANCH, "base": "main"})))
            .respond_with(ResponseTemplate::new(201).set_body_json(fixture("pulls.create.json")))
            .expect(1),
    );
    let cfg = mcb::forge::PrOptions {
        api: up.server.uri(),
        ..opts
    }
    .config(&pushed.url, token())
    .unwrap();
    let info = GitHub::connect(cfg, now())
        .unwrap()
        .ensure_pull_request(&pr(again.base.as_deref().unwrap()))
        .unwrap();
    assert!(info.created);
    up.verify();
}

/// Issue #23 item 5: a 422 "A pull request already exists" (the list by head missed it)
/// no longer stops the run: the PR is found among the open ones and updated. Every
/// request says `User-Agent: mcb/<version>`, once.
#[test]
fn an_existing_pull_request_the_list_missed_is_found_and_updated() {
    let fake = Fake::start();
    let head = "new-topic";
    fake.mount(list_open(head).respond_with(ResponseTemplate::new(200).set_body_json(json!([]))));
    fake.mount(
        Mock::given(method("POST"))
            .and(path(format!("{REPO}/pulls")))
            .respond_with(ResponseTemplate::new(422).set_body_json(json!({
                "message": "Validation Failed",
                "errors": [{"resource": "PullRequest", "code": "custom",
                    "message": "A pull request already exists for octocat:new-topic."}],
            })))
            .expect(1),
    );
    fake.mount(
        Mock::given(method("GET"))
            .and(path(format!("{REPO}/pulls")))
            .and(query_param("page", "1"))
            .respond_with(ResponseTemplate::new(200).set_body_json(fixture("pulls.list.json")))
            .expect(1),
    );
    fake.mount(
        Mock::given(method("PATCH"))
            .and(path(format!("{REPO}/pulls/1347")))
            .and(body_partial_json(json!({"title": "Rotate"})))
            .respond_with(ResponseTemplate::new(200).set_body_json(fixture("pulls.create.json")))
            .expect(1),
    );
    let pr = PullRequest {
        head: head.into(),
        base: "main".into(),
        title: "Rotate".into(),
        body: "body".into(),
        labels: Vec::new(),
        draft: false,
        reviewers: Vec::new(),
    };
    let info = fake.client().ensure_pull_request(&pr).unwrap();
    assert_eq!(info.number, 1347);
    assert!(!info.created);
    fake.verify();
    let agent = format!("mcb/{}", env!("CARGO_PKG_VERSION"));
    for r in fake.requests() {
        let agents: Vec<_> = r.headers.get_all("user-agent").iter().collect();
        assert_eq!(agents.len(), 1, "{} {}: {agents:?}", r.method, r.url);
        assert_eq!(agents[0].to_str().unwrap(), agent, "{} {}", r.method, r.url);
    }
}

/// Issue #23 item 4: a token request asking for a permission the app's installation lacks
/// (GitHub: 422) says which permission to grant, not "check that the branch was pushed".
#[test]
fn an_app_lacking_a_permission_is_told_what_to_grant() {
    let fake = Fake::start();
    fake.mount(
        Mock::given(method("POST"))
            .and(path("/app/installations/7/access_tokens"))
            .respond_with(ResponseTemplate::new(422).set_body_json(json!({
                "message": "The permissions requested are not granted to this installation."
            }))),
    );
    let pem = crate::support::github::app_pem();
    let e = fake
        .client_with(Auth::App {
            app_id: 1,
            private_key: SecretString::from(pem),
            installation_id: Some(7),
        })
        .unwrap_err();
    assert!(matches!(e, Error::Unprocessable { .. }), "{e}");
    let help = e.help().unwrap();
    assert!(
        help.contains("lacks a permission") && help.contains("workflows: write"),
        "{help}"
    );
}
