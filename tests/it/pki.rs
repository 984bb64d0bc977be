//! The generated PKI against real TLS software: `openssl verify` and `x509 -text`, a real
//! etcd with mutual TLS, `kubectl` against a loopback server that demands our client certs,
//! and `kubectl create secret tls` as a key/cert match check. Imports CAs made by openssl.

use std::net::{IpAddr, Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration as StdDuration, Instant};

use base64::Engine;
use mcb::pki::{self, Ca, ClusterPki, KeyType, LeafParams, Params, Usage, UserParams};
use mcb::Env;
use secrecy::ExposeSecret;
use time::{Duration, OffsetDateTime};

use crate::support::{run, tool, Service};

fn env(seed: u64) -> Env {
    Env::seeded(seed, OffsetDateTime::now_utc())
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Writes `ca.crt` of `ca` and `<name>.crt/.key` of `leaf` into `dir`.
fn write_leaf(dir: &Path, name: &str, leaf: &pki::Leaf) -> (PathBuf, PathBuf) {
    (
        write(dir, &format!("{name}.crt"), &leaf.cert_pem),
        write(dir, &format!("{name}.key"), leaf.key_pem.expose_secret()),
    )
}

fn openssl(args: &[&str]) -> crate::support::Run {
    let mut c = Command::new(tool("openssl"));
    c.args(args);
    run(c)
}

fn pki_for(kt: KeyType, seed: u64) -> ClusterPki {
    let mut p = Params::new("mc1", "default", "https://127.0.0.1:6443");
    p.key_type = kt;
    p.users.push(UserParams {
        name: "ci".into(),
        common_name: "ci-bot".into(),
        organizations: vec!["ci".into()],
        validity: Some(Duration::hours(1)),
    });
    pki::generate(&env(seed), &p).unwrap()
}

/// The client cert PEM embedded in a kubeconfig.
fn client_cert_of(kubeconfig: &pki::Kubeconfig) -> String {
    let yaml = String::from_utf8(kubeconfig.yaml.expose_secret().clone()).unwrap();
    let line = yaml
        .lines()
        .find_map(|l| l.trim().strip_prefix("client-certificate-data: "))
        .expect("client-certificate-data");
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(line)
            .unwrap(),
    )
    .unwrap()
}

/// A serving cert for 127.0.0.1 / localhost from `ca`.
fn issue_server(ca: &Ca, e: &Env, cn: &str, usage: Usage, kt: KeyType) -> pki::Leaf {
    let mut l = LeafParams::new(cn, usage, kt);
    l.dns_names = vec!["localhost".into(), "kubernetes.default.svc".into()];
    l.ip_addresses = vec![IpAddr::V4(Ipv4Addr::LOCALHOST)];
    ca.issue(e, &l).unwrap()
}

#[test]
fn openssl_verifies_every_leaf_against_its_ca_only() {
    for kt in [KeyType::EcdsaP256, KeyType::Rsa2048] {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        let e = env(11);
        let pki = pki_for(kt, 11);
        let ca = write(d, "ca.crt", pki.cluster_ca.cert_pem());
        let etcd_ca = write(d, "etcd-ca.crt", pki.etcd_ca.cert_pem());
        let proxy_ca = write(d, "proxy-ca.crt", pki.proxy_ca.cert_pem());
        let apiserver = issue_server(&pki.cluster_ca, &e, "kube-apiserver", Usage::Server, kt);
        let etcd_peer = issue_server(&pki.etcd_ca, &e, "etcd-peer", Usage::ServerAndClient, kt);
        let etcd_client = pki
            .etcd_ca
            .issue(
                &e,
                &LeafParams::new(
                    "kube-apiserver-etcd-client",
                    Usage::Client,
                    KeyType::Ed25519,
                ),
            )
            .unwrap();
        let proxy_client = pki
            .proxy_ca
            .issue(
                &e,
                &LeafParams::new("front-proxy-client", Usage::Client, kt),
            )
            .unwrap();
        let admin = write(d, "admin.crt", &client_cert_of(&pki.kubeconfigs["admin"]));
        let ci = write(d, "ci.crt", &client_cert_of(&pki.kubeconfigs["ci"]));
        let cases = [
            (write_leaf(d, "apiserver", &apiserver).0, &ca, "sslserver"),
            (
                write_leaf(d, "etcd-peer", &etcd_peer).0,
                &etcd_ca,
                "sslserver",
            ),
            (d.join("etcd-peer.crt"), &etcd_ca, "sslclient"),
            (
                write_leaf(d, "etcd-client", &etcd_client).0,
                &etcd_ca,
                "sslclient",
            ),
            (
                write_leaf(d, "proxy", &proxy_client).0,
                &proxy_ca,
                "sslclient",
            ),
            (admin, &ca, "sslclient"),
            (ci, &ca, "sslclient"),
        ];
        for (leaf, issuer, purpose) in &cases {
            let (leaf, issuer) = (leaf.to_str().unwrap(), issuer.to_str().unwrap());
            let r = openssl(&["verify", "-CAfile", issuer, "-purpose", purpose, leaf]).ok();
            assert!(r.stdout.contains(": OK"), "{kt}: {leaf}: {}", r.stdout);
            // Another CA of the same installation must not vouch for it.
            let other = if issuer == ca.to_str().unwrap() {
                &etcd_ca
            } else {
                &ca
            };
            let r = openssl(&["verify", "-CAfile", other.to_str().unwrap(), leaf]);
            assert!(!r.status.success(), "{kt}: {leaf} verified by the wrong CA");
        }
        // A client cert is not a server cert.
        let r = openssl(&[
            "verify",
            "-CAfile",
            ca.to_str().unwrap(),
            "-purpose",
            "sslserver",
            d.join("admin.crt").to_str().unwrap(),
        ]);
        assert!(!r.status.success(), "{kt}: client cert passed as server");
    }
}

#[test]
fn openssl_shows_kubeadm_extensions() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let pki = pki_for(KeyType::Rsa2048, 12);
    let ca = write(d, "ca.crt", pki.cluster_ca.cert_pem());
    let text = openssl(&["x509", "-noout", "-text", "-in", ca.to_str().unwrap()])
        .ok()
        .stdout;
    for want in [
        "Subject: CN = kubernetes",
        "Issuer: CN = kubernetes",
        "Signature Algorithm: sha256WithRSAEncryption",
        "Public-Key: (2048 bit)",
        "X509v3 Basic Constraints: critical\n                CA:TRUE\n",
        "X509v3 Key Usage: critical\n                Digital Signature, Key Encipherment, Certificate Sign\n",
        "X509v3 Subject Key Identifier",
    ] {
        assert!(text.contains(want), "CA lacks {want:?}:\n{text}");
    }
    assert!(!text.contains("Name Constraints"), "{text}");
    assert!(
        !text.contains("pathlen"),
        "kubeadm CAs have no path length: {text}"
    );
    let ski = text
        .split("X509v3 Subject Key Identifier:")
        .nth(1)
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .trim()
        .to_owned();

    let admin = write(d, "admin.crt", &client_cert_of(&pki.kubeconfigs["admin"]));
    let text = openssl(&["x509", "-noout", "-text", "-in", admin.to_str().unwrap()])
        .ok()
        .stdout;
    for want in [
        "Subject: O = kubeadm:cluster-admins, CN = kubernetes-admin",
        "X509v3 Basic Constraints: critical\n                CA:FALSE\n",
        "X509v3 Key Usage: critical\n                Digital Signature, Key Encipherment\n",
        "X509v3 Extended Key Usage: \n                TLS Web Client Authentication\n",
        "X509v3 Authority Key Identifier",
    ] {
        assert!(text.contains(want), "admin cert lacks {want:?}:\n{text}");
    }
    assert!(
        text.contains(&ski),
        "AKI must name the CA's SKI {ski}:\n{text}"
    );
    // The serial is 16 bytes, positive.
    let serial = openssl(&["x509", "-noout", "-serial", "-in", admin.to_str().unwrap()])
        .ok()
        .stdout;
    let hex = serial.trim().strip_prefix("serial=").unwrap();
    assert_eq!(hex.len(), 32, "{serial}");

    // ECDSA leaves carry no keyEncipherment (it means nothing for EC keys).
    let ec = pki_for(KeyType::EcdsaP256, 12);
    let p = write(d, "ec-admin.crt", &client_cert_of(&ec.kubeconfigs["admin"]));
    let text = openssl(&["x509", "-noout", "-text", "-in", p.to_str().unwrap()])
        .ok()
        .stdout;
    assert!(
        text.contains("X509v3 Key Usage: critical\n                Digital Signature\n"),
        "{text}"
    );
    assert!(text.contains("ecdsa-with-SHA256"), "{text}");
}

/// The PEMs of one TLS secret, written to files.
fn secret_files(dir: &Path, s: &mcb::k8s::Secret) -> (PathBuf, PathBuf) {
    let get = |k: &str| String::from_utf8(s.data[k].expose_secret().clone()).unwrap();
    (
        write(dir, &format!("{}.crt", s.name), &get("tls.crt")),
        write(dir, &format!("{}.key", s.name), &get("tls.key")),
    )
}

#[test]
fn every_tls_key_matches_its_cert() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let kubectl = tool("kubectl");
    let create_tls = |crt: &Path, key: &Path| {
        let mut c = Command::new(&kubectl);
        c.args([
            "create",
            "secret",
            "tls",
            "x",
            "--dry-run=client",
            "-o",
            "yaml",
        ])
        .arg("--cert")
        .arg(crt)
        .arg("--key")
        .arg(key);
        run(c)
    };
    for kt in [KeyType::EcdsaP256, KeyType::Rsa2048] {
        for s in pki_for(kt, 13)
            .secrets()
            .iter()
            .filter(|s| s.type_ == "kubernetes.io/tls")
        {
            let (crt, key) = secret_files(d, s);
            let out = create_tls(&crt, &key).ok().stdout;
            assert!(out.contains("type: kubernetes.io/tls"), "{kt} {}", s.name);
            // OpenSSL reads the key as kubeadm wrote it (SEC1 with curve / PKCS#1), and
            // `-check` proves it consistent (RSA: p, q prime, n = pq, d, CRT values).
            let check = openssl(&["pkey", "-in", key.to_str().unwrap(), "-check", "-noout"]);
            assert!(
                check.ok().stdout.contains("Key is valid"),
                "{kt} {}",
                s.name
            );
        }
    }
    let pki = pki_for(KeyType::Rsa2048, 13);
    let secrets = pki.secrets();
    // A key from another secret is refused: the check can fail.
    let (ca_crt, _) = secret_files(d, &secrets[0]);
    let (_, etcd_key) = secret_files(d, &secrets[1]);
    let r = create_tls(&ca_crt, &etcd_key);
    assert!(!r.status.success(), "mismatched pair accepted");
    assert!(
        r.stderr.contains("private key does not match"),
        "{}",
        r.stderr
    );

    // The sa secret: tls.crt is the public half of tls.key (as `openssl rsa -pubout` makes).
    let sa = secrets.iter().find(|s| s.name == "mc1-sa").unwrap();
    let (pub_pem, key) = secret_files(d, sa);
    let derived = openssl(&["rsa", "-in", key.to_str().unwrap(), "-pubout"])
        .ok()
        .stdout;
    assert_eq!(derived, std::fs::read_to_string(pub_pem).unwrap());
}

#[test]
fn etcd_accepts_our_client_cert_and_rejects_a_foreign_one() {
    let etcdctl = tool("etcdctl");
    tool("etcd");
    let t = tempfile::tempdir().unwrap();
    let pki_dir = t.path().join("pki");
    std::fs::create_dir_all(&pki_dir).unwrap();
    let e = env(14);
    let pki = pki_for(KeyType::EcdsaP256, 14);
    write(&pki_dir, "ca.crt", pki.etcd_ca.cert_pem());
    let server = issue_server(
        &pki.etcd_ca,
        &e,
        "etcd-server",
        Usage::ServerAndClient,
        KeyType::EcdsaP256,
    );
    write_leaf(&pki_dir, "server", &server);
    let client = pki
        .etcd_ca
        .issue(
            &e,
            &LeafParams::new("root", Usage::Client, KeyType::Rsa2048),
        )
        .unwrap();
    write_leaf(&pki_dir, "client", &client);
    let foreign_ca = Ca::generate(&e, "etcd-ca", KeyType::EcdsaP256, pki::CA_VALIDITY).unwrap();
    let foreign = foreign_ca
        .issue(
            &e,
            &LeafParams::new("root", Usage::Client, KeyType::EcdsaP256),
        )
        .unwrap();
    write_leaf(t.path(), "foreign", &foreign);

    let etcd = Service::start("etcd-mtls.sh", t.path(), &[], &[]);
    let endpoint = etcd.var("ETCD_ENDPOINT").to_owned();
    let ctl = |name: &str, cert_dir: &Path, args: &[&str]| {
        let mut c = Command::new(&etcdctl);
        c.env_clear()
            .env("ETCDCTL_API", "3")
            .arg("--endpoints")
            .arg(&endpoint)
            .arg("--cacert")
            .arg(pki_dir.join("ca.crt"))
            .arg("--cert")
            .arg(cert_dir.join(format!("{name}.crt")))
            .arg("--key")
            .arg(cert_dir.join(format!("{name}.key")))
            .args(["--dial-timeout", "3s", "--command-timeout", "5s"])
            .args(args);
        run(c)
    };
    ctl("client", &pki_dir, &["put", "mcb", "pki-ok"]).ok();
    let got = ctl("client", &pki_dir, &["get", "mcb", "--print-value-only"]).ok();
    assert_eq!(got.stdout.trim(), "pki-ok");
    let r = ctl("foreign", t.path(), &["get", "mcb"]);
    assert!(
        !r.status.success(),
        "etcd accepted a foreign client cert: {}",
        r.stdout
    );
}

/// `openssl s_server` on a free loopback port, demanding a client cert from `ca`; killed
/// on drop.
struct MtlsServer {
    child: Child,
    port: u16,
}

impl MtlsServer {
    fn start(ca: &Path, cert: &Path, key: &Path) -> MtlsServer {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(tool("openssl"))
            .args([
                "s_server",
                "-quiet",
                "-www",
                "-Verify",
                "1",
                "-verify_return_error",
            ])
            .arg("-accept")
            .arg(format!("127.0.0.1:{port}"))
            .arg("-CAfile")
            .arg(ca)
            .arg("-cert")
            .arg(cert)
            .arg("-key")
            .arg(key)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let server = MtlsServer { child, port };
        let deadline = Instant::now() + StdDuration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "s_server did not listen on {port}"
            );
            std::thread::sleep(StdDuration::from_millis(50));
        }
        server
    }
}

impl Drop for MtlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn kubectl_uses_our_kubeconfig_against_a_server_that_demands_our_ca() {
    let kubectl = tool("kubectl");
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let e = env(15);
    let pki = pki_for(KeyType::EcdsaP256, 15);
    let ca = write(d, "ca.crt", pki.cluster_ca.cert_pem());
    let serving = issue_server(
        &pki.cluster_ca,
        &e,
        "kube-apiserver",
        Usage::Server,
        KeyType::EcdsaP256,
    );
    let (crt, key) = write_leaf(d, "apiserver", &serving);
    let server = MtlsServer::start(&ca, &crt, &key);
    let url = format!("https://127.0.0.1:{}", server.port);

    let get = |yaml: &str, name: &str| {
        let path = d.join(name);
        std::fs::write(&path, yaml).unwrap();
        let mut c = Command::new(&kubectl);
        c.env_clear()
            .env("HOME", d)
            .arg("--kubeconfig")
            .arg(&path)
            .args(["get", "--raw", "/", "--request-timeout", "5s"]);
        run(c)
    };
    let admin_for = |ca: &Ca| {
        let k = pki::kubeconfig(
            &e,
            ca,
            "mc1",
            &url,
            &UserParams::admin(pki::DEFAULT_KUBERNETES_MINOR),
            Duration::hours(1),
            KeyType::EcdsaP256,
        )
        .unwrap();
        String::from_utf8(k.yaml.expose_secret().clone()).unwrap()
    };
    let ours = admin_for(&pki.cluster_ca);
    let r = get(&ours, "ours.kubeconfig").ok();
    // s_server -www answers with a status page naming the client's certificate.
    assert!(r.stdout.contains("kubernetes-admin"), "{}", r.stdout);

    // Same server trust, but the client cert and key come from another installation's CA.
    let other = pki_for(KeyType::EcdsaP256, 16);
    let foreign = admin_for(&other.cluster_ca);
    let client_lines = |y: &str| -> Vec<String> {
        y.lines()
            .filter(|l| l.trim_start().starts_with("client-"))
            .map(str::to_owned)
            .collect()
    };
    let (mine, theirs) = (client_lines(&ours), client_lines(&foreign));
    let mut mixed = ours.clone();
    for (a, b) in mine.iter().zip(&theirs) {
        mixed = mixed.replace(a.as_str(), b.as_str());
    }
    assert_ne!(mixed, ours);
    let r = get(&mixed, "foreign.kubeconfig");
    assert!(
        !r.status.success(),
        "a foreign client cert got in: {}",
        r.stdout
    );
    assert!(
        r.stderr.contains("tls") || r.stderr.contains("EOF"),
        "{}",
        r.stderr
    );
}

/// CAs made by openssl (PKCS#1, SEC1, PKCS#8 keys) import; bad ones fail with typed errors.
#[test]
fn import_openssl_made_cas_and_refuse_bad_ones() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let p = |n: &str| d.join(n).to_str().unwrap().to_owned();
    // openssl stamps not-before when it runs, after this line: check a minute later (the
    // certificates live a day), or a slow machine sees them as not yet valid.
    let now = OffsetDateTime::now_utc() + Duration::minutes(1);
    let ca_ext = [
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,digitalSignature",
    ];
    // RSA, PKCS#1 key (what `openssl genrsa -traditional` and kubeadm write).
    openssl(&["genrsa", "-traditional", "-out", &p("rsa.key"), "2048"]).ok();
    let (rsa_key, rsa_crt) = (p("rsa.key"), p("rsa.crt"));
    let mut args = vec!["req", "-x509", "-key", &rsa_key];
    args.extend([
        "-subj",
        "/CN=Kubernetes API",
        "-days",
        "3650",
        "-out",
        &rsa_crt,
    ]);
    args.extend(ca_ext);
    openssl(&args).ok();
    // EC P-256, SEC1 key.
    openssl(&[
        "ecparam",
        "-name",
        "prime256v1",
        "-genkey",
        "-noout",
        "-out",
        &p("ec.key"),
    ])
    .ok();
    let (ec_key, ec_crt) = (p("ec.key"), p("ec.crt"));
    let mut args = vec![
        "req", "-x509", "-key", &ec_key, "-subj", "/CN=corp", "-days", "1", "-out", &ec_crt,
    ];
    args.extend(ca_ext);
    openssl(&args).ok();
    // PKCS#8 copy of the RSA key.
    openssl(&[
        "pkcs8",
        "-topk8",
        "-nocrypt",
        "-in",
        &rsa_key,
        "-out",
        &p("rsa8.key"),
    ])
    .ok();
    // A leaf (no CA:TRUE) with its own key.
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        &p("leaf.key"),
        "-subj",
        "/CN=leaf",
        "-days",
        "1",
        "-addext",
        "basicConstraints=critical,CA:FALSE",
        "-out",
        &p("leaf.crt"),
    ])
    .ok();

    let import =
        |crt: &str, key: &str, at| pki::import_ca_files(Path::new(crt), Path::new(key), at);
    let ca = import(&rsa_crt, &rsa_key, now).unwrap();
    assert_eq!(ca.facts().subject, "CN=Kubernetes API");
    assert!(ca
        .key_pem()
        .expose_secret()
        .starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    import(&rsa_crt, &p("rsa8.key"), now).unwrap();
    let ec = import(&ec_crt, &ec_key, now).unwrap();

    // An imported CA signs leaves openssl accepts.
    let leaf = ec
        .issue(
            &env(17),
            &LeafParams::new("x", Usage::Client, KeyType::Ed25519),
        )
        .unwrap();
    let (leaf_crt, _) = write_leaf(d, "issued", &leaf);
    openssl(&[
        "verify",
        "-CAfile",
        &ec_crt,
        "-purpose",
        "sslclient",
        leaf_crt.to_str().unwrap(),
    ])
    .ok();

    let err = import(&rsa_crt, &ec_key, now).unwrap_err();
    assert!(matches!(err, pki::Error::KeyMismatch { .. }), "{err}");
    let err = import(&ec_crt, &ec_key, now + Duration::days(2)).unwrap_err();
    assert!(matches!(err, pki::Error::OutsideValidity { .. }), "{err}");
    let err = import(&p("leaf.crt"), &p("leaf.key"), now).unwrap_err();
    assert!(matches!(err, pki::Error::NotCa { .. }), "{err}");
    assert!(
        err.to_string().contains("leaf.crt"),
        "names the file: {err}"
    );
    let err = import(&rsa_key, &rsa_key, now).unwrap_err();
    assert!(matches!(err, pki::Error::Pem { .. }), "{err}");
    let err = import(&p("missing.crt"), &rsa_key, now).unwrap_err();
    assert!(matches!(err, pki::Error::Io(_)), "{err}");
    // An encrypted key is refused with a hint to decrypt it.
    openssl(&[
        "pkcs8",
        "-topk8",
        "-in",
        &rsa_key,
        "-passout",
        "pass:x",
        "-out",
        &p("enc.key"),
    ])
    .ok();
    let err = import(&rsa_crt, &p("enc.key"), now).unwrap_err();
    assert!(matches!(err, pki::Error::UnsupportedKey { .. }), "{err}");
}

/// A CA made by `openssl req -x509` (CA:TRUE, no keyUsage unless `extra` adds one) with the
/// key algorithm of `genpkey` and the subject `subj`; returns (cert, key) paths.
fn openssl_ca(
    dir: &Path,
    name: &str,
    genpkey: &[&str],
    subj: &str,
    extra: &[&str],
) -> (PathBuf, PathBuf) {
    let key = dir.join(format!("{name}.key"));
    let crt = dir.join(format!("{name}.crt"));
    let mut args = vec!["genpkey", "-out", key.to_str().unwrap()];
    args.extend_from_slice(genpkey);
    openssl(&args).ok();
    let mut args = vec![
        "req",
        "-x509",
        "-new",
        "-key",
        key.to_str().unwrap(),
        "-out",
        crt.to_str().unwrap(),
        "-days",
        "30",
        "-subj",
        subj,
        "-multivalue-rdn",
    ];
    args.extend_from_slice(extra);
    openssl(&args).ok();
    (crt, key)
}

/// A minute from now: openssl stamps `notBefore` with the second it ran, which a check at
/// "now" can precede by a fraction of a second.
fn after_stamping() -> OffsetDateTime {
    OffsetDateTime::now_utc() + Duration::minutes(1)
}

const P384: &[&str] = &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"];
const RSA2048: &[&str] = &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"];

/// `openssl x509 -noout -OPT -nameopt RFC2253` of `crt`.
fn name_of(crt: &Path, opt: &str) -> String {
    let r = openssl(&[
        "x509",
        "-noout",
        opt,
        "-nameopt",
        "RFC2253",
        "-in",
        crt.to_str().unwrap(),
    ])
    .ok();
    r.stdout.trim().split_once('=').unwrap().1.to_owned()
}

#[test]
fn imported_ca_subjects_are_copied_exactly_into_what_mcb_signs() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let e = env(21);
    let cases = [
        // Repeated attribute types (rcgen alone merges them: DC=example, OU=Kubernetes only).
        (
            "repeated",
            P384,
            "/DC=com/DC=example/O=Example Corp/OU=Platform/OU=Kubernetes/CN=corp-k8s-ca",
        ),
        // A multi-valued RDN (rcgen alone cannot express it at all).
        (
            "multi",
            RSA2048,
            "/DC=com/O=Example Corp/OU=Platform+CN=corp-mv-ca",
        ),
    ];
    for (name, alg, subj) in cases {
        // Plain `req -x509`: CA:TRUE and no keyUsage, as kubeadm and Go accept.
        let (ca_crt, ca_key) = openssl_ca(d, name, alg, subj, &[]);
        let ca = pki::import_ca_files(&ca_crt, &ca_key, after_stamping())
            .unwrap_or_else(|err| panic!("{name}: {err}"));
        let server = issue_server(&ca, &e, "kube-apiserver", Usage::Server, KeyType::EcdsaP256);
        let (leaf_crt, _) = write_leaf(d, &format!("{name}-server"), &server);
        assert_eq!(
            name_of(&leaf_crt, "-issuer"),
            name_of(&ca_crt, "-subject"),
            "{name}"
        );
        let r = openssl(&[
            "verify",
            "-CAfile",
            ca_crt.to_str().unwrap(),
            leaf_crt.to_str().unwrap(),
        ]);
        assert!(
            r.status.success(),
            "{name}: openssl verify: {}{}",
            r.stdout,
            r.stderr
        );

        let p = Params::new("mc1", "default", "https://127.0.0.1:6443");
        let pki = pki::generate_with_ca(&e, &p, ca).unwrap();
        let admin = write(
            d,
            &format!("{name}-admin.crt"),
            &client_cert_of(&pki.kubeconfigs["admin"]),
        );
        let r = openssl(&[
            "verify",
            "-CAfile",
            ca_crt.to_str().unwrap(),
            admin.to_str().unwrap(),
        ]);
        assert!(
            r.status.success(),
            "{name}: admin cert: {}{}",
            r.stdout,
            r.stderr
        );
    }
}

#[test]
fn etcd_trusts_certificates_signed_by_an_imported_ca_with_a_repeated_attribute_subject() {
    let etcdctl = tool("etcdctl");
    tool("etcd");
    let t = tempfile::tempdir().unwrap();
    let pki_dir = t.path().join("pki");
    std::fs::create_dir_all(&pki_dir).unwrap();
    let (ca_crt, ca_key) = openssl_ca(
        t.path(),
        "corp",
        P384,
        "/DC=com/DC=example/OU=Platform/OU=Etcd+CN=corp-etcd-ca",
        &[
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
        ],
    );
    let ca = pki::import_ca_files(&ca_crt, &ca_key, after_stamping()).unwrap();
    let e = env(22);
    std::fs::copy(&ca_crt, pki_dir.join("ca.crt")).unwrap();
    let server = issue_server(
        &ca,
        &e,
        "etcd-server",
        Usage::ServerAndClient,
        KeyType::EcdsaP256,
    );
    write_leaf(&pki_dir, "server", &server);
    let client = ca
        .issue(
            &e,
            &LeafParams::new("root", Usage::Client, KeyType::EcdsaP256),
        )
        .unwrap();
    write_leaf(&pki_dir, "client", &client);
    // etcd is a Go TLS peer: it builds the chain by matching issuer and subject bytes.
    let etcd = Service::start("etcd-mtls.sh", t.path(), &[], &[]);
    let mut c = Command::new(&etcdctl);
    c.env_clear()
        .env("ETCDCTL_API", "3")
        .arg("--endpoints")
        .arg(etcd.var("ETCD_ENDPOINT"))
        .arg("--cacert")
        .arg(pki_dir.join("ca.crt"))
        .arg("--cert")
        .arg(pki_dir.join("client.crt"))
        .arg("--key")
        .arg(pki_dir.join("client.key"))
        .args([
            "--dial-timeout",
            "3s",
            "--command-timeout",
            "5s",
            "put",
            "mcb",
            "imported-ok",
        ]);
    let r = run(c);
    assert!(r.status.success(), "etcd refused: {}{}", r.stdout, r.stderr);
}

#[test]
fn import_refuses_what_kubeadm_and_go_refuse_and_names_the_file() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let err_of =
        |crt: &Path, key: &Path| pki::import_ca_files(crt, key, after_stamping()).unwrap_err();

    let (crt, key) = openssl_ca(d, "ed", &["-algorithm", "ED25519"], "/CN=ed-ca", &[]);
    let err = err_of(&crt, &key);
    assert!(matches!(err, pki::Error::UnsupportedCaKey { .. }), "{err}");
    assert!(err.to_string().contains(key.to_str().unwrap()), "{err}");

    let (crt, key) = openssl_ca(
        d,
        "small",
        &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"],
        "/CN=small-ca",
        &[],
    );
    let err = err_of(&crt, &key);
    assert!(matches!(err, pki::Error::UnsupportedCaKey { .. }), "{err}");
    assert!(err.to_string().contains("RSA 1024"), "{err}");

    let (crt, key) = openssl_ca(
        d,
        "nosign",
        P384,
        "/CN=nosign-ca",
        &["-addext", "keyUsage=critical,digitalSignature"],
    );
    let err = err_of(&crt, &key);
    assert!(matches!(err, pki::Error::NoCertSign { .. }), "{err}");
    assert!(err.to_string().contains("keyCertSign"), "{err}");

    // A bundle (here: two roots) is refused, not silently cut to its first certificate.
    let (other, _) = openssl_ca(d, "other", P384, "/CN=other-ca", &[]);
    let (crt, key) = openssl_ca(d, "first", P384, "/CN=first-ca", &[]);
    let bundle = d.join("bundle.crt");
    let text = std::fs::read_to_string(&crt).unwrap() + &std::fs::read_to_string(&other).unwrap();
    std::fs::write(&bundle, text).unwrap();
    let err = err_of(&bundle, &key);
    assert!(matches!(err, pki::Error::Bundle { count: 2, .. }), "{err}");
    // The first alone is accepted (P-384, CA:TRUE, no keyUsage).
    pki::import_ca_files(&crt, &key, after_stamping()).unwrap();
}
