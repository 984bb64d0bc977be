//! `mcb secrets edit`: the plaintext in $SOPS_EDITOR/$EDITOR inside a private temporary
//! directory that an interrupt removes; re-encrypted only if it changed (exit 200 if not,
//! as sops).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use mcb::progress::Progress;
use mcb::sops;

use super::flags::{formats, identities, Common};
use super::io::{read, report_written, sops_err, write_in_place};
use crate::cli::{GlobalArgs, Reporter};

/// `mcb secrets edit`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The encrypted file
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Open it even if the MAC does not match
    #[arg(long)]
    pub ignore_mac: bool,
    /// Show the master keys while editing (sops' flag; mcb never shows them)
    #[arg(short = 's', long, hide = true)]
    pub show_master_keys: bool,
    #[command(flatten, next_help_heading = "Keys, config and formats")]
    pub common: Common,
}

/// sops' exit code when `edit` leaves the file as it was (`codes.FileHasNotBeenModified`).
const EXIT_NOT_MODIFIED: u8 = 200;

fn editor_command() -> String {
    std::env::var("SOPS_EDITOR")
        .or_else(|_| std::env::var("EDITOR"))
        .unwrap_or_else(|_| "vi".to_owned())
}

pub(super) fn run(g: &GlobalArgs, rep: &mut Reporter, a: Args) -> anyhow::Result<ExitCode> {
    let Args {
        file,
        ignore_mac,
        show_master_keys: _,
        common,
    } = a;
    let env = crate::cli::env(rep)?;
    let ids = identities(&common, &crate::cli::repo_root(g))?;
    let (format, _) = formats(&common, &file);
    let enc = read(&file)?;
    if ignore_mac {
        rep.warn("--ignore-mac: the MAC is NOT checked");
    }
    let opened = sops::open(&enc, format, &ids, sops::DecryptOptions { ignore_mac })
        .map_err(|e| sops_err(e, &file))?;
    let plain = zeroize::Zeroizing::new(
        sops::emit_plain(&opened.content, format).map_err(|e| sops_err(e, &file))?,
    );
    // A private directory (0700) holds the plaintext only while the editor runs;
    // signals are caught first so an interrupt removes it before mcb exits.
    let signals = crate::cli::interrupt::Guard::install();
    let dir = tempfile::Builder::new()
        .prefix("mcb-edit-")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .tempdir()
        .context("cannot create a temporary directory")?;
    let name = file
        .file_name()
        .map(|n| n.to_owned())
        .unwrap_or_else(|| "file".into());
    let tmp = dir.path().join(name);
    mcb::fsutil::write_atomic(&tmp, &plain, Some(0o600))?;
    let editor = editor_command();
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(&tmp)
        .spawn()
        .with_context(|| format!("cannot start the editor `{editor}`"))?;
    let status = match signals.wait(&mut child)? {
        Ok(status) => status,
        Err(sig) => {
            drop(dir);
            anyhow::bail!(
                "interrupted (signal {sig}): the temporary plaintext was removed and {} was not changed",
                file.display()
            );
        }
    };
    if !status.success() {
        anyhow::bail!(
            "the editor `{editor}` failed ({status}); {} was not changed",
            file.display()
        );
    }
    let edited = zeroize::Zeroizing::new(read(&tmp)?);
    if edited[..] == plain[..] {
        // sops exits 200 here; scripts that wrap an editor rely on it (issue 21 D12).
        report_written(g, rep, &file, false, "edited")?;
        return Ok(ExitCode::from(EXIT_NOT_MODIFIED));
    }
    let content = sops::load_plain(&edited, format).map_err(|e| sops_err(e, &file))?;
    let out =
        sops::write_back(&env, &enc, &opened, &content, format).map_err(|e| sops_err(e, &file))?;
    write_in_place(&file, &out)?;
    report_written(g, rep, &file, out != enc, "edited")?;
    Ok(ExitCode::SUCCESS)
}
