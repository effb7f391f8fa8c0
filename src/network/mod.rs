//! Container networking: the network mode of a container, the rootless
//! helpers (pasta, slirp4netns) that connect it, published ports, user-defined
//! networks, and the generated /etc files.
//!
//! The container life cycle calls three functions: `validate` when the
//! container is created, `attach` once its process exists (before the
//! command runs), and `detach` when it has exited.

pub mod bridge;
pub mod dns;
pub mod etc_files;
pub mod helper;
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

/// The mode of a container, as its configuration asks for it.
pub fn mode_of(cfg: &Config) -> Result<Mode> {
    mode::parse(&cfg.network, helper::lookup("pasta").is_some())
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

/// Checks the network options of a new container (mode, ports, hosts, DNS).
pub fn validate(ctx: &Context, cfg: &Config) -> Result<()> {
    let m = mode_of(cfg)?;
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
    let specs = ports::specs(&cfg.publish, cfg.publish_all, &cfg.expose)?;
    match &m {
        Mode::None | Mode::Container(_) | Mode::Ns(_) if !cfg.publish.is_empty() => {
            return Err(Error::msg(format!(
                "cannot publish ports with --network {}: the container has no network of its own to forward to",
                m.name()
            )))
        }
        Mode::Pasta(_) => {
            helper::find("pasta", "passt")?;
            helper::check_tun()?;
        }
        Mode::Slirp(_) => {
            helper::find("slirp4netns", "slirp4netns")?;
            helper::check_tun()?;
        }
        Mode::Container(name) => {
            crate::container::store(ctx).lookup(name)?;
        }
        Mode::Ns(p) if !p.exists() => {
            return Err(Error::msg(format!(
                "network namespace {}: no such file or directory",
                p.display()
            )));
        }
        Mode::Bridge(names) => {
            for n in names {
                records::load(ctx, n)?;
            }
            for a in &cfg.network_aliases {
                if a.is_empty() || a.contains(char::is_whitespace) {
                    return Err(Error::msg(format!("invalid network alias {a:?}")));
                }
            }
        }
        _ => {}
    }
    if !matches!(m, Mode::Host) {
        ports::check_free(&specs)?;
    }
    for l in &cfg.links {
        let target = l.split(':').next().unwrap_or_default();
        crate::container::store(ctx).lookup(target)?;
    }
    Ok(())
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
    Ok(match mode_of(cfg)? {
        Mode::Host => NetMode::Host,
        Mode::None => NetMode::None,
        Mode::Pasta(_) | Mode::Slirp(_) | Mode::Bridge(_) => NetMode::Private,
        Mode::Ns(p) => NetMode::Join(p),
        Mode::Container(name) => {
            let target = crate::container::store(ctx).lookup(&name)?;
            if crate::container::effective_status(&target) != Status::Running {
                return Err(Error::msg(format!(
                    "cannot join the network of container {name}: it is not running"
                )));
            }
            NetMode::Join(sandbox_of(&target).ok_or_else(|| {
                Error::msg(format!(
                    "cannot join the network of container {name}: it is not running"
                ))
            })?)
        }
    })
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
        // Left bound by an earlier start that was cut short.
        unbind_netns(&path);
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

fn unbind_netns(path: &Path) {
    let _ = nix::mount::umount2(path, nix::mount::MntFlags::MNT_DETACH);
    let _ = fs::remove_file(path);
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

/// Creates the container's network namespace, when its mode gives it one,
/// and starts pasta on it. `attach` finishes the job.
pub fn begin(ctx: &Context, c: &Container) -> Result<Option<Early>> {
    let m = mode_of(&c.config)?;
    if !m.owns_namespace() {
        return Ok(None);
    }
    let sandbox = new_netns(ctx, &c.id)?;
    let mut early = Early {
        sandbox,
        ports: Vec::new(),
        pasta: None,
    };
    if let Mode::Pasta(extra) = &m {
        let res = (|| {
            let specs = ports::specs(&c.config.publish, c.config.publish_all, &c.config.expose)?;
            early.ports = ports::allocate(&specs)?;
            let run_dir = ctx.container_run_dir(&c.id);
            fs::create_dir_all(&run_dir)
                .map_err(|e| Error::msg(crate::error::io_msg("mkdir", &run_dir, &e)))?;
            // TCP goes through pasta; UDP through our forwarder (see portfwd).
            let tcp: Vec<PortMapping> = early
                .ports
                .iter()
                .filter(|p| p.protocol != "udp")
                .cloned()
                .collect();
            pasta::spawn(&early.sandbox, &run_dir, &tcp, extra, true)
        })();
        match res {
            Ok(p) => early.pasta = Some(p),
            Err(e) => {
                unbind_netns(&early.sandbox);
                return Err(e);
            }
        }
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
    let _ = detach(ctx, c, &st);
}

/// pasta still configuring a container's namespace after `attach`: the
/// container's command must not run before `wait` returns.
pub struct Connecting(pasta::Starting);

impl Connecting {
    pub fn wait(self) -> Result<()> {
        self.0.wait().map(drop)
    }
}

/// Connects the network namespace of the container process `pid`,
/// finishing what `begin` started. Its state is complete on return, though
/// pasta may still be configuring the namespace (the `Connecting`); on an
/// error from that, the caller must `detach`.
pub fn attach(
    ctx: &Context,
    c: &Container,
    pid: i32,
    early: Option<Early>,
) -> Result<(NetworkState, Option<Connecting>)> {
    let m = mode_of(&c.config)?;
    let mut st = NetworkState::default();
    let mut early = early;
    match &early {
        Some(e) => st.sandbox_key = e.sandbox.display().to_string(),
        // `begin` makes the namespace of every mode that has its own.
        None if m.owns_namespace() => {
            return Err(Error::msg(format!(
                "container {}: its network namespace was not made before it started",
                c.name
            )))
        }
        None => {}
    }
    let res = connect(ctx, c, &m, pid, &mut st, &mut early);
    let res = res.and_then(|pending| write_etc_files(ctx, c, &m, &st).map(|_| pending));
    match res {
        Ok(pending) => Ok((st, pending.map(Connecting))),
        Err(e) => {
            if let Some(e) = early {
                abandon(ctx, c, e);
            }
            let _ = detach(ctx, c, &st);
            Err(e)
        }
    }
}

fn connect(
    ctx: &Context,
    c: &Container,
    m: &Mode,
    pid: i32,
    st: &mut NetworkState,
    early: &mut Option<Early>,
) -> Result<Option<pasta::Starting>> {
    let specs = ports::specs(&c.config.publish, c.config.publish_all, &c.config.expose)?;
    let run_dir = ctx.container_run_dir(&c.id);
    if m.owns_namespace() {
        fs::create_dir_all(&run_dir)
            .map_err(|e| Error::msg(crate::error::io_msg("mkdir", &run_dir, &e)))?;
    }
    let netns = PathBuf::from(&st.sandbox_key);
    let mut pending = None;
    match m {
        Mode::Pasta(_) => {
            let early = early.as_mut().expect("checked by attach");
            let starting = early.pasta.take().ok_or_else(|| {
                Error::msg(format!("container {}: pasta was not started", c.name))
            })?;
            st.ports = std::mem::take(&mut early.ports);
            // TCP goes through pasta; UDP through our forwarder (see portfwd).
            let udp = |ports: &[PortMapping]| -> Vec<PortMapping> {
                ports
                    .iter()
                    .filter(|p| p.protocol == "udp")
                    .cloned()
                    .collect()
            };
            let h = match starting.pid() {
                // The forwarder needs the namespace configured.
                Some(pid) if udp(&st.ports).is_empty() => {
                    pending = Some(starting);
                    helper::Helper {
                        pid,
                        name: "pasta".into(),
                        mtu: pasta::MTU,
                    }
                }
                _ => starting.wait()?,
            };
            st.helper_pid = h.pid;
            st.helper = h.name;
            st.mtu = h.mtu;
            st.ip_address = pasta::host_address().unwrap_or_default();
            st.gateway = pasta::host_gateway().unwrap_or_default();
            st.prefix_len = 24;
            let udp = udp(&st.ports);
            if !udp.is_empty() {
                st.forwarder_pid = portfwd::spawn(ctx, &netns, &st.ip_address, &udp, &run_dir)?;
            }
        }
        Mode::Slirp(o) => {
            st.ports = ports::allocate(&specs)?;
            let api = netns.with_extension("slirp.sock");
            let h = slirp4netns::start(&netns, &run_dir, &api, &st.ports, o)?;
            st.helper_pid = h.pid;
            st.helper = h.name;
            st.mtu = h.mtu;
            let (ip, gw) = slirp4netns::addresses(o);
            st.ip_address = ip;
            st.gateway = gw;
            st.prefix_len = 24;
        }
        Mode::Bridge(names) => {
            bridge::connect_all(ctx, c, names, pid, st)?;
            if !specs.is_empty() {
                st.ports = ports::allocate(&specs)?;
                st.forwarder_pid =
                    portfwd::spawn(ctx, &netns, &st.ip_address, &st.ports, &run_dir)?;
            }
        }
        Mode::None | Mode::Host | Mode::Container(_) | Mode::Ns(_) => {}
    }
    Ok(pending)
}

/// Undoes `attach`; idempotent and safe when the helper is already gone.
pub fn detach(ctx: &Context, c: &Container, st: &NetworkState) -> Result<()> {
    if st.forwarder_pid > 0 {
        helper::stop(st.forwarder_pid, "_portfwd");
    }
    if st.helper_pid > 0 {
        let name = if st.helper.is_empty() {
            "pasta"
        } else {
            st.helper.as_str()
        };
        if st.ports.is_empty() {
            helper::stop(st.helper_pid, name);
        } else {
            // Published ports must be free when the container is gone.
            helper::stop_fully(st.helper_pid, name);
        }
    }
    let mut errors = Vec::new();
    if !st.networks.is_empty() {
        if let Err(e) = bridge::disconnect_all(ctx, c, st) {
            errors.push(e.to_string());
        }
    }
    if !st.sandbox_key.is_empty() {
        let key = Path::new(&st.sandbox_key);
        unbind_netns(key);
        let _ = fs::remove_file(key.with_extension("slirp.sock"));
    }
    // A namespace begun for the container but never recorded (its CLI was
    // killed before the supervisor took it over): unbinding it also ends a
    // pasta started on it, which quits when its namespace file goes.
    let own = sandbox_path(ctx, &c.id);
    if own.exists() && own != Path::new(&st.sandbox_key) {
        unbind_netns(&own);
        // A pasta whose reader died may hang opening its pid pipe, before it
        // watches its namespace: find it by the namespace on its command line.
        helper::kill_by_arg("pasta", &own.to_string_lossy());
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::msg(errors.join("; ")))
    }
}

/// The address that reaches the host (its loopback for pasta and slirp4netns).
fn host_gateway_address(m: &Mode, st: &NetworkState) -> Option<String> {
    match m {
        Mode::Pasta(_) | Mode::Slirp(_) => Some(st.gateway.clone()).filter(|g| !g.is_empty()),
        Mode::Bridge(_) => bridge::host_address(),
        Mode::Host => Some("127.0.0.1".into()),
        _ => None,
    }
}

/// `--link name[:alias]` entries: the target's address and both names.
fn link_hosts(ctx: &Context, c: &Container, m: &Mode, st: &NetworkState) -> Vec<(String, String)> {
    let store = crate::container::store(ctx);
    let mut out = Vec::new();
    for l in &c.config.links {
        let (target, alias) = l.split_once(':').unwrap_or((l.as_str(), l.as_str()));
        let Ok(t) = store.lookup(target) else {
            continue;
        };
        // On a shared user network the target is reachable at its own address;
        // otherwise through the host, where its published ports are.
        let shared = st
            .networks
            .keys()
            .find_map(|n| t.state.network.networks.get(n))
            .map(|e| e.ip_address.clone());
        let ip = shared.or_else(|| host_gateway_address(m, st));
        if let Some(ip) = ip {
            let names = if alias == t.name {
                t.name.clone()
            } else {
                format!("{alias} {}", t.name)
            };
            out.push((names, ip));
        }
    }
    out
}

/// Extra /etc/hosts entries for a container (its peers, `--add-host`, links).
pub fn extra_hosts(ctx: &Context, c: &Container) -> Vec<(String, String)> {
    let m = mode_of(&c.config).unwrap_or(Mode::None);
    hosts_entries(ctx, c, &m, &NetworkState::default())
}

fn hosts_entries(
    ctx: &Context,
    c: &Container,
    m: &Mode,
    st: &NetworkState,
) -> Vec<(String, String)> {
    let gw = host_gateway_address(m, st);
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
    if let Some(gw) = gw.filter(|_| !matches!(m, Mode::Host)) {
        out.push((
            "host.containers.internal host.docker.internal".to_string(),
            gw,
        ));
    }
    out.extend(link_hosts(ctx, c, m, st));
    out
}

/// Rewrites the container's /etc/hosts and /etc/resolv.conf now that its
/// addresses are known. The files are bind-mounted, so they are rewritten in
/// place (same inode) and the container sees the final content.
fn write_etc_files(ctx: &Context, c: &Container, m: &Mode, st: &NetworkState) -> Result<()> {
    let userdata = ctx.container_dir(&c.id).join("userdata");
    if !userdata.exists() {
        return Ok(());
    }
    let cfg = &c.config;
    let own_ip = (!st.ip_address.is_empty()).then_some(st.ip_address.as_str());
    let mut hosts = etc_files::hosts_with_ip(
        &cfg.hostname,
        &c.name,
        own_ip,
        &hosts_entries(ctx, c, m, st),
    );
    if matches!(m, Mode::Host) {
        let host = fs::read_to_string("/etc/hosts").unwrap_or_default();
        hosts = format!("{host}{}\n", hosts.lines().last().unwrap_or_default());
    }
    let host_resolv = fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let servers: Vec<String> = if !cfg.dns.is_empty() {
        cfg.dns.clone()
    } else {
        match m {
            Mode::Slirp(_) => vec![slirp4netns::DNS.to_string()],
            Mode::Bridge(names) => {
                let internal_only = names
                    .iter()
                    .all(|n| records::load(ctx, n).map(|r| r.internal).unwrap_or(false));
                let mut v: Vec<String> = st.networks.values().map(|e| e.gateway.clone()).collect();
                v.dedup();
                if v.is_empty() && !internal_only {
                    v = etc_files::nameservers(&host_resolv, true);
                }
                v
            }
            Mode::Pasta(_) => {
                let v = etc_files::nameservers(&host_resolv, true);
                if v.is_empty() {
                    vec![pasta::DNS_FORWARD.to_string()]
                } else {
                    v
                }
            }
            _ => etc_files::nameservers(&host_resolv, !matches!(m, Mode::Host)),
        }
    };
    let resolv =
        etc_files::resolv_conf_from(&host_resolv, &servers, &cfg.dns_search, &cfg.dns_options);
    for (name, content) in [("hosts", hosts), ("resolv.conf", resolv)] {
        let p = userdata.join(name);
        // Truncate and write, never replace: the bind mount follows the inode.
        fs::write(&p, content).map_err(|e| Error::msg(crate::error::io_msg("write", &p, &e)))?;
    }
    Ok(())
}

/// Where a joined namespace lives, for `NetMode::Join`.
pub fn ns_path(pid: i32) -> PathBuf {
    PathBuf::from(format!("/proc/{pid}/ns/net"))
}

/// `NetworkSettings` for `inspect`, in Podman's shape.
pub fn inspect_json(c: &Container) -> serde_json::Value {
    use serde_json::{json, Map, Value};
    let st = &c.state.network;
    let running = c.state.status == Status::Running;
    let mut ports = Map::new();
    let specs =
        ports::specs(&c.config.publish, c.config.publish_all, &c.config.expose).unwrap_or_default();
    if running && !st.ports.is_empty() {
        for p in &st.ports {
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
        networks.insert(
            name.clone(),
            json!({
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
                "Aliases": e.aliases,
            }),
        );
    }
    if let Ok(Mode::Bridge(names)) = mode_of(&c.config) {
        for n in names {
            networks.entry(n).or_insert_with(|| json!({"IPAddress": "", "Gateway": "", "MacAddress": "", "Aliases": c.config.network_aliases}));
        }
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

/// `HostConfig.NetworkMode` for inspect.
pub fn network_mode_name(c: &Container) -> String {
    mode_of(&c.config)
        .map(|m| m.name())
        .unwrap_or_else(|_| c.config.network.clone())
}
