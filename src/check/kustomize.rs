//! `kubectl kustomize` over each installation's outermost kustomization directories (those
//! with no kustomization above them inside the installation): what Flux will build must
//! build. Runs the real tool, offline; without kubectl the check is reported as skipped.
//!
//! Offline means no fetch at all unless `--allow-remote`: before building, every
//! kustomization reachable from the root (through local directories) is read, and an
//! entry of `resources`/`components`/`bases` that is not a file or directory on disk is
//! something kustomize would fetch (a URL, `github.com/org/repo//path`, `git@…`). Such a
//! root is not built and is reported as a warning. kubectl also runs with git limited to
//! local repositories and HTTP(S) sent to a closed proxy, in case kustomize finds another way.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};

use super::{Finding, RepoFile};

const RULE: &str = "kustomize-build";
/// File names kustomize reads as a kustomization.
pub(super) const NAMES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// Builds every outermost kustomization of every installation among `files`; with
/// `allow_remote` false, one that needs a remote resource is reported and not built.
pub fn check(
    root: &Path,
    files: &[RepoFile],
    kubectl: Option<&Path>,
    allow_remote: bool,
) -> Vec<Finding> {
    let roots = outermost(files);
    if roots.is_empty() {
        return Vec::new();
    }
    let Some(kubectl) = kubectl else {
        return vec![Finding::warning(
            &RepoFile::new("", Vec::new()),
            None,
            RULE,
            "kustomize builds were not checked: kubectl was not found on PATH; install kubectl (or pass --kubectl)",
        )];
    };
    let mut out = Vec::new();
    for f in roots {
        let dir = f.path.rsplit_once('/').map_or("", |(d, _)| d);
        if !allow_remote {
            if let Some((at, entry)) = first_remote(&root.join(dir)) {
                let at = at.strip_prefix(root).unwrap_or(&at).display().to_string();
                out.push(Finding::warning(
                    f,
                    None,
                    RULE,
                    format!(
                        "`kubectl kustomize {dir}` not run: {at} names the remote resource {entry:?} and check runs offline; pass --allow-remote to fetch it"
                    ),
                ));
                continue;
            }
        }
        let mut cmd = Command::new(kubectl);
        if !allow_remote {
            // Belt and braces: should kustomize still try the network, it gets nowhere.
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
            Ok(o) if o.status.success() => {}
            Ok(o) => {
                let err = String::from_utf8_lossy(&o.stderr);
                let root_s = format!("{}/", root.display());
                let first = err
                    .lines()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("failed");
                let first = first
                    .trim()
                    .trim_start_matches("error: ")
                    .replace(&root_s, "");
                out.push(Finding::error(
                    f,
                    None,
                    RULE,
                    format!("`kubectl kustomize {dir}` fails: {first}"),
                ));
            }
            Err(e) => out.push(Finding::warning(
                f,
                None,
                RULE,
                format!(
                    "could not run {}: {e}; kustomize build not checked",
                    kubectl.display()
                ),
            )),
        }
    }
    out
}

/// A proxy address nothing listens on (port 9, discard, on loopback).
const CLOSED_PROXY: &str = "http://127.0.0.1:9";

/// Fields of a kustomization whose entries kustomize may load from a remote location.
const REMOTE_CAPABLE: [&str; 3] = ["resources", "components", "bases"];

/// The first entry, in the kustomization at `dir` or any local directory it includes, that
/// is not on disk (so kustomize would fetch it): (the kustomization file, the entry).
fn first_remote(dir: &Path) -> Option<(std::path::PathBuf, String)> {
    let mut todo = vec![dir.to_path_buf()];
    let mut seen = BTreeSet::new();
    while let Some(d) = todo.pop() {
        // Kustomize resolves `..` itself; comparing canonical paths stops cycles.
        let Ok(canon) = d.canonicalize() else {
            continue;
        };
        if !seen.insert(canon) {
            continue;
        }
        let Some(file) = NAMES.iter().map(|n| d.join(n)).find(|p| p.is_file()) else {
            continue;
        };
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        // A kustomization that does not parse is for kubectl to report.
        let Ok(doc) = serde_saphyr::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        for field in REMOTE_CAPABLE {
            let entries = doc.get(field).and_then(serde_json::Value::as_array);
            for e in entries
                .into_iter()
                .flatten()
                .filter_map(serde_json::Value::as_str)
            {
                let local = d.join(e);
                if e.contains("://") || (!local.exists() && looks_remote(e)) {
                    return Some((file, e.to_owned()));
                }
                if local.is_dir() {
                    todo.push(local);
                }
            }
        }
    }
    None
}

/// Whether a `resources` entry that is not on disk is one kustomize would fetch: a URL,
/// `git@host:…`, or `host.tld/path` (kustomize's short git form). A plain missing file
/// (`missing.yaml`, `../x`) is a local error kubectl reports without the network.
fn looks_remote(entry: &str) -> bool {
    entry.contains("://")
        || entry.starts_with("git@")
        || entry
            .split_once('/')
            .is_some_and(|(host, _)| host.contains('.') && host != "." && host != "..")
}

/// Kustomization files with no kustomization in a parent directory of the same installation.
fn outermost(files: &[RepoFile]) -> Vec<&RepoFile> {
    let is_k = |f: &&RepoFile| {
        f.installation.is_some() && NAMES.iter().any(|n| f.path.rsplit('/').next() == Some(n))
    };
    let dirs: BTreeSet<&str> = files
        .iter()
        .filter(is_k)
        .filter_map(|f| f.path.rsplit_once('/').map(|(d, _)| d))
        .collect();
    files
        .iter()
        .filter(is_k)
        .filter(|f| {
            let dir = f.path.rsplit_once('/').map_or("", |(d, _)| d);
            !dirs.iter().any(|d| {
                dir.len() > d.len() && dir.starts_with(d) && dir.as_bytes()[d.len()] == b'/'
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outermost_only() {
        let files: Vec<_> = [
            "installations/a/manifests/kustomization.yaml",
            "installations/a/manifests/apps/kustomization.yaml",
            "installations/a/bootstrap/kustomization.yaml",
            "installations/b/x/Kustomization",
            "templates/kustomization.yaml",
        ]
        .iter()
        .map(|p| RepoFile::new(*p, Vec::new()))
        .collect();
        let got: Vec<_> = outermost(&files).iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            got,
            [
                "installations/a/manifests/kustomization.yaml",
                "installations/a/bootstrap/kustomization.yaml",
                "installations/b/x/Kustomization"
            ]
        );
    }

    #[test]
    fn remote_entries_are_told_from_missing_files() {
        for remote in [
            "https://example.com/x.yaml",
            "github.com/org/repo//deploy?ref=v1",
            "git@github.com:org/repo.git",
            "example.com/org/repo",
        ] {
            assert!(looks_remote(remote), "{remote}");
        }
        for local in ["missing.yaml", "../base", "./x/y.yaml", "sub/dir"] {
            assert!(!looks_remote(local), "{local}");
        }
    }

    #[test]
    fn missing_kubectl_is_one_warning() {
        let files = vec![RepoFile::new(
            "installations/a/manifests/kustomization.yaml",
            Vec::new(),
        )];
        let f = check(Path::new("/nonexistent"), &files, None, false);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, super::super::Severity::Warning);
    }
}
