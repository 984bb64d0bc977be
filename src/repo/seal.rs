//! The repo writer's [`Sealer`] on the SOPS engine: encrypts a secret file under the
//! `.sops.yaml` rule for its path, and keeps an existing file's bytes when its plaintext
//! did not change (no noise commits).

use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretBox};

use crate::repo::{SealError, Sealer};
use crate::sops::{self, rules::Config, Format, Identities};
use crate::Env;

/// Seals secrets with the rules of one `.sops.yaml` (possibly not yet on disk).
pub struct SopsSealer<'a> {
    env: &'a Env,
    root: PathBuf,
    rules: Config,
    ids: &'a Identities,
}

impl<'a> SopsSealer<'a> {
    /// A sealer for the repo at `root` with the `.sops.yaml` text `config` (the one that
    /// will be written), opening existing files with `ids`.
    pub fn new(
        env: &'a Env,
        root: &Path,
        config: &str,
        ids: &'a Identities,
    ) -> Result<Self, sops::Error> {
        // Absolute, because creation rules match a relative file path as given (sops'
        // semantics), which would keep the repo's own directory name in it.
        let root = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
        let rules = Config::parse(&root.join(crate::repo::SOPS_CONFIG), config)?;
        Ok(SopsSealer {
            env,
            root,
            rules,
            ids,
        })
    }
}

impl Sealer for SopsSealer<'_> {
    fn seal(
        &self,
        path: &str,
        plain: &SecretBox<Vec<u8>>,
        existing: Option<&[u8]>,
    ) -> Result<Vec<u8>, SealError> {
        let err = |e: sops::Error| SealError::caused(path, &e);
        let opts = self
            .rules
            .options_for(&self.root, &self.root.join(path))
            .map_err(err)?;
        let format = Format::from_path(Path::new(path));
        match existing {
            Some(old) => sops::reencrypt(
                self.env,
                old,
                plain.expose_secret(),
                format,
                self.ids,
                &opts,
            ),
            None => sops::encrypt(self.env, plain.expose_secret(), format, &opts),
        }
        .map_err(err)
    }
}
