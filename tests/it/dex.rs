//! Dex and organizations that start on a real cluster (issue #18): for the example spec and
//! every provider, the `apps` layer built with the real `kubectl kustomize` gives Dex the
//! RBAC its `kubernetes` storage needs, an Ingress and a cert-manager Certificate for the
//! issuer host, health probes on its telemetry port and a pinned image; organizations are
//! namespaces with RoleBindings for their OIDC groups, and the Organization custom resource
//! is refused unless the repo installs its CRD.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use crate::render::{render, spec_for, write_spec, PROVIDERS};
use crate::support::{assert_schema_valid, run, tool, TestEnv};

/// The dex.coreos.com resources of Dex's kubernetes storage (dexidp/dex v2.45.1
/// `storage/kubernetes/types.go`, `customResourceDefinitions`), namespaced in Dex's namespace.
const DEX_RESOURCES: [&str; 10] = [
    "authcodes",
    "authrequests",
    "oauth2clients",
    "signingkeies",
    "refreshtokens",
    "passwords",
    "offlinesessionses",
    "connectors",
    "devicerequests",
    "devicetokens",
];

/// The objects `kubectl kustomize dir` builds, each validated strictly with mcb's own
/// validator (built-in kinds, vendored CRDs, CRDs in the same build).
fn build(t: &TestEnv, dir: &Path) -> Vec<Value> {
    let mut c = t.command(tool("kubectl"));
    c.arg("kustomize").arg(dir);
    let out = run(c).ok().stdout;
    let file = t.path().join(format!(
        "built-{}.yaml",
        dir.strip_prefix(t.path())
            .unwrap()
            .display()
            .to_string()
            .replace('/', "_")
    ));
    std::fs::write(&file, &out).unwrap();
    let v = assert_schema_valid(&[&file]);
    // Every kind has a schema (cert-manager's Certificate included, vendored with the
    // infrastructure layer): a kind without one is a kind nothing installs.
    assert!(
        v.unknown_kinds.is_empty(),
        "no schema, so nothing installs: {:?} ({})",
        v.unknown_kinds,
        dir.display()
    );
    serde_saphyr::from_multiple::<Value>(&out).unwrap()
}

fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> Option<&'a Value> {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
}

fn get<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    find(docs, kind, name).unwrap_or_else(|| panic!("no {kind}/{name}"))
}

fn strs(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn allows(rule: &Value, group: &str, resource: &str, verb: &str) -> bool {
    let has = |list: Vec<&str>, x: &str| list.iter().any(|v| *v == x || *v == "*");
    has(strs(&rule["apiGroups"]), group)
        && has(strs(&rule["resources"]), resource)
        && has(strs(&rule["verbs"]), verb)
}

/// Whether ServiceAccount `ns/sa` may `verb` `group/resource`: in namespace `in_ns`
/// (through a RoleBinding there or a ClusterRoleBinding), or cluster-wide when `in_ns` is
/// `None` (ClusterRoleBinding only), as the API server's RBAC authorizer decides.
fn grants(
    docs: &[Value],
    (ns, sa): (&str, &str),
    in_ns: Option<&str>,
    (group, resource, verb): (&str, &str, &str),
) -> bool {
    docs.iter()
        .filter(|b| match b["kind"].as_str() {
            Some("ClusterRoleBinding") => true,
            Some("RoleBinding") => in_ns.is_some() && b["metadata"]["namespace"] == in_ns.unwrap(),
            _ => false,
        })
        .filter(|b| {
            b["subjects"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|s| s["kind"] == "ServiceAccount" && s["name"] == sa && s["namespace"] == ns)
        })
        .filter_map(|b| {
            let r = &b["roleRef"];
            match r["kind"].as_str()? {
                "ClusterRole" => find(docs, "ClusterRole", r["name"].as_str()?),
                _ => docs.iter().find(|d| {
                    d["kind"] == "Role"
                        && d["metadata"]["name"] == r["name"]
                        && d["metadata"]["namespace"] == b["metadata"]["namespace"]
                }),
            }
        })
        .any(|role| {
            role["rules"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|rule| allows(rule, group, resource, verb))
        })
}

/// What the spec says the issuer host, ingress class and issuer are.
struct Expect<'a> {
    host: &'a str,
    class: &'a str,
    issuer: (&'a str, &'a str),
}

/// Dex in the built `apps` layer starts: storage RBAC, Ingress + Certificate, probes, image.
fn assert_dex_starts(apps: &[Value], e: &Expect<'_>) {
    let deploy = get(apps, "Deployment", "dex");
    assert_eq!(deploy["metadata"]["namespace"], "dex");
    let pod = &deploy["spec"]["template"]["spec"];
    let sa = pod["serviceAccountName"].as_str().unwrap();
    assert!(find(apps, "ServiceAccount", sa).is_some(), "{sa}");
    let container = &pod["containers"][0];

    // The config Dex reads decides what it needs.
    let cm_name = pod["volumes"][0]["configMap"]["name"].as_str().unwrap();
    let cm = get(apps, "ConfigMap", cm_name);
    let config: Value =
        serde_saphyr::from_str(cm["data"]["config.yaml"].as_str().unwrap()).unwrap();
    assert_eq!(config["storage"]["type"], "kubernetes");
    for r in DEX_RESOURCES {
        for verb in ["get", "list", "watch", "create", "update", "delete"] {
            assert!(
                grants(apps, ("dex", sa), Some("dex"), ("dex.coreos.com", r, verb)),
                "Dex may not {verb} {r}.dex.coreos.com in namespace dex"
            );
        }
        // Namespaced only: nothing grants its storage beyond its own namespace.
        assert!(!grants(
            apps,
            ("dex", sa),
            Some("kube-system"),
            ("dex.coreos.com", r, "get")
        ));
    }
    for verb in ["list", "create"] {
        assert!(
            grants(
                apps,
                ("dex", sa),
                None,
                ("apiextensions.k8s.io", "customresourcedefinitions", verb)
            ),
            "Dex may not {verb} customresourcedefinitions (crdHandling: ensure)"
        );
    }
    assert!(!grants(
        apps,
        ("dex", sa),
        None,
        (
            "apiextensions.k8s.io",
            "customresourcedefinitions",
            "delete"
        )
    ));

    // Issuer host: Ingress of the spec's class with TLS from the Certificate's Secret.
    assert_eq!(config["issuer"], format!("https://{}", e.host));
    let ing = get(apps, "Ingress", "dex");
    assert_eq!(ing["spec"]["ingressClassName"], e.class);
    assert_eq!(ing["spec"]["rules"][0]["host"], e.host);
    let backend = &ing["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"];
    let svc = get(apps, "Service", backend["name"].as_str().unwrap());
    assert!(svc["spec"]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["name"] == backend["port"]["name"] && p["port"] == 5556));
    assert_eq!(strs(&ing["spec"]["tls"][0]["hosts"]), [e.host]);
    let tls = ing["spec"]["tls"][0]["secretName"].as_str().unwrap();
    let cert = apps
        .iter()
        .find(|d| d["apiVersion"] == "cert-manager.io/v1" && d["kind"] == "Certificate")
        .expect("a cert-manager Certificate");
    assert_eq!(cert["metadata"]["namespace"], "dex");
    assert_eq!(cert["spec"]["secretName"], tls);
    assert_eq!(strs(&cert["spec"]["dnsNames"]), [e.host]);
    assert_eq!(cert["spec"]["issuerRef"]["kind"], e.issuer.0);
    assert_eq!(cert["spec"]["issuerRef"]["name"], e.issuer.1);
    assert_eq!(cert["spec"]["issuerRef"]["group"], "cert-manager.io");

    // Probes on the telemetry listener the config opens; the image is a pinned release.
    let telemetry_port: u64 = config["telemetry"]["http"]
        .as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let port = container["ports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "telemetry")
        .unwrap();
    assert_eq!(port["containerPort"], telemetry_port);
    for (probe, path) in [
        ("livenessProbe", "/healthz/live"),
        ("readinessProbe", "/healthz/ready"),
    ] {
        assert_eq!(container[probe]["httpGet"]["path"], path, "{probe}");
        assert_eq!(container[probe]["httpGet"]["port"], "telemetry", "{probe}");
    }
    assert_eq!(container["image"], "ghcr.io/dexidp/dex:v2.45.1");
}

/// Organizations: namespace `org-<name>` (root layer) and one RoleBinding per role for the
/// spec's groups (apps layer).
fn assert_organization(root: &[Value], apps: &[Value], org: &str, groups: &[(&str, &str)]) {
    let ns = format!("org-{org}");
    assert!(find(root, "Namespace", &ns).is_some(), "no namespace {ns}");
    let roles: BTreeSet<&str> = groups.iter().map(|(_, r)| *r).collect();
    for role in roles {
        let rb = get(apps, "RoleBinding", &format!("org-{org}-{role}"));
        assert_eq!(rb["metadata"]["namespace"], ns.as_str());
        assert_eq!(rb["roleRef"]["kind"], "ClusterRole");
        assert_eq!(rb["roleRef"]["name"], role);
        let subjects: BTreeSet<(&str, &str)> = rb["subjects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s["kind"].as_str().unwrap(), s["name"].as_str().unwrap()))
            .collect();
        let want: BTreeSet<(&str, &str)> = groups
            .iter()
            .filter(|(_, r)| *r == role)
            .map(|(g, _)| ("Group", *g))
            .collect();
        assert_eq!(subjects, want, "{role}");
    }
    // No vendor CRD by default.
    assert!(!apps.iter().any(|d| d["kind"] == "Organization"));
}

/// The Flux Kustomization `apps` waits for the layer that installs cert-manager.
fn assert_apps_waits_for_infrastructure(root: &[Value]) {
    let apps = root
        .iter()
        .find(|d| d["kind"] == "Kustomization" && d["metadata"]["name"] == "apps")
        .expect("Kustomization apps");
    let deps: Vec<&str> = apps["spec"]["dependsOn"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert!(deps.contains(&"infrastructure"), "{deps:?}");
}

#[test]
fn dex_and_organizations_start_for_the_example_and_every_provider() {
    let t = TestEnv::new();
    write_spec(t.path(), "gauss", mcb::spec::EXAMPLE);
    for p in PROVIDERS {
        let name = format!("mc-{p}");
        write_spec(t.path(), &name, &spec_for(&name, p));
    }
    render(&t, &[]).ok();
    let inst = |n: &str| t.path().join("installations").join(n).join("manifests");

    let check = |name: &str, groups: &[(&str, &str)]| {
        let m = inst(name);
        let (root, apps) = (build(&t, &m), build(&t, &m.join("apps")));
        let host = format!("dex.{name}.example.com");
        let ingress = Expect {
            host: &host,
            class: "nginx",
            issuer: ("ClusterIssuer", "letsencrypt"),
        };
        assert_dex_starts(&apps, &ingress);
        assert_organization(&root, &apps, "team-a", groups);
        assert_apps_waits_for_infrastructure(&root);
    };
    check(
        "gauss",
        &[("example:team-a", "edit"), ("example:platform", "admin")],
    );
    for p in PROVIDERS {
        check(
            &format!("mc-{p}"),
            &[
                ("example:team-a", "edit"),
                ("example:sre", "admin"),
                ("example:auditors", "admin"),
            ],
        );
    }
}

#[test]
fn dex_ingress_follows_the_spec_issuer_class_and_cert_issuer() {
    let t = TestEnv::new();
    let spec = spec_for("ix", "capa").replace(
        "oidc:\n",
        "ingress:\n  className: traefik\n  issuer: {kind: Issuer, name: internal-ca}\noidc:\n  issuer: https://login.corp.example.org\n",
    );
    write_spec(t.path(), "ix", &spec);
    render(&t, &[]).ok();
    let apps = build(&t, &t.path().join("installations/ix/manifests/apps"));
    assert_dex_starts(
        &apps,
        &Expect {
            host: "login.corp.example.org",
            class: "traefik",
            issuer: ("Issuer", "internal-ca"),
        },
    );

    // An issuer Dex cannot serve behind the Ingress is refused with its path.
    let t = TestEnv::new();
    let bad =
        spec_for("iy", "capa").replace("oidc:\n", "oidc:\n  issuer: http://dex.iy.example.com\n");
    write_spec(t.path(), "iy", &bad);
    let r = render(&t, &[]).fails_with(2);
    assert!(r.stderr.contains("oidc.issuer"), "{}", r.stderr);
    assert!(!t.path().join("installations/iy/manifests").exists());
}

/// A minimal stand-in for giantswarm/organization-operator's CRD (the real one is the
/// user's to add; mcb only checks that its repo installs one with this name).
const ORG_CRD: &str = "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: organizations.security.giantswarm.io
spec:
  group: security.giantswarm.io
  names: {kind: Organization, listKind: OrganizationList, plural: organizations, singular: organization}
  scope: Cluster
  versions:
    - name: v1alpha1
      served: true
      storage: true
      schema:
        openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
";

#[test]
fn organization_custom_resources_need_their_crd_in_the_repo() {
    let t = TestEnv::new();
    let spec = format!(
        "{}organizationCustomResources: true\n",
        spec_for("oc", "capv")
    );
    write_spec(t.path(), "oc", &spec);
    let r = render(&t, &[]).fails_with(2);
    assert!(
        r.stderr.contains("organizationCustomResources"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("organizations.security.giantswarm.io"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("help: add the CustomResourceDefinition"),
        "{}",
        r.stderr
    );
    assert!(!t.path().join("installations/oc/manifests").exists());

    // With the CRD as a template of the repo, the CRs render next to namespaces and RBAC.
    let crds = t.path().join("templates/manifests/apps/crds");
    std::fs::create_dir_all(&crds).unwrap();
    std::fs::write(crds.join("organizations.yaml"), ORG_CRD).unwrap();
    render(&t, &[]).ok();
    let m = t.path().join("installations/oc/manifests");
    let apps = build(&t, &m.join("apps"));
    let org = get(&apps, "Organization", "team-a");
    assert_eq!(org["apiVersion"], "security.giantswarm.io/v1alpha1");
    assert!(find(
        &apps,
        "CustomResourceDefinition",
        "organizations.security.giantswarm.io"
    )
    .is_some());
    assert!(find(&apps, "RoleBinding", "org-team-a-edit").is_some());
    assert!(find(&build(&t, &m), "Namespace", "org-team-a").is_some());
}

/// The example spec with a second connector whose id has a `-`.
fn two_connectors() -> String {
    mcb::spec::EXAMPLE.replace("name: gauss", "name: demo").replace(
        "  connectors:\n",
        "  connectors:\n    - id: my-oidc\n      type: oidc\n      name: Corp\n      config: {issuer: https://sso.example.com, clientID: mcb}\n",
    )
}

fn check_json(t: &TestEnv, repo: &Path) -> crate::support::Run {
    let mut c = t.mcb();
    c.arg("--repo")
        .arg(repo)
        .args(["check", "-o", "json", "--skip", "kustomize-build"]);
    run(c)
}

/// Connector secrets given at init land SOPS-encrypted in dex-connectors under the env name
/// Dex's config expands (ids with `-` included: init once matched them by a lower-cased id
/// and dropped `my-oidc`'s); without them `mcb check` fails and `mcb status` says so.
#[test]
fn init_connector_secrets_from_env_land_in_dex_connectors_and_check_requires_them() {
    use crate::init::{config_repo, go_sops_decrypt, init_with_spec};
    let mut t = TestEnv::new();
    t.vars.insert(
        "MCB_DEX_CONNECTOR_GITHUB_CLIENT_SECRET".into(),
        "gh-secret".into(),
    );
    t.vars.insert(
        "MCB_DEX_CONNECTOR_MY_OIDC_CLIENT_SECRET".into(),
        "corp-secret".into(),
    );
    let repo = config_repo(&t);
    let spec = t.path().join("spec.yaml");
    std::fs::write(&spec, two_connectors()).unwrap();
    let key = t.path().join("demo.agekey");
    run(init_with_spec(&t, &repo, &spec, &key)).ok();
    let file = repo.join("installations/demo/secrets/dex-connectors.sops.yaml");
    let plain = go_sops_decrypt(&t, &file, &key).ok().stdout;
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    for (k, v) in [
        ("DEX_CONNECTOR_GITHUB_CLIENT_SECRET", "gh-secret"),
        ("DEX_CONNECTOR_MY_OIDC_CLIENT_SECRET", "corp-secret"),
    ] {
        assert!(plain.contains(&format!("{k}: {}", b64(v))), "{k}:\n{plain}");
    }
    let r = check_json(&t, &repo);
    assert!(!r.stdout.contains("dex-connector-secret"), "{}", r.stdout);

    // Without the env vars: init warns, check fails naming the connector and the fix.
    let t = TestEnv::new();
    let repo = config_repo(&t);
    std::fs::write(t.path().join("spec.yaml"), two_connectors()).unwrap();
    let r = run(init_with_spec(
        &t,
        &repo,
        &t.path().join("spec.yaml"),
        &t.path().join("k"),
    ))
    .ok();
    assert!(
        r.stderr.contains("MCB_DEX_CONNECTOR_MY_OIDC_CLIENT_SECRET"),
        "{}",
        r.stderr
    );
    let r = check_json(&t, &repo).fails_with(1);
    let report: Value = serde_json::from_str(&r.stdout).unwrap();
    let found: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "dex-connector-secret")
        .collect();
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found[0]["file"], "installations/demo/installation.yaml");
    assert_eq!(found[0]["severity"], "error");
    let msg = found[0]["message"].as_str().unwrap();
    assert!(
        msg.starts_with("oidc.connectors[0]: Dex connector `my-oidc` has no client secret"),
        "{msg}"
    );
    assert!(msg.contains("mcb shared import dex-my-oidc"), "{msg}");
    let mut c = t.mcb();
    c.arg("--repo").arg(&repo).arg("status");
    let out = run(c).ok().stdout;
    assert!(
        out.contains("dex connector github: SECRET MISSING"),
        "{out}"
    );
}
