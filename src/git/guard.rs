//! The last line of defence before a commit: a file under a `secrets/` directory must be
//! SOPS-encrypted. A shape check only (it decrypts nothing and verifies no MAC); `mcb check`
//! does the full verification.

use std::path::{Component, Path};

/// Whether `rel` (a repository-relative path) has a `secrets` directory above the file and
/// must therefore be encrypted. The directory's `kustomization.yaml` only lists file names
/// (Flux applies the directory through it), so it is exempt.
pub fn is_under_secrets_dir(rel: &str) -> bool {
    let p = Path::new(rel);
    if p.file_name().is_some_and(|n| n == "kustomization.yaml") {
        return false;
    }
    p.parent().is_some_and(|dir| {
        dir.components()
            .any(|c| matches!(c, Component::Normal(n) if n == "secrets"))
    })
}

/// Whether `bytes` look like a SOPS-encrypted YAML or JSON document: a top-level `sops`
/// map holding an encrypted `mac` and a `lastmodified`, and at least one encrypted value
/// besides the MAC (`ENC[AES256_GCM,` twice or more).
pub fn looks_sops_encrypted(bytes: &[u8]) -> bool {
    const MARKER: &[u8] = b"ENC[AES256_GCM,";
    if bytes.windows(MARKER.len()).filter(|w| *w == MARKER).count() < 2 {
        return false;
    }
    let doc: Option<serde_json::Value> = serde_json::from_slice(bytes).ok().or_else(|| {
        let text = std::str::from_utf8(bytes).ok()?;
        serde_saphyr::from_str(text).ok()
    });
    let Some(sops) = doc.as_ref().and_then(|d| d.get("sops")) else {
        return false;
    };
    let mac_ok = sops
        .get("mac")
        .and_then(|m| m.as_str())
        .is_some_and(|m| m.starts_with("ENC[AES256_GCM,"));
    mac_ok && sops.get("lastmodified").is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vector(name: &str) -> Vec<u8> {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/sops-vectors/cases");
        std::fs::read(p.join(name)).unwrap()
    }

    #[test]
    fn real_sops_files_pass() {
        assert!(looks_sops_encrypted(&vector(
            "k8s_secret/k8s_secret.sops.yaml"
        )));
        assert!(looks_sops_encrypted(&vector(
            "json_nested/json_nested.sops.json"
        )));
    }

    #[test]
    fn plaintext_and_half_encrypted_fail() {
        assert!(!looks_sops_encrypted(&vector(
            "k8s_secret/k8s_secret.plain.yaml"
        )));
        assert!(!looks_sops_encrypted(&vector(
            "json_nested/json_nested.plain.json"
        )));
        assert!(!looks_sops_encrypted(&vector(
            "negatives/neg_no_metadata.sops.yaml"
        )));
        assert!(!looks_sops_encrypted(&vector(
            "negatives/neg_empty_mac.sops.yaml"
        )));
        // metadata copied onto a plaintext file without any encrypted value
        let fake = b"password: hunter2\nsops:\n    mac: ENC[AES256_GCM,x]\n    lastmodified: x\n";
        assert!(!looks_sops_encrypted(fake), "only the MAC is encrypted");
        let fake = b"password: hunter2\nsops:\n    mac: abc\n    lastmodified: x\n";
        assert!(!looks_sops_encrypted(fake));
        assert!(!looks_sops_encrypted(b"\xff\xfe ENC[AES256_GCM,"));
    }

    #[test]
    fn secrets_dir_detection() {
        assert!(is_under_secrets_dir(
            "installations/prod/secrets/ca.sops.yaml"
        ));
        assert!(is_under_secrets_dir("shared/secrets/x.yaml"));
        assert!(!is_under_secrets_dir("installations/prod/secrets.yaml"));
        assert!(!is_under_secrets_dir("secrets"));
        assert!(!is_under_secrets_dir("installations/prod/manifests/a.yaml"));
    }
}
