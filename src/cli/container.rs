//! Container commands: run, export, ps, rm, inspect.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use std::io::Write;

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
    /// Connect the container to a network: none, host, private, pasta, slirp4netns, container:NAME, ns:PATH or a network name
    #[arg(long, visible_alias = "net")]
    pub network: Option<String>,
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
    /// Security options (no-new-privileges, ...)
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
    Run(Box<RunArgs>),
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
        ContainerCommand::Run(a) => run(ctx, *a),
        ContainerCommand::Ps(a) => ps(ctx, a),
        ContainerCommand::Rm(a) => rm(ctx, a),
        ContainerCommand::Export(a) => export(ctx, a),
        ContainerCommand::Inspect(a) => inspect(ctx, a),
    }
}

impl CreateArgs {
    /// The library's view of these options.
    pub fn to_options(&self, image: &str, command: &[String], auto_remove: bool) -> CreateOptions {
        CreateOptions {
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
            read_only: self.read_only,
            entrypoint: self.entrypoint.clone(),
            cap_add: self.cap_add.clone(),
            cap_drop: self.cap_drop.clone(),
            privileged: self.privileged,
            network: self.network.clone(),
            publish: self.publish.clone(),
            publish_all: self.publish_all,
            expose: self.expose.clone(),
            network_aliases: self.network_alias.clone(),
            add_hosts: self.add_host.clone(),
            dns: self.dns.clone(),
            dns_search: self.dns_search.clone(),
            dns_options: self.dns_option.clone(),
            links: self.link.clone(),
            ulimits: self.ulimit.clone(),
            interactive: self.interactive,
            tty: self.tty,
            labels: self.label.clone(),
            security_opts: self.security_opt.clone(),
            restart: self.restart.clone(),
            stop_signal: self.stop_signal.clone(),
            pull: self.pull.clone(),
            auto_remove,
        }
    }
}

pub fn run(ctx: &Context, a: RunArgs) -> Result<i32> {
    if a.detach {
        return Err(Error::msg(
            "detached containers (-d) need the supervisor, which is not built yet: run in the foreground",
        ));
    }
    let opts = a.create.to_options(&a.image, &a.command, a.rm);
    let mut c = container::create(ctx, &opts)?;
    container::start_foreground(ctx, &mut c, a.sig_proxy)
}

pub fn export(ctx: &Context, a: ExportArgs) -> Result<i32> {
    let c = container::store(ctx).lookup(&a.container)?;
    let running = container::effective_status(&c) == Status::Running;
    let rootfs = container::start::mount_rootfs(ctx, &c)?;
    let result = match &a.output {
        Some(path) => {
            // Write next to the target and rename, so a failure leaves no partial archive.
            let tmp = path.with_extension("skiff-partial");
            let res = std::fs::File::create(&tmp)
                .map_err(|e| Error::msg(crate::error::io_msg("create", &tmp, &e)))
                .and_then(|f| {
                    let mut w = std::io::BufWriter::new(f);
                    crate::image::archive::write_tree(&rootfs, &mut w, false)?;
                    w.flush()?;
                    Ok(())
                })
                .and_then(|_| std::fs::rename(&tmp, path).map_err(Error::from));
            if res.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            res
        }
        None => {
            let stdout = std::io::stdout();
            if crate::runtime::tty::is_tty(&stdout) {
                Err(Error::msg(
                    "refusing to write a tar archive to a terminal: use -o FILE or redirect the output",
                ))
            } else {
                let mut w = std::io::BufWriter::new(stdout.lock());
                crate::image::archive::write_tree(&rootfs, &mut w, false)
                    .map_err(Error::from)
                    .and_then(|_| w.flush().map_err(Error::from))
            }
        }
    };
    if !running {
        let _ = container::start::unmount_rootfs(ctx, &c);
    }
    result.map(|_| 0)
}

fn status_text(c: &Container) -> String {
    match container::effective_status(c) {
        Status::Created => "Created".into(),
        Status::Running => format!(
            "Up {}",
            c.state
                .started_at
                .map(crate::format::human_ago)
                .unwrap_or_default()
        ),
        Status::Paused => "Paused".into(),
        Status::Stopping => "Stopping".into(),
        Status::Removing => "Removing".into(),
        Status::Exited => format!(
            "Exited ({}) {}",
            c.state.exit_code,
            c.state
                .finished_at
                .map(crate::format::human_ago)
                .unwrap_or_default()
        ),
    }
}

fn ps_json(c: &Container) -> serde_json::Value {
    serde_json::json!({
        "ID": &c.id[..12],
        "Id": c.id,
        "Image": c.config.image_name,
        "ImageID": c.config.image_id,
        "Command": c.config.args.join(" "),
        "CreatedHuman": crate::format::human_ago(c.created),
        "CreatedAt": c.created.to_rfc3339(),
        "Created": c.created.timestamp(),
        "Status": status_text(c),
        "State": container::effective_status(c).as_str(),
        "ExitCode": c.state.exit_code,
        "Names": c.name,
        "Labels": c.config.labels,
        "Ports": "",
        "Pid": c.state.pid,
        "Mounts": c.config.mounts.iter().map(|m| m.destination.clone()).collect::<Vec<_>>(),
        "Pod": "",
    })
}

pub fn ps(ctx: &Context, a: PsArgs) -> Result<i32> {
    let all = container::store(ctx).list()?;
    let shown: Vec<&Container> = all
        .iter()
        .filter(|c| a.all || container::effective_status(c) == Status::Running)
        .collect();
    if a.quiet {
        for c in shown {
            println!("{}", if a.no_trunc { &c.id[..] } else { &c.id[..12] });
        }
        return Ok(0);
    }
    if let Some(f) = &a.format {
        let items: Vec<serde_json::Value> = shown.iter().map(|c| ps_json(c)).collect();
        crate::format::print_formatted(f, &items)?;
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = shown
        .iter()
        .map(|c| {
            let cmd = c.config.args.join(" ");
            let cmd = if !a.no_trunc && cmd.chars().count() > 20 {
                format!("{}...", cmd.chars().take(17).collect::<String>())
            } else {
                cmd
            };
            vec![
                if a.no_trunc {
                    c.id.clone()
                } else {
                    c.id[..12].to_string()
                },
                c.config.image_name.clone(),
                cmd,
                crate::format::human_ago(c.created),
                status_text(c),
                String::new(),
                c.name.clone(),
            ]
        })
        .collect();
    crate::format::print_table(
        &[
            "CONTAINER ID",
            "IMAGE",
            "COMMAND",
            "CREATED",
            "STATUS",
            "PORTS",
            "NAMES",
        ],
        &rows,
        false,
    );
    Ok(0)
}

pub fn rm(ctx: &Context, a: RmArgs) -> Result<i32> {
    let store = container::store(ctx);
    let targets: Vec<(String, Container)> = if a.all {
        store
            .list()?
            .into_iter()
            .map(|c| (c.id.clone(), c))
            .collect()
    } else {
        if a.containers.is_empty() {
            return Err(Error::msg(
                "rm: give at least one container name or ID, or --all",
            ));
        }
        let mut v = Vec::new();
        for n in &a.containers {
            match store.lookup(n) {
                Ok(c) => v.push((n.clone(), c)),
                Err(e) => {
                    crate::cli::report(&e.into());
                    return Ok(crate::error::EXIT_ENGINE);
                }
            }
        }
        v
    };
    let mut code = 0;
    for (shown, c) in targets {
        match container::remove(ctx, &c, a.force) {
            Ok(()) => println!("{shown}"),
            Err(e) => {
                crate::cli::report(&e);
                code = e.exit_code();
            }
        }
    }
    Ok(code)
}

pub fn inspect(ctx: &Context, a: InspectArgs) -> Result<i32> {
    // Containers come with the supervisor issue; images are inspected already.
    let _ = ctx;
    crate::cli::image::inspect(
        ctx,
        crate::cli::image::ImageInspectArgs {
            format: a.format,
            images: a.names,
        },
    )
}
