//! `provider-credentials`: every credential Secret the installation's infrastructure
//! provider reads ([`crate::provider::credentials`]) is there, SOPS-encrypted: as a
//! `*.sops.yaml` Secret of that namespace and name in the installation's `secrets/` tree
//! with the keys it needs (key names are clear in SOPS files), or as a shared secret the
//! spec places there (`sharedSecrets` with that namespace and secretName). Without it the
//! provider, or its cloud controller manager, cannot start. Never reads a value.

use serde_json::Value;

use super::yaml::{map_at, str_at, Parsed};
use super::{Finding, RepoFile, Rule};
use crate::provider::Credential;
use crate::spec::Installation;

const RULE: Rule = Rule::ProviderCredentials;

/// Findings for every spec whose provider lacks a credential Secret.
pub fn check(files: &[RepoFile], parsed: &[Parsed], specs: &[Installation]) -> Vec<Finding> {
    let mut out = Vec::new();
    for spec in specs {
        let name = spec.name.as_str();
        let spec_path = crate::repo::spec_path(name);
        let Some(spec_file) = files.iter().find(|f| f.path == spec_path) else {
            continue;
        };
        let secrets_dir = crate::repo::secrets_dir(name);
        for c in crate::provider::credentials(spec) {
            if shared_places(spec, &c) {
                continue;
            }
            let found = parsed
                .iter()
                .filter(|p| files[p.file].path.starts_with(&secrets_dir) && p.sops)
                .flat_map(|p| p.docs().map(|(d, _)| d))
                .find(|d| is_secret(d, &c));
            let missing: Vec<&str> = match found {
                Some(d) => c
                    .keys
                    .iter()
                    .map(String::as_str)
                    .filter(|k| !has_key(d, k))
                    .collect(),
                None => {
                    out.push(Finding::error(
                        spec_file,
                        Some(super::yaml::find_line(spec_file.text(), 1, "provider:")),
                        RULE,
                        format!(
                            "provider {} needs Secret {}/{} (keys {}; {}): none is in {secrets_dir}. \
                             Import it once with `mcb shared import {}` and list it in `sharedSecrets` \
                             with namespace {} and secretName {}, or write it to \
                             {secrets_dir}{}.sops.yaml with `mcb secrets encrypt` (docs/providers.md)",
                            spec.provider.id(),
                            c.namespace,
                            c.name,
                            c.keys.join(", "),
                            c.purpose,
                            c.shared,
                            c.namespace,
                            c.name,
                            c.name,
                        ),
                    ));
                    continue;
                }
            };
            if !missing.is_empty() {
                out.push(Finding::error(
                    spec_file,
                    None,
                    RULE,
                    format!(
                        "Secret {}/{} lacks key(s) {} ({})",
                        c.namespace,
                        c.name,
                        missing.join(", "),
                        c.purpose
                    ),
                ));
            }
        }
    }
    out
}

/// Whether a shared secret of the spec lands as this Secret.
fn shared_places(spec: &Installation, c: &Credential) -> bool {
    spec.shared_secrets.iter().any(|s| {
        let m = s.mapping();
        m.namespace.as_ref().map(|n| n.as_str()) == Some(c.namespace.as_str())
            && m.secret_name.as_deref() == Some(c.name.as_str())
    })
}

fn is_secret(d: &Value, c: &Credential) -> bool {
    str_at(d, &["kind"]) == Some("Secret")
        && str_at(d, &["metadata", "name"]) == Some(c.name.as_str())
        && str_at(d, &["metadata", "namespace"]).unwrap_or("default") == c.namespace
}

fn has_key(d: &Value, key: &str) -> bool {
    ["data", "stringData"]
        .iter()
        .any(|f| map_at(d, &[f]).is_some_and(|m| m.contains_key(key)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(extra: &str) -> Installation {
        let src = format!(
            "apiVersion: mcb/v1alpha1\nkind: Installation\nname: mc\nbaseDomain: mc.example.com\n\
             provider:\n  capa:\n    region: r\ngit:\n  url: ssh://git@github.com/o/r\n{extra}"
        );
        crate::spec::parse(&src, std::path::Path::new("installation.yaml")).unwrap()
    }

    fn run(spec: &Installation, secret: Option<&str>) -> Vec<Finding> {
        let mut files = vec![RepoFile::new(
            "installations/mc/installation.yaml",
            b"provider:\n  capa: {}\n".to_vec(),
        )];
        if let Some(s) = secret {
            files.push(RepoFile::new(
                "installations/mc/secrets/capa-variables.sops.yaml",
                s.as_bytes().to_vec(),
            ));
        }
        let parsed = super::super::yaml::parse_all(&files);
        check(&files, &parsed, std::slice::from_ref(spec))
    }

    const SOPS: &str = "sops:\n  lastmodified: \"2026-01-01T00:00:00Z\"\n  mac: ENC[x]\n";

    #[test]
    fn missing_credential_is_reported_with_its_shape() {
        let f = run(&spec(""), None);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].rule, RULE);
        assert_eq!(f[0].line, Some(1));
        assert!(
            f[0].message.contains("capa-system/capa-variables"),
            "{}",
            f[0].message
        );
        assert!(f[0].message.contains("AWS_B64ENCODED_CREDENTIALS"));
        assert!(f[0].message.contains("mcb shared import aws-credentials"));
    }

    #[test]
    fn a_sops_secret_or_a_shared_mapping_satisfies_it() {
        let ok = format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: capa-variables\n  namespace: capa-system\n\
             stringData:\n  AWS_B64ENCODED_CREDENTIALS: ENC[x]\n{SOPS}"
        );
        assert!(run(&spec(""), Some(&ok)).is_empty());
        let shared = spec("sharedSecrets:\n  - name: aws-credentials\n    namespace: capa-system\n    secretName: capa-variables\n");
        assert!(run(&shared, None).is_empty());
        // Elsewhere or without the key, it does not count.
        let wrong_ns = ok.replace("namespace: capa-system", "namespace: default");
        assert_eq!(run(&spec(""), Some(&wrong_ns)).len(), 1);
        let no_key = ok.replace("AWS_B64ENCODED_CREDENTIALS", "other");
        let f = run(&spec(""), Some(&no_key));
        assert!(
            f[0].message
                .contains("lacks key(s) AWS_B64ENCODED_CREDENTIALS"),
            "{f:?}"
        );
    }
}
