//! `mcb secrets decrypt`: files (or one `--extract`ed value) to stdout, in place or to
//! `--output`, as sops prints them.

use std::path::{Path, PathBuf};

use mcb::progress::Progress;
use mcb::sops::{self, treepath, Content, Format};

use super::flags::{formats, identities, Common, OutFlags};
use super::io::{deliver, indented, one_output, read, sops_err, tree_path_err};
use crate::cli::{GlobalArgs, Reporter};

/// `mcb secrets decrypt`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Encrypted files (several: printed one after the other)
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Print only this part of the tree, e.g. '["data"]["password"]'
    #[arg(long, value_name = "PATH")]
    pub extract: Option<String>,
    /// Skip the MAC check (a tampered file then decrypts: dangerous)
    #[arg(long)]
    pub ignore_mac: bool,
    #[command(flatten)]
    pub out: OutFlags,
    #[command(flatten, next_help_heading = "Keys, config and formats")]
    pub common: Common,
}

pub(super) fn run(g: &GlobalArgs, rep: &mut Reporter, a: Args) -> anyhow::Result<()> {
    let Args {
        files,
        extract: path,
        ignore_mac,
        out,
        common,
    } = a;
    one_output(g, &files, &out)?;
    let ids = identities(&common, &crate::cli::repo_root(g))?;
    if ignore_mac {
        rep.warn("--ignore-mac: the MAC is NOT checked; a tampered file decrypts without error");
    }
    let mut outs = Vec::new();
    for file in &files {
        let (input, output) = formats(&common, file);
        let enc = read(file)?;
        let opened = sops::open_for_reading(&enc, input, &ids, sops::DecryptOptions { ignore_mac })
            .map_err(|e| sops_err(e, file))?;
        // The encrypted text is several times the plaintext: gone before the output is built.
        drop(enc);
        let bytes = match &path {
            Some(p) => extract(&opened.content, output, p, file)?,
            None => indented(
                &common,
                sops::emit_plain(&opened.content, output).map_err(|e| sops_err(e, file))?,
                output,
                file,
            )?,
        };
        outs.push(bytes);
    }
    deliver(g, rep, &files, &outs, &out, "decrypted")
}

/// An extracted value as sops prints it (see [`sops::emit_extracted`]).
fn extract(content: &Content, format: Format, path: &str, file: &Path) -> anyhow::Result<Vec<u8>> {
    let tree_err = |message: String| tree_path_err(file, path, message);
    let steps = treepath::parse(path).map_err(tree_err)?;
    let Content::Tree(t) = content else {
        return Err(tree_err("a binary file has no paths".into()));
    };
    let v = t
        .docs
        .first()
        .and_then(|d| treepath::get(d, &steps))
        .ok_or_else(|| tree_err("no value at this path".into()))?;
    sops::emit_extracted(v, format).map_err(|e| sops_err(e, file))
}
