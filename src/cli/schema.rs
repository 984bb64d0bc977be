//! `mcb schema`: the installation spec's JSON Schema.

use std::process::ExitCode;

pub const LONG_ABOUT: &str = "\
Print the JSON Schema (draft 2020-12) of installations/<name>/installation.yaml. The same
schema is in schemas/installation.schema.json; editors can use it for completion.

Examples:
  mcb schema > installation.schema.json
  # yaml-language-server: $schema=./installation.schema.json   (first line of a spec)";

/// `mcb schema`.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_g: &super::GlobalArgs, _a: Args) -> anyhow::Result<ExitCode> {
    out!("{}", mcb::spec::schema_json());
    Ok(ExitCode::SUCCESS)
}
