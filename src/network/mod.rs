//! Container networking: the network mode of a container, the rootless
//! helpers (pasta, slirp4netns) that connect it, published ports, user-defined
//! networks, and the generated /etc files.
//!
//! The container life cycle calls four functions: `validate` when the
//! container is created, `begin` before its process exists, `attach` once
//! it exists (before the command runs), and `detach` when it has exited.
//! Each picks the container's `Backend` (backend.rs) from its mode and adds
//! the parts every mode shares: the namespace file, the port forwarder,
//! the /etc files.

pub mod backend;
pub mod bridge;
pub mod dns;
pub mod etc_files;
pub mod helper;
pub mod links;
pub mod mode;
pub mod pasta;
pub mod portfwd;
pub mod ports;
pub mod records;
pub mod slirp4netns;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use serde::{Deserialize, Serialize};

pub use backend::{Backend, Teardown};
pub use mode::Mode;
use ports::PortMapping;

use crate::runtime::spec::NetMode;
use crate::state::container::{Config, Container, Status};
use crate::{Context, Error, Result};

/// A container's place on one user-defined network.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub ip_address: String,
    pub prefix_len: u8,
    pub gateway: String,
    pub mac_address: String,
    /// Interface name inside the container (eth0, eth1, ...).
    pub interface: String,
    /// The host side of the veth pair, in the rootless network namespace.
    pub host_interface: String,
    #[serde(default)]
    pub aliases: Vec<String>,
}

/// What `attach` set up, kept in the container's state so that whichever
/// process cleans up (the monitor, `rm -f`, a later command) can undo it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NetworkState {
    /// Pid of the helper process (pasta/slirp4netns), 0 when none.
    #[serde(default)]
    pub helper_pid: i32,
    /// "pasta" or "slirp4netns" when `helper_pid` is set.
    #[serde(default)]
    pub helper: String,
    /// Pid of the port forwarder of a container on user networks, 0 when none.
    #[serde(default)]
    pub forwarder_pid: i32,
    #[serde(default)]
    pub ip_address: String,
    #[serde(default)]
    pub prefix_len: u8,
    #[serde(default)]
    pub gateway: String,
    #[serde(default)]
    pub mac_address: String,
    #[serde(default)]
    pub mtu: u32,
    /// Where the container's network namespace is bound (empty when it has none of its own).
    #[serde(default)]
    pub sandbox_key: String,
    /// Host ports actually published (random ones resolved).
    #[serde(default)]
    pub ports: Vec<PortMapping>,
    /// User-defined networks the container is attached to, by name.
    #[serde(default)]
    pub networks: BTreeMap<String, Endpoint>,
}

/// The mode of a container, as its configuration asks for it (the default
/// resolved by which helper is installed now).
pub fn mode_of(cfg: &Config) -> Mode {
    match &cfg.network {
        mode::NetworkChoice::Explicit(m) => m.clone(),
        d => d.resolve(helper::lookup("pasta").is_some()),
    }
}

/// The backend that connects containers of mode `m`.
pub fn backend_of(m: Mode) -> Box<dyn Backend> {
    match m {
        Mode::None => Box::new(backend::NoNetwork),
        Mode::Host => Box::new(backend::Host),
        Mode::Pasta(extra) => Box::new(pasta::Pasta { extra }),
        Mode::Slirp(o) => Box::new(slirp4netns::Slirp(o)),
        Mode::Bridge(names) => Box::new(bridge::Bridge(names)),
        Mode::Container(name) => Box::new(backend::OtherContainer(name)),
        Mode::Ns(path) => Box::new(backend::Namespace(path)),
    }
}

/// The backends whose work `st` may record, for `detach`: the configured
/// one and those the state names. They can differ: `network connect` moves
/// a running default-network container onto bridges (its pasta still
/// runs), and the default mode depends on which helper is installed now.
fn recorded_backends(c: &Container, st: &NetworkState) -> Vec<Box<dyn Backend>> {
    let mut modes: Vec<Mode> = vec![mode_of(&c.config)];
    if st.helper == "slirp4netns" {
        modes.push(Mode::Slirp(Default::default()));
    } else if st.helper_pid > 0 {
        modes.push(Mode::Pasta(Vec::new()));
    }
    if !st.networks.is_empty() {
        modes.push(Mode::Bridge(st.networks.keys().cloned().collect()));
    }
    let mut seen = Vec::new();
    modes.retain(|m| {
        let kind = std::mem::discriminant(m);
        let first = !seen.contains(&kind);
        seen.push(kind);
        first
    });
    modes.into_iter().map(backend_of).collect()
}

/// The published ports a configuration asks for (`-p`, `-P` with `--expose`).
fn port_specs(cfg: &Config) -> Result<Vec<ports::PortSpec>> {
    ports::specs(&cfg.publish, cfg.publish_all, &cfg.expose)
}

fn check_add_host(h: &str) -> Result<()> {
    let ok = h
        .split_once(':')
        .map(|(name, ip)| {
            !name.is_empty() && (ip == "host-gateway" || ip.parse::<std::net::IpAddr>().is_ok())
        })
        .unwrap_or(false);
    if ok {
        Ok(())
    } else {
        Err(Error::msg(format!(
            "invalid --add-host {h:?}: use HOST:IP (or HOST:host-gateway)"
        )))
    }
}

/// Checks the network options of a new container: those every mode shares
/// (hosts, DNS servers, port syntax, links), then its backend's.
pub fn validate(ctx: &Context, cfg: &Config) -> Result<()> {
    let m = mode_of(cfg);
    for h in &cfg.add_hosts {
        check_add_host(h)?;
    }
    for d in &cfg.dns {
        if d.parse::<std::net::IpAddr>().is_err() {
            return Err(Error::msg(format!(
                "invalid --dns {d:?}: not an IP address"
            )));
        }
    }
    port_specs(cfg)?;
    backend_of(m).validate(ctx, cfg)?;
    links::validate(ctx, cfg)
}

/// The namespace of a running container that others can join.
pub fn sandbox_of(c: &Container) -> Option<PathBuf> {
    let key = &c.state.network.sandbox_key;
    if !key.is_empty() && Path::new(key).exists() {
        return Some(PathBuf::from(key));
    }
    if c.state.pid > 0 && crate::container::pid_alive(c.state.pid) {
        // A container in another's namespace (container:) shares it too.
        return Some(ns_path(c.state.pid));
    }
    None
}

/// How the container's network namespace is made: new, the host's, or joined.
pub fn net_mode(ctx: &Context, cfg: &Config) -> Result<NetMode> {
    backend_of(mode_of(cfg)).namespace(ctx)
}

/// Where a container's namespace is bound so that helpers can open it by path.
fn sandbox_path(ctx: &Context, id: &str) -> PathBuf {
    ctx.runroot
        .join("netns")
        .join(format!("netns-{}", &id[..id.len().min(12)]))
}

/// The empty file a namespace is bound to.
fn netns_file(ctx: &Context, id: &str) -> Result<PathBuf> {
    let path = sandbox_path(ctx, id);
    if path.exists() {
        // Left bound by an earlier start that was cut short; should this
        // fail, creating the file below says why.
        unbind_netns(&path, &mut Teardown::default());
    }
    let dir = path.parent().expect("has a parent");
    fs::create_dir_all(dir).map_err(|e| Error::msg(crate::error::io_msg("mkdir", dir, &e)))?;
    fs::File::create(&path).map_err(|e| Error::msg(crate::error::io_msg("create", &path, &e)))?;
    Ok(path)
}

/// Creates a network namespace with `lo` up, bound to the container's
/// sandbox file, before the container process exists (which then joins it).
/// A short-lived child makes it: the caller stays in its own namespace.
fn new_netns(ctx: &Context, id: &str) -> Result<PathBuf> {
    let path = netns_file(ctx, id)?;
    let target = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| Error::msg(format!("bad path {}", path.display())))?;
    let fail = |what: String| {
        let _ = fs::remove_file(&path);
        Error::msg(format!(
            "creating the network namespace {}: {what}",
            path.display()
        ))
    };
    // The child only makes system calls on `target`, made before the fork,
    // and reports the failing step and errno through its exit status.
    let child = || {
        let step = if let Err(e) = nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET) {
            (1, e)
        } else if let Err(e) = crate::runtime::process::bring_up_loopback() {
            (2, e)
        } else if let Err(e) = nix::mount::mount(
            Some(c"/proc/self/ns/net"),
            target.as_c_str(),
            None::<&std::ffi::CStr>,
            nix::mount::MsFlags::MS_BIND,
            None::<&std::ffi::CStr>,
        ) {
            (3, e)
        } else {
            return 0;
        };
        step.0 * 64 + (step.1 as i32).min(63)
    };
    let (pid, ()) = crate::runtime::fork::fork("fork", nix::sched::CloneFlags::empty(), (), child)
        .map_err(|e| fail(e.to_string()))?;
    match nix::sys::wait::waitpid(pid, None) {
        Ok(nix::sys::wait::WaitStatus::Exited(_, 0)) => Ok(path),
        Ok(nix::sys::wait::WaitStatus::Exited(_, code)) => {
            let step = ["unshare", "bringing up lo", "bind mount"]
                .get((code as usize / 64).wrapping_sub(1))
                .copied()
                .unwrap_or("setup");
            let errno = Errno::from_raw(code % 64);
            Err(fail(format!("{step}: {}", errno.desc().to_lowercase())))
        }
        other => Err(fail(format!("helper ended with {other:?}"))),
    }
}

/// Unbinds the namespace file at `path` and removes it, each step's failure
/// into `t`. A file that is not bound, or not there, is no error.
fn unbind_netns(path: &Path, t: &mut Teardown) {
    t.step(
        match nix::mount::umount2(path, nix::mount::MntFlags::MNT_DETACH) {
            Ok(()) | Err(Errno::EINVAL) | Err(Errno::ENOENT) => Ok(()),
            Err(e) => Err(Error::msg(format!(
                "unmount {}: {}",
                path.display(),
                e.desc().to_lowercase()
            ))),
        },
    );
    t.step(remove_if_present(path));
}

/// Removes the file at `path`; one already gone is no error.
fn remove_if_present(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(Error::msg(crate::error::io_msg("remove", path, &e)))
        }
        _ => Ok(()),
    }
}

/// Network setup begun before the container process exists: its namespace,
/// and pasta already connecting it while the container mounts its root
/// filesystem (pasta takes tens of milliseconds to start).
pub struct Early {
    sandbox: PathBuf,
    ports: Vec<PortMapping>,
    pasta: Option<pasta::Starting>,
}

impl Early {
    /// A new network namespace for container `id`, with `lo` up, bound to
    /// its sandbox file (`netns-ID12` under the runroot's `netns/`).
    fn new_namespace(ctx: &Context, id: &str) -> Result<Early> {
        Ok(Early {
            sandbox: new_netns(ctx, id)?,
            ports: Vec::new(),
            pasta: None,
        })
    }

    /// The namespace the container process joins.
    pub fn netns(&self) -> &Path {
        &self.sandbox
    }

    /// What to undo should this setup be lost on its way (see `detach`).
    pub fn undo_state(&self) -> NetworkState {
        let pid = self.pasta.as_ref().and_then(|p| p.pid()).unwrap_or(0);
        NetworkState {
            sandbox_key: self.sandbox.display().to_string(),
            helper_pid: pid,
            helper: if pid > 0 {
                "pasta".into()
            } else {
                String::new()
            },
            ..Default::default()
        }
    }

    /// Hands this setup over to another process (the CLI begins it, the
    /// supervisor finishes it): a line for its command line and, with pasta,
    /// the descriptor to pass open (see `pasta::Starting::hand_over`).
    pub fn hand_over(self) -> (String, Option<fs::File>) {
        let (pasta, ready) = match self.pasta.and_then(pasta::Starting::hand_over) {
            Some((h, f)) => (Some(h), Some(f)),
            None => (None, None),
        };
        let h = EarlyHandover {
            sandbox: self.sandbox,
            ports: self.ports,
            pasta,
        };
        (serde_json::to_string(&h).unwrap_or_default(), ready)
    }

    /// The other end of `hand_over`.
    pub fn take_over(line: &str, ready: Option<fs::File>) -> Result<Early> {
        let h: EarlyHandover = serde_json::from_str(line)
            .map_err(|e| Error::msg(format!("bad network handover: {e}")))?;
        let pasta = match (h.pasta, ready) {
            (Some(p), Some(f)) => Some(pasta::Starting::take_over(p, f)),
            (None, _) => None,
            (Some(_), None) => return Err(Error::msg("network handover without pasta's pipe")),
        };
        Ok(Early {
            sandbox: h.sandbox,
            ports: h.ports,
            pasta,
        })
    }
}

#[derive(Serialize, Deserialize)]
struct EarlyHandover {
    sandbox: PathBuf,
    ports: Vec<PortMapping>,
    pasta: Option<pasta::Handover>,
}

/// Begins the container's network before its process exists: the
/// namespace of a mode that has its own, then its backend's `prepare`
/// (pasta starting on it). `attach` finishes the job.
pub fn begin(ctx: &Context, c: &Container) -> Result<Option<Early>> {
    let m = mode_of(&c.config);
    if !m.owns_namespace() {
        return Ok(None);
    }
    let mut early = Early::new_namespace(ctx, &c.id)?;
    if let Err(e) = backend_of(m).prepare(ctx, c, &mut early) {
        // The error that matters is the one above.
        unbind_netns(&early.sandbox, &mut Teardown::default());
        return Err(e);
    }
    Ok(Some(early))
}

/// Undoes `begin` when the container never got to `attach`.
pub fn abandon(ctx: &Context, c: &Container, early: Early) {
    if let Some(p) = early.pasta {
        p.cancel();
    }
    let st = NetworkState {
        sandbox_key: early.sandbox.display().to_string(),
        ..Default::default()
    };
    detach_or_warn(ctx, c, &st);
}

/// A helper (pasta) still configuring a container's namespace after
/// `attach`: the container's command must not run before `wait` returns.
pub struct Connecting(pasta::Starting);

impl Connecting {
    /// Blocks until the namespace is configured; the error says how the
    /// helper failed.
    pub fn wait(self) -> Result<()> {
        self.0.wait().map(drop)
    }
}

/// Connects the network namespace of the container process `pid`,
/// finishing what `begin` started (its backend's `attach`), then writes its
/// /etc/hosts and resolv.conf. Its state is complete on return, though
/// pasta may still be configuring the namespace (the `Connecting`); on an
/// error from that, the caller must `detach`. On an error here, what was
/// set up is undone.
pub fn attach(
    ctx: &Context,
    c: &Container,
    pid: i32,
    early: Option<Early>,
) -> Result<(NetworkState, Option<Connecting>)> {
    let m = mode_of(&c.config);
    let owns_namespace = m.owns_namespace();
    let backend = backend_of(m);
    let mut st = NetworkState::default();
    let mut early = early;
    match &early {
        Some(e) => st.sandbox_key = e.sandbox.display().to_string(),
        // `begin` makes the namespace of every mode that has its own.
        None if owns_namespace => {
            return Err(Error::msg(format!(
                "container {}: its network namespace was not made before it started",
                c.name
            )))
        }
        None => {}
    }
    let res = (|| {
        if owns_namespace {
            let run_dir = ctx.container_run_dir(&c.id);
            fs::create_dir_all(&run_dir)
                .map_err(|e| Error::msg(crate::error::io_msg("mkdir", &run_dir, &e)))?;
        }
        let pending = backend.attach(ctx, c, pid, early.as_mut(), &mut st)?;
        write_etc_files(ctx, c, backend.as_ref(), &st)?;
        Ok(pending)
    })();
    match res {
        Ok(pending) => Ok((st, pending)),
        Err(e) => {
            if let Some(e) = early {
                abandon(ctx, c, e);
            }
            detach_or_warn(ctx, c, &st);
            Err(e)
        }
    }
}

/// Undoes `attach`: stops the port forwarder, lets every backend the state
/// records undo its part, and unbinds the namespace. Idempotent and safe
/// when the helpers are already gone. Every step runs whatever the others
/// did; the error lists each step that failed.
pub fn detach(ctx: &Context, c: &Container, st: &NetworkState) -> Result<()> {
    let mut t = Teardown::default();
    if st.forwarder_pid > 0 {
        t.step(helper::stop(st.forwarder_pid, "_portfwd"));
    }
    for b in recorded_backends(c, st) {
        b.detach(ctx, c, st, &mut t);
    }
    if !st.sandbox_key.is_empty() {
        unbind_netns(Path::new(&st.sandbox_key), &mut t);
    }
    // A namespace begun for the container but never recorded (its CLI was
    // killed before the supervisor took it over): unbinding it also ends a
    // pasta started on it, which quits when its namespace file goes.
    let own = sandbox_path(ctx, &c.id);
    if own.exists() && own != Path::new(&st.sandbox_key) {
        unbind_netns(&own, &mut t);
        // A pasta whose reader died may hang opening its pid pipe, before it
        // watches its namespace: find it by the namespace on its command line.
        helper::kill_by_arg("pasta", &own.to_string_lossy());
    }
    t.finish(&format!("tearing down the network of container {}", c.name))
}

/// `detach` for callers that must go on whatever it finds (stopping,
/// removing, cleaning up after a failed start): every failed step is shown
/// as one warning (`tracing::warn!`, on stderr in the CLI, Podman's
/// `WARN ...` line) instead of being lost; nothing is returned.
pub fn detach_or_warn(ctx: &Context, c: &Container, st: &NetworkState) {
    if let Err(e) = detach(ctx, c, st) {
        tracing::warn!("{e}");
    }
}

/// `--link name[:alias]` entries: both names, the target's address on a
/// user-defined network both are attached to, and the target's id. A link
/// whose container has no such address gets no line (`links::validate`
/// refuses links anywhere else).
fn link_hosts(ctx: &Context, c: &Container, st: &NetworkState) -> Vec<(String, String, String)> {
    let store = crate::container::store(ctx);
    let mut out = Vec::new();
    for l in &c.config.links {
        let (target, alias) = links::parse(l);
        let Ok(t) = store.lookup(target) else {
            continue;
        };
        if let Some(ip) = links::address_of(st.networks.keys(), &t) {
            let names = if alias == t.name {
                t.name.clone()
            } else {
                format!("{alias} {}", t.name)
            };
            out.push((names, ip, t.id.clone()));
        }
    }
    out
}

/// Extra /etc/hosts entries for a container (its peers, `--add-host`, links).
pub fn extra_hosts(ctx: &Context, c: &Container) -> Vec<(String, String)> {
    let backend = backend_of(mode_of(&c.config));
    hosts_entries(ctx, c, backend.as_ref(), &NetworkState::default())
}

fn hosts_entries(
    ctx: &Context,
    c: &Container,
    backend: &dyn Backend,
    st: &NetworkState,
) -> Vec<(String, String)> {
    let gw = backend.host_gateway(st);
    let mut out = Vec::new();
    for h in &c.config.add_hosts {
        if let Some((name, ip)) = h.split_once(':') {
            let ip = if ip == "host-gateway" {
                gw.clone().unwrap_or_else(|| "127.0.0.1".into())
            } else {
                ip.to_string()
            };
            out.push((name.to_string(), ip));
        }
    }
    if let Some(alias) = backend.host_alias(st) {
        out.push((
            "host.containers.internal host.docker.internal".to_string(),
            alias,
        ));
    }
    out.extend(
        link_hosts(ctx, c, st)
            .into_iter()
            .map(|(names, ip, _)| (names, ip)),
    );
    out
}

/// Rewrites the /etc/hosts and /etc/resolv.conf of a running container from
/// its record (a pod's infra container when the pod's containers change).
pub fn rewrite_etc_files(ctx: &Context, c: &Container) -> Result<()> {
    let backend = backend_of(mode_of(&c.config));
    write_etc_files(ctx, c, backend.as_ref(), &c.state.network)
}

/// The container's own addresses: its primary one (`ip_address`) first,
/// then those of its other networks in name order.
fn own_ips(st: &NetworkState) -> Vec<&str> {
    let mut ips: Vec<&str> = Vec::new();
    let all = std::iter::once(st.ip_address.as_str())
        .chain(st.networks.values().map(|e| e.ip_address.as_str()));
    for ip in all {
        if !ip.is_empty() && !ips.contains(&ip) {
            ips.push(ip);
        }
    }
    ips
}

/// After `network connect` or `disconnect` of the running container `c`
/// (`before` is its network state before the change; `c` carries the state
/// after it): edits its /etc/hosts and /etc/resolv.conf in place, as
/// Podman's `NetworkConnect`/`NetworkDisconnect` do. The lines naming it at
/// an address it lost go; a line per new address is appended when a line
/// of its old ones is still there (`etchosts.AddIfExists`); the DNS servers
/// of new networks go in front of the others and those of left networks
/// go. Anything else in the files, the user's edits too, stays. A
/// container with `--no-hosts`-like missing files is left alone.
pub fn etc_files_changed(ctx: &Context, c: &Container, before: &NetworkState) -> Result<()> {
    let userdata = ctx.container_dir(&c.id).join("userdata");
    let after = &c.state.network;
    let (hostname, name) = (&c.config.hostname, &c.name);
    let old = etc_files::own_entries(hostname, name, &own_ips(before));
    let new = etc_files::own_entries(hostname, name, &own_ips(after));
    let gone: Vec<_> = old.iter().filter(|e| !new.contains(e)).cloned().collect();
    let added: Vec<_> = new.iter().filter(|e| !old.contains(e)).cloned().collect();
    edit_file(&userdata.join("hosts"), |text| {
        let text = etc_files::hosts_remove(text, &gone);
        etc_files::hosts_add_if_exists(&text, &old, &added)
    })?;
    if !c.config.dns.is_empty() {
        return Ok(());
    }
    let gateways = |st: &NetworkState| -> Vec<String> {
        st.networks.values().map(|e| e.gateway.clone()).collect()
    };
    let (was, now) = (gateways(before), gateways(after));
    let left: Vec<String> = was.iter().filter(|g| !now.contains(g)).cloned().collect();
    let joined: Vec<String> = now.iter().filter(|g| !was.contains(g)).cloned().collect();
    edit_file(&userdata.join("resolv.conf"), |text| {
        etc_files::resolv_add(&etc_files::resolv_remove(text, &left), &joined)
    })
}

/// After container `target` changed networks: the running containers that
/// `--link` to it get their link line for it moved to its address now
/// (`links_before` is what `link_entries_to` gave before the change), or
/// removed when it has none they can reach.
pub fn links_changed(ctx: &Context, target: &str, links_before: Vec<(Container, LinkEntries)>) {
    for (l, old) in links_before {
        let now = link_entries_to(ctx, &l, target);
        if now == old {
            continue;
        }
        let hosts = ctx.container_dir(&l.id).join("userdata").join("hosts");
        let res = edit_file(&hosts, |text| {
            etc_files::hosts_add(&etc_files::hosts_remove(text, &old), &now)
        });
        if let Err(e) = res {
            tracing::warn!("container {}: {e}", l.name);
        }
    }
}

/// The /etc/hosts entries of a container for its links, as `(names, ip)`.
pub type LinkEntries = Vec<(String, String)>;

/// The running containers that `--link` to container `target` (an id),
/// each with its link entries for it now: what `links_changed` needs.
pub fn linking_containers(ctx: &Context, target: &str) -> Vec<(Container, LinkEntries)> {
    let all = crate::container::store(ctx).list().unwrap_or_default();
    all.into_iter()
        .filter(|l| {
            l.id != target && l.state.status == Status::Running && !l.config.links.is_empty()
        })
        .map(|l| {
            let e = link_entries_to(ctx, &l, target);
            (l, e)
        })
        .filter(|(_, e)| !e.is_empty())
        .collect()
}

/// The link entries of container `l` that name container `target` (an id).
fn link_entries_to(ctx: &Context, l: &Container, target: &str) -> LinkEntries {
    link_hosts(ctx, l, &l.state.network)
        .into_iter()
        .filter(|(_, _, id)| id == target)
        .map(|(names, ip, _)| (names, ip))
        .collect()
}

/// Rewrites a file in place (same inode: it is bind-mounted into the
/// container) with `change` of its text; a missing file is left alone.
pub fn edit_file(path: &Path, change: impl FnOnce(&str) -> String) -> Result<()> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::msg(crate::error::io_msg("read", path, &e))),
    };
    let new = change(&text);
    if new != text {
        fs::write(path, new).map_err(|e| Error::msg(crate::error::io_msg("write", path, &e)))?;
    }
    Ok(())
}

/// The `IP NAME` lines a pod's infra container adds to its /etc/hosts: one
/// for each other container of the pod, at the pod's own address.
fn pod_member_hosts(ctx: &Context, infra: &Container, ip: &str) -> String {
    let members = crate::container::store(ctx).list().unwrap_or_default();
    members
        .iter()
        .filter(|m| m.config.pod == infra.config.pod && !m.config.infra)
        .map(|m| format!("{ip}\t{}\n", m.name))
        .collect()
}

/// Rewrites the container's /etc/hosts and /etc/resolv.conf now that its
/// addresses are known. The files are bind-mounted, so they are rewritten in
/// place (same inode) and the container sees the final content.
fn write_etc_files(
    ctx: &Context,
    c: &Container,
    backend: &dyn Backend,
    st: &NetworkState,
) -> Result<()> {
    let userdata = ctx.container_dir(&c.id).join("userdata");
    if !userdata.exists() {
        return Ok(());
    }
    let cfg = &c.config;
    let ips = own_ips(st);
    let own_ip = ips.first().copied();
    let mut hosts = backend.hosts_file(etc_files::hosts_with_ips(
        &cfg.hostname,
        &c.name,
        &ips,
        &hosts_entries(ctx, c, backend, st),
    ));
    if cfg.infra {
        hosts.push_str(&pod_member_hosts(ctx, c, own_ip.unwrap_or("127.0.1.1")));
    }
    let host_resolv = host_resolv_conf(mode_of(cfg) != Mode::Host);
    let servers: Vec<String> = if !cfg.dns.is_empty() {
        cfg.dns.clone()
    } else {
        backend.nameservers(ctx, st, &host_resolv)
    };
    let resolv = etc_files::resolv_conf_from(
        &host_resolv,
        &servers,
        &cfg.dns_search,
        &backend.search_domains(),
        &cfg.dns_options,
    );
    for (name, content) in [("hosts", hosts), ("resolv.conf", resolv)] {
        let p = userdata.join(name);
        // Truncate and write, never replace: the bind mount follows the inode.
        fs::write(&p, content).map_err(|e| Error::msg(crate::error::io_msg("write", &p, &e)))?;
    }
    Ok(())
}

/// The host's resolv.conf text as a container sees it: /etc/resolv.conf,
/// or with a namespace of its own (`own_netns`) and a host that names only
/// a local stub resolver, the file with the real servers behind it when
/// there is one (`etc_files::stub_resolver_file`, as Podman reads it).
pub fn host_resolv_conf(own_netns: bool) -> String {
    let text = fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    if !own_netns {
        return text;
    }
    etc_files::stub_resolver_file(&text)
        .and_then(|real| fs::read_to_string(real).ok())
        .unwrap_or(text)
}

/// Where a joined namespace lives, for `NetMode::Join`.
pub fn ns_path(pid: i32) -> PathBuf {
    PathBuf::from(format!("/proc/{pid}/ns/net"))
}

/// `NetworkSettings` for `inspect`, in Podman's shape. `ports_of` is the
/// container whose published ports are `c`'s (`container::network::ports_owner`:
/// `c` itself, or the one whose network namespace it joins).
pub fn inspect_json(c: &Container, ports_of: &Container) -> serde_json::Value {
    use serde_json::{json, Map, Value};
    let st = &c.state.network;
    let running = c.state.status == Status::Running;
    let mut ports = Map::new();
    let specs = port_specs(&ports_of.config).unwrap_or_default();
    let published = &ports_of.state.network.ports;
    if running && !published.is_empty() {
        for p in published {
            let key = format!("{}/{}", p.container_port, p.protocol);
            let entry = ports.entry(key).or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(a) = entry {
                a.push(json!({"HostIp": p.host_ip, "HostPort": p.host_port.to_string()}));
            }
        }
    } else {
        for s in specs {
            for i in 0..s.count {
                let key = format!("{}/{}", s.container_port + i, s.protocol);
                let host = if s.host_port == 0 {
                    String::new()
                } else {
                    (s.host_port + i).to_string()
                };
                ports.insert(key, json!([{"HostIp": s.host_ip, "HostPort": host}]));
            }
        }
    }
    for e in &c.config.expose {
        let key = if e.contains('/') {
            e.clone()
        } else {
            format!("{e}/tcp")
        };
        ports.entry(key).or_insert(Value::Null);
    }
    let mut networks = Map::new();
    for (name, e) in &st.networks {
        networks.insert(name.clone(), network_entry(name, e, json!(e.aliases)));
    }
    let mode = mode_of(&c.config);
    if let Mode::Bridge(names) = &mode {
        for n in names {
            networks.entry(n.clone()).or_insert_with(|| json!({"IPAddress": "", "Gateway": "", "MacAddress": "", "Aliases": c.config.network_aliases}));
        }
    }
    // A container on no named network (pasta, slirp4netns, host, none) gets
    // one entry named after its mode, created or running, as Podman's
    // `setDefaultNetworks` gives Docker clients that expect one.
    if networks.is_empty() && !matches!(mode, Mode::Container(_)) {
        let name = mode.name();
        let e = Endpoint {
            ip_address: st.ip_address.clone(),
            prefix_len: st.prefix_len,
            gateway: st.gateway.clone(),
            mac_address: st.mac_address.clone(),
            ..Default::default()
        };
        networks.insert(name.clone(), network_entry(&name, &e, Value::Null));
    }
    json!({
        "EndpointID": "",
        "Gateway": st.gateway,
        "IPAddress": st.ip_address,
        "IPPrefixLen": st.prefix_len,
        "IPv6Gateway": "",
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "MacAddress": st.mac_address,
        "Bridge": "",
        "SandboxID": "",
        "HairpinMode": false,
        "LinkLocalIPv6Address": "",
        "LinkLocalIPv6PrefixLen": 0,
        "Ports": ports,
        "SandboxKey": st.sandbox_key,
        "Networks": networks,
    })
}

/// One entry of `NetworkSettings.Networks` in Podman's shape: network
/// `name` as the container's endpoint `e` sees it, with `aliases`.
fn network_entry(name: &str, e: &Endpoint, aliases: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "EndpointID": "",
        "Gateway": e.gateway,
        "IPAddress": e.ip_address,
        "IPPrefixLen": e.prefix_len,
        "IPv6Gateway": "",
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "MacAddress": e.mac_address,
        "NetworkID": name,
        "DriverOpts": null,
        "IPAMConfig": null,
        "Links": null,
        "Aliases": aliases,
    })
}

/// `HostConfig.NetworkMode` for inspect.
pub fn network_mode_name(c: &Container) -> String {
    mode_of(&c.config).name()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A container on networks `a` and `b` whose two endpoint records
    /// cannot be removed (each path is a directory with a file in it):
    /// detach runs the bridge backend's step for both networks and reports
    /// both failures, not only the first.
    #[test]
    fn detach_reports_every_failed_step() {
        let tmp = tempfile::tempdir().unwrap();
        let ctx = Context::in_dir(tmp.path());
        let id = "0123456789ab".repeat(5) + "0123";
        let mut st = NetworkState::default();
        for net in ["a", "b"] {
            let blocker = ctx
                .runroot
                .join("networks")
                .join(net)
                .join(format!("{id}.json"));
            fs::create_dir_all(&blocker).unwrap();
            fs::write(blocker.join("keep"), "").unwrap();
            st.networks.insert(
                net.to_string(),
                Endpoint {
                    host_interface: format!("vsk{net}"),
                    ..Default::default()
                },
            );
        }
        // Another container still on a network: the shared namespace stays.
        let other = bridge::Record {
            container_id: "f".repeat(64),
            name: "other".into(),
            network: "a".into(),
            internal: false,
            endpoint: Endpoint::default(),
        };
        let other_path = ctx
            .runroot
            .join("networks/a")
            .join(format!("{}.json", "f".repeat(64)));
        fs::write(&other_path, serde_json::to_string(&other).unwrap()).unwrap();
        let c = Container {
            version: crate::state::container::RECORD_VERSION,
            id,
            name: "web".into(),
            created: chrono::Utc::now(),
            config: Config {
                network: mode::NetworkChoice::parse("a,b").unwrap(),
                ..Default::default()
            },
            state: Default::default(),
        };

        let e = detach(&ctx, &c, &st).unwrap_err().to_string();
        let (subject, steps) = e.split_once(": ").unwrap();
        assert_eq!(subject, "tearing down the network of container web");
        let steps: Vec<&str> = steps.split("; ").collect();
        assert_eq!(steps.len(), 2, "{e}");
        assert!(steps[0].starts_with("network a: remove "), "{e}");
        assert!(steps[1].starts_with("network b: remove "), "{e}");
        assert!(steps.iter().all(|s| s.ends_with("is a directory")), "{e}");
        // The other container's record was left alone.
        assert!(other_path.exists());
    }
}
