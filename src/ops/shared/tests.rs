use super::files::{copy_secret, document};
use super::input::from_tree;
use super::*;
use crate::repo::installation::{self, Loaded};
use crate::sops::{self, Format};
use crate::spec;
use crate::{repo, Env};
use std::collections::BTreeMap;
use std::path::Path;

use crate::repo::shared::{check, Finding};
use secrecy::ExposeSecret;

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
    let doc = document("registry", "v1", &v);
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
    let s = copy_secret("a", &all.mapping(), "v1", &v).unwrap();
    assert_eq!(
        (s.name.as_str(), s.namespace.as_str()),
        ("registry", "default")
    );
    assert_eq!(
        s.data.keys().collect::<Vec<_>>(),
        vec!["extra", "pass", "user"]
    );
    let mapped: spec::SharedSecretRef = serde_json::from_str(
        r#"{"name": "registry", "namespace": "ci", "secretName": "pull", "type": "kubernetes.io/basic-auth", "keys": {"user": "username", "pass": "password"}}"#,
    )
    .unwrap();
    let s = copy_secret("a", &mapped.mapping(), "v1", &v).unwrap();
    assert_eq!((s.name.as_str(), s.namespace.as_str()), ("pull", "ci"));
    assert_eq!(s.type_, "kubernetes.io/basic-auth");
    assert_eq!(
        s.data.keys().collect::<Vec<_>>(),
        vec!["password", "username"]
    );
    let missing: spec::SharedSecretRef =
        serde_json::from_str(r#"{"name": "registry", "keys": {"token": "t"}}"#).unwrap();
    let e = copy_secret("a", &missing.mapping(), "v1", &v).unwrap_err();
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

/// A repo on disk with installations `(name, uses registry)` and, if given, a shared file
/// encrypted for `shared_for` (installation names; admins always).
fn repo_with(
    installations: &[(&str, bool)],
    shared_for: Option<&[&str]>,
) -> (tempfile::TempDir, BTreeMap<String, String>) {
    use crate::inventory::{Credential, Inventory};
    let dir = tempfile::tempdir().unwrap();
    let env = Env::seeded(7, time::macros::datetime!(2026-11-25 12:00 UTC));
    let admin = sops::generate_age_key(&env).recipient;
    let mut recipients = BTreeMap::new();
    for (name, uses) in installations {
        let key = sops::generate_age_key(&env).recipient;
        recipients.insert(name.to_string(), key.clone());
        let spec = format!(
            "apiVersion: mcb/v1alpha1\nkind: Installation\nname: {name}\nbaseDomain: {name}.example.com\n\
             provider:\n  capa:\n    region: eu-central-1\ngit:\n  url: ssh://git@github.com/e/mc\n\
             sops:\n  recipients:\n    - {admin}\n{}",
            if *uses { "sharedSecrets:\n  - registry\n" } else { "" }
        );
        let d = dir.path().join(repo::installation_dir(name));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("installation.yaml"), spec).unwrap();
        let mut inv = Inventory::new();
        inv.upsert(Credential {
            kind: installation::AGE_KEY_KIND,
            id: "installation".into(),
            subject: None,
            fingerprint: key,
            not_before: None,
            not_after: None,
            created: "2026-11-25T12:00:00Z".into(),
            rotated: None,
            file: None,
            extra: BTreeMap::new(),
        });
        std::fs::write(d.join("credentials.yaml"), inv.to_yaml()).unwrap();
    }
    if let Some(users) = shared_for {
        let mut r = vec![admin.clone()];
        r.extend(users.iter().map(|u| recipients[*u].clone()));
        let v = parse("token: abc\n", None).unwrap();
        let enc = sops::encrypt(
            &env,
            document("registry", "v1", &v).expose_secret(),
            Format::Yaml,
            &sops::EncryptOptions::for_recipients(&r),
        )
        .unwrap();
        let p = dir.path().join(shared_path("registry"));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, enc).unwrap();
    }
    (dir, recipients)
}

#[test]
fn check_finds_unknown_names_and_unreadable_files() {
    let (dir, _) = repo_with(&[("a", true), ("b", false)], None);
    assert_eq!(
        check(dir.path()).unwrap(),
        vec![Finding::UnknownSharedSecret {
            installation: "a".into(),
            name: "registry".into()
        }]
    );

    let (dir, recipients) = repo_with(&[("a", true), ("b", true), ("c", false)], Some(&["a"]));
    let findings = check(dir.path()).unwrap();
    assert_eq!(
        findings,
        vec![Finding::NotReadable {
            installation: "b".into(),
            name: "registry".into(),
            missing: vec![recipients["b"].clone()],
        }]
    );
    assert!(findings[0]
        .to_string()
        .contains("shared/secrets/registry.sops.yaml"));
    assert!(crate::Help::help(&findings[0])
        .unwrap()
        .contains("mcb render"));

    let (dir, _) = repo_with(&[("a", true), ("b", true)], Some(&["a", "b"]));
    assert_eq!(check(dir.path()).unwrap(), vec![]);
}

#[test]
fn list_needs_no_key() {
    let (dir, recipients) = repo_with(&[("a", true), ("b", false)], Some(&["a"]));
    let l = list(dir.path()).unwrap();
    assert_eq!(l.len(), 1);
    assert_eq!(l[0].name, "registry");
    assert_eq!(l[0].keys, vec!["token"]);
    assert_eq!(l[0].installations, vec!["a"]);
    assert_eq!(l[0].last_changed, "2026-11-25T12:00:00Z");
    assert!(l[0].recipients.contains(&recipients["a"]));
}

#[test]
fn sops_config_has_a_rule_per_used_shared_secret() {
    let (dir, recipients) = repo_with(&[("a", true), ("b", false)], None);
    let all = installation::load_all(dir.path()).unwrap();
    let refs: Vec<&Loaded> = all.iter().collect();
    let text = installation::sops_config(&refs);
    let config = crate::sops::rules::Config::parse(Path::new(".sops.yaml"), &text).unwrap();
    let rule = |re: &str| {
        config
            .creation_rules
            .iter()
            .find(|r| r.path_regex.as_deref() == Some(re))
            .unwrap_or_else(|| panic!("no rule {re}: {text}"))
            .age
            .as_ref()
            .unwrap()
            .recipients()
    };
    let registry = rule("^shared/secrets/registry\\.sops\\.yaml$");
    assert!(registry.contains(&recipients["a"]), "{text}");
    assert!(!registry.contains(&recipients["b"]), "{text}");
    rule("^shared/secrets/.*\\.sops\\.yaml$");
}

#[test]
fn the_example_specs_commented_shared_secrets_parse() {
    let (head, tail) = spec::EXAMPLE.split_once("# sharedSecrets:").unwrap();
    let uncommented: String = tail
        .lines()
        .map(|l| l.strip_prefix("# ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n");
    let text = format!("{head}sharedSecrets:{uncommented}\n");
    let s = spec::parse(&text, Path::new("example")).unwrap();
    let m: Vec<_> = s.shared_secrets.iter().map(|r| r.mapping()).collect();
    assert_eq!(m.len(), 3);
    assert_eq!(m[2].secret_name.as_deref(), Some("capa-variables"));
    assert_eq!(m[1].namespace.as_ref().unwrap().as_str(), "dex");
    assert_eq!(m[1].secret_name.as_deref(), Some("dex-github"));
    // Every key as it is: the connector's `clientSecret: {sharedSecret: dex-github, key:
    // clientSecret}` in the example reads key clientSecret of Secret dex/dex-github.
    assert!(m[1].keys.is_empty());
}
