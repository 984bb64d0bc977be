//! `dex-connector-secret`: every Dex connector of a valid spec has its client secret in the
//! repo, either under its env name in the installation's `dex-connectors` Secret or as the
//! key its `clientSecret` names in a shared secret. Only key names are read (SOPS leaves
//! them in clear), so no age key is needed and no value is seen. [`connector_secrets`] is
//! also what `mcb status` lists.

use serde::Serialize;

use super::{Finding, RepoFile, Rule};
use crate::creds::oidc::DEX_CONNECTORS_SECRET;
use crate::repo;
use crate::spec::Installation;

/// The rule id.
pub const RULE: Rule = Rule::DexConnectorSecret;

/// Where one connector's client secret is kept and whether it is there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectorSecret {
    /// The connector's id.
    pub id: String,
    /// The repo file that holds (or should hold) it.
    pub file: String,
    /// The key within that file's `data`/`stringData`.
    pub key: String,
    /// `installation` (dex-connectors) or `shared` (a shared secret).
    pub source: &'static str,
    /// Whether the file exists and has the key.
    pub present: bool,
}

/// The client secret of each connector of `spec`; `read` returns a repo file's text.
pub fn connector_secrets(
    spec: &Installation,
    read: &dyn Fn(&str) -> Option<String>,
) -> Vec<ConnectorSecret> {
    let name = spec.name.as_str();
    spec.oidc
        .connectors
        .iter()
        .map(|c| {
            let (file, key, source) = match &c.client_secret {
                Some(r) => (
                    crate::repo::shared::shared_path(r.shared_secret.as_str()),
                    r.key.clone(),
                    "shared",
                ),
                None => (
                    format!(
                        "{}{DEX_CONNECTORS_SECRET}.sops.yaml",
                        repo::secrets_dir(name)
                    ),
                    crate::creds::oidc::connector_secret_env(c.id.as_str()),
                    "installation",
                ),
            };
            let present = read(&file).is_some_and(|text| has_key(&text, &key));
            ConnectorSecret {
                id: c.id.as_str().to_owned(),
                file,
                key,
                source,
                present,
            }
        })
        .collect()
}

/// Whether a (SOPS-encrypted) Secret-shaped document has `key` under `data` or `stringData`.
pub(super) fn has_key(text: &str, key: &str) -> bool {
    serde_saphyr::from_multiple::<serde_json::Value>(text)
        .unwrap_or_default()
        .iter()
        .any(|d| {
            ["data", "stringData"]
                .iter()
                .any(|s| d[s].get(key).is_some())
        })
}

/// The findings for the valid `specs`.
pub fn check(files: &[RepoFile], specs: &[Installation]) -> Vec<Finding> {
    let read = |p: &str| {
        files
            .iter()
            .find(|f| f.path == p)
            .map(|f| f.text().to_owned())
    };
    let mut out = Vec::new();
    for s in specs {
        let spec_path = repo::spec_path(s.name.as_str());
        let Some(spec_file) = files.iter().find(|f| f.path == spec_path) else {
            continue;
        };
        for (i, c) in connector_secrets(s, &read).into_iter().enumerate() {
            if c.present {
                continue;
            }
            let at = format!("oidc.connectors[{i}]");
            let line = crate::spec::line_of(spec_file.text(), &at).map(|l| l as usize);
            let fix = match c.source {
                "shared" => format!(
                    "import it with `mcb shared import {}` (key {})",
                    c.file
                        .rsplit('/')
                        .next()
                        .and_then(|f| f.strip_suffix(".sops.yaml"))
                        .unwrap_or_default(),
                    c.key
                ),
                _ => format!(
                    "keep it once for all installations as a shared secret (`mcb shared import dex-{id}`, \
                     then `clientSecret: {{sharedSecret: dex-{id}, key: clientSecret}}` on the connector and \
                     `{{name: dex-{id}, namespace: dex}}` in sharedSecrets), or add it to {} with \
                     `mcb secrets set {} '[\"stringData\"][\"{}\"]' '\"…\"'`",
                    c.file,
                    c.file,
                    c.key,
                    id = c.id
                ),
            };
            out.push(Finding::error(
                spec_file,
                line,
                RULE,
                format!(
                    "{at}: Dex connector `{}` has no client secret: {} has no key {}; {fix}",
                    c.id, c.file, c.key
                ),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names_are_read_without_a_key() {
        let enc = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: dex-connectors\ndata:\n    DEX_CONNECTOR_GITHUB_CLIENT_SECRET: ENC[AES256_GCM,data:abc,iv:x,tag:y,type:str]\nsops:\n    mac: ENC[…]\n";
        assert!(has_key(enc, "DEX_CONNECTOR_GITHUB_CLIENT_SECRET"));
        assert!(!has_key(enc, "DEX_CONNECTOR_GITLAB_CLIENT_SECRET"));
        assert!(has_key(
            "stringData:\n  clientSecret: ENC[x]\n",
            "clientSecret"
        ));
        assert!(!has_key("not: [yaml", "clientSecret"));
    }
}
