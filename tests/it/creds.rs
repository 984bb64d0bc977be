//! Credentials against real components: a real OpenID Provider (node `oidc-provider`) for
//! RFC 7591/7592, a fake GitHub (wiremock fed by the official example payload) for the app
//! manifest flow, `openssl` and `ssh-keygen` as oracles for key fingerprints.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use mcb::creds::github_app::{self, AppOwner, Browser, ManifestParams};
use mcb::creds::oidc::{self, ClientMetadata, SecretPolicy};
use mcb::creds::{deploy_key, Error};
use mcb::{Env, Help};
use secrecy::{ExposeSecret, SecretString};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{fixtures, node_modules, tool, Service};

pub(crate) const IAT: &str = "it-initial-access-token";

fn env() -> Env {
    Env::seeded(42, time::macros::datetime!(2026-11-25 12:00:00 UTC))
}

pub(crate) fn oidc_provider(dir: &tempfile::TempDir) -> Service {
    let nm = node_modules();
    Service::start(
        "oidc-provider.sh",
        dir.path(),
        &["0", IAT],
        &[("OIDC_NODE_MODULES", nm.to_str().unwrap())],
    )
}

/// Whether the issuer accepts `id`/`secret` as client credentials (introspection needs
/// client authentication: 200 when it holds, 401 when not).
pub(crate) fn secret_authenticates(issuer: &str, id: &str, secret: &str) -> bool {
    let r = reqwest::blocking::Client::new()
        .post(format!("{issuer}/token/introspection"))
        .basic_auth(id, Some(secret))
        .form(&[("token", "not-a-token")])
        .send()
        .unwrap();
    r.status().is_success()
}

#[test]
fn oidc_register_read_update_delete_on_a_real_provider() {
    let dir = tempfile::tempdir().unwrap();
    let svc = oidc_provider(&dir);
    let issuer = svc.var("OIDC_ISSUER").to_owned();

    let meta = oidc::discover(&issuer).unwrap();
    assert_eq!(meta.issuer, issuer);
    assert_eq!(
        meta.registration_endpoint.as_deref(),
        Some(format!("{issuer}/reg").as_str())
    );

    let md = ClientMetadata::web("grafana", vec!["https://grafana.example.com/login".into()]);
    let iat = SecretString::from(IAT);
    let c = oidc::register(&issuer, Some(&iat), &md).unwrap();
    assert!(c
        .registration_client_uri
        .starts_with(&format!("{issuer}/reg/")));
    assert_eq!(c.metadata.redirect_uris, md.redirect_uris);
    let secret = c
        .client_secret
        .as_ref()
        .expect("confidential client has a secret");
    assert!(secret_authenticates(
        &issuer,
        &c.client_id,
        secret.expose_secret()
    ));
    assert!(!secret_authenticates(&issuer, &c.client_id, "wrong"));

    let read = oidc::read(&c).unwrap();
    assert_eq!(read.client_id, c.client_id);
    assert_eq!(read.metadata.client_name, "grafana");

    // Update: new redirect URIs, keep the secret.
    let mut md2 = md.clone();
    md2.redirect_uris
        .push("https://grafana2.example.com/login".into());
    let up = oidc::update(&c, &md2, SecretPolicy::Keep).unwrap();
    assert_eq!(up.metadata.redirect_uris, md2.redirect_uris);
    let kept = up.client_secret.as_ref().unwrap().expose_secret();
    assert!(secret_authenticates(&issuer, &up.client_id, kept));
    assert_eq!(
        oidc::read(&up).unwrap().metadata.redirect_uris,
        md2.redirect_uris
    );

    // Rotate: a successor is registered and the old client stays valid until it is
    // deleted (by `mcb rotate --finish`, once the rotation is merged).
    let old_secret = kept.to_owned();
    let rot = oidc::register_successor(&issuer, Some(&iat), &up).unwrap();
    let now = rot.client_secret.as_ref().unwrap().expose_secret();
    assert_ne!(now, old_secret);
    assert_ne!(rot.client_id, up.client_id, "a new client id per rotation");
    assert_eq!(rot.metadata.redirect_uris, md2.redirect_uris);
    assert!(secret_authenticates(&issuer, &rot.client_id, now));
    assert!(
        secret_authenticates(&issuer, &up.client_id, &old_secret),
        "the old client still works"
    );
    oidc::delete(&up).unwrap();
    assert!(!secret_authenticates(&issuer, &up.client_id, &old_secret));
    let gone = oidc::read(&up).unwrap_err();
    assert!(oidc::is_gone(&gone), "{gone}");

    // The Secret rotation reads back, and the inventory entry.
    let s = rot.secret("grafana", "monitoring");
    assert_eq!(s.name, "oidc-client-grafana");
    let keys: Vec<_> = s.data.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "client_id",
            "client_secret",
            "registration_access_token",
            "registration_client_uri"
        ]
    );
    let loaded = oidc::RegisteredClient::load(&s).unwrap();
    assert_eq!(loaded.client_id, rot.client_id);
    assert_eq!(loaded.metadata.redirect_uris, md2.redirect_uris);
    assert_eq!(
        loaded.client_secret.as_ref().unwrap().expose_secret(),
        now,
        "the stored secret survives a read"
    );
    let cred = rot.credential(&env(), "grafana", &issuer);
    assert_eq!(cred.kind, mcb::inventory::CredentialKind::OidcClient);
    // Issue #15: the fingerprint is of the secret, so the rotation shows in the inventory.
    assert_eq!(
        cred.fingerprint,
        mcb::creds::secret_fingerprint("oidc-client/grafana", rot.client_secret.as_ref().unwrap())
    );
    assert_ne!(
        cred.fingerprint,
        mcb::creds::sha256_hex(rot.client_id.as_bytes())
    );

    oidc::delete(&rot).unwrap();
    let gone = oidc::read(&rot).unwrap_err();
    assert!(
        matches!(gone, Error::Registration { status: 401, .. }),
        "{gone}"
    );
    assert!(!secret_authenticates(&issuer, &rot.client_id, now));
}

#[test]
fn oidc_wrong_initial_access_token_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let svc = oidc_provider(&dir);
    let issuer = svc.var("OIDC_ISSUER");
    let md = ClientMetadata::web("x", vec!["https://x.example.com/cb".into()]);
    let wrong = SecretString::from("not-the-token");
    let e = oidc::register(issuer, Some(&wrong), &md).unwrap_err();
    assert!(matches!(e, Error::Registration { status: 401, .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.starts_with(&format!("POST {issuer}/reg: the issuer answered 401")),
        "{msg}"
    );
    assert!(!msg.contains("not-the-token"), "token must not leak: {msg}");
    assert!(e.help().unwrap().contains("MCB_OIDC_INITIAL_ACCESS_TOKEN"));
    let e = oidc::register(issuer, None, &md).unwrap_err();
    assert!(matches!(e, Error::Registration { status: 401, .. }), "{e}");
}

/// A runtime whose worker threads serve wiremock while the test calls the sync API.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn oidc_issuer_without_registration_or_with_wrong_issuer_fails_clearly() {
    let rt = runtime();
    let server = rt.block_on(MockServer::start());
    let issuer = server.uri();
    let doc = serde_json::json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/auth"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
    });
    rt.block_on(
        Mock::given(method("GET"))
            .and(path("/.well-known/openid-configuration"))
            .respond_with(ResponseTemplate::new(200).set_body_json(doc))
            .mount(&server),
    );
    let md = ClientMetadata::web("x", vec!["https://x.example.com/cb".into()]);
    let e = oidc::register(&issuer, None, &md).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("issuer {issuer} does not support dynamic client registration (its discovery document has no registration_endpoint)")
    );
    assert!(e.help().unwrap().contains("static client"));

    // The same document asked for under another issuer path is refused (Discovery §4.3).
    rt.block_on(
        Mock::given(method("GET"))
            .and(path("/other/.well-known/openid-configuration"))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(serde_json::json!({"issuer": issuer})),
            )
            .mount(&server),
    );
    let e = oidc::discover(&format!("{issuer}/other")).unwrap_err();
    assert!(matches!(e, Error::IssuerMismatch { .. }), "{e}");
}

/// A browser that hands the URL to the test, which then plays the user and GitHub.
struct ChannelBrowser(mpsc::Sender<String>);

impl Browser for ChannelBrowser {
    fn open(&self, url: &str) -> Result<(), String> {
        self.0.send(url.to_owned()).map_err(|e| e.to_string())
    }
}

/// A fake GitHub API answering the manifest conversion for `code` with `status`.
fn fake_github(rt: &tokio::runtime::Runtime, code: &str, status: u16) -> MockServer {
    let server = rt.block_on(MockServer::start());
    let body =
        std::fs::read_to_string(fixtures().join("github/apps.create-from-manifest.json")).unwrap();
    let resp = if status == 201 {
        ResponseTemplate::new(201).set_body_raw(body, "application/json")
    } else {
        ResponseTemplate::new(status).set_body_json(serde_json::json!({
            "message": "Not Found",
            "documentation_url": "https://docs.github.com/rest/apps/apps#create-a-github-app-from-a-manifest"
        }))
    };
    rt.block_on(
        Mock::given(method("POST"))
            .and(path(format!("/app-manifests/{code}/conversions")))
            .and(header("accept", "application/vnd.github+json"))
            .respond_with(resp)
            .expect(1)
            .mount(&server),
    );
    server
}

/// Starts the flow on a thread; returns the local page URL and the flow's result handle.
fn start_flow(
    api: &str,
    owner: AppOwner,
) -> (
    String,
    std::thread::JoinHandle<Result<github_app::CreatedApp, Error>>,
) {
    let (tx, rx) = mpsc::channel();
    let mut p = ManifestParams::new("mcb-mgmt", "https://mcb.example.com", owner);
    p.web_base = "https://github.example.com".into();
    p.api_base = api.into();
    p.timeout = Duration::from_secs(30);
    let h = std::thread::spawn(move || github_app::create_app(&env(), &p, &ChannelBrowser(tx)));
    let url = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    (url, h)
}

fn html_unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Reads the page: the form's action and the manifest it posts.
pub(crate) fn read_page(url: &str) -> (String, serde_json::Value) {
    let page = reqwest::blocking::get(url).unwrap().text().unwrap();
    let attr = |name: &str| {
        let start = page.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
        html_unescape(&page[start..start + page[start..].find('"').unwrap()])
    };
    assert!(page.contains("method=\"post\""), "{page}");
    assert!(page.contains(".submit()"), "page posts itself: {page}");
    let manifest = serde_json::from_str(&attr("value")).unwrap();
    (attr("action"), manifest)
}

#[test]
fn github_app_manifest_flow_end_to_end() {
    let rt = runtime();
    let gh = fake_github(&rt, "abc123", 201);
    let (url, flow) = start_flow(&gh.uri(), AppOwner::Organization("acme".into()));
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");

    let (action, manifest) = read_page(&url);
    let state = action
        .strip_prefix("https://github.example.com/organizations/acme/settings/apps/new?state=")
        .unwrap_or_else(|| panic!("unexpected form action {action}"));
    assert!(state.len() >= 22, "state has 128 bits: {state}");
    assert_eq!(manifest["hook_attributes"]["active"], false);
    assert_eq!(manifest["name"], "mcb-mgmt");
    let redirect = manifest["redirect_url"].as_str().unwrap();
    assert_eq!(redirect, format!("{}callback", url));

    // GitHub redirects the browser back with the code and our state.
    let r = reqwest::blocking::get(format!("{redirect}?code=abc123&state={state}")).unwrap();
    assert_eq!(r.status(), 200);
    let app = flow.join().unwrap().unwrap();
    assert_eq!((app.id, app.slug.as_str()), (1, "octoapp"));
    assert_eq!(
        app.install_url,
        "https://github.com/apps/octoapp/installations/new"
    );
    assert_eq!(app.client_id, "Iv1.8a61f9b3a7aba766");
    assert!(app
        .private_key_pem
        .expose_secret()
        .starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    assert!(
        !format!("{app:?}").contains("BEGIN RSA"),
        "debug hides secrets"
    );

    // Import it for Flux; the fingerprint matches openssl's reading of the key.
    let imported = app.import(4242).unwrap();
    let pem_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(pem_file.path(), app.private_key_pem.expose_secret()).unwrap();
    assert_eq!(imported.fingerprint, openssl_fingerprint(pem_file.path()));
    let s = imported.flux_secret(
        "flux-system",
        "flux-system",
        "https://ghe.example.com/api/v3",
    );
    let keys: Vec<_> = s.data.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "githubAppBaseURL",
            "githubAppID",
            "githubAppInstallationID",
            "githubAppPrivateKey"
        ]
    );
    assert_eq!(s.data["githubAppInstallationID"].expose_secret(), b"4242");
    let s = imported.flux_secret("x", "flux-system", github_app::GITHUB_API);
    assert!(
        !s.data.contains_key("githubAppBaseURL"),
        "github.com needs no base URL"
    );
    let c = imported.credential(&env(), "octoapp");
    assert_eq!(c.kind, mcb::inventory::CredentialKind::GithubApp);
    assert_eq!(c.extra["appId"], "1");
}

/// `SHA256:` + base64 of the SHA-256 of the public key's DER, computed by openssl.
fn openssl_fingerprint(pem: &std::path::Path) -> String {
    let der = Command::new(tool("openssl"))
        .args(["pkey", "-pubout", "-outform", "DER", "-in"])
        .arg(pem)
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert!(der.status.success());
    use base64::Engine;
    use sha2::Digest;
    let d = sha2::Sha256::digest(&der.stdout);
    format!(
        "SHA256:{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(d)
    )
}

#[test]
fn github_app_flow_rejects_a_wrong_state() {
    let rt = runtime();
    let gh = rt.block_on(MockServer::start());
    let (url, flow) = start_flow(&gh.uri(), AppOwner::User);
    let (action, _) = read_page(&url);
    assert!(action.starts_with("https://github.example.com/settings/apps/new?state="));
    let r = reqwest::blocking::get(format!("{url}callback?code=abc&state=forged")).unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().unwrap().contains("state mismatch"));
    let e = flow.join().unwrap().unwrap_err();
    assert!(matches!(e, Error::StateMismatch), "{e}");
    assert!(
        rt.block_on(gh.received_requests()).unwrap().is_empty(),
        "no code exchange"
    );
}

#[test]
fn github_app_expired_code_gives_a_clear_error() {
    let rt = runtime();
    for status in [404, 422] {
        let gh = fake_github(&rt, "old", status);
        let e = github_app::exchange_code(&gh.uri(), "old").unwrap_err();
        assert!(matches!(e, Error::ManifestCodeExpired { .. }), "{e}");
        assert!(
            e.to_string().contains("expired (codes live one hour)"),
            "{e}"
        );
        assert!(e.help().unwrap().contains("run the manifest flow again"));
    }
}

#[test]
fn dex_static_clients_match_dex_config_shape_and_hold_no_secret() {
    let shape: serde_json::Value = serde_saphyr::from_str(
        &std::fs::read_to_string(fixtures().join("dex/config-shape.yaml")).unwrap(),
    )
    .unwrap();
    let clients = [
        oidc::StaticClient {
            id: "grafana".into(),
            name: "Grafana".into(),
            redirect_uris: vec!["https://grafana.example.com/login/generic_oauth".into()],
            public: false,
        },
        oidc::StaticClient {
            id: "argo-cd".into(),
            name: "Argo CD".into(),
            redirect_uris: vec!["https://argocd.example.com/auth/callback".into()],
            public: false,
        },
        oidc::StaticClient {
            id: "kubectl".into(),
            name: "kubectl".into(),
            redirect_uris: vec!["http://localhost:8000".into()],
            public: true,
        },
    ];
    let out = oidc::dex_static_clients(&Env::system(), &clients, &BTreeMap::new()).unwrap();
    let yaml = out.static_clients_yaml();

    // No generated secret appears in the config, in any form.
    assert_eq!(out.secret.data.len(), 2);
    for v in out.secret.data.values() {
        let v = std::str::from_utf8(v.expose_secret()).unwrap();
        assert_eq!(v.len(), 43, "32 random bytes in base64url");
        assert!(v
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert!(
            !yaml.contains(v) && !yaml.contains(&v[..16]),
            "secret leaked"
        );
    }
    assert_eq!(
        out.secret
            .data
            .keys()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        ["DEX_CLIENT_ARGO_CD_SECRET", "DEX_CLIENT_GRAFANA_SECRET"]
    );

    // Every entry fits Dex's Client shape and its required-field rules.
    let doc: serde_json::Value = serde_saphyr::from_str(&yaml).unwrap();
    let fields = shape["staticClient"]["fields"].as_object().unwrap();
    for entry in doc["staticClients"].as_array().unwrap() {
        let e = entry.as_object().unwrap();
        for (k, v) in e {
            let ty = fields
                .get(k)
                .unwrap_or_else(|| panic!("`{k}` is not a Dex client field"));
            let ok = match ty {
                serde_json::Value::String(t) if t == "string" => v.is_string(),
                serde_json::Value::String(t) if t == "bool" => v.is_boolean(),
                serde_json::Value::Array(_) => v
                    .as_array()
                    .is_some_and(|a| a.iter().all(|x| x.is_string())),
                _ => false,
            };
            assert!(ok, "`{k}` has the wrong type in {entry}");
        }
        let public = e.get("public").and_then(|v| v.as_bool()).unwrap_or(false);
        let rules = [("oneOf", false), ("oneOfUnlessPublic", public)];
        for (rule, exempt) in rules {
            for pair in shape["staticClient"][rule].as_array().unwrap() {
                let n = pair
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|k| e.contains_key(k.as_str().unwrap()))
                    .count();
                assert!(n <= 1, "{pair} are exclusive: {entry}");
                assert!(n == 1 || exempt, "{entry} needs one of {pair}");
            }
        }
    }
    // The connector reference is the `$VAR` Dex expands.
    assert_eq!(
        shape["connectorExample"]["config"]["clientSecret"],
        oidc::connector_secret_ref("github")
    );
}

#[test]
fn deploy_key_matches_ssh_keygen_and_clones_over_real_sshd() {
    let k = deploy_key::generate(&Env::system(), "flux", "flux@mgmt").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pub_file = dir.path().join("deploy.pub");
    std::fs::write(&pub_file, format!("{}\n", k.public_openssh)).unwrap();
    let sshd_dir = dir.path().join("sshd");
    let sshd = Service::start(
        "git-sshd.sh",
        &sshd_dir,
        &["0", pub_file.to_str().unwrap()],
        &[],
    );
    let known_hosts = std::fs::read_to_string(sshd_dir.join("known_hosts")).unwrap();
    let secret = k.flux_secret("flux-system", "flux-system", &known_hosts);

    // Write the Secret's files as source-controller would mount them.
    let mount = dir.path().join("mount");
    std::fs::create_dir(&mount).unwrap();
    for (name, v) in &secret.data {
        std::fs::write(mount.join(name), v.expose_secret()).unwrap();
    }
    let id = mount.join("identity");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&id, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let keygen = |args: &[&str]| {
        let o = Command::new(tool("ssh-keygen"))
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    // ssh-keygen derives the same public key from our private key file…
    let derived = keygen(&["-y", "-f", id.to_str().unwrap()]);
    assert_eq!(derived.trim(), k.public_openssh);
    // …and prints the fingerprint the inventory holds.
    let fp = keygen(&[
        "-l",
        "-E",
        "sha256",
        "-f",
        mount.join("identity.pub").to_str().unwrap(),
    ]);
    assert!(fp.contains(&k.fingerprint), "{fp} vs {}", k.fingerprint);
    assert_eq!(k.credential(&env()).fingerprint, k.fingerprint);

    // The key and known_hosts from the Secret authenticate a real clone over SSH.
    let git = tool("git");
    let bare = sshd_dir.join("repos/acme/config.git");
    let init = Command::new(&git)
        .args(["init", "-q", "--bare", "-b", "main"])
        .arg(&bare)
        .status()
        .unwrap();
    assert!(init.success());
    let ssh = format!(
        "ssh -i {} -o IdentitiesOnly=yes -o UserKnownHostsFile={} -o StrictHostKeyChecking=yes -o BatchMode=yes",
        id.display(),
        mount.join("known_hosts").display()
    );
    let out = Command::new(&git)
        .args(["clone", "-q"])
        .arg(format!("{}/acme/config.git", sshd.var("GIT_SSH_URL")))
        .arg(dir.path().join("clone"))
        .env("GIT_SSH_COMMAND", &ssh)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "clone failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A different key is refused, so the clone above proves this key was used.
    let other = deploy_key::generate(&Env::system(), "other", "x").unwrap();
    std::fs::write(&id, other.private_openssh.expose_secret()).unwrap();
    let out = Command::new(&git)
        .args(["ls-remote"])
        .arg(format!("{}/acme/config.git", sshd.var("GIT_SSH_URL")))
        .env("GIT_SSH_COMMAND", &ssh)
        .output()
        .unwrap();
    assert!(!out.status.success(), "a foreign key must be refused");
}

#[test]
fn github_app_flow_times_out_clearly() {
    let (tx, _rx) = mpsc::channel();
    let mut p = ManifestParams::new("mcb", "https://mcb.example.com", AppOwner::User);
    p.api_base = "http://127.0.0.1:9".into();
    p.timeout = Duration::from_secs(1);
    let e = github_app::create_app(&env(), &p, &ChannelBrowser(tx)).unwrap_err();
    assert!(matches!(e, Error::CallbackTimeout { seconds: 1 }), "{e}");
}
