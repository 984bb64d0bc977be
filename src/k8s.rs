//! Kubernetes objects mcb writes itself (not from templates): the `Secret`, serialised in a
//! fixed key order so the plaintext handed to SOPS is the same bytes for the same content,
//! and the plain `Kustomization` listing resources (emitted by the YAML serializer).

use std::collections::BTreeMap;

use base64::Engine;
use secrecy::{ExposeSecret, SecretBox};

/// A kustomize `Kustomization` with these `resources`, as YAML.
pub fn kustomization(resources: &[&str]) -> String {
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Kustomization<'a> {
        api_version: &'a str,
        kind: &'a str,
        resources: &'a [&'a str],
    }
    serde_saphyr::to_string(&Kustomization {
        api_version: "kustomize.config.k8s.io/v1beta1",
        kind: "Kustomization",
        resources,
    })
    .expect("a kustomization serializes")
}

/// A `v1/Secret`. Values are secret; names, labels and annotations are not (they stay
/// readable in the encrypted file, as `encrypted_regex: ^(data|stringData)$` leaves them).
pub struct Secret {
    /// `metadata.name`
    pub name: String,
    /// `metadata.namespace`
    pub namespace: String,
    /// `type` (`Opaque`, `kubernetes.io/tls`, `cluster.x-k8s.io/secret`…)
    pub type_: String,
    /// `metadata.labels`
    pub labels: BTreeMap<String, String>,
    /// `metadata.annotations`
    pub annotations: BTreeMap<String, String>,
    /// `data` (values base64-encoded on output)
    pub data: BTreeMap<String, SecretBox<Vec<u8>>>,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secret")
            .field("name", &self.name)
            .field("namespace", &self.namespace)
            .field("type", &self.type_)
            .field("keys", &self.data.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Secret {
    /// An empty secret of `type_`.
    pub fn new(
        name: impl Into<String>,
        namespace: impl Into<String>,
        type_: impl Into<String>,
    ) -> Self {
        Secret {
            name: name.into(),
            namespace: namespace.into(),
            type_: type_.into(),
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            data: BTreeMap::new(),
        }
    }

    /// Adds a label (builder style).
    pub fn label(mut self, k: impl Into<String>, v: impl Into<String>) -> Self {
        self.labels.insert(k.into(), v.into());
        self
    }

    /// Adds a data value (builder style).
    pub fn with(mut self, key: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        self.data
            .insert(key.into(), SecretBox::new(Box::new(value.into())));
        self
    }

    /// The plaintext manifest (YAML, sops' indent of 4). Secret: encrypt before writing.
    pub fn to_yaml(&self) -> SecretBox<Vec<u8>> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut s = String::new();
        s.push_str("apiVersion: v1\nkind: Secret\nmetadata:\n");
        s.push_str(&format!("    name: {}\n", quote(&self.name)));
        s.push_str(&format!("    namespace: {}\n", quote(&self.namespace)));
        push_map(&mut s, "labels", &self.labels);
        push_map(&mut s, "annotations", &self.annotations);
        s.push_str(&format!("type: {}\n", quote(&self.type_)));
        if self.data.is_empty() {
            s.push_str("data: {}\n");
        } else {
            s.push_str("data:\n");
            for (k, v) in &self.data {
                s.push_str(&format!(
                    "    {}: {}\n",
                    quote(k),
                    b64.encode(v.expose_secret())
                ));
            }
        }
        SecretBox::new(Box::new(s.into_bytes()))
    }
}

fn push_map(s: &mut String, key: &str, m: &BTreeMap<String, String>) {
    if m.is_empty() {
        return;
    }
    s.push_str(&format!("    {key}:\n"));
    for (k, v) in m {
        s.push_str(&format!("        {}: {}\n", quote(k), quote(v)));
    }
}

/// A YAML scalar for `s`: plain when that reads back as the same string, else double-quoted.
pub fn quote(s: &str) -> String {
    let plain_ok = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._/".contains(c))
        && !s.starts_with(['-', '.', '/'])
        && s.chars().any(|c| c.is_ascii_alphabetic())
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "y" | "n" | "~"
        )
        && !looks_numeric(s);
    if plain_ok {
        s.to_owned()
    } else {
        serde_json::to_string(s).expect("strings serialize")
    }
}

fn looks_numeric(s: &str) -> bool {
    let t = s.replace('_', "");
    t.parse::<f64>().is_ok()
        || t.starts_with("0x")
        || t.starts_with("0o")
        || t.starts_with("0b")
        || t.contains('e') && t.replace('e', "").parse::<f64>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_yaml_is_stable_and_base64() {
        let s = Secret::new("c1-ca", "default", "kubernetes.io/tls")
            .label("cluster.x-k8s.io/cluster-name", "c1")
            .with("tls.key", b"KEY".to_vec())
            .with("tls.crt", b"CRT".to_vec());
        let y = String::from_utf8(s.to_yaml().expose_secret().clone()).unwrap();
        assert_eq!(
            y,
            "apiVersion: v1\nkind: Secret\nmetadata:\n    name: c1-ca\n    namespace: default\n    labels:\n        cluster.x-k8s.io/cluster-name: c1\ntype: kubernetes.io/tls\ndata:\n    tls.crt: Q1JU\n    tls.key: S0VZ\n"
        );
        assert!(
            !format!("{s:?}").contains("KEY\""),
            "debug must not show values"
        );
    }

    #[test]
    fn quoting_keeps_types() {
        assert_eq!(quote("abc"), "abc");
        assert_eq!(quote("yes"), "\"yes\"");
        assert_eq!(quote("123"), "\"123\"");
        assert_eq!(quote("1e3"), "\"1e3\"");
        assert_eq!(quote("a b"), "\"a b\"");
        assert_eq!(quote(""), "\"\"");
    }
}
