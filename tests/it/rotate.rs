//! `mcb rotate` end to end: an installation made by `mcb init-installation --example`, then
//! each kind of rotation; the real Go sops and openssl check the result, and every file
//! that should not change is compared byte for byte.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use base64::Engine;

use mcb::creds::oidc::{self, ClientMetadata};
use mcb::inventory::Inventory;
use secrecy::{ExposeSecret, SecretString};

use crate::creds::{oidc_provider, secret_authenticates, IAT};
use crate::init::{config_repo, git, go_sops_decrypt, init, init_with_spec, secret_files};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::support::github::{fixture, Fake, REPO, TOKEN};
use crate::support::{run, tool, Run, TestEnv};

/// A fresh installation `demo`, its init branch merged into main and main checked out
/// (rotations start from the default branch), and its key file.
pub(crate) fn installation() -> (TestEnv, PathBuf, PathBuf) {
    let t = TestEnv::new();
    let repo = config_repo(&t);
    let key = t.path().join("demo.agekey");
    init(&t, &repo, &key, &[]).ok();
    merge_locally(&t, &repo, "mcb/init-demo");
    (t, repo, key)
}

/// Merges `branch` into the local main and checks main out (the reviewed PR merged).
pub(crate) fn merge_locally(t: &TestEnv, repo: &Path, branch: &str) {
    git(t, repo, &["switch", "-q", "main"]);
    git(t, repo, &["merge", "-q", "--ff-only", branch]);
}

/// `mcb rotate demo ARGS`, with another seed than init's so new material differs.
pub(crate) fn rotate(t: &TestEnv, repo: &Path, args: &[&str]) -> Run {
    let mut c = t.mcb();
    c.env("MCB_INSECURE_TEST_SEED", "43")
        .arg("--repo")
        .arg(repo)
        .args(["rotate", "demo"])
        .args(args);
    run(c)
}

/// `kind/id` of each line of a rotate report's `rotated`.
pub(crate) fn rotated_names(report: &serde_json::Value) -> Vec<String> {
    report["rotated"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{}/{}",
                c["kind"].as_str().unwrap(),
                c["id"].as_str().unwrap()
            )
        })
        .collect()
}

/// `mcb rotate demo --only WHAT --age-key-file KEY`.
fn rotate_only(t: &TestEnv, repo: &Path, what: &str, key: &str) -> Run {
    rotate(t, repo, &["--only", what, "--age-key-file", key])
}

/// Every file of the work tree (not .git), by relative path.
pub(crate) fn snapshot(repo: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![repo.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.file_name().unwrap() == ".git" {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(repo).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// Paths whose bytes differ (or that appeared or vanished).
pub(crate) fn changed(
    a: &BTreeMap<String, Vec<u8>>,
    b: &BTreeMap<String, Vec<u8>>,
) -> BTreeSet<String> {
    a.keys()
        .chain(b.keys())
        .filter(|k| a.get(*k) != b.get(*k))
        .cloned()
        .collect()
}

pub(crate) fn set(paths: &[&str]) -> BTreeSet<String> {
    paths
        .iter()
        .map(|p| format!("installations/demo/{p}"))
        .collect()
}

/// A decrypted Secret's data value `key` (Go sops, JSON output).
pub(crate) fn secret_value(t: &TestEnv, file: &Path, age_key: &Path, key: &str) -> Vec<u8> {
    let mut c = t.command(tool("sops"));
    c.env("SOPS_AGE_KEY_FILE", age_key)
        .args(["decrypt", "--output-type", "json"])
        .arg(file);
    let out = run(c).ok();
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let b64 = v["data"][key].as_str().unwrap_or_else(|| panic!("{key}"));
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap()
}

pub(crate) fn secrets_file(repo: &Path, name: &str) -> PathBuf {
    repo.join(format!("installations/demo/secrets/{name}.sops.yaml"))
}

/// The PEM inside a kubeconfig's `client-certificate-data`.
fn client_cert(kubeconfig: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(kubeconfig);
    let b64 = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("client-certificate-data: "))
        .unwrap();
    base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .unwrap()
}

#[test]
fn kubeconfig_admin_is_reissued_from_the_same_ca_and_nothing_else_changes() {
    let (t, repo, key) = installation();
    let kc_file = secrets_file(&repo, "demo-kubeconfig-admin");
    let old_kc = secret_value(&t, &kc_file, &key, "value");
    let before = snapshot(&repo);
    let key_arg = key.to_str().unwrap();
    let r = rotate_only(&t, &repo, "kubeconfig/admin", key_arg).ok();
    assert!(r.stdout.contains("kubeconfig/admin"), "{}", r.stdout);
    let after = snapshot(&repo);
    assert_eq!(
        changed(&before, &after),
        set(&[
            "credentials.yaml",
            "secrets/demo-kubeconfig-admin.sops.yaml"
        ])
    );
    assert_eq!(
        git(&t, &repo, &["branch", "--show-current"]).trim(),
        "mcb/rotate-demo-kubeconfig-admin"
    );
    assert_eq!(git(&t, &repo, &["status", "--porcelain"]), "");

    // The new client cert verifies against the unchanged CA (openssl), and is new.
    let new_kc = secret_value(&t, &kc_file, &key, "value");
    assert_ne!(client_cert(&old_kc), client_cert(&new_kc));
    let ca = secret_value(&t, &secrets_file(&repo, "demo-ca"), &key, "tls.crt");
    let (ca_pem, cert_pem) = (t.path().join("ca.pem"), t.path().join("cert.pem"));
    std::fs::write(&ca_pem, ca).unwrap();
    std::fs::write(&cert_pem, client_cert(&new_kc)).unwrap();
    let mut c = t.command("openssl");
    c.args(["verify", "-CAfile"]).arg(&ca_pem).arg(&cert_pem);
    assert!(run(c).ok().stdout.contains(": OK"));

    // The inventory says when and what: rotated time, new fingerprint.
    let inv = String::from_utf8(after["installations/demo/credentials.yaml"].clone()).unwrap();
    let entry = inv
        .split("- kind:")
        .find(|e| e.contains("id: admin"))
        .unwrap();
    assert!(
        entry.contains("rotated: \"2026-11-25T12:00:00Z\""),
        "{entry}"
    );
    let old_inv = String::from_utf8(before["installations/demo/credentials.yaml"].clone()).unwrap();
    let old_entry = old_inv
        .split("- kind:")
        .find(|e| e.contains("id: admin"))
        .unwrap();
    assert_ne!(entry, old_entry);

    // Re-running on the branch adds a commit there (the same PR is updated).
    rotate_only(&t, &repo, "kubeconfig/admin", key_arg).ok();
    let branches = git(&t, &repo, &["branch", "--list", "mcb/rotate-*"]);
    assert_eq!(branches.lines().count(), 1, "{branches}");
    let commits = git(
        &t,
        &repo,
        &[
            "rev-list",
            "--count",
            "mcb/init-demo..mcb/rotate-demo-kubeconfig-admin",
        ],
    );
    assert!(matches!(commits.trim(), "1" | "2"), "{commits}");
}

#[test]
fn due_within_picks_what_expires_and_nothing_else() {
    let (t, repo, key) = installation();
    let key_arg = key.to_str().unwrap();
    // Right after init nothing expires within 30 days.
    let before = snapshot(&repo);
    let r = rotate(&t, &repo, &["--age-key-file", key_arg]).ok();
    assert!(r.stderr.contains("nothing of demo is due"), "{}", r.stderr);
    assert_eq!(changed(&before, &snapshot(&repo)), BTreeSet::new());

    // 340 days later (window 30 days) the admin kubeconfig (expires after 365 days), the
    // deploy key (maximum age 365 days) and the confidential OIDC clients (180 days) are
    // due; the CAs (10 years), the age key (730 days) and the public kubectl client (no
    // secret) are not.
    let mut c = t.mcb();
    c.env("MCB_INSECURE_TEST_SEED", "43")
        .env("MCB_TEST_NOW", "2027-10-31T12:00:00Z")
        .arg("--repo")
        .arg(&repo)
        .args(["rotate", "demo", "--age-key-file", key_arg, "-o", "json"]);
    let r = run(c).ok();
    let report: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let rotated = rotated_names(&report);
    assert_eq!(
        rotated,
        ["kubeconfig/admin", "oidc-client/grafana", "deploy-key/flux"]
    );
    for line in report["rotated"].as_array().unwrap() {
        assert_ne!(line["previous"], line["fingerprint"], "{line}");
    }
    assert_eq!(
        changed(&before, &snapshot(&repo)),
        set(&[
            "credentials.yaml",
            "manifests/apps/dex/release.yaml",
            "secrets/demo-kubeconfig-admin.sops.yaml",
            "secrets/dex-clients.sops.yaml",
            "secrets/flux-system.sops.yaml",
            "secrets/oidc-consumers/monitoring.grafana-oidc.sops.yaml",
        ])
    );
    assert_eq!(
        git(&t, &repo, &["branch", "--show-current"]).trim(),
        "mcb/rotate-demo"
    );
}

#[test]
fn oidc_static_client_gets_a_new_id_and_secret_served_next_to_the_old_one() {
    let (t, repo, key) = installation();
    let dex = secrets_file(&repo, "dex-clients");
    let consumer =
        repo.join("installations/demo/secrets/oidc-consumers/monitoring.grafana-oidc.sops.yaml");
    let old = secret_value(&t, &dex, &key, "DEX_CLIENT_GRAFANA_SECRET");
    assert_eq!(
        secret_value(&t, &consumer, &key, "GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET"),
        old,
        "init gives the consumer the client Dex serves"
    );
    let before = snapshot(&repo);
    rotate_only(&t, &repo, "oidc/grafana", key.to_str().unwrap()).ok();
    assert_eq!(
        changed(&before, &snapshot(&repo)),
        set(&[
            "credentials.yaml",
            "manifests/apps/dex/release.yaml",
            "secrets/dex-clients.sops.yaml",
            "secrets/oidc-consumers/monitoring.grafana-oidc.sops.yaml",
        ])
    );
    // The old id keeps its secret; the new id has its own, and the consumer gets it.
    assert_eq!(
        old,
        secret_value(&t, &dex, &key, "DEX_CLIENT_GRAFANA_SECRET")
    );
    let new = secret_value(&t, &dex, &key, "DEX_CLIENT_GRAFANA_2_SECRET");
    assert_ne!(old, new);
    assert_eq!(new.len(), 43, "32 random bytes, base64url");
    assert_eq!(
        secret_value(&t, &consumer, &key, "GF_AUTH_GENERIC_OAUTH_CLIENT_ID"),
        b"grafana-2"
    );
    assert_eq!(
        secret_value(&t, &consumer, &key, "GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET"),
        new
    );
    let config =
        std::fs::read_to_string(repo.join("installations/demo/manifests/apps/dex/release.yaml"))
            .unwrap();
    assert!(
        config.contains("id: \"grafana\"") && config.contains("id: \"grafana-2\""),
        "{config}"
    );
    assert!(
        config.contains("secretEnv: DEX_CLIENT_GRAFANA_2_SECRET"),
        "{config}"
    );
}

#[test]
fn deploy_key_is_replaced_and_the_old_one_is_named_for_removal() {
    let (t, repo, key) = installation();
    let flux = secrets_file(&repo, "flux-system");
    let old = secret_value(&t, &flux, &key, "identity.pub");
    let hosts = secret_value(&t, &flux, &key, "known_hosts");
    let before = snapshot(&repo);
    let r = rotate_only(&t, &repo, "deploy-key", key.to_str().unwrap()).ok();
    assert!(r.stdout.contains("Deploy keys page"), "{}", r.stdout);
    assert!(r.stdout.contains("read-only deploy key"), "{}", r.stdout);
    assert_eq!(
        changed(&before, &snapshot(&repo)),
        set(&["credentials.yaml", "secrets/flux-system.sops.yaml"])
    );
    assert_ne!(old, secret_value(&t, &flux, &key, "identity.pub"));
    assert_eq!(hosts, secret_value(&t, &flux, &key, "known_hosts"));
}

#[test]
fn sops_data_keys_change_every_file_but_no_plaintext() {
    let (t, repo, key) = installation();
    let files = secret_files(&repo);
    let plain = |f: &Path| go_sops_decrypt(&t, f, &key).ok().stdout;
    let before_plain: Vec<String> = files.iter().map(|f| plain(f)).collect();
    let before = snapshot(&repo);
    rotate_only(&t, &repo, "sops-data-keys", key.to_str().unwrap()).ok();
    let after = snapshot(&repo);
    let mut expected = BTreeSet::new();
    for f in &files {
        expected.insert(
            f.strip_prefix(&repo)
                .unwrap()
                .to_string_lossy()
                .into_owned(),
        );
    }
    assert_eq!(changed(&before, &after), expected);
    let after_plain: Vec<String> = files.iter().map(|f| plain(f)).collect();
    assert_eq!(before_plain, after_plain);
}

/// The `AGE-SECRET-KEY-1` line number `i` of a key file, alone in a new file.
fn single_key(t: &TestEnv, key_file: &Path, i: usize, name: &str) -> PathBuf {
    let text = std::fs::read_to_string(key_file).unwrap();
    let line = text
        .lines()
        .filter(|l| l.starts_with("AGE-SECRET-KEY-1"))
        .nth(i)
        .unwrap()
        .to_owned();
    let p = t.path().join(name);
    std::fs::write(&p, format!("{line}\n")).unwrap();
    p
}

#[test]
fn age_key_rotation_in_two_steps() {
    let (t, repo, old_key) = installation();
    let both = t.path().join("demo-next.agekey");
    let r = rotate(
        &t,
        &repo,
        &[
            "--only",
            "age-key",
            "--age-key-file",
            old_key.to_str().unwrap(),
            "--age-key-out",
            both.to_str().unwrap(),
        ],
    )
    .ok();
    assert!(r.stdout.contains("step 1 of 2"), "{}", r.stdout);
    let new_key = single_key(&t, &both, 0, "new.agekey");
    assert_eq!(
        single_key(&t, &both, 1, "old-copy.agekey"),
        t.path().join("old-copy.agekey")
    );
    assert_eq!(
        std::fs::read_to_string(t.path().join("old-copy.agekey"))
            .unwrap()
            .trim(),
        std::fs::read_to_string(&old_key)
            .unwrap()
            .lines()
            .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
            .unwrap()
    );
    let files = secret_files(&repo);
    let sops_yaml = std::fs::read_to_string(repo.join(".sops.yaml")).unwrap();
    let inv = std::fs::read_to_string(repo.join("installations/demo/credentials.yaml")).unwrap();
    assert!(
        inv.contains("phase: '1'") || inv.contains("phase: \"1\""),
        "{inv}"
    );
    for f in &files {
        go_sops_decrypt(&t, f, &new_key).ok();
        go_sops_decrypt(&t, f, &old_key).ok();
    }
    let public = |f: &Path| {
        std::fs::read_to_string(f)
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("# public key: ").map(str::to_owned))
            .unwrap()
    };
    let (old_recipient, new_recipient) = (public(&old_key), public(&both));
    assert!(sops_yaml.contains(&old_recipient), "{sops_yaml}");
    assert!(sops_yaml.contains(&new_recipient), "{sops_yaml}");

    // The cluster's sops-age Secret, bootstrapped from the new key file, carries both keys.
    let mut c = t.mcb();
    c.arg("--repo")
        .arg(&repo)
        .args(["bootstrap", "demo", "--age-key-file"])
        .arg(&both);
    let stream = run(c).ok().stdout;
    let value = stream
        .lines()
        .find_map(|l| l.trim().strip_prefix("demo.agekey: "))
        .unwrap_or_else(|| panic!("no sops-age key in {}", stream.len()));
    let carried = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .unwrap();
    let carried = String::from_utf8(carried).unwrap();
    for k in [&new_key, &old_key] {
        let id = std::fs::read_to_string(k).unwrap();
        let id = id
            .lines()
            .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
            .unwrap();
        assert!(carried.contains(id), "sops-age lacks a key");
    }

    // Step 2 (after step 1 is merged): only the new key opens anything.
    merge_locally(&t, &repo, "mcb/rotate-demo-age-key");
    let r = rotate_only(&t, &repo, "age-key", both.to_str().unwrap()).ok();
    assert!(r.stdout.contains("step 2 of 2"), "{}", r.stdout);
    assert_eq!(
        git(&t, &repo, &["branch", "--show-current"]).trim(),
        "mcb/rotate-demo-age-key-step2"
    );
    for f in &files {
        go_sops_decrypt(&t, f, &new_key).ok();
        let bad = go_sops_decrypt(&t, f, &old_key);
        assert_ne!(
            bad.code(),
            0,
            "{} still opens with the old key",
            f.display()
        );
    }
    let inv = std::fs::read_to_string(repo.join("installations/demo/credentials.yaml")).unwrap();
    assert_eq!(inv.matches("kind: age-key").count(), 1, "{inv}");
    assert!(!inv.contains("phase"), "{inv}");
    let sops_yaml = std::fs::read_to_string(repo.join(".sops.yaml")).unwrap();
    assert!(!sops_yaml.contains(&old_recipient), "{sops_yaml}");
    assert!(sops_yaml.contains(&new_recipient), "{sops_yaml}");
}

#[test]
fn unknown_target_is_a_usage_error_naming_the_choices() {
    let (t, repo, key) = installation();
    let r = rotate_only(&t, &repo, "bogus", key.to_str().unwrap()).fails_with(2);
    assert!(r.stderr.contains("bogus"), "{}", r.stderr);
}

/// A kubeconfig's `<field>-data` (base64) decoded.
fn kubeconfig_field(kubeconfig: &[u8], field: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(kubeconfig);
    let prefix = format!("{field}: ");
    let b64 = text
        .lines()
        .find_map(|l| l.trim().strip_prefix(prefix.as_str()).map(str::to_owned))
        .unwrap_or_else(|| panic!("{field}"));
    base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .unwrap()
}

/// A kubeconfig's client certificate and key, written as PEM files `<name>.crt|key`.
fn client_files(t: &TestEnv, kubeconfig: &[u8], name: &str) -> (PathBuf, PathBuf) {
    let crt = t.path().join(format!("{name}.crt"));
    let key = t.path().join(format!("{name}.key"));
    std::fs::write(
        &crt,
        kubeconfig_field(kubeconfig, "client-certificate-data"),
    )
    .unwrap();
    std::fs::write(&key, kubeconfig_field(kubeconfig, "client-key-data")).unwrap();
    (crt, key)
}

/// Stops the openssl server it holds when dropped.
struct TlsServer(std::process::Child);

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Whether a loopback TLS server that trusts `client_cas` (PEM bundle) for client
/// certificates, as kube-apiserver's --client-ca-file does, accepts `client`.
fn server_accepts(t: &TestEnv, client_cas: &[u8], client: &(PathBuf, PathBuf)) -> bool {
    let dir = tempfile::tempdir_in(t.path()).unwrap();
    let (srv_crt, srv_key, cas) = (
        dir.path().join("srv.crt"),
        dir.path().join("srv.key"),
        dir.path().join("cas.pem"),
    );
    std::fs::write(&cas, client_cas).unwrap();
    let mut c = t.command("openssl");
    c.args([
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
    ])
    .args(["-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-keyout"])
    .arg(&srv_key)
    .arg("-out")
    .arg(&srv_crt);
    run(c).ok();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut s = t.command("openssl");
    s.args(["s_server", "-quiet", "-www", "-no_tls1_3", "-Verify", "1"])
        .arg("-verify_return_error")
        .args(["-accept", &format!("127.0.0.1:{port}"), "-cert"])
        .arg(&srv_crt)
        .arg("-key")
        .arg(&srv_key)
        .arg("-CAfile")
        .arg(&cas)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let _server = TlsServer(s.spawn().unwrap());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "openssl s_server did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let mut c = t.command("curl");
    c.args(["-sk", "--max-time", "10", "--cert"])
        .arg(&client.0)
        .arg("--key")
        .arg(&client.1)
        .arg(format!("https://127.0.0.1:{port}/"));
    run(c).code() == 0
}

/// The certificates in a PEM bundle.
fn cert_count(pem: &[u8]) -> usize {
    String::from_utf8_lossy(pem)
        .matches("-----BEGIN CERTIFICATE-----")
        .count()
}

#[test]
fn ca_rotation_in_three_phases_retires_the_old_ca() {
    let (t, repo, key) = installation();
    let key_arg = key.to_str().unwrap();
    let ca_file = secrets_file(&repo, "demo-ca");
    let kc_file = secrets_file(&repo, "demo-kubeconfig-admin");
    let old_kc = secret_value(&t, &kc_file, &key, "value");
    let old_client = client_files(&t, &old_kc, "old");
    let trusted = |t: &TestEnv| secret_value(t, &ca_file, &key, "tls.crt");
    assert!(
        server_accepts(&t, &trusted(&t), &old_client),
        "sanity: before rotation"
    );
    let phase = |n: u8| {
        // each phase starts once the one before is merged
        let current = git(&t, &repo, &["branch", "--show-current"]);
        merge_locally(&t, &repo, current.trim());
        let before = snapshot(&repo);
        let r = rotate_only(&t, &repo, "ca/cluster", key_arg).ok();
        assert!(
            r.stdout.contains(&format!("phase {n} of 3")),
            "{}",
            r.stdout
        );
        assert_eq!(
            git(&t, &repo, &["branch", "--show-current"]).trim(),
            format!("mcb/rotate-demo-ca-cluster-phase{n}")
        );
        assert_eq!(
            changed(&before, &snapshot(&repo)),
            set(&[
                "credentials.yaml",
                "secrets/demo-ca.sops.yaml",
                "secrets/demo-kubeconfig-admin.sops.yaml"
            ])
        );
    };

    phase(1);
    let bundle = trusted(&t);
    assert_eq!(cert_count(&bundle), 2);
    assert!(server_accepts(&t, &bundle, &old_client));
    let inv = std::fs::read_to_string(repo.join("installations/demo/credentials.yaml")).unwrap();
    assert!(
        inv.contains("phase: '1'") || inv.contains("phase: \"1\""),
        "{inv}"
    );

    phase(2);
    let bundle = trusted(&t);
    assert_eq!(cert_count(&bundle), 2);
    let new_kc = secret_value(&t, &kc_file, &key, "value");
    let new_client = client_files(&t, &new_kc, "new");
    assert!(
        server_accepts(&t, &bundle, &old_client),
        "both CAs trusted in phase 2"
    );
    assert!(server_accepts(&t, &bundle, &new_client));
    assert_eq!(
        cert_count(&kubeconfig_field(&new_kc, "certificate-authority-data")),
        2
    );

    phase(3);
    let only_new = trusted(&t);
    assert_eq!(cert_count(&only_new), 1);
    assert!(
        !server_accepts(&t, &only_new, &old_client),
        "old kubeconfig still accepted"
    );
    assert!(server_accepts(&t, &only_new, &new_client));
    let final_kc = secret_value(&t, &kc_file, &key, "value");
    assert_eq!(
        kubeconfig_field(&final_kc, "certificate-authority-data"),
        only_new
    );
    let inv = std::fs::read_to_string(repo.join("installations/demo/credentials.yaml")).unwrap();
    assert!(!inv.contains("phase"), "{inv}");
}

/// Registers client `ext` at `issuer` and stores it in installation demo as mcb stores a
/// registered client: an encrypted Secret and an inventory entry, committed.
pub(crate) fn with_registered_client(
    t: &TestEnv,
    repo: &Path,
    issuer: &str,
) -> oidc::RegisteredClient {
    let md = ClientMetadata::web("ext", vec!["https://ext.example.com/cb".into()]);
    let c = oidc::register(issuer, Some(&SecretString::from(IAT)), &md).unwrap();
    let rel = "installations/demo/secrets/oidc-client-ext.sops.yaml";
    std::fs::write(
        repo.join(rel),
        c.secret("ext", "monitoring").to_yaml().expose_secret(),
    )
    .unwrap();
    let mut enc = t.command(tool("sops"));
    enc.current_dir(repo).args(["encrypt", "--in-place", rel]);
    run(enc).ok();
    let inv_rel = "installations/demo/credentials.yaml";
    let mut inv = Inventory::parse(
        inv_rel,
        &std::fs::read_to_string(repo.join(inv_rel)).unwrap(),
    )
    .unwrap();
    let env = mcb::Env::seeded(1, time::macros::datetime!(2026-11-25 12:00:00 UTC));
    inv.upsert(c.credential(&env, "ext", issuer));
    std::fs::write(repo.join(inv_rel), inv.to_yaml()).unwrap();
    git(t, repo, &["add", "-A"]);
    git(t, repo, &["commit", "-q", "-m", "register ext"]);
    c
}

#[test]
fn registered_oidc_client_gets_a_successor_at_the_real_issuer() {
    let (t, repo, key) = installation();
    let dir = tempfile::tempdir().unwrap();
    let svc = oidc_provider(&dir);
    let issuer = svc.var("OIDC_ISSUER").to_owned();
    let c = with_registered_client(&t, &repo, &issuer);
    let rel = "installations/demo/secrets/oidc-client-ext.sops.yaml";

    let before = snapshot(&repo);
    let mut cmd = t.mcb();
    cmd.env("MCB_INSECURE_TEST_SEED", "43")
        .env("MCB_OIDC_INITIAL_ACCESS_TOKEN", IAT)
        .arg("--repo")
        .arg(&repo)
        .args(["rotate", "demo", "--only", "oidc/ext", "--age-key-file"])
        .arg(&key);
    run(cmd).ok();
    assert_eq!(
        changed(&before, &snapshot(&repo)),
        set(&["credentials.yaml", "secrets/oidc-client-ext.sops.yaml"])
    );
    let file = repo.join(rel);
    let new_id = String::from_utf8(secret_value(&t, &file, &key, "client_id")).unwrap();
    let new_secret = String::from_utf8(secret_value(&t, &file, &key, "client_secret")).unwrap();
    let old_secret = c.client_secret.as_ref().unwrap().expose_secret();
    assert_ne!(new_secret, old_secret);
    assert_ne!(new_id, c.client_id);
    assert!(secret_authenticates(&issuer, &new_id, &new_secret));
    // Issue #23 item 1: the old client stays valid until --finish after the merge.
    assert!(secret_authenticates(&issuer, &c.client_id, old_secret));
}

/// A fake GitHub that accepts PRs and deploy keys: the first key added gets id 1, later
/// ones id 2; key 2 was last used after the rotations (2026-11-25T12:00:00Z).
pub(crate) fn fake_github() -> Fake {
    let fake = Fake::start();
    let ok = |m: &str, p: String, status: u16, body: serde_json::Value| {
        Mock::given(method(m))
            .and(path(p))
            .respond_with(ResponseTemplate::new(status).set_body_json(body))
    };
    fake.mount(ok("GET", format!("{REPO}/pulls"), 200, json!([])));
    fake.mount(ok(
        "POST",
        format!("{REPO}/pulls"),
        201,
        fixture("pulls.create.json"),
    ));
    let key = fixture("repos.create-deploy-key.json");
    fake.mount(ok("POST", format!("{REPO}/keys"), 201, key.clone()).up_to_n_times(1));
    let mut second = key;
    second["id"] = json!(2);
    second["last_used"] = json!("2026-11-25T12:30:00Z");
    fake.mount(ok("POST", format!("{REPO}/keys"), 201, second.clone()));
    fake.mount(ok("GET", format!("{REPO}/keys/2"), 200, second));
    fake.mount(ok("DELETE", format!("{REPO}/keys/1"), 204, json!(null)));
    fake
}

/// Merges `branch` into the remote's `main` as a fast-forward push would (the PR merged).
pub(crate) fn merge_on_remote(t: &TestEnv, repo: &Path, branch: &str) {
    git(
        t,
        repo,
        &["push", "-q", "origin", &format!("{branch}:main")],
    );
}

/// After a push mcb is back on `was`, the branch the run started on (issue #24 item 8, as
/// gh leaves you where you were); then `branch` is checked out to look at or continue it.
pub(crate) fn back_on_then_switch(t: &TestEnv, repo: &Path, was: &str, branch: &str) {
    assert_eq!(git(t, repo, &["branch", "--show-current"]).trim(), was);
    git(t, repo, &["switch", "-q", branch]);
}

/// `mcb rotate demo ARGS --push --pr` against `fake`.
pub(crate) fn rotate_with_pr(t: &TestEnv, repo: &Path, fake: &Fake, args: &[&str]) -> Run {
    let api = fake.server.uri();
    let mut all: Vec<&str> = args.to_vec();
    all.extend([
        "--push",
        "--pr",
        "--github-repo",
        "octocat/Hello-World",
        "--github-api",
        &api,
    ]);
    let mut c = t.mcb();
    c.env("GITHUB_TOKEN", TOKEN)
        .env("MCB_INSECURE_TEST_SEED", "43")
        .arg("--repo")
        .arg(repo)
        .args(["rotate", "demo"])
        .args(&all);
    run(c)
}

/// The JSON bodies of the fake's requests with `method` to a path ending in `suffix`.
pub(crate) fn bodies(fake: &Fake, method: &str, suffix: &str) -> Vec<serde_json::Value> {
    fake.requests()
        .iter()
        .filter(|r| r.method.as_str() == method && r.url.path().ends_with(suffix))
        .map(|r| serde_json::from_slice(&r.body).unwrap_or(serde_json::Value::Null))
        .collect()
}

#[test]
fn deploy_key_is_registered_with_the_pr_and_the_old_one_deleted_on_finish() {
    let (t, repo, key) = installation();
    let deploy_key = [
        "--only",
        "deploy-key",
        "--age-key-file",
        key.to_str().unwrap(),
    ];
    let inv_path = repo.join("installations/demo/credentials.yaml");
    let fp = |inv: &str| {
        let inv = Inventory::parse("credentials.yaml", inv).unwrap();
        inv.get(mcb::inventory::CredentialKind::DeployKey, "flux")
            .unwrap()
            .clone()
    };
    let first = fp(&std::fs::read_to_string(&inv_path).unwrap());
    let fake = fake_github();
    let r = rotate_with_pr(&t, &repo, &fake, &deploy_key).ok();
    assert!(r.stdout.contains("Deploy keys page"), "{}", r.stdout);
    let branch = "mcb/rotate-demo-deploy-key";
    back_on_then_switch(&t, &repo, "main", branch);

    // The new public key went to GitHub read-only, its id is in the inventory.
    let flux = secrets_file(&repo, "flux-system");
    let public = String::from_utf8(secret_value(&t, &flux, &key, "identity.pub")).unwrap();
    let keys = bodies(&fake, "POST", "/keys");
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["key"], public.trim());
    assert_eq!(keys[0]["read_only"], true);
    let second = fp(&std::fs::read_to_string(&inv_path).unwrap());
    assert_eq!(second.extra["forgeKeyId"], "1");
    assert_eq!(second.extra["previousFingerprint"], first.fingerprint);

    // The PR body shows before -> after.
    let prs = bodies(&fake, "POST", "/pulls");
    let body = prs[0]["body"].as_str().unwrap();
    let line = format!(
        "| rotated | `deploy-key` | `flux` | `{}` → `{}` |",
        first.fingerprint, second.fingerprint
    );
    assert!(body.contains(&line), "{body}");
    assert!(!body.contains("PRIVATE KEY"), "{body}");

    // A second rotation retires the registered key; --finish deletes it at GitHub, but
    // only once the rotation is on the remote base branch (issue #23 item 1: it deleted
    // the key Flux on the merged main still used).
    rotate_with_pr(&t, &repo, &fake, &deploy_key).ok();
    back_on_then_switch(&t, &repo, branch, branch);
    let third = fp(&std::fs::read_to_string(&inv_path).unwrap());
    assert_eq!(third.extra["retiringForgeKeyId"], "1");
    assert_eq!(third.extra["forgeKeyId"], "2");
    assert!(bodies(&fake, "DELETE", "/keys/1").is_empty());
    let r = rotate_with_pr(&t, &repo, &fake, &["--finish"]).fails_with(2);
    assert!(r.stderr.contains("not on origin/main"), "{}", r.stderr);
    assert!(bodies(&fake, "DELETE", "/keys/1").is_empty());
    // A third rotation before the second is finished would lose the old key's id.
    let r = rotate_with_pr(&t, &repo, &fake, &deploy_key).fails_with(2);
    assert!(r.stderr.contains("not finished"), "{}", r.stderr);

    merge_on_remote(&t, &repo, branch);
    rotate_with_pr(&t, &repo, &fake, &["--finish"]).ok();
    assert_eq!(bodies(&fake, "DELETE", "/keys/1").len(), 1);
    back_on_then_switch(&t, &repo, branch, "mcb/rotate-demo-finish");
    let done = fp(&std::fs::read_to_string(&inv_path).unwrap());
    assert!(!done.extra.contains_key("retiringForgeKeyId"), "{done:?}");
    assert_eq!(done.fingerprint, third.fingerprint);
    // Nothing is left to finish.
    rotate_with_pr(&t, &repo, &fake, &["--finish"]).fails_with(2);
}

/// A new RSA key (PEM, PKCS#1) at `name` in `t`'s directory, as GitHub hands them out.
fn rsa_pem(t: &TestEnv, name: &str) -> PathBuf {
    let p = t.path().join(name);
    let mut c = t.command("openssl");
    c.args(["genrsa", "-traditional", "-out"])
        .arg(&p)
        .arg("2048");
    run(c).ok();
    p
}

/// `mcb rotate demo --only github-app --age-key-file KEY --import PEM`.
fn rotate_app_key(t: &TestEnv, repo: &Path, key: &Path, pem: &Path) -> Run {
    rotate(
        t,
        repo,
        &[
            "--only",
            "github-app",
            "--age-key-file",
            key.to_str().unwrap(),
            "--import",
            pem.to_str().unwrap(),
        ],
    )
}

#[test]
fn github_app_key_is_imported_and_the_user_told_where_to_delete_the_old_one() {
    let t = TestEnv::new();
    let repo = config_repo(&t);
    let key = t.path().join("demo.agekey");
    let (old_pem, new_pem) = (rsa_pem(&t, "old.pem"), rsa_pem(&t, "new.pem"));
    let spec = t.path().join("demo.yaml");
    let text = regex::Regex::new(r"(?m)^name: .*$")
        .unwrap()
        .replace(mcb::spec::EXAMPLE, "name: demo")
        .replace("  auth: ssh\n", "  auth: github-app\n")
        .replace("ssh://git@github.com/", "https://github.com/")
        .replace(
            "githubApp:\n  owner: example\n",
            "githubApp:\n  owner: example\n  appId: 123\n  installationId: 456\n",
        );
    assert!(
        text.contains("installationId: 456"),
        "the example changed: {text}"
    );
    std::fs::write(&spec, text).unwrap();
    let mut c = init_with_spec(&t, &repo, &spec, &key);
    c.arg("--github-app-private-key").arg(&old_pem);
    run(c).ok();
    merge_locally(&t, &repo, "mcb/init-demo");

    let key_arg = key.to_str().unwrap();
    let r = rotate_only(&t, &repo, "github-app", key_arg).fails_with(2);
    assert!(r.stderr.contains("settings/apps"), "{}", r.stderr);

    // Flux talks to a GitHub Enterprise (the fake): the rotation must keep that base URL
    // and check the new key there (`GET /app` as the app) before committing it.
    let fake = Fake::start();
    fake.mount(
        Mock::given(method("GET"))
            .and(path("/app"))
            .respond_with(ResponseTemplate::new(401).set_body_json(json!({
                "message": "A JSON web token could not be decoded"
            })))
            .up_to_n_times(1),
    );
    let mut app = fixture("apps.get-authenticated.json");
    app["id"] = json!(123);
    fake.mount(
        Mock::given(method("GET"))
            .and(path("/app"))
            .respond_with(ResponseTemplate::new(200).set_body_json(app)),
    );
    let api = fake.server.uri();
    let flux = secrets_file(&repo, "flux-system");
    let b64 = base64::engine::general_purpose::STANDARD.encode(&api);
    let mut c = t.command(tool("sops"));
    c.env("SOPS_AGE_KEY_FILE", &key)
        .current_dir(&repo)
        .arg("set")
        .arg(&flux)
        .arg(r#"["data"]["githubAppBaseURL"]"#)
        .arg(format!("\"{b64}\""));
    run(c).ok();
    git(
        &t,
        &repo,
        &["commit", "-q", "-am", "flux uses GitHub Enterprise"],
    );
    let untouched = snapshot(&repo);
    let r = rotate_app_key(&t, &repo, &key, &new_pem).fails_with(2);
    assert!(r.stderr.contains("401"), "{}", r.stderr);
    assert!(changed(&untouched, &snapshot(&repo)).is_empty());

    let before = snapshot(&repo);
    let r = rotate_app_key(&t, &repo, &key, &new_pem).ok();
    assert!(
        r.stdout.contains("delete the old private key"),
        "{}",
        r.stdout
    );
    assert_eq!(
        changed(&before, &snapshot(&repo)),
        set(&["credentials.yaml", "secrets/flux-system.sops.yaml"])
    );
    let flux = secrets_file(&repo, "flux-system");
    assert_eq!(
        secret_value(&t, &flux, &key, "githubAppPrivateKey"),
        std::fs::read(&new_pem).unwrap()
    );
    assert_eq!(secret_value(&t, &flux, &key, "githubAppID"), b"123");
    assert_eq!(
        secret_value(&t, &flux, &key, "githubAppBaseURL"),
        api.as_bytes(),
        "the enterprise base URL is kept"
    );
    let jwt = fake
        .requests()
        .iter()
        .filter(|r| r.url.path() == "/app")
        .filter_map(|r| {
            r.headers
                .get("authorization")
                .map(|v| v.to_str().unwrap().to_owned())
        })
        .next_back()
        .unwrap();
    assert!(jwt.starts_with("Bearer ey"), "{jwt}");
}

/// Issue #23 item 4: with `git.auth: ssh`, `--only github-app` overwrote Flux's SSH
/// identity with the app key.
#[test]
fn github_app_rotation_is_refused_unless_flux_uses_the_app() {
    let t = TestEnv::new();
    let repo = config_repo(&t);
    let key = t.path().join("demo.agekey");
    let spec = t.path().join("demo.yaml");
    let text = regex::Regex::new(r"(?m)^name: .*$")
        .unwrap()
        .replace(mcb::spec::EXAMPLE, "name: demo")
        .replace(
            "githubApp:\n  owner: example\n",
            "githubApp:\n  owner: example\n  appId: 123\n  installationId: 456\n",
        );
    std::fs::write(&spec, text).unwrap();
    run(init_with_spec(&t, &repo, &spec, &key)).ok();
    merge_locally(&t, &repo, "mcb/init-demo");
    let pem = rsa_pem(&t, "new.pem");
    let before = snapshot(&repo);
    let r = rotate_app_key(&t, &repo, &key, &pem).fails_with(2);
    assert!(
        r.stderr.contains("git.auth is not github-app"),
        "{}",
        r.stderr
    );
    assert!(changed(&before, &snapshot(&repo)).is_empty());
}

/// Issue #23 item 5: a rotation branch whose pull request was merged (here squash-merged)
/// is started afresh from the default branch by the next rotation, not continued (which
/// stacked the new rotation on the merged one and conflicted with the squash commit); the
/// remote branch, still at the merged PR's head, is replaced; a new PR is opened. Fake
/// GitHub; the remote is a real bare repository.
#[test]
fn a_rotation_branch_whose_pr_was_merged_is_started_afresh() {
    let (t, repo, key) = installation();
    let key_arg = key.to_str().unwrap();
    git(&t, &repo, &["push", "-q", "origin", "main"]);
    let fake = fake_github();
    let args = [
        "--only",
        "kubeconfig/admin",
        "--age-key-file",
        key_arg,
        "-o",
        "json",
    ];
    let r = rotate_with_pr(&t, &repo, &fake, &args).ok();
    let out: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let branch = out["branch"].as_str().unwrap().to_owned();
    assert_eq!(out["returnedTo"], "main", "{out}");
    let first = git(&t, &repo, &["rev-parse", &branch]).trim().to_owned();

    // The PR is squash-merged on GitHub; the user pulls main.
    git(&t, &repo, &["switch", "-q", "main"]);
    git(&t, &repo, &["merge", "-q", "--squash", &branch]);
    git(
        &t,
        &repo,
        &["commit", "-q", "-m", "Rotate kubeconfig/admin (#1)"],
    );
    git(&t, &repo, &["push", "-q", "origin", "main"]);
    let squash = git(&t, &repo, &["rev-parse", "main"]).trim().to_owned();
    let mut merged = fixture("pulls.create.json");
    merged["state"] = json!("closed");
    merged["merged_at"] = json!("2026-11-25T12:10:00Z");
    merged["head"]["ref"] = json!(branch);
    merged["head"]["sha"] = json!(first);
    fake.mount(
        Mock::given(method("GET"))
            .and(path(format!("{REPO}/pulls")))
            .and(wiremock::matchers::query_param("state", "all"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([merged])))
            .with_priority(1),
    );

    let r = rotate_with_pr(&t, &repo, &fake, &args).ok();
    assert!(r.stderr.contains("was merged: starting"), "{}", r.stderr);
    let second = git(&t, &repo, &["rev-parse", &branch]).trim().to_owned();
    assert_eq!(
        git(&t, &repo, &["rev-parse", &format!("{second}^")]).trim(),
        squash,
        "the new rotation starts from the merged default branch"
    );
    let mut c = t.command("git");
    c.arg("--git-dir")
        .arg(t.path().join("origin.git"))
        .args(["rev-parse", &branch]);
    assert_eq!(
        run(c).ok().stdout.trim(),
        second,
        "the remote branch replaced"
    );
    assert_eq!(
        bodies(&fake, "POST", "/pulls").len(),
        2,
        "a new pull request"
    );
}

/// Issue #23 item 4: `rotate --finish` with only GitHub App credentials fetches the base
/// over HTTPS with the app's installation token (it had no credentials for the fetch).
/// Real smart HTTP remote; the fake GitHub mints the token and holds the deploy keys.
#[test]
fn finish_with_app_credentials_alone_fetches_with_the_installation_token() {
    let (t, repo, key) = installation();
    let key_arg = key.to_str().unwrap();
    let fake = fake_github();
    let branch = "mcb/rotate-demo-deploy-key";
    for was in ["main", branch] {
        rotate_with_pr(
            &t,
            &repo,
            &fake,
            &["--only", "deploy-key", "--age-key-file", key_arg],
        )
        .ok();
        back_on_then_switch(&t, &repo, was, branch);
    }
    merge_on_remote(&t, &repo, branch);
    // The remote moves to a smart HTTP server that takes only the installation token.
    let mut token = fixture("apps.create-installation-access-token.json");
    token["expires_at"] = json!("2026-11-25T13:00:00Z");
    let minted = token["token"].as_str().unwrap().to_owned();
    let sdir = t.path().join("git-http");
    let srv = crate::support::Service::start(
        "git-http.sh",
        &sdir,
        &["0", "x-access-token", &minted],
        &[],
    );
    let bare = sdir.join("repos/o/r.git");
    let mut c = t.command("git");
    c.args(["clone", "-q", "--bare"])
        .arg(t.path().join("origin.git"))
        .arg(&bare);
    run(c).ok();
    let url = format!("http://127.0.0.1:{}/o/r.git", srv.var("GIT_HTTP_PORT"));
    git(&t, &repo, &["remote", "set-url", "origin", &url]);
    fake.mount(
        Mock::given(method("POST"))
            .and(path("/app/installations/7/access_tokens"))
            .respond_with(ResponseTemplate::new(201).set_body_json(&token)),
    );
    let pem = crate::support::github::app_pem_file(t.path());
    let api = fake.server.uri();
    let mut c = t.mcb();
    c.env("GITHUB_APP_ID", "1")
        .env("GITHUB_APP_INSTALLATION_ID", "7")
        .env("GITHUB_APP_PRIVATE_KEY_FILE", &pem)
        .arg("--repo")
        .arg(&repo)
        .args(["rotate", "demo", "--finish", "--push", "--pr"])
        .args(["--github-repo", "octocat/Hello-World", "--github-api", &api]);
    run(c).ok();
    assert_eq!(bodies(&fake, "DELETE", "/keys/1").len(), 1);
    let mut c = t.command("git");
    c.arg("--git-dir")
        .arg(&bare)
        .args(["rev-parse", "mcb/rotate-demo-finish"]);
    run(c).ok();
}
