//! The library's top-level error: one variant per module error, so `main` can print the
//! message, its causes, and a `help:` line saying what to do.

/// A hint for the user: what to change to make the error go away.
pub trait Help {
    /// The `help:` line main prints after the error, if there is one.
    fn help(&self) -> Option<String>;
}

/// Any error the library returns to the command line.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error(transparent)]
    Io(#[from] crate::fsutil::PathError),
    /// A SOPS file could not be read, decrypted or written.
    #[error(transparent)]
    Sops(#[from] crate::sops::Error),
    /// `mcb check` could not run (findings are not errors).
    #[error(transparent)]
    Check(#[from] crate::check::Error),
    /// `mcb status` could not read an inventory.
    #[error(transparent)]
    Status(#[from] crate::status::Error),
    /// A credential could not be made, registered or imported.
    #[error(transparent)]
    Creds(#[from] crate::creds::Error),
    /// A CA, key, certificate or kubeconfig is unusable.
    #[error(transparent)]
    Pki(#[from] crate::pki::Error),
    /// The installation spec is invalid.
    #[error(transparent)]
    Spec(#[from] crate::spec::Error),
    /// Rendering templates failed.
    #[error(transparent)]
    Render(#[from] crate::render::Error),
    /// The config repo could not be read or written.
    #[error(transparent)]
    Repo(#[from] crate::repo::Error),
    /// A git operation on the config repo failed.
    #[error(transparent)]
    Git(#[from] crate::git::Error),
    /// An installation's `credentials.yaml` is unreadable.
    #[error(transparent)]
    Inventory(#[from] crate::inventory::Error),
    /// A use case failed on its own terms.
    #[error(transparent)]
    Ops(#[from] crate::ops::Error),
    /// The forge (GitHub) API refused or failed.
    #[error(transparent)]
    Forge(#[from] crate::forge::Error),
    /// A shared secret's input or file is unusable.
    #[error(transparent)]
    Shared(#[from] crate::ops::shared::Error),
}

impl Help for Error {
    fn help(&self) -> Option<String> {
        match self {
            Error::Io(e) => e.help(),
            Error::Sops(e) => e.help(),
            Error::Check(e) => e.help(),
            Error::Status(e) => e.help(),
            Error::Creds(e) => e.help(),
            Error::Pki(e) => e.help(),
            Error::Spec(e) => e.help(),
            Error::Render(e) => e.help(),
            Error::Repo(e) => e.help(),
            Error::Git(e) => e.help(),
            Error::Forge(e) => e.help(),
            Error::Inventory(_) => {
                Some("restore the file from git; mcb writes it, do not edit it by hand".into())
            }
            Error::Ops(e) => e.help(),
            Error::Shared(e) => e.help(),
        }
    }
}
