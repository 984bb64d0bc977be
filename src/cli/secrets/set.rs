//! `mcb secrets set` and `mcb secrets unset`: one value changed in place; every other
//! value keeps its ciphertext, and an unchanged tree leaves the file byte-identical.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use mcb::sops::{self, treepath, Content};

use super::flags::{formats, identities, Common};
use super::io::{read, report_written, sops_err, tree_path_err, write_in_place};
use crate::cli::{GlobalArgs, Reporter, UsageError};

/// `mcb secrets set`.
#[derive(Debug, clap::Args)]
pub struct SetArgs {
    /// The encrypted file
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Where, e.g. '["db"]["password"]'
    #[arg(value_name = "PATH")]
    pub path: String,
    /// The value as JSON, e.g. '"text"', '-5', '{"a": [1, true]}'
    #[arg(
        value_name = "JSON",
        allow_hyphen_values = true,
        required_unless_present = "value_stdin"
    )]
    pub value: Option<String>,
    /// VALUE names a file holding the JSON value (keeps it out of process listings)
    #[arg(long, conflicts_with = "value_stdin")]
    pub value_file: bool,
    /// Read the JSON value from stdin (keeps it out of process listings)
    #[arg(long)]
    pub value_stdin: bool,
    /// Do nothing if the path already holds this value
    #[arg(long)]
    pub idempotent: bool,
    /// Open the file even if the MAC does not match
    #[arg(long)]
    pub ignore_mac: bool,
    /// Accepted for sops compatibility (the file keeps its key groups)
    #[arg(long, value_name = "N", hide = true)]
    pub shamir_secret_sharing_threshold: Option<usize>,
    #[command(flatten, next_help_heading = "Keys, config and formats")]
    pub common: Common,
}

/// `mcb secrets unset`.
#[derive(Debug, clap::Args)]
pub struct UnsetArgs {
    /// The encrypted file
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Where, e.g. '["db"]["password"]'
    #[arg(value_name = "PATH")]
    pub path: String,
    /// Do nothing if the path does not exist
    #[arg(long)]
    pub idempotent: bool,
    /// Open the file even if the MAC does not match
    #[arg(long)]
    pub ignore_mac: bool,
    #[command(flatten, next_help_heading = "Keys, config and formats")]
    pub common: Common,
}

pub(super) fn set(g: &GlobalArgs, rep: &mut Reporter, a: SetArgs) -> anyhow::Result<()> {
    let text = set_value_text(a.value, a.value_file, a.value_stdin)?;
    let v = json_value(&text)?;
    // Unchanged content leaves the file byte-identical, so --idempotent is the default.
    let target = Target {
        file: &a.file,
        path: &a.path,
        common: &a.common,
        ignore_mac: a.ignore_mac,
    };
    change_tree(g, rep, target, "set", |doc, steps| {
        treepath::set(doc, steps, v)
    })
}

pub(super) fn unset(g: &GlobalArgs, rep: &mut Reporter, a: UnsetArgs) -> anyhow::Result<()> {
    let target = Target {
        file: &a.file,
        path: &a.path,
        common: &a.common,
        ignore_mac: a.ignore_mac,
    };
    change_tree(g, rep, target, "unset", |doc, steps| {
        if a.idempotent && treepath::get(doc, steps).is_none() {
            return Ok(());
        }
        treepath::unset(doc, steps)
    })
}

/// The value `set`/`unset` change: where, and how the file is opened.
struct Target<'a> {
    file: &'a Path,
    path: &'a str,
    common: &'a Common,
    ignore_mac: bool,
}

/// Decrypts, applies `f` to the first document, writes back in place (sops `set`/`unset`).
fn change_tree(
    g: &GlobalArgs,
    rep: &mut Reporter,
    target: Target<'_>,
    what: &str,
    f: impl FnOnce(&mut sops::Branch, &[treepath::Step]) -> Result<(), String>,
) -> anyhow::Result<()> {
    let Target {
        file,
        path,
        common,
        ignore_mac,
    } = target;
    let env = crate::cli::env(rep)?;
    let ids = identities(common, &crate::cli::repo_root(g))?;
    let (format, _) = formats(common, file);
    let tree_err = |message: String| tree_path_err(file, path, message);
    let steps = treepath::parse(path).map_err(tree_err)?;
    let enc = read(file)?;
    let opened = sops::open(&enc, format, &ids, sops::DecryptOptions { ignore_mac })
        .map_err(|e| sops_err(e, file))?;
    let Content::Tree(mut t) = opened.content.clone() else {
        return Err(tree_err("a binary file has no paths".into()));
    };
    if t.docs.is_empty() {
        t.docs.push(sops::Branch::default());
    }
    f(&mut t.docs[0], &steps).map_err(tree_err)?;
    let out = sops::write_back(&env, &enc, &opened, &Content::Tree(t), format)
        .map_err(|e| sops_err(e, file))?;
    let changed = out != enc;
    if changed {
        write_in_place(file, &out)?;
    }
    report_written(g, rep, file, changed, what)
}

/// The JSON text `set` writes: the argument, the file it names (`--value-file`), or stdin.
fn set_value_text(
    value: Option<String>,
    from_file: bool,
    from_stdin: bool,
) -> anyhow::Result<String> {
    if from_stdin {
        let mut text = String::new();
        std::io::stdin()
            .lock()
            .read_to_string(&mut text)
            .context("cannot read the value from stdin")?;
        return Ok(text);
    }
    let value = value.unwrap_or_default();
    if from_file {
        let bytes = read(Path::new(&value))?;
        return String::from_utf8(bytes).map_err(|_| {
            anyhow::Error::new(UsageError {
                message: format!("{value}: the value file is not UTF-8 text"),
                help: Some("write the value as JSON text".into()),
            })
        });
    }
    Ok(value)
}

/// Parses a JSON value for `set` (numbers become floats, as in sops).
fn json_value(text: &str) -> anyhow::Result<sops::Value> {
    let wrapped = format!("{{\"v\": {text}}}");
    let t = sops::store::json::parse(wrapped.as_bytes()).map_err(|_| UsageError {
        message: format!("`{text}` is not a JSON value"),
        help: Some(
            "quote strings as JSON: '\"text\"'; numbers, true/false, null, [..] and {..} work too"
                .into(),
        ),
    })?;
    let v = t.docs[0].get("v").cloned().unwrap_or(sops::Value::Null);
    // sops loads a structured value as a JSON *file*, whose top level must be an object.
    if matches!(v, sops::Value::List(_)) {
        return Err(UsageError {
            message: format!("`{text}` is a list; sops' set takes a scalar or an object"),
            help: Some(
                "set the items one by one ('[\"key\"][0]'), or wrap the list in an object".into(),
            ),
        }
        .into());
    }
    Ok(v)
}
