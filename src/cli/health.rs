//! `healthcheck run`: run a container's healthcheck now (podman-healthcheck-run(1)).

use clap::{Args, Subcommand};

use crate::state::health::HealthStatus;
use crate::{Context, Result};

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum HealthcheckCommand {
    /// Run the health check of a container
    Run(RunArgs),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The container's supervisor runs this check: it carries out
    /// `--health-on-failure restart` itself
    #[arg(long, hide = true)]
    pub supervised: bool,
    pub container: String,
}

pub fn dispatch(ctx: &Context, c: HealthcheckCommand) -> Result<i32> {
    match c {
        HealthcheckCommand::Run(a) => run(ctx, a),
    }
}

/// Exit 0 when the check passed, 1 (printing the status) when the
/// container is unhealthy or still starting, 125 for an error, as Podman.
pub fn run(ctx: &Context, a: RunArgs) -> Result<i32> {
    let c = crate::container::lookup(ctx, &a.container)?;
    match crate::container::health::run(ctx, &c, a.supervised)? {
        HealthStatus::Healthy => Ok(0),
        s => {
            println!("{}", s.as_str());
            Ok(1)
        }
    }
}
