//! `mcb example-spec`: an annotated installation spec to start from.

use std::process::ExitCode;

pub const LONG_ABOUT: &str = "\
Print an annotated example installation spec (every section, with the defaults). Edit it
and save it as installations/<name>/installation.yaml, or pass it to
`mcb init-installation NAME --spec FILE`.

Examples:
  mcb example-spec > spec.yaml";

/// `mcb example-spec`.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(g: &super::GlobalArgs, _a: Args) -> anyhow::Result<ExitCode> {
    g.no_json("example-spec", "an annotated YAML spec")?;
    out!("{}", mcb::spec::EXAMPLE);
    Ok(ExitCode::SUCCESS)
}
