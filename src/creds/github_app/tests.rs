use super::*;

#[test]
fn manifest_has_webhook_off_and_minimal_permissions() {
    let p = ManifestParams::new("mcb-test", "https://example.com", AppOwner::User);
    let m = p.manifest("http://127.0.0.1:1/callback");
    assert_eq!(m["hook_attributes"]["active"], false);
    assert_eq!(m["redirect_url"], "http://127.0.0.1:1/callback");
    assert_eq!(m["public"], false);
    assert_eq!(
        m["default_permissions"],
        serde_json::json!({"contents": "write", "metadata": "read", "pull_requests": "write", "workflows": "write"})
    );
}

#[test]
fn new_app_urls_for_user_org_and_ghe() {
    let mut p = ManifestParams::new("a", "https://e", AppOwner::User);
    assert_eq!(
        p.new_app_url("S").unwrap(),
        "https://github.com/settings/apps/new?state=S"
    );
    p.owner = AppOwner::Organization("my-org".into());
    p.web_base = "https://ghe.example.com/".into();
    assert_eq!(
        p.new_app_url("S").unwrap(),
        "https://ghe.example.com/organizations/my-org/settings/apps/new?state=S"
    );
    p.owner = AppOwner::Organization("a/../b".into());
    assert!(p.new_app_url("S").is_err());
}

#[test]
fn page_escapes_the_manifest() {
    let page = page_html(
        "<x>",
        "https://g/new?state=S",
        &serde_json::json!({"n": "a\"b<"}),
    );
    assert!(page.contains("&lt;x&gt;"));
    assert!(
        page.contains("value=\"{&quot;n&quot;:&quot;a\\&quot;b&lt;&quot;}\""),
        "{page}"
    );
}

#[test]
fn import_rejects_non_rsa_and_zero_ids() {
    let e = import_app(1, 2, SecretString::from("not a key")).unwrap_err();
    assert!(matches!(e, Error::NotRsaKey { app_id: 1, .. }), "{e}");
    assert!(!e.to_string().contains("not a key"));
    let e = import_app(0, 2, SecretString::from("x")).unwrap_err();
    assert!(matches!(e, Error::InvalidParam { .. }));
}
