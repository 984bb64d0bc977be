//! The age key is never lost and interrupted runs are settled (issue #15 items 1 and 5):
//! `init-installation` and `rotate` against real faults (a key path under a file, a stale
//! `.git/index.lock`, a failure or SIGKILL right after the commit, SIGKILL at seeded random
//! points of the real binary), each asserting the repo is unchanged, or fully committed
//! with a key file that decrypts the committed secrets (with the real Go sops).

use std::path::{Path, PathBuf};

use crate::init::{config_repo, git, go_sops_decrypt, init, init_cmd};
use crate::support::{run, Run, TestEnv};

const INIT_BRANCH: &str = "mcb/init-demo";
const CA_FILE: &str = "installations/demo/secrets/demo-ca.sops.yaml";

/// The refs, HEAD and `git status` of a repo: what "unchanged" compares.
fn repo_state(t: &TestEnv, repo: &Path) -> (String, String, String) {
    (
        git(
            t,
            repo,
            &["for-each-ref", "--format=%(refname) %(objectname)"],
        ),
        head(t, repo),
        git(t, repo, &["status", "--porcelain", "--ignored"]),
    )
}

/// `ref: refs/heads/x` or the detached commit id.
fn head(t: &TestEnv, repo: &Path) -> String {
    let at = std::fs::read_to_string(repo.join(".git/HEAD")).unwrap();
    format!(
        "{} {}",
        at.trim(),
        git(t, repo, &["rev-parse", "HEAD"]).trim()
    )
}

fn tip(t: &TestEnv, repo: &Path, branch: &str) -> Option<String> {
    let mut c = t.command("git");
    c.arg("-C").arg(repo).args([
        "rev-parse",
        "--verify",
        "-q",
        &format!("refs/heads/{branch}"),
    ]);
    let r = run(c);
    r.status.success().then(|| r.stdout.trim().to_owned())
}

/// The Go sops opens `path` as committed on `branch` with only `key`.
fn committed_file_decrypts(t: &TestEnv, repo: &Path, branch: &str, path: &str, key: &Path) {
    let text = git(t, repo, &["show", &format!("{branch}:{path}")]);
    let dir = tempfile::tempdir_in(t.path()).unwrap();
    let file = dir.path().join("committed.sops.yaml");
    std::fs::write(&file, text + "\n").unwrap();
    let r = go_sops_decrypt(t, &file, key);
    assert!(
        r.status.success(),
        "{key:?} does not open {path} on {branch}: {}",
        r.stderr
    );
}

fn no_temp_files(dir: &Path) {
    fn walk(d: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if name == ".git" {
                continue;
            }
            if name.starts_with(".mcb-") {
                out.push(p.clone());
            }
            if p.is_dir() {
                walk(&p, out);
            }
        }
    }
    let mut found = Vec::new();
    walk(dir, &mut found);
    assert!(found.is_empty(), "temp files left: {found:?}");
}

#[test]
fn issue_15_init_key_out_under_a_file_commits_nothing() {
    let t = TestEnv::new();
    let repo = config_repo(&t);
    std::fs::write(t.path().join("notadir"), "a file\n").unwrap();
    let before = repo_state(&t, &repo);
    let bad = t.path().join("notadir/k.agekey");
    let r = init(&t, &repo, &bad, &[]).fails_with(2);
    assert!(r.stderr.contains("notadir"), "{}", r.stderr);
    assert_eq!(
        repo_state(&t, &repo),
        before,
        "nothing committed: {}",
        r.stderr
    );
    assert_eq!(tip(&t, &repo, INIT_BRANCH), None);
    // the re-run with a usable path completes
    let key = t.path().join("demo.agekey");
    init(&t, &repo, &key, &[]).ok();
    committed_file_decrypts(&t, &repo, INIT_BRANCH, CA_FILE, &key);
}

#[test]
fn issue_15_init_with_a_stale_index_lock_commits_nothing() {
    let t = TestEnv::new();
    let repo = config_repo(&t);
    let lock = repo.join(".git/index.lock");
    std::fs::write(&lock, "").unwrap();
    let before = repo_state(&t, &repo);
    let key = t.path().join("demo.agekey");
    let r = init(&t, &repo, &key, &[]).fails_with(2);
    assert!(r.stderr.contains("index.lock"), "{}", r.stderr);
    assert!(r.stderr.contains("help: "), "{}", r.stderr);
    assert_eq!(repo_state(&t, &repo), before);
    assert!(!key.exists(), "a key for nothing committed");
    std::fs::remove_file(&lock).unwrap();
    init(&t, &repo, &key, &[]).ok();
    assert_eq!(git(&t, &repo, &["status", "--porcelain"]), "");
}

/// A failure after the ref moved (the failpoint stands in for an index write that fails
/// after the commit) keeps commit and key and restores nothing; the next run finishes.
#[test]
fn issue_15_init_failing_right_after_the_commit_keeps_commit_and_key() {
    let t = TestEnv::new();
    let repo = config_repo(&t);
    let key = t.path().join("demo.agekey");
    let mut c = init_cmd(&t, &repo, &key, &[]);
    c.env("MCB_TEST_FAIL_AFTER", "commit");
    let r = run(c).fails_with(2);
    assert!(r.stderr.contains("committed"), "{}", r.stderr);
    assert!(tip(&t, &repo, INIT_BRANCH).is_some());
    committed_file_decrypts(&t, &repo, INIT_BRANCH, CA_FILE, &key);
    // nothing restored, nothing staged against the commit
    assert!(!git(&t, &repo, &["diff", "--cached", "--name-only"]).contains("installations"));

    // The next run finishes the checkout and says what to do next.
    let r = init(&t, &repo, &t.path().join("other.agekey"), &[]).fails_with(2);
    assert!(
        r.stderr.contains("interrupted mcb run was finished"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("mcb publish mcb/init-demo"),
        "{}",
        r.stderr
    );
    assert_eq!(
        git(&t, &repo, &["branch", "--show-current"]).trim(),
        INIT_BRANCH
    );
    assert_eq!(git(&t, &repo, &["status", "--porcelain", "--ignored"]), "");
    assert!(repo.join(CA_FILE).exists());
    assert!(!repo.join(".git/mcb-transaction.json").exists());
    // and the run after that names the one command that publishes it
    let r = init(&t, &repo, &t.path().join("other.agekey"), &[]).fails_with(2);
    assert!(
        r.stderr.contains("mcb publish mcb/init-demo"),
        "{}",
        r.stderr
    );
}

#[test]
fn issue_15_init_killed_right_after_the_commit_leaves_commit_and_key() {
    let t = TestEnv::new();
    let repo = config_repo(&t);
    let key = t.path().join("demo.agekey");
    let mut c = init_cmd(&t, &repo, &key, &[]);
    c.env("MCB_TEST_KILL_AFTER", "commit");
    let r = run(c);
    assert_eq!(r.status.code(), None, "killed by a signal: {}", r.stderr);
    assert!(tip(&t, &repo, INIT_BRANCH).is_some());
    committed_file_decrypts(&t, &repo, INIT_BRANCH, CA_FILE, &key);
    let r = init(&t, &repo, &t.path().join("other.agekey"), &[]).fails_with(2);
    assert!(
        r.stderr.contains("interrupted mcb run was finished"),
        "{}",
        r.stderr
    );
    assert_eq!(git(&t, &repo, &["status", "--porcelain", "--ignored"]), "");
    no_temp_files(&repo);
}

/// A kill while libgit2 writes the index (after the commit) leaves `.git/index.lock`
/// behind, newer than the journal: the next run knows the lock is the dead run's own,
/// removes it and finishes. (The seeded kill loop below hit this about once in six runs;
/// here the lock is made by hand right after a kill at the commit point.) A lock older
/// than the journal is not the run's: it stays and the error names the command.
#[test]
fn issue_15_init_killed_while_writing_the_index_is_finished_by_the_next_run() {
    for own in [true, false] {
        let t = TestEnv::new();
        let repo = config_repo(&t);
        let key = t.path().join("demo.agekey");
        let mut c = init_cmd(&t, &repo, &key, &[]);
        c.env("MCB_TEST_KILL_AFTER", "commit");
        assert_eq!(run(c).status.code(), None, "killed by a signal");
        let lock = repo.join(".git/index.lock");
        std::fs::write(&lock, "").unwrap();
        if !own {
            let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
            std::fs::File::options()
                .write(true)
                .open(&lock)
                .unwrap()
                .set_modified(old)
                .unwrap();
        }
        let r = init(&t, &repo, &t.path().join("other.agekey"), &[]).fails_with(2);
        if own {
            assert!(
                r.stderr.contains("interrupted mcb run was finished"),
                "{}",
                r.stderr
            );
            assert!(!lock.exists(), "the dead run's lock is removed");
            assert_eq!(git(&t, &repo, &["status", "--porcelain", "--ignored"]), "");
        } else {
            assert!(r.stderr.contains("index.lock"), "{}", r.stderr);
            assert!(
                lock.exists(),
                "a lock older than the run is not mcb's to remove"
            );
        }
    }
}

/// A kill while git moves the branch's ref (the commit point) leaves
/// `refs/heads/<branch>.lock` and the ref unmoved: the next run removes the dead run's
/// lock, rolls back and completes. (The seeded rotate kill loop hit this; here the lock is
/// made by hand after a kill just before the commit.)
#[test]
fn issue_15_init_killed_while_moving_its_branch_is_rolled_back_by_the_next_run() {
    let t = TestEnv::new();
    let repo = config_repo(&t);
    let key = t.path().join("demo.agekey");
    let mut c = init_cmd(&t, &repo, &key, &[]);
    c.env("MCB_TEST_KILL_AFTER", "key");
    assert_eq!(run(c).status.code(), None, "killed by a signal");
    let lock = repo.join(format!(".git/refs/heads/{INIT_BRANCH}.lock"));
    std::fs::create_dir_all(lock.parent().unwrap()).unwrap();
    std::fs::write(&lock, "").unwrap();
    let r = init(&t, &repo, &key, &[]).ok();
    assert!(r.stderr.contains("rolled back"), "{}", r.stderr);
    assert!(!lock.exists(), "the dead run's lock is removed");
    committed_file_decrypts(&t, &repo, INIT_BRANCH, CA_FILE, &key);
}

/// `git checkout --detach`, then a failure before the commit: HEAD stays detached where
/// it was; a successful run leaves the new branch checked out.
#[test]
fn issue_15_init_from_a_detached_head_returns_there_on_failure() {
    let t = TestEnv::new();
    let repo = config_repo(&t);
    git(&t, &repo, &["checkout", "-q", "-b", "release"]);
    git(
        &t,
        &repo,
        &["commit", "-q", "--allow-empty", "-m", "release"],
    );
    git(&t, &repo, &["checkout", "-q", "--detach", "main"]);
    let before = repo_state(&t, &repo);
    for step in ["branch", "plan", "key", "apply"] {
        let key = t.path().join("demo.agekey");
        let mut c = init_cmd(&t, &repo, &key, &[]);
        c.env("MCB_TEST_FAIL_AFTER", step);
        run(c).fails_with(2);
        assert_eq!(repo_state(&t, &repo), before, "{step}");
        assert!(!key.exists(), "{step}");
    }
    // with --base the branch is checked out before the plan; a failure still returns
    let key = t.path().join("demo.agekey");
    let mut c = init_cmd(&t, &repo, &key, &["--base", "release"]);
    c.env("MCB_TEST_FAIL_AFTER", "apply");
    run(c).fails_with(2);
    assert_eq!(repo_state(&t, &repo), before, "--base");
    init(&t, &repo, &key, &[]).ok();
    assert_eq!(
        git(&t, &repo, &["branch", "--show-current"]).trim(),
        INIT_BRANCH
    );
}

/// The installation `demo` committed on its init branch, and its key.
fn installation(t: &TestEnv) -> (PathBuf, PathBuf) {
    let repo = config_repo(t);
    let key = t.path().join("demo.agekey");
    init(t, &repo, &key, &[]).ok();
    crate::rotate::merge_locally(t, &repo, "mcb/init-demo");
    (repo, key)
}

/// `mcb rotate demo --only age-key` (step 1) with the current key, the new key to `out`.
fn rotate_age_key(t: &TestEnv, repo: &Path, key: &Path, out: &Path) -> std::process::Command {
    let mut c = t.mcb();
    c.env("MCB_INSECURE_TEST_SEED", "43")
        .arg("--repo")
        .arg(repo)
        .args(["rotate", "demo", "--only", "age-key", "--age-key-file"])
        .arg(key)
        .arg("--age-key-out")
        .arg(out);
    c
}

const ROTATE_BRANCH: &str = "mcb/rotate-demo-age-key";

#[test]
fn issue_15_rotate_age_key_out_under_a_file_commits_nothing() {
    let t = TestEnv::new();
    let (repo, key) = installation(&t);
    std::fs::write(t.path().join("notadir"), "a file\n").unwrap();
    let before = repo_state(&t, &repo);
    let r = run(rotate_age_key(
        &t,
        &repo,
        &key,
        &t.path().join("notadir/next.agekey"),
    ))
    .fails_with(2);
    assert!(r.stderr.contains("notadir"), "{}", r.stderr);
    assert_eq!(repo_state(&t, &repo), before, "{}", r.stderr);
    let next = t.path().join("next.agekey");
    run(rotate_age_key(&t, &repo, &key, &next)).ok();
    committed_file_decrypts(&t, &repo, ROTATE_BRANCH, CA_FILE, &next);
}

/// The old code kept the commit, reverted the tree and left staged changes that undo the
/// rotation; now nothing is committed and the index is as it was.
#[test]
fn issue_15_rotate_with_a_stale_index_lock_changes_nothing() {
    let t = TestEnv::new();
    let (repo, key) = installation(&t);
    let lock = repo.join(".git/index.lock");
    std::fs::write(&lock, "").unwrap();
    let before = repo_state(&t, &repo);
    let next = t.path().join("next.agekey");
    let r = run(rotate_age_key(&t, &repo, &key, &next)).fails_with(2);
    assert!(r.stderr.contains("index.lock"), "{}", r.stderr);
    assert_eq!(repo_state(&t, &repo), before);
    assert!(!next.exists());
    std::fs::remove_file(&lock).unwrap();
    assert_eq!(
        git(&t, &repo, &["status", "--porcelain"]),
        "",
        "nothing staged"
    );
}

/// What a run left, as the crash loop classifies it.
fn assert_settled_or_committed(
    t: &TestEnv,
    repo: &Path,
    before: &(String, String, String),
    branch: &str,
    tip_before: Option<&str>,
    key: &Path,
    label: &str,
) -> bool {
    let now = tip(t, repo, branch);
    if now.as_deref() == tip_before {
        // not committed: refs and HEAD unchanged (the work tree too, but a temp file)
        let state = repo_state(t, repo);
        assert_eq!((&state.0, &state.1), (&before.0, &before.1), "{label}");
        false
    } else {
        // committed: the key is there and opens what was committed
        assert!(key.exists(), "{label}: committed without its key");
        committed_file_decrypts(t, repo, branch, CA_FILE, key);
        true
    }
}

/// Kills `c` at the failpoint `step`, or after `delay_ms` when `step` is None.
fn run_killed(mut c: std::process::Command, step: Option<&str>, delay_ms: u64) -> Option<Run> {
    match step {
        Some(s) => {
            c.env("MCB_TEST_KILL_AFTER", s);
            Some(run(c))
        }
        None => {
            c.stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null());
            let mut child = c.spawn().unwrap();
            std::thread::sleep(std::time::Duration::from_millis(delay_ms));
            let _ = child.kill(); // SIGKILL
            child.wait().unwrap();
            None
        }
    }
}

/// A small seeded generator (xorshift), so a failing run is reproducible from its seed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const INIT_STEPS: &[&str] = &[
    "credentials",
    "branch",
    "plan",
    "key",
    "apply",
    "commit",
    "checkout",
];
const RUNS: u64 = 30;

/// `cp -a` of a prepared temp dir, so each run starts from the same repo.
fn copy_env(from: &TestEnv) -> TestEnv {
    let t = TestEnv::new();
    let mut c = t.command("cp");
    c.arg("-a")
        .arg(format!("{}/.", from.path().display()))
        .arg(t.path());
    run(c).ok();
    t
}

#[test]
fn issue_15_init_killed_at_random_points_is_unchanged_or_committed_with_its_key() {
    let seed: u64 = std::env::var("MCB_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_0015);
    let mut rng = Rng(seed);
    // How long a whole run takes here: the range random kills are drawn from.
    let base = TestEnv::new();
    config_repo(&base);
    let probe = copy_env(&base);
    let started = std::time::Instant::now();
    init(
        &probe,
        &probe.path().join("repo"),
        &probe.path().join("k"),
        &[],
    )
    .ok();
    let full_ms = started.elapsed().as_millis() as u64 + 1;
    let mut committed_runs = 0;
    for i in 0..RUNS {
        let t = copy_env(&base);
        let repo = t.path().join("repo");
        let key = t.path().join("demo.agekey");
        let before = repo_state(&t, &repo);
        let step =
            (rng.below(2) == 0).then(|| INIT_STEPS[rng.below(INIT_STEPS.len() as u64) as usize]);
        let delay = rng.below(full_ms);
        let label = format!("seed {seed:#x} run {i}: step {step:?} delay {delay}ms");
        let c = init_cmd(&t, &repo, &key, &[]);
        run_killed(c, step, delay);
        let committed =
            assert_settled_or_committed(&t, &repo, &before, INIT_BRANCH, None, &key, &label);
        committed_runs += usize::from(committed);
        // The next run settles it: it completes, or says the interrupted run was finished
        // (or that the installation waits on its branch) and what to do.
        let r = init(&t, &repo, &key, &[]);
        if r.status.success() {
            assert!(!committed, "{label}: a second commit");
        } else {
            assert!(committed, "{label}: re-run failed: {}", r.stderr);
            assert!(
                r.stderr.contains("mcb publish mcb/init-demo"),
                "{label}: {}",
                r.stderr
            );
        }
        assert_eq!(
            git(&t, &repo, &["branch", "--show-current"]).trim(),
            INIT_BRANCH,
            "{label}"
        );
        assert_eq!(
            git(&t, &repo, &["status", "--porcelain", "--ignored"]),
            "",
            "{label}"
        );
        assert!(!repo.join(".git/mcb-transaction.json").exists(), "{label}");
        committed_file_decrypts(&t, &repo, INIT_BRANCH, CA_FILE, &key);
        no_temp_files(&repo);
        no_temp_files(t.path());
    }
    eprintln!("{committed_runs} of {RUNS} killed runs had committed");
}

#[test]
fn issue_15_rotate_killed_at_random_points_is_unchanged_or_committed_with_its_key() {
    let seed: u64 = std::env::var("MCB_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_0024);
    let mut rng = Rng(seed);
    let base = TestEnv::new();
    installation(&base);
    let steps = &INIT_STEPS[1..];
    let probe = copy_env(&base);
    let started = std::time::Instant::now();
    let (pr, pk) = (probe.path().join("repo"), probe.path().join("demo.agekey"));
    run(rotate_age_key(&probe, &pr, &pk, &probe.path().join("n"))).ok();
    let full_ms = started.elapsed().as_millis() as u64 + 1;
    for i in 0..RUNS {
        let t = copy_env(&base);
        let repo = t.path().join("repo");
        let (key, next) = (t.path().join("demo.agekey"), t.path().join("next.agekey"));
        let before = repo_state(&t, &repo);
        let step = (rng.below(2) == 0).then(|| steps[rng.below(steps.len() as u64) as usize]);
        let delay = rng.below(full_ms);
        let label = format!("seed {seed:#x} run {i}: step {step:?} delay {delay}ms");
        run_killed(rotate_age_key(&t, &repo, &key, &next), step, delay);
        let committed =
            assert_settled_or_committed(&t, &repo, &before, ROTATE_BRANCH, None, &next, &label);
        let journal = repo.join(".git/mcb-transaction.json").exists();
        if !committed {
            // the next run rolls back what is left and completes step 1
            run(rotate_age_key(&t, &repo, &key, &next)).ok();
        } else if journal {
            // the next run finishes the checkout and makes no second change
            let tip_now = tip(&t, &repo, ROTATE_BRANCH);
            let again = t.path().join("again.agekey");
            let r = run(rotate_age_key(&t, &repo, &key, &again)).fails_with(2);
            assert!(
                r.stderr.contains("interrupted mcb run was finished"),
                "{label}: {}",
                r.stderr
            );
            assert_eq!(
                tip(&t, &repo, ROTATE_BRANCH),
                tip_now,
                "{label}: a second change"
            );
        }
        // (committed and no journal: the run had finished before the kill)
        assert_eq!(
            git(&t, &repo, &["branch", "--show-current"]).trim(),
            ROTATE_BRANCH,
            "{label}"
        );
        assert_eq!(
            git(&t, &repo, &["status", "--porcelain", "--ignored"]),
            "",
            "{label}"
        );
        committed_file_decrypts(&t, &repo, ROTATE_BRANCH, CA_FILE, &next);
        // the old key still opens it (step 1 keeps both)
        committed_file_decrypts(&t, &repo, ROTATE_BRANCH, CA_FILE, &key);
        no_temp_files(&repo);
        no_temp_files(t.path());
    }
}
