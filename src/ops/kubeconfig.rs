//! `mcb kubeconfig NAME`: the decrypted kubeconfig of one of an installation's users (the
//! pre-generated admin by default), read from its SOPS Secret in the repo. Returns the bytes;
//! the CLI prints them to stdout only, for piping (docs/recreate.md step 3).

use std::path::Path;

use secrecy::{ExposeSecret, SecretBox};

use crate::ops::Error as OpsError;
use crate::sops::{self, DecryptOptions, Format, Identities};
use crate::{pki, repo, Error};

/// The kubeconfig of `user` in installation `name` under `root`, decrypted with `ids`.
/// For `admin`, a repo from before KCP owned `<cluster>-kubeconfig` may still hold it under
/// that name; it is read from there when `<cluster>-kubeconfig-admin` is absent.
pub fn read(
    root: &Path,
    name: &str,
    user: &str,
    ids: &Identities,
) -> Result<SecretBox<Vec<u8>>, Error> {
    repo::check_installations(root, &[name.to_owned()])?;
    let dir = root.join(repo::secrets_dir(name));
    let file_of = |secret: String| dir.join(format!("{secret}.sops.yaml"));
    let wanted = file_of(pki::kubeconfig_secret_name(name, user));
    let legacy = file_of(pki::capi_kubeconfig_secret_name(name));
    let file = if !wanted.is_file() && user == "admin" && legacy.is_file() {
        legacy
    } else {
        wanted
    };
    if !file.is_file() {
        return Err(OpsError::NoKubeconfig {
            name: name.to_owned(),
            user: user.to_owned(),
            file,
        }
        .into());
    }
    let enc = crate::fsutil::read(&file)?;
    let plain = sops::decrypt(&enc, Format::Yaml, ids, DecryptOptions::default())
        .map_err(|e| e.with_file(&file))?;
    let secret = pki::parse_secret(&file.display().to_string(), &plain)?;
    let value = secret
        .data
        .get("value")
        .ok_or_else(|| pki::Error::MissingData {
            name: secret.name.clone(),
            key: "value".into(),
        })?;
    Ok(SecretBox::new(Box::new(value.expose_secret().clone())))
}
