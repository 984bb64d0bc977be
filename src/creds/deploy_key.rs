//! SSH deploy keys (ed25519) for Flux's `GitRepository` over SSH: the key pair from the
//! env's generator and the Secret source-controller reads (`identity`, `identity.pub`,
//! `known_hosts`; fluxcd/source-controller `docs/spec/v1/gitrepositories.md`, "SSH
//! authentication"). Registering the public key at the forge is the forge module's job.

use std::collections::BTreeMap;

use secrecy::{ExposeSecret, SecretString};
use ssh_key::{Algorithm, HashAlg, LineEnding, PrivateKey};

use super::{credential, Error};
use crate::inventory::{Credential, CredentialKind};
use crate::k8s::Secret;
use crate::Env;

/// Inventory kind of deploy keys.
pub const KIND: CredentialKind = CredentialKind::DeployKey;

/// A generated deploy key.
#[derive(Debug)]
pub struct DeployKey {
    /// which key (inventory id)
    pub id: String,
    /// OpenSSH private key (`-----BEGIN OPENSSH PRIVATE KEY-----`, unencrypted)
    pub private_openssh: SecretString,
    /// `ssh-ed25519 AAAA… comment`
    pub public_openssh: String,
    /// `SHA256:…`, as `ssh-keygen -l` and GitHub's deploy key page show it
    pub fingerprint: String,
}

/// Generates an ed25519 deploy key; `comment` ends up in the public key line.
pub fn generate(env: &Env, id: &str, comment: &str) -> Result<DeployKey, Error> {
    let fail = |e: ssh_key::Error| Error::SshKey {
        id: id.into(),
        message: e.to_string(),
    };
    let mut key = PrivateKey::random(&mut env.rng(), Algorithm::Ed25519).map_err(fail)?;
    key.set_comment(comment);
    let private_openssh =
        SecretString::from(key.to_openssh(LineEnding::LF).map_err(fail)?.as_str());
    let public = key.public_key();
    Ok(DeployKey {
        id: id.into(),
        private_openssh,
        public_openssh: public.to_openssh().map_err(fail)?,
        fingerprint: public.fingerprint(HashAlg::Sha256).to_string(),
    })
}

impl DeployKey {
    /// Flux's Git SSH Secret `name` in `namespace`: `identity`, `identity.pub` and the
    /// caller's `known_hosts` (the forge's host keys, e.g. from `ssh-keyscan`).
    pub fn flux_secret(&self, name: &str, namespace: &str, known_hosts: &str) -> Secret {
        Secret::new(name, namespace, "Opaque")
            .with(
                "identity",
                self.private_openssh.expose_secret().as_bytes().to_vec(),
            )
            .with("identity.pub", format!("{}\n", self.public_openssh))
            .with("known_hosts", known_hosts.as_bytes().to_vec())
    }

    /// The inventory entry (fingerprint of the public key; deploy keys do not expire).
    pub fn credential(&self, env: &Env) -> Credential {
        credential(
            env,
            KIND,
            &self.id,
            self.fingerprint.clone(),
            None,
            BTreeMap::new(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(seed: u64) -> Env {
        Env::seeded(seed, time::macros::datetime!(2026-11-25 12:00:00 UTC))
    }

    #[test]
    fn key_parses_back_and_fingerprint_matches() {
        let k = generate(&env(1), "flux", "flux@mgmt").unwrap();
        let parsed = PrivateKey::from_openssh(k.private_openssh.expose_secret()).unwrap();
        assert_eq!(parsed.algorithm(), Algorithm::Ed25519);
        assert_eq!(parsed.public_key().to_openssh().unwrap(), k.public_openssh);
        assert!(k.public_openssh.starts_with("ssh-ed25519 AAAA"));
        assert!(k.public_openssh.ends_with(" flux@mgmt"));
        assert!(k.fingerprint.starts_with("SHA256:"));
        assert!(
            !format!("{k:?}").contains("OPENSSH PRIVATE"),
            "debug hides the key"
        );
    }

    #[test]
    fn seeded_keys_are_reproducible_and_distinct_per_seed() {
        let a = generate(&env(1), "x", "c").unwrap();
        let b = generate(&env(1), "x", "c").unwrap();
        let c = generate(&env(2), "x", "c").unwrap();
        assert_eq!(
            a.private_openssh.expose_secret(),
            b.private_openssh.expose_secret()
        );
        assert_ne!(a.fingerprint, c.fingerprint);
    }

    #[test]
    fn flux_secret_has_source_controller_keys() {
        let k = generate(&env(1), "flux", "c").unwrap();
        let s = k.flux_secret(
            "flux-system",
            "flux-system",
            "[127.0.0.1]:22 ssh-ed25519 AAAA\n",
        );
        let keys: Vec<_> = s.data.keys().map(String::as_str).collect();
        assert_eq!(keys, ["identity", "identity.pub", "known_hosts"]);
        let c = k.credential(&env(1));
        assert_eq!((c.kind.as_str(), c.id.as_str()), ("deploy-key", "flux"));
        assert_eq!(c.fingerprint, k.fingerprint);
    }
}
