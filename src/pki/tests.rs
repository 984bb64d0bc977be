use secrecy::{ExposeSecret, SecretString};
use time::macros::datetime;

use super::*;

const NOW: OffsetDateTime = datetime!(2026-11-25 12:00 UTC);

fn env(seed: u64) -> Env {
    Env::seeded(seed, NOW)
}

fn params() -> Params {
    let mut p = Params::new("mc1", "org-mc1", "https://api.mc1.example:6443");
    p.users.push(UserParams {
        name: "ci".into(),
        common_name: "ci-bot".into(),
        organizations: vec!["ci".into(), "viewers".into()],
        validity: Some(Duration::hours(8)),
    });
    p
}

/// A generated PKI and its secrets as written and read back.
fn generated_and_reparsed() -> (ClusterPki, Vec<Secret>) {
    let pki = generate(&env(1), &params()).unwrap();
    let parsed = pki
        .secrets()
        .iter()
        .map(|s| parse_secret(&s.name, &s.to_yaml()).unwrap())
        .collect();
    (pki, parsed)
}

fn yamls(pki: &ClusterPki) -> Vec<Vec<u8>> {
    pki.secrets()
        .iter()
        .map(|s| s.to_yaml().expose_secret().clone())
        .collect()
}

#[test]
fn same_seed_same_bytes_other_seed_other_keys() {
    // Compare digests: a failure must not print key material.
    let digest = |seed| {
        let mut p = params();
        p.key_type = KeyType::Rsa2048;
        let all = [params(), p].map(|p| yamls(&generate(&env(seed), &p).unwrap()).concat());
        fingerprint(&all.concat())
    };
    let a = digest(3);
    assert_eq!(a, digest(3));
    assert_ne!(a, digest(4));
}

#[test]
fn secrets_have_the_cluster_api_shape() {
    let pki = generate(&env(1), &params()).unwrap();
    let got: Vec<_> = pki
        .secrets()
        .iter()
        .map(|s| {
            assert_eq!(s.namespace, "org-mc1");
            assert_eq!(s.labels[CLUSTER_NAME_LABEL], "mc1");
            (
                s.name.clone(),
                s.type_.clone(),
                s.data.keys().cloned().collect::<Vec<_>>().join(","),
            )
        })
        .collect();
    let want = [
        ("mc1-ca", "kubernetes.io/tls", "tls.crt,tls.key"),
        ("mc1-etcd", "kubernetes.io/tls", "tls.crt,tls.key"),
        ("mc1-proxy", "kubernetes.io/tls", "tls.crt,tls.key"),
        ("mc1-sa", "Opaque", "tls.crt,tls.key"),
        ("mc1-kubeconfig-admin", "Opaque", "value"),
        ("mc1-kubeconfig-ci", "Opaque", "value"),
    ];
    let want: Vec<_> = want
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    assert_eq!(got, want);
    let sa = &pki.secrets()[3];
    let crt = String::from_utf8(sa.data["tls.crt"].expose_secret().clone()).unwrap();
    let key = String::from_utf8(sa.data["tls.key"].expose_secret().clone()).unwrap();
    assert!(crt.starts_with("-----BEGIN PUBLIC KEY-----\n"), "{crt}");
    assert!(key.starts_with("-----BEGIN RSA PRIVATE KEY-----\n"));
    let ca_key = pki.cluster_ca.key_pem();
    assert!(ca_key
        .expose_secret()
        .starts_with("-----BEGIN EC PRIVATE KEY-----\n"));
}

#[test]
fn credentials_list_every_item_with_kubeadm_lifetimes() {
    let pki = generate(&env(1), &params()).unwrap();
    let creds = pki.credentials("2026-11-25T12:00:00Z");
    let keys: Vec<_> = creds.iter().map(|c| c.key()).collect();
    assert_eq!(
        keys,
        [
            "ca/cluster",
            "ca/etcd",
            "ca/proxy",
            "sa-key/sa",
            "kubeconfig/admin",
            "kubeconfig/ci"
        ]
    );
    assert_eq!(creds[0].subject.as_deref(), Some("CN=kubernetes"));
    assert_eq!(creds[0].not_before.as_deref(), Some("2026-11-25T11:55:00Z"));
    assert_eq!(creds[0].not_after.as_deref(), Some("2036-11-22T12:00:00Z"));
    assert_eq!(
        creds[3].subject.as_deref(),
        Some("RSA 2048 service-account signing key")
    );
    assert!(creds[3].not_after.is_none());
    assert_eq!(
        client_subject(creds[4].subject.as_deref().unwrap()),
        "O=kubeadm:cluster-admins, CN=kubernetes-admin"
    );
    assert_eq!(creds[4].not_after.as_deref(), Some("2027-11-25T12:00:00Z"));
    assert_eq!(creds[5].not_after.as_deref(), Some("2026-11-25T20:00:00Z"));
    assert_eq!(creds[3].extra["secret"], "mc1-sa");
    assert_eq!(creds[5].extra["secret"], "mc1-kubeconfig-ci");
    for c in &creds {
        assert!(c.fingerprint.starts_with("sha256:") && c.fingerprint.len() == 71);
        assert_eq!(c.created, "2026-11-25T12:00:00Z");
    }
    let fp = fingerprint(pem::parse(pki.cluster_ca.cert_pem()).unwrap().contents());
    assert_eq!(creds[0].fingerprint, fp);
}

#[test]
fn serials_are_positive_128_bit_and_distinct() {
    let pki = generate(&env(1), &params()).unwrap();
    let serials: Vec<_> = [&pki.cluster_ca, &pki.etcd_ca, &pki.proxy_ca]
        .iter()
        .map(|c| c.facts().serial.clone())
        .collect();
    for s in &serials {
        assert_eq!(s.len(), 32, "{s}");
        assert!(u8::from_str_radix(&s[..2], 16).unwrap() < 0x80);
    }
    assert_ne!(serials[0], serials[1]);
}

#[test]
fn leaf_never_outlives_its_ca() {
    let e = env(1);
    let ca = Ca::generate(&e, "short", KeyType::EcdsaP256, Duration::days(30)).unwrap();
    let leaf = ca
        .issue(&e, &LeafParams::new("x", Usage::Client, KeyType::Ed25519))
        .unwrap();
    assert_eq!(leaf.facts.not_after, ca.not_after());
    assert!(leaf
        .key_pem
        .expose_secret()
        .starts_with("-----BEGIN PRIVATE KEY-----"));
}

#[test]
fn secrets_load_back_to_the_same_bytes() {
    let (pki, parsed) = generated_and_reparsed();
    let back = ClusterPki::from_secrets("mc1", "org-mc1", &parsed, NOW).unwrap();
    assert_eq!(yamls(&back), yamls(&pki));
    assert_eq!(
        back.credentials("t")
            .iter()
            .map(|c| &c.fingerprint)
            .collect::<Vec<_>>(),
        pki.credentials("t")
            .iter()
            .map(|c| &c.fingerprint)
            .collect::<Vec<_>>()
    );
}

#[test]
fn a_legacy_admin_kubeconfig_named_like_capis_loads_as_admin() {
    // Repos made before KCP owned `<cluster>-kubeconfig` hold the admin kubeconfig there.
    let (pki, mut parsed) = generated_and_reparsed();
    for s in parsed
        .iter_mut()
        .filter(|s| s.name == "mc1-kubeconfig-admin")
    {
        s.name = "mc1-kubeconfig".into();
    }
    let back = ClusterPki::from_secrets("mc1", "org-mc1", &parsed, NOW).unwrap();
    assert_eq!(back.kubeconfigs.keys().collect::<Vec<_>>(), ["admin", "ci"]);
    assert_eq!(
        back.kubeconfigs["admin"].facts.fingerprint,
        pki.kubeconfigs["admin"].facts.fingerprint
    );
    // The new name wins over the legacy one, and is what gets written.
    let back = ClusterPki::from_secrets("mc1", "org-mc1", &generated_and_reparsed().1, NOW);
    assert!(back
        .unwrap()
        .secrets()
        .iter()
        .all(|s| s.name != "mc1-kubeconfig"));
}

#[test]
fn a_loaded_ca_issues_kubeconfigs() {
    let (_, parsed) = generated_and_reparsed();
    let mut back = ClusterPki::from_secrets("mc1", "org-mc1", &parsed, NOW).unwrap();
    let bob = UserParams {
        name: "bob".into(),
        common_name: "bob".into(),
        organizations: vec![],
        validity: None,
    };
    back.add_kubeconfig(
        &env(9),
        "https://x:6443",
        &bob,
        LEAF_VALIDITY,
        KeyType::Rsa2048,
    )
    .unwrap();
    let yaml = String::from_utf8(back.kubeconfigs["bob"].yaml.expose_secret().clone()).unwrap();
    assert!(yaml.contains("    server: \"https://x:6443\"\n"));
    assert!(yaml.contains("current-context: \"mc1-bob@mc1\"\n"));
    assert_eq!(
        client_subject(&back.kubeconfigs["bob"].facts.subject),
        "CN=bob"
    );
}

/// A client certificate's subject without its `serialNumber`, which must be there
/// (issue #23: every issued client certificate has a subject of its own).
fn client_subject(subject: &str) -> String {
    let (serial, rest): (Vec<&str>, Vec<&str>) = subject
        .split(", ")
        .partition(|p| p.starts_with("serialNumber=") || p.starts_with("2.5.4.5="));
    assert_eq!(serial.len(), 1, "{subject}");
    rest.join(", ")
}

#[test]
fn import_checks_key_match_ca_flag_validity_and_pem() {
    let e = env(1);
    let a = Ca::generate(&e, "a", KeyType::EcdsaP256, CA_VALIDITY).unwrap();
    let b = Ca::generate(&e, "b", KeyType::Rsa2048, CA_VALIDITY).unwrap();
    assert_eq!(
        import_ca(a.cert_pem(), &a.key_pem(), NOW)
            .unwrap()
            .fingerprint(),
        a.fingerprint()
    );
    let err = import_ca(a.cert_pem(), &b.key_pem(), NOW).unwrap_err();
    assert!(matches!(err, Error::KeyMismatch { .. }), "{err}");

    let err = import_ca(a.cert_pem(), &a.key_pem(), NOW + Duration::days(3651)).unwrap_err();
    assert!(matches!(err, Error::OutsideValidity { .. }), "{err}");
    assert!(err.to_string().contains("to 2036-11-22T12:00:00Z"), "{err}");

    let leaf = a
        .issue(
            &e,
            &LeafParams::new("srv", Usage::Server, KeyType::EcdsaP256),
        )
        .unwrap();
    let err = import_ca(&leaf.cert_pem, &leaf.key_pem, NOW).unwrap_err();
    assert!(matches!(err, Error::NotCa { .. }), "{err}");
    assert!(err.to_string().contains("CN=srv"), "{err}");

    let err = import_ca("garbage", &a.key_pem(), NOW).unwrap_err();
    assert!(matches!(err, Error::Pem { .. }), "{err}");
    let corrupt = a.cert_pem().replace("MII", "MIX");
    let err = import_ca(&corrupt, &a.key_pem(), NOW).unwrap_err();
    assert!(matches!(err, Error::Pem { .. }), "{err}");
    let err = import_ca(a.cert_pem(), &SecretString::from("nope"), NOW).unwrap_err();
    assert!(matches!(err, Error::Pem { .. }), "{err}");
    assert!(crate::Help::help(&err).is_some());
}

#[test]
fn imported_ca_becomes_the_cluster_ca() {
    let e = env(1);
    let mine = Ca::generate(&e, "corp-k8s", KeyType::Rsa2048, CA_VALIDITY).unwrap();
    let ca = import_ca(mine.cert_pem(), &mine.key_pem(), NOW).unwrap();
    let pki = generate_with_ca(&e, &params(), ca).unwrap();
    assert_eq!(pki.cluster_ca.fingerprint(), mine.fingerprint());
    assert_eq!(
        pki.credentials("t")[0].subject.as_deref(),
        Some("CN=corp-k8s")
    );
}

#[test]
fn bad_params_are_refused() {
    let mut p = params();
    p.key_type = KeyType::Ed25519;
    let err = generate(&env(1), &p).err().unwrap();
    assert!(matches!(err, Error::KeyTypeNotAllowed { .. }), "{err}");
    let mut p = params();
    p.server = "http://api:6443".into();
    let err = generate(&env(1), &p).err().unwrap();
    assert!(matches!(err, Error::BadServer { .. }), "{err}");
}

#[test]
fn missing_and_broken_secrets_are_named() {
    let (_, mut parsed) = generated_and_reparsed();
    // An sa public key that is not the key's own half.
    let mut swapped = generated_and_reparsed().1;
    let other_sa = generate(&env(2), &params()).unwrap().sa.public_pem();
    let sa = swapped.iter_mut().find(|s| s.name == "mc1-sa").unwrap();
    sa.data.insert(
        "tls.crt".into(),
        SecretBox::new(Box::new(other_sa.into_bytes())),
    );
    let err = ClusterPki::from_secrets("mc1", "org-mc1", &swapped, NOW)
        .err()
        .unwrap();
    assert!(matches!(err, Error::KeyMismatch { .. }), "{err}");

    parsed.retain(|s| s.name != "mc1-etcd");
    let err = ClusterPki::from_secrets("mc1", "org-mc1", &parsed, NOW)
        .err()
        .unwrap();
    assert_eq!(err.to_string(), "secret mc1-etcd is missing");

    let bad = SecretBox::new(Box::new(
        b"apiVersion: v1\nkind: Secret\nmetadata:\n    name: x\ndata:\n    tls.crt: '%%%'\n"
            .to_vec(),
    ));
    let err = parse_secret("x.sops.yaml", &bad).unwrap_err();
    assert_eq!(
        err.to_string(),
        "x.sops.yaml: not a Kubernetes Secret: data.tls.crt is not base64"
    );
}

#[test]
fn debug_output_hides_keys() {
    let pki = generate(&env(1), &params()).unwrap();
    let dbg = format!("{:?} {:?}", pki.cluster_ca, pki.kubeconfigs["admin"]);
    assert!(!dbg.contains("PRIVATE"), "{dbg}");
    assert!(dbg.contains("CN=kubernetes"), "{dbg}");
}

/// Issue #15 item 8: `--import-ca CERT KEY` errors about the key named the certificate file.
#[test]
fn issue_15_import_ca_key_errors_name_the_key_file() {
    let e = env(1);
    let a = Ca::generate(&e, "a", KeyType::EcdsaP256, CA_VALIDITY).unwrap();
    let b = Ca::generate(&e, "b", KeyType::EcdsaP256, CA_VALIDITY).unwrap();
    let d = tempfile::tempdir().unwrap();
    let cert = d.path().join("ca.crt");
    let (bad, other) = (d.path().join("bad.key"), d.path().join("other.key"));
    std::fs::write(&cert, a.cert_pem()).unwrap();
    std::fs::write(&bad, "not a key\n").unwrap();
    std::fs::write(&other, b.key_pem().expose_secret()).unwrap();
    for key in [&bad, &other] {
        let err = import_ca_files(&cert, key, NOW).unwrap_err().to_string();
        assert!(err.starts_with(&key.display().to_string()), "{err}");
    }
}

#[test]
fn the_admin_group_follows_the_kubernetes_version_as_kubeadm_binds_it() {
    let subject = |minor: u32| {
        let mut p = params();
        p.kubernetes_minor = minor;
        client_subject(
            &generate(&env(3), &p).unwrap().kubeconfigs["admin"]
                .facts
                .subject,
        )
    };
    // Before 1.29 kubeadm binds nothing to kubeadm:cluster-admins: the admin would have no rights.
    assert_eq!(subject(28), "O=system:masters, CN=kubernetes-admin");
    assert_eq!(subject(29), "O=kubeadm:cluster-admins, CN=kubernetes-admin");
    assert_eq!(subject(37), "O=kubeadm:cluster-admins, CN=kubernetes-admin");
}

#[test]
fn p384_cas_sign_and_their_keys_are_written_as_sec1_with_the_curve() {
    let e = env(4);
    let ca = Ca::generate(&e, "kubernetes", KeyType::EcdsaP384, CA_VALIDITY).unwrap();
    let leaf = ca
        .issue(
            &e,
            &LeafParams::new("srv", Usage::Server, KeyType::EcdsaP384),
        )
        .unwrap();
    assert!(leaf.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
    let key = ca.key_pem();
    assert!(key
        .expose_secret()
        .starts_with("-----BEGIN EC PRIVATE KEY-----"));
    let back = import_ca(ca.cert_pem(), &key, NOW).unwrap();
    assert_eq!(back.fingerprint(), ca.fingerprint());
}
