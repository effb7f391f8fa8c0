//! Container commands: run, export, ps, rm, inspect.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::{Context, Error, Result};

/// Options shared by `run` and `create`.
#[derive(Debug, Args, Clone, Default)]
pub struct CreateArgs {
    /// Assign a name to the container
    #[arg(long)]
    pub name: Option<String>,
    /// Set environment variables in the container
    #[arg(short, long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_file: Vec<PathBuf>,
    /// Working directory inside the container
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short, long)]
    pub user: Option<String>,
    /// Set the container host name
    #[arg(short = 'h', long)]
    pub hostname: Option<String>,
    /// Bind mount a volume into the container (host-dir:container-dir[:OPTIONS])
    #[arg(short, long = "volume")]
    pub volume: Vec<String>,
    /// Attach a filesystem mount (type=bind|tmpfs,source=...,destination=...)
    #[arg(long)]
    pub mount: Vec<String>,
    /// Mount a temporary filesystem (tmpfs) into the container (path[:options])
    #[arg(long)]
    pub tmpfs: Vec<String>,
    /// Make the container's root filesystem read-only
    #[arg(long)]
    pub read_only: bool,
    /// Overwrite the default ENTRYPOINT of the image
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Add capabilities to the container
    #[arg(long)]
    pub cap_add: Vec<String>,
    /// Drop capabilities from the container
    #[arg(long)]
    pub cap_drop: Vec<String>,
    /// Give extended privileges to this container
    #[arg(long)]
    pub privileged: bool,
    /// Connect the container to a network: none, host, private
    #[arg(long, visible_alias = "net")]
    pub network: Option<String>,
    /// Ulimit options (name=soft[:hard])
    #[arg(long)]
    pub ulimit: Vec<String>,
    /// Keep STDIN open even if not attached
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY for the container
    #[arg(short, long)]
    pub tty: bool,
    /// Add metadata to the container (key=value)
    #[arg(short, long = "label")]
    pub label: Vec<String>,
    /// Security options (no-new-privileges, ...)
    #[arg(long)]
    pub security_opt: Vec<String>,
    /// Restart policy: no, always, on-failure[:max], unless-stopped
    #[arg(long)]
    pub restart: Option<String>,
    /// Signal to stop the container
    #[arg(long)]
    pub stop_signal: Option<String>,
}

#[derive(Debug, Args)]
#[command(trailing_var_arg = true)]
pub struct RunArgs {
    #[command(flatten)]
    pub create: CreateArgs,
    /// Run the container in the background and print the container ID
    #[arg(short, long)]
    pub detach: bool,
    /// Remove the container when it exits
    #[arg(long)]
    pub rm: bool,
    /// Proxy received signals to the process
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub sig_proxy: bool,
    /// Image to run
    pub image: String,
    /// Command and arguments
    #[arg(allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write to a file instead of standard output
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    pub container: String,
}

#[derive(Debug, Args)]
pub struct PsArgs {
    /// Show all the containers, default is only running containers
    #[arg(short, long)]
    pub all: bool,
    /// Print the numeric IDs of the containers only
    #[arg(short, long)]
    pub quiet: bool,
    /// Display the extended information
    #[arg(long)]
    pub no_trunc: bool,
    /// Pretty-print containers using a Go template, or json
    #[arg(long)]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Remove all containers
    #[arg(short, long)]
    pub all: bool,
    /// Force removal of a running container
    #[arg(short, long)]
    pub force: bool,
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Format the output using a Go template, or json
    #[arg(short, long)]
    pub format: Option<String>,
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum ContainerCommand {
    /// Run a command in a new container
    Run(RunArgs),
    /// List containers
    #[command(visible_alias = "ls", alias = "list")]
    Ps(PsArgs),
    /// Remove one or more containers
    Rm(RmArgs),
    /// Export a container's filesystem contents as a tar archive
    Export(ExportArgs),
    /// Display the configuration of a container
    Inspect(InspectArgs),
}

impl ContainerCommand {
    pub fn needs_userns(&self) -> bool {
        matches!(
            self,
            ContainerCommand::Run(_) | ContainerCommand::Rm(_) | ContainerCommand::Export(_)
        )
    }
}

pub fn dispatch(ctx: &Context, c: ContainerCommand) -> Result<i32> {
    match c {
        ContainerCommand::Run(a) => run(ctx, a),
        ContainerCommand::Ps(a) => ps(ctx, a),
        ContainerCommand::Rm(a) => rm(ctx, a),
        ContainerCommand::Export(a) => export(ctx, a),
        ContainerCommand::Inspect(a) => inspect(ctx, a),
    }
}

pub fn run(_ctx: &Context, _a: RunArgs) -> Result<i32> {
    Err(Error::msg("not implemented yet"))
}
pub fn export(_ctx: &Context, _a: ExportArgs) -> Result<i32> {
    Err(Error::msg("not implemented yet"))
}
pub fn ps(_ctx: &Context, _a: PsArgs) -> Result<i32> {
    Err(Error::msg("not implemented yet"))
}
pub fn rm(_ctx: &Context, _a: RmArgs) -> Result<i32> {
    Err(Error::msg("not implemented yet"))
}
pub fn inspect(_ctx: &Context, _a: InspectArgs) -> Result<i32> {
    Err(Error::msg("not implemented yet"))
}
