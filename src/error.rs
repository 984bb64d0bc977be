//! The library's top-level error (one variant per module error) and the one place that
//! finds an error's `help:` line, whatever module error a `?` carried to the command line.

/// A hint for the user (the `help:` line main prints after an error). Defined in the SOPS
/// engine's crate, the lowest one, so its errors carry hints too.
pub use mcb_sops::Help;

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
            Error::Creds(e) => e.help(),
            Error::Pki(e) => e.help(),
            Error::Spec(e) => e.help(),
            Error::Render(e) => e.help(),
            Error::Repo(e) => e.help(),
            Error::Git(e) => e.help(),
            Error::Forge(e) => e.help(),
            Error::Inventory(e) => e.help(),
            Error::Ops(e) => e.help(),
            Error::Shared(e) => e.help(),
        }
    }
}

/// The help of `e` itself, if it is one of the library's error types. Every module error
/// type is tried here, so callers keep hints with a plain `?` (no conversion to [`Error`]
/// needed on the way up): whoever walks an error chain asks this for each link.
pub fn help_of(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    macro_rules! first_help {
        ($($t:ty),+ $(,)?) => {
            $(if let Some(x) = e.downcast_ref::<$t>() {
                return x.help();
            })+
        };
    }
    first_help!(
        Error,
        crate::fsutil::PathError,
        crate::sops::Error,
        crate::sops::store::yaml::Error,
        crate::check::Error,
        crate::render::ci::SourceError,
        crate::creds::Error,
        crate::pki::Error,
        crate::spec::Error,
        crate::render::Error,
        crate::repo::Error,
        crate::repo::SealError,
        crate::git::Error,
        crate::inventory::Error,
        crate::ops::Error,
        crate::forge::Error,
        crate::ops::shared::Error,
    );
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error of another crate wrapping a module error, as anyhow's context does.
    #[derive(Debug, thiserror::Error)]
    #[error("while doing it")]
    struct Wrapper(#[source] crate::repo::Error);

    #[test]
    fn help_is_found_in_a_chain_without_conversion() {
        let inner = crate::repo::Error::NoInstallations {
            root: "/tmp/x".into(),
        };
        let want = inner.help();
        assert!(want.is_some());
        let outer = Wrapper(inner);
        let chain =
            std::iter::successors(Some(&outer as &(dyn std::error::Error + 'static)), |e| {
                e.source()
            });
        assert_eq!(chain.map(help_of).collect::<Vec<_>>(), [None, want]);
    }

    #[test]
    fn errors_without_help_give_none() {
        let io = std::io::Error::other("plain");
        assert_eq!(help_of(&io), None);
    }
}
