//! Dex and organizations that start on a real cluster (issue #18): for the example spec and
//! every provider, the `apps` layer built with the real `kubectl kustomize` installs Dex from
//! its upstream Helm chart (a Flux HelmRepository + HelmRelease at the pinned chart version)
//! and a cert-manager Certificate for the issuer host. The tests render the vendored chart
//! (`vendor/dex-chart/`, the pinned version) with Helm's own template engine (Helm v4's Go
//! SDK from the PyPI package helm-python-sdk) and the HelmRelease's values, validate every
//! rendered object strictly, and check what Dex needs: the RBAC its `kubernetes` storage
//! needs, an Ingress of the spec's class for the issuer host with TLS from the Certificate,
//! health probes on its telemetry port, the chart's pinned image, the client and connector
//! secrets in its environment. Organizations are namespaces with RoleBindings for their
//! OIDC groups, and the Organization custom resource is refused unless the repo installs its
//! CRD.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::render::{render, spec_for, write_spec, PROVIDERS};
use crate::support::{assert_schema_valid, root, run, tool, tools_dir, TestEnv};

/// The dex.coreos.com resources of Dex's kubernetes storage (dexidp/dex v2.44.0 and v2.45.1
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

pub(crate) fn get<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    find(docs, kind, name).unwrap_or_else(|| panic!("no {kind}/{name}"))
}

/// The item of list `list` that `pred` picks; panics naming `what` when there is none.
fn item<'a>(list: &'a Value, what: &str, pred: impl Fn(&Value) -> bool) -> &'a Value {
    list.as_array()
        .and_then(|a| a.iter().find(|v| pred(v)))
        .unwrap_or_else(|| panic!("no {what} in {list}"))
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

/// The vendored chart of the pinned version (scripts/vendor-dex-chart.sh).
fn dex_chart() -> PathBuf {
    root()
        .join("vendor/dex-chart")
        .join(format!("dex-{}", mcb::versions::get("DEX_CHART")))
}

/// A value of the vendored chart's Chart.yaml.
fn chart_meta(key: &str) -> String {
    let meta: Value =
        serde_saphyr::from_str(&std::fs::read_to_string(dex_chart().join("Chart.yaml")).unwrap())
            .unwrap();
    meta[key].as_str().unwrap().to_owned()
}

/// The HelmRelease `dex` of the built `apps` layer, checked to install the pinned chart
/// from its upstream repository.
pub(crate) fn dex_release(apps: &[Value]) -> &Value {
    let hr = get(apps, "HelmRelease", "dex");
    assert_eq!(hr["apiVersion"], "helm.toolkit.fluxcd.io/v2");
    let chart = &hr["spec"]["chart"]["spec"];
    assert_eq!(chart["chart"], "dex");
    assert_eq!(chart["version"], mcb::versions::get("DEX_CHART"));
    assert_eq!(chart["version"].as_str().unwrap(), chart_meta("version"));
    assert_eq!(chart["sourceRef"]["kind"], "HelmRepository");
    let repo = get(
        apps,
        "HelmRepository",
        chart["sourceRef"]["name"].as_str().unwrap(),
    );
    assert_eq!(repo["metadata"]["namespace"], hr["metadata"]["namespace"]);
    // Where dexidp/helm-charts' release workflow publishes (chart-releaser, charts_repo_url).
    assert_eq!(repo["spec"]["url"], "https://charts.dexidp.io");
    hr
}

/// What the chart renders for the HelmRelease `hr` (as helm-controller installs it: its
/// release name and namespace), with Helm's engine, every object validated strictly.
pub(crate) fn helm_template(t: &TestEnv, hr: &Value) -> Vec<Value> {
    let release = hr["spec"]["releaseName"]
        .as_str()
        .or(hr["metadata"]["name"].as_str())
        .unwrap();
    let ns = hr["spec"]["targetNamespace"]
        .as_str()
        .or(hr["metadata"]["namespace"].as_str())
        .unwrap();
    let values = t.path().join(format!("values-{ns}-{release}.json"));
    std::fs::write(&values, hr["spec"]["values"].to_string()).unwrap();
    let mut c = t.command(tool("venv-python"));
    c.arg(tools_dir().join("helm-template.py"))
        .arg(dex_chart())
        .args([release, ns])
        .arg(&values);
    let out = run(c).ok().stdout;
    let file = t.path().join(format!("helm-{ns}-{release}.yaml"));
    std::fs::write(&file, &out).unwrap();
    let v = assert_schema_valid(&[&file]);
    assert!(v.unknown_kinds.is_empty(), "{:?}", v.unknown_kinds);
    serde_saphyr::from_multiple::<Value>(&out).unwrap()
}

/// Every key of `values` below a map is one the chart's values.yaml has (with the same
/// type where it has a default): Helm ignores unknown values, so a misspelled key would
/// silently do nothing. Below a default that is empty (`{}`, `[]`, null) the chart takes
/// anything (Dex's `config`, `env`, lists of Kubernetes objects): the rendering checks those.
fn assert_values_known(values: &Value, defaults: &Value, path: &str) {
    let Some(map) = values.as_object() else {
        return;
    };
    let Some(known) = defaults.as_object().filter(|m| !m.is_empty()) else {
        return;
    };
    for (k, v) in map {
        let at = format!("{path}.{k}");
        let d = known
            .get(k)
            .unwrap_or_else(|| panic!("{at}: the chart has no such value"));
        let kind = |x: &Value| match x {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "list",
            Value::Object(_) => "map",
        };
        assert!(
            d.is_null() || kind(d) == kind(v),
            "{at}: {} where the chart's default is a {}",
            kind(v),
            kind(d)
        );
        assert_values_known(v, d, &at);
    }
}

/// The chart's values.yaml defaults.
fn chart_defaults() -> Value {
    serde_saphyr::from_str(&std::fs::read_to_string(dex_chart().join("values.yaml")).unwrap())
        .unwrap()
}

/// Dex's config as the chart hands it to Dex: `config.yaml` of the Secret the Deployment
/// mounts at /etc/dex.
fn mounted_config(objs: &[Value], pod: &Value) -> Value {
    let container = &pod["containers"][0];
    let mount = item(
        &container["volumeMounts"],
        "config mounted at /etc/dex",
        |m| m["mountPath"] == "/etc/dex",
    );
    let volume = item(&pod["volumes"], "the mount's volume", |v| {
        v["name"] == mount["name"]
    });
    let args = strs(&container["args"]);
    assert_eq!(args.last(), Some(&"/etc/dex/config.yaml"), "{args:?}");
    let secret = get(
        objs,
        "Secret",
        volume["secret"]["secretName"].as_str().unwrap(),
    );
    use base64::Engine;
    let text = base64::engine::general_purpose::STANDARD
        .decode(secret["data"]["config.yaml"].as_str().unwrap())
        .unwrap();
    serde_saphyr::from_str(std::str::from_utf8(&text).unwrap()).unwrap()
}

/// Dex in the built `apps` layer starts: installed from the pinned chart, whose rendering
/// has storage RBAC, Ingress (+ our Certificate), probes, the chart's image and the secrets.
/// Returns everything (the layer and the chart's objects).
fn assert_dex_starts(t: &TestEnv, apps: &[Value], e: &Expect<'_>) -> Vec<Value> {
    let hr = dex_release(apps);
    assert_values_known(&hr["spec"]["values"], &chart_defaults(), "values");
    let chart = helm_template(t, hr);
    assert!(chart
        .iter()
        .all(|o| o["metadata"]["namespace"].is_null() || o["metadata"]["namespace"] == "dex"));
    let all: Vec<Value> = apps.iter().chain(&chart).cloned().collect();

    let deploy = get(&all, "Deployment", "dex");
    assert_eq!(deploy["metadata"]["namespace"], "dex");
    let pod = &deploy["spec"]["template"]["spec"];
    let sa = pod["serviceAccountName"].as_str().unwrap();
    assert!(find(&all, "ServiceAccount", sa).is_some(), "{sa}");
    let container = &pod["containers"][0];

    // The config Dex reads decides what it needs.
    let config = mounted_config(&all, pod);
    assert_eq!(config["storage"]["type"], "kubernetes");
    for r in DEX_RESOURCES {
        for verb in ["get", "list", "watch", "create", "update", "delete"] {
            assert!(
                grants(&all, ("dex", sa), Some("dex"), ("dex.coreos.com", r, verb)),
                "Dex may not {verb} {r}.dex.coreos.com in namespace dex"
            );
        }
        // Namespaced only: nothing grants its storage beyond its own namespace.
        assert!(!grants(
            &all,
            ("dex", sa),
            Some("kube-system"),
            ("dex.coreos.com", r, "get")
        ));
    }
    for verb in ["list", "create"] {
        assert!(
            grants(
                &all,
                ("dex", sa),
                None,
                ("apiextensions.k8s.io", "customresourcedefinitions", verb)
            ),
            "Dex may not {verb} customresourcedefinitions (crdHandling: ensure)"
        );
    }
    assert!(!grants(
        &all,
        ("dex", sa),
        None,
        (
            "apiextensions.k8s.io",
            "customresourcedefinitions",
            "delete"
        )
    ));

    // Issuer host: Ingress of the spec's class with TLS from the Certificate's Secret,
    // routed to the Service port Dex's web listener is behind.
    assert_eq!(config["issuer"], format!("https://{}", e.host));
    let ing = get(&all, "Ingress", "dex");
    assert_eq!(ing["spec"]["ingressClassName"], e.class);
    assert_eq!(ing["spec"]["rules"][0]["host"], e.host);
    let backend = &ing["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"];
    let svc = get(&all, "Service", backend["name"].as_str().unwrap());
    let port = item(
        &svc["spec"]["ports"],
        "the Ingress backend port is a port of the Service",
        |p| p["port"] == backend["port"]["number"] || p["name"] == backend["port"]["name"],
    );
    let web = item(&container["ports"], "the Service's target port", |p| {
        p["name"] == port["targetPort"]
    });
    let web_port: u64 = config["web"]["http"]
        .as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(web["containerPort"], web_port);
    assert_eq!(strs(&ing["spec"]["tls"][0]["hosts"]), [e.host]);
    let tls = ing["spec"]["tls"][0]["secretName"].as_str().unwrap();
    let cert = all
        .iter()
        .find(|d| d["apiVersion"] == "cert-manager.io/v1" && d["kind"] == "Certificate")
        .expect("a cert-manager Certificate");
    assert_eq!(cert["metadata"]["namespace"], "dex");
    assert_eq!(cert["spec"]["secretName"], tls);
    assert_eq!(strs(&cert["spec"]["dnsNames"]), [e.host]);
    assert_eq!(cert["spec"]["issuerRef"]["kind"], e.issuer.0);
    assert_eq!(cert["spec"]["issuerRef"]["name"], e.issuer.1);
    assert_eq!(cert["spec"]["issuerRef"]["group"], "cert-manager.io");

    // Probes on the telemetry listener the config opens; the image is the chart's release.
    let telemetry_port: u64 = config["telemetry"]["http"]
        .as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let port = item(&container["ports"], "Dex's telemetry port", |p| {
        p["name"] == "telemetry"
    });
    assert_eq!(port["containerPort"], telemetry_port);
    for (probe, path) in [
        ("livenessProbe", "/healthz/live"),
        ("readinessProbe", "/healthz/ready"),
    ] {
        assert_eq!(container[probe]["httpGet"]["path"], path, "{probe}");
        assert_eq!(container[probe]["httpGet"]["port"], "telemetry", "{probe}");
    }
    assert_eq!(
        container["image"],
        format!("ghcr.io/dexidp/dex:v{}", chart_meta("appVersion"))
    );

    // Every secret the config names comes from the environment: the static clients' and
    // connectors' Secrets (optional: Dex starts before init wrote them).
    let from: Vec<(&str, bool)> = container["envFrom"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["secretRef"]["name"].as_str().unwrap(),
                f["secretRef"]["optional"] == true,
            )
        })
        .collect();
    assert_eq!(from, [("dex-clients", true), ("dex-connectors", true)]);
    all
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
        assert_dex_starts(&t, &apps, &ingress);
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
        &t,
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
