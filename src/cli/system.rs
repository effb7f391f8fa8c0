//! System commands: info, version, unshare.

use clap::Args;

use crate::{Context, Error, Result};

#[derive(Debug, Args)]
pub struct InfoArgs {
    /// Format the output using a Go template, or json
    #[arg(short, long)]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
pub struct VersionArgs {
    /// Format the output using a Go template, or json
    #[arg(short, long)]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
#[command(trailing_var_arg = true)]
pub struct UnshareArgs {
    /// Command to run in the user namespace (default: $SHELL)
    #[arg(allow_hyphen_values = true)]
    pub command: Vec<String>,
}

pub fn info(_ctx: &Context, _a: InfoArgs) -> Result<i32> {
    Err(Error::msg("not implemented yet"))
}

pub fn version(_ctx: &Context, _a: VersionArgs) -> Result<i32> {
    Err(Error::msg("not implemented yet"))
}

/// Runs a command inside the user and mount namespaces skiff uses, where
/// files owned by subordinate ids are owned by their in-container ids.
pub fn unshare(ctx: &Context, a: UnshareArgs) -> Result<i32> {
    use std::os::unix::process::CommandExt;
    let mut argv = a.command;
    if argv.is_empty() {
        argv.push(std::env::var("SHELL").unwrap_or_else(|_| "/bin/sh".into()));
    }
    let err = std::process::Command::new(&argv[0])
        .args(&argv[1..])
        .env("CONTAINERS_GRAPHROOT", &ctx.root)
        .env("CONTAINERS_RUNROOT", &ctx.runroot)
        .exec();
    let code = if err.kind() == std::io::ErrorKind::NotFound {
        crate::error::EXIT_NOT_FOUND
    } else {
        crate::error::EXIT_CANNOT_INVOKE
    };
    Err(Error::with_code(
        code,
        format!("{}: {}", argv[0], crate::error::io_reason(&err)),
    ))
}
