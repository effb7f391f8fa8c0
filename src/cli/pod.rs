//! `skiff pod ...`: Podman's pod commands over the `pod` library module.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::{json, Value};

use crate::container;
use crate::pod::{self, Pod, PodConfig, PodStatus};
use crate::state::container::{Container, Status};
use crate::{Context, Error, Result};

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum PodCommand {
    /// Create a new empty pod
    Create(Box<CreateArgs>),
    /// Check if a pod exists in local storage
    Exists(NameArg),
    /// Display a pod configuration
    Inspect(InspectArgs),
    /// Send the specified signal or SIGKILL to containers in a pod
    Kill(KillArgs),
    /// Fetch logs for pod with one or more containers
    Logs(LogsArgs),
    /// Pause one or more pods
    Pause(PodsArg),
    /// Remove all stopped pods and their containers
    Prune(PruneArgs),
    /// List pods
    #[command(visible_alias = "ls", visible_alias = "list")]
    Ps(PsArgs),
    /// Restart one or more pods
    Restart(PodsArg),
    /// Remove one or more pods
    Rm(RmArgs),
    /// Start one or more pods
    Start(StartArgs),
    /// Display a live stream of resource usage statistics for the containers in one or more pods
    Stats(StatsArgs),
    /// Stop one or more pods
    Stop(StopArgs),
    /// Display the running processes of containers in a pod
    Top(TopArgs),
    /// Unpause one or more pods
    Unpause(PodsArg),
}

impl PodCommand {
    /// Whether the command touches containers' files or processes (then it
    /// runs inside the user namespace).
    pub fn needs_userns(&self) -> bool {
        !matches!(
            self,
            PodCommand::Exists(_)
                | PodCommand::Inspect(_)
                | PodCommand::Ps(_)
                // /proc and cgroup files only, as `stats`.
                | PodCommand::Stats(_)
        )
    }
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Assign a name to the pod
    #[arg(short, long)]
    pub name: Option<String>,
    /// Publish a port of the pod to the host ([ip:][hostPort:]containerPort[/tcp|udp])
    #[arg(short, long = "publish")]
    pub publish: Vec<String>,
    /// Set metadata on the pod (key=value)
    #[arg(short, long = "label")]
    pub label: Vec<String>,
    /// Namespaces the pod's containers share: cgroup, ipc, net, pid, uts or none (+ADD adds to the default)
    #[arg(long)]
    pub share: Option<String>,
    /// Make the pod's cgroup the parent of its containers' (default true; needs a delegated cgroup v2 subtree)
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub share_parent: Option<bool>,
    /// Create an infra container that holds the shared namespaces
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub infra: Option<bool>,
    /// Set the pod's hostname (default: the pod's name)
    #[arg(long)]
    pub hostname: Option<String>,
    /// Connect the pod to a network: pasta, slirp4netns, none, host or a network name
    #[arg(long, visible_alias = "net")]
    pub network: Vec<String>,
    /// What the pod does when its last container exits: continue or stop
    #[arg(long, default_value = "continue")]
    pub exit_policy: String,
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
    /// Write the pod ID to the file
    #[arg(long, value_name = "FILE")]
    pub pod_id_file: Option<PathBuf>,
    /// Write the infra container's supervisor (conmon) PID to the file at each start
    #[arg(long, value_name = "FILE")]
    pub infra_conmon_pidfile: Option<PathBuf>,
    /// If a pod with the same name exists, replace it
    #[arg(long)]
    pub replace: bool,
}

#[derive(Debug, Args)]
pub struct TopArgs {
    /// Name or ID of the pod
    pub pod: String,
    /// Format descriptors (as `top`'s: pid, user, args, hpid...)
    pub descriptors: Vec<String>,
}

#[derive(Debug, Args)]
pub struct NameArg {
    /// Name or ID of the pod
    pub pod: String,
}

#[derive(Debug, Args)]
pub struct PodsArg {
    /// Act on every pod
    #[arg(short, long)]
    pub all: bool,
    /// Names or IDs of the pods
    pub pods: Vec<String>,
}

/// `pod start`: [`PodsArg`] and `--pod-id-file`.
#[derive(Debug, Args)]
pub struct StartArgs {
    /// Act on every pod
    #[arg(short, long)]
    pub all: bool,
    /// Read the pod ID from the file (repeatable)
    #[arg(long, value_name = "FILE")]
    pub pod_id_file: Vec<PathBuf>,
    /// Names or IDs of the pods
    pub pods: Vec<String>,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    /// Act on every pod
    #[arg(short, long)]
    pub all: bool,
    /// Ignore errors when a specified pod is missing
    #[arg(short, long)]
    pub ignore: bool,
    /// Read the pod ID from the file (repeatable)
    #[arg(long, value_name = "FILE")]
    pub pod_id_file: Vec<PathBuf>,
    /// Seconds to wait before killing the containers
    #[arg(
        short = 't',
        long = "time",
        default_value_t = 10,
        value_name = "SECONDS"
    )]
    pub time: u64,
    pub pods: Vec<String>,
}

#[derive(Debug, Args)]
pub struct KillArgs {
    /// Act on every pod
    #[arg(short, long)]
    pub all: bool,
    /// Signal to send to the containers of the pod
    #[arg(short, long, default_value = "KILL")]
    pub signal: String,
    pub pods: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Remove every pod
    #[arg(short, long)]
    pub all: bool,
    /// Stop and remove running pods and their containers
    #[arg(short, long)]
    pub force: bool,
    /// Do not fail when a pod does not exist
    #[arg(short, long)]
    pub ignore: bool,
    /// With --force: seconds to wait for the pod to stop before killing its containers
    #[arg(short = 't', long = "time", value_name = "SECONDS")]
    pub time: Option<u64>,
    /// Read the pod ID from the file (repeatable)
    #[arg(long, value_name = "FILE")]
    pub pod_id_file: Vec<PathBuf>,
    pub pods: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Format the output with a Go template, or json
    #[arg(short, long)]
    pub format: Option<String>,
    #[arg(required = true)]
    pub pods: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PsArgs {
    /// Print the names of the containers of each pod
    #[arg(long)]
    pub ctr_names: bool,
    /// Print the states of the containers of each pod
    #[arg(long)]
    pub ctr_status: bool,
    /// Print the IDs of the containers of each pod
    #[arg(long)]
    pub ctr_ids: bool,
    /// Filter output: name=, label=, status=, id=
    #[arg(short, long)]
    pub filter: Vec<String>,
    /// Pretty-print pods with a Go template, or json
    #[arg(long)]
    pub format: Option<String>,
    /// Print the IDs of the pods only
    #[arg(short, long)]
    pub quiet: bool,
    /// Do not truncate IDs
    #[arg(long)]
    pub no_trunc: bool,
    /// Do not print column headings
    #[arg(long)]
    pub noheading: bool,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Provide stats for all pods (the default when no pod is named)
    #[arg(short, long)]
    pub all: bool,
    /// Pretty-print container statistics to JSON or using a Go template
    #[arg(long)]
    pub format: Option<String>,
    /// Disable streaming stats and only pull the first result
    #[arg(long)]
    pub no_stream: bool,
    /// Do not clear the terminal/screen in between reporting intervals
    #[arg(long)]
    pub no_reset: bool,
    /// Names or IDs of the pods
    pub pods: Vec<String>,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Only the logs of this container of the pod (its lines without a prefix)
    #[arg(short, long)]
    pub container: Option<String>,
    /// Follow log output
    #[arg(short, long)]
    pub follow: bool,
    /// Output the specified number of lines at the end of each log
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
    /// Prefix lines with container names (skiff always does, but with --container)
    #[arg(short, long)]
    pub names: bool,
    pub pod: String,
}

/// Runs one `pod` subcommand.
pub fn dispatch(ctx: &Context, c: PodCommand) -> Result<i32> {
    match c {
        PodCommand::Create(a) => create(ctx, *a),
        PodCommand::Exists(a) => Ok(if pod::lookup(ctx, &a.pod).is_ok() {
            0
        } else {
            1
        }),
        PodCommand::Inspect(a) => inspect(ctx, a),
        PodCommand::Kill(a) => {
            let sig = crate::runtime::signal::parse(&a.signal)?;
            each(ctx, &a.pods, a.all, |p| pod::kill(ctx, p, sig))
        }
        PodCommand::Logs(a) => logs(ctx, a),
        PodCommand::Pause(a) => each(ctx, &a.pods, a.all, |p| pod::set_paused(ctx, p, true)),
        PodCommand::Unpause(a) => each(ctx, &a.pods, a.all, |p| pod::set_paused(ctx, p, false)),
        PodCommand::Prune(_) => prune(ctx),
        PodCommand::Ps(a) => ps(ctx, a),
        PodCommand::Restart(a) => each(ctx, &a.pods, a.all, |p| pod::restart(ctx, p)),
        PodCommand::Rm(a) => rm(ctx, a),
        PodCommand::Start(a) => {
            let names = with_pod_id_files(&a.pods, &a.pod_id_file, false)?;
            each(ctx, &names, a.all, |p| pod::start(ctx, p))
        }
        PodCommand::Stats(a) => stats(ctx, a),
        PodCommand::Stop(a) => {
            let t = Duration::from_secs(a.time);
            let names = with_pod_id_files(&a.pods, &a.pod_id_file, a.ignore)?;
            if a.ignore && !a.all && names.is_empty() && !a.pod_id_file.is_empty() {
                // Only files that were never written (a unit that never started).
                return Ok(0);
            }
            each_ignoring(ctx, &names, a.all, a.ignore, |p| pod::stop(ctx, p, t))
        }
        PodCommand::Top(a) => top(ctx, a),
    }
}

/// The names given plus the ids read from `--pod-id-file`s (Podman's
/// "reading pod ID file" error; with `ignore`, a missing file names
/// nothing, as a unit's ExecStop runs after a pod that was never created).
fn with_pod_id_files(names: &[String], files: &[PathBuf], ignore: bool) -> Result<Vec<String>> {
    crate::cli::container::with_id_files(names, files, ignore, "pod ID file")
}

fn create(ctx: &Context, a: CreateArgs) -> Result<i32> {
    if a.replace && a.name.is_none() {
        return Err(Error::msg("cannot replace pod without --name being set"));
    }
    let sharing = pod::parse_share(a.share.as_deref(), a.infra, a.share_parent.unwrap_or(true))?;
    if a.share_parent == Some(true)
        && crate::cgroups::detect_host(nix::unistd::geteuid().as_raw()).is_none()
    {
        // Asked for explicitly, it must not pass for done.
        tracing::warn!(
            "--share-parent has no effect: no cgroup v2 subtree is delegated to this user, so neither the pod nor its containers get a cgroup"
        );
    }
    if !sharing.infra && a.infra_conmon_pidfile.is_some() {
        return Err(Error::msg(
            "cannot set infra-conmon-pid without an infra container",
        ));
    }
    if !sharing.infra && !a.publish.is_empty() {
        return Err(Error::msg(
            "you must have an infra container to publish port bindings to the host",
        ));
    }
    let labels = crate::container::create::parse_labels(&a.label)?;
    let exit_policy = a.exit_policy.parse()?;
    if let Some(h) = &a.hostname {
        crate::container::create::check_hostname(h)?;
    }
    let config = PodConfig {
        labels,
        hostname: a.hostname.unwrap_or_default(),
        sharing,
        exit_policy,
        ports: pod::parse_ports(&a.publish)?,
        networks: a.network,
        dns: a.dns,
        dns_search: a.dns_search,
        dns_options: a.dns_option,
        add_hosts: a.add_host,
        create_command: std::env::args().collect(),
        infra_conmon_pidfile: match &a.infra_conmon_pidfile {
            Some(f) => Some(std::env::current_dir()?.join(f)),
            None => None,
        },
    };
    if let Some(name) = a.name.as_deref().filter(|_| a.replace) {
        // Podman's --replace: the pod of that name goes first, forcibly.
        if let Some(old) = pod::lookup(ctx, name).ok().filter(|p| p.name == name) {
            pod::remove(ctx, &old, true)?;
        }
    }
    let p = pod::create(ctx, a.name.as_deref(), config)?;
    if let Some(f) = &a.pod_id_file {
        // Written (replacing an older file) once the pod exists; a pod
        // whose file cannot be written is removed again.
        if let Err(e) = crate::state::atomic_write(f, p.id.as_bytes()) {
            let _ = pod::remove(ctx, &p, true);
            return Err(e.into());
        }
    }
    println!("{}", p.id);
    Ok(0)
}

/// The pods named (or all of them with `all`), each through `f`; prints each
/// pod's id on success and reports each failure, Podman's way.
fn each(
    ctx: &Context,
    names: &[String],
    all: bool,
    f: impl FnMut(&Pod) -> Result<()>,
) -> Result<i32> {
    each_ignoring(ctx, names, all, false, f)
}

/// [`each`]; with `ignore` (`pod stop --ignore`), a pod that does not
/// exist is passed over silently.
fn each_ignoring(
    ctx: &Context,
    names: &[String],
    all: bool,
    ignore: bool,
    mut f: impl FnMut(&Pod) -> Result<()>,
) -> Result<i32> {
    if all && !names.is_empty() {
        return Err(Error::msg("--all and pod names cannot be given together"));
    }
    if !all && names.is_empty() {
        return Err(Error::msg("you must provide at least one pod name or id"));
    }
    let targets: Vec<Result<Pod>> = if all {
        pod::list(ctx)?.into_iter().map(Ok).collect()
    } else {
        names.iter().map(|n| pod::lookup(ctx, n)).collect()
    };
    let mut code = 0;
    for t in targets {
        match t.and_then(|p| f(&p).map(|()| p)) {
            Ok(p) => println!("{}", p.id),
            Err(e) if ignore && e.is_no_such() => {}
            Err(e) => {
                crate::cli::report(&e);
                code = e.exit_code();
            }
        }
    }
    Ok(code)
}

fn rm(ctx: &Context, a: RmArgs) -> Result<i32> {
    let ignore = a.ignore || a.force;
    let mut a = a;
    a.pods = with_pod_id_files(&a.pods, &a.pod_id_file, ignore)?;
    if a.all && !a.pods.is_empty() {
        return Err(Error::msg("--all and pod names cannot be given together"));
    }
    let targets: Vec<(String, Result<Pod>)> = if a.all {
        pod::list(ctx)?
            .into_iter()
            .map(|p| (p.name.clone(), Ok(p)))
            .collect()
    } else {
        a.pods
            .iter()
            .map(|n| (n.clone(), pod::lookup(ctx, n)))
            .collect()
    };
    let mut code = 0;
    for (_, t) in targets {
        let p = match t {
            Ok(p) => p,
            // Podman: -f implies --ignore; a missing pod is exit 1.
            Err(e) if (a.ignore || a.force) && e.is_no_such() => continue,
            Err(e) => {
                crate::cli::report(&e);
                code = e.rm_exit_code();
                continue;
            }
        };
        match pod::remove_with(ctx, &p, a.force, a.time.map(Duration::from_secs)) {
            Ok(()) => println!("{}", p.id),
            Err(e) => {
                crate::cli::report(&e);
                code = e.exit_code();
            }
        }
    }
    Ok(code)
}

fn prune(ctx: &Context) -> Result<i32> {
    let all = container::list(ctx)?;
    for p in pod::list(ctx)? {
        if matches!(
            pod::status(&p, &all),
            PodStatus::Exited | PodStatus::Stopped | PodStatus::Created
        ) {
            match pod::remove(ctx, &p, false) {
                Ok(()) => println!("{}", p.id),
                Err(e) => crate::cli::report(&e),
            }
        }
    }
    Ok(0)
}

/// Podman's `pod inspect` JSON of one pod.
pub fn inspect_json(p: &Pod, all: &[Container]) -> Value {
    let members = pod::members_in(all, &p.id);
    let infra = members.iter().find(|c| c.config.infra);
    let mut bindings = serde_json::Map::new();
    for m in &p.config.ports {
        let key = format!("{}/{}", m.container_port, m.protocol);
        let entry = bindings.entry(key).or_insert_with(|| json!([]));
        if let Value::Array(a) = entry {
            a.push(json!({"HostIp": m.host_ip, "HostPort": m.host_port.to_string()}));
        }
    }
    let shared: Vec<&str> = p
        .config
        .sharing
        .namespaces
        .iter()
        .map(|n| n.as_str())
        .collect();
    let (cgroup_path, cgroup_parent) = pod::cgroup_paths(p);
    json!({
        "Id": p.id,
        "Name": p.name,
        "Created": p.created.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        "CreateCommand": p.config.create_command,
        "ExitPolicy": p.config.exit_policy.as_str(),
        "State": pod::status(p, all).as_str(),
        "Hostname": p.hostname(),
        "Labels": p.config.labels,
        "CreateCgroup": p.config.sharing.share_parent,
        "CgroupParent": cgroup_parent,
        "CgroupPath": cgroup_path,
        "CreateInfra": p.config.sharing.infra,
        "InfraContainerId": p.state.infra_id,
        "InfraContainerID": p.state.infra_id,
        "InfraConfig": {
            "PortBindings": bindings,
            "HostNetwork": p.config.networks.iter().any(|n| n == "host"),
            "StaticIP": "",
            "StaticMAC": "",
            "NoManageResolvConf": false,
            "DNSServer": p.config.dns,
            "DNSSearch": p.config.dns_search,
            "DNSOption": p.config.dns_options,
            "NoManageHosts": false,
            "HostAdd": p.config.add_hosts,
            "Networks": p.config.networks,
            "NetworkOptions": null,
            "pid_ns": if p.shares(pod::Namespace::Pid) { "pod" } else { "private" },
            "userns": "host",
            "uts_ns": if p.shares(pod::Namespace::Uts) { "pod" } else { "private" },
        },
        "SharedNamespaces": shared,
        "NumContainers": members.len(),
        "Containers": members.iter().map(|c| json!({
            "Id": c.id,
            "Name": c.name,
            "State": container::effective_status(c).as_str(),
        })).collect::<Vec<_>>(),
        "LockNumber": 0,
        "InfraName": infra.map(|c| c.name.clone()).unwrap_or_default(),
    })
}

fn inspect(ctx: &Context, a: InspectArgs) -> Result<i32> {
    let all = container::list(ctx)?;
    let mut items = Vec::new();
    for n in &a.pods {
        items.push(inspect_json(&pod::lookup(ctx, n)?, &all));
    }
    match a.format.as_deref() {
        None | Some("json") => {
            let v = if items.len() == 1 {
                items.remove(0)
            } else {
                Value::Array(items)
            };
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        }
        Some(t) => {
            for it in &items {
                crate::format::validate(
                    t,
                    &crate::format::Shape::new("define.InspectPodData", it),
                )?;
            }
            for it in &items {
                println!("{}", crate::format::render(t, it)?);
            }
        }
    }
    Ok(0)
}

/// One `pod ps --filter`.
enum Filter {
    Name(regex::Regex),
    Id(String),
    Label(String, Option<String>),
    Status(String),
}

const POD_STATUSES: &[&str] = &[
    "created", "running", "degraded", "paused", "exited", "stopped", "error",
];

fn parse_filter(spec: &str) -> Result<Filter> {
    let (k, v) = spec
        .split_once('=')
        .ok_or_else(|| Error::msg(format!("invalid filter \"{spec}\": expected key=value")))?;
    Ok(match k {
        "name" => Filter::Name(regex::Regex::new(v).map_err(|_| {
            Error::msg(format!(
                "invalid filter \"{spec}\": not a regular expression"
            ))
        })?),
        "id" => Filter::Id(v.to_string()),
        "label" => match v.split_once('=') {
            Some((lk, lv)) => Filter::Label(lk.into(), Some(lv.into())),
            None => Filter::Label(v.into(), None),
        },
        "status" => {
            if !POD_STATUSES.contains(&v) {
                return Err(Error::msg(format!(
                    "invalid filter \"{spec}\": status must be one of {}",
                    POD_STATUSES.join(", ")
                )));
            }
            Filter::Status(v.to_string())
        }
        _ => {
            return Err(Error::msg(format!(
                "invalid filter \"{k}\": use name, id, label or status"
            )))
        }
    })
}

fn keep(filters: &[Filter], p: &Pod, st: PodStatus) -> bool {
    let matches = |f: &Filter| match f {
        Filter::Name(r) => r.is_match(&p.name),
        Filter::Id(i) => p.id.starts_with(i.as_str()),
        Filter::Label(k, v) => match (p.config.labels.get(k), v) {
            (Some(_), None) => true,
            (Some(have), Some(want)) => have == want,
            (None, _) => false,
        },
        Filter::Status(s) => st.as_str().eq_ignore_ascii_case(s),
    };
    // Filters of one key are alternatives; different keys must all match.
    let key = |f: &Filter| std::mem::discriminant(f);
    filters
        .iter()
        .all(|f| filters.iter().filter(|g| key(g) == key(f)).any(matches))
}

fn ps_json(p: &Pod, all: &[Container]) -> Value {
    let members = pod::members_in(all, &p.id);
    json!({
        "Id": p.id,
        "ID": &p.id[..12],
        "Name": p.name,
        "Status": pod::status(p, all).as_str(),
        "Created": p.created.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        "CreatedHuman": crate::format::human_ago(p.created),
        "InfraId": p.state.infra_id,
        "InfraID": &p.state.infra_id[..12.min(p.state.infra_id.len())],
        "Labels": p.config.labels,
        "Networks": p.config.networks,
        "NumberOfContainers": members.len(),
        "Cgroup": "",
        "ContainerNames": members.iter().map(|c| c.name.clone()).collect::<Vec<_>>().join(","),
        "ContainerIds": members.iter().map(|c| c.id[..12].to_string()).collect::<Vec<_>>().join(","),
        "ContainerStatuses": members.iter().map(|c| container::effective_status(c).as_str()).collect::<Vec<_>>().join(","),
        "Containers": members.iter().map(|c| json!({
            "Id": c.id,
            "Names": c.name,
            "Status": container::effective_status(c).as_str(),
        })).collect::<Vec<_>>(),
    })
}

fn ps(ctx: &Context, a: PsArgs) -> Result<i32> {
    let filters = a
        .filter
        .iter()
        .map(|f| parse_filter(f))
        .collect::<Result<Vec<_>>>()?;
    let all = container::list(ctx)?;
    let pods: Vec<Pod> = pod::list(ctx)?
        .into_iter()
        .filter(|p| keep(&filters, p, pod::status(p, &all)))
        .rev()
        .collect();
    let id = |s: &str| {
        if a.no_trunc {
            s.to_string()
        } else {
            s[..12.min(s.len())].to_string()
        }
    };
    if a.quiet {
        for p in &pods {
            println!("{}", id(&p.id));
        }
        return Ok(0);
    }
    if let Some(f) = &a.format {
        let items: Vec<Value> = pods.iter().map(|p| ps_json(p, &all)).collect();
        let sample = ps_json(
            &Pod::new("sample", PodConfig::default()).expect("a valid name"),
            &[],
        );
        let shape = crate::format::Shape::new("entities.ListPodsReport", &sample);
        crate::format::print_formatted(f, &items, &shape)?;
        return Ok(0);
    }
    let mut headers = vec!["POD ID", "NAME", "STATUS", "CREATED", "INFRA ID"];
    if a.ctr_ids {
        headers.push("IDS");
    }
    if a.ctr_names {
        headers.push("NAMES");
    }
    if a.ctr_status {
        headers.push("STATUS");
    }
    if !(a.ctr_ids || a.ctr_names || a.ctr_status) {
        headers.push("# OF CONTAINERS");
    }
    let rows: Vec<Vec<String>> = pods
        .iter()
        .map(|p| {
            let members = pod::members_in(&all, &p.id);
            let mut row = vec![
                id(&p.id),
                p.name.clone(),
                pod::status(p, &all).as_str().to_string(),
                crate::format::human_ago(p.created),
                id(&p.state.infra_id),
            ];
            let join = |f: &dyn Fn(&Container) -> String| {
                members.iter().map(|c| f(c)).collect::<Vec<_>>().join(",")
            };
            if a.ctr_ids {
                row.push(join(&|c| id(&c.id)));
            }
            if a.ctr_names {
                row.push(join(&|c| c.name.clone()));
            }
            if a.ctr_status {
                row.push(join(&|c| {
                    container::effective_status(c).as_str().to_string()
                }));
            }
            if !(a.ctr_ids || a.ctr_names || a.ctr_status) {
                row.push(members.len().to_string());
            }
            row
        })
        .collect();
    crate::format::print_table(&headers, &rows, a.noheading);
    Ok(0)
}

/// `pod top`: the processes of the pod's running containers with psgo's
/// columns, each pid namespace once (Podman's `pod top`; no ps(1) fallback:
/// an unknown descriptor is an error, as in Podman).
fn top(ctx: &Context, a: TopArgs) -> Result<i32> {
    let p = pod::lookup(ctx, &a.pod)?;
    let descriptors = container::top::parse(&a.descriptors)
        .map_err(|w| Error::msg(format!("'{w}': unknown descriptor")))?;
    let members = pod::members(ctx, &p.id)?;
    let mut rows = Vec::new();
    let mut namespaces = std::collections::HashSet::new();
    for c in members.iter().filter(|c| {
        matches!(
            container::effective_status(c),
            Status::Running | Status::Paused
        )
    }) {
        // Containers sharing a pid namespace show its processes once.
        let ns = std::fs::read_link(format!("/proc/{}/ns/pid", c.state.pid)).ok();
        if ns.is_some_and(|ns| !namespaces.insert(ns)) {
            continue;
        }
        rows.extend(container::top::rows(c, &descriptors));
    }
    if rows.is_empty() {
        return Err(Error::msg(format!(
            "pod {} has no running containers",
            p.name
        )));
    }
    let headers: Vec<&str> = descriptors.iter().map(|d| d.header).collect();
    crate::format::print_table(&headers, &rows, false);
    Ok(0)
}

/// `pod stats`: one row per running container of the pods named (every
/// pod when none is), read by the container `stats` code; one table with
/// `--no-stream`, else a new one every second, the screen cleared between
/// them unless `--no-reset` (Podman's behaviour and columns).
fn stats(ctx: &Context, a: StatsArgs) -> Result<i32> {
    use container::stats::Reading;
    if a.all && !a.pods.is_empty() {
        return Err(Error::msg(
            "--all, --latest and arguments cannot be used together",
        ));
    }
    let sample = pod::stats::report(
        "",
        &container::stats::read(&Container {
            version: 0,
            id: String::new(),
            name: String::new(),
            created: chrono::Utc::now(),
            config: Default::default(),
            state: Default::default(),
        }),
        None,
    );
    let shape = crate::format::Shape::new("entities.PodStatsReport", &sample)
        .with_headers(&pod::stats::TEMPLATE_HEADERS);
    let format = a.format.as_deref().filter(|f| f.trim() != "table");
    if let Some(f) = format {
        crate::format::format_items(f, &[], &shape)?;
    }
    // Named pods are looked up once: one that is missing fails the command
    // before anything is printed, as Podman's.
    let named: Vec<Pod> = a
        .pods
        .iter()
        .map(|n| pod::lookup(ctx, n))
        .collect::<Result<_>>()?;
    let mut prev: Vec<Reading> = Vec::new();
    loop {
        let pods = if named.is_empty() {
            pod::list(ctx)?
        } else {
            named.clone()
        };
        let all = container::list(ctx)?;
        let mut readings = Vec::new();
        let mut reports = Vec::new();
        let procs = container::pause::PidNamespaces::default();
        for p in &pods {
            for c in pod::stats::running_members(&all, p) {
                let r = container::stats::read_with(c, &procs);
                reports.push(pod::stats::report(
                    &p.id,
                    &r,
                    prev.iter().find(|x| x.id == r.id),
                ));
                readings.push(r);
            }
        }
        let json = format.is_some_and(|f| f.trim() == "json");
        let text = match format {
            Some(_) if json => pod::stats::json_text(&reports),
            // Podman prints a template's table header only above rows.
            Some(_) if reports.is_empty() => String::new(),
            Some(f) => crate::format::format_items(f, &reports, &shape)?,
            None => {
                let headers: Vec<&str> = pod::stats::FIELDS.iter().map(|(_, h)| *h).collect();
                let mut rows: Vec<Vec<String>> = reports.iter().map(pod::stats::row).collect();
                if rows.is_empty() {
                    // Podman's default table says there is nothing with a row of dashes.
                    rows.push(vec!["--".to_string(); headers.len()]);
                }
                crate::format::table_text(&headers, &rows, false)
            }
        };
        if a.no_stream {
            print!("{text}");
            return Ok(0);
        }
        // Podman never clears the screen between JSON documents.
        if a.no_reset || json {
            print!("{text}");
        } else {
            // Home and clear, as Podman's live view redraws.
            print!("\x1b[H\x1b[2J{text}");
        }
        use std::io::Write;
        if std::io::stdout().flush().is_err() {
            return Ok(0);
        }
        prev = readings;
        std::thread::sleep(Duration::from_secs(1));
    }
}

fn logs(ctx: &Context, a: LogsArgs) -> Result<i32> {
    let p = pod::lookup(ctx, &a.pod)?;
    let members: Vec<Container> = pod::members(ctx, &p.id)?
        .into_iter()
        .filter(|c| !c.config.infra)
        .collect();
    let chosen: Vec<Container> = match &a.container {
        Some(key) => {
            let c = members
                .iter()
                .find(|c| c.name == *key || c.id.starts_with(key.as_str()))
                .ok_or_else(|| {
                    Error::msg(format!(
                        "container {key} is not in pod {}: no such container",
                        p.name
                    ))
                })?;
            vec![c.clone()]
        }
        None => members,
    };
    let now = chrono::Utc::now();
    let opts = container::logs::LogOptions {
        follow: a.follow,
        tail: a.tail.filter(|t| *t >= 0).map(|t| t as usize),
        since: crate::cli::container::log_time(&a.since, "since", now)?,
        until: crate::cli::container::log_time(&a.until, "until", now)?,
        timestamps: a.timestamps,
        ..Default::default()
    };
    // The pod's lines say whose they are; one container's own are bare, as
    // Podman prints `pod logs --container`.
    let with_prefix = |c: &Container| container::logs::LogOptions {
        prefix: a.container.is_none().then(|| c.name.clone()),
        ..opts.clone()
    };
    if !a.follow {
        for c in &chosen {
            container::logs::logs(ctx, c, &with_prefix(c))?;
        }
        return Ok(0);
    }
    // Following: one reader per container, lines as they come.
    std::thread::scope(|s| {
        let handles: Vec<_> = chosen
            .iter()
            .map(|c| {
                let o = with_prefix(c);
                s.spawn(move || container::logs::logs(ctx, c, &o))
            })
            .collect();
        for h in handles {
            if let Ok(Err(e)) = h.join() {
                crate::cli::report(&e);
            }
        }
    });
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, label: Option<(&str, &str)>) -> Pod {
        let mut p = Pod::new(name, PodConfig::default()).unwrap();
        if let Some((k, v)) = label {
            p.config.labels.insert(k.into(), v.into());
        }
        p
    }

    #[test]
    fn filters_of_one_key_are_alternatives_and_keys_combine() {
        let web = pod("web", Some(("tier", "front")));
        let db = pod("db", None);
        let f = |specs: &[&str]| -> Vec<Filter> {
            specs.iter().map(|s| parse_filter(s).unwrap()).collect()
        };
        let run = PodStatus::Running;
        assert!(keep(&f(&["name=web", "name=db"]), &db, run));
        assert!(!keep(&f(&["name=^we", "label=tier=back"]), &web, run));
        assert!(keep(&f(&["name=^we", "label=tier"]), &web, run));
        assert!(keep(&f(&["status=running"]), &web, run));
        assert!(!keep(&f(&["status=exited"]), &web, run));
        assert!(keep(&f(&[&format!("id={}", &db.id[..6])]), &db, run));
        for bad in ["nokey", "color=red", "status=sleepy", "name=("] {
            assert!(parse_filter(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn inspect_has_podmans_keys() {
        let p = pod("app", Some(("team", "a")));
        let j = inspect_json(&p, &[]);
        for k in [
            "Id",
            "Name",
            "Created",
            "State",
            "Hostname",
            "Labels",
            "SharedNamespaces",
            "InfraContainerId",
            "NumContainers",
            "Containers",
            "InfraConfig",
        ] {
            assert!(j.get(k).is_some(), "{k}");
        }
        assert_eq!(j["State"], "Created");
        assert_eq!(j["Hostname"], "app");
        assert!(j["InfraConfig"]["PortBindings"].is_object());
    }
}
