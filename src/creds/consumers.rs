//! The consumers of an OIDC client: each application the spec names under a client's
//! `consumers` gets a Secret in its own namespace with the client id (and secret, and
//! issuer when asked), written next to Dex's Secrets under
//! `installations/<name>/secrets/oidc-consumers/` and applied by a Flux layer of its own
//! that waits for Dex.
//!
//! A rotation writes the new client's values into these Secrets in the same commit that
//! makes Dex serve the new client; Flux's dependency order (`oidc-consumers` depends on
//! `apps`, which waits for Dex's rollout) makes Dex serve it before any consumer holds it.

use secrecy::{ExposeSecret, SecretString};

use crate::k8s::Secret;
use crate::spec::{OidcConsumer, StaticClient};

/// Directory of the consumer Secrets, under `installations/<name>/secrets/`.
pub const DIR: &str = "oidc-consumers";

/// The label that makes Flux's helm-controller upgrade a HelmRelease reading the Secret
/// through `valuesFrom` as soon as it changes (Flux's "reacting immediately to
/// configuration dependencies"), so a Helm-installed consumer picks the new client up.
pub const WATCH_LABEL: (&str, &str) = ("reconcile.fluxcd.io/watch", "Enabled");

/// The consumer's file, relative to [`DIR`]: `<namespace>.<secretName>.sops.yaml` (a
/// namespace has no dot, so the pair is unambiguous).
pub fn file_name(c: &OidcConsumer) -> String {
    format!("{}.{}.sops.yaml", c.namespace.as_str(), c.secret_name)
}

/// What a consumer is given: the client id, the secret (none for a public client) and
/// the issuer.
pub struct Credentials<'a> {
    /// the client id Dex (or the issuer) serves
    pub client_id: &'a str,
    /// its secret
    pub client_secret: Option<&'a SecretString>,
    /// the issuer URL
    pub issuer: &'a str,
}

/// The Secret consumer `c` gets.
pub fn secret(c: &OidcConsumer, creds: &Credentials<'_>) -> Secret {
    let mut s = Secret::new(c.secret_name.clone(), c.namespace.as_str(), "Opaque")
        .label(WATCH_LABEL.0, WATCH_LABEL.1)
        .with(
            c.keys.client_id.clone(),
            creds.client_id.as_bytes().to_vec(),
        );
    if let Some(v) = creds.client_secret {
        s = s.with(
            c.keys.client_secret.clone(),
            v.expose_secret().as_bytes().to_vec(),
        );
    }
    if let Some(k) = &c.keys.issuer {
        s = s.with(k.clone(), creds.issuer.as_bytes().to_vec());
    }
    s
}

/// Every consumer Secret of client `client`, with its [`file_name`].
pub fn secrets(client: &StaticClient, creds: &Credentials<'_>) -> Vec<(String, Secret)> {
    client
        .consumers
        .iter()
        .map(|c| (file_name(c), secret(c, creds)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn consumer(yaml: &str) -> OidcConsumer {
        serde_saphyr::from_str(yaml).unwrap()
    }

    #[test]
    fn default_keys_label_and_path() {
        let c = consumer("namespace: monitoring\nsecretName: grafana-oidc\n");
        let v = SecretString::from("s3cret".to_owned());
        let s = secret(
            &c,
            &Credentials {
                client_id: "grafana-2",
                client_secret: Some(&v),
                issuer: "https://dex.example.com",
            },
        );
        assert_eq!(
            (s.name.as_str(), s.namespace.as_str()),
            ("grafana-oidc", "monitoring")
        );
        assert_eq!(
            s.labels.get(WATCH_LABEL.0).map(String::as_str),
            Some("Enabled")
        );
        let keys: Vec<_> = s.data.keys().map(String::as_str).collect();
        assert_eq!(keys, ["clientID", "clientSecret"]);
        assert_eq!(s.data["clientID"].expose_secret(), b"grafana-2");
        assert_eq!(file_name(&c), "monitoring.grafana-oidc.sops.yaml");
    }

    #[test]
    fn public_client_gets_no_secret_and_issuer_on_request() {
        let c =
            consumer("namespace: tools\nsecretName: cli\nkeys: {clientID: ID, issuer: ISSUER}\n");
        let s = secret(
            &c,
            &Credentials {
                client_id: "kubectl",
                client_secret: None,
                issuer: "https://dex.example.com",
            },
        );
        let keys: Vec<_> = s.data.keys().map(String::as_str).collect();
        assert_eq!(keys, ["ID", "ISSUER"]);
    }
}
