//! `mcb render`, `mcb schema`, `mcb example-spec`: the rendered tree for every provider
//! (snapshots), real `kubectl kustomize` builds, schema validation of every object with
//! mcb's strict validator, `kubernetes-validate` (core kinds) and the Flux models (Flux
//! kinds), drift detection,
//! and bad input that must fail with exit 2 and write nothing.

use std::path::{Path, PathBuf};

use crate::support::{assert_schema_valid, node_modules, run, tool, tools_dir, TestEnv};

pub(crate) const BASE: &str = "apiVersion: mcb/v1alpha1
kind: Installation
name: NAME
baseDomain: NAME.example.com
git:
  url: ssh://git@github.com/example/mc
oidc:
  connectors:
    - id: github
      type: github
      name: GitHub
      config: {clientID: abc, orgs: [{name: example}]}
  staticClients:
    - id: grafana
      redirectURIs: [https://grafana.NAME.example.com/login]
organizations:
  - name: team-a
    groups:
      - {name: 'example:team-a', role: edit}
      - {name: 'example:sre', role: admin}
      - {name: 'example:auditors', role: admin}
";

fn provider(p: &str) -> &'static str {
    match p {
        "capa" => "provider:\n  capa:\n    region: eu-central-1\n    sshKeyName: ops\n",
        "capz" => "provider:\n  capz:\n    location: westeurope\n    subscriptionId: 00000000-0000-0000-0000-000000000000\n    clientID: 11111111-1111-1111-1111-111111111111\n    tenantID: 22222222-2222-2222-2222-222222222222\n",
        "capv" => "provider:\n  capv:\n    server: vcenter.example.com\n    datacenter: dc1\n    datastore: ds1\n    network: vm-net\n    template: ubuntu-2404\n    folder: mc\n    controlPlaneIP: 10.0.0.10\n",
        "openstack" => "provider:\n  openstack:\n    externalNetworkId: 6e7b2f2b-0000-4000-8000-000000000000\n    flavor: m1.large\n    image: ubuntu-24.04\n    apiServerFloatingIP: 203.0.113.10\n    dnsNameservers: [192.0.2.53]\n",
        "cloud-director" => "provider:\n  cloud-director:\n    site: https://vcd.example.com\n    org: acme\n    vdc: vdc1\n    ovdcNetwork: net1\n    catalog: cat\n    template: ubuntu-2404\n    controlPlaneIP: 203.0.113.20\n",
        _ => unreachable!(),
    }
}

pub(crate) const PROVIDERS: [&str; 5] = ["capa", "capz", "capv", "openstack", "cloud-director"];

pub(crate) fn write_spec(root: &Path, name: &str, body: &str) {
    let dir = root.join("installations").join(name);
    std::fs::create_dir_all(dir.join("secrets")).unwrap();
    std::fs::write(dir.join("installation.yaml"), body).unwrap();
}

/// capz uses GitHub App auth for Flux (https URL, `provider: github`); the others SSH.
pub(crate) fn spec_for(name: &str, p: &str) -> String {
    let base = BASE.replace("NAME", name);
    let base = if p == "capz" {
        base.replace(
            "  url: ssh://git@github.com/example/mc\n",
            "  url: https://github.com/example/mc\n  auth: github-app\ngithubApp:\n  owner: example\n",
        )
    } else {
        base
    };
    format!("{base}{}", provider(p))
}

pub(crate) fn render(t: &TestEnv, args: &[&str]) -> crate::support::Run {
    let mut c = t.mcb();
    c.arg("--repo").arg(t.path()).arg("render").args(args);
    run(c)
}

/// Every file under `dir`, relative, sorted.
fn files(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                out.push((rel, std::fs::read_to_string(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

fn dirs_with_kustomization(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = files(dir)
        .into_iter()
        .filter(|(p, _)| p.ends_with("kustomization.yaml"))
        .map(|(p, _)| dir.join(p).parent().unwrap().to_path_buf())
        .collect();
    out.sort();
    out
}

/// A real SOPS-encrypted Secret (Go sops, age) in the installation's secrets/.
fn sops_secret(t: &TestEnv, inst: &str, name: &str) {
    let key = t.path().join("age.key");
    if !key.exists() {
        let mut c = t.command(tool("age-keygen"));
        c.arg("-o").arg(&key);
        run(c).ok();
    }
    let mut c = t.command(tool("age-keygen"));
    c.arg("-y").arg(&key);
    let recipient = run(c).ok().stdout.trim().to_string();
    let plain = t.path().join(format!("{name}.yaml"));
    std::fs::write(&plain, format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: default\ntype: Opaque\ndata:\n  tls.crt: Q1JU\n")).unwrap();
    let mut c = t.command(tool("sops"));
    c.args([
        "-e",
        "--age",
        &recipient,
        "--encrypted-regex",
        "^(data|stringData)$",
    ])
    .arg(&plain);
    let enc = run(c).ok().stdout;
    std::fs::write(
        t.path()
            .join(format!("installations/{inst}/secrets/{name}.sops.yaml")),
        enc,
    )
    .unwrap();
}

/// Builds every kustomization under `inst` with the real `kubectl kustomize`; returns one
/// file of built objects per kustomization.
fn kustomize_all(t: &TestEnv, inst: &Path) -> Vec<PathBuf> {
    let kubectl = tool("kubectl");
    let out_dir = t.path().join("built");
    std::fs::create_dir_all(&out_dir).unwrap();
    let dirs = dirs_with_kustomization(inst);
    assert!(dirs.len() >= 6, "{dirs:?}");
    let mut built = Vec::new();
    for (i, d) in dirs.iter().enumerate() {
        let mut c = t.command(&kubectl);
        c.arg("kustomize").arg(d);
        let r = run(c);
        assert!(
            r.status.success(),
            "kubectl kustomize {} failed:\n{}",
            d.display(),
            r.stderr
        );
        let f = out_dir.join(format!("{i}.yaml"));
        std::fs::write(&f, &r.stdout).unwrap();
        built.push(f);
    }
    built
}

/// Builds every kustomization with the real kubectl and validates every object: core kinds
/// with kubernetes-validate (strict), Flux kinds with the Flux models.
fn build_and_validate(t: &TestEnv, inst: &Path) {
    let validate = tool("kubernetes-validate");
    let built = kustomize_all(t, inst);
    // SOPS-encrypted Secrets carry a `sops:` block that --strict rejects; they are checked
    // without it, everything else strictly.
    let (sealed, plain): (Vec<_>, Vec<_>) = built
        .iter()
        .partition(|f| std::fs::read_to_string(f).unwrap().contains("\nsops:\n"));
    for (files, strict) in [(plain, true), (sealed, false)] {
        if files.is_empty() {
            continue;
        }
        let mut c = t.command(&validate);
        c.args(["-k", "1.33"])
            .args(strict.then_some("--strict"))
            .args(&files);
        let r = run(c);
        assert!(
            r.status.success(),
            "kubernetes-validate:\n{}\n{}",
            r.stdout,
            r.stderr
        );
    }
    let mut c = t.command("node");
    c.arg(tools_dir().join("validate-flux.mjs")).args(&built);
    c.current_dir(node_modules().parent().unwrap());
    let r = run(c);
    assert!(
        r.status.success(),
        "validate-flux:\n{}\n{}",
        r.stdout,
        r.stderr
    );
    assert!(
        r.stdout.contains("OK") && !r.stdout.contains("FAIL"),
        "{}",
        r.stdout
    );
    // mcb's own strict validator (vendored CRDs and Kubernetes kinds) over everything Flux
    // will apply; the core Cluster API objects in v1beta2, the operator's providers.
    let v = assert_schema_valid(&built);
    // Every kind Flux applies has a schema, so something installs it.
    assert!(v.unknown_kinds.is_empty(), "{:?}", v.unknown_kinds);
    for (api, kind) in [
        ("cluster.x-k8s.io/v1beta2", "Cluster"),
        ("cluster.x-k8s.io/v1beta2", "MachineDeployment"),
        (
            "controlplane.cluster.x-k8s.io/v1beta2",
            "KubeadmControlPlane",
        ),
        (
            "bootstrap.cluster.x-k8s.io/v1beta2",
            "KubeadmConfigTemplate",
        ),
        ("operator.cluster.x-k8s.io/v1alpha2", "CoreProvider"),
        ("operator.cluster.x-k8s.io/v1alpha2", "BootstrapProvider"),
        ("operator.cluster.x-k8s.io/v1alpha2", "ControlPlaneProvider"),
        (
            "operator.cluster.x-k8s.io/v1alpha2",
            "InfrastructureProvider",
        ),
        ("operator.cluster.x-k8s.io/v1alpha2", "AddonProvider"),
        ("helm.toolkit.fluxcd.io/v2", "HelmRelease"),
        ("source.toolkit.fluxcd.io/v1", "HelmRepository"),
        ("source.toolkit.fluxcd.io/v1", "GitRepository"),
        ("kustomize.toolkit.fluxcd.io/v1", "Kustomization"),
        ("apps/v1", "Deployment"),
    ] {
        assert!(
            v.objects
                .iter()
                .any(|o| o.starts_with(&format!("{api} {kind} "))),
            "no {api} {kind} validated: {:#?}",
            v.objects
        );
    }
    // The provider's cluster and machine templates and the add-ons (vendored CRDs).
    let infra = v
        .objects
        .iter()
        .filter(|o| o.starts_with("infrastructure.cluster.x-k8s.io/"))
        .count();
    assert!(
        infra >= 3,
        "provider objects not validated: {:#?}",
        v.objects
    );
    assert!(v.count("HelmChartProxy") >= 1, "{:#?}", v.objects);
    for kind in [
        "GitRepository/flux-system",
        "Kustomization/flux-system",
        "Kustomization/secrets",
        "Kustomization/cluster",
        "Kustomization/infrastructure",
        "Kustomization/infrastructure-controllers",
        "HelmRepository/cert-manager",
        "HelmRelease/cert-manager",
        "HelmRepository/cluster-api-operator",
        "HelmRelease/cluster-api-operator",
    ] {
        assert!(
            r.stdout.contains(kind),
            "{kind} not validated:\n{}",
            r.stdout
        );
    }
}

/// The Flux install is the vendored upstream file after mcb's header (checked here); the
/// snapshot names it instead of repeating its 6000 lines.
fn vendored_flux_named(path: &str, content: String) -> String {
    if path != "manifests/flux-system/gotk-components.yaml" {
        return content;
    }
    let version = mcb::flux::DEFAULT_VERSION;
    let rel = format!("vendor/flux/{version}/gotk-components.yaml");
    let vendored = std::fs::read_to_string(crate::support::root().join(&rel)).unwrap();
    let (head, body) = content.split_at(content.find("---\n").unwrap());
    assert_eq!(body, vendored, "{path} is {rel} after the header");
    format!("{head}[{rel}]\n")
}

#[test]
fn render_each_provider_snapshot_builds_and_validates() {
    for p in PROVIDERS {
        let t = TestEnv::new();
        let name = format!("mc-{p}");
        write_spec(t.path(), &name, &spec_for(&name, p));
        sops_secret(&t, &name, &format!("{name}-ca"));
        render(&t, &[]).ok();
        let inst = t.path().join("installations").join(&name);
        let snap: String = files(&inst)
            .into_iter()
            .filter(|(p, _)| !p.ends_with(".sops.yaml") && p != "installation.yaml")
            .map(|(p, c)| format!("==> {p} <==\n{}", vendored_flux_named(&p, c)))
            .collect();
        insta::assert_snapshot!(format!("render_{p}"), snap);
        let sync =
            std::fs::read_to_string(inst.join("manifests/flux-system/gotk-sync.yaml")).unwrap();
        assert_eq!(sync.contains("  provider: github\n"), p == "capz", "{sync}");
        build_and_validate(&t, &inst);
        // Rendering again changes nothing, and --check agrees.
        let before = files(&inst);
        let r = render(&t, &[]).ok();
        assert!(r.stdout.is_empty(), "{}", r.stdout);
        assert_eq!(files(&inst), before);
        render(&t, &["--check"]).ok();
    }
}

/// Issue #16 item 3 for every Flux release mcb ships, not just the default: the install of
/// `flux.version` is rendered, and every object Flux will apply (its own sync objects and
/// every layer's Kustomizations, HelmReleases, repositories) validates strictly against
/// the CRDs of that same install.
#[test]
fn every_supported_flux_version_renders_objects_its_own_crds_accept() {
    let versions = mcb::flux::versions();
    assert!(versions.len() >= 2, "{versions:?}");
    for v in versions {
        let t = TestEnv::new();
        let name = "mc";
        let spec = format!("{}flux:\n  version: {v}\n", spec_for(name, "capa"));
        write_spec(t.path(), name, &spec);
        sops_secret(&t, name, &format!("{name}-ca"));
        render(&t, &[]).ok();
        let inst = t.path().join("installations").join(name);
        let install =
            std::fs::read_to_string(inst.join("manifests/flux-system/gotk-components.yaml"))
                .unwrap();
        assert!(
            install.contains(&format!("app.kubernetes.io/version: {v}")),
            "the install is Flux {v}"
        );
        let validated = assert_schema_valid(&kustomize_all(&t, &inst));
        for want in [
            "source.toolkit.fluxcd.io/v1 GitRepository flux-system/flux-system",
            "kustomize.toolkit.fluxcd.io/v1 Kustomization flux-system/cluster",
            "helm.toolkit.fluxcd.io/v2 HelmRelease ",
        ] {
            assert!(
                validated.objects.iter().any(|o| o.starts_with(want)),
                "Flux {v}: no {want} validated: {:#?}",
                validated.objects
            );
        }
    }
}

#[test]
fn check_reports_drift_and_render_repairs_only_owned_paths() {
    let t = TestEnv::new();
    write_spec(t.path(), "a1", &spec_for("a1", "capa"));
    write_spec(t.path(), "b1", &spec_for("b1", "capz"));
    render(&t, &[]).ok();
    let m = t.path().join("installations/a1/manifests");
    std::fs::write(m.join("cluster/cluster.yaml"), "edited: true\n").unwrap();
    std::fs::write(m.join("stale.yaml"), "old: 1\n").unwrap();
    std::fs::write(t.path().join("installations/a1/notes.md"), "mine\n").unwrap();
    let r = render(&t, &["--check"]).fails_with(1);
    assert!(
        r.stdout
            .contains("--- a/installations/a1/manifests/cluster/cluster.yaml"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("-edited: true"), "{}", r.stdout);
    assert!(r.stdout.contains("+++ /dev/null"), "{}", r.stdout);
    assert!(r.stderr.contains("differ"), "{}", r.stderr);
    // --diff: same diff, exit 0, nothing written.
    let d = render(&t, &["--diff"]).ok();
    assert_eq!(d.stdout, r.stdout);
    assert!(m.join("stale.yaml").exists());
    // JSON names the changes.
    let mut c = t.mcb();
    c.args(["--repo"])
        .arg(t.path())
        .args(["-o", "json", "render", "a1", "--check"]);
    let j: serde_json::Value = serde_json::from_str(&run(c).fails_with(1).stdout).unwrap();
    assert_eq!(j["written"], false);
    assert_eq!(j["changes"].as_array().unwrap().len(), 2, "{j}");
    // Repair.
    render(&t, &["a1"]).ok();
    assert!(!m.join("stale.yaml").exists());
    assert!(t.path().join("installations/a1/notes.md").exists());
    render(&t, &["--check"]).ok();
    // A spec change shows up as drift in that installation only.
    let spec = t.path().join("installations/b1/installation.yaml");
    let s = std::fs::read_to_string(&spec)
        .unwrap()
        .replace("name: team-a", "name: team-b");
    std::fs::write(&spec, s).unwrap();
    let r = render(&t, &["--check"]).fails_with(1);
    assert!(
        r.stdout.contains("+  name: org-team-b") && !r.stdout.contains("installations/a1"),
        "{}",
        r.stdout
    );
}

#[test]
fn bad_input_fails_with_exit_2_and_writes_nothing() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "unknown field",
            "    sshKeyName: ops\n",
            "    sshKeyName: ops\n    regoin: x\n",
        ),
        (
            "wrong type",
            "  - name: team-a\n",
            "  - name: team-a\nworkers:\n  replicas: many\n",
        ),
        ("invalid name", "  - name: team-a\n", "  - name: Team_A\n"),
        ("unknown provider", "  capa:\n", "  gke:\n"),
    ];
    let expect = [
        ("regoin", "provider.capa"),
        ("replicas", "workers.replicas"),
        ("DNS-1123", "organizations[0].name"),
        ("gke", "provider"),
    ];
    for ((what, from, to), (word, path)) in cases.iter().zip(expect) {
        let t = TestEnv::new();
        let good = spec_for("x1", "capa");
        assert!(good.contains(from), "{what}");
        write_spec(t.path(), "x1", &good.replace(from, to));
        write_spec(t.path(), "ok1", &spec_for("ok1", "capz"));
        let r = render(&t, &[]).fails_with(2);
        assert!(
            r.stderr.contains("installations/x1/installation.yaml:"),
            "{what}: {}",
            r.stderr
        );
        assert!(
            r.stderr.contains(word) && r.stderr.contains(path),
            "{what}: {}",
            r.stderr
        );
        assert!(r.stderr.contains("help: "), "{what}: {}", r.stderr);
        assert!(
            !t.path().join("installations/ok1/manifests").exists(),
            "{what}: something was written"
        );
    }
    // A template override with a syntax error.
    let t = TestEnv::new();
    write_spec(t.path(), "x1", &spec_for("x1", "capa"));
    std::fs::create_dir_all(t.path().join("templates/manifests")).unwrap();
    std::fs::write(
        t.path().join("templates/manifests/sync.yaml"),
        "a: {{ name \n",
    )
    .unwrap();
    let r = render(&t, &[]).fails_with(2);
    assert!(
        r.stderr.contains("template manifests/sync.yaml"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("help: fix the tera syntax in templates/manifests/sync.yaml"),
        "{}",
        r.stderr
    );
    assert!(!t.path().join("installations/x1/manifests").exists());
    // An installation that does not exist.
    let r = render(&t, &["nope"]).fails_with(2);
    assert!(
        r.stderr.contains("installations/nope/installation.yaml"),
        "{}",
        r.stderr
    );
}

#[test]
fn override_replaces_builtin_and_adds_files() {
    let t = TestEnv::new();
    write_spec(t.path(), "x1", &spec_for("x1", "capa"));
    std::fs::create_dir_all(t.path().join("templates/manifests/apps/extra")).unwrap();
    std::fs::write(
        t.path().join("templates/manifests/apps/extra/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n  namespace: default\ndata:\n  region: {{ settings.region | json }}\n",
    )
    .unwrap();
    render(&t, &[]).ok();
    let apps = t.path().join("installations/x1/manifests/apps");
    let cm = std::fs::read_to_string(apps.join("extra/cm.yaml")).unwrap();
    assert!(cm.contains("region: \"eu-central-1\""), "{cm}");
    let k = std::fs::read_to_string(apps.join("kustomization.yaml")).unwrap();
    assert!(k.contains("  - extra\n"), "{k}");
    let mut c = t.command(tool("kubectl"));
    c.arg("kustomize").arg(&apps);
    assert!(run(c).ok().stdout.contains("name: extra"));
}

#[test]
fn schema_and_example_spec_commands() {
    let t = TestEnv::new();
    let mut c = t.mcb();
    c.arg("schema");
    let r = run(c).ok();
    let on_disk =
        std::fs::read_to_string(crate::support::root().join("schemas/installation.schema.json"))
            .unwrap();
    assert_eq!(r.stdout, on_disk);
    let mut c = t.mcb();
    c.arg("example-spec");
    let ex = run(c).ok().stdout;
    write_spec(t.path(), "gauss", &ex);
    render(&t, &[]).ok();
    build_and_validate(&t, &t.path().join("installations/gauss"));
}

/// Issue #15 item 3: a directory symlink inside the rendered tree used to be walked as
/// part of the owned `manifests/`, and render deleted every file it pointed at.
#[test]
fn issue_15_render_refuses_a_symlink_and_deletes_nothing_outside() {
    let t = TestEnv::new();
    write_spec(t.path(), "x1", &spec_for("x1", "capa"));
    render(&t, &[]).ok();
    let before = files(&t.path().join("installations"));
    let outside = t.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("precious.yaml"), "keep: me\n").unwrap();
    let link = t.path().join("installations/x1/manifests/cluster/keys");
    std::os::unix::fs::symlink(&outside, &link).unwrap();
    let r = render(&t, &[]).fails_with(2);
    assert!(
        r.stderr.contains("installations/x1/manifests/cluster/keys")
            && r.stderr.contains("symbolic link"),
        "{}",
        r.stderr
    );
    assert_eq!(
        std::fs::read_to_string(outside.join("precious.yaml")).unwrap(),
        "keep: me\n"
    );
    assert!(link.is_symlink());
    std::fs::remove_file(&link).unwrap();
    assert_eq!(files(&t.path().join("installations")), before);
}
