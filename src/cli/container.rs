//! Container commands: run, export, ps, rm, inspect.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::container::launch::{launch, Mode, Outcome};
use crate::container::{self, CreateOptions};
use crate::state::container::{Container, Status};
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
    /// Attach a filesystem mount (type=bind|volume|tmpfs|devpts,source=...,destination=...[,ro][,...])
    #[arg(long)]
    pub mount: Vec<String>,
    /// Mount a temporary filesystem (tmpfs) into the container (path[:options])
    #[arg(long)]
    pub tmpfs: Vec<String>,
    /// Mount the volumes and bind mounts of another container (CONTAINER[:ro|rw])
    #[arg(long = "volumes-from", value_name = "CONTAINER")]
    pub volumes_from: Vec<String>,
    /// Give the container a secret: a file at /run/secrets/NAME or an environment variable (SECRET[,type=mount|env][,target=T][,uid=U,gid=G,mode=M])
    #[arg(long, value_name = "SECRET")]
    pub secret: Vec<String>,
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
    /// Connect the container to a network: none, host, private, pasta, slirp4netns, container:NAME, ns:PATH or a network name (repeat for several networks)
    #[arg(long, visible_alias = "net")]
    pub network: Vec<String>,
    /// Publish a container's port to the host ([ip:][hostPort:]containerPort[/tcp|udp])
    #[arg(short, long = "publish")]
    pub publish: Vec<String>,
    /// Publish all exposed ports to random ports on the host
    #[arg(short = 'P', long)]
    pub publish_all: bool,
    /// Expose a port or a range of ports
    #[arg(long)]
    pub expose: Vec<String>,
    /// Add a network-scoped alias for the container
    #[arg(long)]
    pub network_alias: Vec<String>,
    /// Add a custom host-to-IP mapping (host:ip)
    #[arg(long)]
    pub add_host: Vec<String>,
    /// Set custom DNS servers
    #[arg(long)]
    pub dns: Vec<String>,
    /// Set custom DNS search domains
    #[arg(long)]
    pub dns_search: Vec<String>,
    /// Set custom DNS options
    #[arg(long = "dns-option", visible_alias = "dns-opt")]
    pub dns_option: Vec<String>,
    /// Add a link to another container (name[:alias])
    #[arg(long)]
    pub link: Vec<String>,
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
    /// Security options: no-new-privileges, seccomp=unconfined, seccomp=PROFILE.json
    #[arg(long)]
    pub security_opt: Vec<String>,
    /// Restart policy: no, always, on-failure[:max], unless-stopped
    #[arg(long)]
    pub restart: Option<String>,
    /// Signal to stop the container
    #[arg(long)]
    pub stop_signal: Option<String>,
    /// Pull image policy: always, missing (default), never or newer
    #[arg(long, value_name = "POLICY", default_value = "missing")]
    pub pull: String,
    /// Control sd-notify behavior: container (default), conmon, healthy or ignore
    #[arg(long)]
    pub sdnotify: Option<String>,
    /// If a container with the same name exists, replace it
    #[arg(long)]
    pub replace: bool,
    /// Write the container ID to the file (which must not exist yet)
    #[arg(long, value_name = "FILE")]
    pub cidfile: Option<PathBuf>,
    /// Write the container process ID to the file at each start
    #[arg(long, value_name = "FILE")]
    pub pidfile: Option<PathBuf>,
    /// Write the supervisor's (conmon's) process ID to the file at each start
    #[arg(long, value_name = "FILE")]
    pub conmon_pidfile: Option<PathBuf>,
    /// Run container in an existing pod, or a new one with new:NAME
    #[arg(long, value_name = "NAME")]
    pub pod: Option<String>,
    /// Run container in the pod whose ID is in the file (`pod create --pod-id-file`)
    #[arg(long, value_name = "FILE", conflicts_with = "pod")]
    pub pod_id_file: Option<PathBuf>,
    #[command(flatten)]
    pub health: HealthArgs,
    #[command(flatten)]
    pub more: crate::cli::run_flags::RunFlags,
    /// `--tls-verify`, `--authfile`, `--creds`, `--cert-dir` for the pull.
    #[command(flatten)]
    pub registry: crate::cli::registry::RegistryArgs,
    /// Containers (comma-separated names or IDs) to start before this one
    #[arg(long, value_name = "CONTAINERS")]
    pub requires: Vec<String>,
    #[command(flatten)]
    pub limits: crate::cli::limits::LimitArgs,
    /// Optional parent cgroup for the container (a path under the subtree delegated to the user)
    #[arg(long, value_name = "PATH")]
    pub cgroup_parent: Option<String>,
    /// Control container cgroup configuration
    #[arg(long, value_enum, value_name = "MODE", default_value = "enabled")]
    pub cgroups: crate::cgroups::CgroupsMode,
}

/// The healthcheck flags of `run` and `create` (podman-run(1)), parsed by
/// `state::health`.
#[derive(Debug, Args, Clone, Default)]
pub struct HealthArgs {
    /// Set a healthcheck command for the container ('none' disables the existing healthcheck)
    #[arg(long, value_name = "COMMAND", value_parser = crate::state::health::health_cmd_arg)]
    pub health_cmd: Option<crate::state::health::HealthCmd>,
    /// Set an interval for the healthcheck (a value of disable results in no automatic timer setup)
    #[arg(long, value_name = "INTERVAL", value_parser = crate::state::health::parse_interval)]
    pub health_interval: Option<std::time::Duration>,
    /// The number of retries allowed before a healthcheck is considered to be unhealthy
    #[arg(long, value_name = "RETRIES", value_parser = crate::state::health::parse_retries)]
    pub health_retries: Option<u32>,
    /// The initialization time needed for a container to bootstrap
    #[arg(long, value_name = "PERIOD", value_parser = crate::state::health::parse_start_period)]
    pub health_start_period: Option<std::time::Duration>,
    /// Time between checks during the start period
    #[arg(long, value_name = "INTERVAL", value_parser = crate::state::health::parse_start_interval)]
    pub health_start_interval: Option<std::time::Duration>,
    /// The maximum time allowed to complete the healthcheck before an interval is considered failed
    #[arg(long, value_name = "TIMEOUT", value_parser = crate::state::health::parse_timeout)]
    pub health_timeout: Option<std::time::Duration>,
    /// Action to take once the container turns unhealthy: none, kill, restart or stop
    #[arg(long, value_name = "ACTION", default_value = "none", value_parser = crate::state::health::OnFailure::parse)]
    pub health_on_failure: crate::state::health::OnFailure,
    /// Disable healthchecks on container
    #[arg(long)]
    pub no_healthcheck: bool,
}

impl HealthArgs {
    fn to_options(&self) -> container::create::HealthOptions {
        container::create::HealthOptions {
            cmd: self.health_cmd.clone().map(|c| c.0),
            interval: self.health_interval,
            timeout: self.health_timeout,
            start_period: self.health_start_period,
            start_interval: self.health_start_interval,
            retries: self.health_retries,
            on_failure: self.health_on_failure,
            disabled: self.no_healthcheck,
        }
    }
}

#[derive(Debug, Args)]
#[command(trailing_var_arg = true, disable_help_flag = true)]
pub struct RunArgs {
    /// Print help (-h is --hostname, as in Podman)
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
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
    /// Key sequence for detaching a container
    #[arg(long, value_name = "KEYS")]
    pub detach_keys: Option<String>,
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
    /// Filter output based on conditions given (name, id, status, label, ancestor, exited)
    #[arg(short, long)]
    pub filter: Vec<String>,
    /// Sort output by command, created, id, image, names, runningfor or status
    #[arg(long, default_value = "created")]
    pub sort: String,
    /// Act on the latest container skiff is aware of
    #[arg(short, long)]
    pub latest: bool,
    /// Print the n last created containers (includes all states)
    #[arg(short = 'n', long)]
    pub last: Option<usize>,
    /// Do not print column headings
    #[arg(long)]
    pub noheading: bool,
    /// Print the ID and name of the pod each container is in
    #[arg(long)]
    pub pod: bool,
    /// Show containers in storage not controlled by skiff (build containers)
    #[arg(long)]
    pub external: bool,
    /// Display the total file sizes
    #[arg(short, long)]
    pub size: bool,
    /// Display namespace information
    #[arg(long)]
    pub ns: bool,
    /// Watch the ps output on an interval in seconds
    #[arg(short, long, value_name = "WATCH")]
    pub watch: Option<u64>,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Remove all containers
    #[arg(short, long)]
    pub all: bool,
    /// Force removal of a running container
    #[arg(short, long)]
    pub force: bool,
    /// Seconds to wait for a running container to stop before killing it (with -f)
    #[arg(short, long)]
    pub time: Option<u64>,
    /// Remove anonymous volumes associated with the container
    #[arg(short, long)]
    pub volumes: bool,
    /// Ignore errors when a specified container is missing
    #[arg(short, long)]
    pub ignore: bool,
    /// Remove the containers and, first, every container that depends on them
    #[arg(long)]
    pub depend: bool,
    /// Remove the containers that match these conditions
    #[arg(long)]
    pub filter: Vec<String>,
    /// Read the container ID from the file (repeatable)
    #[arg(long, value_name = "FILE")]
    pub cidfile: Vec<PathBuf>,
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

/// The kinds of object the top-level `inspect --type` looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ObjectType {
    All,
    Container,
    Image,
    Volume,
    Network,
    Pod,
}

/// The top-level `inspect`: any object, or one kind (`--type`).
#[derive(Debug, Args)]
pub struct ObjectInspectArgs {
    #[command(flatten)]
    pub common: InspectArgs,
    /// Only look for this type of object
    #[arg(
        short,
        long = "type",
        value_name = "TYPE",
        value_enum,
        default_value = "all"
    )]
    pub kind: ObjectType,
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum ContainerCommand {
    /// Attach to a running container
    Attach(AttachArgs),
    /// Create new image based on the changed container
    Commit(crate::cli::commit::CommitArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(CpArgs),
    /// Create but do not start a container
    Create(Box<CreateCmdArgs>),
    /// Inspect changes to the container's file systems
    Diff(crate::cli::commit::DiffArgs),
    /// Run a process in a running container
    Exec(ExecArgs),
    /// Check if a container exists in local storage
    Exists(ExistsArgs),
    /// Export a container's filesystem contents as a tar archive
    Export(ExportArgs),
    /// Display the configuration of a container
    Inspect(InspectArgs),
    /// Kill one or more running containers with a specific signal
    Kill(KillArgs),
    /// Fetch the logs of one or more containers
    Logs(LogsArgs),
    /// List containers
    #[command(visible_alias = "ls", alias = "list")]
    Ps(PsArgs),
    /// Pause all the processes in one or more containers
    Pause(PauseArgs),
    /// Remove all non running containers
    Prune(PruneArgs),
    /// Rename an existing container
    Rename(RenameArgs),
    /// Restart one or more containers
    Restart(RestartArgs),
    /// Remove one or more containers
    Rm(RmArgs),
    /// Run a command in a new container
    Run(Box<RunArgs>),
    /// Start one or more containers
    Start(StartArgs),
    /// Stop one or more containers
    Stop(StopArgs),
    /// Display the running processes of a container
    Top(TopArgs),
    /// Unpause the processes in one or more containers
    Unpause(PauseArgs),
    /// Update the resource limits of a running container
    Update(UpdateArgs),
    /// Display a live stream of container resource usage statistics
    Stats(StatsArgs),
    /// Block on one or more containers and print their exit codes
    Wait(WaitArgs),
}

impl ContainerCommand {
    /// Commands that create processes in, mount, or delete files of
    /// containers must run inside the user namespace.
    pub fn needs_userns(&self) -> bool {
        !matches!(
            self,
            ContainerCommand::Ps(_)
                | ContainerCommand::Logs(_)
                | ContainerCommand::Wait(_)
                | ContainerCommand::Exists(_)
                | ContainerCommand::Inspect(_)
                | ContainerCommand::Rename(_)
                | ContainerCommand::Attach(_)
                // Reads /proc and cgroup files, which the user's own
                // namespace (the owner of the containers') reads as well.
                | ContainerCommand::Stats(_)
        )
    }
}

pub fn dispatch(ctx: &Context, c: ContainerCommand) -> Result<i32> {
    match c {
        ContainerCommand::Attach(a) => attach(ctx, a),
        ContainerCommand::Commit(a) => crate::cli::commit::commit(ctx, a),
        ContainerCommand::Cp(a) => cp(ctx, a),
        ContainerCommand::Diff(a) => {
            crate::cli::commit::diff(ctx, a, crate::cli::commit::DiffOf::Container)
        }
        ContainerCommand::Create(a) => create(ctx, *a),
        ContainerCommand::Exec(a) => exec(ctx, a),
        ContainerCommand::Exists(a) => exists(ctx, a),
        ContainerCommand::Export(a) => export(ctx, a),
        ContainerCommand::Inspect(a) => container_inspect(ctx, a),
        ContainerCommand::Kill(a) => kill(ctx, a),
        ContainerCommand::Logs(a) => logs(ctx, a),
        ContainerCommand::Ps(a) => super::ps::ps(ctx, a),
        ContainerCommand::Pause(a) => pause(ctx, a, true),
        ContainerCommand::Prune(a) => prune(ctx, a),
        ContainerCommand::Rename(a) => rename(ctx, a),
        ContainerCommand::Restart(a) => restart(ctx, a),
        ContainerCommand::Rm(a) => rm(ctx, a),
        ContainerCommand::Run(a) => run(ctx, *a),
        ContainerCommand::Start(a) => start(ctx, a),
        ContainerCommand::Stop(a) => stop(ctx, a),
        ContainerCommand::Top(a) => top(ctx, a),
        ContainerCommand::Unpause(a) => pause(ctx, a, false),
        ContainerCommand::Update(a) => update(ctx, a),
        ContainerCommand::Stats(a) => stats(ctx, a),
        ContainerCommand::Wait(a) => wait(ctx, a),
    }
}

impl CreateArgs {
    /// The library's view of these options.
    pub fn to_options(
        &self,
        image: &str,
        command: &[String],
        auto_remove: bool,
    ) -> Result<CreateOptions> {
        let (networks, aliases) = crate::network::mode::take_network_options(&self.network)?;
        let mut o = CreateOptions {
            image: image.to_string(),
            command: command.to_vec(),
            name: self.name.clone(),
            env: self.env.clone(),
            env_files: self.env_file.clone(),
            workdir: self.workdir.clone(),
            user: self.user.clone(),
            hostname: self.hostname.clone(),
            volumes: self.volume.clone(),
            mounts: self.mount.clone(),
            tmpfs: self.tmpfs.clone(),
            volumes_from: self.volumes_from.clone(),
            secrets: self.secret.clone(),
            read_only: self.read_only,
            entrypoint: self.entrypoint.clone(),
            cap_add: self.cap_add.clone(),
            cap_drop: self.cap_drop.clone(),
            privileged: self.privileged,
            network: crate::network::mode::join_flags(&networks)?,
            publish: self.publish.clone(),
            publish_all: self.publish_all,
            expose: self.expose.clone(),
            network_aliases: self.network_alias.iter().cloned().chain(aliases).collect(),
            add_hosts: self.add_host.clone(),
            dns: self.dns.clone(),
            dns_search: self.dns_search.clone(),
            dns_options: self.dns_option.clone(),
            links: self.link.clone(),
            ulimits: self.ulimit.clone(),
            interactive: self.interactive,
            tty: self.tty,
            labels: {
                // Started by a unit: its name, for `auto-update` (as Podman).
                let mut l = self.label.clone();
                let key = crate::systemd::autoupdate::UNIT_LABEL;
                if let Ok(unit) = std::env::var(key) {
                    if !l.iter().any(|x| x.split('=').next() == Some(key)) {
                        l.push(format!("{key}={unit}"));
                    }
                }
                l
            },
            security_opts: self.security_opt.clone(),
            restart: self.restart.clone(),
            stop_signal: self.stop_signal.clone(),
            pull: self.pull.clone(),
            sdnotify: self.sdnotify.clone(),
            create_command: std::env::args().collect(),
            pidfile: self.pidfile.as_deref().map(absolute).transpose()?,
            conmon_pidfile: self.conmon_pidfile.as_deref().map(absolute).transpose()?,
            pod: match &self.pod_id_file {
                Some(f) => Some(read_pod_id_file(f)?),
                None => self.pod.clone(),
            },
            requires: self.requires.clone(),
            resources: self.limits.resources(),
            cgroup_parent: self.cgroup_parent.clone(),
            cgroups: self.cgroups,
            auto_remove,
            skip_image_volumes: false,
            builder: None,
            typed: Default::default(),
            health: self.health.to_options(),
            run: Default::default(),
        };
        self.more.apply(&mut o)?;
        o.run.registry = self.registry.flags();
        Ok(o)
    }
}

/// A path made absolute against the working directory, as the supervisor
/// writing it later runs elsewhere.
fn absolute(p: &std::path::Path) -> Result<PathBuf> {
    Ok(std::env::current_dir()?.join(p))
}

impl CreateArgs {
    /// What must hold before anything is created or replaced: `--replace`
    /// needs `--name`, and `--cidfile` must not exist yet (Podman's errors).
    fn check_unit_files(&self) -> Result<()> {
        if self.replace && self.name.is_none() {
            return Err(Error::msg(
                "cannot replace container without --name being set",
            ));
        }
        if let Some(f) = &self.cidfile {
            if f.symlink_metadata().is_ok() {
                return Err(Error::msg(format!(
                    "container id file exists. Ensure another container is not using it or delete {}",
                    f.display()
                )));
            }
        }
        Ok(())
    }

    /// `--replace`: removes (forcibly) the container that has the name
    /// given, if any, before the new one is created, as Podman does.
    fn replace_existing(&self, ctx: &Context) -> Result<()> {
        let Some(name) = self.name.as_deref().filter(|_| self.replace) else {
            return Ok(());
        };
        let old = container::list(ctx)?.into_iter().find(|c| c.name == name);
        match old {
            Some(c) => container::remove::remove(ctx, &c, true),
            None => Ok(()),
        }
    }

    /// Creates the container these options describe (after `--replace`),
    /// and writes `--cidfile`.
    fn create(
        &self,
        ctx: &Context,
        image: &str,
        command: &[String],
        auto_remove: bool,
    ) -> Result<Container> {
        self.check_unit_files()?;
        let opts = self.to_options(image, command, auto_remove)?;
        self.replace_existing(ctx)?;
        let c = container::create(ctx, &opts)?;
        if let Some(f) = &self.cidfile {
            if let Err(e) = write_new(f, &c.id) {
                let _ = container::remove::remove(ctx, &c, true);
                return Err(e);
            }
        }
        Ok(c)
    }
}

/// `--pod-id-file`: the pod id in the file (Podman's "reading pod ID file"
/// error when it cannot be read).
fn read_pod_id_file(f: &std::path::Path) -> Result<String> {
    crate::error::read_capped_text(f, crate::error::USER_FILE_MAX)
        .map(|s| s.trim().to_string())
        .map_err(|e| {
            Error::msg(format!(
                "reading pod ID file: {}",
                crate::error::io_msg("open", f, &e)
            ))
        })
}

/// Writes `text` to a file that must not exist yet (`--cidfile`).
fn write_new(path: &std::path::Path, text: &str) -> Result<()> {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| Error::msg(crate::error::io_msg("write", path, &e)))
}

fn check_detach_keys(keys: &Option<String>) -> Result<()> {
    if let Some(k) = keys {
        crate::supervisor::protocol::DetachKeys::parse(k).map_err(Error::msg)?;
    }
    Ok(())
}

pub fn run(ctx: &Context, a: RunArgs) -> Result<i32> {
    check_detach_keys(&a.detach_keys)?;
    preserve_fds(a.create.more.preserve_fds)?;
    // A refused `run --rm` takes the named volumes its create made along.
    let before = a.rm.then(|| container::volumes::names(ctx));
    let c = a.create.create(ctx, &a.image, &a.command, a.rm)?;
    let mode = if a.detach {
        Mode::Detached
    } else {
        Mode::Foreground {
            sig_proxy: a.sig_proxy && !a.create.tty,
            detach_keys: a.detach_keys.clone(),
            stop_on_interrupt: false,
        }
    };
    let launched = launch(ctx, &c, mode);
    if let (Err(_), Some(before)) = (&launched, &before) {
        container::volumes::remove_made(ctx, &c, before);
    }
    match launched? {
        Outcome::Running(_) => {
            println!("{}", c.id);
            Ok(0)
        }
        Outcome::Exited(code) => Ok(code),
        Outcome::Detached => Ok(0),
    }
}

#[derive(Debug, Args)]
#[command(trailing_var_arg = true, disable_help_flag = true)]
pub struct CreateCmdArgs {
    /// Print help (-h is --hostname, as in Podman)
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    #[command(flatten)]
    pub create: CreateArgs,
    /// Remove the container when it exits
    #[arg(long)]
    pub rm: bool,
    pub image: String,
    #[arg(allow_hyphen_values = true)]
    pub command: Vec<String>,
}

pub fn create(ctx: &Context, a: CreateCmdArgs) -> Result<i32> {
    if a.create.more.preserve_fds.is_some_and(|n| n > 0) {
        // Podman's create has no such flag: descriptors go to a process
        // that starts now (run, exec), never to a later start.
        return Err(Error::msg(
            "--preserve-fds: not supported: only run and exec pass descriptors to a container's process",
        ));
    }
    let c = a.create.create(ctx, &a.image, &a.command, a.rm)?;
    println!("{}", c.id);
    Ok(0)
}

#[derive(Debug, Args)]
pub struct StartArgs {
    /// Attach to the container's output (and input with -i)
    #[arg(short, long)]
    pub attach: bool,
    /// Keep stdin open
    #[arg(short, long)]
    pub interactive: bool,
    /// Key sequence for detaching a container
    #[arg(long)]
    pub detach_keys: Option<String>,
    /// Proxy received signals to the process
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub sig_proxy: bool,
    /// Start all containers that are not running
    #[arg(long)]
    pub all: bool,
    /// Start the containers that match these conditions (with --all, or alone)
    #[arg(short, long)]
    pub filter: Vec<String>,
    #[arg(required_unless_present_any = ["all", "filter"])]
    pub containers: Vec<String>,
}

pub fn start(ctx: &Context, a: StartArgs) -> Result<i32> {
    check_detach_keys(&a.detach_keys)?;
    let names: Vec<String> = if a.all || !a.filter.is_empty() {
        if !a.containers.is_empty() {
            return Err(Error::msg(
                "--all and --filter cannot be used together with container names",
            ));
        }
        // Podman prints the full id of each container --all starts.
        filtered(ctx, &a.filter)?
            .into_iter()
            .filter(|c| {
                !matches!(
                    container::effective_status(c),
                    Status::Running | Status::Paused
                )
            })
            .map(|c| c.id)
            .collect()
    } else {
        a.containers.clone()
    };
    if a.attach && names.len() > 1 {
        return Err(Error::msg(
            "you cannot start and attach multiple containers at once",
        ));
    }
    let mut code = 0;
    for name in &names {
        let res = (|| -> Result<i32> {
            let mut c = container::lookup(ctx, name)?;
            if container::start::supervised(&c) {
                // Running, or between two runs of its restart policy: its
                // supervisor owns it, and a second one must not start.
                return Ok(0);
            }
            match container::effective_status(&c) {
                Status::Running | Status::Paused => return Ok(0),
                Status::Exited | Status::Stopping => {
                    // A container whose monitor died still has its old state: clean it first.
                    let code = c.state.exit_code;
                    container::start::finish(ctx, &mut c, code, "")?;
                }
                _ => {}
            }
            if a.interactive {
                c.config.interactive = true;
            }
            let mode = if a.attach {
                Mode::Foreground {
                    sig_proxy: a.sig_proxy && !c.config.tty,
                    detach_keys: a.detach_keys.clone(),
                    stop_on_interrupt: false,
                }
            } else {
                Mode::Detached
            };
            match launch(ctx, &c, mode)? {
                Outcome::Exited(code) => Ok(code),
                _ => Ok(0),
            }
        })();
        match res {
            Ok(c) if a.attach => return Ok(c),
            Ok(_) => println!("{name}"),
            Err(e) => {
                crate::cli::report(&e);
                code = e.exit_code();
            }
        }
    }
    Ok(code)
}

#[derive(Debug, Args)]
pub struct StopArgs {
    /// Stop all running containers
    #[arg(short, long)]
    pub all: bool,
    /// Seconds to wait before killing the container (default: its --stop-timeout, else 10)
    #[arg(short, long, visible_alias = "timeout")]
    pub time: Option<u64>,
    /// Ignore errors when a specified container is missing
    #[arg(short, long)]
    pub ignore: bool,
    /// Read the container ID from the file (repeatable)
    #[arg(long, value_name = "FILE")]
    pub cidfile: Vec<PathBuf>,
    pub containers: Vec<String>,
}

/// The names given plus the ids read from `--cidfile`s (Podman's
/// "reading CIDFile" error; with `ignore`, a missing file names nothing,
/// as a unit's ExecStopPost runs after a container that never started).
fn with_cidfiles(names: &[String], files: &[PathBuf], ignore: bool) -> Result<Vec<String>> {
    with_id_files(names, files, ignore, "CIDFile")
}

/// The names given plus the ids read from `files` (`--cidfile`,
/// `--pod-id-file`): Podman's "reading WHAT" error for a file that cannot
/// be read; with `ignore`, a missing file names nothing.
pub(crate) fn with_id_files(
    names: &[String],
    files: &[PathBuf],
    ignore: bool,
    what: &str,
) -> Result<Vec<String>> {
    let mut out = names.to_vec();
    for f in files {
        match crate::error::read_capped_text(f, crate::error::USER_FILE_MAX) {
            Ok(id) => out.push(id.trim().to_string()),
            Err(e) if ignore && e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(Error::msg(format!(
                    "reading {what}: {}",
                    crate::error::io_msg("open", f, &e)
                )))
            }
        }
    }
    Ok(out)
}

/// Podman's error for a verb given neither names nor `--all`/`--latest`.
const NO_NAMES: &str = "you must provide at least one name or id";

/// The containers a verb acts on, each with the text printed when it is
/// done: the name as typed, or with `all` (as Podman) the full id.
fn targets(
    ctx: &Context,
    names: &[String],
    all: bool,
    running_only: bool,
) -> Result<Vec<(String, Container)>> {
    targets_ignoring(ctx, names, all, running_only, false)
}

/// `targets`, where with `ignore` a name that matches no container is skipped.
fn targets_ignoring(
    ctx: &Context,
    names: &[String],
    all: bool,
    running_only: bool,
    ignore: bool,
) -> Result<Vec<(String, Container)>> {
    if all {
        return Ok(container::list(ctx)?
            .into_iter()
            .filter(|c| {
                !running_only
                    || matches!(
                        container::effective_status(c),
                        Status::Running | Status::Paused
                    )
            })
            .map(|c| (c.id.clone(), c))
            .collect());
    }
    if names.is_empty() {
        return Err(Error::msg(NO_NAMES));
    }
    let mut out = Vec::new();
    for n in names {
        match container::lookup(ctx, n) {
            Ok(c) => out.push((n.clone(), c)),
            Err(e) if ignore && e.to_string().ends_with("no such container") => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// How long `stop` waits: `-t`, else the container's `--stop-timeout`,
/// else Podman's 10 seconds.
fn stop_timeout(flag: Option<u64>, c: &Container) -> std::time::Duration {
    std::time::Duration::from_secs(flag.or(c.config.stop_timeout).unwrap_or(10))
}

/// Every container that matches all of `filters` (`ps --filter` keys).
fn filtered(ctx: &Context, filters: &[String]) -> Result<Vec<Container>> {
    let filters = container::filter::parse(filters, &container::filter::Store(ctx))?;
    Ok(container::list(ctx)?
        .into_iter()
        .filter(|c| filters.keep(c, container::effective_status(c)))
        .collect())
}

/// The most recently created container (`--latest`, `-l`).
fn latest(ctx: &Context) -> Result<Container> {
    container::list(ctx)?
        .into_iter()
        .filter(|c| c.config.builder.is_none())
        .max_by_key(|c| c.created)
        .ok_or_else(|| Error::msg("no containers to use with --latest"))
}

/// Runs `f` on each target, printing the name as typed on success and a
/// one-line error otherwise; the exit code is the last failure's.
fn each(items: Vec<(String, Container)>, mut f: impl FnMut(&Container) -> Result<()>) -> i32 {
    let mut code = 0;
    for (shown, c) in items {
        match f(&c) {
            Ok(()) => println!("{shown}"),
            Err(e) => {
                crate::cli::report(&e);
                code = e.exit_code();
            }
        }
    }
    code
}

pub fn stop(ctx: &Context, a: StopArgs) -> Result<i32> {
    let names = with_cidfiles(&a.containers, &a.cidfile, a.ignore)?;
    if a.ignore && !a.all && names.is_empty() && !a.cidfile.is_empty() {
        return Ok(0);
    }
    let items = targets_ignoring(ctx, &names, a.all, true, a.ignore)?;
    Ok(each(items, |c| {
        container::stop::stop(ctx, c, stop_timeout(a.time, c))
    }))
}

#[derive(Debug, Args)]
pub struct RestartArgs {
    /// Restart all containers
    #[arg(short, long)]
    pub all: bool,
    /// Seconds to wait before killing the container
    #[arg(short, long, visible_alias = "timeout", default_value_t = 10)]
    pub time: u64,
    pub containers: Vec<String>,
}

pub fn restart(ctx: &Context, a: RestartArgs) -> Result<i32> {
    let items = targets(ctx, &a.containers, a.all, false)?;
    Ok(each(items, |c| {
        container::restart::restart(ctx, c, std::time::Duration::from_secs(a.time))
    }))
}

#[derive(Debug, Args)]
pub struct KillArgs {
    /// Signal all running containers
    #[arg(short, long)]
    pub all: bool,
    /// Signal to send to the container
    #[arg(short, long, default_value = "KILL")]
    pub signal: String,
    pub containers: Vec<String>,
}

pub fn kill(ctx: &Context, a: KillArgs) -> Result<i32> {
    let sig = crate::runtime::signal::parse(&a.signal)?;
    let items = targets(ctx, &a.containers, a.all, true)?;
    Ok(each(items, |c| {
        container::stop::kill(c, sig)?;
        crate::events::Event::container(c, "kill").record(ctx);
        Ok(())
    }))
}

#[derive(Debug, Args)]
pub struct WaitArgs {
    /// Condition to wait on: stopped (default), exited, running, healthy or unhealthy
    #[arg(long, value_name = "CONDITION", value_parser = WaitCondition::parse)]
    pub condition: Vec<WaitCondition>,
    /// Time interval to wait before polling for completion
    #[arg(short, long, default_value = "250ms", value_parser = wait_interval)]
    pub interval: std::time::Duration,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// `wait --condition`: what is waited for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitCondition {
    /// Exited (or never started after a run): the exit code is printed.
    Stopped,
    Running,
    Healthy,
    Unhealthy,
}

impl WaitCondition {
    fn parse(s: &str) -> std::result::Result<WaitCondition, String> {
        match s {
            "stopped" | "exited" => Ok(WaitCondition::Stopped),
            "running" => Ok(WaitCondition::Running),
            "healthy" => Ok(WaitCondition::Healthy),
            "unhealthy" => Ok(WaitCondition::Unhealthy),
            _ => Err(format!("{s:?} is not a valid container state")),
        }
    }

    /// Whether `c` is in this (non-stopped) condition now.
    fn holds(self, c: &Container) -> bool {
        use crate::state::health::HealthStatus;
        let health = c.state.health.as_ref().map(|h| h.status);
        let running = container::effective_status(c) == Status::Running;
        match self {
            WaitCondition::Stopped => false,
            WaitCondition::Running => running,
            WaitCondition::Healthy => running && health == Some(HealthStatus::Healthy),
            WaitCondition::Unhealthy => running && health == Some(HealthStatus::Unhealthy),
        }
    }
}

fn wait_interval(s: &str) -> std::result::Result<std::time::Duration, String> {
    let n = crate::format::parse_go_duration(s)?;
    if n <= 0 {
        return Err(format!("invalid interval {s:?}: must be positive"));
    }
    Ok(std::time::Duration::from_nanos(n as u64))
}

/// `wait`: the exit code of each container once it stopped; with other
/// `--condition`s, -1 once any of them holds (Podman prints -1 there).
pub fn wait(ctx: &Context, a: WaitArgs) -> Result<i32> {
    let store = container::store(ctx);
    let others: Vec<WaitCondition> = a
        .condition
        .iter()
        .copied()
        .filter(|c| *c != WaitCondition::Stopped)
        .collect();
    for n in &a.containers {
        let c = store.lookup(n)?;
        if others.is_empty() {
            println!("{}", container::stop::wait(ctx, &c)?);
            continue;
        }
        if a.condition.contains(&WaitCondition::Stopped) {
            return Err(Error::msg(
                "cannot wait for stopped together with other conditions",
            ));
        }
        loop {
            let cur = store.get(&c.id)?;
            if others.iter().any(|w| w.holds(&cur)) {
                println!("-1");
                break;
            }
            if container::effective_status(&cur) == Status::Exited
                && !others.contains(&WaitCondition::Running)
            {
                return Err(Error::msg(format!(
                    "container {} exited before reaching the condition",
                    cur.name
                )));
            }
            std::thread::sleep(a.interval);
        }
    }
    Ok(0)
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Follow log output
    #[arg(short, long)]
    pub follow: bool,
    /// Output the specified number of lines at the end of logs
    #[arg(long, allow_hyphen_values = true)]
    pub tail: Option<i64>,
    /// Show logs since TIMESTAMP or duration (10m, 1h)
    #[arg(long)]
    pub since: Option<String>,
    /// Show logs until TIMESTAMP or duration
    #[arg(long)]
    pub until: Option<String>,
    /// Output the timestamps in the log
    #[arg(short, long)]
    pub timestamps: bool,
    /// Show the names of the containers
    #[arg(short, long)]
    pub names: bool,
    /// Act on the latest container skiff knows of
    #[arg(short, long, conflicts_with = "containers")]
    pub latest: bool,
    #[arg(required_unless_present = "latest")]
    pub containers: Vec<String>,
}

/// The time a `logs --since`/`--until` value (`flag`) names, relative
/// to `now` for a duration. Error: one line naming the flag and value.
pub(crate) fn log_time(
    value: &Option<String>,
    flag: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Option<chrono::DateTime<chrono::Utc>>> {
    match value {
        None => Ok(None),
        Some(v) => container::logs::parse_time(v, now)
            .map(Some)
            .ok_or_else(|| Error::msg(format!("invalid --{flag} value \"{v}\": use a time like 2026-01-02T15:04:05Z or a duration like 10m"))),
    }
}

pub fn logs(ctx: &Context, a: LogsArgs) -> Result<i32> {
    let now = chrono::Utc::now();
    let opts = container::logs::LogOptions {
        follow: a.follow,
        tail: a.tail.filter(|t| *t >= 0).map(|t| t as usize),
        since: log_time(&a.since, "since", now)?,
        until: log_time(&a.until, "until", now)?,
        timestamps: a.timestamps,
        prefix: None,
    };
    let store = container::store(ctx);
    let names = match a.latest {
        true => vec![latest(ctx)?.id],
        false => a.containers,
    };
    let several = names.len() > 1;
    for n in &names {
        let c = store.lookup(n)?;
        let prefix = if a.names {
            Some(c.name.clone())
        } else {
            several.then(|| c.id[..12].to_string())
        };
        let opts = container::logs::LogOptions {
            prefix,
            ..opts.clone()
        };
        container::logs::logs(ctx, &c, &opts)?;
    }
    Ok(0)
}

#[derive(Debug, Args)]
#[command(trailing_var_arg = true)]
pub struct ExecArgs {
    /// Run the process in the background
    #[arg(short, long)]
    pub detach: bool,
    /// Keep STDIN open
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    pub tty: bool,
    /// Username or UID and optional group
    #[arg(short, long)]
    pub user: Option<String>,
    /// Set environment variables
    #[arg(short, long)]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long)]
    pub env_file: Vec<PathBuf>,
    /// Working directory inside the container
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// Give extended privileges to the process
    #[arg(long)]
    pub privileged: bool,
    /// Key sequence for detaching
    #[arg(long)]
    pub detach_keys: Option<String>,
    /// Act on the latest container skiff knows of
    #[arg(short, long)]
    pub latest: bool,
    /// Pass N additional file descriptors (3 up) to the process
    #[arg(long, value_name = "N")]
    pub preserve_fds: Option<u32>,
    /// The container, then the command (with --latest: the command only)
    #[arg(
        required = true,
        allow_hyphen_values = true,
        value_name = "CONTAINER] [COMMAND"
    )]
    pub command: Vec<String>,
}

pub fn exec(ctx: &Context, a: ExecArgs) -> Result<i32> {
    preserve_fds(a.preserve_fds)?;
    let mut command = a.command;
    let c = if a.latest {
        latest(ctx)?
    } else {
        container::lookup(ctx, &command.remove(0))?
    };
    if command.is_empty() {
        return Err(Error::msg(
            "must provide a non-empty command to start an exec session",
        ));
    }
    let mut env = Vec::new();
    for f in &a.env_file {
        env.extend(container::create::read_env_file(f)?);
    }
    for e in &a.env {
        env.extend(container::create::env_entry(e)?);
    }
    let o = container::exec::ExecOptions {
        command,
        env,
        user: a.user,
        workdir: a.workdir,
        tty: a.tty,
        interactive: a.interactive,
        detach: a.detach,
        privileged: a.privileged,
        detach_keys: a.detach_keys,
    };
    container::exec::exec(ctx, &c, &o)
}

#[derive(Debug, Args)]
pub struct PauseArgs {
    /// Pause all running containers
    #[arg(short, long)]
    pub all: bool,
    pub containers: Vec<String>,
}

pub fn pause(ctx: &Context, a: PauseArgs, pause: bool) -> Result<i32> {
    let items = targets(ctx, &a.containers, a.all, true)?;
    Ok(each(items, |c| container::pause::set_paused(ctx, c, pause)))
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Show all containers. Only running containers are shown by default
    #[arg(short, long)]
    pub all: bool,
    /// Pretty-print container statistics to JSON or using a Go template
    #[arg(long)]
    pub format: Option<String>,
    /// Disable streaming stats and only pull the first result
    #[arg(long)]
    pub no_stream: bool,
    /// Do not truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Time in seconds between stats reports
    #[arg(short, long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..))]
    pub interval: u64,
    pub containers: Vec<String>,
}

/// `stats`: one table (`--no-stream`) or one every `--interval` seconds,
/// the screen cleared between them, CPU % over the last interval.
pub fn stats(ctx: &Context, a: StatsArgs) -> Result<i32> {
    use container::stats;
    let shape_sample = stats::read(&Container {
        version: 0,
        id: String::new(),
        name: String::new(),
        created: chrono::Utc::now(),
        config: Default::default(),
        state: Default::default(),
    })
    .view(None, false);
    let shape = crate::format::Shape::new("stats", &shape_sample);
    if let Some(f) = a.format.as_deref().filter(|f| f.trim() != "table") {
        crate::format::format_items(f, &[], &shape)?;
    }
    let pick = |ctx: &Context| -> Result<Vec<Container>> {
        if a.containers.is_empty() {
            let all = container::list(ctx)?;
            Ok(all
                .into_iter()
                .filter(|c| a.all || matches!(c.state.status, Status::Running | Status::Paused))
                .collect())
        } else {
            a.containers
                .iter()
                .map(|n| container::lookup(ctx, n))
                .collect()
        }
    };
    let mut prev: Vec<stats::Reading> = Vec::new();
    loop {
        let readings: Vec<stats::Reading> = stats::read_all(&pick(ctx)?);
        let views: Vec<serde_json::Value> = readings
            .iter()
            .map(|r| r.view(prev.iter().find(|p| p.id == r.id), a.no_trunc))
            .collect();
        let text = match a.format.as_deref().filter(|f| f.trim() != "table") {
            Some(f) if f.trim() == "json" => {
                serde_json::to_string_pretty(&stats::podman_json(&views)).unwrap_or_default() + "\n"
            }
            Some(f) => crate::format::format_items(f, &views, &shape)?,
            None => {
                let rows: Vec<Vec<String>> = views.iter().map(stats::row).collect();
                crate::format::table_text(&stats::HEADERS, &rows, false)
            }
        };
        if a.no_stream {
            print!("{text}");
            return Ok(0);
        }
        // Home and clear, as Podman's live view redraws.
        print!("\x1b[H\x1b[2J{text}");
        use std::io::Write;
        if std::io::stdout().flush().is_err() {
            return Ok(0);
        }
        prev = readings;
        std::thread::sleep(std::time::Duration::from_secs(a.interval));
    }
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    #[command(flatten)]
    pub limits: crate::cli::limits::LimitArgs,
    pub container: String,
}

/// `update`: prints the container's id once its new limits are in force.
pub fn update(ctx: &Context, a: UpdateArgs) -> Result<i32> {
    let c = container::update::update(ctx, &a.container, &a.limits.resources())?;
    println!("{}", c.id);
    Ok(0)
}

#[derive(Debug, Args)]
#[command(
    override_usage = "skiff top [options] CONTAINER [FORMAT-DESCRIPTORS|ARGS...]",
    after_help = "Format descriptors (psgo's, as Podman's top): args, capamb, capbnd, capeff, capinh, capprm, comm, etime, group, groups, hgroup, hgroups, hpid, huid, huser, label, nice, pcpu, pgid, pid, ppid, rgroup, rss, ruser, seccomp, state, stime, time, tty, uid, user, vsz; AIX codes %C %G %P %U %a %c %g %n %p %r %t %u %x %y %z. Anything else (e.g. -eo pid,comm) is run as ps(1) in the container."
)]
pub struct TopArgs {
    /// Act on the latest container skiff knows of (every argument is then a descriptor)
    #[arg(short, long)]
    pub latest: bool,
    /// The container, then format descriptors or ps(1) arguments
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CONTAINER"
    )]
    pub args: Vec<String>,
}

/// `top`: Podman's table of the container's processes, or ps(1)'s lines
/// when the arguments are not psgo descriptors.
pub fn top(ctx: &Context, a: TopArgs) -> Result<i32> {
    let (c, descriptors) = match (a.latest, a.args.split_first()) {
        (true, _) => (latest(ctx)?, a.args.as_slice()),
        (false, Some((name, rest))) => {
            (container::lookup(ctx, name.trim_start_matches('/'))?, rest)
        }
        (false, None) => {
            return Err(Error::msg(
                "you must provide the name or id of a running container",
            ))
        }
    };
    match container::top::top(ctx, &c, descriptors)? {
        container::top::Output::Table(headers, rows) => {
            crate::format::print_table(&headers, &rows, false)
        }
        container::top::Output::Lines(lines) => {
            for l in lines {
                println!("{l}");
            }
        }
    }
    Ok(0)
}

#[derive(Debug, Args)]
pub struct RenameArgs {
    pub container: String,
    pub name: String,
}

pub fn rename(ctx: &Context, a: RenameArgs) -> Result<i32> {
    container::rename::rename(ctx, &a.container, &a.name)?;
    Ok(0)
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
}

pub fn prune(ctx: &Context, _a: PruneArgs) -> Result<i32> {
    for p in container::prune::prune(ctx, &mut |e| crate::cli::report(&e))? {
        println!("{}", p.id);
    }
    Ok(0)
}

#[derive(Debug, Args)]
pub struct ExistsArgs {
    pub container: String,
}

pub fn exists(ctx: &Context, a: ExistsArgs) -> Result<i32> {
    Ok(if container::lookup(ctx, &a.container).is_ok() {
        0
    } else {
        1
    })
}

#[derive(Debug, Args)]
pub struct CpArgs {
    /// Source: a host path, CONTAINER:PATH, or - for a tar stream on stdin
    pub src: String,
    /// Destination: a host path, CONTAINER:PATH, or - for a tar stream on stdout
    pub dest: String,
}

pub fn cp(ctx: &Context, a: CpArgs) -> Result<i32> {
    container::cp::cp(ctx, &a.src, &a.dest)?;
    Ok(0)
}

#[derive(Debug, Args)]
pub struct AttachArgs {
    /// Key sequence for detaching
    #[arg(long)]
    pub detach_keys: Option<String>,
    /// Do not attach STDIN
    #[arg(long)]
    pub no_stdin: bool,
    /// Proxy received signals to the process
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub sig_proxy: bool,
    pub container: String,
}

pub fn attach(ctx: &Context, a: AttachArgs) -> Result<i32> {
    let c = container::lookup(ctx, &a.container)?;
    if !matches!(
        container::effective_status(&c),
        Status::Running | Status::Paused
    ) {
        return Err(Error::msg(format!(
            "you can only attach to running containers: {} is not running",
            c.name
        )));
    }
    let keys = crate::supervisor::protocol::DetachKeys::parse(
        a.detach_keys.as_deref().unwrap_or("ctrl-p,ctrl-q"),
    )
    .map_err(Error::msg)?;
    container::attach::attach(
        ctx,
        &c,
        !a.no_stdin && c.config.interactive,
        keys,
        a.sig_proxy,
    )
}

pub fn export(ctx: &Context, a: ExportArgs) -> Result<i32> {
    let c = container::lookup(ctx, &a.container)?;
    if a.output.is_none() && crate::runtime::tty::is_tty(&std::io::stdout()) {
        return Err(Error::msg(
            "refusing to write a tar archive to a terminal: use -o FILE or redirect the output",
        ));
    }
    container::export::export(ctx, &c, a.output.as_deref())?;
    Ok(0)
}

pub fn rm(ctx: &Context, a: RmArgs) -> Result<i32> {
    let store = container::store(ctx);
    let mut code = 0;
    let targets: Vec<(String, Container)> = if a.all || !a.filter.is_empty() {
        // Newest first: a container's requirements (`--requires`) are
        // older than it, and go after it.
        filtered(ctx, &a.filter)?
            .into_iter()
            .rev()
            .filter(|c| c.config.builder.is_none())
            .map(|c| (c.id.clone(), c))
            .collect()
    } else {
        let names = with_cidfiles(&a.containers, &a.cidfile, a.ignore)?;
        if names.is_empty() && a.cidfile.is_empty() {
            return Err(Error::msg(NO_NAMES));
        }
        let mut v = Vec::new();
        for n in &names {
            // Podman: -f and --ignore pass over a container that does not
            // exist (exit 0); otherwise it is exit 1.
            match store.lookup(n).map_err(Error::from) {
                Ok(c) => v.push((n.clone(), c)),
                Err(e) if (a.ignore || a.force) && e.is_no_such() => {}
                Err(e) => {
                    crate::cli::report(&e);
                    code = e.rm_exit_code();
                }
            }
        }
        v
    };
    let opts = container::remove::RemoveOptions {
        force: a.force,
        stop_timeout: a.time.map(std::time::Duration::from_secs),
        volumes: a.volumes,
        infra: false,
    };
    // Podman: --depend and --all remove what depends on a target first;
    // a filter's matches go dependents first among themselves.
    let targets = if a.depend || a.all {
        with_dependents(ctx, targets)?
    } else if !a.filter.is_empty() {
        let picked: Vec<String> = targets.iter().map(|(_, c)| c.id.clone()).collect();
        with_dependents(ctx, targets)?
            .into_iter()
            .filter(|(id, _)| picked.contains(id))
            .collect()
    } else {
        targets
    };
    for (shown, c) in targets {
        match container::remove::remove_with(ctx, &c, &opts) {
            Ok(()) => println!("{shown}"),
            Err(e) => {
                crate::cli::report(&e);
                // A missing container reported earlier keeps exit 1 (Podman).
                if code != crate::error::EXIT_NO_SUCH {
                    code = e.rm_exit_code();
                }
            }
        }
    }
    container::prune::remove_orphan_builds(ctx);
    remove_spent_cidfiles(ctx, &a.cidfile);
    Ok(code)
}

/// `rm --cidfile`: each file whose container is gone now (removed here,
/// with `--rm` by its supervisor, or before) is removed too, as Podman
/// does, so that a unit's next `run --cidfile` does not find it.
fn remove_spent_cidfiles(ctx: &Context, files: &[PathBuf]) {
    let store = container::store(ctx);
    for f in files {
        let Ok(id) = crate::error::read_capped_text(f, crate::error::USER_FILE_MAX) else {
            continue;
        };
        let id = id.trim();
        let gone = id.is_empty() || store.lookup(id).is_err_and(|e| Error::from(e).is_no_such());
        if gone {
            let _ = std::fs::remove_file(f);
        }
    }
}

/// `rm --depend`: the containers that depend on a target (join one of its
/// namespaces or require it: `container::remove::depends_on`),
/// recursively, each before the one it depends on, then the targets; each
/// once, shown by full id as Podman does.
fn with_dependents(
    ctx: &Context,
    targets: Vec<(String, Container)>,
) -> Result<Vec<(String, Container)>> {
    let all = container::list(ctx)?;
    // `seen` guards against a loop of dependencies.
    fn visit<'a>(
        c: &'a Container,
        all: &'a [Container],
        seen: &mut Vec<&'a str>,
        out: &mut Vec<&'a Container>,
    ) {
        if seen.contains(&c.id.as_str()) {
            return;
        }
        seen.push(&c.id);
        for d in all
            .iter()
            .filter(|d| container::remove::depends_on(d, c, all))
        {
            visit(d, all, seen, out);
        }
        out.push(c);
    }
    let (mut seen, mut order) = (Vec::new(), Vec::new());
    for (_, c) in &targets {
        visit(c, &all, &mut seen, &mut order);
    }
    Ok(order
        .into_iter()
        .map(|c| (c.id.clone(), c.clone()))
        .collect())
}

/// `--preserve-fds N` of run and exec: descriptors 3 to 3+N-1 of skiff's
/// caller go to the container's process (`runtime::fds::preserve`); one of
/// them not open is Podman's error naming it, before anything is created.
fn preserve_fds(n: Option<u32>) -> Result<()> {
    let n = n.unwrap_or(0);
    crate::runtime::fds::preserve(n).map_err(|fd| Error::msg(crate::runtime::fds::not_passed(fd)))
}

/// `inspect`: containers first, then images, as Podman resolves names.
/// The top-level `inspect`, as Podman's: with `--type all` each name is
/// looked up as a container, then an image, a volume and a network; the
/// first found is shown. An ambiguous container prefix is an error, not
/// a reason to look further.
pub fn inspect(ctx: &Context, a: ObjectInspectArgs) -> Result<i32> {
    let store = container::store(ctx);
    let images = crate::image::ImageStore::new(ctx);
    let mut items = Vec::new();
    let mut missing = Vec::new();
    for n in &a.common.names {
        let want = |k: ObjectType| a.kind == ObjectType::All || a.kind == k;
        let mut first_err: Option<Error> = None;
        let mut note = |e: Error| {
            first_err.get_or_insert(e);
        };
        let mut found = None;
        if want(ObjectType::Container) {
            match store.lookup(n) {
                Ok(c) => match container::repair(ctx, c)? {
                    Some(c) => found = Some(container::inspect::inspect_json(ctx, &c)),
                    // Removed while it was repaired: nothing to show.
                    None => continue,
                },
                Err(e) if !e.to_string().ends_with("no such container") => return Err(e.into()),
                // Podman's ContainerInspect words for a missing one.
                Err(_) => note(Error::msg(format!("no such container {n}"))),
            }
        }
        if found.is_none() && want(ObjectType::Image) {
            match images.lookup(n) {
                Ok(img) => found = Some(crate::cli::image::inspect_value(ctx, &img)),
                Err(e) => note(e.into()),
            }
        }
        if found.is_none() && want(ObjectType::Volume) {
            match crate::volume::get(ctx, n) {
                Ok(v) => found = Some(crate::cli::volume::inspect_item(ctx, &v)),
                Err(e) => note(e.into()),
            }
        }
        if found.is_none() && want(ObjectType::Network) {
            match crate::cli::network::inspect_item(ctx, n) {
                Ok(v) => found = Some(v),
                Err(e) => note(e),
            }
        }
        if found.is_none() && want(ObjectType::Pod) {
            match crate::pod::lookup(ctx, n) {
                Ok(p) => found = Some(crate::cli::pod::inspect_json(&p, &container::list(ctx)?)),
                Err(e) => note(e),
            }
        }
        match found {
            Some(item) => items.push(item),
            None if a.kind == ObjectType::All => {
                missing.push(Error::msg(format!("no such object: \"{n}\"")))
            }
            None => missing
                .push(first_err.unwrap_or_else(|| Error::msg(format!("no such object: \"{n}\"")))),
        }
    }
    print_found(a.common.format.as_deref(), &items, missing)
}

/// Podman's inspect with names that are not found: what was found is
/// printed (`[]` when nothing was), then each miss is reported and the
/// command fails with the first (exit 125).
pub(crate) fn print_found(
    format: Option<&str>,
    items: &[serde_json::Value],
    missing: Vec<Error>,
) -> Result<i32> {
    print_inspect(format, items)?;
    let mut missing = missing.into_iter();
    match missing.next() {
        None => Ok(0),
        Some(first) => {
            for e in missing {
                eprintln!("error inspecting object: {e}");
            }
            Err(first)
        }
    }
}

/// The Go type Podman names in a template error about an inspect object.
fn inspect_type(item: &serde_json::Value) -> &'static str {
    if item.get("State").is_some() {
        "define.InspectContainerData"
    } else if item.get("RootFS").is_some() {
        "inspect.ImageData"
    } else if item.get("Mountpoint").is_some() {
        "define.InspectVolumeData"
    } else if item.get("Spec").is_some() {
        "entities.SecretInfoReport"
    } else {
        "types.Network"
    }
}

/// What a template sees of an inspect object: Podman's Go field names where
/// they differ from the JSON keys (networks), Go's zero values where the JSON
/// leaves a field out (volumes).
fn template_view(it: &serde_json::Value) -> serde_json::Value {
    if inspect_type(it) == "types.Network" {
        super::network::template_view(it)
    } else {
        crate::volume::template_view(it.clone())
    }
}

/// Prints inspect objects: a JSON array, or a template per object. A
/// template is checked against every object before anything is printed.
pub fn print_inspect(format: Option<&str>, items: &[serde_json::Value]) -> Result<i32> {
    match format {
        None | Some("json") => {
            println!(
                "{}",
                serde_json::to_string_pretty(items).unwrap_or_default()
            );
        }
        Some(t) => {
            // Every object's fields are checked before the first is printed.
            crate::format::validate(t, &crate::format::Shape::any("inspect"))?;
            let views: Vec<serde_json::Value> = items.iter().map(template_view).collect();
            for (it, view) in items.iter().zip(&views) {
                let sample = if inspect_type(it) == "types.Network" {
                    view.clone()
                } else {
                    crate::cli::image::inspect_sample(it)
                };
                crate::format::validate(t, &crate::format::Shape::new(inspect_type(it), &sample))?;
            }
            for view in &views {
                println!("{}", crate::format::render(t, view)?);
            }
        }
    }
    Ok(0)
}

/// `container inspect`: containers only.
pub fn container_inspect(ctx: &Context, a: InspectArgs) -> Result<i32> {
    let store = container::store(ctx);
    let mut items = Vec::new();
    let mut missing = Vec::new();
    for n in &a.names {
        match store.lookup(n) {
            Ok(c) => items.push(container::inspect::inspect_json(ctx, &c)),
            // Podman's ContainerInspect words for a missing one.
            Err(e) if e.to_string().ends_with("no such container") => {
                missing.push(Error::msg(format!("no such container {n}")))
            }
            Err(e) => return Err(e.into()),
        }
    }
    print_found(a.format.as_deref(), &items, missing)
}
