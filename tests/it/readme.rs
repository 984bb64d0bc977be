//! The README's walk-through, run as written (issue #24): each command below is first
//! found verbatim in README.md, then run by `sh -c` in a sealed HOME, with mcb, the Go
//! sops and a recording kubectl stand-in on PATH (no API server can run here; see
//! tests/support/tools/fake-kubectl.py). The only additions are the test's: the spec edits
//! the README asks for, a local bare `origin`, and step 2's flags aimed at the fake GitHub
//! (wiremock serving GitHub's example payloads), since there is no real GitHub here.

use std::path::{Path, PathBuf};

use crate::support::github::Fake;
use crate::support::{run, tool, Run, TestEnv};

fn readme() -> String {
    std::fs::read_to_string(crate::support::root().join("README.md")).unwrap()
}

/// Runs `cmd` (which must be in the README, as written) with `sh -c` in `dir`, `extra`
/// appended as arguments, with `env` set.
fn step(
    t: &TestEnv,
    path: &str,
    dir: &Path,
    cmd: &str,
    extra: &[String],
    env: &[(&str, &Path)],
) -> Run {
    assert!(readme().contains(cmd), "the README no longer says: {cmd}");
    let mut c = t.command("sh");
    c.current_dir(dir)
        .env("PATH", path)
        .arg("-c")
        .arg(format!("{cmd} \"$@\""))
        .arg("sh")
        .args(extra);
    for (k, v) in env {
        c.env(k, v);
    }
    run(c)
}

#[test]
fn issue_24_the_readme_walk_through_runs_as_written() {
    let t = TestEnv::new();
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_mcb"));
    let kubectl_dir = t.path().join("bin");
    std::fs::create_dir_all(&kubectl_dir).unwrap();
    std::fs::rename(
        crate::bootstrap::fake_kubectl(&t),
        kubectl_dir.join("kubectl"),
    )
    .unwrap();
    let path = std::env::join_paths(
        [
            bin.parent().unwrap().to_path_buf(),
            tool("sops").parent().unwrap().to_path_buf(),
            kubectl_dir,
        ]
        .into_iter()
        .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
    )
    .unwrap();
    let path = path.to_str().unwrap();
    let top = t.path();
    let repo = top.join("config-repo");

    // 0. A config repo and the spec.
    step(&t, path, top, r#"git init -b main config-repo && cd config-repo && git commit --allow-empty -m "config repo""#, &[], &[]).ok();
    step(&t, path, &repo, "mcb example-spec > ../demo.yaml", &[], &[]).ok();
    // "edit: name, …, sops.recipients": the team's own age key instead of the placeholder.
    let team = t.path().join("team.agekey");
    let mut kg = t.command("age-keygen");
    kg.arg("-o").arg(&team);
    run(kg).ok();
    let team_recipient = std::fs::read_to_string(&team)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("# public key: ").map(str::to_owned))
        .unwrap();
    let spec = std::fs::read_to_string(top.join("demo.yaml"))
        .unwrap()
        .replace("name: gauss", "name: demo")
        .replace(mcb::spec::EXAMPLE_ADMIN_RECIPIENT, &team_recipient);
    std::fs::write(top.join("demo.yaml"), spec).unwrap();

    // 1. Create the installation; check it with the Go sops.
    let r = step(
        &t,
        path,
        &repo,
        "mcb init-installation demo --spec ../demo.yaml --age-key-out ~/keys/demo.agekey",
        &[],
        &[],
    )
    .ok();
    assert!(
        !r.stderr.contains("NOBODY"),
        "an edited spec does not warn:\n{}",
        r.stderr
    );
    assert!(t.home().join("keys/demo.agekey").is_file());
    let r = step(&t, path, &repo, "SOPS_AGE_KEY_FILE=~/keys/demo.agekey sops decrypt installations/demo/secrets/demo-ca.sops.yaml", &[], &[]).ok();
    assert!(r.stdout.contains("tls.key"), "{}", r.stdout);

    // 2. Push and open the PR (a local bare origin; the fake GitHub's flags appended).
    let origin = top.join("origin.git");
    let mut c = t.command("git");
    c.args(["init", "-q", "--bare", "-b", "main"]).arg(&origin);
    run(c).ok();
    let mut c = t.command("git");
    c.current_dir(&repo)
        .args(["remote", "add", "origin"])
        .arg(format!("file://{}", origin.display()));
    run(c).ok();
    let fake = Fake::accepting_a_new_pull_request();
    let r = step(
        &t,
        path,
        &repo,
        "mcb init-installation demo --spec ../demo.yaml --push --pr",
        &fake.aim(),
        &[("GITHUB_TOKEN", Path::new(crate::support::github::TOKEN))],
    )
    .ok();
    assert!(r.stdout.contains("pull request:"), "{}", r.stdout);
    assert_eq!(fake.the_created_pull_request()["head"], "mcb/init-demo");

    // 3. After the merge, on the new cluster (here: the kubectl stand-in).
    std::fs::write(repo.join("bootstrap.kubeconfig"), "").unwrap();
    let r = step(
        &t,
        path,
        &repo,
        "mcb bootstrap demo --age-key-file ~/keys/demo.agekey --apply --kubeconfig bootstrap.kubeconfig",
        &[],
        &[("FAKE_KUBECTL_STATE", &top.join("cluster.json"))],
    )
    .ok();
    assert!(
        r.stderr.contains("Flux takes over from Git"),
        "{}",
        r.stderr
    );

    // 4. Day 2.
    step(&t, path, &repo, "mcb render --check", &[], &[]).ok();
    step(
        &t,
        path,
        &repo,
        "mcb kubeconfig demo --age-key-file ~/keys/demo.agekey > admin.kubeconfig",
        &[],
        &[],
    )
    .ok();
    let kubeconfig = std::fs::read_to_string(repo.join("admin.kubeconfig")).unwrap();
    assert!(kubeconfig.contains("kind: Config"), "{kubeconfig}");
    // The key is found without the flag too (README, "Keys").
    let r = step(
        &t,
        path,
        &repo,
        "mcb kubeconfig demo",
        &[],
        &[("SOPS_AGE_KEY_FILE", &t.home().join("keys/demo.agekey"))],
    )
    .ok();
    assert_eq!(r.stdout, kubeconfig);
}
