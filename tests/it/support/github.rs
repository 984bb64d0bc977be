//! A fake GitHub API on 127.0.0.1 (wiremock), driven from synchronous tests, serving the
//! official example payloads in `fixtures/github/`.

use mcb::forge::{Auth, Error, GitHub, GitHubConfig, RepoSlug, RetryPolicy};
use secrecy::SecretString;
use serde_json::Value;
use wiremock::{Mock, MockServer};

/// The repo every fixture is about.
pub const REPO: &str = "/repos/octocat/Hello-World";
/// The token tests authenticate with.
pub const TOKEN: &str = "ghp_test_token_123";

/// The clock the fixtures' tokens are checked against.
pub fn now() -> time::OffsetDateTime {
    time::macros::datetime!(2026-11-25 12:00:00 UTC)
}

/// `fixtures/github/<name>` as JSON.
pub fn fixture(name: &str) -> Value {
    let p = super::fixtures().join("github").join(name);
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
}

/// The private key of GitHub's example app (`apps.create-from-manifest.json`), PEM.
pub fn app_pem() -> String {
    fixture("apps.create-from-manifest.json")["pem"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// [`app_pem`] written to `dir/app.pem`, for `--private-key-file`.
pub fn app_pem_file(dir: &std::path::Path) -> std::path::PathBuf {
    let p = dir.join("app.pem");
    std::fs::write(&p, app_pem()).unwrap();
    p
}

/// A wiremock server driven from synchronous tests (the forge client has its own runtime).
pub struct Fake {
    pub rt: tokio::runtime::Runtime,
    pub server: MockServer,
}

impl Fake {
    pub fn start() -> Fake {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        // not pooled: dropping it really closes the port
        let server = rt.block_on(MockServer::builder().start());
        Fake { rt, server }
    }

    /// A fake with no open pull request that accepts creating one (`pulls.create.json`).
    pub fn accepting_a_new_pull_request() -> Fake {
        use wiremock::matchers::{method, path};
        use wiremock::ResponseTemplate;
        let fake = Fake::start();
        fake.mount(
            Mock::given(method("GET"))
                .and(path(format!("{REPO}/pulls")))
                .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!([]))),
        );
        fake.mount(
            Mock::given(method("POST"))
                .and(path(format!("{REPO}/pulls")))
                .respond_with(
                    ResponseTemplate::new(201).set_body_json(fixture("pulls.create.json")),
                ),
        );
        fake
    }

    /// `--push --pr` flags aimed at this fake (with `GITHUB_TOKEN` set on `c`).
    pub fn publish_to(&self, c: &mut std::process::Command) {
        c.env("GITHUB_TOKEN", TOKEN)
            .args(["--push", "--pr"])
            .args(self.aim());
    }

    /// The flags that aim `--pr` at this fake: `--github-repo`, `--github-api`.
    pub fn aim(&self) -> [String; 4] {
        [
            "--github-repo".into(),
            "octocat/Hello-World".into(),
            "--github-api".into(),
            self.server.uri(),
        ]
    }

    /// The body of the only `POST …/pulls` received (the created pull request); fails
    /// otherwise.
    pub fn the_created_pull_request(&self) -> Value {
        let reqs = self.requests();
        let creates: Vec<_> = reqs
            .iter()
            .filter(|r| r.method.as_str() == "POST" && r.url.path().ends_with("/pulls"))
            .collect();
        assert_eq!(creates.len(), 1, "expected exactly one POST …/pulls");
        serde_json::from_slice(&creates[0].body).unwrap()
    }

    pub fn mount(&self, m: Mock) {
        self.rt.block_on(m.mount(&self.server));
    }

    pub fn client_with(&self, auth: Auth) -> Result<GitHub, Error> {
        self.client_at(&self.server.uri(), auth)
    }

    pub fn client_at(&self, api: &str, auth: Auth) -> Result<GitHub, Error> {
        GitHub::connect(
            GitHubConfig {
                api: api.to_owned(),
                repo: RepoSlug::parse("octocat/Hello-World").unwrap(),
                auth,
                needs: Default::default(),
                retry: RetryPolicy::default(),
            },
            now(),
        )
    }

    pub fn client(&self) -> GitHub {
        self.client_with(Auth::Token(SecretString::from(TOKEN.to_owned())))
            .unwrap()
    }

    pub fn requests(&self) -> Vec<wiremock::Request> {
        self.rt
            .block_on(self.server.received_requests())
            .unwrap_or_default()
    }

    pub fn verify(&self) {
        self.rt.block_on(self.server.verify());
    }
}
