//! docs/recreate.md, run: every shell block of the document, in order, against a real
//! config repo and the real `mcb`. `kind`, `kubectl` and `clusterctl` are recording
//! stand-ins (tests/support/tools/record-tool.sh): no Kubernetes API server can run here,
//! so what the test checks is that each command runs and that what reaches those tools is
//! exactly what the document says (and, for `mcb`, what it must send).

use std::path::{Path, PathBuf};

use crate::init::{config_repo, init};
use crate::support::{root, run, tool, tools_dir, TestEnv};

/// The shell lines of docs/recreate.md's ```sh blocks, in order.
fn doc_lines() -> Vec<String> {
    let doc = std::fs::read_to_string(root().join("docs/recreate.md")).unwrap();
    let mut out = Vec::new();
    let mut inside = false;
    for l in doc.lines() {
        if l.starts_with("```") {
            inside = l == "```sh";
            continue;
        }
        if inside {
            out.push(l.to_owned());
        }
    }
    out
}

/// A bin dir with the stand-ins and the real `mcb`.
fn tools(t: &TestEnv) -> PathBuf {
    let bin = t.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for name in ["kind", "kubectl", "clusterctl"] {
        std::os::unix::fs::symlink(tools_dir().join("record-tool.sh"), bin.join(name)).unwrap();
    }
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_mcb"), bin.join("mcb")).unwrap();
    bin
}

/// One recorded call: the program and its arguments, and what it read on stdin.
struct Call {
    line: String,
    stdin: Option<String>,
}

fn calls(record: &Path) -> Vec<Call> {
    let log = std::fs::read_to_string(record.join("calls.log")).unwrap_or_default();
    log.lines()
        .map(|l| match l.split_once(" <stdin:") {
            Some((line, f)) => Call {
                line: line.to_owned(),
                stdin: Some(std::fs::read_to_string(record.join(f.trim_end_matches('>'))).unwrap()),
            },
            None => Call {
                line: l.to_owned(),
                stdin: None,
            },
        })
        .collect()
}

/// `line` as the shell passes it on: variables expanded, single quotes gone.
fn expand(line: &str, vars: &[(String, String)]) -> String {
    let mut s = line.to_owned();
    // Longest names first, so `$NAMESPACE` would not be taken for `$NAME`.
    let mut vars = vars.to_vec();
    vars.sort_by_key(|(k, _)| std::cmp::Reverse(k.len()));
    for (k, v) in &vars {
        s = s.replace(&format!("${k}"), v);
    }
    s.replace('\'', "")
}

fn flag<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let mut words = line.split_whitespace();
    words.find(|w| *w == name)?;
    words.next()
}

#[test]
fn every_command_of_recreate_md_runs_and_reaches_the_tools_as_written() {
    let t = TestEnv::new();
    let repo = config_repo(&t);
    let key = t.home().join("keys/demo.agekey");
    std::fs::create_dir_all(key.parent().unwrap()).unwrap();
    init(&t, &repo, &key, &[]).ok();
    let bin = tools(&t);
    let record = t.path().join("record");
    std::fs::create_dir_all(&record).unwrap();

    let lines = doc_lines();
    let script = t.path().join("recreate.sh");
    std::fs::write(&script, lines.join("\n") + "\n").unwrap();
    let mut c = t.command("bash");
    c.args(["-euo", "pipefail"])
        .arg(&script)
        .current_dir(&repo)
        .env(
            "PATH",
            format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
        )
        .env("MCB_RECORD", &record);
    let r = run(c);
    assert!(
        r.status.success(),
        "docs/recreate.md failed:\n{}\n{}",
        r.stdout,
        r.stderr
    );

    // Walk the document: each stand-in command must be the next call, as written; each
    // `mcb bootstrap` must be a run of kubectl applies against its --kubeconfig.
    let mut vars: Vec<(String, String)> = vec![("HOME".into(), t.home().display().to_string())];
    let calls = calls(&record);
    let mut next = 0;
    let mut bootstraps = 0;
    for l in lines.iter().map(|l| l.trim()) {
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        if let Some((k, v)) = l.split_once('=').filter(|(k, _)| !k.contains(' ')) {
            let v = expand(v, &vars);
            vars.push((k.to_owned(), v));
            continue;
        }
        let cmd = expand(l, &vars);
        let program = cmd.split_whitespace().next().unwrap();
        match program {
            "kind" | "kubectl" | "clusterctl" => {
                let want = cmd.split(" > ").next().unwrap().trim();
                let got = calls.get(next).map(|c| c.line.as_str());
                assert_eq!(got, Some(want), "call {next} is not the document's");
                next += 1;
            }
            "mcb" if cmd.starts_with("mcb bootstrap ") => {
                bootstraps += 1;
                let kubeconfig = flag(&cmd, "--kubeconfig").unwrap();
                let prefix = format!("kubectl --kubeconfig {kubeconfig} ");
                let start = next;
                // mcb's own calls: its staged applies and waits (the document's waits name
                // the object before `--for`, mcb's put `--for` first).
                while calls
                    .get(next)
                    .is_some_and(|c| is_bootstrap_call(&c.line, &prefix))
                {
                    next += 1;
                }
                check_bootstrap(
                    &calls[start..next],
                    &prefix,
                    cmd.contains("--suspend-cluster"),
                );
            }
            "mcb" if cmd.starts_with("mcb kubeconfig ") => {
                let out = cmd.split(" > ").nth(1).unwrap();
                assert!(
                    !Path::new(out).starts_with(&repo),
                    "{out} is in the repo's work tree"
                );
                // What the next command (`kubectl get nodes`) was handed; step 8 deletes
                // the file itself.
                assert!(lines.iter().any(|l| l.contains("get nodes")));
                check_kubeconfig(&t, &repo, &record.join("get-nodes.kubeconfig"), &key);
            }
            "mkdir" | "rm" => {}
            other => panic!("docs/recreate.md runs `{other}`, which this test does not check"),
        }
    }
    assert_eq!(next, calls.len(), "calls the document does not show");
    assert_eq!(bootstraps, 2, "the pivot bootstraps twice");
    assert!(
        !t.home().join("mcb-recreate").exists(),
        "step 8 removes the kubeconfigs"
    );
}

/// Whether `line` is one of `mcb bootstrap`'s own kubectl calls against `prefix`.
fn is_bootstrap_call(line: &str, prefix: &str) -> bool {
    let Some(rest) = line.strip_prefix(prefix) else {
        return false;
    };
    let rest = match rest.strip_prefix("-n ") {
        Some(r) => r.split_once(' ').map_or("", |(_, r)| r),
        None => rest,
    };
    [
        "apply --server-side ",
        "wait --for=",
        "rollout status ",
        "get ",
    ]
    .iter()
    .any(|v| rest.starts_with(v))
}

/// A bootstrap's kubectl calls, in stages: the applies end with the root sync (the
/// flux-system GitRepository). With --suspend-cluster the apply just before it is the
/// rendered `cluster` Kustomization with `spec.suspend: true` under its own field manager
/// (Flux strips fields owned by `kubectl`, so the default manager would lose the suspend),
/// after the wait that makes its CRD Established.
fn check_bootstrap(calls: &[Call], prefix: &str, suspend: bool) {
    let applies: Vec<&Call> = calls
        .iter()
        .filter(|c| c.line[prefix.len()..].starts_with("apply "))
        .collect();
    let managers: Vec<&str> = applies
        .iter()
        .map(|c| {
            c.line
                .split_whitespace()
                .find_map(|w| w.strip_prefix("--field-manager="))
                .unwrap_or("kubectl")
        })
        .collect();
    let sync = applies.last().expect("mcb bootstrap applies");
    assert!(
        sync.stdin
            .as_deref()
            .is_some_and(|s| s.contains("\nkind: GitRepository\nmetadata:\n")),
        "the root sync comes last"
    );
    assert!(
        applies.iter().any(|c| c
            .stdin
            .as_deref()
            .is_some_and(|s| s.contains("name: sops-age"))),
        "the age key is handed to Flux"
    );
    let established = calls
        .iter()
        .position(|c| c.line.contains("wait --for=condition=Established"))
        .expect("the CRDs are waited for");
    assert!(calls[established]
        .line
        .contains("crd/kustomizations.kustomize.toolkit.fluxcd.io"));
    if !suspend {
        assert!(managers.iter().all(|m| *m == "mcb"), "{managers:?}");
        return;
    }
    let n = applies.len();
    assert!(n >= 3, "{managers:?}");
    assert_eq!(managers[n - 2], "mcb-suspend", "{managers:?}");
    assert!(
        managers[..n - 2].iter().all(|m| *m == "mcb"),
        "{managers:?}"
    );
    let suspended = calls
        .iter()
        .position(|c| std::ptr::eq(c, applies[n - 2]))
        .unwrap();
    assert!(established < suspended, "the suspend waits for its CRD");
    let doc: serde_json::Value =
        serde_saphyr::from_str(applies[n - 2].stdin.as_deref().unwrap()).unwrap();
    assert_eq!(doc["kind"], "Kustomization");
    assert_eq!(doc["metadata"]["name"], "cluster");
    assert_eq!(doc["spec"]["suspend"], true);
    assert_eq!(
        doc["spec"]["path"],
        "./installations/demo/manifests/cluster"
    );
}

/// What `mcb kubeconfig` wrote is the admin kubeconfig the Go sops decrypts from the repo.
fn check_kubeconfig(t: &TestEnv, repo: &Path, written: &Path, key: &Path) {
    let got = std::fs::read_to_string(written).unwrap();
    let file = repo.join("installations/demo/secrets/demo-kubeconfig-admin.sops.yaml");
    let mut c = t.command(tool("sops"));
    c.env("SOPS_AGE_KEY_FILE", key)
        .args(["decrypt", "--extract", "[\"data\"][\"value\"]"])
        .arg(&file);
    let b64 = run(c).ok().stdout;
    use base64::Engine;
    let want = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .unwrap();
    assert_eq!(got.as_bytes(), want.as_slice());
    assert!(
        got.contains("kind: Config") && got.contains("client-key-data"),
        "{got}"
    );
}

#[test]
fn kubeconfig_prints_other_users_and_names_a_missing_one() {
    let t = TestEnv::new();
    let repo = config_repo(&t);
    let key = t.path().join("demo.agekey");
    init(&t, &repo, &key, &[]).ok();
    let mut c = t.mcb();
    c.arg("--repo")
        .arg(&repo)
        .args(["kubeconfig", "demo", "--user", "nobody", "--age-key-file"])
        .arg(&key);
    let r = run(c).fails_with(2);
    assert!(r.stdout.is_empty());
    assert!(
        r.stderr.contains("no kubeconfig for user nobody"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("help:"), "{}", r.stderr);
    // Without a key that opens it: an error, nothing on stdout.
    let mut c = t.mcb();
    c.arg("--repo").arg(&repo).args(["kubeconfig", "demo"]);
    let r = run(c).fails_with(2);
    assert!(r.stdout.is_empty(), "{}", r.stdout);
}
