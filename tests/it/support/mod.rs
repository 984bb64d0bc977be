//! Test support: a sealed environment per test, the `mcb` command builder, locators for the
//! real components (installed by `scripts/install-test-deps.sh`) and starters for the
//! loopback services (the helper scripts under `tests/support/tools/`).
#![allow(dead_code)]

pub mod github;
pub mod schema;

pub use schema::assert_schema_valid;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `fixtures/` in this repository.
pub fn fixtures() -> PathBuf {
    root().join("fixtures")
}

/// `tests/support/tools/`: the helper scripts that start real services.
pub fn tools_dir() -> PathBuf {
    root().join("tests/support/tools")
}

/// Where `scripts/install-test-deps.sh` puts what it installs.
pub fn installed() -> PathBuf {
    root().join("target/tools")
}

const INSTALL_HINT: &str =
    "run `bash scripts/install-test-deps.sh` (as root) to install the test components";

/// Path of a required external tool; panics with the install step if it is missing.
/// Tests never skip silently.
pub fn tool(name: &str) -> PathBuf {
    let candidates: Vec<PathBuf> = match name {
        "sops" => vec![installed().join("sops")],
        "kubectl" | "kubernetes-validate" => vec![installed().join("venv/bin").join(name)],
        // The venv's Python, which has helm_python (Helm's template engine).
        "venv-python" => vec![installed().join("venv/bin/python")],
        _ => vec![],
    };
    for c in &candidates {
        if c.is_file() {
            return c.clone();
        }
    }
    for dir in ["/usr/bin", "/usr/sbin", "/usr/local/bin", "/bin"] {
        let p = Path::new(dir).join(name);
        if p.is_file() && candidates.is_empty() {
            return p;
        }
    }
    panic!("test component `{name}` is missing: {INSTALL_HINT}");
}

/// `node_modules` of the npm test tools (oidc-provider, flux-cd models).
pub fn node_modules() -> PathBuf {
    let p = installed().join("node/node_modules");
    assert!(
        p.join("oidc-provider").is_dir(),
        "npm test tools are missing: {INSTALL_HINT}"
    );
    p
}

/// A sealed place for one test: its own temp dir as HOME, no inherited SOPS or git config.
pub struct TestEnv {
    pub dir: tempfile::TempDir,
    /// Extra environment for every command run from this env.
    pub vars: BTreeMap<String, String>,
}

impl TestEnv {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("mcb-it-")
            .tempdir()
            .unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        TestEnv {
            dir,
            vars: BTreeMap::new(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn home(&self) -> PathBuf {
        self.path().join("home")
    }

    /// A command with a cleared environment: PATH, HOME, sealed git, fixed clock and seed.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        c.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.home())
            .env("XDG_CONFIG_HOME", self.home().join(".config"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_AUTHOR_NAME", "mcb test")
            .env("GIT_AUTHOR_EMAIL", "test@example.invalid")
            .env("GIT_COMMITTER_NAME", "mcb test")
            .env("GIT_COMMITTER_EMAIL", "test@example.invalid")
            .env("NO_COLOR", "1")
            .current_dir(self.path());
        for (k, v) in &self.vars {
            c.env(k, v);
        }
        c
    }

    /// The `mcb` binary under test, sealed, with a pinned clock and seed.
    pub fn mcb(&self) -> Command {
        let mut c = self.command(env!("CARGO_BIN_EXE_mcb"));
        c.env("MCB_INSECURE_TEST_SEED", "42")
            .env("MCB_TEST_NOW", "2026-11-25T12:00:00Z");
        c
    }

    /// `mcb` with real randomness (for tests about uniqueness of generated material).
    pub fn mcb_unseeded(&self) -> Command {
        self.command(env!("CARGO_BIN_EXE_mcb"))
    }
}

/// What a finished command did, with helpers that print everything on failure.
pub struct Run {
    pub status: std::process::ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn code(&self) -> i32 {
        self.status.code().unwrap_or(-1)
    }
    #[track_caller]
    pub fn ok(self) -> Self {
        assert!(
            self.status.success(),
            "command failed ({}):\nstdout:\n{}\nstderr:\n{}",
            self.code(),
            self.stdout,
            self.stderr
        );
        self
    }
    #[track_caller]
    pub fn fails_with(self, code: i32) -> Self {
        assert_eq!(
            self.code(),
            code,
            "unexpected exit code:\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

/// Runs a command to completion, capturing output (stdin closed).
pub fn run(mut c: Command) -> Run {
    c.stdin(std::process::Stdio::null());
    let out = c
        .output()
        .unwrap_or_else(|e| panic!("cannot run {c:?}: {e}"));
    Run {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A loopback service started by one of the helper scripts (`X.sh start DIR ...`), stopped
/// on drop. `vars` holds the `NAME=value` lines the script printed.
pub struct Service {
    script: PathBuf,
    pub dir: PathBuf,
    pub vars: BTreeMap<String, String>,
}

impl Service {
    pub fn start(script: &str, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Service {
        let script = tools_dir().join(script);
        let mut c = Command::new("bash");
        c.arg(&script).arg("start").arg(dir).args(args);
        for (k, v) in env {
            c.env(k, v);
        }
        let r = run(c);
        assert!(
            r.status.success(),
            "{} start failed:\n{}\n{}",
            script.display(),
            r.stdout,
            r.stderr
        );
        let vars = r
            .stdout
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect();
        Service {
            script,
            dir: dir.to_path_buf(),
            vars,
        }
    }

    pub fn var(&self, k: &str) -> &str {
        self.vars
            .get(k)
            .unwrap_or_else(|| panic!("service printed no {k}: {:?}", self.vars))
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(&self.script)
            .arg("stop")
            .arg(&self.dir)
            .output();
    }
}

/// Provides installation `name`'s AWS credentials the way docs/providers.md tells an
/// operator to (a Secret written to `secrets/capa-variables.sops.yaml`, encrypted in place
/// with `mcb secrets encrypt -i`, then `mcb render` to list it, then a commit), so `mcb
/// check` has no `provider-credentials` finding.
pub fn provide_aws_credentials(t: &TestEnv, repo: &Path, name: &str) {
    let rel = format!("installations/{name}/secrets/capa-variables.sops.yaml");
    std::fs::write(
        repo.join(&rel),
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: capa-variables\n  namespace: capa-system\n\
         type: Opaque\nstringData:\n  AWS_B64ENCODED_CREDENTIALS: W2RlZmF1bHRdCg==\n",
    )
    .unwrap();
    for args in [
        vec!["secrets", "encrypt", "-i", rel.as_str()],
        vec!["render", name],
    ] {
        let mut c = t.mcb();
        c.current_dir(repo).arg("--repo").arg(repo).args(&args);
        run(c).ok();
    }
    // Committed, as the operator would, so later mcb commands find a clean tree.
    if repo.join(".git").exists() {
        for args in [
            vec!["add", "-A"],
            vec!["commit", "-q", "-m", "provider credentials"],
        ] {
            let mut c = t.command("git");
            c.current_dir(repo).args(&args);
            run(c).ok();
        }
    }
}
