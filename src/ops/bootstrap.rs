//! `mcb bootstrap`: the only manual step on a new cluster. Produces exactly the objects Flux
//! needs to take over: the Flux install for the spec's version, Secret `sops-age` (the
//! installation's age key, as `<name>.agekey`), the Git credential (decrypted from the repo
//! with that key) and the flux-system GitRepository + Kustomization. Before producing
//! anything it proves the key is the installation's and opens its files.

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

/// Files of the bootstrap, in apply order (each one YAML document or stream).
pub const ORDER: [&str; 4] = [
    "gotk-components.yaml",
    "sops-age.yaml",
    "git-auth.yaml",
    "gotk-sync.yaml",
];

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
    files.plain(ORDER[3], read("flux-system/gotk-sync.yaml")?);
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

impl Bootstrap {
    /// One multi-document YAML stream in apply order. Contains secrets.
    pub fn to_stream(&self) -> SecretBox<Vec<u8>> {
        let mut out = Vec::new();
        for (i, f) in ORDER.iter().enumerate() {
            let bytes = match self.files.get(f) {
                Some(Content::Plain(b)) => b.clone(),
                Some(Content::Secret(s)) => s.expose_secret().clone(),
                None => continue,
            };
            if i > 0 {
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
        let k = crate::k8s::kustomization(&ORDER);
        let p = dir.join("kustomization.yaml");
        crate::fsutil::write_atomic(&p, k.as_bytes(), None)?;
        written.push(p);
        Ok(written)
    }

    /// Applies the stream with `kubectl apply -f -`.
    pub fn apply(&self, kubectl: &Path, kubeconfig: Option<&Path>) -> Result<String, Error> {
        let mut cmd = Command::new(kubectl);
        if let Some(k) = kubeconfig {
            cmd.arg("--kubeconfig").arg(k);
        }
        cmd.args(["apply", "--server-side", "-f", "-"])
            .stdin(Stdio::piped())
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
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().expect("piped stdin");
            stdin
                .write_all(self.to_stream().expose_secret())
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
}
