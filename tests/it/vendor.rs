//! The vendored upstream data (`vendor/`) is exactly what the vendor scripts produced:
//! every file is listed in `vendor/checksums.sha256` with its sha256, the list is sorted,
//! and each version directory says where it came from (`SOURCE`). Each vendored Flux install
//! carries the images and tags flux2's `manifests/bases/<controller>/kustomization.yaml`
//! names at that release (as `scripts/vendor-flux.sh` recorded them in its `SOURCE`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::support::root;

use sha2::{Digest, Sha256};

fn files(dir: &Path, root: &Path, out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, root, out);
        } else {
            out.push(p.strip_prefix(root).unwrap().to_string_lossy().into_owned());
        }
    }
}

#[test]
fn vendored_files_match_their_checksums() {
    let root = crate::support::root();
    let sums = std::fs::read_to_string(root.join("vendor/checksums.sha256")).unwrap();
    let mut listed = Vec::new();
    for line in sums.lines() {
        let (sum, path) = line
            .split_once("  ")
            .unwrap_or_else(|| panic!("not `sha256  path`: {line}"));
        let bytes = std::fs::read(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(
            hex::encode(Sha256::digest(&bytes)),
            sum,
            "{path} was changed after vendoring: re-run its scripts/vendor-*.sh instead of editing it"
        );
        listed.push(path.to_owned());
    }
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(
        listed, sorted,
        "vendor/checksums.sha256 must be sorted by path"
    );
    let mut present = Vec::new();
    files(&root.join("vendor"), &root, &mut present);
    present.retain(|p| p != "vendor/checksums.sha256" && p != "vendor/README.md");
    present.sort();
    assert_eq!(
        present, listed,
        "every vendored file is listed, and only those"
    );
    let sources: Vec<&Path> = listed
        .iter()
        .filter(|q| q.ends_with("/SOURCE"))
        .map(|q| Path::new(q).parent().unwrap())
        .collect();
    for p in &listed {
        assert!(
            sources.iter().any(|d| Path::new(p).starts_with(d)),
            "{p}: no SOURCE file above it records its provenance"
        );
    }
}

#[test]
fn kubernetes_schemas_are_the_minor_mcb_validates_against() {
    let root = crate::support::root();
    let dir = root
        .join("vendor/kubernetes")
        .join(mcb::schema::KUBERNETES_MINOR);
    let source = std::fs::read_to_string(dir.join("SOURCE")).unwrap();
    assert!(
        source.contains(&format!("kubernetes: {}", mcb::schema::KUBERNETES_MINOR)),
        "{source}"
    );
    // The vendored file is embedded in the binary.
    assert!(mcb::schema::vendored_files()
        .iter()
        .any(|(p, _)| *p == format!("kubernetes/{}/kinds.json", mcb::schema::KUBERNETES_MINOR)));
}

#[test]
fn every_pinned_component_is_vendored_at_its_pin_only() {
    let root = crate::support::root();
    // Dex's chart is tagged `dex-<chart version>` (chart-releaser's tag).
    let dex_tag = format!("dex-{}", mcb::versions::get("DEX_CHART"));
    for (component, key, tag) in [
        ("cluster-api", "CAPI", mcb::versions::get("CAPI")),
        (
            "cluster-api-operator",
            "CAPI_OPERATOR",
            mcb::versions::get("CAPI_OPERATOR"),
        ),
        (
            "cert-manager",
            "CERT_MANAGER",
            mcb::versions::get("CERT_MANAGER"),
        ),
        ("dex-chart", "DEX_CHART", dex_tag.as_str()),
    ] {
        let dir = root.join("vendor").join(component);
        let versions: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(
            versions,
            [tag],
            "{component}: vendor exactly versions.env's {key}; re-run scripts/vendor-{component}.sh"
        );
        let source = std::fs::read_to_string(dir.join(tag).join("SOURCE")).unwrap();
        for field in [
            "repository: https://github.com/",
            &format!("tag: {tag}"),
            "commit: ",
        ] {
            assert!(source.contains(field), "{component} SOURCE lacks {field}");
        }
    }
    let chart: serde_json::Value = serde_saphyr::from_str(
        &std::fs::read_to_string(
            root.join("vendor/dex-chart")
                .join(&dex_tag)
                .join("Chart.yaml"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(chart["name"], "dex");
    assert_eq!(chart["version"], mcb::versions::get("DEX_CHART"));
}

/// What `SOURCE` records about one controller.
#[derive(Debug, Default)]
struct Controller {
    /// tag of the `fluxcd/<controller>` line (the checkout that was built)
    built: Option<String>,
    /// tags in flux2's base asset URLs (`…/releases/download/<tag>/…`)
    base_tags: BTreeSet<String>,
    /// `image` line
    image: Option<String>,
}

fn read_source(text: &str) -> (String, BTreeMap<String, Controller>) {
    let mut flux2 = String::new();
    let mut cs: BTreeMap<String, Controller> = BTreeMap::new();
    for l in text.lines().filter(|l| !l.starts_with('#')) {
        let f: Vec<&str> = l.split_whitespace().collect();
        match f.as_slice() {
            ["fluxcd/flux2", tag, ..] => flux2 = tag.to_string(),
            [repo, tag, commit, ..] if repo.starts_with("fluxcd/") => {
                assert_eq!(commit.len(), 40, "{l}");
                let c = cs.entry(repo["fluxcd/".len()..].to_string()).or_default();
                c.built = Some(tag.to_string());
            }
            ["base", c, url] => {
                let tag = url
                    .split("/releases/download/")
                    .nth(1)
                    .and_then(|r| r.split('/').next())
                    .unwrap_or_else(|| panic!("not a release asset URL: {url}"));
                assert!(
                    url.starts_with(&format!("https://github.com/fluxcd/{c}/")),
                    "{l}"
                );
                cs.entry(c.to_string())
                    .or_default()
                    .base_tags
                    .insert(tag.to_string());
            }
            ["image", c, image] => {
                cs.entry(c.to_string()).or_default().image = Some(image.to_string());
            }
            _ => panic!("unexpected SOURCE line: {l}"),
        }
    }
    (flux2, cs)
}

#[test]
fn vendored_flux_images_are_the_tags_flux2_names() {
    let dir = root().join("vendor/flux");
    let mut versions = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let d = e.unwrap().path();
        let version = d.file_name().unwrap().to_string_lossy().into_owned();
        let (flux2, controllers) = read_source(&std::fs::read_to_string(d.join("SOURCE")).unwrap());
        assert_eq!(flux2, version, "SOURCE of {version} names flux2 {flux2}");
        let names: Vec<&str> = controllers.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "helm-controller",
                "kustomize-controller",
                "notification-controller",
                "source-controller"
            ],
            "flux install's default components"
        );
        let install = std::fs::read_to_string(d.join("gotk-components.yaml")).unwrap();
        assert!(install.contains(&format!("# Flux Version: {version}\n")));
        let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&install).unwrap();
        let mut deployments = BTreeMap::new();
        for doc in &docs {
            if doc["kind"] == "Deployment" {
                let c = &doc["spec"]["template"]["spec"]["containers"][0];
                deployments.insert(
                    doc["metadata"]["name"].as_str().unwrap().to_string(),
                    (c["image"].as_str().unwrap().to_string(), c["args"].clone()),
                );
            }
            assert_eq!(
                doc["metadata"]["labels"]["app.kubernetes.io/version"], version,
                "{version}: {} {}",
                doc["kind"], doc["metadata"]["name"]
            );
        }
        assert_eq!(deployments.len(), controllers.len(), "{version}");
        for (name, c) in &controllers {
            let tag = c.built.as_deref().unwrap();
            assert_eq!(
                c.base_tags,
                BTreeSet::from([tag.to_string()]),
                "{version} {name}: built tag vs flux2's base"
            );
            let want = format!("ghcr.io/fluxcd/{name}:{tag}");
            assert_eq!(c.image.as_deref(), Some(want.as_str()), "{version} {name}");
            let (image, args) = &deployments[name];
            assert_eq!(image, &want, "{version}: Deployment {name}");
            let args: Vec<&str> = args
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap())
                .collect();
            // notification-controller's --events-addr is its own listen address: the
            // install must leave it at the default; the others send events to it.
            let events = args.iter().find(|a| a.starts_with("--events-addr="));
            if name == "notification-controller" {
                assert_eq!(events, None, "{version}: {args:?}");
            } else {
                let e = events.unwrap_or_else(|| panic!("{version} {name}: {args:?}"));
                assert!(e.contains("http://notification-controller."), "{e}");
            }
        }
        // Real schemas: every served version of every CRD has a structural schema.
        let crds: Vec<&serde_json::Value> = docs
            .iter()
            .filter(|d| d["kind"] == "CustomResourceDefinition")
            .collect();
        assert!(crds.len() >= 10, "{version}: {} CRDs", crds.len());
        for crd in crds {
            for v in crd["spec"]["versions"].as_array().unwrap() {
                let spec = &v["schema"]["openAPIV3Schema"]["properties"]["spec"];
                assert!(
                    spec["properties"].is_object(),
                    "{version}: {} {} has no spec schema",
                    crd["metadata"]["name"],
                    v["name"]
                );
            }
        }
        versions += 1;
    }
    assert!(versions >= 2, "{versions}");
}

/// Rebuilds every vendored Flux version from the upstream git snapshots and compares bytes.
/// Needs the upstream repositories (fetched as bare git dirs under FLUX_MIRROR, default
/// /work/.mirror) and kubectl, so it is not part of the default run:
/// `cargo nextest run --run-ignored only -E 'test(vendor_flux_script)'`.
#[test]
#[ignore]
fn vendor_flux_script_reproduces_the_vendored_files() {
    let out = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(root().join("vendor/flux")).unwrap() {
        let version = e.unwrap().file_name().to_string_lossy().into_owned();
        let s = std::process::Command::new("bash")
            .arg(root().join("scripts/vendor-flux.sh"))
            .arg(&version)
            .env("OUT_ROOT", out.path())
            .status()
            .unwrap();
        assert!(s.success(), "vendor-flux.sh {version}");
        for f in ["gotk-components.yaml", "SOURCE"] {
            let rel = format!("vendor/flux/{version}/{f}");
            assert!(
                std::fs::read(out.path().join(&rel)).unwrap()
                    == std::fs::read(root().join(&rel)).unwrap(),
                "{rel} differs from a fresh build"
            );
        }
    }
}

/// The Cluster API contract each component's `metadata.yaml` (vendored at its pinned tag)
/// declares for the pinned release series: (versions.env key, vendor component, contract).
fn declared_contract(key: &str, component: &str) -> (String, String) {
    let tag = mcb::versions::get(key);
    let path = format!("vendor/{component}/{tag}/metadata.yaml");
    let text = std::fs::read_to_string(crate::support::root().join(&path))
        .unwrap_or_else(|e| panic!("{path}: {e} (re-run scripts/vendor-{component}.sh)"));
    let meta: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
    assert_eq!(meta["kind"], "Metadata", "{path}");
    let mut parts = tag.trim_start_matches('v').split('.');
    let major: u64 = parts.next().unwrap().parse().unwrap();
    let minor: u64 = parts.next().unwrap().parse().unwrap();
    let series = meta["releaseSeries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["major"] == major && s["minor"] == minor)
        .unwrap_or_else(|| panic!("{path} declares no release series v{major}.{minor}"));
    (
        format!("v{major}.{minor}"),
        series["contract"].as_str().unwrap().to_owned(),
    )
}

/// Issue #17: every provider pinned in versions.env runs with the pinned Cluster API core.
/// Each one's contract (its vendored metadata.yaml, the file clusterctl and the operator
/// read) is the core's, or one the core still accepts: Cluster API v1.14's
/// `contract.GetCompatibleVersions` (vendored as version.go) accepts v1beta1 providers
/// with the v1beta2 core "until v1beta1 is EOL". docs/providers.md records each.
#[test]
fn every_pinned_provider_declares_a_contract_the_pinned_core_accepts() {
    let root = crate::support::root();
    let (core_series, core) = declared_contract("CAPI", "cluster-api");
    let capi = mcb::versions::get("CAPI");
    let compat =
        std::fs::read_to_string(root.join(format!("vendor/cluster-api/{capi}/version.go")))
            .unwrap();
    let v1beta1_accepted = core == "v1beta2"
        && compat
            .contains("if contract == \"v1beta2\" {\n\t\tcompatibleContracts.Insert(\"v1beta1\")");
    let docs = std::fs::read_to_string(root.join("docs/providers.md")).unwrap();
    let row = |label: &str, tag: &str, series: &str, contract: &str| {
        format!("| {label} | {tag} | {series} | {contract} |")
    };
    assert!(
        docs.contains(&row("Cluster API (core)", capi, &core_series, &core)),
        "docs/providers.md must record the core's contract {core}"
    );
    for (key, component, label) in [
        ("CAPA", "cluster-api-provider-aws", "CAPA"),
        ("CAPZ", "cluster-api-provider-azure", "CAPZ"),
        ("CAPV", "cluster-api-provider-vsphere", "CAPV"),
        ("CAPO", "cluster-api-provider-openstack", "CAPO"),
        ("CAPVCD", "cluster-api-provider-cloud-director", "CAPVCD"),
        ("CAAPH", "cluster-api-addon-provider-helm", "CAAPH"),
    ] {
        let (series, contract) = declared_contract(key, component);
        assert!(
            contract == core || (contract == "v1beta1" && v1beta1_accepted),
            "{label} {series} declares contract {contract}, which Cluster API {capi} ({core}) does not accept"
        );
        let tag = mcb::versions::get(key);
        assert!(
            docs.contains(&row(label, tag, &series, &contract)),
            "docs/providers.md must record that {label} {tag} ({series}) declares {contract}"
        );
    }
}
