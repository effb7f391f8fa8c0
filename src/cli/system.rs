//! System commands: info, version, unshare.

use clap::Args;

use serde_json::{json, Value};

use crate::runtime::idmap;
use crate::state::container::Status;
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

fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

fn version_json() -> Value {
    json!({
        "APIVersion": env!("CARGO_PKG_VERSION"),
        "Version": env!("CARGO_PKG_VERSION"),
        "GitCommit": option_env!("SKIFF_GIT_COMMIT").unwrap_or(""),
        "Built": 0,
        "BuiltTime": "",
        "OsArch": format!("linux/{}", arch()),
        "Os": "linux",
    })
}

pub fn version(_ctx: &Context, a: VersionArgs) -> Result<i32> {
    let v = version_json();
    match a.format.as_deref() {
        // Client and Server alike, as Podman's remote client reports them:
        // skiff is its own engine, and `{{.Server.Version}}` is how tools
        // written for Docker find the engine's version.
        Some("json") => println!(
            "{}",
            serde_json::to_string_pretty(&json!({"Client": v, "Server": v})).unwrap_or_default()
        ),
        Some(t) => {
            let report = json!({"Client": v, "Server": v});
            let shape = crate::format::Shape::new("entities.SystemVersionReport", &report);
            crate::format::validate(t, &shape)?;
            println!("{}", crate::format::render(t, &report)?)
        }
        None => {
            let rows = [
                ("Version:", env!("CARGO_PKG_VERSION").to_string()),
                ("API Version:", env!("CARGO_PKG_VERSION").to_string()),
                (
                    "Git Commit:",
                    option_env!("SKIFF_GIT_COMMIT").unwrap_or("").to_string(),
                ),
                ("OS/Arch:", format!("linux/{}", arch())),
            ];
            for (k, v) in rows {
                println!("{k:<14}{v}");
            }
        }
    }
    Ok(0)
}

fn id_mappings(file: &str, ctx: &Context) -> Vec<Value> {
    let user = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(ctx.uid))
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_default();
    let own = if file.ends_with("subuid") {
        ctx.uid
    } else {
        ctx.gid
    };
    let ranges = idmap::subids(std::path::Path::new(file), &user, ctx.uid);
    idmap::build_maps(own, &ranges)
        .iter()
        .map(|m| json!({"container_id": m.inside, "host_id": m.outside, "size": m.count}))
        .collect()
}

fn helper_info(name: &str) -> Value {
    let path = which(name);
    let version = path
        .as_ref()
        .and_then(|p| std::process::Command::new(p).arg("--version").output().ok())
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .unwrap_or("")
                .to_string()
        })
        .unwrap_or_default();
    json!({"executable": path.map(|p| p.display().to_string()).unwrap_or_default(), "package": "", "version": version})
}

fn which(name: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(name))
                .find(|c| c.is_file())
        })
        .unwrap_or(None)
}

fn os_release() -> (String, String) {
    let text = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    let get = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .map(|v| v.trim_matches('"').to_string())
            .unwrap_or_default()
    };
    (get("ID"), get("VERSION_ID"))
}

fn mem_total() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

fn info_json(ctx: &Context) -> Result<Value> {
    let driver = crate::storage::select(&ctx.root, ctx.storage_driver.as_deref())?;
    let containers = crate::container::store(ctx).list()?;
    let count = |s: Status| {
        containers
            .iter()
            .filter(|c| crate::container::effective_status(c) == s)
            .count()
    };
    let images = crate::image::ImageStore::new(ctx)
        .list()
        .map(|l| l.len())
        .unwrap_or(0);
    let (distro, distro_version) = os_release();
    let kernel = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    let cgroup_v2 = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let network_backend = if which("pasta").is_some() {
        "pasta"
    } else {
        "slirp4netns"
    };
    let settings = crate::cli::global::settings();
    Ok(json!({
        "host": {
            "arch": arch(),
            "cgroupManager": global_name(&settings.cgroup_manager),
            "eventLogger": global_name(&settings.events_backend),
            // Controllers of the subtree delegated to the user; empty when
            // none is (then limits cannot apply and pause uses signals).
            "cgroupControllers": crate::cgroups::detect_host(ctx.uid).map(|d| d.controllers).unwrap_or_default(),
            "cgroupVersion": if cgroup_v2 { "v2" } else { "v1" },
            "conmon": {"package": "skiff", "path": exe, "version": format!("skiff supervisor {}", env!("CARGO_PKG_VERSION"))},
            "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            "distribution": {"distribution": distro, "version": distro_version},
            "hostname": nix::unistd::gethostname().map(|h| h.to_string_lossy().into_owned()).unwrap_or_default(),
            "idMappings": {
                "uidmap": if ctx.rootless { id_mappings("/etc/subuid", ctx) } else { Vec::new() },
                "gidmap": if ctx.rootless { id_mappings("/etc/subgid", ctx) } else { Vec::new() },
            },
            "kernel": kernel,
            "logDriver": "k8s-file",
            "memTotal": mem_total(),
            "networkBackend": network_backend,
            "ociRuntime": {"name": "skiff", "package": "skiff", "path": exe, "version": env!("CARGO_PKG_VERSION")},
            "os": "linux",
            "remoteSocket": {"exists": false, "path": ""},
            "security": {"rootless": ctx.rootless, "seccompEnabled": crate::runtime::seccomp::supported(), "seccompProfilePath": "builtin", "selinuxEnabled": false, "apparmorEnabled": false},
            "slirp4netns": helper_info("slirp4netns"),
            "pasta": helper_info("pasta"),
        },
        "store": {
            "graphDriverName": driver.name(),
            "graphRoot": ctx.root,
            "runRoot": ctx.runroot,
            "imageStore": {"number": images},
            "containerStore": {
                "number": containers.len(),
                "paused": count(Status::Paused),
                "running": count(Status::Running),
                "stopped": count(Status::Exited) + count(Status::Created),
            },
            "volumePath": ctx.root.join("volumes"),
        },
        "registries": {},
        "plugins": {"log": ["k8s-file"], "network": ["pasta", "slirp4netns"], "volume": ["local"]},
        "version": version_json(),
    }))
}

/// A global option's value as its flag spells it (`cgroupfs`, `file`).
fn global_name(v: &impl clap::ValueEnum) -> String {
    v.to_possible_value()
        .map(|p| p.get_name().to_string())
        .unwrap_or_default()
}

/// Podman's info templates use Go field names (`.Host.OCIRuntime.Name`)
/// while its JSON uses camelCase keys: derive the first from the second.
fn go_names(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            Value::Object(m.iter().map(|(k, v)| (go_name(k), go_names(v))).collect())
        }
        Value::Array(a) => Value::Array(a.iter().map(go_names).collect()),
        other => other.clone(),
    }
}

fn go_name(k: &str) -> String {
    match k {
        "ociRuntime" => "OCIRuntime".into(),
        "idMappings" => "IDMappings".into(),
        "uidmap" => "UIDMap".into(),
        "gidmap" => "GIDMap".into(),
        "cpus" => "CPUs".into(),
        "container_id" => "ContainerID".into(),
        "host_id" => "HostID".into(),
        "os" => "OS".into(),
        _ => {
            let mut c = k.chars();
            match c.next() {
                Some(f) => f.to_uppercase().chain(c).collect(),
                None => String::new(),
            }
        }
    }
}

/// Adds the top-level fields of Docker's `info` that scripts read to detect
/// the engine and host (`{{.ServerVersion}}`, `{{.OperatingSystem}}`,
/// `{{.Driver}}`...) to the template view of Podman's `info`.
fn with_docker_keys(mut info: Value) -> Value {
    let at = |p: &str| info.pointer(p).cloned().unwrap_or(Value::Null);
    let extra = json!({
        "ServerVersion": env!("CARGO_PKG_VERSION"),
        "OperatingSystem": at("/Host/Distribution/Distribution"),
        "OSType": "linux",
        "Architecture": std::env::consts::ARCH,
        "KernelVersion": at("/Host/Kernel"),
        "Name": at("/Host/Hostname"),
        "NCPU": at("/Host/CPUs"),
        "MemTotal": at("/Host/MemTotal"),
        "Driver": at("/Store/GraphDriverName"),
        "DockerRootDir": at("/Store/GraphRoot"),
    });
    if let (Value::Object(m), Value::Object(e)) = (&mut info, extra) {
        for (k, v) in e {
            m.entry(k).or_insert(v);
        }
    }
    info
}

/// `info`'s default output: the JSON document as YAML, as Podman prints it
/// (`key: value`, block sequences at the key's indent). `serde_yaml_ng` quotes
/// what would otherwise read back as another type or break the document: an
/// empty string, `true`, `1.0`, `a: b`, a leading `*` or `#`.
fn yaml(v: &Value) -> Result<String> {
    serde_yaml_ng::to_string(v).map_err(|e| Error::msg(format!("info: {e}")))
}

pub fn info(ctx: &Context, a: InfoArgs) -> Result<i32> {
    let mut v = info_json(ctx)?;
    // Keys in alphabetical order at every level, as `podman info` lists them.
    v.sort_all_objects();
    match a.format.as_deref() {
        Some("json") => println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default()),
        Some(t) => {
            let info = with_docker_keys(go_names(&v));
            crate::format::validate(t, &crate::format::Shape::new("define.Info", &info))?;
            println!("{}", crate::format::render(t, &info)?)
        }
        None => {
            print!("{}", yaml(&v)?);
        }
    }
    Ok(0)
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

/// `skiff system ...`: df, prune, reset and events (info, version and
/// unshare are top-level commands).
#[derive(Debug, clap::Subcommand)]
#[command(defer = true)]
pub enum SystemCommand {
    /// Show skiff disk usage: images, containers and local volumes
    Df(DfArgs),
    /// Remove unused data: stopped containers, unused networks, dangling images
    Prune(SystemPruneArgs),
    /// Reset skiff storage back to its initial state
    Reset(ResetArgs),
    /// Show skiff events (as `skiff events`; Podman has both)
    Events(super::events::EventsArgs),
}

impl SystemCommand {
    /// df, prune and reset touch files owned by subordinate ids; events
    /// only reads the journal, as `skiff events` does.
    pub fn needs_userns(&self) -> bool {
        !matches!(self, SystemCommand::Events(_))
    }
}

#[derive(Debug, Args)]
pub struct SystemPruneArgs {
    /// Remove all unused images, not just dangling ones
    #[arg(short, long)]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Prune volumes not used by at least one container
    #[arg(long)]
    pub volumes: bool,
}

#[derive(Debug, Args)]
pub struct DfArgs {
    /// Pretty-print the summary with a Go template or as json
    #[arg(long, conflicts_with = "verbose")]
    pub format: Option<String>,
    /// Show detailed information on space usage
    #[arg(short, long)]
    pub verbose: bool,
}

#[derive(Debug, Args)]
pub struct ResetArgs {
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
}

pub fn dispatch(ctx: &Context, c: SystemCommand) -> Result<i32> {
    match c {
        SystemCommand::Df(a) => df(ctx, a),
        SystemCommand::Prune(a) => prune(ctx, a),
        SystemCommand::Reset(a) => reset(ctx, a),
        SystemCommand::Events(a) => super::events::events(ctx, a),
    }
}

/// One summary row as `system df --format` templates see it: Podman's
/// fields (`RawSize` and `RawReclaimable` in bytes, the others as shown).
fn df_row(s: &crate::container::df::Summary) -> Value {
    json!({
        "Type": s.kind,
        "Total": s.total,
        "Active": s.active,
        "Size": crate::format::human_size_4(s.size),
        "Reclaimable": s.reclaimable_text(),
        "RawSize": s.size,
        "RawReclaimable": s.reclaimable,
    })
}

/// `system df`: the summary table (TYPE TOTAL ACTIVE SIZE RECLAIMABLE),
/// `--format` over its rows (`json`: Podman's fields without the
/// human-readable ones), or with `-v` one table per kind, as Podman.
pub fn df(ctx: &Context, a: DfArgs) -> Result<i32> {
    use crate::format::{human_ago, human_size_4, print_formatted, print_table, Shape};
    let sample = df_row(&crate::container::df::Summary {
        kind: "",
        total: 0,
        active: 0,
        size: 0,
        reclaimable: 0,
    });
    let shape = Shape::new("system.dfSummary", &sample);
    if let Some(f) = &a.format {
        crate::format::format_items(f, &[], &shape)?;
    }
    let usage = crate::container::df::usage(ctx)?;
    let summary = usage.summary();
    if let Some(f) = &a.format {
        let mut rows: Vec<Value> = summary.iter().map(df_row).collect();
        if f.trim() == "json" {
            for r in &mut rows {
                if let Value::Object(m) = r {
                    m.shift_remove("Size");
                    m.shift_remove("Reclaimable");
                }
            }
        }
        print_formatted(f, &rows, &shape)?;
        return Ok(0);
    }
    if !a.verbose {
        let rows: Vec<Vec<String>> = summary
            .iter()
            .map(|s| {
                vec![
                    s.kind.to_string(),
                    s.total.to_string(),
                    s.active.to_string(),
                    human_size_4(s.size),
                    s.reclaimable_text(),
                ]
            })
            .collect();
        print_table(
            &["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"],
            &rows,
            false,
        );
        return Ok(0);
    }
    println!("Images space usage:\n");
    let mut rows = Vec::new();
    for i in &usage.images {
        let names = if i.image.names.is_empty() {
            vec!["<none>:<none>".to_string()]
        } else {
            i.image.names.clone()
        };
        for n in names {
            let (repo, tag) = n.rsplit_once(':').unwrap_or((&n, "<none>"));
            rows.push(vec![
                repo.to_string(),
                tag.to_string(),
                i.image.short_id().to_string(),
                human_ago(i.image.created),
                human_size_4(i.size),
                human_size_4(i.shared),
                human_size_4(i.size - i.shared),
                i.containers.to_string(),
            ]);
        }
    }
    print_table(
        &[
            "REPOSITORY",
            "TAG",
            "IMAGE ID",
            "CREATED",
            "SIZE",
            "SHARED SIZE",
            "UNIQUE SIZE",
            "CONTAINERS",
        ],
        &rows,
        false,
    );
    println!("\nContainers space usage:\n");
    let rows: Vec<Vec<String>> = usage
        .containers
        .iter()
        .map(|u| {
            let c = &u.container;
            vec![
                c.id[..12].to_string(),
                c.config.image_id[..12.min(c.config.image_id.len())].to_string(),
                c.config.args.join(" "),
                u.volumes.to_string(),
                human_size_4(u.size),
                human_ago(c.created),
                crate::container::effective_status(c).as_str().to_string(),
                c.name.clone(),
            ]
        })
        .collect();
    print_table(
        &[
            "CONTAINER ID",
            "IMAGE",
            "COMMAND",
            "LOCAL VOLUMES",
            "SIZE",
            "CREATED",
            "STATUS",
            "NAMES",
        ],
        &rows,
        false,
    );
    println!("\nLocal Volumes space usage:\n");
    let rows: Vec<Vec<String>> = usage
        .volumes
        .iter()
        .map(|v| {
            vec![
                v.volume.name.clone(),
                v.links.to_string(),
                human_size_4(v.size),
            ]
        })
        .collect();
    print_table(&["VOLUME NAME", "LINKS", "SIZE"], &rows, false);
    Ok(0)
}

/// Prints `warning` and reads the answer from stdin: yes only for y/Y/yes.
pub(crate) fn confirm(warning: &str) -> bool {
    use std::io::{BufRead, Write};
    eprint!("{warning}Are you sure you want to continue? [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    matches!(answer.trim(), "y" | "Y" | "yes" | "Yes")
}

/// `system prune`, with Podman's prompt and output.
pub fn prune(ctx: &Context, a: SystemPruneArgs) -> Result<i32> {
    if !a.force {
        let volumes = if a.volumes {
            "\n\t- all volumes not used by at least one container"
        } else {
            ""
        };
        let images = if a.all {
            "\t- all images without at least one container associated to them\n"
        } else {
            "\t- all dangling images\n"
        };
        let warning = format!(
            "WARNING! This command removes:\n\t- all stopped containers\n\t- all networks not used by at least one container{volumes}\n{images}\n"
        );
        if !confirm(&warning) {
            return Ok(0);
        }
    }
    let mut last = None;
    let p = crate::container::prune::system_prune(ctx, a.all, a.volumes, |e| {
        if let Some(prev) = last.replace(e) {
            crate::cli::report(&prev);
        }
    })?;
    for (title, ids) in [
        ("Deleted Containers", &p.containers),
        ("Deleted Networks", &p.networks),
        ("Deleted Volumes", &p.volumes),
        ("Deleted Images", &p.images),
    ] {
        if !ids.is_empty() {
            println!("{title}");
            for id in ids {
                println!("{id}");
            }
        }
    }
    println!(
        "Total reclaimed space: {}",
        crate::format::human_size_compact(p.reclaimed)
    );
    match last {
        Some(e) => Err(e),
        None => Ok(0),
    }
}

/// `system reset`, with Podman's prompt.
pub fn reset(ctx: &Context, a: ResetArgs) -> Result<i32> {
    if !a.force {
        let warning = format!(
            "WARNING! This will remove:\n\t- all containers\n\t- all pods\n\t- all images\n\t- all networks\n\t- all build cache\n\t- all machines\n\t- all volumes\n\t- the graphRoot directory: {:?}\n\t- the runRoot directory: {:?}\n",
            ctx.root.display().to_string(),
            ctx.runroot.display().to_string()
        );
        if !confirm(&warning) {
            return Ok(0);
        }
    }
    let mut last = None;
    crate::container::prune::system_reset(ctx, |e| {
        if let Some(prev) = last.replace(e) {
            crate::cli::report(&prev);
        }
    })?;
    match last {
        Some(e) => Err(e),
        None => Ok(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_yaml_quotes_values_that_need_it() {
        let mut v = json!({
            "host": {"arch": "amd64", "empty": "", "flag": "true", "ver": "1.0",
                     "colon": "a: b", "star": "*x", "list": ["x", "y"], "n": 3,
                     "none": [], "obj": {}},
        });
        v.sort_all_objects();
        let out = yaml(&v).unwrap();
        let expect = "host:\n  arch: amd64\n  colon: 'a: b'\n  empty: ''\n  flag: 'true'\n  list:\n  - x\n  - y\n  n: 3\n  none: []\n  obj: {}\n  star: '*x'\n  ver: '1.0'\n";
        assert_eq!(out, expect);
        // What it prints reads back as the same document.
        let back: Value = serde_yaml_ng::from_str(&out).unwrap();
        assert_eq!(back, v);
    }
}
