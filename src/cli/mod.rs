//! The command line: Podman's command names, flags and short options.
//!
//! One file per command group; each parses its arguments and prints output,
//! and leaves the work to the library modules.

pub mod archive;
pub mod build;
pub mod commit;
pub mod completion;
pub mod container;
pub mod events;
pub mod global;
pub mod health;
pub mod history;
pub mod image;
pub mod kube;
pub mod limits;
pub mod network;
pub mod pod;
pub mod prune;
pub mod ps;
pub mod registry;
pub mod run_flags;
pub mod secret;
pub mod system;
pub mod systemd;
pub mod volume;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::error::EXIT_ENGINE;
use crate::{Context, Error, Result};

/// What `skiff --help` says skiff is.
const ABOUT: &str = "Manage pods, containers and images, without a daemon and without root";

#[derive(Debug, Parser)]
#[command(
    name = "skiff",
    // `skiff version 0.1.0`, as `podman --version` says `podman version 5.0.0`.
    version = concat!("version ", env!("CARGO_PKG_VERSION")),
    about = ABOUT,
    disable_version_flag = true,
    disable_help_subcommand = true,
    // pflag's way, which Podman scripts rely on: `--name a --name b` is b.
    args_override_self = true
)]
pub struct Cli {
    /// Print the version (Podman's -v as well as --version)
    #[arg(short = 'v', long = "version", action = clap::ArgAction::Version)]
    version: Option<bool>,
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
    /// Events logger: file or none (journald where a journal runs)
    #[arg(long, global = true, value_name = "BACKEND", value_enum)]
    pub events_backend: Option<global::EventsBackend>,
    /// Cgroup manager to use: cgroupfs or systemd
    #[arg(long, global = true, value_name = "MANAGER", value_enum)]
    pub cgroup_manager: Option<global::CgroupManager>,
    /// Redirect stdout to /dev/null
    #[arg(long, global = true)]
    pub noout: bool,
    /// Send this command's standard output to a file
    #[arg(long, global = true, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// Path to the tmp directory
    #[arg(long, global = true, value_name = "PATH")]
    pub tmpdir: Option<PathBuf>,
    /// OCI runtime: only skiff's own (skiff)
    #[arg(long, global = true, value_name = "NAME")]
    pub runtime: Option<String>,
    /// Flags for the OCI runtime (not supported: the built-in runtime takes none)
    #[arg(long, global = true, value_name = "FLAG")]
    pub runtime_flag: Vec<String>,
    /// Storage driver option: overlay.mount_program=PATH (fuse-overlayfs)
    #[arg(long, global = true, value_name = "OPTION")]
    pub storage_opt: Vec<String>,
    /// Remote service URL (not supported: skiff is daemonless)
    #[arg(long, global = true, value_name = "URL")]
    pub url: Option<String>,
    /// Remote connection name (not supported: skiff is daemonless)
    #[arg(long, global = true, value_name = "NAME")]
    pub connection: Option<String>,
    /// Access a remote service (not supported: skiff is daemonless)
    #[arg(short = 'r', long, global = true)]
    pub remote: bool,
}

impl GlobalArgs {
    /// Checks and applies the options that change this process (before the
    /// store is opened), and returns the storage driver to use.
    fn apply(&self) -> Result<Option<String>> {
        let opt_driver = global::check(&global::Flags {
            events_backend: self.events_backend,
            cgroup_manager: self.cgroup_manager,
            runtime: self.runtime.as_deref(),
            runtime_flags: &self.runtime_flag,
            storage_opts: &self.storage_opt,
            remote: self.remote,
            url: self.url.as_deref(),
            connection: self.connection.as_deref(),
        })?;
        global::redirect_stdout(self.noout, self.out.as_ref())?;
        Ok(match (&self.storage_driver, opt_driver) {
            (Some(d), _) => Some(d.clone()),
            (None, d) => d.map(String::from),
        })
    }
}

/// The parser's tree with pflag's value rule ([`hyphen_values`]) on every
/// option: built first, so that the deferred options of every command
/// (`defer` on the command enums) are there to be changed.
fn hyphen_tree() -> clap::Command {
    let mut root = <Cli as clap::CommandFactory>::command();
    root.build();
    hyphen_values(root)
}

/// pflag's value rule, applied to a command tree: an option's value may
/// begin with `-` (`history --format '--{{.ID}}--'`), as in Podman. Only
/// the options already in the tree: a command's deferred options are not
/// until the tree is built.
fn hyphen_values(cmd: clap::Command) -> clap::Command {
    cmd.mut_args(|a| {
        let single_value = a.get_action().takes_values()
            && !a.is_positional()
            && a.get_num_args()
                .is_none_or(|n| n.min_values() == 1 && n.max_values() == 1);
        if single_value {
            a.allow_hyphen_values(true)
        } else {
            a
        }
    })
    .mut_subcommands(hyphen_values)
}

/// The commands. Every command enum defers its commands' options
/// (`defer`): a command line builds the options of its own command only,
/// not the thousands of all the others, which cost more than most commands'
/// own work (CPU and page faults at each start; under an emulated CPU, as
/// in the VM lane, a large part of a unit's start).
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum Command {
    /// Attach to a running container
    Attach(container::AttachArgs),
    /// Create new image based on the changed container
    Commit(commit::CommitArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(container::CpArgs),
    /// Create but do not start a container
    Create(Box<container::CreateCmdArgs>),
    /// Generate shell autocompletions
    Completion(completion::CompletionArgs),
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
    /// Show skiff events
    Events(events::EventsArgs),
    /// Manage health checks on containers
    #[command(subcommand)]
    Healthcheck(health::HealthcheckCommand),
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
    /// Generate Kubernetes YAML or systemd units
    #[command(subcommand)]
    Generate(kube::GenerateCommand),
    /// Internal: the rootless network namespace holder and its DNS server
    #[command(hide = true, name = "_netns")]
    Netns_,
    /// Internal: the long-lived user namespace holder
    #[command(hide = true, name = "_pause")]
    Pause_,
    /// Auto update containers according to their auto-update policy
    AutoUpdate(systemd::AutoUpdateArgs),
    /// Generate services from Quadlet-style unit descriptions (a systemd generator)
    #[command(hide = true)]
    SystemdGenerator(systemd::GeneratorArgs),
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

/// Installed as a systemd generator (a link named `skiff-generator` in
/// systemd's system-generators, or `skiff-user-generator` in its
/// user-generators), skiff runs `systemd-generator` with the directories
/// systemd passes: the command line it then parses.
fn generator_argv(mut args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let name = args
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if name.ends_with("-generator") {
        let mut extra: Vec<std::ffi::OsString> = vec!["systemd-generator".into()];
        if name.ends_with("user-generator") {
            extra.push("--user".into());
        }
        args.splice(1..1, extra);
    }
    args
}

/// The command tree as the parser uses it: the global options are listed in
/// `skiff --help` only, not in every command's own help (as Podman keeps
/// them out of its commands' flag lists), and option values may begin with
/// `-` (pflag's rule, see `hyphen_values`).
pub fn command() -> clap::Command {
    use clap::CommandFactory;
    // A command that already has an option of the same id keeps its own when
    // clap copies the globals down, so hidden copies put there first stay hidden.
    fn hide(mut c: clap::Command, globals: &[clap::Arg]) -> clap::Command {
        for g in globals {
            c = c.arg(g.clone().hide(true));
        }
        let names: Vec<String> = c
            .get_subcommands()
            .map(|s| s.get_name().to_string())
            .collect();
        for n in names {
            c = c.mut_subcommand(n, |s| hide(s, globals));
        }
        c
    }
    // The flattened GlobalArgs' doc comment would otherwise be the about text.
    let mut root = Cli::command().about(ABOUT).long_about(None);
    let globals: Vec<clap::Arg> = root
        .get_arguments()
        .filter(|a| a.is_global_set())
        .cloned()
        .collect();
    let names: Vec<String> = root
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    for n in names {
        root = root.mut_subcommand(n, |s| hide(s, &globals));
    }
    // The deferred options (see `Command`) join the hidden copies here. A
    // flattened options struct's doc comment comes with them and would
    // replace the command's own description: each keeps the one it had.
    let mut texts = Vec::new();
    descriptions(&root, &mut Vec::new(), &mut texts);
    root.build();
    for (path, about, long_about) in texts {
        let mut cmd = &mut root;
        for name in &path {
            cmd = cmd
                .find_subcommand_mut(name)
                .expect("a command of the tree");
        }
        let text = |t: Option<clap::builder::StyledStr>| {
            t.map_or(
                clap::builder::Resettable::Reset,
                clap::builder::Resettable::Value,
            )
        };
        *cmd = std::mem::take(cmd)
            .about(text(about))
            .long_about(text(long_about));
    }
    hyphen_values(root)
}

/// A command's description and its long one, and the names leading to it.
type Description = (
    Vec<String>,
    Option<clap::builder::StyledStr>,
    Option<clap::builder::StyledStr>,
);

/// The descriptions of every command under `cmd`, reached by `path`.
fn descriptions(cmd: &clap::Command, path: &mut Vec<String>, out: &mut Vec<Description>) {
    for sub in cmd.get_subcommands() {
        path.push(sub.get_name().to_string());
        out.push((
            path.clone(),
            sub.get_about().cloned(),
            sub.get_long_about().cloned(),
        ));
        descriptions(sub, path, out);
        path.pop();
    }
}

/// `skiff help [COMMAND...]` is `skiff [COMMAND...] --help`, as Podman's.
fn help_to_flag(
    root: &clap::Command,
    mut args: Vec<std::ffi::OsString>,
) -> Vec<std::ffi::OsString> {
    let mut i = 1;
    while let Some(a) = args.get(i).map(|a| a.to_string_lossy().into_owned()) {
        if a == "help" {
            args.remove(i);
            args.push("--help".into());
            break;
        }
        if !a.starts_with('-') {
            break;
        }
        i += 1 + usize::from(!a.contains('=') && takes_value(root, &a));
    }
    args
}

/// Whether `flag` (`--root`) is an option of `cmd` that takes a value.
fn takes_value(cmd: &clap::Command, flag: &str) -> bool {
    let long = flag.trim_start_matches('-');
    cmd.get_arguments()
        .any(|x| x.get_long() == Some(long) && x.get_action().takes_values())
}

/// The names of the commands on a command line (`["network", "ls"]`), as
/// far as they are commands of `root`; flags and their values are skipped.
fn command_path(root: &clap::Command, args: &[std::ffi::OsString]) -> Vec<String> {
    let mut path = Vec::new();
    let mut cur = root;
    let mut it = args
        .iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned());
    while let Some(a) = it.next() {
        if a.starts_with('-') {
            if !a.contains('=') && takes_value(cur, &a) {
                it.next();
            }
            continue;
        }
        match cur.find_subcommand(&a) {
            Some(sc) => {
                path.push(sc.get_name().to_string());
                cur = sc;
            }
            None => break,
        }
    }
    path
}

/// What a parse error prints and returns, as Podman's: a command without its
/// subcommand prints the command's help and `Error: missing command 'skiff
/// network COMMAND'`; an unknown command names close ones; every other
/// error is one line. All exit 125.
fn parse_failure(root: &mut clap::Command, args: &[std::ffi::OsString], e: &clap::Error) -> i32 {
    use clap::error::{ContextKind, ErrorKind};
    let path = command_path(root, args);
    let full = std::iter::once("skiff".to_string())
        .chain(path.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ");
    match e.kind() {
        ErrorKind::MissingSubcommand | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let mut cmd = &mut *root;
            for p in &path {
                cmd = cmd.find_subcommand_mut(p).expect("found by command_path");
            }
            println!("{}", cmd.render_help());
            eprintln!("Error: missing command '{full} COMMAND'");
        }
        ErrorKind::InvalidSubcommand => {
            let word = e
                .get(ContextKind::InvalidSubcommand)
                .map(|v| v.to_string())
                .unwrap_or_default();
            let close: Vec<String> = match e.get(ContextKind::SuggestedSubcommand) {
                Some(clap::error::ContextValue::Strings(v)) => v.clone(),
                Some(clap::error::ContextValue::String(v)) => vec![v.clone()],
                _ => Vec::new(),
            };
            eprintln!("Error: unrecognized command `{full} {word}`");
            if !close.is_empty() {
                eprintln!("\nDid you mean this?\n\t{}\n", close.join("\n\t"));
            }
            eprintln!("Try '{full} --help' for more information");
        }
        _ => eprintln!("Error: {}", parse_error_line(e)),
    }
    EXIT_ENGINE
}

/// Parses the command line, runs the command and returns the exit code.
pub fn main() -> i32 {
    die_quietly_on_closed_stdout();
    let args = generator_argv(std::env::args_os().collect());
    if let Some(cli) = parse_fast(&args) {
        return execute(cli);
    }
    // Parsed against the plain tree: hiding the globals in every command's
    // help (`command`) copies them into each subcommand, work that only help
    // and parse errors need, so only they build that tree.
    let mut root = <Cli as clap::CommandFactory>::command();
    let args = help_to_flag(&root, args);
    let mut parsed = parse_on(&mut root, args.clone());
    if parsed.is_err() {
        // pflag's rule (an option's value may begin with `-`) on a second
        // parse: a line that parses without it parses the same with it (a
        // single-value option followed by a word that looks like a flag is
        // an error, never another reading), and walking the whole tree to
        // set it costs as much as building it.
        root = hyphen_tree();
        parsed = parse_on(&mut root, args.clone());
    }
    // Freeing the tree's thousands of allocations one by one costs as much
    // as building it: a command that ends soon leaves the tree to the
    // process's exit. The long-lived holders give its memory back first.
    match &parsed {
        Ok(Cli {
            command: Command::Netns_ | Command::Pause_,
            ..
        }) => drop(root),
        _ => std::mem::forget(root),
    }
    match parsed {
        Ok(cli) => execute(cli),
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayVersion => {
            let _ = e.print();
            0
        }
        Err(e) => {
            use clap::error::ErrorKind;
            let mut root = command();
            root.build();
            match e.kind() {
                ErrorKind::DisplayHelp => {
                    // The same parse on the help tree ends in its own help.
                    let help = root.try_get_matches_from_mut(args).err().unwrap_or(e);
                    let _ = help.print();
                    0
                }
                _ => parse_failure(&mut root, &args, &e),
            }
        }
    }
}

/// Runs a parsed command line; returns the exit code.
fn execute(cli: Cli) -> i32 {
    init_logging(&cli.global.log_level);
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            report(&e);
            e.exit_code()
        }
    }
}

/// `args` parsed on the tree `root` into a [`Cli`]; clap's error as is.
fn parse_on(
    root: &mut clap::Command,
    args: Vec<std::ffi::OsString>,
) -> std::result::Result<Cli, clap::Error> {
    root.try_get_matches_from_mut(args)
        .and_then(|m| <Cli as clap::FromArgMatches>::from_arg_matches(&m))
}

/// The fast paths of `exec` and `stats`: `exec` is what scripts, health
/// checks and tools run in loops, `stats --no-stream` what monitors poll,
/// so each is parsed against a tree of only the global options and its
/// own, as building the definitions of the other commands is most of what
/// clap spends on a parse. Global options may come first (`skiff --root
/// DIR exec ...`, as tools and the benchmarks write it): the small tree
/// knows them all, and a line whose command is anything else (`skiff run
/// --name exec ...`) fails to parse there. `None` for anything but a
/// `skiff [GLOBALS] exec|stats ...` that parses: the full parser then
/// handles it, so help and error messages stay exactly those of the whole
/// command line.
fn parse_fast(args: &[std::ffi::OsString]) -> Option<Cli> {
    if args.iter().skip(1).any(|a| a == "stats") {
        if let Some((global, stats)) = parse_one::<container::StatsArgs>(args, "stats") {
            return Some(Cli {
                version: None,
                global,
                command: Command::Stats(stats),
            });
        }
    }
    if !args.iter().skip(1).any(|a| a == "exec") {
        return None;
    }
    let (global, exec) = parse_one::<container::ExecArgs>(args, "exec")?;
    // `--help`, `-h`, `--version` are flags the small tree does not know:
    // its hyphen-taking positional swallowed one as a container name, which
    // never starts with `-`.
    if exec.command.first().is_none_or(|w| w.starts_with('-')) {
        return None;
    }
    Some(Cli {
        version: None,
        global,
        command: Command::Exec(exec),
    })
}

/// `args` parsed against a tree of the global options and one command,
/// `name` with the options `A`; None when they do not parse there.
fn parse_one<A: clap::Args + clap::FromArgMatches>(
    args: &[std::ffi::OsString],
    name: &'static str,
) -> Option<(GlobalArgs, A)> {
    use clap::{Args, FromArgMatches};
    let own = A::augment_args(clap::Command::new(name)).disable_help_flag(true);
    let root = GlobalArgs::augment_args(clap::Command::new("skiff"))
        .args_override_self(true)
        .disable_help_flag(true)
        .disable_version_flag(true)
        .subcommand(own);
    let matches = hyphen_values(root).try_get_matches_from(args).ok()?;
    let global = GlobalArgs::from_arg_matches(&matches).ok()?;
    let own = A::from_arg_matches(matches.subcommand_matches(name)?).ok()?;
    Some((global, own))
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
    if e.kind() == ErrorKind::MissingRequiredArgument {
        if let Some(line) = missing_args_line(e) {
            return line;
        }
    }
    let text = e.to_string();
    let first = text.lines().next().unwrap_or("invalid arguments");
    first.trim_start_matches("error: ").to_string()
}

/// A missing positional argument in cobra's words, as Podman prints it:
/// `requires at least 1 arg(s), only received 0` for a list,
/// `accepts 2 arg(s), received 1` for a fixed count, `accepts between 1
/// and 2 arg(s), received 0` for optional ones. None when a flag is what
/// is missing (clap's own line names it).
fn missing_args_line(e: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind, ContextValue};
    let missing: Vec<String> = match e.get(ContextKind::InvalidArg)? {
        ContextValue::Strings(v) => v.clone(),
        ContextValue::String(a) => vec![a.clone()],
        _ => return None,
    };
    if missing.iter().any(|a| a.starts_with('-')) {
        return None;
    }
    let usage = e.get(ContextKind::Usage)?.to_string();
    // "Usage: skiff network rm [OPTIONS] <NAMES>...": the words up to the
    // first placeholder are the command path.
    let path: Vec<&str> = usage
        .split_whitespace()
        .skip(2)
        .take_while(|w| !w.starts_with(['[', '<', '-']))
        .collect();
    let mut cmd = <Cli as clap::CommandFactory>::command();
    cmd.build();
    for name in &path {
        cmd = cmd.find_subcommand(name)?.clone();
    }
    let positionals: Vec<&clap::Arg> = cmd.get_positionals().collect();
    // clap names a missing positional `<NAME>` or `<NAME>...`.
    let index = |shown: &String| {
        let name = shown.trim_end_matches("...");
        positionals.iter().position(|a| {
            a.get_value_names()
                .and_then(|v| v.first())
                .is_some_and(|v| format!("<{v}>") == name)
        })
    };
    let at: Vec<usize> = missing.iter().map(index).collect::<Option<_>>()?;
    let received = *at.iter().min()?;
    let required = at.iter().max()? + 1;
    let variadic = positionals
        .iter()
        .any(|a| a.get_num_args().is_some_and(|n| n.max_values() > 1));
    Some(if variadic {
        format!("requires at least {required} arg(s), only received {received}")
    } else if positionals.len() > required {
        format!(
            "accepts between {required} and {} arg(s), received {received}",
            positionals.len()
        )
    } else {
        format!("accepts {required} arg(s), received {received}")
    })
}

/// Prints an error the way Podman users know it: one line, `Error: ` prefix.
pub fn report(e: &Error) {
    eprintln!("Error: {e}");
}

/// Sends skiff's own `tracing` events at `level` (`--log-level`) and above
/// to stderr, one `LEVL[NNNN] message` line each (`crate::log`).
///
/// A `Targets` filter rather than `EnvFilter`: the latter compiles regular
/// expressions to parse its directives, which every command paid at
/// start-up for one fixed directive.
fn init_logging(level: &str) {
    use tracing::level_filters::LevelFilter;
    let level = match level {
        "trace" => LevelFilter::TRACE,
        "debug" => LevelFilter::DEBUG,
        "info" => LevelFilter::INFO,
        "error" | "fatal" | "panic" => LevelFilter::ERROR,
        _ => LevelFilter::WARN,
    };
    crate::log::init(level);
}

fn run(cli: Cli) -> Result<i32> {
    // Nothing the caller left open reaches the processes skiff starts.
    crate::runtime::fds::cloexec_inherited();
    let command = match cli.command {
        Command::Pause_ => return crate::runtime::userns::pause_main(),
        // Needs no store: printed even where none can be made.
        Command::Completion(a) => return completion::completion(a),
        // A generator runs before the store may be mounted: it reads unit
        // descriptions and writes services, and touches nothing else.
        Command::SystemdGenerator(a) => return systemd::generator(a),
        c => c,
    };
    // containers.conf and storage.conf: defaults for the global flags below.
    crate::config::init()?;
    let storage_driver = cli.global.apply()?;
    let mut ctx = Context::new(cli.global.root, cli.global.runroot, storage_driver)?;
    ctx.events = global::settings().events_backend != global::EventsBackend::None;
    if let Some(dir) = &cli.global.tmpdir {
        global::use_tmpdir(dir)?;
    }
    let command = match command.route() {
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
        // The check runs in the container, as `exec`.
        Command::Healthcheck(_) => true,
        // Pulls write layers owned by subordinate ids.
        Command::AutoUpdate(_) => true,
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
        Command::Events(a) => events::events(&ctx, a),
        Command::Healthcheck(c) => health::dispatch(&ctx, c),
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
        Command::Generate(kube::GenerateCommand::Systemd(a)) => systemd::generate(&ctx, *a),
        Command::AutoUpdate(a) => systemd::auto_update(&ctx, a),
        Command::Netns_ => crate::network::bridge::holder_main(&ctx),
        _ => unreachable!("container commands and the holder are dispatched above"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_full(args: Vec<std::ffi::OsString>) -> std::result::Result<Cli, clap::Error> {
        let mut root = command();
        let args = help_to_flag(&root, args);
        parse_on(&mut root, args)
    }

    fn argv(words: &[&str]) -> Vec<std::ffi::OsString> {
        words.iter().map(Into::into).collect()
    }

    /// The `exec` fast path must read every command line exactly as the full
    /// parser does: a flag added to `Cli`'s settings, `GlobalArgs` or
    /// `ExecArgs` that the small tree misses shows here.
    #[test]
    fn fast_paths_parse_as_the_full_parser_does() {
        let lines: &[&[&str]] = &[
            &["skiff", "exec", "web", "true"],
            &[
                "skiff", "exec", "-it", "-u", "0:0", "-e", "A=1", "-e", "B", "web", "sh",
            ],
            &[
                "skiff",
                "exec",
                "-w",
                "/tmp",
                "--env-file",
                "f",
                "web",
                "ls",
                "-la",
                "--help",
            ],
            &[
                "skiff",
                "exec",
                "--log-level",
                "debug",
                "web",
                "echo",
                "-n",
                "x",
            ],
            &["skiff", "exec", "web", "--root", "/r", "cat"],
            &[
                "skiff",
                "--root",
                "/r",
                "--runroot",
                "/rr",
                "exec",
                "web",
                "true",
            ],
            &["skiff", "--root", "exec", "exec", "web", "true"],
            &[
                "skiff",
                "exec",
                "-d",
                "--privileged",
                "--detach-keys",
                "ctrl-a",
                "web",
                "top",
            ],
        ];
        let stats_lines: &[&[&str]] = &[
            &["skiff", "stats", "--no-stream"],
            &[
                "skiff",
                "--root",
                "/r",
                "stats",
                "-a",
                "--format",
                "{{.Name}}",
                "w",
            ],
            &[
                "skiff",
                "stats",
                "--no-stream",
                "--no-trunc",
                "-i",
                "2",
                "a",
                "b",
            ],
            &["skiff", "exec", "web", "stats"],
        ];
        for words in lines.iter().chain(stats_lines) {
            let fast = parse_fast(&argv(words)).expect("the fast path takes a plain exec or stats");
            let full = parse_full(argv(words)).unwrap();
            assert_eq!(format!("{fast:?}"), format!("{full:?}"), "{words:?}");
        }
    }

    /// `main` parses without pflag's value rule first: every line that
    /// parses so must read the same as under the rule, and the lines that
    /// need the rule must fail without it (so that `main` retries them).
    #[test]
    fn plain_parse_agrees_with_the_hyphen_value_rule() {
        let plain = |w: &[&str]| parse_on(&mut <Cli as clap::CommandFactory>::command(), argv(w));
        let hyphen = |w: &[&str]| parse_on(&mut hyphen_tree(), argv(w));
        let agree: &[&[&str]] = &[
            &["skiff", "ps", "-a", "--format", "{{.ID}}"],
            &[
                "skiff", "--root", "/r", "run", "--rm", "-e", "A=1", "bb", "sh", "-c", "-x",
            ],
            &["skiff", "run", "--name", "x", "bb", "ls", "--all", "-l"],
            &["skiff", "logs", "--tail", "1", "web"],
            &["skiff", "images", "--filter", "dangling=true", "-q"],
            &["skiff", "run", "--oom-score-adj", "-5", "bb", "true"],
            &["skiff", "ps", "--format", "-", "-a"],
        ];
        for w in agree {
            let p = plain(w).unwrap_or_else(|e| panic!("{w:?}: {e}"));
            let h = hyphen(w).unwrap();
            assert_eq!(format!("{p:?}"), format!("{h:?}"), "{w:?}");
        }
        let need_rule: &[&[&str]] = &[
            &["skiff", "history", "--format", "--{{.ID}}--", "bb"],
            &["skiff", "run", "--name", "-d", "bb", "true"],
            &["skiff", "ps", "--format", "-{{.ID}}", "-a"],
        ];
        for w in need_rule {
            assert!(plain(w).is_err(), "{w:?} parses without the rule");
            hyphen(w).unwrap_or_else(|e| panic!("{w:?}: {e}"));
        }
    }

    /// Help, version and errors are left to the full parser and its texts.
    #[test]
    fn fast_paths_leave_help_and_errors_to_the_full_parser() {
        for words in [
            &["skiff", "exec", "--help"][..],
            &["skiff", "exec", "-h", "web", "true"],
            &["skiff", "exec", "--version"],
            &["skiff", "exec", "--bogus", "web", "true"],
            &["skiff", "run", "--name", "exec", "bb", "true"],
            &["skiff", "--root", "exec", "ps"],
            &["skiff", "ps", "--filter", "name=exec"],
            &["skiff", "container", "exec", "web", "true"],
            &["skiff", "stats", "--help"],
            &["skiff", "stats", "-h"],
            &["skiff", "stats", "--interval", "0"],
            &["skiff", "stats", "--bogus"],
            &["skiff", "container", "stats"],
            &["skiff", "run", "--name", "stats", "bb", "true"],
        ] {
            let words = argv(words);
            assert!(parse_fast(&words).is_none(), "{words:?}");
        }
    }
}
