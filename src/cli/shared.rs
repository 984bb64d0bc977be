//! `mcb shared import|rotate|list`: shared secrets taken in once and fanned out to the
//! installations that list them in `sharedSecrets`.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use mcb::ops::shared::{self, InputFormat, Mode, Report, Request, SharedValue};
use mcb::progress::Progress;
use zeroize::Zeroizing;

use super::output::{print_files, print_json, print_published, OutputFormat, Reporter};
use super::publish::PublishArgs;

pub const LONG_ABOUT: &str = "\
Shared secrets are values many installations use (container registry credentials, a GitHub
OAuth app for Dex, a DNS provider token, a monitoring API key). mcb keeps each once, in
shared/secrets/<NAME>.sops.yaml, encrypted for the admin recipients (sops.recipients of the
specs) and for every installation that lists it:

  sharedSecrets:
    - registry                               # Secret `registry` in namespace default
    - name: dex-github                       # or with a mapping
      namespace: dex
      secretName: github-oauth
      type: Opaque
      keys: {clientID: client-id, clientSecret: client-secret}   # only these, renamed

`mcb render` places each as a Secret at installations/<n>/secrets/shared/<NAME>.sops.yaml,
encrypted for that installation (Flux applies secrets/ with SOPS decryption), byte-stable
while the value and the mapping stay the same; it also re-wraps shared files for a new set
of recipients (an installation added or removed) without touching their values.

import and rotate write the shared file and every copy in one commit on branch
mcb/shared-<NAME> (and one PR with --push --pr) that lists the installations and key names,
never the values. Input is one flat map: YAML, JSON or dotenv (detected, or --format),
from stdin, --from-file or --from-env PREFIX. It is validated (no empty or duplicate keys,
no binary values) and never written to disk in clear. Reading existing shared files needs
an admin age key (--age-key-file or SOPS_AGE_KEY*).

Examples:
  pass show --json registry | mcb shared import registry
  mcb shared import dex-github --from-file dex-github.env
  REGISTRY_username=bot REGISTRY_password=… mcb shared import registry --from-env REGISTRY_
  echo 'password: new' | mcb shared rotate registry --push --pr
  mcb shared list -o json";

/// `mcb shared`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Sub,
}

/// The subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Sub {
    /// Store a shared secret (new or replaced) and update every installation using it
    Import(ImportArgs),
    /// Change some or all keys of an existing shared secret everywhere it is used
    Rotate(ImportArgs),
    /// Show each shared secret: keys, installations using it, when it last changed
    List,
}

/// Where the value comes from, and how to publish.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The shared secret's name (a DNS-1123 label)
    #[arg(value_parser = super::name_arg)]
    pub name: String,

    /// Read the value from FILE instead of stdin
    #[arg(value_parser = super::path_arg, long, value_name = "FILE", conflicts_with = "from_env")]
    pub from_file: Option<PathBuf>,

    /// Take every environment variable starting with PREFIX (the rest is the key)
    #[arg(long, value_name = "PREFIX")]
    pub from_env: Option<String>,

    /// Input format [default: the file's extension, else detected]
    #[arg(long, value_name = "FORMAT", value_parser = ["yaml", "json", "dotenv"])]
    pub format: Option<String>,

    /// An age identity file to try first (besides SOPS_AGE_KEY* and the default keys.txt)
    #[arg(value_parser = super::path_arg, long, value_name = "FILE")]
    pub age_key_file: Option<PathBuf>,

    #[command(flatten)]
    pub publish: PublishArgs,
}

pub fn run(g: &super::GlobalArgs, a: Args) -> anyhow::Result<ExitCode> {
    match a.command {
        Sub::Import(i) => import(g, i, Mode::Import),
        Sub::Rotate(i) => import(g, i, Mode::Rotate),
        Sub::List => list(g),
    }
}

fn read_value(a: &ImportArgs) -> anyhow::Result<SharedValue> {
    let format = a.format.as_deref().and_then(InputFormat::from_name);
    if let Some(prefix) = &a.from_env {
        return Ok(shared::from_env(prefix, std::env::vars())?);
    }
    let (bytes, source) = match &a.from_file {
        Some(p) => (
            Zeroizing::new(mcb::fsutil::read(p)?),
            p.display().to_string(),
        ),
        None => {
            let mut b = Zeroizing::new(Vec::new());
            std::io::stdin().read_to_end(&mut b)?;
            (b, "<stdin>".to_owned())
        }
    };
    let format = format.or_else(|| a.from_file.as_deref().and_then(InputFormat::from_path));
    Ok(shared::parse_input(&bytes, format, &source)?)
}

fn import(g: &super::GlobalArgs, a: ImportArgs, mode: Mode) -> anyhow::Result<ExitCode> {
    let mut reporter = Reporter::new(g);
    let env = super::env(&mut reporter)?;
    let (publish, pr) = a.publish.resolve_from_env()?;
    let value = read_value(&a)?;
    let root = super::repo_root(g);
    let ids = mcb::ops::identity::lookup_any(a.age_key_file.as_deref(), &root)?;
    let req = Request {
        name: a.name.clone(),
        value,
        mode,
        publish,
        pr,
    };
    let report = shared::import(&env, &root, &ids, req, &mut reporter)?;
    match g.output {
        OutputFormat::Json => print_json(&report)?,
        OutputFormat::Human | OutputFormat::Sarif => print_report(&report)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn print_report(r: &Report) -> std::io::Result<()> {
    print_files(&r.outcome, &format!("shared secret {}", r.name))?;
    outln!("\nshared secret {}: keys {}", r.name, r.keys.join(", "));
    if !r.changed_keys.is_empty() {
        outln!("changed keys: {}", r.changed_keys.join(", "));
    }
    if !r.removed_keys.is_empty() {
        outln!("removed keys: {}", r.removed_keys.join(", "));
    }
    if r.installations.is_empty() {
        outln!("used by no installation yet (list it in a spec's sharedSecrets)");
    } else {
        outln!("installations: {}", r.installations.join(", "));
    }
    print_published(&r.outcome)?;
    Ok(())
}

fn list(g: &super::GlobalArgs) -> anyhow::Result<ExitCode> {
    let mut reporter = Reporter::new(g);
    let root = super::repo_root(g);
    let listed = shared::list(&root)?;
    match g.output {
        OutputFormat::Json => print_json(&listed)?,
        OutputFormat::Human | OutputFormat::Sarif => {
            if listed.is_empty() {
                reporter.up_to_date("no shared secrets (add one with `mcb shared import NAME`)");
            }
            for s in &listed {
                outln!("{}", s.name);
                outln!("  keys:          {}", s.keys.join(", "));
                outln!(
                    "  installations: {}",
                    if s.installations.is_empty() {
                        "(none)".to_owned()
                    } else {
                        s.installations.join(", ")
                    }
                );
                outln!("  last changed:  {}", s.last_changed);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
