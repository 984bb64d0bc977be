//! mcb — management cluster bootstrap, as a library.
//!
//! An installation spec goes in; a complete, SOPS-encrypted GitOps config repo comes out,
//! committed on a branch and proposed as a pull request. The crate is split the way data
//! flows (see `docs/design.md`):
//!
//! `spec` (what the user asked for) -> `pki` / `creds` (credentials, as values) ->
//! `render` (a [`fileset::FileSet`] of desired files) -> `repo` (compare with disk, seal
//! secrets with `sops`, write atomically) -> `git` (branch, commit, push) -> `forge`
//! (pull request). `ops` runs each user-facing command as ordered, re-runnable steps.
//!
//! The library never prints: progress goes through [`progress::Progress`], results are
//! returned as values, and the binary (`src/main.rs`, `src/cli/`) owns all output.

pub mod check;
pub mod creds;
pub mod env;
pub mod error;
pub mod fileset;
pub mod flux;
pub mod forge;
pub mod fsutil;
pub mod git;
pub mod inventory;
pub mod k8s;
pub mod ops;
pub mod pki;
pub mod progress;
pub mod provider;
pub mod render;
pub mod repo;
pub mod schema;
/// The SOPS engine, a crate of its own (`crates/mcb-sops`): it cannot import mcb.
pub use mcb_sops as sops;
pub mod spec;
pub mod versions;

pub use env::Env;
pub use error::{help_of, Error, Help};
