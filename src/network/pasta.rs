//! pasta (from the passt package): connects a network namespace to the host
//! through the host's own sockets, forwards published ports, and maps the
//! gateway address to the host's loopback.
//!
//! pasta daemonizes once the namespace is configured, so its exit status
//! tells whether setup worked and the daemon outlives the caller; its pid
//! comes back through `-P`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::backend::{Backend, Teardown};
use super::helper::{self, Helper};
use super::ports::{self, PortMapping};
use super::{etc_files, portfwd, Connecting, Early, NetworkState};
use crate::state::container::{Config, Container};
use crate::{Context, Error, Result};

/// MTU pasta gives the namespace interface (its default, the largest it can).
pub const MTU: u32 = 65520;
/// Address in the namespace whose DNS queries pasta forwards to the host's
/// first resolver, loopback ones included (Podman 5's `dnsForwardIpv4`,
/// a link-local address unlikely to clash with anything).
pub const DNS_FORWARD: &str = "169.254.1.1";

/// The `--dns-forward` addresses of a pasta started with the user's
/// `extra` options: theirs when they give any, else [`DNS_FORWARD`], which
/// `args` then adds (Podman's `createPastaArgs`).
pub fn dns_forward(extra: &[String]) -> Vec<String> {
    let given: Vec<String> = extra
        .windows(2)
        .filter(|w| w[0] == "--dns-forward")
        .map(|w| w[1].clone())
        .collect();
    if given.is_empty() {
        vec![DNS_FORWARD.to_string()]
    } else {
        given
    }
}

/// The host's default IPv4 gateway, which pasta copies into the namespace and
/// maps to the host's loopback.
pub fn host_gateway() -> Option<String> {
    let text = fs::read_to_string("/proc/net/route").ok()?;
    parse_default_gateway(&text)
}

fn parse_default_gateway(route: &str) -> Option<String> {
    route.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() > 2 && f[1] == "00000000" && f[2] != "00000000" {
            let g = u32::from_str_radix(f[2], 16).ok()?;
            Some(std::net::Ipv4Addr::from(g.to_le_bytes()).to_string())
        } else {
            None
        }
    })
}

/// The address pasta assigns to the namespace: the host's own, from its
/// default route interface.
pub fn host_address() -> Option<String> {
    let gw = host_gateway()?;
    let sock = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    // Connecting a UDP socket sends nothing; it only selects the source address.
    sock.connect((gw.as_str(), 9)).ok()?;
    Some(sock.local_addr().ok()?.ip().to_string())
}

fn port_args(ports: &[PortMapping], proto: &str) -> Vec<String> {
    let flag = if proto == "tcp" { "-t" } else { "-u" };
    let mine: Vec<&PortMapping> = ports.iter().filter(|p| p.protocol == proto).collect();
    if mine.is_empty() {
        return vec![flag.into(), "none".into()];
    }
    let mut out = Vec::new();
    for p in mine {
        let addr = if p.host_ip.is_empty() {
            String::new()
        } else {
            format!("{}/", p.host_ip)
        };
        out.push(flag.to_string());
        out.push(format!("{addr}{}:{}", p.host_port, p.container_port));
    }
    out
}

/// The command line for a namespace bound at `netns`, after the user's
/// `extra` options; DNS queries to [`DNS_FORWARD`] go to the host's
/// resolver unless `extra` has its own `--dns-forward`.
pub fn args(netns: &Path, pid_file: &Path, ports: &[PortMapping], extra: &[String]) -> Vec<String> {
    let mut a: Vec<String> = extra.to_vec();
    if !extra.iter().any(|o| o == "--dns-forward") {
        a.extend(["--dns-forward".into(), DNS_FORWARD.into()]);
    }
    a.extend([
        "--config-net".into(),
        "--quiet".into(),
        "--netns".into(),
        netns.display().to_string(),
        "--pid".into(),
        pid_file.display().to_string(),
        // No automatic forwarding from the namespace back to the host.
        "-T".into(),
        "none".into(),
        "-U".into(),
        "none".into(),
    ]);
    a.extend(port_args(ports, "tcp"));
    a.extend(port_args(ports, "udp"));
    a
}

/// Starts pasta for the namespace bound at `netns` and waits until it has
/// configured it; returns the daemon.
pub fn start(
    netns: &Path,
    run_dir: &Path,
    ports: &[PortMapping],
    extra: &[String],
) -> Result<Helper> {
    spawn(netns, run_dir, ports, extra, false)?.wait()
}

/// pasta configuring a namespace.
pub struct Starting {
    proc: Proc,
    /// Whether it runs in the foreground (its pid known at once, ready once
    /// it writes its pid file) or daemonizes (ready when this first process
    /// exits).
    foreground: bool,
    /// In the foreground: the read end of the pipe pasta writes its pid to.
    ready: Option<fs::File>,
    pid_file: PathBuf,
    log: PathBuf,
}

/// A foreground pasta, still configuring, as one process hands it to
/// another (the CLI to the supervisor), with the readiness pipe passed open.
#[derive(Debug, Serialize, Deserialize)]
pub struct Handover {
    pid: i32,
    pid_file: PathBuf,
    log: PathBuf,
}

/// The pasta process we wait for: our child, or one handed over by the
/// process that spawned it, known by pid only.
enum Proc {
    Child(std::process::Child),
    Adopted(i32),
}

impl Proc {
    fn pid(&self) -> i32 {
        match self {
            Proc::Child(c) => c.id() as i32,
            Proc::Adopted(p) => *p,
        }
    }

    /// How it ended, once it has.
    fn exited(&mut self) -> Option<String> {
        match self {
            Proc::Child(c) => c.try_wait().ok().flatten().map(helper::describe_status),
            Proc::Adopted(p) => helper::is_gone(*p).then(|| "exited".into()),
        }
    }

    fn wait_exit(&mut self) -> String {
        match self {
            Proc::Child(c) => c
                .wait()
                .map(helper::describe_status)
                .unwrap_or_else(|e| crate::error::io_reason(&e)),
            Proc::Adopted(p) => {
                let deadline = Instant::now() + Duration::from_secs(2);
                while !helper::is_gone(*p) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(1));
                }
                "exited".into()
            }
        }
    }

    fn kill(&mut self) {
        match self {
            Proc::Child(c) => {
                let _ = c.kill();
                let _ = c.wait();
            }
            Proc::Adopted(p) => {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(*p),
                    nix::sys::signal::Signal::SIGKILL,
                );
                self.wait_exit();
            }
        }
    }
}

/// Starts pasta for the namespace bound at `netns` without waiting for it:
/// it takes tens of milliseconds, which the container's own setup can use.
/// In the `foreground` it stays the caller's child, which must reap it.
pub fn spawn(
    netns: &Path,
    run_dir: &Path,
    ports: &[PortMapping],
    extra: &[String],
    foreground: bool,
) -> Result<Starting> {
    use std::os::unix::process::CommandExt;
    let bin = helper::find("pasta", "passt")?;
    helper::check_tun()?;
    let pid_file = run_dir.join("pasta.pid");
    let log = run_dir.join("pasta.log");
    let _ = fs::remove_file(&pid_file);
    let err =
        fs::File::create(&log).map_err(|e| Error::msg(crate::error::io_msg("create", &log, &e)))?;
    let mut cmd = Command::new(&bin);
    let mut ready = None;
    if foreground {
        // Out of our process group: no signal meant for us reaches it.
        cmd.arg("--foreground").process_group(0);
        ready = Some(readiness_pipe(&pid_file)?);
    }
    cmd.args(args(netns, &pid_file, ports, extra));
    tracing::debug!(
        "starting {:?} {:?}",
        cmd.get_program(),
        cmd.get_args().collect::<Vec<_>>()
    );
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err)
        .spawn()
        .map_err(|e| Error::msg(format!("starting pasta: {}", crate::error::io_reason(&e))))?;
    Ok(Starting {
        proc: Proc::Child(child),
        foreground,
        ready,
        pid_file,
        log,
    })
}

/// Makes `path` a named pipe and opens its read end, so that pasta's pid
/// file tells us the moment it is written (pasta's open for writing does not
/// block: a reader is there).
fn readiness_pipe(path: &Path) -> Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o600)).map_err(|e| {
        Error::msg(format!(
            "mkfifo {}: {}",
            path.display(),
            e.desc().to_lowercase()
        ))
    })?;
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| Error::msg(crate::error::io_msg("open", path, &e)))
}

/// How long pasta may take to configure a namespace.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

impl Starting {
    /// The pid of the pasta that will serve the namespace, when known before
    /// it is ready (in the foreground).
    pub fn pid(&self) -> Option<i32> {
        self.foreground.then_some(self.proc.pid())
    }

    /// Hands a foreground pasta over to another process: what to tell it,
    /// and the readiness pipe to pass it open. We no longer wait for it.
    pub fn hand_over(self) -> Option<(Handover, fs::File)> {
        let ready = self.ready?;
        Some((
            Handover {
                pid: self.proc.pid(),
                pid_file: self.pid_file,
                log: self.log,
            },
            ready,
        ))
    }

    /// Takes over a pasta handed over by the process that spawned it.
    pub fn take_over(h: Handover, ready: fs::File) -> Starting {
        Starting {
            proc: Proc::Adopted(h.pid),
            foreground: true,
            ready: Some(ready),
            pid_file: h.pid_file,
            log: h.log,
        }
    }

    /// Waits until pasta has configured the namespace; returns the daemon.
    pub fn wait(mut self) -> Result<Helper> {
        let pid = if self.foreground {
            self.wait_for_pid_file()?;
            self.proc.pid()
        } else {
            let Proc::Child(child) = &mut self.proc else {
                return Err(Error::msg("pasta: no process to wait for"));
            };
            let status = child.wait().map_err(|e| {
                Error::msg(format!(
                    "waiting for pasta: {}",
                    crate::error::io_reason(&e)
                ))
            })?;
            if !status.success() {
                return Err(self.failed(helper::describe_status(status)));
            }
            self.read_pid().ok_or_else(|| {
                Error::msg(format!(
                    "pasta started but wrote no pid to {}",
                    self.pid_file.display()
                ))
            })?
        };
        Ok(Helper {
            pid,
            name: "pasta".into(),
            mtu: MTU,
        })
    }

    /// Stops a pasta that is no longer wanted, ready or not.
    pub fn cancel(mut self) {
        if self.foreground {
            self.proc.kill();
        } else if let Ok(h) = self.wait() {
            let _ = helper::stop(h.pid, "pasta");
        }
    }

    fn read_pid(&self) -> Option<i32> {
        fs::read_to_string(&self.pid_file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
    }

    fn failed(&self, how: String) -> Error {
        Error::msg(format!(
            "pasta failed ({how}): {}",
            helper::last_error(&self.log)
        ))
    }

    /// In the foreground pasta writes its pid file once the namespace is
    /// configured, just before it starts serving. The "file" is a pipe we
    /// hold open (see `spawn`): its line arriving is the signal, and an end
    /// without one, or pasta's exit, means it failed. (Watching a real file
    /// with inotify costs ~15 ms here, in closing the inotify descriptor.)
    fn wait_for_pid_file(&mut self) -> Result<()> {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        use std::io::Read;
        use std::os::fd::AsFd;
        let mut ready = self
            .ready
            .take()
            .ok_or_else(|| Error::msg("pasta: no readiness pipe"))?;
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut got = Vec::new();
        loop {
            let mut buf = [0u8; 32];
            match ready.read(&mut buf) {
                Ok(0) if got.is_empty() => {
                    // pasta closed it without a word, or has not opened it yet.
                }
                Ok(0) => break,
                Ok(n) => {
                    got.extend_from_slice(&buf[..n]);
                    if got.ends_with(b"\n") {
                        break;
                    }
                    continue;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => {
                    return Err(Error::msg(format!(
                        "reading pasta's pid: {}",
                        crate::error::io_reason(&e)
                    )))
                }
            }
            if let Some(how) = self.proc.exited() {
                return Err(self.failed(how));
            }
            if Instant::now() >= deadline {
                self.cancel_in_place();
                return Err(Error::msg(format!(
                    "pasta did not configure the network within {} s",
                    READY_TIMEOUT.as_secs()
                )));
            }
            // An exit before pasta opened the pipe comes without an event:
            // look again now and then.
            let mut fds = [PollFd::new(ready.as_fd(), PollFlags::POLLIN)];
            if poll(&mut fds, PollTimeout::from(20u8)) == Ok(0) {
                continue;
            }
            if got.is_empty()
                && fds[0].revents().is_some_and(|r| {
                    r.contains(PollFlags::POLLHUP) && !r.contains(PollFlags::POLLIN)
                })
            {
                // Closed without a word: wait for the exit that explains it.
                let how = self.proc.wait_exit();
                return Err(self.failed(how));
            }
        }
        let _ = fs::remove_file(&self.pid_file);
        Ok(())
    }

    fn cancel_in_place(&mut self) {
        self.proc.kill();
    }
}

/// `--network pasta[:ARG,...]`, the default when pasta is installed: the
/// container's own namespace, connected by pasta started before the
/// container process (see `Backend::prepare`). Published TCP ports go
/// through pasta, UDP ones through our forwarder (`portfwd`).
pub struct Pasta {
    /// Extra pasta arguments from the mode.
    pub extra: Vec<String>,
}

/// The published ports of one kind: UDP, or all the others (TCP).
fn of_protocol(ports: &[PortMapping], udp: bool) -> Vec<PortMapping> {
    ports
        .iter()
        .filter(|p| (p.protocol == "udp") == udp)
        .cloned()
        .collect()
}

impl Backend for Pasta {
    fn validate(&self, _ctx: &Context, cfg: &Config) -> Result<()> {
        helper::find("pasta", "passt")?;
        helper::check_tun()?;
        ports::check_free(&super::port_specs(cfg)?)
    }

    fn prepare(&self, ctx: &Context, c: &Container, early: &mut Early) -> Result<()> {
        early.ports = ports::allocate(&super::port_specs(&c.config)?)?;
        let run_dir = ctx.container_run_dir(&c.id);
        fs::create_dir_all(&run_dir)
            .map_err(|e| Error::msg(crate::error::io_msg("mkdir", &run_dir, &e)))?;
        let tcp = of_protocol(&early.ports, false);
        early.pasta = Some(spawn(&early.sandbox, &run_dir, &tcp, &self.extra, true)?);
        Ok(())
    }

    fn attach(
        &self,
        ctx: &Context,
        c: &Container,
        _pid: i32,
        early: Option<&mut Early>,
        st: &mut NetworkState,
    ) -> Result<Option<Connecting>> {
        let not_started = || Error::msg(format!("container {}: pasta was not started", c.name));
        let early = early.ok_or_else(not_started)?;
        let starting = early.pasta.take().ok_or_else(not_started)?;
        st.ports = std::mem::take(&mut early.ports);
        let udp = of_protocol(&st.ports, true);
        let mut pending = None;
        let h = match starting.pid() {
            // The forwarder needs the namespace configured.
            Some(pid) if udp.is_empty() => {
                pending = Some(Connecting(starting));
                Helper {
                    pid,
                    name: "pasta".into(),
                    mtu: MTU,
                }
            }
            _ => starting.wait()?,
        };
        st.helper_pid = h.pid;
        st.helper = h.name;
        st.mtu = h.mtu;
        st.ip_address = host_address().unwrap_or_default();
        st.gateway = host_gateway().unwrap_or_default();
        st.prefix_len = 24;
        if !udp.is_empty() {
            let run_dir = ctx.container_run_dir(&c.id);
            let netns = Path::new(&st.sandbox_key);
            st.forwarder_pid = portfwd::spawn(ctx, netns, &st.ip_address, &udp, &run_dir)?;
        }
        Ok(pending)
    }

    fn detach(&self, _ctx: &Context, _c: &Container, st: &NetworkState, t: &mut Teardown) {
        t.step(helper::stop_recorded(st, "pasta"));
    }

    /// The host's gateway, which pasta maps to the host's loopback.
    fn host_gateway(&self, st: &NetworkState) -> Option<String> {
        Some(st.gateway.clone()).filter(|g| !g.is_empty())
    }

    /// pasta's DNS forwarder, then the host's servers a namespace reaches,
    /// as Podman 5 writes them: the forwarder answers even when the host's
    /// resolver is on its loopback (systemd-resolved, dnsmasq).
    fn nameservers(&self, _ctx: &Context, _st: &NetworkState, host_resolv: &str) -> Vec<String> {
        etc_files::forwarder_then_host(&dns_forward(&self.extra), host_resolv)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_from_route_table() {
        let t = "Iface\tDestination\tGateway\tFlags\n\
                 eth0\t000200C0\t00000000\t0001\n\
                 eth0\t00000000\t010200C0\t0003\n";
        assert_eq!(parse_default_gateway(t).as_deref(), Some("192.0.2.1"));
        assert_eq!(parse_default_gateway("Iface\n"), None);
    }

    #[test]
    fn port_flags() {
        let p = vec![
            PortMapping {
                host_ip: "127.0.0.1".into(),
                host_port: 8080,
                container_port: 80,
                protocol: "tcp".into(),
            },
            PortMapping {
                host_ip: String::new(),
                host_port: 5353,
                container_port: 53,
                protocol: "udp".into(),
            },
        ];
        let a = args(Path::new("/ns"), Path::new("/pid"), &p, &[]).join(" ");
        assert!(a.contains("-t 127.0.0.1/8080:80"), "{a}");
        assert!(a.contains("-u 5353:53"), "{a}");
        let a = args(Path::new("/ns"), Path::new("/pid"), &[], &[]).join(" ");
        assert!(a.contains("-t none -u none"), "{a}");
    }

    #[test]
    fn dns_forward_is_ours_unless_the_user_gives_one() {
        let a = args(Path::new("/ns"), Path::new("/pid"), &[], &[]);
        assert_eq!(a[..2], ["--dns-forward", DNS_FORWARD]);
        assert_eq!(dns_forward(&[]), [DNS_FORWARD]);
        let mine: Vec<String> = ["--dns-forward", "10.9.9.9", "--mtu", "1500"]
            .map(String::from)
            .to_vec();
        let a = args(Path::new("/ns"), Path::new("/pid"), &[], &mine);
        assert_eq!(a.iter().filter(|o| *o == "--dns-forward").count(), 1);
        assert_eq!(dns_forward(&mine), ["10.9.9.9"]);
    }
}
