use super::*;
use crate::Help;

fn p(src: &str) -> Result<Installation, Error> {
    parse(src, Path::new("installations/x/installation.yaml"))
}

const MIN: &str = "apiVersion: mcb/v1alpha1\nkind: Installation\nname: x1\nbaseDomain: x1.example.com\nprovider:\n  capa:\n    region: eu-west-1\ngit:\n  url: ssh://git@github.com/o/r\n";

#[test]
fn example_parses_and_defaults_apply() {
    let s = p(EXAMPLE).unwrap();
    assert_eq!(s.name.as_str(), "gauss");
    assert_eq!(s.provider.id(), "capa");
    let m = p(MIN).unwrap();
    assert_eq!(m.kubernetes_version, "v1.33.4");
    assert_eq!(m.control_plane.replicas, 3);
    assert_eq!(m.git.branch, "main");
    assert_eq!(m.api_endpoint(), "api.x1.example.com");
    assert_eq!(m.api_port(), 6443);
    assert_eq!(m.oidc_issuer(), "https://dex.x1.example.com");
    assert_eq!(m.cluster.namespace.as_str(), "default");
    assert_eq!(m.cluster.pod_cidrs, ["192.168.0.0/16"]);
    assert_eq!(m.cluster.service_cidrs, ["10.96.0.0/12"]);
}

#[test]
fn cluster_namespace_and_cidrs_are_checked() {
    let ok = p(&format!(
        "{MIN}cluster:\n  namespace: mgmt\n  podCidrs: [10.244.0.0/16, fd00::/56]\n"
    ))
    .unwrap();
    assert_eq!(ok.cluster.namespace.as_str(), "mgmt");
    assert_eq!(ok.cluster.service_cidrs, ["10.96.0.0/12"]);
    for (bad, path) in [
        ("  podCidrs: [10.244.0.0]\n", "cluster.podCidrs[0]"),
        (
            "  serviceCidrs: [10.96.0.0/12, 10.0.0.0/33]\n",
            "cluster.serviceCidrs[1]",
        ),
        ("  serviceCidrs: []\n", "cluster.serviceCidrs"),
    ] {
        let e = p(&format!("{MIN}cluster:\n{bad}")).unwrap_err();
        assert!(e.to_string().contains(path), "{bad}: {e}");
        assert!(e.help().is_some());
    }
    let e = p(&format!("{MIN}cluster:\n  namespace: Not_A_Name\n")).unwrap_err();
    assert!(e.to_string().contains("cluster.namespace"), "{e}");
}

#[test]
fn unknown_field_names_line_and_path() {
    let src = MIN.replace(
        "    region: eu-west-1\n",
        "    region: eu-west-1\n    regoin: x\n",
    );
    let e = p(&src).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.starts_with("installations/x/installation.yaml:8:"),
        "{msg}"
    );
    assert!(msg.contains("provider.capa"), "{msg}");
    assert!(msg.contains("regoin"), "{msg}");
    assert!(!msg.contains("at line"), "location printed twice: {msg}");
    assert!(e.help().unwrap().contains("mcb schema"));
}

#[test]
fn wrong_type_and_bad_name_and_unknown_provider() {
    let e = p(&format!("{MIN}workers:\n  replicas: three\n"))
        .unwrap_err()
        .to_string();
    assert!(e.contains(":11:") && e.contains("workers.replicas"), "{e}");
    let e = p(&MIN.replace("name: x1", "name: X_1"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(":3:") && e.contains("name") && e.contains("DNS-1123"),
        "{e}"
    );
    let e = p(&MIN.replace("capa:", "gke:")).unwrap_err().to_string();
    assert!(e.contains("gke") && e.contains("capa"), "{e}");
}

#[test]
fn cross_field_checks() {
    let e = p(&MIN.replace("ssh://", "https://")).unwrap_err();
    assert!(e.to_string().contains("git.url"), "{e}");
    let s = format!("{MIN}oidc:\n  staticClients:\n    - id: a.b\n    - id: a-b\n");
    let e = p(&s).unwrap_err().to_string();
    assert!(
        e.contains("installation.yaml:13: oidc.staticClients[1].id"),
        "{e}"
    );
    let e = p(&format!("{MIN}sops:\n  recipients: [nope]\n"))
        .unwrap_err()
        .to_string();
    assert!(e.contains(":11: sops.recipients[0]"), "{e}");
}

#[test]
fn flux_version_must_be_vendored() {
    assert_eq!(p(MIN).unwrap().flux.version, crate::flux::DEFAULT_VERSION);
    let e = p(&format!("{MIN}flux:\n  version: v2.4.1\n")).unwrap_err();
    assert!(e.to_string().contains(":11: flux.version"), "{e}");
    let help = e.help().unwrap();
    assert!(help.contains("v2.4.0") && help.contains("v2.9.0"), "{help}");
    assert!(p(&format!("{MIN}flux:\n  version: v2.8.8\n")).is_ok());
}

#[test]
fn github_app_auth_is_refused_on_flux_without_it() {
    let app = MIN.replace(
        "  url: ssh://git@github.com/o/r\n",
        "  url: https://github.com/o/r\n  auth: github-app\ngithubApp:\n  owner: o\n",
    );
    assert!(p(&app).is_ok());
    let e = p(&format!("{app}flux:\n  version: v2.4.0\n")).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains(":10: git.auth") && msg.contains("source-controller v1.4.1"),
        "{msg}"
    );
    let help = e.help().unwrap();
    assert!(
        help.contains("v2.9.0") && !help.contains("v2.4.0"),
        "{help}"
    );
}

#[test]
fn id_keys_upper_case_and_replace_punctuation() {
    assert_eq!(id_key("grafana"), "GRAFANA");
    assert_eq!(id_key("my-app.v2"), "MY_APP_V2");
    assert_eq!(id_key("a-b"), id_key("a.b"));
}

/// `schemas/installation.schema.json` must be what the types generate.
/// Regenerate with `MCB_UPDATE_SCHEMA=1 cargo test --lib spec::`.
#[test]
fn schema_file_matches_types() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/installation.schema.json");
    let want = schema_json();
    if std::env::var_os("MCB_UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &want).unwrap();
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "{} is stale: run MCB_UPDATE_SCHEMA=1 cargo test --lib spec::",
        path.display()
    );
    // And the example validates against it.
    let schema: serde_json::Value = serde_json::from_str(&want).unwrap();
    let example: serde_json::Value = serde_saphyr::from_str(EXAMPLE).unwrap();
    let v = jsonschema::validator_for(&schema).unwrap();
    assert!(
        v.is_valid(&example),
        "{:?}",
        v.iter_errors(&example)
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
    );
}

const CONNECTOR: &str = "oidc:\n  connectors:\n    - id: github\n      type: github\n      name: GitHub\n      clientSecret: {sharedSecret: dex-github, key: clientSecret}\n";

#[test]
fn connector_shared_secret_must_be_placed_in_dex() {
    let invalid = |src: &str| match p(src).unwrap_err() {
        Error::Invalid {
            path,
            message,
            hint,
            ..
        } => (path, message, hint),
        e => panic!("{e}"),
    };
    let (path, msg, hint) = invalid(&format!("{MIN}{CONNECTOR}"));
    assert_eq!(path, "oidc.connectors[0].clientSecret.sharedSecret");
    assert!(msg.contains("not listed in sharedSecrets"), "{msg}");
    assert!(
        hint.contains("{name: dex-github, namespace: dex}"),
        "{hint}"
    );

    let (_, msg, _) = invalid(&format!("{MIN}{CONNECTOR}sharedSecrets: [dex-github]\n"));
    assert!(msg.contains("namespace \"default\", not dex"), "{msg}");
    let renamed = "sharedSecrets:\n  - {name: dex-github, namespace: dex, keys: {other: x}}\n";
    let (_, msg, _) = invalid(&format!("{MIN}{CONNECTOR}{renamed}"));
    assert!(msg.contains("does not place key \"clientSecret\""), "{msg}");

    let ok = "sharedSecrets:\n  - {name: dex-github, namespace: dex, secretName: gh, keys: {clientSecret: secret}}\n";
    let s = p(&format!("{MIN}{CONNECTOR}{ok}")).unwrap();
    let r = s.oidc.connectors[0].client_secret.as_ref().unwrap();
    assert_eq!(s.shared_key_target(r), Some(("gh".into(), "secret".into())));
}

#[test]
fn ingress_issuer_and_organization_groups_are_checked() {
    let path_of = |src: String| match p(&src).unwrap_err() {
        Error::Invalid { path, .. } => path,
        e => panic!("{e}"),
    };
    assert_eq!(
        path_of(format!("{MIN}oidc:\n  issuer: http://dex.x1.example.com\n")),
        "oidc.issuer"
    );
    assert_eq!(
        path_of(format!("{MIN}ingress:\n  className: Not_A_Class\n")),
        "ingress.className"
    );
    assert_eq!(
        path_of(format!("{MIN}organizations:\n  - name: a\n    groups: [{{name: 'o:t', role: 'Cluster Admin'}}]\n")),
        "organizations[0].groups[0].role"
    );
    assert_eq!(
        path_of(format!(
            "{MIN}organizations:\n  - name: {}\n",
            "a".repeat(60)
        )),
        "organizations[0].name"
    );
    let s = p(&format!(
        "{MIN}oidc:\n  issuer: https://login.example.org/dex\n"
    ))
    .unwrap();
    assert_eq!(s.oidc_issuer_host().as_deref(), Some("login.example.org"));
    assert_eq!(s.ingress.class_name, "nginx");
    assert_eq!(s.ingress.issuer.kind, IssuerKind::ClusterIssuer);
}

#[test]
fn kubernetes_versions_outside_the_supported_range_are_refused_with_the_range() {
    for v in ["v1.27.9", "v1.38.0", "v2.30.0"] {
        let e = p(&format!("{MIN}kubernetesVersion: {v}\n")).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("kubernetesVersion"), "{msg}");
        assert!(msg.contains("supports Kubernetes 1.28 to 1.37"), "{msg}");
    }
    let s = p(&format!("{MIN}kubernetesVersion: v1.28.15\n")).unwrap();
    assert_eq!(s.kubernetes_minor(), 28);
}

#[test]
fn the_ca_key_type_is_a_spec_field_without_ed25519() {
    assert_eq!(p(MIN).unwrap().pki.key_type, CaKeyType::EcdsaP256);
    for (name, want) in [
        ("ecdsa-p384", CaKeyType::EcdsaP384),
        ("rsa2048", CaKeyType::Rsa2048),
        ("rsa3072", CaKeyType::Rsa3072),
        ("rsa4096", CaKeyType::Rsa4096),
    ] {
        let s = p(&format!("{MIN}pki:\n  keyType: {name}\n")).unwrap();
        assert_eq!(s.pki.key_type, want);
    }
    let e = p(&format!("{MIN}pki:\n  keyType: ed25519\n"))
        .unwrap_err()
        .to_string();
    assert!(e.contains(":11:") && e.contains("pki.keyType"), "{e}");
    assert!(e.contains("ecdsa-p384"), "the error lists the choices: {e}");
}

/// Issue #15 item 2: a recipient carrying a newline and YAML used to pass (`age1` prefix,
/// length) and added a `.sops.yaml` creation rule for another installation.
#[test]
fn issue_15_recipient_injection_is_rejected_by_parser_and_schema() {
    const R: &str = "age1e8n74a6a7gupww7ll0y7hj2v8v7qklt3mfhdvy6sr6a2upnmlpjq3ysh0u";
    let injected =
        format!("{R}\n    - path_regex: '^installations/other/.*'\n      age:\n        - {R}");
    let src = format!(
        "{MIN}sops:\n  recipients:\n    - {}\n",
        serde_json::to_string(&injected).unwrap()
    );
    let e = p(&src).unwrap_err().to_string();
    assert!(e.contains(":12: sops.recipients[0]"), "{e}");
    // Not a bech32 age recipient, though it looks like one.
    let e = p(&format!(
        "{MIN}sops:\n  recipients: [age1notarecipientnotarecipient]\n"
    ))
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("sops.recipients[0]") && e.contains("not an age recipient"),
        "{e}"
    );
    assert!(p(&format!("{MIN}sops:\n  recipients: [{R}]\n")).is_ok());
    // The JSON Schema says the same.
    let schema: serde_json::Value = serde_json::from_str(&schema_json()).unwrap();
    let v = jsonschema::validator_for(&schema).unwrap();
    let doc = |r: &str| {
        let mut d: serde_json::Value = serde_saphyr::from_str(MIN).unwrap();
        d["sops"] = serde_json::json!({ "recipients": [r] });
        d
    };
    assert!(v.is_valid(&doc(R)));
    assert!(!v.is_valid(&doc(&injected)));
    assert!(!v.is_valid(&doc("age1notarecipient")));
}

/// Issue #15 item 8: port 0 and zero machines are not a cluster.
#[test]
fn issue_15_zero_port_and_replicas_are_rejected() {
    let e = p(&format!("{MIN}apiServer:\n  port: 0\n"))
        .unwrap_err()
        .to_string();
    assert!(e.contains(":11: apiServer.port"), "{e}");
    let e = p(&format!("{MIN}controlPlane:\n  replicas: 0\n"))
        .unwrap_err()
        .to_string();
    assert!(e.contains(":11: controlPlane.replicas"), "{e}");
    let e = p(&format!("{MIN}workers:\n  replicas: 0\n"))
        .unwrap_err()
        .to_string();
    assert!(e.contains(":11: workers.replicas"), "{e}");
    let schema: serde_json::Value = serde_json::from_str(&schema_json()).unwrap();
    let v = jsonschema::validator_for(&schema).unwrap();
    let mut d: serde_json::Value = serde_saphyr::from_str(MIN).unwrap();
    d["workers"] = serde_json::json!({ "replicas": 0 });
    assert!(!v.is_valid(&d));
}

/// Issue #15 item 8: DEL and U+2028 in a spec string are errors naming the path; invalid
/// UTF-8 is an error, not a replacement character.
#[test]
fn issue_15_control_characters_and_invalid_utf8_are_rejected() {
    // DEL written as a YAML escape (raw, the YAML parser refuses it), U+2028 raw.
    for (c, name) in [("\\x7f", "U+007F"), ("\u{2028}", "U+2028")] {
        let src = MIN.replace("region: eu-west-1", &format!("region: \"eu-west-1{c}\""));
        let e = p(&src).unwrap_err().to_string();
        assert!(
            e.contains(":7: provider.capa.region") && e.contains(name),
            "{e}"
        );
    }
    let mut bytes = MIN.as_bytes().to_vec();
    let at = MIN.find("eu-west-1").unwrap();
    bytes[at] = 0xff;
    let e = decode(&bytes, Path::new("s.yaml")).unwrap_err();
    assert!(e.to_string().starts_with("s.yaml:7: not UTF-8"), "{e}");
    assert_eq!(decode(MIN.as_bytes(), Path::new("s.yaml")).unwrap(), MIN);
}

#[test]
fn the_example_admin_recipient_is_the_named_placeholder() {
    let s = p(EXAMPLE).unwrap();
    assert_eq!(s.sops.recipients, [EXAMPLE_ADMIN_RECIPIENT]);
    assert!(placeholder_warning(&s).unwrap().contains("NOBODY"));
}
