//! Reading and writing for `mcb secrets`: files in place (keeping their mode), `--output`,
//! stdout all at once (never partial plaintext), `--indent`, and the per-file report.

use std::io::Write;
use std::path::{Path, PathBuf};

use mcb::progress::Progress;
use mcb::sops::{self, Format};

use super::flags::{Common, OutFlags};
use crate::cli::{OutputFormat, Reporter, UsageError};

/// A `--extract`/`set`/`unset` path problem in `file`.
pub(super) fn tree_path_err(file: &Path, path: &str, message: String) -> anyhow::Error {
    sops_err(
        sops::Error::TreePath {
            file: PathBuf::new(),
            path: path.to_owned(),
            message,
        },
        file,
    )
}

pub(super) fn sops_err(e: sops::Error, file: &Path) -> anyhow::Error {
    anyhow::Error::new(mcb::Error::from(e.with_file(file)))
}

pub(super) fn read(file: &Path) -> anyhow::Result<Vec<u8>> {
    Ok(mcb::fsutil::read(file)?)
}

/// Writes a file in place keeping its permission bits.
pub(super) fn write_in_place(file: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    #[cfg(unix)]
    let mode = {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(file)
            .ok()
            .map(|m| m.permissions().mode() & 0o7777)
    };
    #[cfg(not(unix))]
    let mode = None;
    mcb::fsutil::write_atomic(file, bytes, mode)?;
    Ok(())
}

/// Writes every result back to its file (`-i`), to `--output`, or, all at once, to stdout.
pub(super) fn deliver(
    g: &super::super::GlobalArgs,
    rep: &mut Reporter,
    files: &[PathBuf],
    outs: &[Vec<u8>],
    out: &OutFlags,
    what: &str,
) -> anyhow::Result<()> {
    if let Some(target) = &out.output {
        // Only the owner may read what may be plaintext.
        mcb::fsutil::write_atomic(target, &outs.concat(), Some(0o600))?;
        return report_written(g, rep, target, true, what);
    }
    if !out.in_place {
        return write_stdout(outs);
    }
    for (file, bytes) in files.iter().zip(outs) {
        write_in_place(file, bytes)?;
        report_written(g, rep, file, true, what)?;
    }
    Ok(())
}

/// Refuses `--output` with several input files (sops takes one file).
/// Checks where a result goes: `--output` takes one file, and a result printed to stdout
/// (the file itself) has no JSON form, so `-o json`/`--json` is refused then.
pub(super) fn one_output(
    g: &super::super::GlobalArgs,
    files: &[PathBuf],
    out: &OutFlags,
) -> anyhow::Result<()> {
    if out.output.is_none() && !out.in_place {
        g.no_json("secrets", "the file itself to stdout")?;
    }
    if out.output.is_some() && files.len() > 1 {
        return Err(UsageError {
            message: format!("--output takes one input file, {} were given", files.len()),
            help: Some(
                "run the command once per file, or use -i to write each file in place".into(),
            ),
        }
        .into());
    }
    Ok(())
}

/// Applies `--indent` to emitted bytes.
pub(super) fn indented(
    common: &Common,
    bytes: Vec<u8>,
    format: Format,
    file: &Path,
) -> anyhow::Result<Vec<u8>> {
    match common.indent {
        None => Ok(bytes),
        Some(n) => sops::reindent(&bytes, format, n).map_err(|e| sops_err(e, file)),
    }
}

fn write_stdout(chunks: &[Vec<u8>]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    for c in chunks {
        out.write_all(c)?;
    }
    out.flush()?;
    Ok(())
}

/// Reports an in-place change (stderr, or a JSON line per file on stdout with `-o json`).
pub(super) fn report_written(
    g: &super::super::GlobalArgs,
    rep: &mut Reporter,
    file: &Path,
    changed: bool,
    what: &str,
) -> anyhow::Result<()> {
    if g.output == OutputFormat::Json {
        super::super::output::print_json(
            &serde_json::json!({ "file": file, "changed": changed, "action": what }),
        )?;
    } else if changed {
        rep.success(&format!("{what} {}", file.display()));
    } else {
        rep.up_to_date(&format!("{} unchanged", file.display()));
    }
    Ok(())
}
