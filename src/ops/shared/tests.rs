use super::*;

fn parse(text: &str, f: Option<InputFormat>) -> Result<SharedValue, crate::Error> {
    parse_input(text.as_bytes(), f, "<stdin>")
}

fn pairs(v: &SharedValue) -> Vec<(String, String)> {
    v.values
        .iter()
        .map(|(k, v)| (k.clone(), v.expose_secret().to_owned()))
        .collect()
}

#[test]
fn the_three_formats_give_the_same_value() {
    let want = vec![
        ("password".to_owned(), "s3cr3t: \"x\"".to_owned()),
        ("username".to_owned(), "bot".to_owned()),
    ];
    let yaml = "username: bot\npassword: 's3cr3t: \"x\"'\n";
    let json = r#"{"username": "bot", "password": "s3cr3t: \"x\""}"#;
    let env = "username=bot\npassword=s3cr3t: \"x\"\n";
    for (text, f) in [
        (yaml, InputFormat::Yaml),
        (json, InputFormat::Json),
        (env, InputFormat::Dotenv),
    ] {
        assert_eq!(InputFormat::detect(text), f, "{text}");
        assert_eq!(pairs(&parse(text, None).unwrap()), want, "{text}");
    }
}

#[test]
fn scalars_become_text_and_multiline_survives() {
    let v = parse("port: 5432\ntls: true\ncert: |\n  line1\n  line2\n", None).unwrap();
    assert_eq!(
        pairs(&v),
        vec![
            ("cert".into(), "line1\nline2\n".into()),
            ("port".into(), "5432".into()),
            ("tls".into(), "true".into()),
        ]
    );
}

#[test]
fn malformed_input_is_a_clear_error() {
    let cases: &[(&str, Option<InputFormat>, &str)] = &[
        ("", None, "empty input"),
        ("  \n", None, "empty input"),
        ("{}", None, "empty input"),
        ("a: [1\n", Some(InputFormat::Yaml), "not valid"),
        ("{\"a\": 1,}", None, "not valid"),
        ("a: 1\na: 2\n", None, "duplicate key"),
        ("{\"a\": \"1\", \"a\": \"2\"}", None, "duplicate key"),
        ("A=1\nA=2\n", None, "duplicate key"),
        ("a:\n  b: c\n", None, "nested map"),
        ("a: ''\n", None, "empty value"),
        ("'': x\n", None, "empty key"),
        ("'a b': x\n", None, "not a valid Secret key"),
        ("a: \"x\\u0000y\"\n", None, "control characters"),
        ("a: 1\n---\nb: 2\n", None, "2 documents"),
    ];
    for (text, f, want) in cases {
        let e = parse(text, *f).unwrap_err().to_string();
        assert!(e.contains(want), "{text:?}: {e}");
        assert!(e.starts_with("<stdin>"), "{text:?}: {e}");
    }
    let e = parse_input(&[0xff, 0xfe, 0], None, "<stdin>").unwrap_err();
    assert!(e.to_string().contains("not UTF-8"), "{e}");
}

#[test]
fn errors_never_show_values() {
    let e = parse("a: ok\nb: \"sup3r\\u0001secret\"\n", None).unwrap_err();
    assert!(!e.to_string().contains("sup3r"), "{e}");
    let v = parse("a: hunter2\n", None).unwrap();
    assert!(!format!("{v:?}").contains("hunter2"));
}

#[test]
fn environment_by_prefix() {
    let vars = vec![
        ("REG_USER".to_owned(), "bot".to_owned()),
        ("REG_PASS".to_owned(), "pw".to_owned()),
        ("OTHER".to_owned(), "x".to_owned()),
    ];
    let v = from_env("REG_", vars).unwrap();
    assert_eq!(v.keys(), vec!["PASS", "USER"]);
    let e = from_env("NOPE_", Vec::new()).unwrap_err();
    assert!(e.to_string().contains("NOPE_"), "{e}");
}

#[test]
fn document_round_trips_through_the_yaml_store() {
    let v = parse(
        "{\"a\": \"x\\ny\", \"b\": \"'quoted' \\\"too\\\"\", \"c\": \"123\", \"d\": \"true\"}",
        None,
    )
    .unwrap();
    let doc = document("registry", &v);
    let sops::Content::Tree(tree) = sops::load_plain(doc.expose_secret(), Format::Yaml).unwrap()
    else {
        panic!()
    };
    let back = from_tree(&tree, Some("stringData"), "doc").unwrap();
    assert_eq!(pairs(&back), pairs(&v));
}

#[test]
fn copies_follow_the_mapping() {
    let v = parse("user: u\npass: p\nextra: e\n", None).unwrap();
    let all: spec::SharedSecretRef = serde_json::from_str("\"registry\"").unwrap();
    let s = copy_secret("a", &all.mapping(), &v).unwrap();
    assert_eq!((s.name.as_str(), s.namespace.as_str()), ("registry", "default"));
    assert_eq!(s.data.keys().collect::<Vec<_>>(), vec!["extra", "pass", "user"]);
    let mapped: spec::SharedSecretRef = serde_json::from_str(
        r#"{"name": "registry", "namespace": "ci", "secretName": "pull", "type": "kubernetes.io/basic-auth", "keys": {"user": "username", "pass": "password"}}"#,
    )
    .unwrap();
    let s = copy_secret("a", &mapped.mapping(), &v).unwrap();
    assert_eq!((s.name.as_str(), s.namespace.as_str()), ("pull", "ci"));
    assert_eq!(s.type_, "kubernetes.io/basic-auth");
    assert_eq!(s.data.keys().collect::<Vec<_>>(), vec!["password", "username"]);
    let missing: spec::SharedSecretRef =
        serde_json::from_str(r#"{"name": "registry", "keys": {"token": "t"}}"#).unwrap();
    let e = copy_secret("a", &missing.mapping(), &v).unwrap_err();
    assert!(e.to_string().contains("\"token\""), "{e}");
}

#[test]
fn rotate_merges_and_reports_changed_keys() {
    let old = parse("a: 1\nb: 2\n", None).unwrap();
    let upd = parse("b: 3\nc: 4\n", None).unwrap();
    let new = old.merged(&upd);
    assert_eq!(new.keys(), vec!["a", "b", "c"]);
    assert_eq!(new.changed_from(Some(&old)), vec!["b", "c"]);
    assert_eq!(new.changed_from(None), vec!["a", "b", "c"]);
}
