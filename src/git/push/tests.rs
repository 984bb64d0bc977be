use super::*;

#[test]
fn ssh_targets() {
    let t = SshTarget::parse("ssh://git@127.0.0.1:2222/o/r.git").unwrap();
    assert_eq!(t.known_hosts_name(), "[127.0.0.1]:2222");
    let t = SshTarget::parse("git@github.com:o/r.git").unwrap();
    assert_eq!(t.known_hosts_name(), "github.com");
    assert_eq!(SshTarget::parse("https://github.com/o/r"), None);
    assert_eq!(SshTarget::parse("file:///tmp/x"), None);
}

#[test]
fn redacts_password_only() {
    assert_eq!(
        redact_url("http://git:secret@127.0.0.1:80/o/r.git"),
        "http://git:***@127.0.0.1/o/r.git"
    );
    assert_eq!(
        redact_url("git@github.com:o/r.git"),
        "git@github.com:o/r.git"
    );
}

#[test]
fn percent_decoding() {
    assert_eq!(percent_decode("a%40b%3a"), "a@b:");
    assert_eq!(percent_decode("100%"), "100%");
}

#[test]
fn hashed_known_hosts_entries_match() {
    // the same construction as `ssh-keygen -H` (tests/it/git.rs checks real output)
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("known_hosts");
    let key = b"raw-key-bytes";
    let b64 = base64::engine::general_purpose::STANDARD;
    let salt = [7u8; 20];
    let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &salt);
    let tag = ring::hmac::sign(&k, b"[127.0.0.1]:2222");
    let line = format!(
        "|1|{}|{} ssh-ed25519 {}\n",
        b64.encode(salt),
        b64.encode(tag.as_ref()),
        b64.encode(key)
    );
    std::fs::write(&f, line).unwrap();
    assert!(!check_host_key(&f, "[127.0.0.1]:2222", "ssh-ed25519", key, false).unwrap());
    assert!(matches!(
        check_host_key(&f, "[127.0.0.1]:2223", "ssh-ed25519", key, false),
        Err(HostKey::Unknown(_))
    ));
}

#[test]
fn known_hosts_unknown_match_mismatch_accept() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("ssh/known_hosts");
    let key = b"raw-key-bytes";
    let host = "[127.0.0.1]:2222";
    assert!(matches!(
        check_host_key(&f, host, "ssh-ed25519", key, false),
        Err(HostKey::Unknown(fp)) if fp.starts_with("SHA256:")
    ));
    assert!(!f.exists());
    assert!(check_host_key(&f, host, "ssh-ed25519", key, true).unwrap());
    assert!(!check_host_key(&f, host, "ssh-ed25519", key, false).unwrap());
    assert!(matches!(
        check_host_key(&f, host, "ssh-ed25519", b"other", true),
        Err(HostKey::Mismatch(_))
    ));
    let text = std::fs::read_to_string(&f).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
}
