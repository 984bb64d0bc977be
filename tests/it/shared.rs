//! `mcb shared import|rotate|list` and the shared copies `mcb render` places, end to end: a
//! config repo with installations made by `mcb init-installation`, an admin age key, the
//! real Go sops as the decryption oracle, kubectl kustomize and a fake GitHub API.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::json;

use crate::init::{config_repo, git, go_sops_decrypt};
use crate::support::github::Fake;
use crate::support::{run, tool, Run, TestEnv};

/// A repo, the admin key every spec lists in `sops.recipients`, and the installations.
struct Fixture {
    t: TestEnv,
    repo: PathBuf,
    admin: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let t = TestEnv::new();
        let repo = config_repo(&t);
        let admin = t.path().join("admin.agekey");
        let mut kg = t.command("age-keygen");
        kg.arg("-o").arg(&admin);
        run(kg).ok();
        Fixture { t, repo, admin }
    }

    fn admin_recipient(&self) -> String {
        let text = std::fs::read_to_string(&self.admin).unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix("# public key: "))
            .unwrap()
            .to_owned()
    }

    fn key(&self, name: &str) -> PathBuf {
        self.t.path().join(format!("{name}.agekey"))
    }

    /// `mcb init-installation NAME` with a small spec using `shared` (its own seed, so
    /// every installation gets its own age key).
    fn init(&self, name: &str, seed: &str, shared: &str) {
        let spec = self.t.path().join(format!("{name}.yaml"));
        std::fs::write(
            &spec,
            format!(
                "apiVersion: mcb/v1alpha1\nkind: Installation\nname: {name}\nbaseDomain: {name}.example.com\n\
                 provider:\n  capa:\n    region: eu-central-1\ngit:\n  url: ssh://git@github.com/example/mc\n\
                 sops:\n  recipients:\n    - {}\n{shared}",
                self.admin_recipient()
            ),
        )
        .unwrap();
        self.land();
        let mut c = self.mcb();
        c.env("MCB_INSECURE_TEST_SEED", seed)
            .args(["init-installation", name, "--spec"])
            .arg(&spec)
            .arg("--age-key-out")
            .arg(self.key(name));
        run(c).ok();
        self.land();
    }

    /// The checked-out mcb branch merged into main, main checked out (its PR merged): mcb
    /// starts new branches from the default branch.
    fn land(&self) {
        let current = self.git(&["branch", "--show-current"]);
        let current = current.trim();
        if current != "main" {
            self.git(&["switch", "-q", "main"]);
            self.git(&["merge", "-q", "--ff-only", current]);
        }
    }

    /// `mcb --repo REPO` with the admin key in SOPS_AGE_KEY_FILE.
    fn mcb(&self) -> Command {
        let mut c = self.t.mcb();
        c.env("SOPS_AGE_KEY_FILE", &self.admin)
            .arg("--repo")
            .arg(&self.repo);
        c
    }

    fn shared(&self, args: &[&str], stdin: &str) -> Run {
        let mut c = self.mcb();
        c.arg("shared").args(args);
        with_stdin(c, stdin)
    }

    fn file(&self, rel: &str) -> PathBuf {
        self.repo.join(rel)
    }

    fn bytes(&self, rel: &str) -> Vec<u8> {
        std::fs::read(self.file(rel)).unwrap_or_default()
    }

    /// The Go sops' plaintext of `rel` with only `key`.
    fn decrypt(&self, rel: &str, key: &Path) -> Run {
        go_sops_decrypt(&self.t, &self.file(rel), key)
    }

    fn git(&self, args: &[&str]) -> String {
        git(&self.t, &self.repo, args)
    }
}

fn with_stdin(mut c: Command, input: &str) -> Run {
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    Run {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

const SHARED: &str = "shared/secrets/registry.sops.yaml";
const USES_REGISTRY: &str = "sharedSecrets:\n  - registry\n";

fn copy(inst: &str) -> String {
    format!("installations/{inst}/secrets/shared/registry.sops.yaml")
}

#[test]
fn two_installations_each_read_only_their_own_copy_and_rotation_touches_only_them() {
    let f = Fixture::new();
    f.init("alpha", "1", USES_REGISTRY);
    f.init(
        "beta",
        "2",
        "sharedSecrets:\n  - name: registry\n    namespace: ci\n    secretName: pull\n    keys: {password: token}\n",
    );
    f.init("gamma", "3", "");

    let r = f
        .shared(
            &["import", "registry"],
            "username: bot\npassword: hunter2-old\n",
        )
        .ok();
    assert!(
        r.stdout.contains("installations: alpha, beta"),
        "{}",
        r.stdout
    );
    assert_eq!(
        f.git(&["branch", "--show-current"]).trim(),
        "mcb/shared-registry"
    );
    assert_eq!(f.git(&["status", "--porcelain"]), "");

    // The shared file: admins and both users read it; gamma (not a user) cannot.
    let plain = f.decrypt(SHARED, &f.admin).ok().stdout;
    assert!(
        plain.contains("kind: SharedSecret") && plain.contains("hunter2-old"),
        "{plain}"
    );
    for inst in ["alpha", "beta"] {
        f.decrypt(SHARED, &f.key(inst)).ok();
    }
    assert_ne!(f.decrypt(SHARED, &f.key("gamma")).code(), 0);

    // Each copy opens with its own installation's key and not with the other's.
    let a = f.decrypt(&copy("alpha"), &f.key("alpha")).ok().stdout;
    assert!(
        a.contains("name: registry") && a.contains("namespace: default"),
        "{a}"
    );
    assert!(
        a.contains(&b64("hunter2-old")) && a.contains(&b64("bot")),
        "{a}"
    );
    let b = f.decrypt(&copy("beta"), &f.key("beta")).ok().stdout;
    assert!(
        b.contains("name: pull") && b.contains("namespace: ci"),
        "{b}"
    );
    assert!(b.contains(&format!("token: {}", b64("hunter2-old"))), "{b}");
    assert!(
        !b.contains(&b64("bot")),
        "unmapped key leaked into beta: {b}"
    );
    let other = f.decrypt(&copy("alpha"), &f.key("beta"));
    assert_ne!(other.code(), 0, "beta's key opened alpha's copy");
    assert_ne!(f.decrypt(&copy("beta"), &f.key("alpha")).code(), 0);
    assert!(!f.file("installations/gamma/secrets/shared").exists());

    // Flux applies secrets/ and, through it, secrets/shared/.
    let mut c = f.t.command(tool("kubectl"));
    c.arg("kustomize")
        .arg(f.file("installations/alpha/secrets"));
    let out = run(c).ok().stdout;
    assert!(out.contains("name: registry"), "{out}");

    // Re-rendering changes nothing (byte-stable copies), and re-importing the same value
    // is a no-op.
    let mut c = f.mcb();
    c.args(["render", "--check"]);
    run(c).ok();
    // ...also with the repo given as a relative path (the sealer resolves it).
    let mut c = f.t.mcb();
    c.env("SOPS_AGE_KEY_FILE", &f.admin)
        .current_dir(f.repo.parent().unwrap())
        .args(["--repo", "repo", "render", "--check"]);
    run(c).ok();
    // ...also without any key (CI): the copies' clear facts show they are current.
    let mut c = f.t.mcb();
    c.arg("--repo").arg(&f.repo).args(["render", "--check"]);
    run(c).ok();
    // A changed mapping cannot be rendered without a key, and says so.
    let spec = f.file("installations/alpha/installation.yaml");
    let text = std::fs::read_to_string(&spec).unwrap();
    std::fs::write(
        &spec,
        text.replace("  - registry\n", "  - name: registry\n    namespace: ci\n"),
    )
    .unwrap();
    let mut c = f.t.mcb();
    c.arg("--repo").arg(&f.repo).args(["render", "--check"]);
    let r = run(c).fails_with(2);
    assert!(
        r.stderr.contains("no age identity opens it"),
        "{}",
        r.stderr
    );
    std::fs::write(&spec, text).unwrap();
    let head = f.git(&["rev-parse", "HEAD"]);
    f.shared(
        &["import", "registry"],
        "{\"password\": \"hunter2-old\", \"username\": \"bot\"}",
    )
    .ok();
    assert_eq!(f.git(&["rev-parse", "HEAD"]), head);

    // Rotation: exactly the shared file and the two users' copies change.
    let r = f
        .shared(
            &["rotate", "registry", "-o", "json"],
            "password: hunter2-new\n",
        )
        .ok();
    let report: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(report["changedKeys"], json!(["password"]));
    let changed = f.git(&["diff", "--name-only", "HEAD~1", "HEAD"]);
    let mut changed: Vec<&str> = changed.lines().collect();
    changed.sort();
    assert_eq!(
        changed,
        vec![copy("alpha"), copy("beta"), SHARED.to_owned()]
    );
    let a = f.decrypt(&copy("alpha"), &f.key("alpha")).ok().stdout;
    assert!(
        a.contains(&b64("hunter2-new")) && a.contains(&b64("bot")),
        "{a}"
    );
    let b = f.decrypt(&copy("beta"), &f.key("beta")).ok().stdout;
    assert!(b.contains(&b64("hunter2-new")), "{b}");

    // list: keys, users, when it changed; no values.
    let mut c = f.mcb();
    c.args(["shared", "list", "-o", "json"]);
    let out = run(c).ok().stdout;
    let listed: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(listed[0]["name"], "registry");
    assert_eq!(listed[0]["keys"], json!(["password", "username"]));
    assert_eq!(listed[0]["installations"], json!(["alpha", "beta"]));
    assert_eq!(listed[0]["lastChanged"], "2026-11-25T12:00:00Z");
    assert!(!out.contains("hunter2"));
}

#[test]
fn a_third_installation_rewraps_the_shared_file_without_changing_values() {
    let f = Fixture::new();
    f.init("alpha", "1", USES_REGISTRY);
    f.init("beta", "2", USES_REGISTRY);
    f.shared(&["import", "registry"], "token: abc123\n").ok();
    let before_plain = f.decrypt(SHARED, &f.admin).ok().stdout;
    let before_copies = (f.bytes(&copy("alpha")), f.bytes(&copy("beta")));
    f.decrypt(SHARED, &f.key("alpha")).ok();

    f.init("gamma", "3", USES_REGISTRY);
    // Until render re-wraps it, gamma cannot read the shared file, and check says so.
    assert_ne!(f.decrypt(SHARED, &f.key("gamma")).code(), 0);
    let check = |f: &Fixture| {
        let mut c = f.mcb();
        c.args(["check", "--skip", "kustomize-build"]);
        run(c)
    };
    let r = check(&f).fails_with(1);
    assert!(
        r.stdout.contains("shared-unreadable") && r.stdout.contains("installation gamma"),
        "{}",
        r.stdout
    );
    let mut c = f.mcb();
    c.args(["render", "-o", "json"]);
    let out = run(c).ok().stdout;
    let changes: serde_json::Value = serde_json::from_str(&out).unwrap();
    let mut paths: Vec<&str> = changes["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["path"].as_str().unwrap())
        .collect();
    paths.sort();
    assert_eq!(
        paths,
        vec![
            "installations/gamma/secrets/kustomization.yaml",
            "installations/gamma/secrets/shared/kustomization.yaml",
            "installations/gamma/secrets/shared/registry.sops.yaml",
            SHARED,
        ]
    );
    let r = check(&f);
    assert!(!r.stdout.contains("shared-unreadable"), "{}", r.stdout);
    // Same values, same lastmodified; now readable by gamma; the others' copies untouched.
    assert_eq!(f.decrypt(SHARED, &f.admin).ok().stdout, before_plain);
    assert_eq!(f.decrypt(SHARED, &f.key("gamma")).ok().stdout, before_plain);
    assert_eq!(
        (f.bytes(&copy("alpha")), f.bytes(&copy("beta"))),
        before_copies
    );
    let g = f.decrypt(&copy("gamma"), &f.key("gamma")).ok().stdout;
    assert!(g.contains(&b64("abc123")), "{g}");
    assert_ne!(f.decrypt(&copy("gamma"), &f.key("alpha")).code(), 0);

    // beta stops using it: its copy goes, the file is re-wrapped without beta, same values.
    let spec = f.file("installations/beta/installation.yaml");
    let text = std::fs::read_to_string(&spec).unwrap();
    std::fs::write(&spec, text.replace(USES_REGISTRY, "")).unwrap();
    // and alpha is removed from the repo altogether.
    std::fs::remove_dir_all(f.file("installations/alpha")).unwrap();
    let mut c = f.mcb();
    c.args(["render"]);
    run(c).ok();
    assert!(!f.file("installations/beta/secrets/shared").exists());
    let kust = String::from_utf8(f.bytes("installations/beta/secrets/kustomization.yaml")).unwrap();
    assert!(!kust.contains("shared"), "{kust}");
    assert_eq!(f.decrypt(SHARED, &f.admin).ok().stdout, before_plain);
    assert_eq!(f.decrypt(SHARED, &f.key("gamma")).ok().stdout, before_plain);
    for gone in ["alpha", "beta"] {
        assert_ne!(
            f.decrypt(SHARED, &f.key(gone)).code(),
            0,
            "{gone} still a recipient"
        );
    }
    let sops_yaml = String::from_utf8(f.bytes(".sops.yaml")).unwrap();
    assert!(!sops_yaml.contains("installations/alpha"), "{sops_yaml}");
}

#[test]
fn import_reads_yaml_json_dotenv_files_and_the_environment() {
    let f = Fixture::new();
    f.init("alpha", "1", USES_REGISTRY);
    let cases: Vec<(&str, Option<&str>, &str)> = vec![
        ("in.json", None, "{\"user\": \"u1\", \"pass\": \"p1\"}"),
        ("in.env", None, "user=u2\npass=p2\n"),
        ("in.yaml", None, "user: u3\npass: 'p3'\n"),
        ("in.txt", Some("dotenv"), "user=u4\npass=p4\n"),
    ];
    for (i, (file, format, text)) in cases.iter().enumerate() {
        let p = f.t.path().join(file);
        std::fs::write(&p, text).unwrap();
        let mut args = vec![
            "import",
            "registry",
            "--no-commit",
            "--from-file",
            p.to_str().unwrap(),
        ];
        if let Some(fmt) = format {
            args.extend(["--format", fmt]);
        }
        f.shared(&args, "").ok();
        let a = f.decrypt(&copy("alpha"), &f.key("alpha")).ok().stdout;
        let n = i + 1;
        assert!(
            a.contains(&format!("user: {}", b64(&format!("u{n}"))))
                && a.contains(&format!("pass: {}", b64(&format!("p{n}")))),
            "{file}: {a}"
        );
    }
    let mut c = f.mcb();
    c.env("REG_user", "u5").env("REG_pass", "p5").args([
        "shared",
        "import",
        "registry",
        "--no-commit",
        "--from-env",
        "REG_",
    ]);
    run(c).ok();
    let a = f.decrypt(&copy("alpha"), &f.key("alpha")).ok().stdout;
    assert!(a.contains(&b64("u5")) && a.contains(&b64("p5")), "{a}");
}

#[test]
fn malformed_input_is_a_clear_error_and_writes_nothing() {
    let f = Fixture::new();
    f.init("alpha", "1", USES_REGISTRY);
    let head = f.git(&["rev-parse", "HEAD"]);
    for (input, want) in [
        ("", "empty input"),
        ("a: [unclosed\n", "not valid YAML"),
        ("user: a\nuser: b\n", "duplicate key `user`"),
        ("{\"user\": \"a\", \"user\": \"b\"}", "duplicate key"),
        ("user: \"a\\u0007b\"\n", "control characters"),
        ("nested:\n  a: b\n", "nested map"),
    ] {
        let r = f.shared(&["import", "registry"], input).fails_with(2);
        assert!(r.stderr.contains(want), "{input:?}: {}", r.stderr);
        assert!(r.stderr.contains("<stdin>"), "{}", r.stderr);
        assert!(r.stderr.contains("help:"), "{}", r.stderr);
    }
    assert!(!f.file(SHARED).exists());
    assert_eq!(f.git(&["status", "--porcelain"]), "");
    assert_eq!(f.git(&["rev-parse", "HEAD"]), head);
    // rotate needs an existing shared secret.
    let r = f.shared(&["rotate", "registry"], "a: b\n").fails_with(2);
    assert!(
        r.stderr.contains("no shared secret registry"),
        "{}",
        r.stderr
    );
}

#[test]
fn rotate_opens_one_pull_request_listing_installations_and_keys_not_values() {
    let f = Fixture::new();
    f.init("alpha", "1", USES_REGISTRY);
    f.init("beta", "2", USES_REGISTRY);
    f.shared(
        &["import", "registry"],
        "username: bot\npassword: old-value-1\n",
    )
    .ok();
    let fake = Fake::accepting_a_new_pull_request();
    let mut c = f.mcb();
    c.args(["shared", "rotate", "registry"]);
    fake.publish_to(&mut c);
    let r = with_stdin(c, "password: new-value-2\n").ok();
    assert!(r.stdout.contains("pull request:"), "{}", r.stdout);
    let pr = fake.the_created_pull_request();
    assert_eq!(pr["head"], "mcb/shared-registry");
    let body = pr["body"].as_str().unwrap();
    assert!(body.contains("`alpha`, `beta`"), "{body}");
    assert!(body.contains("registry/password"), "{body}");
    assert!(
        !body.contains("registry/username"),
        "unchanged key listed: {body}"
    );
    for v in ["old-value-1", "new-value-2", &b64("new-value-2")] {
        assert!(!body.contains(v), "PR body leaks a value: {body}");
    }
}

/// Issue #18: one GitHub OAuth app's secret for every installation. Until it is imported,
/// `mcb check` fails each connector (`dex-connector-secret`) and `mcb status` shows it
/// missing; once imported, each installation's copy lands in namespace dex and Dex's
/// Deployment reads the connector's env var from it.
#[test]
fn dex_connector_secret_kept_once_for_all_installations() {
    let f = Fixture::new();
    let uses =
        "oidc:\n  connectors:\n    - id: github\n      type: github\n      name: GitHub\n      \
                config: {clientID: abc, orgs: [{name: example}]}\n      \
                clientSecret: {sharedSecret: dex-github, key: clientSecret}\n\
                sharedSecrets:\n  - {name: dex-github, namespace: dex}\n";
    f.init("alpha", "1", uses);
    f.init("beta", "2", uses);
    // These capa installations have no AWS credentials: that is `provider-credentials`
    // (tested in check.rs), not what this test is about.
    let check = |f: &Fixture| {
        let mut c = f.mcb();
        c.args([
            "check",
            "-o",
            "json",
            "--skip",
            "kustomize-build",
            "--skip",
            "provider-credentials",
        ]);
        run(c)
    };
    let status = |f: &Fixture| {
        let mut c = f.mcb();
        c.args(["status", "-o", "json"]);
        serde_json::from_str::<serde_json::Value>(&run(c).ok().stdout).unwrap()
    };
    let r = check(&f).fails_with(1);
    let report: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let missing: Vec<(&str, &str)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["rule"] == "dex-connector-secret")
        .map(|x| {
            (
                x["installation"].as_str().unwrap(),
                x["message"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(missing.len(), 2, "{missing:?}");
    assert!(
        missing[0].1.contains("mcb shared import dex-github"),
        "{missing:?}"
    );
    let s = status(&f);
    assert_eq!(
        s[0]["connectors"],
        json!([{"id": "github", "file": "shared/secrets/dex-github.sops.yaml", "key": "clientSecret", "source": "shared", "present": false}])
    );

    f.shared(&["import", "dex-github"], "clientSecret: gh-oauth-secret\n")
        .ok();
    let r = check(&f).ok();
    assert!(r.stdout.contains("\"findings\""), "{}", r.stdout);
    assert!(!r.stdout.contains("dex-connector-secret"), "{}", r.stdout);
    assert_eq!(status(&f)[1]["connectors"][0]["present"], true);
    for inst in ["alpha", "beta"] {
        let copy = format!("installations/{inst}/secrets/shared/dex-github.sops.yaml");
        let plain = f.decrypt(&copy, &f.key(inst)).ok().stdout;
        assert!(
            plain.contains("name: dex-github") && plain.contains("namespace: dex"),
            "{plain}"
        );
        assert!(
            plain.contains(&format!("clientSecret: {}", b64("gh-oauth-secret"))),
            "{plain}"
        );
        let mut c = f.t.command(tool("kubectl"));
        c.arg("kustomize")
            .arg(f.file(&format!("installations/{inst}/manifests/apps")));
        let apps = run(c).ok().stdout;
        assert!(!apps.contains("gh-oauth-secret"));
        // Dex's chart, rendered with the HelmRelease's values, reads it from that Secret.
        let apps: Vec<serde_json::Value> = serde_saphyr::from_multiple(&apps).unwrap();
        let chart = crate::dex::helm_template(&f.t, crate::dex::dex_release(&apps));
        let dex = crate::dex::get(&chart, "Deployment", "dex");
        let env = &dex["spec"]["template"]["spec"]["containers"][0]["env"];
        assert_eq!(
            env,
            &json!([{"name": "DEX_CONNECTOR_GITHUB_CLIENT_SECRET",
                     "valueFrom": {"secretKeyRef": {"key": "clientSecret", "name": "dex-github"}}}]),
            "{inst}"
        );
    }
}

/// Issue #19: `render --check` and `check`'s render-drift call one planner, so they report
/// the same files on the same repo. (Before, with two installations using a shared secret,
/// `check` reported drift on every installation's `secrets/kustomization.yaml` where `render
/// --check` said up to date, and it did not see a missing shared copy.) Here: three
/// installations, one with a shared secret and two without; clean; a template override that
/// adds a file and one that replaces a built-in; a hand edit and a stale file in one
/// installation's `manifests/`; a spec change (a second user of the shared secret). A shared
/// file to re-wrap for a new user is check's `shared-unreadable`.
#[test]
fn render_check_and_check_report_the_same_files() {
    use std::collections::BTreeSet;
    let f = Fixture::new();
    let uses = "sharedSecrets:\n  - {name: registry, namespace: flux-system}\n";
    f.init("alpha", "1", uses);
    f.init("beta", "2", "");
    f.init("gamma", "3", "");
    f.shared(&["import", "registry"], "username: u\npassword: p\n")
        .ok();
    let both = |f: &Fixture| -> (BTreeSet<String>, BTreeSet<String>) {
        let mut c = f.mcb();
        c.args(["render", "--check", "-o", "json"]);
        let render = run(c);
        let out: serde_json::Value = serde_json::from_str(&render.stdout).unwrap();
        let changes: BTreeSet<String> = out["changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["path"].as_str().unwrap().to_owned())
            .collect();
        let want_code = if changes.is_empty() { 0 } else { 1 };
        assert_eq!(render.status.code(), Some(want_code), "{}", render.stderr);
        let mut c = f.mcb();
        c.args(["check", "-o", "json", "--skip", "kustomize-build"]);
        let report: serde_json::Value = serde_json::from_str(&run(c).stdout).unwrap();
        let drift = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| {
                ["render-drift", "shared-unreadable"].contains(&x["rule"].as_str().unwrap())
            })
            .map(|x| x["file"].as_str().unwrap().to_owned())
            .collect();
        (changes, drift)
    };
    let agree = |f: &Fixture, what: &str| -> BTreeSet<String> {
        let (render, check) = both(f);
        assert_eq!(render, check, "{what}: render --check vs check");
        render
    };
    assert!(agree(&f, "clean").is_empty());

    // An override that adds a file to every installation's apps layer.
    std::fs::create_dir_all(f.file("templates/manifests/apps/extra")).unwrap();
    std::fs::write(
        f.file("templates/manifests/apps/extra/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n  namespace: default\n",
    )
    .unwrap();
    let changed = agree(&f, "added template");
    for inst in ["alpha", "beta", "gamma"] {
        for p in ["apps/extra/cm.yaml", "apps/kustomization.yaml"] {
            let p = format!("installations/{inst}/manifests/{p}");
            assert!(changed.contains(&p), "{p} in {changed:?}");
        }
    }
    std::fs::remove_dir_all(f.file("templates")).unwrap();

    // An override that replaces a built-in template.
    let builtin =
        std::fs::read_to_string(crate::support::root().join("templates/manifests/namespaces.yaml"))
            .unwrap();
    std::fs::create_dir_all(f.file("templates/manifests")).unwrap();
    std::fs::write(
        f.file("templates/manifests/namespaces.yaml"),
        format!("{builtin}\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: extra\n"),
    )
    .unwrap();
    assert_eq!(agree(&f, "replaced template").len(), 3);
    std::fs::remove_dir_all(f.file("templates")).unwrap();
    assert!(agree(&f, "overrides gone").is_empty());

    // A hand edit and a stale file in one installation.
    let ns = f.file("installations/gamma/manifests/namespaces.yaml");
    let text = std::fs::read_to_string(&ns).unwrap();
    std::fs::write(&ns, format!("{text}# edited\n")).unwrap();
    std::fs::write(
        f.file("installations/gamma/manifests/stale.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: stale\n",
    )
    .unwrap();
    let changed = agree(&f, "hand edit and stale file");
    assert_eq!(
        changed,
        BTreeSet::from([
            "installations/gamma/manifests/namespaces.yaml".to_owned(),
            "installations/gamma/manifests/stale.yaml".to_owned(),
        ])
    );
    std::fs::write(&ns, text).unwrap();
    std::fs::remove_file(f.file("installations/gamma/manifests/stale.yaml")).unwrap();

    // A spec change: a second user of the shared secret.
    let spec = f.file("installations/beta/installation.yaml");
    let text = std::fs::read_to_string(&spec).unwrap();
    std::fs::write(&spec, format!("{text}{uses}")).unwrap();
    let changed = agree(&f, "spec change");
    assert!(
        changed.contains("installations/beta/secrets/kustomization.yaml"),
        "{changed:?}"
    );
}

/// Issue #19 item 5: the progress bar is for a terminal. With stderr a pipe (CI, a log)
/// `init-installation`, `check` over several installations and a `rotate` of several
/// credentials print their usual lines and no bar; `-o json` prints the report alone.
#[test]
fn no_progress_bar_when_stderr_is_not_a_terminal() {
    let f = Fixture::new();
    f.init("alpha", "1", "");
    let spec = f.t.path().join("beta.yaml");
    std::fs::write(
        &spec,
        std::fs::read_to_string(f.t.path().join("alpha.yaml"))
            .unwrap()
            .replace("name: alpha", "name: beta")
            .replace("alpha.example", "beta.example"),
    )
    .unwrap();
    let quiet_about_progress = |what: &str, r: &Run| {
        for bar in [
            "initialising",
            "installations checked",
            "credentials rotated",
            "\r",
            "\x1b[",
        ] {
            assert!(!r.stderr.contains(bar), "{what}: {bar:?} in {}", r.stderr);
        }
    };
    let mut c = f.mcb();
    c.env("MCB_INSECURE_TEST_SEED", "2")
        .args(["init-installation", "beta", "--no-commit", "--spec"])
        .arg(&spec)
        .arg("--age-key-out")
        .arg(f.key("beta"));
    let r = run(c).ok();
    assert!(r.stderr.contains("age key"), "{}", r.stderr);
    quiet_about_progress("init", &r);
    let mut c = f.mcb();
    c.args(["check", "--skip", "kustomize-build"]);
    quiet_about_progress("check", &run(c));
    let mut c = f.mcb();
    c.args(["check", "-o", "json", "--skip", "kustomize-build"]);
    let r = run(c);
    quiet_about_progress("check -o json", &r);
    let report: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(report["installations"].as_array().unwrap().len(), 2);
    let mut c = f.mcb();
    c.args([
        "-v",
        "rotate",
        "alpha",
        "--only",
        "kubeconfig/admin",
        "--only",
        "sops-data-keys",
        "--dry-run",
    ]);
    let r = run(c).ok();
    assert!(
        r.stderr.contains("rotating kubeconfig/admin"),
        "{}",
        r.stderr
    );
    quiet_about_progress("rotate", &r);
}
