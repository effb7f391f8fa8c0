//! User-defined networks, rootless: a shared network namespace (held by a
//! small `skiff _netns` process, which also answers DNS for the networks)
//! holding one bridge per network, one veth pair per container and network,
//! nftables rules for masquerading and isolation, and one outbound helper
//! (pasta, else slirp4netns) whose interface is `tap0`.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use super::backend::{Backend, Teardown};
use super::records::{self, Network};
use super::{etc_files, helper, pasta, portfwd, ports, slirp4netns};
use super::{Connecting, Early, Endpoint, NetworkState};
use crate::state::container::{Config, Container};
use crate::state::Lock;
use crate::{Context, Error, Result};

/// Name of the outbound interface in the rootless namespace.
const OUT_IF: &str = "tap0";

fn dir(ctx: &Context) -> PathBuf {
    runroot_dir(&ctx.runroot)
}

/// Where the rootless network namespace's files are under a runroot.
fn runroot_dir(runroot: &Path) -> PathBuf {
    runroot.join("netns")
}

fn ns_file(ctx: &Context) -> PathBuf {
    dir(ctx).join("rootless-netns")
}

/// One container on one network, as the DNS server reads it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub container_id: String,
    pub name: String,
    pub network: String,
    pub internal: bool,
    pub endpoint: Endpoint,
}

fn endpoints_dir(ctx: &Context, net: &str) -> PathBuf {
    ctx.runroot.join("networks").join(net)
}

/// Sets the DNS aliases of container `c` on every network it is attached
/// to (what a pod's infra container answers for changes with the pod's
/// containers): its own aliases and short id, then `extra`.
pub fn set_aliases(ctx: &Context, c: &Container, extra: &[String]) -> Result<()> {
    for net in c.state.network.networks.keys() {
        let path = endpoints_dir(ctx, net).join(format!("{}.json", c.id));
        let Some(mut rec) = crate::state::read_json::<Record>(&path)? else {
            continue;
        };
        let mut aliases = c.config.network_aliases.clone();
        aliases.push(c.id[..12].to_string());
        aliases.extend(extra.iter().cloned());
        rec.endpoint.aliases = aliases;
        crate::state::write_json(&path, &rec)?;
    }
    Ok(())
}

/// Every container attached to every network, for DNS and address allocation.
pub fn all_records(runroot: &Path) -> Vec<Record> {
    let mut out = Vec::new();
    let Ok(nets) = fs::read_dir(runroot.join("networks")) else {
        return out;
    };
    for n in nets.flatten() {
        let Ok(files) = fs::read_dir(n.path()) else {
            continue;
        };
        for f in files.flatten() {
            if let Ok(Some(r)) = crate::state::read_json::<Record>(&f.path()) {
                out.push(r);
            }
        }
    }
    out
}

fn run(what: &str, cmd: &mut Command) -> Result<()> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::msg(format!("{what}: {}", crate::error::io_reason(&e))))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(Error::msg(format!(
            "{what}: {}",
            err.lines().next().unwrap_or("failed").trim()
        )));
    }
    Ok(())
}

/// Runs `ip -batch -` inside the namespace at `ns`.
fn ip_batch(ns: &Path, what: &str, script: &str) -> Result<()> {
    let ip = helper::find("ip", "iproute2")?;
    let mut child = Command::new("nsenter")
        .arg(format!("--net={}", ns.display()))
        .arg(ip)
        .args(["-batch", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::msg(format!("{what}: nsenter: {}", crate::error::io_reason(&e))))?;
    let _ = child
        .stdin
        .take()
        .expect("piped")
        .write_all(script.as_bytes());
    let out = child
        .wait_with_output()
        .map_err(|e| Error::msg(format!("{what}: {}", crate::error::io_reason(&e))))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(Error::msg(format!(
            "{what}: {}",
            err.lines().next().unwrap_or("ip failed").trim()
        )));
    }
    Ok(())
}

fn holder_pid(ctx: &Context) -> Option<i32> {
    let pid: i32 = fs::read_to_string(dir(ctx).join("rootless-netns.pid"))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    helper::is_running(pid, "_netns").then_some(pid)
}

/// The shared rootless namespace, created (with its outbound helper) when needed.
pub fn ensure(ctx: &Context) -> Result<PathBuf> {
    let d = dir(ctx);
    fs::create_dir_all(&d).map_err(|e| Error::msg(crate::error::io_msg("mkdir", &d, &e)))?;
    let _lock = Lock::exclusive(&d.join("rootless-netns.lock"))?;
    let ns = ns_file(ctx);
    if holder_pid(ctx).is_some() {
        return Ok(ns);
    }
    // Leftovers of a holder that died; making the new one reports what matters.
    teardown_locked(ctx, &mut Teardown::default());
    // The kernel's link to this very binary: valid in whatever mount
    // namespace (and root) this process runs, where the path it was started
    // by may not resolve (setns into the user namespace's mount namespace
    // resets the root; a chroot's path is then another).
    let exe = std::path::PathBuf::from("/proc/self/exe");
    let log = d.join("rootless-netns.log");
    let err =
        fs::File::create(&log).map_err(|e| Error::msg(crate::error::io_msg("create", &log, &e)))?;
    use std::os::unix::process::CommandExt;
    let mut child = Command::new(exe)
        .arg("--root")
        .arg(&ctx.root)
        .arg("--runroot")
        .arg(&ctx.runroot)
        .arg("_netns")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(|e| {
            Error::msg(format!(
                "starting the rootless network namespace: {}",
                crate::error::io_reason(&e)
            ))
        })?;
    let pid = child.id() as i32;
    let mut line = String::new();
    let _ = BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line);
    if line.trim() != "ready" {
        let _ = child.kill();
        let _ = child.wait();
        return Err(Error::msg(format!(
            "the rootless network namespace did not start: {}",
            helper::last_error(&log)
        )));
    }
    let fail = |e: Error| {
        let _ = helper::stop(pid, "_netns");
        e
    };
    fs::File::create(&ns).map_err(|e| fail(Error::msg(crate::error::io_msg("create", &ns, &e))))?;
    nix::mount::mount(
        Some(&super::ns_path(pid)),
        &ns,
        None::<&str>,
        nix::mount::MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|e| {
        fail(Error::msg(format!(
            "binding the rootless network namespace: {}",
            e.desc().to_lowercase()
        )))
    })?;
    let h = if helper::lookup("pasta").is_some() {
        pasta::start(&ns, &d, &[], &["--ns-ifname".into(), OUT_IF.into()])
    } else {
        slirp4netns::start(
            &ns,
            &d,
            &d.join("rootless.sock"),
            &[],
            &slirp4netns::Options::default(),
        )
    }
    .map_err(fail)?;
    crate::state::atomic_write(
        &d.join("rootless-netns.helper"),
        format!("{} {}", h.pid, h.name).as_bytes(),
    )?;
    crate::state::atomic_write(&d.join("rootless-netns.pid"), pid.to_string().as_bytes())?;
    Ok(ns)
}

/// The name of the helper that connects the rootless network namespace of
/// the store whose runroot is `runroot` (`pasta` or `slirp4netns`), once
/// `ensure` has started it.
pub fn outbound_helper(runroot: &Path) -> Option<String> {
    let h = fs::read_to_string(runroot_dir(runroot).join("rootless-netns.helper")).ok()?;
    h.split_whitespace().nth(1).map(str::to_string)
}

/// Stops the shared rootless network namespace and its helper (`system
/// reset`); the next user network makes a new one.
pub fn teardown(ctx: &Context) {
    let d = dir(ctx);
    if !d.exists() {
        return;
    }
    if let Ok(_lock) = Lock::exclusive(&d.join("rootless-netns.lock")) {
        // Best effort: `system reset` goes on whatever is left.
        teardown_locked(ctx, &mut Teardown::default());
    }
}

/// Stops the rootless namespace, its helper and DNS server (the caller
/// holds the lock); every step runs, each failure goes to `t`.
fn teardown_locked(ctx: &Context, t: &mut Teardown) {
    let d = dir(ctx);
    if let Ok(h) = fs::read_to_string(d.join("rootless-netns.helper")) {
        let mut f = h.split_whitespace();
        if let (Some(pid), Some(name)) = (f.next().and_then(|p| p.parse().ok()), f.next()) {
            t.step(helper::stop(pid, name));
        }
    }
    if let Some(pid) = holder_pid(ctx) {
        t.step(helper::stop(pid, "_netns"));
    }
    super::unbind_netns(&ns_file(ctx), t);
    for f in ["rootless-netns.pid", "rootless-netns.helper"] {
        t.step(super::remove_if_present(&d.join(f)));
    }
}

/// The nftables ruleset for the networks: masquerade outbound traffic of
/// non-internal networks, forward only within a network and out to the
/// helper, never between networks.
pub fn ruleset(nets: &[Network]) -> String {
    // With br_netfilter loaded, frames switched inside one bridge pass this
    // hook too, between two container veths (vsk*): that is one network.
    let mut fwd = String::from(
        "    ct state established,related accept\n    iifname \"vsk*\" oifname \"vsk*\" accept\n",
    );
    let mut nat = String::new();
    for n in nets {
        let br = &n.network_interface;
        fwd.push_str(&format!("    iifname \"{br}\" oifname \"{br}\" accept\n"));
        if !n.internal {
            fwd.push_str(&format!(
                "    iifname \"{br}\" oifname \"{OUT_IF}\" accept\n"
            ));
            nat.push_str(&format!(
                "    ip saddr {} oifname \"{OUT_IF}\" masquerade\n",
                n.cidr()
            ));
        }
    }
    format!(
        "table ip skiff {{}}\ndelete table ip skiff\ntable ip skiff {{\n  chain forward_ {{\n    type filter hook forward priority 0; policy drop;\n{fwd}  }}\n  chain postrouting_ {{\n    type nat hook postrouting priority 100;\n{nat}  }}\n}}\n"
    )
}

fn apply_rules(ctx: &Context, ns: &Path) -> Result<()> {
    let nets = records::list(ctx)?;
    let nft = helper::find("nft", "nftables")?;
    let mut child = Command::new("nsenter")
        .arg(format!("--net={}", ns.display()))
        .arg(nft)
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::msg(format!("nft: {}", crate::error::io_reason(&e))))?;
    let _ = child
        .stdin
        .take()
        .expect("piped")
        .write_all(ruleset(&nets).as_bytes());
    let out = child
        .wait_with_output()
        .map_err(|e| Error::msg(format!("nft: {}", crate::error::io_reason(&e))))?;
    if !out.status.success() {
        return Err(Error::msg(format!(
            "setting the network firewall rules: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .next()
                .unwrap_or("nft failed")
        )));
    }
    Ok(())
}

fn ensure_bridge(ctx: &Context, ns: &Path, net: &Network) -> Result<()> {
    let br = &net.network_interface;
    let exists = Command::new("nsenter")
        .arg(format!("--net={}", ns.display()))
        .args(["ip", "link", "show", br])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !exists {
        let script = format!(
            "link add {br} type bridge\naddr add {}/{} brd + dev {br}\nlink set {br} up\n",
            net.gateway(),
            net.cidr().prefix
        );
        ip_batch(
            ns,
            &format!("creating bridge {br} for network {}", net.name),
            &script,
        )?;
    }
    apply_rules(ctx, ns)
}

fn mac_for(id: &str, net: &str) -> String {
    use sha2::Digest;
    let h = sha2::Sha256::digest(format!("{id}/{net}").as_bytes());
    format!(
        "02:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        h[0], h[1], h[2], h[3], h[4]
    )
}

fn allocate_ip(ctx: &Context, net: &Network, cid: &str) -> Result<Ipv4Addr> {
    let cidr = net.cidr();
    let used: Vec<String> = all_records(&ctx.runroot)
        .into_iter()
        .filter(|r| r.network == net.name && r.container_id != cid)
        .map(|r| r.endpoint.ip_address)
        .collect();
    let gw = net.gateway();
    (2..cidr.size() - 1)
        .filter_map(|n| cidr.host(n))
        .find(|ip| ip.to_string() != gw && !used.contains(&ip.to_string()))
        .ok_or_else(|| Error::msg(format!("network {}: no free address left", net.name)))
}

/// Names of the network interfaces in the namespace of process `pid`, from
/// `/proc/PID/net/dev` (two header lines, then `NAME: counters...`); empty
/// when it cannot be read (the process is gone: connecting then fails
/// anyway, naming the container).
fn interfaces_of(pid: i32) -> Vec<String> {
    let text = fs::read_to_string(format!("/proc/{pid}/net/dev")).unwrap_or_default();
    parse_net_dev(&text)
}

/// The interface names of a `/proc/net/dev` text.
fn parse_net_dev(text: &str) -> Vec<String> {
    text.lines()
        .skip(2)
        .filter_map(|l| l.split_once(':'))
        .map(|(name, _)| name.trim().to_string())
        .collect()
}

/// Whether a namespace already has an interface besides `lo` (`present`,
/// from `/proc/PID/net/dev`) or an endpoint of ours.
fn has_interfaces(present: &[String], st: &NetworkState) -> bool {
    present.iter().any(|n| n != "lo") || !st.networks.is_empty()
}

/// Connects the namespace of process `pid` to one network.
pub fn connect_one(
    ctx: &Context,
    c: &Container,
    net: &Network,
    pid: i32,
    st: &mut NetworkState,
) -> Result<()> {
    let ns = ensure(ctx)?;
    let _lock = Lock::exclusive(&dir(ctx).join("networks.lock"))?;
    ensure_bridge(ctx, &ns, net)?;
    // The namespace may have interfaces no endpoint records (pasta's copy
    // of the host's, named eth0 by default): as Podman, take the first ethN
    // that neither has.
    let present = interfaces_of(pid);
    let index = (0..)
        .find(|i| {
            let name = format!("eth{i}");
            !present.contains(&name) && !st.networks.values().any(|e| e.interface == name)
        })
        .unwrap_or(0);
    let ip = allocate_ip(ctx, net, &c.id)?;
    let ifname = format!("eth{index}");
    let host_if = format!("vsk{}{index}", &c.id[..10]);
    let mac = mac_for(&c.id, &net.name);
    let prefix = net.cidr().prefix;
    ip_batch(
        &ns,
        &format!("connecting container {} to network {}", c.name, net.name),
        &format!(
            "link add {host_if} type veth peer name {ifname} address {mac} netns {pid}\nlink set {host_if} master {} up\n",
            net.network_interface
        ),
    )?;
    // `brd +` sets the broadcast address from the prefix, as netavark
    // does (`ip addr` in the container shows `brd 10.89.0.255`).
    let mut script = format!("addr add {ip}/{prefix} brd + dev {ifname}\nlink set {ifname} up\n");
    // The first network gives the default route, unless the namespace has
    // one already: a running pasta container whose interface is not named
    // ethN (pasta copies the host's `enp3s0`) keeps its own, where adding
    // another fails with `RTNETLINK answers: File exists`.
    if index == 0 && !has_interfaces(&present, st) && !net.internal {
        script.push_str(&format!("route add default via {}\n", net.gateway()));
    }
    let cns = super::ns_path(pid);
    if let Err(e) = ip_batch(
        &cns,
        &format!("configuring {ifname} of container {}", c.name),
        &script,
    ) {
        let _ = ip_batch(&ns, "cleanup", &format!("link del {host_if}\n"));
        return Err(e);
    }
    let mut aliases = c.config.network_aliases.clone();
    aliases.push(c.id[..12].to_string());
    // A pod's infra container answers for the pod and its containers.
    aliases.extend(crate::pod::infra_aliases(ctx, c));
    let e = Endpoint {
        ip_address: ip.to_string(),
        prefix_len: prefix,
        gateway: net.gateway(),
        mac_address: mac,
        interface: ifname,
        host_interface: host_if,
        aliases,
    };
    let rec = Record {
        container_id: c.id.clone(),
        name: c.name.clone(),
        network: net.name.clone(),
        internal: net.internal,
        endpoint: e.clone(),
    };
    let d = endpoints_dir(ctx, &net.name);
    fs::create_dir_all(&d).map_err(|err| Error::msg(crate::error::io_msg("mkdir", &d, &err)))?;
    crate::state::write_json(&d.join(format!("{}.json", c.id)), &rec)?;
    if st.ip_address.is_empty() {
        st.ip_address = e.ip_address.clone();
        st.gateway = e.gateway.clone();
        st.prefix_len = e.prefix_len;
        st.mac_address = e.mac_address.clone();
    }
    st.networks.insert(net.name.clone(), e);
    Ok(())
}

/// Connects a new container to every network it names.
pub fn connect_all(
    ctx: &Context,
    c: &Container,
    names: &[String],
    pid: i32,
    st: &mut NetworkState,
) -> Result<()> {
    for n in names {
        let net = records::load(ctx, n)?;
        connect_one(ctx, c, &net, pid, st)?;
    }
    Ok(())
}

/// Removes one container's veth and DNS record from a network, and stops
/// the rootless namespace if it was the last endpoint. Every step runs; the
/// error lists each that failed. Already gone is no error (the veth
/// dies with the container's namespace).
pub fn disconnect_one(ctx: &Context, c: &Container, net: &str, e: &Endpoint) -> Result<()> {
    let mut t = Teardown::default();
    disconnect_steps(ctx, c, net, e, &mut t);
    stop_if_unused(ctx, &mut t);
    t.finish(&format!(
        "disconnecting container {} from network {net}",
        c.name
    ))
}

fn disconnect_steps(ctx: &Context, c: &Container, net: &str, e: &Endpoint, t: &mut Teardown) {
    let record = endpoints_dir(ctx, net).join(format!("{}.json", c.id));
    t.step(
        super::remove_if_present(&record)
            .map_err(|err| Error::msg(format!("network {net}: {err}"))),
    );
    if holder_pid(ctx).is_some() {
        let del = ip_batch(
            &ns_file(ctx),
            &format!("network {net}: deleting {}", e.host_interface),
            &format!("link del {}\n", e.host_interface),
        );
        t.step(del.or_else(|err| {
            if err.to_string().contains("Cannot find device") {
                Ok(())
            } else {
                Err(err)
            }
        }));
    }
}

/// Undoes `connect_all`, network by network, and stops the rootless
/// namespace once no container uses it. Every step runs; each failure goes
/// to `t`.
pub fn disconnect_all(ctx: &Context, c: &Container, st: &NetworkState, t: &mut Teardown) {
    for (net, e) in &st.networks {
        disconnect_steps(ctx, c, net, e, t);
    }
    stop_if_unused(ctx, t);
}

/// Stops the rootless namespace when no container is connected to any
/// network any more; a failed step goes to `t`.
fn stop_if_unused(ctx: &Context, t: &mut Teardown) {
    let d = dir(ctx);
    if let Ok(_lock) = Lock::exclusive(&d.join("rootless-netns.lock")) {
        if all_records(&ctx.runroot).is_empty() {
            teardown_locked(ctx, t);
        }
    }
}

/// Deletes a network's bridge and records (the network has no containers).
pub fn remove_network(ctx: &Context, net: &Network) {
    let _ = fs::remove_dir_all(endpoints_dir(ctx, &net.name));
    if holder_pid(ctx).is_some() {
        let ns = ns_file(ctx);
        let _ = ip_batch(
            &ns,
            "remove bridge",
            &format!("link del {}\n", net.network_interface),
        );
    }
}

/// The address reaching the host's loopback from a user network: the
/// rootless namespace's helper maps the host's gateway (pasta) or 10.0.2.2.
pub fn host_address() -> Option<String> {
    if helper::lookup("pasta").is_some() {
        pasta::host_gateway()
    } else {
        Some(slirp4netns::GATEWAY.into())
    }
}

/// `skiff _netns`: makes the rootless network namespace, says "ready" and
/// serves DNS for the networks until it is stopped.
pub fn holder_main(ctx: &Context) -> Result<i32> {
    // It outlives the command that started it: hold on to nothing of its caller's.
    // SAFETY: nothing of this process owns a descriptor above stderr yet:
    // `cli::run` dispatches here before opening any.
    #[allow(unsafe_code)]
    unsafe {
        crate::runtime::fds::close_from(3)
    };
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).map_err(|e| {
        Error::msg(format!(
            "creating the rootless network namespace: {}",
            e.desc().to_lowercase()
        ))
    })?;
    run(
        "bringing up lo",
        Command::new("ip").args(["link", "set", "lo", "up"]),
    )?;
    fs::write("/proc/sys/net/ipv4/ip_forward", "1").map_err(|e| {
        Error::msg(format!(
            "enabling forwarding: {}",
            crate::error::io_reason(&e)
        ))
    })?;
    // Where the kernel lets us, keep bridged frames out of the ip hooks.
    let _ = fs::write("/proc/sys/net/bridge/bridge-nf-call-iptables", "0");
    let sock = std::net::UdpSocket::bind("0.0.0.0:53").map_err(|e| {
        Error::msg(format!(
            "dns: binding port 53: {}",
            crate::error::io_reason(&e)
        ))
    })?;
    println!("ready");
    let _ = std::io::stdout().flush();
    // Nobody reads our stdout after this: point it at /dev/null.
    if let Ok(null) = fs::OpenOptions::new().write(true).open("/dev/null") {
        use std::os::fd::AsRawFd;
        let _ = nix::unistd::dup2(null.as_raw_fd(), 1);
    }
    super::dns::serve(sock, ctx.runroot.clone());
    Ok(0)
}

/// `--network NAME[,NAME...]`: the container's own namespace with one veth
/// per user-defined network into the shared rootless namespace; published
/// ports go through our forwarder (`portfwd`) to its first address.
pub struct Bridge(pub Vec<String>);

impl Backend for Bridge {
    fn validate(&self, ctx: &Context, cfg: &Config) -> Result<()> {
        for n in &self.0 {
            records::load(ctx, n)?;
        }
        for a in &cfg.network_aliases {
            if a.is_empty() || a.contains(char::is_whitespace) {
                return Err(Error::msg(format!("invalid network alias {a:?}")));
            }
        }
        ports::check_free(&super::port_specs(cfg)?)
    }

    fn attach(
        &self,
        ctx: &Context,
        c: &Container,
        pid: i32,
        _early: Option<&mut Early>,
        st: &mut NetworkState,
    ) -> Result<Option<Connecting>> {
        connect_all(ctx, c, &self.0, pid, st)?;
        let specs = super::port_specs(&c.config)?;
        if !specs.is_empty() {
            st.ports = ports::allocate(&specs)?;
            let netns = Path::new(&st.sandbox_key);
            let run_dir = ctx.container_run_dir(&c.id);
            st.forwarder_pid = portfwd::spawn(ctx, netns, &st.ip_address, &st.ports, &run_dir)?;
        }
        Ok(None)
    }

    fn detach(&self, ctx: &Context, c: &Container, st: &NetworkState, t: &mut Teardown) {
        if !st.networks.is_empty() {
            disconnect_all(ctx, c, st, t);
        }
    }

    fn host_gateway(&self, _st: &NetworkState) -> Option<String> {
        host_address()
    }

    /// The domain our DNS server answers containers' names in, as
    /// netavark gives Podman `dns.podman`.
    fn search_domains(&self) -> Vec<String> {
        vec![super::dns::SEARCH_DOMAIN.to_string()]
    }

    /// The gateways of its networks, where our DNS server answers; the
    /// host's servers when it has none, unless every network is internal.
    fn nameservers(&self, ctx: &Context, st: &NetworkState, host_resolv: &str) -> Vec<String> {
        let internal_only = self
            .0
            .iter()
            .all(|n| records::load(ctx, n).map(|r| r.internal).unwrap_or(false));
        let mut v: Vec<String> = st.networks.values().map(|e| e.gateway.clone()).collect();
        v.dedup();
        if v.is_empty() && !internal_only {
            v = etc_files::nameservers(host_resolv, true);
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn net_dev_lists_every_interface() {
        let text = "Inter-|   Receive                |  Transmit\n \
                    face |bytes    packets errs|bytes\n    \
                    lo:       0       0    0        0\n  \
                    eth0:    1296      16    0      936\n";
        assert_eq!(parse_net_dev(text), ["lo", "eth0"]);
        assert!(parse_net_dev("").is_empty());
    }

    #[test]
    fn a_namespace_with_pastas_interface_keeps_its_default_route() {
        let st = NetworkState::default();
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(!has_interfaces(&names(&["lo"]), &st));
        // pasta's copy of a laptop's interface: eth0 is free, the route is not.
        assert!(has_interfaces(&names(&["lo", "enp3s0"]), &st));
    }

    #[test]
    fn ruleset_isolates_and_masquerades() {
        let mut a = records::default_network();
        a.network_interface = "skiff1".into();
        let mut b = a.clone();
        b.network_interface = "skiff2".into();
        b.internal = true;
        let r = ruleset(&[a, b]);
        assert!(r.contains("iifname \"skiff1\" oifname \"tap0\" accept"));
        assert!(!r.contains("iifname \"skiff2\" oifname \"tap0\""));
        assert!(r.contains("policy drop"));
        assert_eq!(r.matches("masquerade").count(), 1);
    }
}
