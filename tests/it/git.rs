//! `mcb::git` against real git remotes on loopback: a bare repo over file://, git smart
//! HTTP with basic auth, and git over SSH to a throwaway sshd. The system `git` is the
//! oracle for what was committed and pushed.

use std::path::{Path, PathBuf};
use std::sync::Once;

use mcb::git::{Author, CommitRequest, ConfigRepo, Error, PushAuth, PushOptions};
use mcb::Help;
use secrecy::SecretString;

use crate::support::{fixtures, run, Service, TestEnv};

pub(crate) const OWNED: &[&str] = &["installations/prod/", ".sops.yaml"];
pub(crate) const BRANCH: &str = "mcb/init-prod";

/// libgit2 in this process must not read the developer's ~/.gitconfig (user.name, url
/// rewrites): point its global/XDG/system search paths at an empty directory.
fn seal_libgit2() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let empty = std::env::temp_dir().join("mcb-it-empty-gitconfig");
        std::fs::create_dir_all(&empty).unwrap();
        for level in [
            git2::ConfigLevel::Global,
            git2::ConfigLevel::XDG,
            git2::ConfigLevel::System,
        ] {
            // SAFETY: called once, before any test in this binary opens a repository here.
            unsafe { git2::opts::set_search_path(level, empty.as_os_str()).unwrap() };
        }
    });
}

fn env() -> mcb::Env {
    mcb::Env::seeded(1, time::macros::datetime!(2026-11-25 12:00:00 UTC))
}

/// A test fixture: a work tree with one commit on main and a sealed `git`.
pub(crate) struct Fx {
    pub(crate) te: TestEnv,
    pub(crate) work: PathBuf,
}

impl Fx {
    pub(crate) fn new() -> Fx {
        seal_libgit2();
        let te = TestEnv::new();
        let work = te.path().join("work");
        let fx = Fx { te, work };
        fx.git_in(fx.te.path(), &["init", "-q", "-b", "main", "work"]);
        fx.git(&["config", "user.name", "Repo User"]);
        fx.git(&["config", "user.email", "repo@example.invalid"]);
        fx.write("README.md", "config repo\n");
        fx.git(&["add", "README.md"]);
        fx.git(&["commit", "-q", "-m", "initial"]);
        fx
    }

    pub(crate) fn git_in(&self, dir: &Path, args: &[&str]) -> String {
        let mut c = self.te.command("git");
        c.current_dir(dir).args(args);
        run(c).ok().stdout.trim().to_owned()
    }

    pub(crate) fn git(&self, args: &[&str]) -> String {
        self.git_in(&self.work, args)
    }

    pub(crate) fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.work.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        PathBuf::from(rel)
    }

    /// A bare repo at `dir` and `origin` pointing at `url`.
    pub(crate) fn bare_remote(&self, dir: &Path, url: &str) {
        self.git_in(
            self.te.path(),
            &["init", "-q", "--bare", "-b", "main", dir.to_str().unwrap()],
        );
        self.git(&["remote", "add", "origin", url]);
    }

    /// Starts a git server script in `<tmp>/<sub>` and makes `origin` its repo `o/r.git`
    /// at `<url var>/o/r.git` (or `url_override`). Returns the service and the bare repo.
    pub(crate) fn served_remote(
        &self,
        script: &str,
        args: &[&str],
        url_var: &str,
        url_override: Option<&dyn Fn(&Service) -> String>,
    ) -> (Service, PathBuf) {
        let sdir = self.te.path().join(script);
        let srv = Service::start(script, &sdir, args, &[]);
        let bare = sdir.join("repos/o/r.git");
        let url = match url_override {
            Some(f) => f(&srv),
            None => format!("{}/o/r.git", srv.var(url_var)),
        };
        self.bare_remote(&bare, &url);
        (srv, bare)
    }

    pub(crate) fn file_remote(&self) -> PathBuf {
        let bare = self.te.path().join("remote.git");
        self.bare_remote(&bare, &format!("file://{}", bare.display()));
        bare
    }

    pub(crate) fn repo(&self) -> ConfigRepo {
        ConfigRepo::open(&self.work).unwrap()
    }

    /// start branch, write the two usual files, commit: the commit id.
    pub(crate) fn first_commit(&self, repo: &ConfigRepo) -> String {
        repo.start_branch(BRANCH, None, OWNED).unwrap();
        let paths = vec![
            self.write("installations/prod/installation.yaml", "name: prod\n"),
            self.write("installations/prod/secrets/ca.sops.yaml", &sops_file()),
        ];
        commit(repo, "feat(prod): create installation", &paths)
            .unwrap()
            .expect("a commit")
    }
}

fn sops_file() -> String {
    std::fs::read_to_string(fixtures().join("sops-vectors/cases/k8s_secret/k8s_secret.sops.yaml"))
        .unwrap()
}

pub(crate) fn commit(
    repo: &ConfigRepo,
    msg: &str,
    paths: &[PathBuf],
) -> Result<Option<String>, Error> {
    let req = CommitRequest {
        message: msg,
        author: None,
        paths,
    };
    Ok(repo.commit(&req, &env())?.map(|c| c.id))
}

pub(crate) fn push_opts(auth: PushAuth) -> PushOptions {
    PushOptions {
        remote: "origin".into(),
        auth,
    }
}

#[test]
fn branch_commit_push_and_rerun_over_file_remote() {
    let fx = Fx::new();
    let bare = fx.file_remote();
    // something the user staged elsewhere must not ride along
    fx.write("notes.txt", "mine\n");
    fx.git(&["add", "notes.txt"]);
    let repo = fx.repo();

    let start = repo.start_branch(BRANCH, None, OWNED).unwrap();
    assert!(start.created);
    assert_eq!(start.base.as_deref(), Some("main"));
    assert_eq!(fx.git(&["branch", "--show-current"]), BRANCH);

    let first = fx.first_commit(&repo);
    assert_eq!(
        fx.git(&["show", "--name-status", "--format=%an <%ae>|%s", "HEAD"]),
        "Repo User <repo@example.invalid>|feat(prod): create installation\n\n\
         A\tinstallations/prod/installation.yaml\nA\tinstallations/prod/secrets/ca.sops.yaml"
    );
    // committed with the injected clock
    assert_eq!(fx.git(&["log", "-1", "--format=%at"]), "1795608000");
    // the user's staged file is still staged, ours are clean
    assert_eq!(fx.git(&["status", "--porcelain"]), "A  notes.txt");

    let pushed = repo.push(BRANCH, &push_opts(PushAuth::default())).unwrap();
    assert_eq!(pushed.refname, format!("refs/heads/{BRANCH}"));
    let remote_head = fx.git_in(&bare, &["rev-parse", BRANCH]);
    assert_eq!(remote_head, first);

    // Re-run from main: same branch, a new commit on top, never a second branch.
    fx.git(&["checkout", "-q", "main"]);
    assert!(!fx
        .work
        .join("installations/prod/installation.yaml")
        .exists());
    let again = repo.start_branch(BRANCH, None, OWNED).unwrap();
    assert!(!again.created);
    assert_eq!(again.base.as_deref(), Some("main"), "base remembered");
    assert_eq!(fx.git(&["branch", "--show-current"]), BRANCH);
    assert!(fx
        .work
        .join("installations/prod/installation.yaml")
        .exists());
    let p = fx.write("installations/prod/installation.yaml", "name: prod\nv: 2\n");
    let second = commit(&repo, "feat(prod): update", std::slice::from_ref(&p))
        .unwrap()
        .unwrap();
    assert_eq!(fx.git(&["rev-parse", "HEAD~1"]), first);
    assert_eq!(
        commit(&repo, "feat(prod): noop", &[p]).unwrap(),
        None,
        "no empty commits"
    );
    repo.push(BRANCH, &push_opts(PushAuth::default())).unwrap();
    assert_eq!(fx.git_in(&bare, &["rev-parse", BRANCH]), second);
    assert_eq!(fx.git_in(&bare, &["branch", "--list", "mcb/*"]), BRANCH);
}

#[test]
fn deletions_are_committed_and_explicit_author_wins() {
    let fx = Fx::new();
    let repo = fx.repo();
    fx.first_commit(&repo);
    let gone = PathBuf::from("installations/prod/installation.yaml");
    std::fs::remove_file(fx.work.join(&gone)).unwrap();
    let author = Author::parse("Jane Doe <jane@example.com>").unwrap();
    let req = CommitRequest {
        message: "chore(rotate): drop spec",
        author: Some(&author),
        paths: &[gone],
    };
    repo.commit(&req, &env()).unwrap().unwrap();
    assert_eq!(
        fx.git(&["show", "--name-status", "--format=%an <%ae>", "HEAD"]),
        "Jane Doe <jane@example.com>\n\nD\tinstallations/prod/installation.yaml"
    );
    assert_eq!(fx.git(&["status", "--porcelain"]), "");
}

#[test]
fn plaintext_under_secrets_is_refused_and_nothing_committed() {
    let fx = Fx::new();
    let repo = fx.repo();
    repo.start_branch(BRANCH, None, OWNED).unwrap();
    let before = fx.git(&["rev-parse", "HEAD"]);
    let plain = fixtures().join("sops-vectors/cases/k8s_secret/k8s_secret.plain.yaml");
    let p = fx.write(
        "installations/prod/secrets/admin.sops.yaml",
        &std::fs::read_to_string(plain).unwrap(),
    );
    let ok = fx.write("installations/prod/installation.yaml", "name: prod\n");
    let e = commit(&repo, "feat(prod): x", &[ok, p]).unwrap_err();
    assert!(matches!(e, Error::PlaintextSecret { .. }), "{e}");
    assert!(
        e.to_string()
            .starts_with("installations/prod/secrets/admin.sops.yaml: refusing"),
        "{e}"
    );
    assert!(e.help().unwrap().contains("nothing was committed"));
    assert_eq!(fx.git(&["rev-parse", "HEAD"]), before);
}

#[test]
fn dirty_owned_paths_block_the_branch_but_other_changes_do_not() {
    let fx = Fx::new();
    let repo = fx.repo();
    fx.write("elsewhere.txt", "user's work in progress\n");
    fx.write("installations/prod/manual.yaml", "edited by hand\n");
    let e = repo.start_branch(BRANCH, None, OWNED).unwrap_err();
    match &e {
        Error::Dirty { files, .. } => {
            assert_eq!(files, &["installations/prod/manual.yaml".to_owned()])
        }
        other => panic!("{other}"),
    }
    assert!(e.help().unwrap().contains("stash"));
    assert_eq!(
        fx.git(&["branch", "--show-current"]),
        "main",
        "nothing switched"
    );
    std::fs::remove_file(fx.work.join("installations/prod/manual.yaml")).unwrap();
    repo.start_branch(BRANCH, None, OWNED).unwrap();
    assert!(fx.work.join("elsewhere.txt").exists());
}

#[test]
fn base_branch_and_errors_for_missing_base_repo_and_author() {
    let fx = Fx::new();
    fx.git(&["checkout", "-q", "-b", "release"]);
    let p = fx.write("release.txt", "r\n");
    fx.git(&["add", "release.txt"]);
    fx.git(&["commit", "-q", "-m", "release"]);
    fx.git(&["checkout", "-q", "main"]);
    let repo = fx.repo();

    let e = repo.start_branch(BRANCH, Some("nope"), OWNED).unwrap_err();
    assert!(matches!(e, Error::BaseNotFound { .. }), "{e}");

    let s = repo.start_branch(BRANCH, Some("release"), OWNED).unwrap();
    assert_eq!(s.base.as_deref(), Some("release"));
    assert!(
        fx.work.join(&p).exists(),
        "work tree now shows the base branch"
    );
    assert_eq!(
        fx.git(&["rev-parse", "HEAD"]),
        fx.git(&["rev-parse", "release"])
    );

    // a base that only exists as a remote-tracking branch of a non-origin remote
    fx.git(&["remote", "add", "upstream", "file:///nonexistent"]);
    let main = fx.git(&["rev-parse", "main"]);
    fx.git(&["update-ref", "refs/remotes/upstream/stable", &main]);
    let s = repo
        .start_branch("mcb/rotate-prod", Some("stable"), OWNED)
        .unwrap();
    assert_eq!(s.base.as_deref(), Some("stable"));
    assert_eq!(fx.git(&["rev-parse", "HEAD"]), main);

    let e = ConfigRepo::open(&fx.te.path().join("home")).unwrap_err();
    assert!(matches!(e, Error::NotARepo { .. }), "{e}");

    fx.git(&["config", "--unset", "user.name"]);
    let e = fx.repo().author(None).unwrap_err();
    assert!(matches!(e, Error::NoAuthor), "{e}");
    assert!(e.help().unwrap().contains("--author"));
}

#[test]
fn non_fast_forward_is_rejected_and_the_local_commit_kept() {
    let fx = Fx::new();
    let bare = fx.file_remote();
    let repo = fx.repo();
    fx.first_commit(&repo);
    repo.push(BRANCH, &push_opts(PushAuth::default())).unwrap();

    // someone else pushes to the same branch
    let other = fx.te.path().join("other");
    fx.git_in(
        fx.te.path(),
        &["clone", "-q", "-b", BRANCH, bare.to_str().unwrap(), "other"],
    );
    std::fs::write(other.join("theirs.txt"), "x\n").unwrap();
    fx.git_in(&other, &["add", "theirs.txt"]);
    fx.git_in(
        &other,
        &[
            "-c",
            "user.name=o",
            "-c",
            "user.email=o@x",
            "commit",
            "-q",
            "-m",
            "theirs",
        ],
    );
    fx.git_in(&other, &["push", "-q", "origin", BRANCH]);

    let p = fx.write("installations/prod/installation.yaml", "name: prod\nv: 2\n");
    let mine = commit(&repo, "feat(prod): update", &[p]).unwrap().unwrap();
    let e = repo
        .push(BRANCH, &push_opts(PushAuth::default()))
        .unwrap_err();
    assert!(matches!(e, Error::Rejected { .. }), "{e:?}");
    assert!(e.help().unwrap().contains("local commit is kept"));
    assert_eq!(fx.git(&["rev-parse", BRANCH]), mine);
}

#[test]
fn smart_http_basic_auth_token_wrong_password_and_server_down() {
    let fx = Fx::new();
    let no_creds = |s: &Service| format!("http://127.0.0.1:{}/o/r.git", s.var("GIT_HTTP_PORT"));
    let (srv, bare) = fx.served_remote(
        "git-http.sh",
        &["0", "x-access-token", "tok-123"],
        "",
        Some(&no_creds),
    );
    let sdir = srv.dir.clone();
    let port = srv.var("GIT_HTTP_PORT").to_owned();
    let url = no_creds(&srv);
    let repo = fx.repo();
    let first = fx.first_commit(&repo);

    // wrong token: a clear auth error, the commit stays
    let bad = PushAuth {
        token: Some(SecretString::from("wrong".to_owned())),
        ..Default::default()
    };
    let e = repo.push(BRANCH, &push_opts(bad)).unwrap_err();
    assert!(matches!(e, Error::Auth { .. }), "{e:?}");
    assert!(
        !e.to_string().contains("wrong"),
        "no credential in the message: {e}"
    );
    assert!(e.help().unwrap().contains("GITHUB_TOKEN"));

    let token = || PushAuth {
        token: Some(SecretString::from("tok-123".to_owned())),
        ..Default::default()
    };
    let r = repo.push(BRANCH, &push_opts(token())).unwrap();
    assert_eq!(r.url, url);
    assert_eq!(fx.git_in(&bare, &["rev-parse", BRANCH]), first);

    // the server goes away mid-way: network error, commit kept, re-run completes
    drop(srv);
    let p = fx.write("installations/prod/installation.yaml", "name: prod\nv: 2\n");
    let second = commit(&repo, "feat(prod): update", &[p]).unwrap().unwrap();
    let e = repo.push(BRANCH, &push_opts(token())).unwrap_err();
    assert!(matches!(e, Error::Network { .. }), "{e:?}");
    assert_eq!(fx.git(&["rev-parse", BRANCH]), second);
    let _srv = Service::start(
        "git-http.sh",
        &sdir,
        &[&port, "x-access-token", "tok-123"],
        &[],
    );
    repo.push(BRANCH, &push_opts(token())).unwrap();
    assert_eq!(fx.git_in(&bare, &["rev-parse", BRANCH]), second);
}

#[test]
fn smart_http_url_credentials_and_a_server_side_rejection() {
    let fx = Fx::new();
    let (_srv, bare) = fx.served_remote("git-http.sh", &[], "GIT_HTTP_URL", None);
    let repo = fx.repo();
    let first = fx.first_commit(&repo);
    let r = repo.push(BRANCH, &push_opts(PushAuth::default())).unwrap();
    assert!(r.url.contains("git:***@"), "{}", r.url);
    assert_eq!(fx.git_in(&bare, &["rev-parse", BRANCH]), first);

    // the server refuses the update (a hook, as branch protection would): reported through
    // git2's push_update_reference callback, local commit kept
    let hook = bare.join("hooks/pre-receive");
    std::fs::write(&hook, "#!/bin/sh\necho protected >&2\nexit 1\n").unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let p = fx.write("installations/prod/installation.yaml", "name: prod\nv: 2\n");
    let second = commit(&repo, "feat(prod): update", &[p]).unwrap().unwrap();
    let e = repo
        .push(BRANCH, &push_opts(PushAuth::default()))
        .unwrap_err();
    match &e {
        Error::Rejected {
            refname, reason, ..
        } => {
            assert_eq!(refname, &format!("refs/heads/{BRANCH}"));
            assert!(reason.contains("hook declined"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(fx.git(&["rev-parse", BRANCH]), second);
    assert_eq!(fx.git_in(&bare, &["rev-parse", BRANCH]), first);
}

#[test]
fn ssh_with_key_file_known_hosts_and_host_key_policy() {
    let fx = Fx::new();
    let (srv, bare) = fx.served_remote("git-sshd.sh", &[], "GIT_SSH_URL", None);
    let sdir = srv.dir.clone();
    let repo = fx.repo();
    let first = fx.first_commit(&repo);
    let key = sdir.join("id_ed25519");
    let ssh = |known_hosts: &Path, key: &Path, accept: bool| PushAuth {
        ssh_key: Some(key.to_path_buf()),
        known_hosts: Some(known_hosts.to_path_buf()),
        accept_new_host_key: accept,
        ..Default::default()
    };

    // unknown host key: refused, naming the fingerprint and the file
    let kh = fx.te.path().join("home/.ssh/known_hosts");
    let e = repo
        .push(BRANCH, &push_opts(ssh(&kh, &key, false)))
        .unwrap_err();
    match &e {
        Error::UnknownHostKey {
            host, fingerprint, ..
        } => {
            assert_eq!(host, &format!("[127.0.0.1]:{}", srv.var("GIT_SSH_PORT")));
            assert!(fingerprint.starts_with("SHA256:"));
        }
        other => panic!("{other:?}"),
    }
    assert!(!kh.exists());
    assert!(e.help().unwrap().contains("--accept-new-host-key"));

    // a wrong client key: auth failure
    let other_key = fx.te.path().join("other_key");
    run({
        let mut c = fx.te.command("ssh-keygen");
        c.args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&other_key);
        c
    })
    .ok();
    let e = repo
        .push(
            BRANCH,
            &push_opts(ssh(&sdir.join("known_hosts"), &other_key, false)),
        )
        .unwrap_err();
    assert!(matches!(e, Error::Auth { .. }), "{e:?}");

    // a different key on record for this host: refused as a mismatch
    let forged = fx.te.path().join("forged_known_hosts");
    let other_pub = std::fs::read_to_string(other_key.with_extension("pub")).unwrap();
    let other_b64 = other_pub.split_whitespace().nth(1).unwrap();
    let host = format!("[127.0.0.1]:{}", srv.var("GIT_SSH_PORT"));
    std::fs::write(&forged, format!("{host} ssh-ed25519 {other_b64}\n")).unwrap();
    let e = repo
        .push(BRANCH, &push_opts(ssh(&forged, &key, true)))
        .unwrap_err();
    assert!(matches!(e, Error::HostKeyMismatch { .. }), "{e:?}");
    assert!(e.to_string().contains("does NOT match"), "{e}");
    assert_eq!(std::fs::read_to_string(&forged).unwrap().lines().count(), 1);

    // accepted once, recorded, then known
    let r = repo.push(BRANCH, &push_opts(ssh(&kh, &key, true))).unwrap();
    assert!(r.host_key_added);
    let recorded = std::fs::read_to_string(&kh).unwrap();
    let expected = std::fs::read_to_string(sdir.join("known_hosts")).unwrap();
    assert_eq!(recorded, expected, "same line as OpenSSH would write");
    assert_eq!(fx.git_in(&bare, &["rev-parse", BRANCH]), first);
    let r = repo
        .push(BRANCH, &push_opts(ssh(&kh, &key, false)))
        .unwrap();
    assert!(!r.host_key_added);

    // OpenSSH's hashed form (ssh-keygen -H, Debian's HashKnownHosts default) is understood
    let hashed = fx.te.path().join("hashed_known_hosts");
    std::fs::copy(sdir.join("known_hosts"), &hashed).unwrap();
    run({
        let mut c = fx.te.command("ssh-keygen");
        c.arg("-q").arg("-H").arg("-f").arg(&hashed);
        c
    })
    .ok();
    assert!(std::fs::read_to_string(&hashed).unwrap().starts_with("|1|"));
    let r = repo
        .push(BRANCH, &push_opts(ssh(&hashed, &key, false)))
        .unwrap();
    assert!(!r.host_key_added);

    // the script's known_hosts (OpenSSH format) is accepted as is
    let r = repo
        .push(
            BRANCH,
            &push_opts(ssh(&sdir.join("known_hosts"), &key, false)),
        )
        .unwrap();
    assert!(!r.host_key_added);
}

#[test]
fn an_empty_repository_gets_its_first_commit_on_the_branch() {
    seal_libgit2();
    let te = TestEnv::new();
    let work = te.path().join("empty");
    let mut c = te.command("git");
    c.args(["init", "-q", "-b", "main"]).arg(&work);
    run(c).ok();
    let repo = ConfigRepo::open(&work).unwrap();
    let s = repo.start_branch(BRANCH, None, OWNED).unwrap();
    assert!(s.created);
    assert_eq!(s.base.as_deref(), Some("main"));
    std::fs::create_dir_all(work.join("installations/prod")).unwrap();
    std::fs::write(work.join(".sops.yaml"), "creation_rules: []\n").unwrap();
    let author = Author::parse("A <a@b.c>").unwrap();
    let req = CommitRequest {
        message: "feat(prod): first",
        author: Some(&author),
        paths: &[PathBuf::from(".sops.yaml")],
    };
    let c1 = repo.commit(&req, &env()).unwrap().unwrap();
    assert_eq!(c1.branch, BRANCH);
    let mut c = te.command("git");
    c.current_dir(&work).args(["log", "--format=%s", BRANCH]);
    assert_eq!(run(c).ok().stdout.trim(), "feat(prod): first");
}

/// ssh-agent for one test, killed on drop.
struct Agent {
    sock: PathBuf,
    pid: String,
}

impl Agent {
    fn start(te: &TestEnv) -> Agent {
        let sock = te.path().join("agent.sock");
        let mut c = te.command("ssh-agent");
        c.arg("-s").arg("-a").arg(&sock);
        let out = run(c).ok().stdout;
        let pid = out
            .split(';')
            .find_map(|p| p.trim().strip_prefix("SSH_AGENT_PID="))
            .unwrap_or_else(|| panic!("ssh-agent printed no pid: {out}"))
            .to_owned();
        Agent { sock, pid }
    }

    fn ssh_add(&self, te: &TestEnv, args: &[&str]) {
        let mut c = te.command("ssh-add");
        c.env("SSH_AUTH_SOCK", &self.sock).args(args);
        run(c).ok();
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill").arg(&self.pid).status();
    }
}

/// Runs `ssh_agent_child` in a fresh process of this test binary: SSH_AUTH_SOCK must be
/// set before any thread reads the environment, which a shared test process cannot do.
fn push_via_agent_in_child(fx: &Fx, agent: &Agent, known_hosts: &Path, expect: &str) {
    let mut c = std::process::Command::new(std::env::current_exe().unwrap());
    c.args([
        "git::ssh_agent_child",
        "--exact",
        "--ignored",
        "--nocapture",
    ])
    .env("SSH_AUTH_SOCK", &agent.sock)
    .env("MCB_CHILD_REPO", &fx.work)
    .env("MCB_CHILD_KNOWN_HOSTS", known_hosts)
    .env("MCB_CHILD_EXPECT", expect);
    let r = run(c);
    assert!(
        r.status.success() && r.stdout.contains("1 passed"),
        "child ({expect}) failed:\n{}\n{}",
        r.stdout,
        r.stderr
    );
}

#[test]
fn ssh_push_through_ssh_agent() {
    let fx = Fx::new();
    let (srv, bare) = fx.served_remote("git-sshd.sh", &[], "GIT_SSH_URL", None);
    let repo = fx.repo();
    let first = fx.first_commit(&repo);
    let agent = Agent::start(&fx.te);
    let kh = srv.dir.join("known_hosts");

    // an agent without keys: a clear auth failure
    push_via_agent_in_child(&fx, &agent, &kh, "auth");
    // with the client key loaded, the push goes through
    agent.ssh_add(&fx.te, &[srv.dir.join("id_ed25519").to_str().unwrap()]);
    push_via_agent_in_child(&fx, &agent, &kh, "ok");
    assert_eq!(fx.git_in(&bare, &["rev-parse", BRANCH]), first);
}

#[test]
#[ignore = "run by ssh_push_through_ssh_agent in its own process"]
fn ssh_agent_child() {
    let var = |k: &str| {
        std::env::var(k).unwrap_or_else(|_| panic!("{k} unset: run ssh_push_through_ssh_agent"))
    };
    seal_libgit2();
    let repo = ConfigRepo::open(Path::new(&var("MCB_CHILD_REPO"))).unwrap();
    let auth = PushAuth {
        known_hosts: Some(PathBuf::from(var("MCB_CHILD_KNOWN_HOSTS"))),
        ..Default::default()
    };
    let r = repo.push(BRANCH, &push_opts(auth));
    match var("MCB_CHILD_EXPECT").as_str() {
        "ok" => {
            r.unwrap();
        }
        _ => {
            let e = r.unwrap_err();
            assert!(matches!(e, Error::Auth { .. }), "{e:?}");
        }
    }
}
