//! Cluster API secret naming: the secrets mcb pre-creates for a cluster (`<cluster>-ca`,
//! `-etcd`, `-proxy`, `-sa`, `-kubeconfig`) are only used by Cluster API if their name, the
//! `cluster.x-k8s.io/cluster-name` label and the namespace all match the `Cluster` object
//! of the same installation. A mismatch silently makes Cluster API generate its own CA.
//! `<cluster>-kubeconfig` itself must not come from the repo: the control plane provider
//! owns and renews it.

use std::collections::BTreeMap;

use serde_json::Value;

use super::yaml::{find_line, map_at, str_at, Parsed};
use super::{Finding, RepoFile, Rule};

const RULE: Rule = Rule::CapiSecretName;
const LABEL: &str = "cluster.x-k8s.io/cluster-name";
const SUFFIXES: [&str; 5] = ["-ca", "-etcd", "-proxy", "-sa", "-kubeconfig"];

/// Checks every labelled or CAPI-named secret against the installation's clusters.
pub fn check(files: &[RepoFile], parsed: &[Parsed]) -> Vec<Finding> {
    // installation -> cluster name -> namespace
    let mut clusters: BTreeMap<&str, BTreeMap<&str, &str>> = BTreeMap::new();
    for p in parsed {
        let Some(inst) = files[p.file].installation.as_deref() else {
            continue;
        };
        for (d, _) in p.docs() {
            if is_cluster(d) {
                if let Some(name) = str_at(d, &["metadata", "name"]) {
                    let ns = str_at(d, &["metadata", "namespace"]).unwrap_or("default");
                    clusters.entry(inst).or_default().insert(name, ns);
                }
            }
        }
    }
    let mut out = Vec::new();
    for p in parsed {
        let f = &files[p.file];
        let Some(inst) = f.installation.as_deref() else {
            continue;
        };
        let Some(known) = clusters.get(inst) else {
            continue;
        };
        for (d, start) in p.docs() {
            if str_at(d, &["kind"]) != Some("Secret") {
                continue;
            }
            let Some(name) = str_at(d, &["metadata", "name"]) else {
                continue;
            };
            let ns = str_at(d, &["metadata", "namespace"]).unwrap_or("default");
            let label = map_at(d, &["metadata", "labels"])
                .and_then(|l| l.get(LABEL))
                .and_then(Value::as_str);
            let prefix = SUFFIXES.iter().find_map(|s| name.strip_suffix(s));
            let named_for = prefix.filter(|p| known.contains_key(p));
            let line = |key: &str| Some(find_line(f.text(), start, key));
            if let Some(c) =
                named_for.filter(|c| name == crate::pki::capi_kubeconfig_secret_name(c))
            {
                out.push(Finding::error(
                    f,
                    line("name:"),
                    RULE,
                    format!(
                        "secret `{name}` belongs to the control plane provider, which creates it from `{c}-ca` and renews it; \
                         from Git it is never renewed and expires: run `mcb rotate {inst} --only kubeconfig/admin` \
                         (writes `{c}-kubeconfig-admin`) and delete this file"
                    ),
                ));
                continue;
            }
            match (label, named_for) {
                (None, Some(c)) => out.push(Finding::error(
                    f,
                    line("name:"),
                    RULE,
                    format!("secret `{name}` for cluster `{c}` lacks the label `{LABEL}: {c}`: add it"),
                )),
                (Some(l), _) if !known.contains_key(l) => out.push(Finding::error(
                    f,
                    line(LABEL),
                    RULE,
                    format!(
                        "secret `{name}` is labelled for cluster `{l}`, but this installation's cluster is {}: fix the label",
                        known.keys().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
                    ),
                )),
                (Some(l), _) if prefix.is_some() && prefix != Some(l) => out.push(Finding::error(
                    f,
                    line("name:"),
                    RULE,
                    format!("secret `{name}` is labelled for cluster `{l}` but named for `{}`: rename it `{l}{}`", prefix.unwrap_or(""), &name[prefix.map_or(0, str::len)..]),
                )),
                (Some(l), _) if known.get(l) != Some(&ns) => out.push(Finding::error(
                    f,
                    line("namespace:"),
                    RULE,
                    format!("secret `{name}` is in namespace `{ns}`, its cluster `{l}` in `{}`: move it", known[l]),
                )),
                _ => {}
            }
        }
    }
    out
}

fn is_cluster(d: &Value) -> bool {
    str_at(d, &["kind"]) == Some("Cluster")
        && str_at(d, &["apiVersion"]).is_some_and(|v| v.starts_with("cluster.x-k8s.io/"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::yaml::parse_all;

    fn run(secret: &str) -> Vec<String> {
        let files = vec![
            RepoFile::new(
                "installations/a/manifests/cluster.yaml",
                b"apiVersion: cluster.x-k8s.io/v1beta1\nkind: Cluster\nmetadata:\n  name: mc1\n  namespace: org-a\n".to_vec(),
            ),
            RepoFile::new("installations/a/secrets/s.sops.yaml", secret.as_bytes().to_vec()),
        ];
        check(&files, &parse_all(&files))
            .into_iter()
            .map(|f| f.message)
            .collect()
    }

    fn secret(name: &str, ns: &str, label: Option<&str>) -> String {
        let l = label
            .map(|l| format!("  labels:\n    {LABEL}: {l}\n"))
            .unwrap_or_default();
        format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: {ns}\n{l}data: {{}}\n")
    }

    #[test]
    fn capi_names() {
        assert!(run(&secret("mc1-ca", "org-a", Some("mc1"))).is_empty());
        assert!(run(&secret("other", "org-a", None)).is_empty());
        assert!(run(&secret("mc1-etcd", "org-a", None))[0].contains("lacks the label"));
        assert!(
            run(&secret("mc2-ca", "org-a", Some("mc2")))[0].contains("labelled for cluster `mc2`")
        );
        assert!(run(&secret("mc2-ca", "org-a", Some("mc1")))[0].contains("rename it `mc1-ca`"));
        assert!(run(&secret("mc1-sa", "default", Some("mc1")))[0].contains("namespace `default`"));
        assert!(run(&secret("mc1-kubeconfig-admin", "org-a", Some("mc1"))).is_empty());
        let kcp = run(&secret("mc1-kubeconfig", "org-a", Some("mc1")));
        assert!(
            kcp[0].contains("belongs to the control plane provider"),
            "{kcp:?}"
        );
        assert!(kcp[0].contains("--only kubeconfig/admin"), "{kcp:?}");
    }
}
