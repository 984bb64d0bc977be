//! `kubectl kustomize DIR` for the kustomizations the native model does not cover: offline
//! unless `--allow-remote` (git limited to local repositories, HTTP(S) sent to a closed
//! proxy), the first line of its error as the finding's message.

use std::path::Path;
use std::process::{Command, Stdio};

/// A proxy address nothing listens on (port 9, discard, on loopback).
const CLOSED_PROXY: &str = "http://127.0.0.1:9";

/// What one `kubectl kustomize` run said.
pub enum Built {
    /// It built.
    Ok,
    /// It failed: the first line of its error, repo paths made relative.
    Failed(String),
    /// kubectl did not run.
    NotRun(String),
}

/// Runs `kubectl kustomize root/dir`.
pub fn build(kubectl: &Path, root: &Path, dir: &str, allow_remote: bool) -> Built {
    let mut cmd = Command::new(kubectl);
    if !allow_remote {
        // Should kustomize try the network anyway, it gets nowhere.
        cmd.env("GIT_ALLOW_PROTOCOL", "file")
            .env("HTTPS_PROXY", CLOSED_PROXY)
            .env("HTTP_PROXY", CLOSED_PROXY)
            .env("https_proxy", CLOSED_PROXY)
            .env("http_proxy", CLOSED_PROXY)
            .env_remove("NO_PROXY")
            .env_remove("no_proxy");
    }
    let res = cmd
        .arg("kustomize")
        .arg(root.join(dir))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output();
    match res {
        Ok(o) if o.status.success() => Built::Ok,
        Ok(o) => {
            let err = String::from_utf8_lossy(&o.stderr);
            let root_s = format!("{}/", root.display());
            let first = err
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("failed");
            Built::Failed(
                first
                    .trim()
                    .trim_start_matches("error: ")
                    .replace(&root_s, ""),
            )
        }
        Err(e) => Built::NotRun(format!("could not run {}: {e}", kubectl.display())),
    }
}
