use std::collections::BTreeMap;

use super::*;

#[test]
fn targets_parse_and_print_round_trip() {
    for s in [
        "kubeconfig/admin",
        "oidc/grafana",
        "github-app",
        "deploy-key",
        "sops-data-keys",
        "age-key",
        "ca/cluster",
        "ca/etcd",
    ] {
        assert_eq!(s.parse::<Target>().unwrap().to_string(), s);
    }
    for bad in ["kubeconfig", "kubeconfig/", "ca/other", "oidc/a/b", "nope"] {
        assert!(bad.parse::<Target>().is_err(), "{bad}");
    }
    // The names `mcb status` prints.
    for (status, ours) in [
        ("oidc-client grafana", "oidc/grafana"),
        ("oidc-client/grafana", "oidc/grafana"),
        ("deploy-key flux", "deploy-key"),
        ("age-key installation", "age-key"),
        ("ca proxy", "ca/proxy"),
        ("kubeconfig admin", "kubeconfig/admin"),
        ("github-app/flux", "github-app"),
    ] {
        assert_eq!(status.parse::<Target>().unwrap().to_string(), ours);
    }
    let e = "sa-key sa".parse::<Target>().unwrap_err();
    assert!(
        e.to_string().contains("sa-key/sa") && e.to_string().contains("ServiceAccount token"),
        "{e}"
    );
}

fn cred(kind: &str, id: &str, created: &str, not_after: Option<&str>) -> Credential {
    Credential {
        kind: kind.parse().unwrap(),
        id: id.into(),
        subject: None,
        fingerprint: "sha256:00".into(),
        not_before: None,
        not_after: not_after.map(str::to_owned),
        created: created.into(),
        rotated: None,
        file: None,
        extra: BTreeMap::new(),
    }
}

#[test]
fn the_api_servers_confidential_dex_client_is_named_not_rotated() {
    let mut inv = Inventory::new();
    let mut k = cred("oidc-client", "kubectl", "2026-01-01T00:00:00Z", None);
    k.extra.insert("provider".into(), "dex".into());
    inv.upsert(k);
    let d = due(
        "demo",
        &inv,
        time::macros::datetime!(2027-01-15 00:00:00 UTC),
        &Default::default(),
        Inputs::default(),
    );
    assert!(d.targets.is_empty(), "{:?}", d.targets);
    assert!(d.elsewhere[0].contains("public: true"), "{:?}", d.elsewhere);
}

#[test]
fn due_picks_expiring_credentials_and_names_cas() {
    let mut inv = Inventory::new();
    let c = |kind: &str, id: &str, not_after: Option<&str>| {
        cred(kind, id, "2026-11-01T00:00:00Z", not_after)
    };
    inv.upsert(c("kubeconfig", "admin", Some("2027-01-10T00:00:00Z")));
    inv.upsert(c("kubeconfig", "ci", Some("2027-06-01T00:00:00Z")));
    inv.upsert(c("ca", "cluster", Some("2027-01-05T00:00:00Z")));
    inv.upsert(c("oidc-client", "grafana", Some("2027-01-02T00:00:00Z")));
    inv.upsert(c("deploy-key", "flux", None));
    let deadline = time::macros::datetime!(2027-01-15 00:00:00 UTC);
    let d = due(
        "demo",
        &inv,
        deadline,
        &Default::default(),
        Inputs::default(),
    );
    assert_eq!(
        d.targets,
        [
            Target::Kubeconfig("admin".into()),
            Target::Oidc("grafana".into())
        ]
    );
    // Issue #23 item 7: a CA in the window is named with its phased command.
    assert_eq!(d.elsewhere.len(), 1, "{:?}", d.elsewhere);
    assert!(d.elsewhere[0].contains("mcb rotate demo --only ca/cluster"));
    let none = due(
        "demo",
        &inv,
        time::macros::datetime!(2026-12-01 00:00:00 UTC),
        &Default::default(),
        Inputs::default(),
    );
    assert!(none.targets.is_empty() && none.elsewhere.is_empty());
}

/// Issue #23 item 7: deploy keys, app keys and age keys had no maximum age, so they
/// were never due.
#[test]
fn every_kind_has_a_maximum_age() {
    let mut inv = Inventory::new();
    let created = "2026-01-01T00:00:00Z";
    inv.upsert(cred("deploy-key", "flux", created, None));
    inv.upsert(cred("github-app", "flux", created, None));
    inv.upsert(cred("age-key", "installation", created, None));
    inv.upsert(cred("oidc-client", "grafana", created, None));
    let soon = time::macros::datetime!(2026-07-15 00:00:00 UTC);
    let d = due("demo", &inv, soon, &Default::default(), Inputs::default());
    assert_eq!(d.targets, [Target::Oidc("grafana".into())], "180 days");
    let late = time::macros::datetime!(2027-01-15 00:00:00 UTC);
    let d = due("demo", &inv, late, &Default::default(), Inputs::default());
    assert_eq!(
        d.targets,
        [Target::Oidc("grafana".into()), Target::DeployKey]
    );
    assert!(d
        .elsewhere
        .iter()
        .any(|l| l.contains("--only github-app --import")));
    let all = Inputs {
        age_key_out: true,
        github_app_key: true,
    };
    let d = due(
        "demo",
        &inv,
        time::macros::datetime!(2028-01-15 00:00:00 UTC),
        &Default::default(),
        all,
    );
    assert_eq!(
        d.targets,
        [
            Target::Oidc("grafana".into()),
            Target::GithubApp,
            Target::DeployKey,
            Target::AgeKey
        ]
    );
    // The spec's maximum age wins over the default.
    let spec: crate::spec::MaxAge =
        serde_json::from_value(serde_json::json!({"deploy-key": "30d"})).unwrap();
    let d = due(
        "demo",
        &inv,
        time::macros::datetime!(2026-02-15 00:00:00 UTC),
        &spec,
        Inputs::default(),
    );
    assert_eq!(d.targets, [Target::DeployKey]);
}

#[test]
fn branch_suffix_names_a_single_target() {
    assert_eq!(
        branch_suffix(&[Target::Kubeconfig("admin".into())]),
        "-kubeconfig-admin"
    );
    assert_eq!(branch_suffix(&[]), "");
    assert_eq!(branch_suffix(&[Target::AgeKey, Target::DeployKey]), "");
}
