//! `mcb bootstrap`: the only manual step on a new cluster. Produces exactly the objects Flux
//! needs to take over: the Flux install for the spec's version, Secret `sops-age` (the
//! installation's age key, as `<name>.agekey`), the Git credential (decrypted from the repo
//! with that key) and the flux-system GitRepository + Kustomization. Before producing
//! anything it proves the key is the installation's and opens its files.
//!
//! The objects come in [`stage::Stage`]s applied in order, each followed by its waits, as
//! `flux bootstrap` does: CRDs and Namespaces (wait until Established), controllers (wait
//! for rollout), then the secrets and the sync objects (wait until the GitRepository is
//! Ready and the root Kustomization applied). Applying goes through [`cluster::Cluster`].

pub mod cluster;
pub mod stage;

use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretBox, SecretString};

use crate::fileset::Content;
use crate::k8s::Secret;
use crate::ops::Error as OpsError;
use crate::progress::Progress;
use crate::repo;
use crate::repo::installation;
use crate::sops::{self, DecryptOptions, Format, Identities};
use crate::Error;

pub use cluster::{Cluster, Kubectl};
pub use stage::{Stage, Wait};

/// The field manager of the suspended `cluster` Kustomization (see [`Bootstrap::suspend_cluster`]).
pub const SUSPEND_MANAGER: &str = "mcb-suspend";

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

/// The bootstrap of one installation: its stages, in apply order.
pub struct Bootstrap {
    /// the installation
    pub name: String,
    /// what is applied, stage by stage; the secrets are [`Content::Secret`]
    pub stages: Vec<Stage>,
}

/// How `--apply` waits.
#[derive(Debug, Clone, Copy)]
pub struct ApplyOptions {
    /// wait for rollout and Ready after each stage (CRDs are always waited for)
    pub wait: bool,
    /// how long each wait may take
    pub timeout: Duration,
}

/// Builds the bootstrap of installation `name` from the repo at `root`, with the
/// installation's own age identities among `ids` (every one that is a recipient of its key,
/// so after step 1 of an age-key rotation both keys go to the cluster; no other key does).
pub fn build(root: &Path, name: &str, ids: &Identities) -> Result<Bootstrap, Error> {
    let inst = installation::load(root, name)?;
    if ids.is_empty() {
        return Err(sops::Error::from(ids.not_found()).into());
    }
    let expected = inst.own_recipients();
    let mine = ids.x25519_for(&expected);
    if mine.is_empty() {
        return Err(OpsError::KeyNotRecipient {
            sources: ids.sources().join(", "),
            recipient: ids.x25519_recipients().join(", "),
            name: name.to_owned(),
            expected,
        }
        .into());
    }
    let key_text = SecretString::from(
        mine.iter()
            .map(|k| format!("{}\n", k.identity.expose_secret()))
            .collect::<String>(),
    );
    // Only the installation's own keys: they prove themselves on its files below.
    let ids = Identities::from_text(&key_text)?;

    let manifests = repo::manifests_dir(name);
    let read = |rel: &str| crate::fsutil::read(root.join(&manifests).join(rel));
    let install = String::from_utf8_lossy(&read("flux-system/gotk-components.yaml")?).into_owned();
    let sops_age = Content::Secret(sops_age_secret(name, &key_text).to_yaml());
    // Decrypting the Git credential proves the key opens the installation's files.
    let git_file = root
        .join(repo::secrets_dir(name))
        .join("flux-system.sops.yaml");
    let enc = crate::fsutil::read(&git_file)?;
    let plain = sops::decrypt(&enc, Format::Yaml, &ids, DecryptOptions::default())
        .map_err(|e| e.with_file(&git_file))?;
    let [crds, controllers] = stage::install_stages(&install);
    let sync = Stage {
        name: "sync".into(),
        about:
            "Secret sops-age, the Git credential, the flux-system GitRepository and Kustomization"
                .into(),
        files: vec![
            ("sops-age.yaml".into(), sops_age),
            ("git-auth.yaml".into(), Content::Secret(plain)),
            (
                "gotk-sync.yaml".into(),
                Content::Plain(read("flux-system/gotk-sync.yaml")?),
            ),
        ],
        waits: stage::sync_waits(),
        field_manager: stage::FIELD_MANAGER,
    };
    Ok(Bootstrap {
        name: name.to_owned(),
        stages: vec![crds, controllers, sync],
    })
}

/// Secret `sops-age` in `flux-system`: Flux's kustomize-controller reads keys named
/// `*.agekey` (flux2 #5154), so the key is `<name>.agekey`.
fn sops_age_secret(name: &str, key_text: &SecretString) -> Secret {
    Secret::new("sops-age", "flux-system", "Opaque").with(
        format!("{name}.agekey"),
        key_text.expose_secret().as_bytes().to_vec(),
    )
}

/// A file's bytes and the mode it is written with (secrets 0600).
fn bytes_of(c: &Content) -> (&[u8], u32) {
    match c {
        Content::Plain(b) => (b, 0o644),
        Content::Secret(s) => (s.expose_secret(), 0o600),
    }
}

/// A stage's files as one YAML stream. Contains secrets.
fn stream_of(stage: &Stage) -> SecretBox<Vec<u8>> {
    let mut out = Vec::new();
    for (_, c) in &stage.files {
        let (bytes, _) = bytes_of(c);
        if !bytes.starts_with(b"---") {
            out.extend_from_slice(b"---\n");
        }
        out.extend_from_slice(bytes);
        if !bytes.ends_with(b"\n") {
            out.push(b'\n');
        }
    }
    SecretBox::new(Box::new(out))
}

impl Bootstrap {
    /// For the pivot (docs/recreate.md): a stage before the sync that applies the
    /// installation's `cluster` Kustomization, as rendered in `manifests/sync.yaml`, with
    /// `spec.suspend: true`, under its own field manager ([`SUSPEND_MANAGER`]). The rendered
    /// object does not set `suspend`, so once Flux applies it from Git it leaves that field
    /// to its owner until someone resumes it; being applied before the root sync, Flux never
    /// sees it unsuspended.
    pub fn suspend_cluster(&mut self, root: &Path) -> Result<(), Error> {
        let file = root.join(repo::manifests_dir(&self.name)).join("sync.yaml");
        let text = String::from_utf8_lossy(&crate::fsutil::read(&file)?).into_owned();
        let doc = suspended_cluster(&text).ok_or_else(|| OpsError::NotRendered {
            file: file.clone(),
            what: "Flux Kustomization named `cluster`".into(),
        })?;
        let at = self.stages.len().saturating_sub(1);
        self.stages.insert(
            at,
            Stage {
                name: "suspend".into(),
                about: "the `cluster` Kustomization, suspended (pivot)".into(),
                files: vec![("cluster-suspended.yaml".into(), Content::Plain(doc))],
                waits: Vec::new(),
                field_manager: SUSPEND_MANAGER,
            },
        );
        Ok(())
    }

    /// Where `--out` puts the age key, relative to the directory: in the sync stage, the
    /// third, or the fourth after the suspend stage. A function of the flags alone, so the
    /// CLI can refuse a directory git would take before it opens anything.
    pub fn key_file_in_out(suspend_cluster: bool) -> String {
        let sync = if suspend_cluster { 4 } else { 3 };
        format!("{sync:02}-sync/sops-age.yaml")
    }

    /// Where the stages really put the age key (checked against [`Self::key_file_in_out`]).
    fn located_key_file(&self) -> Option<String> {
        self.stages.iter().enumerate().find_map(|(i, s)| {
            s.files
                .iter()
                .any(|(f, _)| f == "sops-age.yaml")
                .then(|| format!("{}/sops-age.yaml", Self::stage_dir(i, s)))
        })
    }

    /// One multi-document YAML stream of every stage, in order, each introduced by a comment
    /// naming it and what to wait for before the next. Contains secrets.
    pub fn to_stream(&self) -> SecretBox<Vec<u8>> {
        let mut out = Vec::new();
        let n = self.stages.len();
        for (i, s) in self.stages.iter().enumerate() {
            out.extend_from_slice(
                format!("# stage {}/{n} {}: {}\n", i + 1, s.name, s.about).as_bytes(),
            );
            for w in &s.waits {
                out.extend_from_slice(format!("#   then: {}\n", w.command()).as_bytes());
            }
            out.extend_from_slice(stream_of(s).expose_secret());
        }
        SecretBox::new(Box::new(out))
    }

    /// The stage's directory under `--out`: `01-crds`, `02-controllers`, …
    fn stage_dir(i: usize, s: &Stage) -> String {
        format!("{:02}-{}", i + 1, s.name)
    }

    /// Writes one kustomize directory per stage (secret files mode 0600) and a README.md
    /// giving the order and the waits between stages. Returns the files written.
    pub fn write_dir(&self, dir: &Path) -> Result<Vec<PathBuf>, Error> {
        let suspended = self.stages.iter().any(|s| s.name == "suspend");
        assert_eq!(
            self.located_key_file(),
            Some(Self::key_file_in_out(suspended)),
            "the age key's place was checked against git's ignores"
        );
        let mut written = Vec::new();
        let mut readme = format!(
            "# Bootstrap of installation {}\n\n\
             Generated by `mcb bootstrap {} --out`. Apply the stages in this order, each with\n\
             server-side apply, and wait as shown before the next: a custom object cannot be\n\
             applied before its CRD is established, and Flux needs its controllers running.\n\
             `mcb bootstrap {} --apply` does exactly this. The `sync` stage holds two secrets\n\
             (files mode 0600): delete this directory when done.\n\n",
            self.name, self.name, self.name
        );
        for (i, s) in self.stages.iter().enumerate() {
            let sub = Self::stage_dir(i, s);
            for (f, c) in &s.files {
                let (bytes, mode) = bytes_of(c);
                let p = dir.join(&sub).join(f);
                crate::fsutil::write_atomic(&p, bytes, Some(mode))?;
                written.push(p);
            }
            let names: Vec<&str> = s.files.iter().map(|(f, _)| f.as_str()).collect();
            let k = crate::k8s::kustomization(&names);
            let p = dir.join(&sub).join("kustomization.yaml");
            crate::fsutil::write_atomic(&p, k.as_bytes(), None)?;
            written.push(p);
            readme.push_str(&format!(
                "{}. `{sub}/`: {}\n\n       kubectl apply --server-side -k {sub}\n",
                i + 1,
                s.about
            ));
            for w in &s.waits {
                readme.push_str(&format!("       {}\n", w.command()));
            }
            readme.push('\n');
        }
        let p = dir.join("README.md");
        crate::fsutil::write_atomic(&p, readme.as_bytes(), None)?;
        written.push(p);
        Ok(written)
    }

    /// Applies the stages in order through `cluster`, waiting after each as its waits say
    /// (only the required ones when `opts.wait` is off). Progress names stages and objects,
    /// never content.
    pub fn apply(
        &self,
        cluster: &mut dyn Cluster,
        opts: ApplyOptions,
        progress: &mut dyn Progress,
    ) -> Result<(), Error> {
        let n = self.stages.len();
        for (i, s) in self.stages.iter().enumerate() {
            progress.action(&format!(
                "applying stage {}/{n} {}: {}",
                i + 1,
                s.name,
                s.about
            ));
            cluster.apply(stream_of(s).expose_secret(), s.field_manager)?;
            progress.success(&format!("applied stage {}", s.name));
            for w in s.waits.iter().filter(|w| opts.wait || w.required()) {
                progress.action(&format!("waiting for {}", w.target()));
                cluster
                    .wait(w, opts.timeout)
                    .map_err(|message| OpsError::NotReady {
                        stage: s.name.clone(),
                        target: w.target(),
                        timeout: opts.timeout.as_secs(),
                        message,
                    })?;
                progress.success(&format!("{} ready", w.target()));
            }
        }
        Ok(())
    }
}
