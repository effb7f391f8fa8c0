//! Pods: containers that share namespaces held by an infra container, as
//! Podman's pods. The library API the CLI (`skiff pod ...`, `run --pod`)
//! and `kube play` use:
//!
//! - [`create`] writes the pod record and its infra container (not started);
//! - [`start`], [`stop`], [`restart`], [`kill`], [`set_paused`], [`remove`]
//!   act on every container of the pod, in Podman's order;
//! - [`lookup`], [`list`], [`members`] and [`status`] read;
//! - [`start_container`] starts one container (the pod's infra first);
//! - `container::create` with `CreateOptions::pod` puts a container in a pod
//!   ([`join`] checks and fills in what the pod decides).
//!
//! **The infra container** is a container record (`Config::infra`) whose
//! process is `skiff _infra` (`infra.rs`), started by an ordinary
//! supervisor, so that start, stop, inspect and networking are those of any
//! container. It needs no image: its root file system is an empty, read-only
//! `vfs` directory into which `start` bind-mounts, read-only, the skiff
//! binary itself and the shared libraries and dynamic loader it runs with
//! (read from the supervisor's own mappings and ELF header). No pause image
//! has to be built, pulled or kept in step with the binary, and the pod's
//! infra always runs the code of the skiff that started it.
//!
//! The infra container owns the pod's network (the pod's `--network`,
//! published ports, `--add-host`, `--dns`), its hostname (`--hostname`,
//! default the pod's name) and its ipc namespace; members join them from the
//! infra process (`network --network container:INFRA` for the network, the
//! spec's joined namespaces for the others) and bind-mount its /etc/hosts
//! (which names every member) and /etc/resolv.conf.
//!
//! Locks: a pod name and a container name are one name space; whoever
//! gives out a name holds the containers lock, then the pods lock.

pub mod infra;
pub mod stats;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::network::ports::{PortMapping, PortSpec};
use crate::state::container::{Config, Container, State, Status, RECORD_VERSION};
pub use crate::state::pod::{
    parse_share, status_of, ExitPolicy, Namespace, Pod, PodConfig, PodStatus, Pods, Sharing,
};
use crate::{Context, Error, Result};

/// Where the infra process's binary is mounted inside its root file system.
pub const INFRA_BINARY: &str = "/.skiff-infra";

/// What `ps` and `inspect` show as the infra container's image, in the
/// place of Podman's `localhost/podman-pause:VERSION`. It names no stored
/// image (the infra process is this skiff binary on an empty root, see the
/// module's docs), and its tag is the version of the skiff that made it.
pub const INFRA_IMAGE: &str = concat!("localhost/skiff-infra:", env!("CARGO_PKG_VERSION"));

/// The pod records of this store (`<root>/pods`).
pub fn store(ctx: &Context) -> Pods {
    Pods::new(ctx.root.join("pods"))
}

/// Every pod, oldest first.
pub fn list(ctx: &Context) -> Result<Vec<Pod>> {
    Ok(store(ctx).list()?)
}

/// The pod named `key`: name, full id or unique id prefix. Error: Podman's
/// `no pod with name or ID "x" found: no such pod`.
pub fn lookup(ctx: &Context, key: &str) -> Result<Pod> {
    Ok(store(ctx).lookup(key)?)
}

/// The containers of pod `pod_id` among `all`, the infra container included,
/// oldest first (as `all` is ordered).
pub fn members_in<'a>(all: &'a [Container], pod_id: &str) -> Vec<&'a Container> {
    all.iter().filter(|c| c.config.pod == pod_id).collect()
}

/// Every container of the pod, the infra container included, oldest first.
pub fn members(ctx: &Context, pod_id: &str) -> Result<Vec<Container>> {
    Ok(crate::container::list(ctx)?
        .into_iter()
        .filter(|c| c.config.pod == pod_id)
        .collect())
}

/// The pod's status (Podman's words) from its containers among `all`.
pub fn status(pod: &Pod, all: &[Container]) -> PodStatus {
    let statuses: Vec<Status> = members_in(all, &pod.id)
        .into_iter()
        .map(crate::container::effective_status)
        .collect();
    status_of(&statuses)
}

/// Turns `pod create -p` values into the pod's port mappings: host ports
/// are checked free, and random ones (`-p 80`) chosen, now.
pub fn parse_ports(publish: &[String]) -> Result<Vec<PortMapping>> {
    let specs = crate::network::ports::parse_all(publish)?;
    crate::network::ports::check_free(&specs)?;
    crate::network::ports::allocate(&specs)
}

/// Namespaces a member joins from the infra process by path; the network
/// goes through `--network container:`. The pid namespace makes the infra
/// process pid 1 of every member (`ps` in one shows the others).
const JOINABLE: [Namespace; 4] = [
    Namespace::Cgroup,
    Namespace::Ipc,
    Namespace::Pid,
    Namespace::Uts,
];

/// Creates a pod: checks its configuration, then writes its record and,
/// unless `--infra=false`, its infra container (created, not started).
/// `name` None picks a random free name. Errors (one line, nothing
/// written): a name in use by a pod or a container, bad network options,
/// a host port in use.
pub fn create(ctx: &Context, name: Option<&str>, config: PodConfig) -> Result<Pod> {
    let mut pod = Pod::new(name.unwrap_or("pod"), config)?;
    let mut infra = if pod.config.sharing.infra {
        let c = infra_container(&pod)?;
        crate::network::validate(ctx, &c.config)?;
        pod.state.infra_id = c.id.clone();
        Some(c)
    } else {
        None
    };
    let containers = crate::container::store(ctx);
    let pods = store(ctx);
    let _clock = containers.lock()?;
    let _plock = pods.lock()?;
    let existing_c = containers.list_sweeping()?;
    pods.sweep_unrecorded();
    let existing_p = pods.list()?;
    match name {
        Some(n) => crate::state::pod::check_name_free(n, &existing_p, &existing_c)?,
        None => loop {
            let n = crate::container::names::random();
            if crate::state::pod::check_name_free(&n, &existing_p, &existing_c).is_ok() {
                pod.name = n;
                break;
            }
        },
    }
    if let Some(c) = infra.as_mut() {
        c.config.hostname = pod.hostname().to_string();
        c.config.env.push(format!("HOSTNAME={}", c.config.hostname));
    }
    pods.insert(&pod)?;
    if let Some(c) = &infra {
        if let Err(e) = containers.insert(c) {
            if let Ok(Some(dir)) = pods.retire(&pod.id) {
                let _ = crate::state::container::remove_tree(&dir);
            }
            return Err(e.into());
        }
    }
    pod_event(ctx, &pod, "create");
    Ok(pod)
}

/// The infra container's record for `pod`: `skiff _infra` on an empty
/// read-only root, carrying the pod's network, ports, hosts and DNS.
fn infra_container(pod: &Pod) -> Result<Container> {
    let cfg = &pod.config;
    let network = crate::network::mode::join_flags(&cfg.networks)?.unwrap_or_default();
    let args = vec![INFRA_BINARY.to_string(), infra::SUBCOMMAND.to_string()];
    let id = crate::state::new_id();
    let seccomp = if crate::runtime::seccomp::supported() {
        crate::state::container::SeccompChoice::Default
    } else {
        crate::state::container::SeccompChoice::Unconfined
    };
    let config = Config {
        args: args.clone(),
        entrypoint: vec![args[0].clone()],
        cmd: vec![args[1].clone()],
        env: vec!["PATH=/".into(), "container=skiff".into()],
        workdir: "/".into(),
        hostname: pod.hostname().to_string(),
        labels: BTreeMap::new(),
        read_only: true,
        capabilities: crate::state::config::Capabilities {
            effective: crate::runtime::caps::resolve(false, &[], &[])?,
            add: Vec::new(),
            drop: Vec::new(),
        },
        network: crate::network::mode::NetworkChoice::parse(&network)?,
        publish: cfg
            .ports
            .iter()
            .map(|p| PortSpec {
                host_ip: p.host_ip.clone(),
                host_port: p.host_port,
                container_port: p.container_port,
                count: 1,
                protocol: p.protocol.clone(),
            })
            .collect(),
        add_hosts: cfg.add_hosts.clone(),
        dns: cfg.dns.clone(),
        dns_search: cfg.dns_search.clone(),
        dns_options: cfg.dns_options.clone(),
        seccomp,
        conmon_pidfile: cfg.infra_conmon_pidfile.clone(),
        pod: pod.id.clone(),
        infra: true,
        image_name: INFRA_IMAGE.into(),
        driver: "vfs".into(),
        ..Default::default()
    };
    Ok(Container {
        version: RECORD_VERSION,
        name: pod.infra_name(),
        id,
        created: chrono::Utc::now(),
        config,
        state: State::default(),
    })
}

/// What `container::create` does for `--pod`: refuses what the pod decides
/// (ports, networks, hosts and DNS when the pod shares its network; the
/// hostname when it shares uts), with Podman's messages, then fills those
/// in from the pod. Returns the pod's id for the record.
pub fn join(pod: &Pod, o: &crate::container::CreateOptions, cfg: &mut Config) -> Result<()> {
    let net = pod.shares(Namespace::Net) && !pod.state.infra_id.is_empty();
    let shared = "network cannot be configured when it is shared with a pod";
    let bad = |what: &str| {
        Err(Error::msg(format!(
            "invalid config provided: {what}: {shared}"
        )))
    };
    if net {
        if !o.publish.is_empty() || o.publish_all {
            return bad("published or exposed ports must be defined when the pod is created");
        }
        if o.network.is_some() {
            return bad("networks must be defined when the pod is created");
        }
        if !o.add_hosts.is_empty() {
            return bad("extra host entries must be specified on the pod");
        }
        if !o.dns.is_empty() || !o.dns_search.is_empty() || !o.dns_options.is_empty() {
            return bad("DNS must be set on the pod");
        }
        // The host's network namespace belongs to the initial user
        // namespace: a rootless member cannot join it through the infra
        // process (setns: permission denied), so it uses the host's
        // network itself, which is the same namespace.
        let mode = if pod.config.networks == ["host"] {
            crate::network::Mode::Host
        } else {
            crate::network::Mode::Container(pod.state.infra_id.clone())
        };
        cfg.network = crate::network::mode::NetworkChoice::Explicit(mode);
    }
    if pod.shares(Namespace::Uts) && !pod.state.infra_id.is_empty() {
        if o.hostname.is_some() {
            return Err(Error::msg(
                "invalid config provided: cannot set hostname when joining the pod UTS namespace",
            ));
        }
        cfg.hostname = pod.hostname().to_string();
    }
    cfg.pod = pod.id.clone();
    Ok(())
}

/// The pod `--pod` names: an existing pod, or `new:NAME`, which is created
/// here (with the defaults) and reported as made so that a failed container
/// create removes it again.
pub fn for_create(ctx: &Context, key: &str) -> Result<(Pod, bool)> {
    match key.strip_prefix("new:") {
        Some(name) => Ok((create(ctx, Some(name), PodConfig::default())?, true)),
        None => Ok((lookup(ctx, key)?, false)),
    }
}

/// The cgroup delegation the containers of pod `pod_id` (made with
/// `--share-parent`) enter under `d`: the pod's
/// cgroup, created now if need be. None when it cannot be made (the
/// container then gets its own cgroup directly under `d`).
pub fn cgroup_parent(
    pod_id: &str,
    d: &crate::cgroups::Delegation,
) -> Option<crate::cgroups::Delegation> {
    crate::cgroups::pod_parent(d, pod_id)
        .map_err(|e| tracing::warn!(%e, "cannot make the pod's cgroup"))
        .ok()
}

/// The pod's cgroup (`--share-parent`) and the directory below which it
/// is made, as `pod inspect` shows them (`CgroupPath`, `CgroupParent`):
/// empty when the user has no cgroup delegated, or the pod does not share
/// its parent.
pub fn cgroup_paths(pod: &Pod) -> (String, String) {
    let Some(d) = crate::cgroups::detect_host(nix::unistd::geteuid().as_raw()) else {
        return (String::new(), String::new());
    };
    let path = pod.config.sharing.share_parent.then(|| {
        crate::cgroups::pod_dir(&d, &pod.id)
            .to_string_lossy()
            .into_owned()
    });
    (
        path.unwrap_or_default(),
        d.dir.to_string_lossy().into_owned(),
    )
}

/// What a pod's container takes from its infra process at start.
pub type Joined = (Vec<(Namespace, PathBuf)>, Option<PathBuf>);

/// The pod container `c` belongs to, read once for its start (None when it
/// is in none). Error: the pod no longer exists.
pub fn of(ctx: &Context, c: &Container) -> Result<Option<Pod>> {
    if c.config.pod.is_empty() {
        return Ok(None);
    }
    match store(ctx).load(&c.config.pod)? {
        Some(pod) => Ok(Some(pod)),
        None => Err(Error::msg(format!(
            "container {}: its pod {} no longer exists",
            c.name, c.config.pod
        ))),
    }
}

/// The namespaces container `c` joins from its pod's infra process (ipc and
/// uts when shared, by `/proc/PID/ns/` path), and the infra's userdata
/// directory when it shares the network (its /etc/hosts and
/// /etc/resolv.conf are then the member's). Error when the infra container
/// does not run, or the pod no longer exists.
pub fn joined_namespaces(ctx: &Context, c: &Container) -> Result<Joined> {
    joined_from(ctx, c, of(ctx, c)?.as_ref())
}

/// [`joined_namespaces`] with `c`'s pod already read ([`of`]).
pub fn joined_from(ctx: &Context, c: &Container, pod: Option<&Pod>) -> Result<Joined> {
    let Some(pod) = pod.filter(|_| !c.config.infra) else {
        return Ok((Vec::new(), None));
    };
    if pod.state.infra_id.is_empty() {
        return Ok((Vec::new(), None));
    }
    let infra = crate::container::store(ctx).get(&pod.state.infra_id)?;
    let running = crate::container::effective_status(&infra) == Status::Running
        && crate::container::pidfd::running(infra.state.pid, infra.state.start_time);
    if !running {
        return Err(Error::msg(format!(
            "the infra container of pod {} is not running",
            pod.name
        )));
    }
    let joined = JOINABLE
        .into_iter()
        .filter(|ns| pod.shares(*ns))
        .map(|ns| {
            (
                ns,
                PathBuf::from(format!("/proc/{}/ns/{}", infra.state.pid, ns.as_str())),
            )
        })
        .collect();
    let etc = pod
        .shares(Namespace::Net)
        .then(|| ctx.container_dir(&infra.id).join("userdata"));
    Ok((joined, etc))
}

/// Starts container `c` detached (its pod's infra container first) unless
/// it runs or its supervisor owns it; an exited one is cleaned first.
pub fn start_container(ctx: &Context, c: &Container) -> Result<()> {
    use crate::container::{effective_status, launch, start};
    if start::supervised(c) {
        return Ok(());
    }
    let mut c = c.clone();
    match effective_status(&c) {
        Status::Running | Status::Paused => return Ok(()),
        Status::Exited | Status::Stopping => {
            let code = c.state.exit_code;
            start::finish(ctx, &mut c, code, "")?;
        }
        _ => {}
    }
    launch::launch(ctx, &c, launch::Mode::Detached).map(drop)
}

/// Starts the infra container of pod `pod_id` if it does not run (what a
/// member needs before its own start).
pub fn ensure_infra(ctx: &Context, pod_id: &str) -> Result<()> {
    let Some(pod) = store(ctx).load(pod_id)? else {
        return Err(Error::msg(format!("pod {pod_id} no longer exists")));
    };
    if pod.state.infra_id.is_empty() {
        return Ok(());
    }
    let infra = crate::container::lookup(ctx, &pod.state.infra_id)?;
    start_container(ctx, &infra)
}

/// One error for the containers of a pod that failed: `pod NAME: a: why; b: why`.
fn combined(pod: &Pod, what: &str, errors: Vec<(String, Error)>) -> Result<()> {
    if errors.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = errors
        .into_iter()
        .map(|(n, e)| format!("{n}: {e}"))
        .collect();
    Err(Error::msg(format!(
        "{what} pod {}: {}",
        pod.name,
        list.join("; ")
    )))
}

/// `pod start`: the infra container first, then the others by levels of
/// `--requires` ([`crate::container::requires::levels`]), the containers
/// of a level together, each level after the one before it (Podman starts
/// a pod's containers in parallel along their dependency graph).
/// Containers that run are left alone. Error: a dependency cycle, or every
/// container that failed, in one line.
pub fn start(ctx: &Context, pod: &Pod) -> Result<()> {
    let all = members(ctx, &pod.id)?;
    let others: Vec<&Container> = all.iter().filter(|c| !c.config.infra).collect();
    let others = crate::container::requires::order(&others)
        .map_err(|e| Error::msg(format!("starting pod {}: {e}", pod.name)))?;
    for c in all.iter().filter(|c| c.config.infra) {
        if let Err(e) = start_infra(ctx, c) {
            return combined(pod, "starting", vec![(c.name.clone(), e)]);
        }
    }
    let mut errors = Vec::new();
    for level in crate::container::requires::levels(&others) {
        // A member with a namespace of its own (a pod without an infra
        // container) has its network begun by this process, which forks
        // only while it has one thread: those start one by one.
        let (own, joined): (Vec<&Container>, Vec<&Container>) = level.into_iter().partition(|c| {
            matches!(
                crate::network::mode_of(&c.config),
                crate::network::Mode::Pasta(_)
            )
        });
        errors.extend(in_parallel(&joined, |c| start_container(ctx, c)));
        for c in own {
            if let Err(e) = start_container(ctx, c) {
                errors.push((c.name.clone(), e));
            }
        }
    }
    combined(pod, "starting", errors)?;
    pod_event(ctx, pod, "start");
    Ok(())
}

/// Starts the infra container `c` and returns once it runs. The supervisor
/// of its last run may still be finishing a stop (a `pod restart`), which
/// `start_container` leaves alone: it is waited out (polled, 10 s at most)
/// and the infra started then, so that the members, started together next,
/// find the pod's namespaces held rather than each trying to make them.
fn start_infra(ctx: &Context, c: &Container) -> Result<()> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut c = c.clone();
    loop {
        start_container(ctx, &c)?;
        c = crate::container::lookup(ctx, &c.id)?;
        if matches!(
            crate::container::effective_status(&c),
            Status::Running | Status::Paused
        ) {
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            return Err(Error::msg(
                "the supervisor of its last run did not exit within 10 seconds",
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Records a pod event.
fn pod_event(ctx: &Context, pod: &Pod, status: &str) {
    crate::events::Event::object(crate::events::Type::Pod, status, &pod.id, &pod.name).record(ctx);
}

/// `pod stop -t`: every running container in reverse creation order, the
/// infra container last, each with its stop signal then SIGKILL after
/// `timeout`.
pub fn stop(ctx: &Context, pod: &Pod, timeout: Duration) -> Result<()> {
    let all = members(ctx, &pod.id)?;
    let live = |c: &&Container| {
        matches!(
            crate::container::effective_status(c),
            Status::Running | Status::Paused | Status::Stopping
        ) || crate::container::restarting(c)
    };
    let stop_one = |c: &Container| match crate::container::stop::stop(ctx, c, timeout) {
        // Stopped meanwhile by someone else (the exit policy of the pod,
        // run by a member's supervisor): not an error.
        Err(_)
            if crate::container::store(ctx)
                .load(&c.id)
                .ok()
                .flatten()
                .is_none_or(|n| crate::container::effective_status(&n) != Status::Running) =>
        {
            Ok(())
        }
        r => r,
    };
    // The others together (they do not depend on each other), as Podman's
    // parallel stop, then the infra container.
    let others: Vec<&Container> = all
        .iter()
        .filter(|c| !c.config.infra)
        .filter(live)
        .collect();
    let mut errors = in_parallel(&others, stop_one);
    for c in all.iter().filter(|c| c.config.infra).filter(live) {
        if let Err(e) = stop_one(c) {
            errors.push((c.name.clone(), e));
        }
    }
    combined(pod, "stopping", errors)?;
    pod_event(ctx, pod, "stop");
    Ok(())
}

/// Runs `f` on each container in a thread of its own and returns the
/// failures by container name. The threads end before it returns, so the
/// process forks single-threaded again afterwards (`runtime::fork`).
fn in_parallel<F>(containers: &[&Container], f: F) -> Vec<(String, Error)>
where
    F: Fn(&Container) -> Result<()> + Sync,
{
    if containers.len() <= 1 {
        return containers
            .iter()
            .filter_map(|c| f(c).err().map(|e| (c.name.clone(), e)))
            .collect();
    }
    std::thread::scope(|scope| {
        let f = &f;
        let handles: Vec<_> = containers
            .iter()
            .map(|c| (c.name.clone(), scope.spawn(move || f(c))))
            .collect();
        handles
            .into_iter()
            .filter_map(|(name, h)| match h.join() {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some((name, e)),
                Err(_) => Some((name, Error::msg("it panicked"))),
            })
            .collect()
    })
}

/// `pod restart`: stop (as [`stop`], default timeout 10 s), then start.
pub fn restart(ctx: &Context, pod: &Pod) -> Result<()> {
    stop(ctx, pod, Duration::from_secs(10))?;
    start(ctx, pod)?;
    pod_event(ctx, pod, "restart");
    Ok(())
}

/// `pod kill -s`: the signal to every running container of the pod (the
/// infra container included, which ignores all but TERM, INT and KILL).
/// Error when none runs, as Podman.
pub fn kill(ctx: &Context, pod: &Pod, sig: Signal) -> Result<()> {
    let all = members(ctx, &pod.id)?;
    let mut errors = Vec::new();
    let mut sent = 0;
    for c in all.iter().rev() {
        if matches!(
            crate::container::effective_status(c),
            Status::Running | Status::Paused
        ) {
            match crate::container::stop::kill(c, sig) {
                Ok(()) => sent += 1,
                Err(e) => errors.push((c.name.clone(), e)),
            }
        }
    }
    if sent == 0 && errors.is_empty() {
        return Err(Error::msg(format!(
            "pod {} has no running containers to kill",
            pod.name
        )));
    }
    if sent > 0 {
        pod_event(ctx, pod, "kill");
    }
    combined(pod, "killing", errors)
}

/// `pod pause` / `pod unpause`: every running (paused) container of the
/// pod, the infra container included, so that the pod is Paused.
pub fn set_paused(ctx: &Context, pod: &Pod, pause: bool) -> Result<()> {
    let all = members(ctx, &pod.id)?;
    let want = if pause {
        Status::Running
    } else {
        Status::Paused
    };
    let mut errors = Vec::new();
    for c in &all {
        if crate::container::effective_status(c) == want {
            if let Err(e) = crate::container::pause::set_paused(ctx, c, pause) {
                errors.push((c.name.clone(), e));
            }
        }
    }
    if errors.is_empty() {
        pod_event(ctx, pod, if pause { "pause" } else { "unpause" });
    }
    combined(pod, if pause { "pausing" } else { "unpausing" }, errors)
}

/// `pod rm`: every container of the pod, then the pod. Without `force` a pod
/// with running containers is refused (nothing removed); with it they are
/// killed. The infra container goes last, the record once no container
/// names the pod (checked under the containers and pods locks, so a
/// container created meanwhile is never left in a removed pod).
pub fn remove(ctx: &Context, pod: &Pod, force: bool) -> Result<()> {
    remove_with(ctx, pod, force, None)
}

/// [`remove`], with `pod rm -t`: a forced removal first stops the pod
/// (as [`stop`]) with this timeout instead of killing its containers
/// (a timeout of 0 kills them, as [`stop`] would).
pub fn remove_with(
    ctx: &Context,
    pod: &Pod,
    force: bool,
    stop_timeout: Option<Duration>,
) -> Result<()> {
    // With no time to stop in, the forced removal below kills them all at
    // once: the same SIGKILL a stop with timeout 0 sends, one round fewer.
    if let (true, Some(t)) = (force, stop_timeout.filter(|t| !t.is_zero())) {
        let _ = stop(ctx, pod, t);
    }
    let all = members(ctx, &pod.id)?;
    if !force {
        let running: Vec<&str> = all
            .iter()
            .filter(|c| {
                !c.config.infra
                    && (matches!(
                        crate::container::effective_status(c),
                        Status::Running | Status::Paused | Status::Stopping
                    ) || crate::container::restarting(c))
            })
            .map(|c| c.name.as_str())
            .collect();
        if !running.is_empty() {
            return Err(Error::msg(format!(
                "pod {} has running containers ({}): stop them first or use -f",
                pod.name,
                running.join(", ")
            )));
        }
    }
    let opts = crate::container::remove::RemoveOptions {
        force: true,
        infra: true,
        ..Default::default()
    };
    if force {
        // Killed all at once, then removed one by one: each removal then
        // finds its container gone instead of waiting for it in turn.
        for c in all.iter().filter(|c| !c.config.infra) {
            if let Some(p) = crate::container::process(c) {
                let _ = crate::container::stop::mark_stopping(ctx, c);
                let _ = p.signal(Signal::SIGKILL);
            }
        }
    }
    for round in 0..3 {
        let all = members(ctx, &pod.id)?;
        let remove_one = |c: &Container| {
            crate::container::remove::remove_with(ctx, c, &opts)?;
            crate::container::volumes::remove_anonymous(ctx, c);
            Ok(())
        };
        // The others together, then the infra container.
        let others: Vec<&Container> = all.iter().filter(|c| !c.config.infra).collect();
        combined(pod, "removing", in_parallel(&others, remove_one))?;
        for c in all.iter().filter(|c| c.config.infra) {
            remove_one(c)?;
        }
        let containers = crate::container::store(ctx);
        let pods = store(ctx);
        let _clock = containers.lock()?;
        let _plock = pods.lock()?;
        if containers.list()?.iter().any(|c| c.config.pod == pod.id) {
            if round == 2 {
                return Err(Error::msg(format!(
                    "pod {}: containers keep being added while it is removed",
                    pod.name
                )));
            }
            continue;
        }
        if let Some(dir) = pods.retire(&pod.id)? {
            crate::state::container::remove_tree(&dir)?;
        }
        pod_event(ctx, pod, "remove");
        let (cgroup, _) = cgroup_paths(pod);
        if !cgroup.is_empty() {
            crate::cgroups::remove(Path::new(&cgroup));
        }
        return Ok(());
    }
    Ok(())
}

/// What the supervisor of a pod's container does once it has exited for
/// good: a `--rm` container's name leaves the pod's /etc/hosts; with
/// `--exit-policy stop`, when no other container of the pod (the infra
/// container aside) runs, the infra container is stopped, so the pod is
/// stopped.
pub fn member_exited(ctx: &Context, c: &Container) {
    if c.config.pod.is_empty() || c.config.infra {
        return;
    }
    if c.config.auto_remove {
        refresh_hosts(ctx, &c.config.pod);
    }
    let Ok(Some(pod)) = store(ctx).load(&c.config.pod) else {
        return;
    };
    if pod.config.exit_policy != ExitPolicy::Stop || pod.state.infra_id.is_empty() {
        return;
    }
    let Ok(all) = members(ctx, &pod.id) else {
        return;
    };
    let others_run = all.iter().any(|m| {
        !m.config.infra
            && m.id != c.id
            && matches!(
                crate::container::effective_status(m),
                Status::Running | Status::Paused
            )
    });
    if others_run {
        return;
    }
    if let Some(infra) = all.iter().find(|m| m.config.infra) {
        if crate::container::effective_status(infra) == Status::Running {
            let _ = crate::container::stop::stop(ctx, infra, Duration::from_secs(10));
        }
    }
}

/// The names a pod's infra container `c` answers for on user-defined
/// networks: the pod's name and those of its other containers (empty for
/// any other container).
pub fn infra_aliases(ctx: &Context, c: &Container) -> Vec<String> {
    if !c.config.infra {
        return Vec::new();
    }
    let mut out: Vec<String> = store(ctx)
        .load(&c.config.pod)
        .ok()
        .flatten()
        .map(|p| p.name)
        .into_iter()
        .collect();
    let all = crate::container::store(ctx).list().unwrap_or_default();
    out.extend(
        members_in(&all, &c.config.pod)
            .into_iter()
            .filter(|m| !m.config.infra)
            .map(|m| m.name.clone()),
    );
    out
}

/// Rewrites the /etc/hosts of the pod's running infra container (which
/// every member shares) so that it names the pod's containers as they now
/// are, and the names it answers for on user-defined networks; a pod whose
/// infra does not run gets them at its next start.
pub fn refresh_hosts(ctx: &Context, pod_id: &str) {
    let Ok(Some(pod)) = store(ctx).load(pod_id) else {
        return;
    };
    if pod.state.infra_id.is_empty() {
        return;
    }
    if let Ok(infra) = crate::container::store(ctx).get(&pod.state.infra_id) {
        if infra.state.status == Status::Running {
            if let Err(e) = crate::network::rewrite_etc_files(ctx, &infra) {
                tracing::warn!(%e, "cannot update the pod's /etc/hosts");
            }
            let aliases = infra_aliases(ctx, &infra);
            if let Err(e) = crate::network::bridge::set_aliases(ctx, &infra, &aliases) {
                tracing::warn!(%e, "cannot update the pod's names on its networks");
            }
        }
    }
}

/// The read-only bind mounts an infra container's root file system needs
/// to run `skiff _infra`: the running binary at [`INFRA_BINARY`], every
/// shared library this process has mapped and its dynamic loader (at the
/// path the binary names), and `LD_LIBRARY_PATH` naming the libraries'
/// directories. Read from this process (the supervisor, the same binary).
pub fn infra_binds() -> Result<(Vec<(PathBuf, String)>, String)> {
    // By name (a bind mount's source must be a mount of this namespace,
    // which the magic link is not); a binary replaced while this process
    // runs (a new build or package) is read as " (deleted)": then the new
    // file at that path, the same program, serves.
    let self_exe = PathBuf::from("/proc/self/exe");
    let exe = std::fs::read_link(&self_exe)
        .map_err(|e| Error::msg(format!("finding the skiff binary: {e}")))?;
    let exe = exe
        .to_str()
        .and_then(|p| p.strip_suffix(" (deleted)"))
        .map_or(exe.clone(), PathBuf::from);
    let mut binds = vec![(exe.clone(), INFRA_BINARY.to_string())];
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    let mut dirs: Vec<String> = Vec::new();
    for line in maps.lines() {
        let Some(path) = line.split_whitespace().nth(5) else {
            continue;
        };
        let p = Path::new(path);
        let name = p.file_name().unwrap_or_default().to_string_lossy();
        if !path.starts_with('/') || p == exe || !name.contains(".so") {
            continue;
        }
        if binds.iter().any(|(_, dest)| dest == path) {
            continue;
        }
        binds.push((p.to_path_buf(), path.to_string()));
        if let Some(d) = p.parent() {
            let d = d.to_string_lossy().into_owned();
            if !dirs.contains(&d) {
                dirs.push(d);
            }
        }
    }
    if let Some(interp) = elf_interpreter(&exe) {
        if !binds.iter().any(|(_, dest)| *dest == interp) {
            binds.push((PathBuf::from(&interp), interp));
        }
    }
    Ok((binds, dirs.join(":")))
}

/// The program interpreter (PT_INTERP) a 64-bit little-endian ELF file
/// names, such as `/lib64/ld-linux-x86-64.so.2`; None for a static binary
/// or another format. Reads the ELF header, the program headers and that
/// segment only (a few KiB), not the whole binary: every infra start asks.
pub fn elf_interpreter(path: &Path) -> Option<String> {
    use std::os::unix::fs::FileExt;
    let f = std::fs::File::open(path).ok()?;
    let read = |off: u64, len: usize| -> Option<Vec<u8>> {
        let mut buf = vec![0; len];
        f.read_exact_at(&mut buf, off).ok()?;
        Some(buf)
    };
    let u16_at = |d: &[u8], o: usize| Some(u16::from_le_bytes(d.get(o..o + 2)?.try_into().ok()?));
    let u32_at = |d: &[u8], o: usize| Some(u32::from_le_bytes(d.get(o..o + 4)?.try_into().ok()?));
    let u64_at = |d: &[u8], o: usize| Some(u64::from_le_bytes(d.get(o..o + 8)?.try_into().ok()?));
    let header = read(0, 64)?;
    if header.get(0..4)? != b"\x7fELF" || header[4] != 2 || header[5] != 1 {
        return None;
    }
    let phoff = u64_at(&header, 0x20)?;
    let phentsize = u16_at(&header, 0x36)? as usize;
    let phnum = u16_at(&header, 0x38)? as usize;
    // At most 64 KiB of program headers, the kernel's own bound.
    if phentsize < 56 || phentsize * phnum > 65536 {
        return None;
    }
    let table = read(phoff, phentsize * phnum)?;
    for ph in table.chunks_exact(phentsize) {
        if u32_at(ph, 0)? == 3 {
            let size = u64_at(ph, 32)? as usize;
            // PATH_MAX: the kernel refuses a longer interpreter too.
            if size > 4096 {
                return None;
            }
            let raw = read(u64_at(ph, 8)?, size)?;
            let s = raw.split(|&b| b == 0).next()?;
            return String::from_utf8(s.to_vec()).ok();
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_binary_names_its_loader_and_libraries() {
        let exe = std::env::current_exe().unwrap();
        if let Some(i) = elf_interpreter(&exe) {
            assert!(i.starts_with('/') && i.contains("ld"), "{i}");
            assert!(Path::new(&i).exists(), "{i}");
        }
        let (binds, _) = infra_binds().unwrap();
        assert_eq!(binds[0].1, INFRA_BINARY);
        assert!(binds.iter().all(|(src, _)| src.exists()));
        assert!(elf_interpreter(Path::new("/proc/self/status")).is_none());
    }
}
