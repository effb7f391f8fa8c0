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

pub fn unshare(_ctx: &Context, _a: UnshareArgs) -> Result<i32> {
    Err(Error::msg("not implemented yet"))
}
