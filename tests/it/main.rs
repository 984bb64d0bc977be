//! mcb's integration tests: one binary (as ripgrep and jj do), a module per command, all
//! driving the real `mcb` binary against real components on 127.0.0.1.

mod support;

mod bootstrap;
mod check;
mod cli;
mod crash;
mod creds;
mod dex;
mod differential;
mod first_hour;
mod forge;
mod git;
mod init;
mod init_creds;
mod interop;
mod json_docs;
mod layers;
mod oidc_consumers;
mod pki;
mod publish;
mod readme;
mod recreate;
mod render;
mod rotate;
mod rotation;
mod schema;
mod secrets;
mod shared;
mod vendor;
