//! The live cluster as the bootstrap sees it: apply a stage, wait for a condition. The
//! effect sits behind [`Cluster`]; [`Kubectl`] implements it with the `kubectl` program
//! (server-side apply, `kubectl wait`, `kubectl rollout status`). When a wait fails, the
//! object's own condition message (what the controller wrote) is the answer, not kubectl's
//! "timed out". Never sees anything but YAML bytes; never logs them (they hold secrets).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::stage::Wait;
use crate::ops::Error as OpsError;

/// A Kubernetes API as the bootstrap uses it.
pub trait Cluster {
    /// Server-side applies a YAML stream as `field_manager` (re-applying the same objects
    /// changes nothing).
    fn apply(&mut self, yaml: &[u8], field_manager: &str) -> Result<(), OpsError>;
    /// Waits up to `timeout` for `w`; on failure returns why, in the controller's words.
    fn wait(&mut self, w: &Wait, timeout: Duration) -> Result<(), String>;
}

/// [`Cluster`] through the `kubectl` program.
#[derive(Debug, Clone)]
pub struct Kubectl {
    /// the program
    pub program: PathBuf,
    /// `--kubeconfig`, when not kubectl's default
    pub kubeconfig: Option<PathBuf>,
    /// `--context`, when not the kubeconfig's current context
    pub context: Option<String>,
}

impl Kubectl {
    fn command(&self) -> Command {
        let mut c = Command::new(&self.program);
        if let Some(k) = &self.kubeconfig {
            c.arg("--kubeconfig").arg(k);
        }
        if let Some(x) = &self.context {
            c.arg("--context").arg(x);
        }
        c.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }

    fn tool_err(&self, status: String, stderr: &str) -> OpsError {
        OpsError::Tool {
            program: self.program.display().to_string(),
            status,
            stderr: tail(stderr),
        }
    }

    /// Runs `c`, feeding `stdin`; stdout on success, the error otherwise.
    fn run(&self, mut c: Command, stdin: Option<&[u8]>) -> Result<String, OpsError> {
        if stdin.is_some() {
            c.stdin(Stdio::piped());
        }
        let mut child = c
            .spawn()
            .map_err(|e| self.tool_err("not started".into(), &e.to_string()))?;
        if let Some(bytes) = stdin {
            let mut pipe = child.stdin.take().expect("piped stdin");
            pipe.write_all(bytes)
                .map_err(|e| self.tool_err("stdin closed".into(), &e.to_string()))?;
        }
        let out = child
            .wait_with_output()
            .map_err(|e| self.tool_err("wait failed".into(), &e.to_string()))?;
        if !out.status.success() {
            return Err(self.tool_err(
                out.status.to_string(),
                &String::from_utf8_lossy(&out.stderr),
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The object's conditions, worst first, as `Type=Status: message` (for a failed wait).
    fn conditions(&self, namespace: &str, object: &str) -> Option<String> {
        let mut c = self.command();
        c.args(["-n", namespace, "get", object, "-o", "json"]);
        let json: serde_json::Value = serde_json::from_str(&self.run(c, None).ok()?).ok()?;
        condition_message(&json)
    }
}

impl Cluster for Kubectl {
    fn apply(&mut self, yaml: &[u8], field_manager: &str) -> Result<(), OpsError> {
        let mut c = self.command();
        // --force-conflicts: after Flux took over, kustomize-controller owns the same
        // fields; re-running the bootstrap must still succeed (flux2 applies with force too).
        c.args(["apply", "--server-side"])
            .arg(format!("--field-manager={field_manager}"))
            .args(["--force-conflicts", "-f", "-"]);
        self.run(c, Some(yaml)).map(|_| ())
    }

    fn wait(&mut self, w: &Wait, timeout: Duration) -> Result<(), String> {
        let t = format!("--timeout={}s", timeout.as_secs().max(1));
        let mut c = self.command();
        let (namespace, object) = match w {
            Wait::Established { crds } => {
                c.args(["wait", "--for=condition=Established", &t]);
                c.args(crds.iter().map(|n| format!("crd/{n}")));
                (None, None)
            }
            Wait::Rollout { namespace, name } => {
                let object = format!("deployment/{name}");
                c.args(["-n", namespace, "rollout", "status", &object, &t]);
                (Some(namespace), Some(object))
            }
            Wait::Ready {
                namespace,
                resource,
                name,
            } => {
                let object = format!("{resource}/{name}");
                c.args([
                    "-n",
                    namespace,
                    "wait",
                    "--for=condition=Ready",
                    &t,
                    &object,
                ]);
                (Some(namespace), Some(object))
            }
        };
        match self.run(c, None) {
            Ok(_) => Ok(()),
            Err(e) => {
                let own = namespace
                    .zip(object)
                    .and_then(|(ns, o)| self.conditions(ns, &o));
                Err(own.unwrap_or_else(|| match e {
                    OpsError::Tool { stderr, .. } => stderr,
                    other => other.to_string(),
                }))
            }
        }
    }
}

/// The message of the condition that explains why an object is not ready: `Ready` for Flux
/// objects, else a `False` one (a Deployment's `Available`/`Progressing`), else the last.
pub fn condition_message(object: &serde_json::Value) -> Option<String> {
    let conds = object["status"]["conditions"].as_array()?;
    let pick = conds
        .iter()
        .find(|c| c["type"] == "Ready")
        .or_else(|| conds.iter().find(|c| c["status"] == "False"))
        .or_else(|| conds.last())?;
    Some(format!(
        "{}={} ({}): {}",
        pick["type"].as_str().unwrap_or("?"),
        pick["status"].as_str().unwrap_or("?"),
        pick["reason"].as_str().unwrap_or(""),
        pick["message"].as_str().unwrap_or("")
    ))
}

/// The last lines of a tool's stderr.
fn tail(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().collect();
    lines[lines.len().saturating_sub(5)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ready_condition_wins_then_a_false_one() {
        let o = json!({"status": {"conditions": [
            {"type": "Reconciling", "status": "True", "reason": "Progressing", "message": "x"},
            {"type": "Ready", "status": "False", "reason": "GitOperationFailed", "message": "auth failed"}
        ]}});
        assert_eq!(
            condition_message(&o).unwrap(),
            "Ready=False (GitOperationFailed): auth failed"
        );
        let d = json!({"status": {"conditions": [
            {"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable", "message": "no"},
            {"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated", "message": "p"}
        ]}});
        assert!(condition_message(&d)
            .unwrap()
            .starts_with("Available=False"));
        assert_eq!(condition_message(&json!({})), None);
    }
}
