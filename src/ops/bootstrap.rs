//! `mcb bootstrap`: the only manual step on a new cluster. Produces exactly the objects Flux
//! needs to take over: the Flux install for the spec's version, Secret `sops-age` (the
//! installation's age key, as `<name>.agekey`), the Git credential (decrypted from the repo
//! with that key) and the flux-system GitRepository + Kustomization. Before producing
//! anything it proves the key is the installation's and opens its files.
//!
//! For the pivot (docs/recreate.md) it can also start the `cluster` Kustomization
//! suspended: that object, as rendered in `manifests/sync.yaml` plus `spec.suspend: true`,
//! is applied before Flux's root sync under its own field manager ([`SUSPEND_MANAGER`]).
//! kustomize-controller removes fields owned by the `kubectl` manager (it undoes
//! `kubectl apply` changes: `kustomization_controller.go`, v1.9.4), and the rendered
//! `cluster` Kustomization does not set `suspend`, so Flux leaves the field alone until
//! someone resumes it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use secrecy::{ExposeSecret, SecretBox, SecretString};

use crate::fileset::{Content, FileSet};
use crate::k8s::Secret;
use crate::ops::installation;
use crate::ops::Error as OpsError;
use crate::repo;
use crate::sops::{self, DecryptOptions, Format, Identities};
use crate::Error;

/// Files of the bootstrap, in apply order (each one YAML document or stream);
/// `cluster-suspended.yaml` only with [`Bootstrap::suspend_cluster`].
pub const ORDER: [&str; 5] = [
    "gotk-components.yaml",
    "sops-age.yaml",
    "git-auth.yaml",
    SUSPENDED,
    "gotk-sync.yaml",
];

const SUSPENDED: &str = "cluster-suspended.yaml";

/// The field manager the suspended `cluster` Kustomization is applied with.
pub const SUSPEND_MANAGER: &str = "mcb-suspend";

/// How `apply` sends the files: in [`ORDER`], one `kubectl apply` per run of files with
/// the same field manager (`None`: kubectl's own).
fn field_manager(file: &str) -> Option<&'static str> {
    (file == SUSPENDED).then_some(SUSPEND_MANAGER)
}

/// The bootstrap of one installation: [`ORDER`] files; the two secrets are secret.
pub struct Bootstrap {
    /// the installation
    pub name: String,
    /// the files, by name
    pub files: FileSet,
}

/// Builds the bootstrap of installation `name` from the repo at `root`, with the age key
/// in `key_file`.
pub fn build(root: &Path, name: &str, key_file: &Path) -> Result<Bootstrap, Error> {
    let inst = installation::load(root, name)?;
    let key_text =
        SecretString::from(String::from_utf8_lossy(&crate::fsutil::read(key_file)?).into_owned());
    let ids = Identities::from_text(&key_text)?;
    let mine = x25519_recipients(&key_text);
    if mine.is_empty() {
        return Err(OpsError::NoIdentity {
            key_file: key_file.to_path_buf(),
        }
        .into());
    }
    let expected = inst.own_recipients();
    if !mine.iter().any(|r| expected.contains(r)) {
        return Err(OpsError::KeyNotRecipient {
            key_file: key_file.to_path_buf(),
            recipient: mine.join(", "),
            name: name.to_owned(),
            expected,
        }
        .into());
    }

    let manifests = repo::manifests_dir(name);
    let read = |rel: &str| crate::fsutil::read(root.join(&manifests).join(rel));
    let mut files = FileSet::new();
    files.plain(ORDER[0], read("flux-system/gotk-components.yaml")?);
    files.insert(
        ORDER[1],
        Content::Secret(sops_age_secret(name, &key_text).to_yaml()),
    );
    // Decrypting the Git credential proves the key opens the installation's files.
    let git_file = root
        .join(repo::secrets_dir(name))
        .join("flux-system.sops.yaml");
    let enc = crate::fsutil::read(&git_file)?;
    let plain = sops::decrypt(&enc, Format::Yaml, &ids, DecryptOptions::default())
        .map_err(|e| e.with_file(&git_file))?;
    files.insert(ORDER[2], Content::Secret(plain));
    files.plain(ORDER[4], read("flux-system/gotk-sync.yaml")?);
    Ok(Bootstrap {
        name: name.to_owned(),
        files,
    })
}

/// The public recipients of the `AGE-SECRET-KEY-1…` lines in a key file.
fn x25519_recipients(key_text: &SecretString) -> Vec<String> {
    key_text
        .expose_secret()
        .lines()
        .filter_map(|l| sops::keys::recipient_of(&SecretString::from(l.to_owned())))
        .collect()
}

/// Secret `sops-age` in `flux-system`: Flux's kustomize-controller reads keys named
/// `*.agekey` (flux2 #5154), so the key is `<name>.agekey`.
fn sops_age_secret(name: &str, key_text: &SecretString) -> Secret {
    Secret::new("sops-age", "flux-system", "Opaque").with(
        format!("{name}.agekey"),
        key_text.expose_secret().as_bytes().to_vec(),
    )
}

/// The `cluster` Kustomization of `sync_yaml` (the rendered `manifests/sync.yaml`) with
/// `spec.suspend: true`, as a YAML (JSON) document; `None` if there is none.
fn suspended_cluster(sync_yaml: &str) -> Option<Vec<u8>> {
    let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(sync_yaml).ok()?;
    let mut ks = docs.into_iter().find(|d| {
        d["kind"] == "Kustomization"
            && d["apiVersion"]
                .as_str()
                .is_some_and(|v| v.starts_with("kustomize.toolkit.fluxcd.io/"))
            && d["metadata"]["name"] == "cluster"
    })?;
    ks["spec"]["suspend"] = serde_json::Value::Bool(true);
    let mut out = serde_json::to_vec_pretty(&ks).ok()?;
    out.push(b'\n');
    Some(out)
}

impl Bootstrap {
    /// Adds the `cluster` Kustomization, suspended (see the module doc), read from the
    /// installation's rendered `manifests/sync.yaml` under `root`.
    pub fn suspend_cluster(&mut self, root: &Path) -> Result<(), Error> {
        let file = root.join(repo::manifests_dir(&self.name)).join("sync.yaml");
        let text = String::from_utf8_lossy(&crate::fsutil::read(&file)?).into_owned();
        let doc = suspended_cluster(&text).ok_or_else(|| OpsError::NotRendered {
            file: file.clone(),
            what: "Flux Kustomization named `cluster`".into(),
        })?;
        self.files.plain(SUSPENDED, doc);
        Ok(())
    }

    /// One multi-document YAML stream in apply order. Contains secrets.
    /// The [`ORDER`] files this bootstrap has.
    fn present(&self) -> Vec<&'static str> {
        ORDER
            .into_iter()
            .filter(|f| self.files.get(f).is_some())
            .collect()
    }

    pub fn to_stream(&self) -> SecretBox<Vec<u8>> {
        self.stream_of(&ORDER)
    }

    /// `files` (those present, in the given order) as one YAML stream.
    fn stream_of(&self, files: &[&str]) -> SecretBox<Vec<u8>> {
        let mut out = Vec::new();
        for f in files {
            let bytes = match self.files.get(f) {
                Some(Content::Plain(b)) => b.clone(),
                Some(Content::Secret(s)) => s.expose_secret().clone(),
                None => continue,
            };
            if !out.is_empty() {
                out.extend_from_slice(b"---\n");
            }
            out.extend_from_slice(&bytes);
            if !bytes.ends_with(b"\n") {
                out.push(b'\n');
            }
        }
        SecretBox::new(Box::new(out))
    }

    /// Writes a kustomize directory (secrets mode 0600). Returns the files written.
    pub fn write_dir(&self, dir: &Path) -> Result<Vec<PathBuf>, Error> {
        let mut written = Vec::new();
        for f in ORDER {
            let (bytes, mode) = match self.files.get(f) {
                Some(Content::Plain(b)) => (b.clone(), 0o644),
                Some(Content::Secret(s)) => (s.expose_secret().clone(), 0o600),
                None => continue,
            };
            let p = dir.join(f);
            crate::fsutil::write_atomic(&p, &bytes, Some(mode))?;
            written.push(p);
        }
        let present = self.present();
        let k = crate::k8s::kustomization(&present);
        let p = dir.join("kustomization.yaml");
        crate::fsutil::write_atomic(&p, k.as_bytes(), None)?;
        written.push(p);
        Ok(written)
    }

    /// Applies the files with `kubectl apply --server-side -f -`, in [`ORDER`], one call
    /// per run of files with the same field manager. Before the suspended `cluster`
    /// Kustomization it waits until Flux's Kustomization CRD (just applied) is established.
    pub fn apply(&self, kubectl: &Path, kubeconfig: Option<&Path>) -> Result<String, Error> {
        let mut out = String::new();
        let present = self.present();
        for run in present.chunk_by(|a, b| field_manager(a) == field_manager(b)) {
            if run.contains(&SUSPENDED) {
                let wait = [
                    "wait",
                    "--for=condition=Established",
                    "--timeout=120s",
                    "crd/kustomizations.kustomize.toolkit.fluxcd.io",
                ];
                out.push_str(&kubectl_run(kubectl, kubeconfig, &wait, None)?);
            }
            let mut args = vec!["apply".to_owned(), "--server-side".to_owned()];
            if let Some(m) = field_manager(run[0]) {
                args.push(format!("--field-manager={m}"));
            }
            args.extend(["-f".to_owned(), "-".to_owned()]);
            let stdin = self.stream_of(run);
            out.push_str(&kubectl_run(kubectl, kubeconfig, &args, Some(&stdin))?);
        }
        Ok(out)
    }
}

/// Runs `kubectl [--kubeconfig K] ARGS`, feeding `stdin`; its stdout, or the end of its
/// stderr in the error.
fn kubectl_run<A: AsRef<std::ffi::OsStr>>(
    kubectl: &Path,
    kubeconfig: Option<&Path>,
    args: &[A],
    stdin: Option<&SecretBox<Vec<u8>>>,
) -> Result<String, Error> {
    let mut cmd = Command::new(kubectl);
    if let Some(k) = kubeconfig {
        cmd.arg("--kubeconfig").arg(k);
    }
    cmd.args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let tool_err = |status: String, stderr: String| OpsError::Tool {
        program: kubectl.display().to_string(),
        status,
        stderr,
    };
    let mut child = cmd
        .spawn()
        .map_err(|e| tool_err("not started".into(), e.to_string()))?;
    if let Some(bytes) = stdin {
        use std::io::Write;
        let mut pipe = child.stdin.take().expect("piped stdin");
        pipe.write_all(bytes.expose_secret())
            .map_err(|e| tool_err("stdin closed".into(), e.to_string()))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| tool_err("wait failed".into(), e.to_string()))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: String = stderr
            .lines()
            .rev()
            .take(5)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n");
        return Err(tool_err(out.status.to_string(), tail).into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SYNC: &str = "# comment\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: secrets\n  namespace: flux-system\nspec:\n  path: ./s\n---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: cluster\n  namespace: flux-system\nspec:\n  interval: 10m\n  path: \"./installations/a/manifests/cluster\"\n  prune: false\n  dependsOn:\n    - name: secrets\n";

    #[test]
    fn the_cluster_kustomization_is_suspended_and_otherwise_as_rendered() {
        let doc = suspended_cluster(SYNC).unwrap();
        let v: serde_json::Value =
            serde_saphyr::from_str(std::str::from_utf8(&doc).unwrap()).unwrap();
        assert_eq!(v["metadata"]["name"], "cluster");
        assert_eq!(v["spec"]["suspend"], true);
        assert_eq!(v["spec"]["path"], "./installations/a/manifests/cluster");
        assert_eq!(v["spec"]["dependsOn"][0]["name"], "secrets");
        assert_eq!(v["spec"]["prune"], false);
        assert!(suspended_cluster(&SYNC.replace("name: cluster", "name: other")).is_none());
    }

    #[test]
    fn only_the_suspended_kustomization_gets_its_own_field_manager() {
        let managers: Vec<_> = ORDER.iter().map(|f| field_manager(f)).collect();
        assert_eq!(
            managers,
            [None, None, None, Some(SUSPEND_MANAGER), None],
            "the suspend must come before Flux's root sync"
        );
    }
}
