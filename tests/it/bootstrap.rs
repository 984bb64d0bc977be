//! `mcb bootstrap --apply` and `--out`: the staged bootstrap (CRDs and Namespace, wait until
//! Established; controllers, wait for rollout; secrets and sync objects, wait until Ready).
//!
//! `--apply` runs against `tests/support/tools/fake-kubectl.py`, a recording stand-in for
//! kubectl: no Kubernetes API server can run on these machines. The stand-in enforces what a
//! fresh cluster does to a bootstrap (no custom object before its CRD is Established, no
//! namespaced object before its Namespace; CRDs establish only while someone waits) and
//! reports rollout and Ready states, so applying everything at once fails against it.

use std::path::{Path, PathBuf};

use crate::init::{config_repo, init};
use crate::support::{installed, run, tool, tools_dir, Run, TestEnv};

/// A `kubectl` that runs the stand-in with the test tools' Python (it has PyYAML).
pub(crate) fn fake_kubectl(t: &TestEnv) -> PathBuf {
    let p = t.path().join("kubectl");
    std::fs::write(
        &p,
        format!(
            "#!/bin/sh\nexec {} {} \"$@\"\n",
            installed().join("venv/bin/python3").display(),
            tools_dir().join("fake-kubectl.py").display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

struct Fixture {
    t: TestEnv,
    repo: PathBuf,
    key: PathBuf,
    kubectl: PathBuf,
    state: PathBuf,
}

fn fixture() -> Fixture {
    let t = TestEnv::new();
    let repo = config_repo(&t);
    let key = t.path().join("demo.agekey");
    init(&t, &repo, &key, &[]).ok();
    let kubectl = fake_kubectl(&t);
    let state = t.path().join("cluster.json");
    Fixture {
        t,
        repo,
        key,
        kubectl,
        state,
    }
}

impl Fixture {
    fn apply(&self, extra: &[&str], env: &[(&str, &str)]) -> Run {
        let mut c = self.t.mcb();
        c.arg("--repo")
            .arg(&self.repo)
            .args(["bootstrap", "demo", "--age-key-file"])
            .arg(&self.key)
            .args(["--apply", "--kubectl"])
            .arg(&self.kubectl)
            .args(extra)
            .env("FAKE_KUBECTL_STATE", &self.state);
        for (k, v) in env {
            c.env(k, v);
        }
        run(c)
    }

    /// The stand-in's call log, one call per line.
    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.state.with_extension("json.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

/// A call's verb as the test reads the order: `apply[kinds]`, `established`, `rollout NAME`,
/// `ready RESOURCE`, `get`.
fn verb(call: &str) -> String {
    if let Some((_, objects)) = call.split_once(" :: ") {
        let mut kinds: Vec<&str> = objects
            .split(' ')
            .map(|o| o.split('/').next().unwrap())
            .collect();
        kinds.sort();
        kinds.dedup();
        format!("apply[{}]", kinds.join(","))
    } else if call.contains("--for=condition=Established") {
        "established".into()
    } else if call.contains("rollout status") {
        format!(
            "rollout {}",
            call.split("deployment/")
                .nth(1)
                .unwrap()
                .split(' ')
                .next()
                .unwrap()
        )
    } else if call.contains("--for=condition=Ready") {
        format!("ready {}", call.rsplit(' ').next().unwrap())
    } else {
        call.split(' ')
            .find(|w| *w == "get")
            .unwrap_or(call)
            .to_string()
    }
}

#[test]
fn bootstrap_apply_goes_in_stages_and_waits() {
    let f = fixture();
    let r = f.apply(&["--timeout", "2m"], &[]);
    assert!(r.status.success(), "{}", r.stderr);
    let calls = f.calls();
    let verbs: Vec<String> = calls.iter().map(|c| verb(c)).collect();
    assert_eq!(
        verbs,
        [
            "apply[CustomResourceDefinition,Namespace]",
            "established",
            "apply[ClusterRole,ClusterRoleBinding,Deployment,NetworkPolicy,ResourceQuota,Service,ServiceAccount]",
            "rollout helm-controller",
            "rollout kustomize-controller",
            "rollout notification-controller",
            "rollout source-controller",
            "apply[GitRepository,Kustomization,Secret]",
            "ready gitrepositories.source.toolkit.fluxcd.io/flux-system",
            "ready kustomizations.kustomize.toolkit.fluxcd.io/flux-system",
        ],
        "{calls:#?}"
    );
    // Every CRD of the install is waited for, with the timeout given.
    let established = &calls[1];
    assert_eq!(established.matches(" crd/").count(), 11, "{established}");
    assert!(established.contains("--timeout=120s"), "{established}");
    assert!(calls
        .iter()
        .all(|c| !c.starts_with("apply") || c.contains("--server-side")));
    // The third apply carries both secrets, by name only.
    assert!(
        calls[7].contains("Secret/flux-system/sops-age"),
        "{}",
        calls[7]
    );
    assert!(
        calls[7].contains("Secret/flux-system/flux-system"),
        "{}",
        calls[7]
    );
    let age_key = std::fs::read_to_string(&f.key).unwrap();
    let secret = age_key
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .unwrap();
    let state = std::fs::read_to_string(&f.state).unwrap();
    assert!(!state.contains(secret) && !calls.concat().contains(secret));
    // Progress on stderr, stage by stage; nothing on stdout.
    for want in [
        "applied stage crds",
        "11 CustomResourceDefinitions ready",
        "deployment/source-controller ready",
        "applied stage sync",
        "gitrepositories.source.toolkit.fluxcd.io/flux-system ready",
    ] {
        assert!(r.stderr.contains(want), "{want}:\n{}", r.stderr);
    }
    assert!(r.stdout.is_empty(), "{}", r.stdout);

    // Running it again on the bootstrapped cluster is harmless.
    let again = f.apply(&[], &[]);
    assert!(again.status.success(), "{}", again.stderr);
    assert_eq!(f.calls().len(), 2 * calls.len());
}

#[test]
fn bootstrap_apply_fails_with_the_controllers_own_message() {
    let f = fixture();
    let msg = "failed to checkout and determine revision: unable to clone 'ssh://git@github.com/example/mc': ssh: handshake failed";
    let r = f
        .apply(
            &[],
            &[
                (
                    "FAKE_KUBECTL_NOT_READY",
                    "gitrepositories.source.toolkit.fluxcd.io/flux-system",
                ),
                ("FAKE_KUBECTL_MESSAGE", msg),
            ],
        )
        .fails_with(2);
    assert!(
        r.stderr.contains(
            "bootstrap stage sync: gitrepositories.source.toolkit.fluxcd.io/flux-system not ready after 300s"
        ),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains(&format!("Ready=False (GitOperationFailed): {msg}")),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("help: ") && r.stderr.contains("--timeout"),
        "{}",
        r.stderr
    );
    // It stopped there: the Kustomization was not waited for.
    let verbs: Vec<String> = f.calls().iter().map(|c| verb(c)).collect();
    assert_eq!(verbs.last().map(String::as_str), Some("get"), "{verbs:?}");
    assert!(!verbs.iter().any(|v| v.starts_with("ready kustomizations")));

    // A controller that does not roll out stops the bootstrap before the secrets go in.
    let g = fixture();
    let r = g
        .apply(
            &[],
            &[("FAKE_KUBECTL_ROLLOUT_FAIL", "kustomize-controller")],
        )
        .fails_with(2);
    assert!(
        r.stderr
            .contains("bootstrap stage controllers: deployment/kustomize-controller not ready"),
        "{}",
        r.stderr
    );
    assert!(!g.calls().iter().any(|c| c.contains("Secret/")));
}

#[test]
fn bootstrap_apply_wait_false_waits_only_for_the_crds() {
    let f = fixture();
    let r = f.apply(&["--wait=false"], &[]);
    assert!(r.status.success(), "{}", r.stderr);
    let verbs: Vec<String> = f.calls().iter().map(|c| verb(c)).collect();
    assert_eq!(
        verbs,
        [
            "apply[CustomResourceDefinition,Namespace]",
            "established",
            "apply[ClusterRole,ClusterRoleBinding,Deployment,NetworkPolicy,ResourceQuota,Service,ServiceAccount]",
            "apply[GitRepository,Kustomization,Secret]",
        ]
    );
}

/// The stand-in must be able to fail the old one-shot apply, or the tests above prove
/// nothing: everything in one `kubectl apply` is refused on a fresh cluster.
#[test]
fn stand_in_refuses_custom_objects_before_their_crd_is_established() {
    let f = fixture();
    let mut c = f.t.mcb();
    c.arg("--repo")
        .arg(&f.repo)
        .args(["bootstrap", "demo", "--age-key-file"])
        .arg(&f.key);
    let all = run(c).ok().stdout;
    let input = f.t.path().join("all.yaml");
    std::fs::write(&input, all).unwrap();
    let r = std::process::Command::new(&f.kubectl)
        .args(["apply", "--server-side", "-f", "-"])
        .env("FAKE_KUBECTL_STATE", &f.state)
        .stdin(std::fs::File::open(&input).unwrap())
        .output()
        .unwrap();
    assert!(!r.status.success());
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(
        stderr.contains("ensure CRDs are installed first"),
        "{stderr}"
    );
}

#[test]
fn bootstrap_out_writes_one_kustomize_dir_per_stage_and_a_readme() {
    let f = fixture();
    let dir = f.t.path().join("bootstrap");
    let mut c = f.t.mcb();
    c.arg("--repo")
        .arg(&f.repo)
        .args(["bootstrap", "demo", "--age-key-file"])
        .arg(&f.key)
        .arg("--out")
        .arg(&dir);
    run(c).ok();
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    let order: Vec<usize> = ["01-crds/", "02-controllers/", "03-sync/"]
        .iter()
        .map(|d| readme.find(d).unwrap_or_else(|| panic!("{d}:\n{readme}")))
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{readme}");
    assert!(
        readme.contains("kubectl wait --for=condition=Established"),
        "{readme}"
    );
    assert!(
        readme.contains("rollout status deployment/source-controller"),
        "{readme}"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir.join("03-sync/sops-age.yaml")), 0o600);
    assert_eq!(mode(&dir.join("03-sync/git-auth.yaml")), 0o600);
    for stage in ["01-crds", "02-controllers", "03-sync"] {
        let mut c = f.t.command(tool("kubectl"));
        c.arg("kustomize").arg(dir.join(stage));
        let built = run(c).ok().stdout;
        assert!(built.contains("kind:"), "{stage}");
    }
    // With --suspend-cluster the suspend stage comes before the sync, which moves the key.
    let dir = f.t.path().join("pivot");
    let mut c = f.t.mcb();
    c.arg("--repo")
        .arg(&f.repo)
        .args(["bootstrap", "demo", "--suspend-cluster", "--age-key-file"])
        .arg(&f.key)
        .arg("--out")
        .arg(&dir);
    run(c).ok();
    assert!(dir.join("03-suspend/cluster-suspended.yaml").is_file());
    assert_eq!(mode(&dir.join("04-sync/sops-age.yaml")), 0o600);
}

/// Issue #24 item 7: `--context` as kubectl and flux have it, on every kubectl call.
#[test]
fn issue_24_bootstrap_apply_uses_the_context_given() {
    let f = fixture();
    f.apply(&["--context", "mgmt"], &[]).ok();
    let calls = f.calls();
    assert!(!calls.is_empty());
    for c in &calls {
        assert!(c.contains("--context mgmt"), "{c}");
    }
}
