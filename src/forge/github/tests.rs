use super::*;

#[test]
fn messages_include_field_errors() {
    let b = r#"{"message":"Validation Failed","errors":[{"resource":"PullRequest","code":"custom","message":"No commits between main and x"},{"code":"invalid"}]}"#;
    assert_eq!(
        github_message(b),
        "Validation Failed; No commits between main and x; invalid"
    );
    assert_eq!(github_message("<html>"), "<html>");
}

#[test]
fn jwt_is_rs256_with_app_issuer() {
    let fixture = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/github/apps.create-from-manifest.json"
    ))
    .unwrap();
    let v: Value = serde_json::from_str(&fixture).unwrap();
    let pem = SecretString::from(v["pem"].as_str().unwrap().to_owned());
    let now = time::macros::datetime!(2026-11-25 12:00:00 UTC);
    let jwt = app_jwt(42, &pem, now).unwrap();
    let parts: Vec<&str> = jwt.expose_secret().split('.').collect();
    assert_eq!(parts.len(), 3);
    use base64::Engine as _;
    let dec = |s: &str| -> Value {
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(s)
                .unwrap(),
        )
        .unwrap()
    };
    assert_eq!(dec(parts[0])["alg"], "RS256");
    let c = dec(parts[1]);
    assert_eq!(c["iss"], "42");
    assert_eq!(c["iat"], now.unix_timestamp() - 60);
    assert_eq!(c["exp"], now.unix_timestamp() + 540);
    let bad = app_jwt(42, &SecretString::from("not a key".to_owned()), now).unwrap_err();
    assert!(matches!(bad, Error::AppKey { .. }), "{bad}");
}
