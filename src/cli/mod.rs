//! The command line: Podman's command names, flags and short options.
//!
//! One file per command group; each parses its arguments and prints output,
//! and leaves the work to the library modules.

pub mod archive;
pub mod build;
pub mod commit;
pub mod container;
pub mod history;
pub mod image;
pub mod kube;
pub mod limits;
pub mod network;
pub mod pod;
pub mod prune;
pub mod registry;
pub mod secret;
pub mod system;
pub mod volume;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::error::EXIT_ENGINE;
use crate::{Context, Error, Result};

#[derive(Debug, Parser)]
#[command(
    name = "skiff",
    version,
    about = "Manage pods, containers and images, without a daemon and without root",
    propagate_version = true,
    disable_help_subcommand = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// The global options: Podman's, accepted before or after the command name.
///
/// A struct of their own so that a fast path can parse one command with the
/// same globals without building the whole command tree.
#[derive(Debug, clap::Args)]
pub struct GlobalArgs {
    /// Path to the root directory in which data, including images, is stored
    #[arg(long, global = true, value_name = "PATH")]
    pub root: Option<PathBuf>,
    /// Path to the 'run directory' where all state information is stored
    #[arg(long, global = true, value_name = "PATH")]
    pub runroot: Option<PathBuf>,
    /// Storage driver: overlay, fuse-overlayfs or vfs (default: detected)
    #[arg(long, global = true, value_name = "DRIVER", env = "STORAGE_DRIVER")]
    pub storage_driver: Option<String>,
    /// Log messages at and above this level: trace, debug, info, warn, error
    #[arg(
        long,
        global = true,
        default_value = "warn",
        value_name = "LEVEL",
        value_parser = ["trace", "debug", "info", "warn", "warning", "error", "fatal", "panic"]
    )]
    pub log_level: String,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Attach to a running container
    Attach(container::AttachArgs),
    /// Create new image based on the changed container
    Commit(commit::CommitArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(container::CpArgs),
    /// Create but do not start a container
    Create(Box<container::CreateCmdArgs>),
    /// Display the changes to the object's file system
    Diff(commit::DiffArgs),
    /// Run a process in a running container
    Exec(container::ExecArgs),
    /// Export a container's filesystem contents as a tar archive
    Export(container::ExportArgs),
    /// Display the configuration of an object (container, image, volume or network)
    Inspect(container::ObjectInspectArgs),
    /// Kill one or more running containers with a specific signal
    Kill(container::KillArgs),
    /// Fetch the logs of one or more containers
    Logs(container::LogsArgs),
    /// Pause all the processes in one or more containers
    Pause(container::PauseArgs),
    /// List containers
    Ps(container::PsArgs),
    /// Rename an existing container
    Rename(container::RenameArgs),
    /// Restart one or more containers
    Restart(container::RestartArgs),
    /// Remove one or more containers
    Rm(container::RmArgs),
    /// Run a command in a new container
    Run(Box<container::RunArgs>),
    /// Start one or more containers
    Start(container::StartArgs),
    /// Stop one or more containers
    Stop(container::StopArgs),
    /// Display the running processes of a container
    Top(container::TopArgs),
    /// Unpause the processes in one or more containers
    Unpause(container::PauseArgs),
    /// Update the resource limits of a running container
    Update(container::UpdateArgs),
    /// Display a live stream of container resource usage statistics
    Stats(container::StatsArgs),
    /// Block on one or more containers and print their exit codes
    Wait(container::WaitArgs),
    /// Manage containers
    #[command(subcommand)]
    Container(container::ContainerCommand),
    /// Build an image from a Containerfile or Dockerfile
    Build(Box<build::BuildArgs>),
    /// Build images with Docker's buildx command line (build only)
    #[command(subcommand)]
    Buildx(build::BuildxCommand),
    /// Import a tarball to create a filesystem image
    Import(image::ImportArgs),
    /// List images in local storage
    Images(image::ImagesArgs),
    /// Remove one or more images from local storage
    Rmi(image::RmiArgs),
    /// Add an additional name to a local image
    Tag(image::TagArgs),
    /// Remove a name from a local image
    Untag(image::UntagArgs),
    /// Manage images
    #[command(subcommand)]
    Image(image::ImageCommand),
    /// Save image(s) to an archive
    Save(archive::SaveArgs),
    /// Load image(s) from a tar archive
    Load(archive::LoadArgs),
    /// Show the history of an image
    History(history::HistoryArgs),
    /// Pull an image from a registry
    Pull(registry::PullArgs),
    /// Push an image to a registry
    Push(registry::PushArgs),
    /// Log in to a container registry
    Login(registry::LoginArgs),
    /// Log out of a container registry
    Logout(registry::LogoutArgs),
    /// Search a registry for images
    Search(registry::SearchArgs),
    /// Display skiff system information
    Info(system::InfoArgs),
    /// Display the skiff version information
    Version(system::VersionArgs),
    /// Run a command in a modified user namespace
    Unshare(system::UnshareArgs),
    /// Manage skiff: prune unused data, reset the store
    #[command(subcommand)]
    System(system::SystemCommand),
    /// Manage networks
    #[command(subcommand)]
    Network(network::NetworkCommand),
    /// List port mappings of a container
    Port(network::PortArgs),
    /// Manage pods
    #[command(subcommand)]
    Pod(pod::PodCommand),
    /// Manage volumes
    #[command(subcommand)]
    Volume(volume::VolumeCommand),
    /// Manage secrets
    #[command(subcommand)]
    Secret(secret::SecretCommand),
    /// Play, remove and generate Kubernetes YAML
    #[command(subcommand)]
    Kube(kube::KubeCommand),
    /// Play Kubernetes YAML (Podman's older spelling of kube play)
    #[command(subcommand)]
    Play(kube::PlayCommand),
    /// Generate Kubernetes YAML (Podman's older spelling of kube generate)
    #[command(subcommand)]
    Generate(kube::GenerateCommand),
    /// Internal: the rootless network namespace holder and its DNS server
    #[command(hide = true, name = "_netns")]
    Netns_,
    /// Internal: forwards published ports into a namespace
    #[command(hide = true, name = "_portfwd")]
    Portfwd_(network::PortfwdArgs),
    /// Internal: the long-lived user namespace holder
    #[command(hide = true, name = "_pause")]
    Pause_,
}

/// A parsed command, routed: container verbs share one dispatcher.
enum Routed {
    Container(container::ContainerCommand),
    Other(Command),
}

impl Command {
    /// The container verbs shared by the top level and `skiff container`.
    fn route(self) -> Routed {
        use container::ContainerCommand as C;
        Routed::Container(match self {
            Command::Attach(a) => C::Attach(a),
            Command::Commit(a) => C::Commit(a),
            Command::Cp(a) => C::Cp(a),
            Command::Create(a) => C::Create(a),
            Command::Exec(a) => C::Exec(a),
            Command::Export(a) => C::Export(a),
            Command::Kill(a) => C::Kill(a),
            Command::Logs(a) => C::Logs(a),
            Command::Pause(a) => C::Pause(a),
            Command::Ps(a) => C::Ps(a),
            Command::Rename(a) => C::Rename(a),
            Command::Restart(a) => C::Restart(a),
            Command::Rm(a) => C::Rm(a),
            Command::Run(a) => C::Run(a),
            Command::Start(a) => C::Start(a),
            Command::Stop(a) => C::Stop(a),
            Command::Top(a) => C::Top(a),
            Command::Unpause(a) => C::Unpause(a),
            Command::Update(a) => C::Update(a),
            Command::Stats(a) => C::Stats(a),
            Command::Wait(a) => C::Wait(a),
            Command::Container(c) => c,
            other => return Routed::Other(other),
        })
    }
}

/// Parses the command line, runs the command and returns the exit code.
pub fn main() -> i32 {
    die_quietly_on_closed_stdout();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            return match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                    let _ = e.print();
                    0
                }
                _ => {
                    eprintln!("Error: {}", parse_error_line(&e));
                    EXIT_ENGINE
                }
            };
        }
    };
    init_logging(&cli.global.log_level);
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            report(&e);
            e.exit_code()
        }
    }
}

/// `skiff inspect x | head`: Rust ignores SIGPIPE, so printing to a closed
/// stdout or stderr panics ("failed printing to stdout: Broken pipe").
/// Podman, a Go program, dies by SIGPIPE there (Go raises it for EPIPE on
/// fds 1 and 2 only, other descriptors get the error); this hook does the
/// same for the CLI, and leaves every other panic to the default hook.
/// The supervisor and the infra process never come here: a closed pipe in
/// a relay stays an error they handle.
fn die_quietly_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let msg = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if msg.starts_with("failed printing to std") && msg.contains("Broken pipe") {
            die_by_sigpipe();
        }
        default(info)
    }));
}

#[allow(unsafe_code)]
fn die_by_sigpipe() {
    // SAFETY: signal(2) with SIG_DFL installs no handler code, and raise(3)
    // then ends this process by SIGPIPE; nothing runs after it.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        libc::raise(libc::SIGPIPE);
    }
}

/// clap's multi-line usage errors as one Podman-style line.
fn parse_error_line(e: &clap::Error) -> String {
    use clap::error::{ContextKind, ErrorKind};
    if e.kind() == ErrorKind::UnknownArgument {
        if let Some(arg) = e.get(ContextKind::InvalidArg) {
            let arg = arg.to_string();
            if arg.starts_with('-') {
                return format!("unknown flag: {arg}");
            }
            return format!("unknown command or argument: {arg}");
        }
    }
    let text = e.to_string();
    let first = text.lines().next().unwrap_or("invalid arguments");
    first.trim_start_matches("error: ").to_string()
}

/// Prints an error the way Podman users know it: one line, `Error: ` prefix.
pub fn report(e: &Error) {
    eprintln!("Error: {e}");
}

fn init_logging(level: &str) {
    let filter = match level {
        "trace" | "debug" | "info" | "warn" | "error" => level,
        "warning" => "warn",
        "fatal" | "panic" => "error",
        _ => "warn",
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(format!(
            "skiff={filter}"
        )))
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .try_init();
}

fn run(cli: Cli) -> Result<i32> {
    // Nothing the caller left open reaches the processes skiff starts.
    crate::runtime::fds::cloexec_inherited();
    if let Command::Pause_ = cli.command {
        return crate::runtime::userns::pause_main();
    }
    let ctx = Context::new(
        cli.global.root,
        cli.global.runroot,
        cli.global.storage_driver,
    )?;
    let command = match cli.command.route() {
        Routed::Container(c) => {
            if c.needs_userns() {
                crate::runtime::userns::enter(&ctx)?;
            }
            return container::dispatch(&ctx, c);
        }
        Routed::Other(other) => other,
    };
    let needs_userns = match &command {
        Command::Import(_) | Command::Rmi(_) | Command::Unshare(_) => true,
        // Working containers and their layers live in the namespace.
        Command::Build(_) | Command::Buildx(_) => true,
        // A container's upper directory holds files of subordinate ids.
        Command::Diff(_) => true,
        // Layers hold files owned by subordinate ids: only the namespace reads or writes them.
        Command::Pull(_) | Command::Push(_) | Command::Save(_) | Command::Load(_) => true,
        Command::Image(c) => c.needs_userns(),
        Command::Network(c) => c.needs_userns(),
        Command::System(c) => c.needs_userns(),
        Command::Volume(c) => c.needs_userns(),
        Command::Kube(c) => c.needs_userns(),
        Command::Play(_) => true,
        Command::Pod(c) => c.needs_userns(),
        _ => false,
    };
    if needs_userns {
        crate::runtime::userns::enter(&ctx)?;
    }
    match command {
        Command::Inspect(a) => container::inspect(&ctx, a),
        Command::Build(a) => build::build(&ctx, *a),
        Command::Buildx(build::BuildxCommand::Build(a)) => build::build(&ctx, *a),
        Command::Diff(a) => commit::diff(&ctx, a, commit::DiffOf::Either),
        Command::Import(a) => image::import(&ctx, a),
        Command::Images(a) => image::images(&ctx, a),
        Command::Rmi(a) => image::rmi(&ctx, a),
        Command::Tag(a) => image::tag(&ctx, a),
        Command::Untag(a) => image::untag(&ctx, a),
        Command::Image(c) => image::dispatch(&ctx, c),
        Command::Save(a) => archive::save(&ctx, a),
        Command::Load(a) => archive::load(&ctx, a),
        Command::History(a) => history::history(&ctx, a),
        Command::Pull(a) => registry::pull(&ctx, a),
        Command::Push(a) => registry::push(&ctx, a),
        Command::Login(a) => registry::login(&ctx, a),
        Command::Logout(a) => registry::logout(&ctx, a),
        Command::Search(a) => registry::search(&ctx, a),
        Command::Info(a) => system::info(&ctx, a),
        Command::Version(a) => system::version(&ctx, a),
        Command::Unshare(a) => system::unshare(&ctx, a),
        Command::System(c) => system::dispatch(&ctx, c),
        Command::Network(c) => network::dispatch(&ctx, c),
        Command::Port(a) => network::port(&ctx, a),
        Command::Volume(c) => volume::dispatch(&ctx, c),
        Command::Pod(c) => pod::dispatch(&ctx, c),
        Command::Secret(c) => secret::dispatch(&ctx, c),
        Command::Kube(c) => kube::dispatch(&ctx, c),
        Command::Play(kube::PlayCommand::Kube(a)) => kube::play(&ctx, a),
        Command::Generate(kube::GenerateCommand::Kube(a)) => kube::generate_yaml(&ctx, a),
        Command::Netns_ => crate::network::bridge::holder_main(&ctx),
        Command::Portfwd_(a) => crate::network::portfwd::main(a.into()),
        _ => unreachable!("container commands and the holder are dispatched above"),
    }
}
