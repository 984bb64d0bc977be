use super::*;
use crate::check::yaml::parse_all;

const R1: &str = "age1e8n74a6a7gupww7ll0y7hj2v8v7qklt3mfhdvy6sr6a2upnmlpjq3ysh0u";
const R2: &str = "age1zr5cftauhg65ruh2ksqdvr5k359pxc2jf9g7znk5evq5y26fvyrscan7sw";

fn sops_file(recipients: &[&str], data: &str) -> String {
    let mut s = format!("apiVersion: v1\nkind: Secret\nmetadata:\n    name: x\ndata:\n    a: {data}\nsops:\n    age:\n");
    for r in recipients {
        s.push_str(&format!(
                "        - recipient: {r}\n          enc: |\n            -----BEGIN AGE ENCRYPTED FILE-----\n            YQ==\n            -----END AGE ENCRYPTED FILE-----\n"
            ));
    }
    s.push_str("    lastmodified: \"2026-11-25T21:37:37Z\"\n    mac: ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]\n    encrypted_regex: ^(data|stringData)$\n    version: 3.11.0\n");
    s
}

fn run(config: &str, file: &str) -> Vec<(Rule, Option<usize>, String)> {
    let files = vec![
        RepoFile::new(".sops.yaml", config.as_bytes().to_vec()),
        RepoFile::new(
            "installations/a/secrets/x.sops.yaml",
            file.as_bytes().to_vec(),
        ),
    ];
    let parsed = parse_all(&files);
    let rules = RuleSets::load(&files);
    check(&files, &parsed, &rules)
        .into_iter()
        .map(|f| (f.rule, f.line, f.message))
        .collect()
}

const ENC: &str = "ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]";

fn cfg(list: &[&str]) -> String {
    format!(
        "creation_rules:\n  - path_regex: ^installations/a/.*\\.sops\\.yaml$\n    age:\n{}",
        list.iter()
            .map(|r| format!("      - {r}\n"))
            .collect::<String>()
    )
}

#[test]
fn clean_file_has_no_findings() {
    assert!(run(&cfg(&[R1]), &sops_file(&[R1], ENC)).is_empty());
    // comma-separated string form
    let c = format!("creation_rules:\n  - age: '{R1}, {R2}'\n");
    assert!(run(&c, &sops_file(&[R2, R1], ENC)).is_empty());
}

#[test]
fn missing_and_extra_recipients() {
    let f = run(&cfg(&[R1, R2]), &sops_file(&[R1], ENC));
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(
        f[0].2.contains(R2) && f[0].2.contains("not encrypted for"),
        "{f:?}"
    );
    let f = run(&cfg(&[R1]), &sops_file(&[R1, R2], ENC));
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].1, Some(14), "line of the extra recipient: {f:?}");
}

#[test]
fn clear_value_under_encrypted_regex() {
    let f = run(&cfg(&[R1]), &sops_file(&[R1], "c2VjcmV0"));
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!((f[0].0, f[0].1), (Rule::PlaintextSecret, Some(6)));
    assert!(!f[0].2.contains("c2VjcmV0"));
}

#[test]
fn sops_named_file_without_metadata_is_plaintext() {
    let f = run(&cfg(&[R1]), "apiVersion: v1\nkind: ConfigMap\n");
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!((f[0].0, f[0].1), (Rule::PlaintextSecret, Some(1)));
}

#[test]
fn no_rule_and_no_mac() {
    let c = "creation_rules:\n  - path_regex: ^elsewhere/\n    age: x\n";
    let f = run(c, &sops_file(&[R1], ENC));
    assert_eq!(f[0].0, Rule::SopsRecipients);
    let nomac = sops_file(&[R1], ENC).replace(
        "    mac: ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]\n",
        "    mac: \"\"\n",
    );
    let f = run(&cfg(&[R1]), &nomac);
    assert_eq!(
        f.iter().map(|f| f.0).collect::<Vec<_>>(),
        vec![Rule::SopsMac]
    );
}
