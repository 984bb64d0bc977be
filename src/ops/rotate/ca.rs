//! CA rotation in three reviewed phases, since Cluster API cannot replace a CA in place.
//! The phase is recorded in the inventory entry (`extra.phase`), and the next CA travels in
//! the CA's own Secret (`next.crt`/`next.key`, keys CAPI does not read), so no file is
//! added or removed:
//! 1. the new CA joins the trust bundle (`tls.crt` = old + new, still signing with the
//!    old key); kubeconfigs trust both;
//! 2. the new CA signs (`tls.crt` = new + old, `tls.key` = new); kubeconfigs are re-issued
//!    from it and still trust both;
//! 3. the old CA leaves the bundle; kubeconfigs trust only the new one, so certificates of
//!    the old CA stop working.

use base64::Engine;
use secrecy::{ExposeSecret, SecretString};

use super::kinds::{load_pki, reissue_kubeconfig};
use super::{clone_secret, Work};
use crate::inventory::Credential;
use crate::inventory::CredentialKind;
use crate::k8s::Secret;
use crate::ops::Error as OpsError;
use crate::pki::{self, Ca, CA_VALIDITY};
use crate::Error;

const NEXT_CRT: &str = "next.crt";
const NEXT_KEY: &str = "next.key";

/// Runs the next phase of rotating CA `which` (`cluster`, `etcd`, `proxy`).
pub(super) fn rotate(w: &mut Work<'_>, which: &str) -> Result<(), Error> {
    let entry = w
        .inst
        .inventory
        .get(CredentialKind::Ca, which)
        .cloned()
        .ok_or_else(|| {
            Error::from(OpsError::NotRotatable {
                target: format!("ca/{which}"),
                why: "the inventory has no such CA".into(),
            })
        })?;
    let phase = entry.extra.get("phase").map(String::as_str).unwrap_or("0");
    let next = match phase {
        "0" => add_next(w, which, entry)?,
        "1" => sign_with_next(w, which, entry)?,
        _ => drop_old(w, which, entry)?,
    };
    w.branch_suffix = Some(format!("-ca-{which}-phase{next}"));
    w.notes.push(match next {
        1 => format!("CA {which} phase 1 of 3: the new CA is trusted next to the old one; once merged and rolled out, run `mcb rotate {} --only ca/{which}` again", w.name()),
        2 => format!("CA {which} phase 2 of 3: the new CA signs and kubeconfigs are re-issued; roll the control plane out, then run `mcb rotate {} --only ca/{which}` again to drop the old CA", w.name()),
        _ => format!("CA {which} phase 3 of 3: the old CA is no longer trusted; certificates it signed stop working"),
    });
    Ok(())
}

/// The Secret's purpose for an inventory id, and the CA's kubeadm common name.
fn purpose(which: &str) -> (&'static str, &'static str) {
    match which {
        "etcd" => ("etcd", "etcd-ca"),
        "proxy" => ("proxy", "front-proxy-ca"),
        _ => ("ca", "kubernetes"),
    }
}

fn ca_secret(w: &Work<'_>, which: &str) -> Result<Secret, Error> {
    let name = pki::secret_name(w.name(), purpose(which).0);
    Ok(clone_secret(w.secret(&name)?))
}

fn text(s: &Secret, key: &str) -> Result<SecretString, Error> {
    s.data
        .get(key)
        .map(|v| SecretString::from(String::from_utf8_lossy(v.expose_secret()).into_owned()))
        .ok_or_else(|| {
            OpsError::NotRotatable {
                target: format!("Secret {}", s.name),
                why: format!("it has no {key}"),
            }
            .into()
        })
}

/// The CA in `crt` (its first certificate) with `key`.
fn load_ca(w: &Work<'_>, s: &Secret, crt: &str, key: &str) -> Result<Ca, Error> {
    let cert = text(s, crt)?;
    Ok(Ca::from_pem(
        &format!("{} {crt}", s.name),
        cert.expose_secret(),
        &text(s, key)?,
        w.env.now(),
    )?)
}

/// Phase 1: a new CA, trusted next to the old one.
fn add_next(w: &mut Work<'_>, which: &str, mut entry: Credential) -> Result<u8, Error> {
    let secret = ca_secret(w, which)?;
    let old = load_ca(w, &secret, "tls.crt", "tls.key")?;
    let key_type = w.inst.spec.pki.key_type.into();
    let new = Ca::generate(w.env, purpose(which).1, key_type, CA_VALIDITY)?;
    let bundle = format!("{}{}", old.cert_pem(), new.cert_pem());
    w.put_secret(
        secret
            .with("tls.crt", bundle.clone())
            .with(NEXT_CRT, new.cert_pem().as_bytes().to_vec())
            .with(NEXT_KEY, new.key_pem().expose_secret().as_bytes().to_vec()),
    );
    if which == "cluster" {
        trust_in_kubeconfigs(w, &bundle)?;
    }
    entry.extra.insert("phase".into(), "1".into());
    entry
        .extra
        .insert("next".into(), new.fingerprint().to_owned());
    let mut shown = ca_credential(&new, &entry);
    shown.id = format!("{which} (phase 1: trusted)");
    w.note_change(&shown, Some(old.fingerprint().to_owned()));
    w.inst.inventory.upsert(entry);
    Ok(1)
}

/// Phase 2: the new CA signs; kubeconfigs are re-issued from it.
fn sign_with_next(w: &mut Work<'_>, which: &str, entry: Credential) -> Result<u8, Error> {
    let secret = ca_secret(w, which)?;
    let old = load_ca(w, &secret, "tls.crt", "tls.key")?;
    let new = load_ca(w, &secret, NEXT_CRT, NEXT_KEY)?;
    let bundle = format!("{}{}", new.cert_pem(), old.cert_pem());
    let mut s = secret
        .with("tls.crt", bundle.clone())
        .with("tls.key", new.key_pem().expose_secret().as_bytes().to_vec());
    s.data.remove(NEXT_CRT);
    s.data.remove(NEXT_KEY);
    w.put_secret(s);
    let mut after = ca_credential(&new, &entry);
    after.extra.remove("next");
    after.extra.insert("phase".into(), "2".into());
    after
        .extra
        .insert("previous".into(), old.fingerprint().to_owned());
    w.record(after);
    if which == "cluster" {
        reissue_kubeconfigs(w, new, &bundle)?;
    }
    Ok(2)
}

/// Phase 3: only the new CA is trusted.
fn drop_old(w: &mut Work<'_>, which: &str, mut entry: Credential) -> Result<u8, Error> {
    let secret = ca_secret(w, which)?;
    let new = load_ca(w, &secret, "tls.crt", "tls.key")?;
    let only = new.cert_pem().to_owned();
    w.put_secret(secret.with("tls.crt", only.clone()));
    if which == "cluster" {
        trust_in_kubeconfigs(w, &only)?;
    }
    let previous = entry.extra.remove("previous");
    entry.extra.remove("phase");
    let mut shown = entry.clone();
    shown.id = format!("{which} (phase 3: old CA removed)");
    w.note_change(&shown, previous);
    entry.rotated = Some(w.now());
    w.inst.inventory.upsert(entry);
    Ok(3)
}

/// The inventory entry of `ca`, keeping `entry`'s created time and extra facts.
fn ca_credential(ca: &Ca, entry: &Credential) -> Credential {
    let f = ca.facts();
    Credential {
        subject: Some(f.subject.clone()),
        fingerprint: f.fingerprint.clone(),
        not_before: Some(pki::rfc3339(f.not_before)),
        not_after: Some(pki::rfc3339(f.not_after)),
        ..entry.clone()
    }
}

/// The kubeconfig Secrets of the installation, by user name.
fn kubeconfig_users(w: &Work<'_>) -> Result<Vec<String>, Error> {
    Ok(load_pki(w)?.kubeconfigs.keys().cloned().collect())
}

/// Sets the trusted CA bundle of every kubeconfig (client certificates unchanged).
fn trust_in_kubeconfigs(w: &mut Work<'_>, bundle: &str) -> Result<(), Error> {
    for user in kubeconfig_users(w)? {
        let name = pki::kubeconfig_secret_name(w.name(), &user);
        let s = clone_secret(w.secret(&name)?);
        let yaml = text(&s, "value")?;
        w.put_secret(s.with("value", with_ca_data(yaml.expose_secret(), bundle)));
    }
    Ok(())
}

/// Re-issues every kubeconfig from `ca`, trusting `bundle`.
fn reissue_kubeconfigs(w: &mut Work<'_>, ca: Ca, bundle: &str) -> Result<(), Error> {
    let mut pki = load_pki(w)?;
    pki.cluster_ca = ca;
    let users: Vec<String> = pki.kubeconfigs.keys().cloned().collect();
    for user in &users {
        reissue_kubeconfig(w.env, &mut pki, &w.inst.spec, user, pki::LEAF_VALIDITY)?;
    }
    let now = w.now();
    let creds = pki.credentials(&now);
    let names: Vec<String> = users
        .iter()
        .map(|u| pki::kubeconfig_secret_name(w.name(), u))
        .collect();
    for s in pki
        .secrets()
        .into_iter()
        .filter(|s| names.contains(&s.name))
    {
        let yaml = text(&s, "value")?;
        let fixed = with_ca_data(yaml.expose_secret(), bundle);
        w.put_secret(s.with("value", fixed));
    }
    for c in creds
        .into_iter()
        .filter(|c| c.kind == CredentialKind::Kubeconfig)
    {
        w.record(c);
    }
    Ok(())
}

/// The kubeconfig text with `certificate-authority-data` set to `bundle`.
fn with_ca_data(yaml: &str, bundle: &str) -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD.encode(bundle);
    let mut out = String::with_capacity(yaml.len() + b64.len());
    for line in yaml.split_inclusive('\n') {
        match line.split_once("certificate-authority-data:") {
            Some((indent, _)) if indent.trim().is_empty() => {
                out.push_str(&format!("{indent}certificate-authority-data: {b64}\n"));
            }
            _ => out.push_str(line),
        }
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ca_data_is_replaced_and_nothing_else() {
        let yaml = "clusters:\n- cluster:\n    certificate-authority-data: AAAA\n    server: https://x\nusers:\n- user:\n    client-certificate-data: BBBB\n";
        let out = String::from_utf8(with_ca_data(yaml, "PEM")).unwrap();
        assert_eq!(
            out,
            "clusters:\n- cluster:\n    certificate-authority-data: UEVN\n    server: https://x\nusers:\n- user:\n    client-certificate-data: BBBB\n"
        );
    }
}
