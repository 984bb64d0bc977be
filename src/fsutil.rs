//! File-system helpers every writer uses: errors that name the path, and atomic writes
//! (temp file in the same directory, fsync, rename, fsync of the directory) so a crash
//! never leaves half a file. Temp files are named [`TEMP_PREFIX`]`*`, so the next run can
//! recognise and remove those a killed run left behind.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// An I/O failure on a named path: the message names the path once with what the system
/// said (main leaves out a cause that repeats it).
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", path.display())]
pub struct PathError {
    /// The file or directory that could not be read or written.
    pub path: PathBuf,
    /// What the operating system said.
    pub source: io::Error,
}

impl crate::Help for PathError {
    fn help(&self) -> Option<String> {
        use io::ErrorKind::*;
        let p = self.path.display();
        Some(match self.source.kind() {
            NotFound => format!(
                "check the path: a relative path starts at the current directory ({}); paths in the config repo start at --repo",
                std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_else(|_| "?".into())
            ),
            PermissionDenied => format!("check the permissions of {p} and its directories (`ls -ld {p}`)"),
            IsADirectory => format!("{p} is a directory: name a file"),
            NotADirectory => format!("a part of {p} is a file, not a directory"),
            AlreadyExists => format!("{p} exists already: remove it or name another path"),
            ReadOnlyFilesystem | StorageFull | QuotaExceeded => {
                "write somewhere with space and write access".into()
            }
            _ => format!("check that {p} is a readable regular file (or a writable place)"),
        })
    }
}

/// Adds the path to an I/O error: `fs::read(p).context(p)?`.
pub trait IoResultExt<T> {
    /// Wraps the error in a [`PathError`] naming `path`.
    fn context(self, path: impl AsRef<Path>) -> Result<T, PathError>;
}

impl<T> IoResultExt<T> for io::Result<T> {
    fn context(self, path: impl AsRef<Path>) -> Result<T, PathError> {
        self.map_err(|source| PathError {
            path: path.as_ref().to_path_buf(),
            source,
        })
    }
}

/// Reads a whole file.
pub fn read(path: impl AsRef<Path>) -> Result<Vec<u8>, PathError> {
    fs::read(path.as_ref()).context(path)
}

/// Reads a file that may not exist: `Ok(None)` when it does not.
pub fn read_optional(path: impl AsRef<Path>) -> Result<Option<Vec<u8>>, PathError> {
    match fs::read(path.as_ref()) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).context(path),
    }
}

/// The name prefix of every temp file mcb writes next to its target.
pub const TEMP_PREFIX: &str = ".mcb-tmp-";

/// Writes `bytes` to `path` atomically, creating parent directories. With `mode`, the file
/// gets those permission bits before any byte is written (use `0o600` for keys).
pub fn write_atomic(
    path: impl AsRef<Path>,
    bytes: &[u8],
    mode: Option<u32>,
) -> Result<(), PathError> {
    write_synced(path.as_ref(), bytes, mode, false)
}

/// The atomic write: temp file, mode, data, fsync, rename (refusing an existing target
/// when `new`), fsync of the directory so the rename itself survives a power cut.
fn write_synced(path: &Path, bytes: &[u8], mode: Option<u32>, new: bool) -> Result<(), PathError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    fs::create_dir_all(dir).context(dir)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .tempfile_in(dir)
        .context(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let m = mode.unwrap_or(0o644);
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(m)).context(tmp.path())?;
    }
    tmp.write_all(bytes).context(path)?;
    tmp.as_file().sync_all().context(path)?;
    let placed = if new {
        tmp.persist_noclobber(path)
    } else {
        tmp.persist(path)
    };
    placed.map_err(|e| PathError {
        path: path.to_path_buf(),
        source: e.error,
    })?;
    sync_dir(dir)
}

/// fsyncs a directory, so entries renamed into it are durable.
pub fn sync_dir(dir: &Path) -> Result<(), PathError> {
    #[cfg(unix)]
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .context(dir)?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Creates a new file that must not exist yet (for secrets the user keeps: an age key is
/// never overwritten), with `mode` bits, atomically.
pub fn write_new(path: impl AsRef<Path>, bytes: &[u8], mode: u32) -> Result<(), PathError> {
    let path = path.as_ref();
    let exists = || PathError {
        path: path.to_path_buf(),
        source: io::Error::new(
            io::ErrorKind::AlreadyExists,
            "file exists; refusing to overwrite it",
        ),
    };
    if path.exists() {
        return Err(exists());
    }
    // The rename refuses an existing target too, so a file that appears meanwhile is kept.
    write_synced(path, bytes, Some(mode), true).map_err(|e| match e.source.kind() {
        io::ErrorKind::AlreadyExists => exists(),
        _ => e,
    })
}

/// Removes the directories above `file` that are empty now, up to (not including) `root`.
pub fn remove_empty_parents(root: &Path, file: &Path) {
    let mut dir = file.parent();
    while let Some(d) = dir {
        if d == root || fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_sets_mode() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a/b/c.txt");
        write_atomic(&p, b"one", None).unwrap();
        write_atomic(&p, b"two", Some(0o600)).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        // no temp files left behind
        assert_eq!(fs::read_dir(p.parent().unwrap()).unwrap().count(), 1);
    }

    #[test]
    fn write_new_refuses_existing() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("k");
        write_new(&p, b"x", 0o600).unwrap();
        let e = write_new(&p, b"y", 0o600).unwrap_err();
        assert!(e.to_string().contains("refusing to overwrite"), "{e}");
        assert_eq!(fs::read(&p).unwrap(), b"x");
    }

    #[test]
    fn read_error_names_path() {
        let e = read("/nonexistent/mcb-file").unwrap_err();
        assert!(e.to_string().starts_with("/nonexistent/mcb-file: "), "{e}");
        assert_eq!(read_optional("/nonexistent/mcb-file").unwrap(), None);
    }
}
