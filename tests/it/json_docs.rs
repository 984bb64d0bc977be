//! Issue #24 item 6: one JSON style, documented. Runs every command with `-o json` and
//! compares its output with the field tables of docs/json.md: no undocumented field, no
//! documented (non-optional) field missing. Also: commands without JSON output refuse
//! `-o json` instead of ignoring it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

use crate::init::{config_repo, init};
use crate::support::{root, run, Run, TestEnv};

/// A documented field: may it be absent, and are its keys data (not checked)?
#[derive(Debug, Clone, Copy)]
struct Field {
    optional: bool,
    map: bool,
}

/// The field table under the heading containing `heading` in docs/json.md, each path
/// prefixed with `prefix`.
fn table(heading: &str, prefix: &str) -> BTreeMap<String, Field> {
    let doc = std::fs::read_to_string(root().join("docs/json.md")).unwrap();
    let mut lines = doc
        .lines()
        .skip_while(|l| !(l.starts_with('#') && l.contains(heading)));
    assert!(
        lines.next().is_some(),
        "docs/json.md has no section {heading}"
    );
    let mut out = BTreeMap::new();
    for l in lines.take_while(|l| !l.starts_with('#')) {
        let cells: Vec<&str> = l.split('|').map(str::trim).collect();
        let (Some(path), Some(ty)) = (cells.get(1), cells.get(2)) else {
            continue;
        };
        let Some(path) = path.strip_prefix('`').and_then(|p| p.strip_suffix('`')) else {
            continue;
        };
        out.insert(
            format!("{prefix}{path}"),
            Field {
                optional: ty.contains("optional"),
                map: ty.starts_with("map"),
            },
        );
    }
    assert!(!out.is_empty(), "empty table under {heading}");
    out
}

/// Every path in `v` (`a`, `a[]`, `a[].b`, `[]` for a top-level array), not below maps.
fn paths(v: &Value, at: &str, doc: &BTreeMap<String, Field>, out: &mut BTreeSet<String>) {
    if !at.is_empty() {
        out.insert(at.to_owned());
        if doc.get(at).is_some_and(|f| f.map) {
            return;
        }
    }
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                let p = if at.is_empty() {
                    k.clone()
                } else {
                    format!("{at}.{k}")
                };
                paths(child, &p, doc, out);
            }
        }
        Value::Array(items) => {
            for item in items {
                paths(item, &format!("{at}[]"), doc, out);
            }
        }
        _ => {}
    }
}

/// Whether documented field `p` must be in an output whose paths are `got`: top-level
/// fields always; a field of an object when that object is there with any field (not null);
/// never an array element (there is one only when the array is not empty).
fn required(p: &str, got: &BTreeSet<String>) -> bool {
    if p.ends_with("[]") {
        return false;
    }
    match p.rfind('.') {
        None => true,
        Some(i) => {
            let object = format!("{}.", &p[..i]);
            got.iter().any(|g| g.starts_with(&object))
        }
    }
}

#[track_caller]
fn assert_documented(what: &str, stdout: &str, doc: &BTreeMap<String, Field>) {
    let v: Value = serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{what}: {e}\n{stdout}"));
    let mut got = BTreeSet::new();
    paths(&v, "", doc, &mut got);
    let undocumented: Vec<&String> = got.iter().filter(|p| !doc.contains_key(*p)).collect();
    assert!(
        undocumented.is_empty(),
        "{what}: not in docs/json.md: {undocumented:?}"
    );
    let missing: Vec<&String> = doc
        .iter()
        .filter(|(p, f)| !f.optional && required(p, &got))
        .map(|(p, _)| p)
        .filter(|p| !got.contains(*p))
        .collect();
    assert!(
        missing.is_empty(),
        "{what}: documented but missing: {missing:?}\n{stdout}"
    );
}

fn outcome() -> BTreeMap<String, Field> {
    table("The publishing outcome", "")
}

fn json(t: &TestEnv, repo: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut c = t.mcb();
    c.arg("--repo").arg(repo).args(["-o", "json"]).args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    run(c)
}

#[test]
fn issue_24_json_output_is_what_docs_json_md_says() {
    let t = TestEnv::new();
    let repo = config_repo(&t);
    let key = t.path().join("demo.agekey");
    let key_s = key.to_str().unwrap();

    let mut doc = table("mcb init-installation NAME -o json", "");
    doc.extend(outcome());
    doc.extend(table("A credential (", "credentials[]."));
    let r = init(&t, &repo, &key, &["-o", "json", "--dry-run"]).ok();
    assert_documented("init --dry-run", &r.stdout, &doc);
    let r = init(&t, &repo, &key, &["-o", "json"]).ok();
    assert_documented("init", &r.stdout, &doc);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert!(v["files"][0]["path"].is_string(), "files are objects");
    // merged, as later commands start from the default branch
    crate::rotate::merge_locally(&t, &repo, "mcb/init-demo");

    let mut doc = table("mcb rotate NAME -o json", "");
    doc.extend(outcome());
    let env = [("SOPS_AGE_KEY_FILE", key_s)];
    let r = json(
        &t,
        &repo,
        &["rotate", "demo", "--only", "kubeconfig/admin", "--dry-run"],
        &env,
    )
    .ok();
    assert_documented("rotate", &r.stdout, &doc);

    let mut doc = table("mcb shared import|rotate NAME -o json", "");
    doc.extend(outcome());
    let r = json(
        &t,
        &repo,
        &[
            "shared",
            "import",
            "dex-github",
            "--from-env",
            "DEX_GITHUB_",
        ],
        &[("DEX_GITHUB_clientSecret", "s3cret")],
    )
    .ok();
    assert_documented("shared import", &r.stdout, &doc);
    let r = json(&t, &repo, &["shared", "list"], &[]).ok();
    assert_documented(
        "shared list",
        &r.stdout,
        &table("mcb shared list -o json", ""),
    );

    let r = json(&t, &repo, &["render", "--diff"], &env).ok();
    assert_documented("render", &r.stdout, &table("mcb render -o json", ""));
    let r = json(&t, &repo, &["check", "--skip", "kustomize-build"], &env);
    assert_documented("check", &r.stdout, &table("mcb check -o json", ""));
    let r = json(&t, &repo, &["status"], &[]).ok();
    assert_documented("status", &r.stdout, &table("mcb status -o json", ""));
}

#[test]
fn issue_24_commands_without_json_refuse_o_json() {
    let t = TestEnv::new();
    let repo = config_repo(&t);
    let key = t.path().join("demo.agekey");
    init(&t, &repo, &key, &[]).ok();
    let key_s = key.to_str().unwrap();
    let env = [("SOPS_AGE_KEY_FILE", key_s)];
    for args in [
        &["bootstrap", "demo"][..],
        &["kubeconfig", "demo"],
        &["example-spec"],
        &["completions", "bash"],
        &[
            "secrets",
            "decrypt",
            "installations/demo/secrets/demo-ca.sops.yaml",
        ],
    ] {
        let r = json(&t, &repo, args, &env).fails_with(2);
        assert!(r.stdout.is_empty(), "{args:?} printed:\n{}", r.stdout);
        assert!(r.stderr.contains("-o json"), "{args:?}:\n{}", r.stderr);
    }
}
