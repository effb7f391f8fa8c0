//! slirp4netns: a user-mode TCP/IP stack behind a tap device in the
//! namespace. The namespace gets 10.0.2.100/24, the gateway 10.0.2.2 reaches
//! the host's loopback (unless allow_host_loopback=false) and 10.0.2.3 is its
//! DNS forwarder. Ports are published through its API socket.

use std::fs;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use super::backend::{Backend, Teardown};
use super::helper::{self, Helper};
use super::ports::{self, PortMapping};
use super::{etc_files, Connecting, Early, NetworkState};
use crate::state::container::{Config, Container};
use crate::{Context, Error, Result};

pub const ADDRESS: &str = "10.0.2.100";
pub const GATEWAY: &str = "10.0.2.2";
pub const DNS: &str = "10.0.2.3";
pub const MTU: u32 = 65520;

/// `--network slirp4netns:OPTIONS`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Options {
    pub allow_host_loopback: bool,
    pub mtu: u32,
    pub enable_ipv6: bool,
    pub cidr: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            allow_host_loopback: true,
            mtu: MTU,
            enable_ipv6: false,
            cidr: None,
        }
    }
}

fn boolean(k: &str, v: &str) -> Result<bool> {
    match v {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(Error::msg(format!(
            "slirp4netns option {k}: {v:?} is not true or false"
        ))),
    }
}

/// Parses the comma-separated options after `slirp4netns:`.
pub fn parse_options(s: &str) -> Result<Options> {
    let mut o = Options::default();
    for kv in s.split(',').filter(|x| !x.is_empty()) {
        let (k, v) = kv.split_once('=').unwrap_or((kv, "true"));
        match k {
            "allow_host_loopback" => o.allow_host_loopback = boolean(k, v)?,
            "enable_ipv6" => o.enable_ipv6 = boolean(k, v)?,
            "mtu" => {
                o.mtu = v
                    .parse()
                    .map_err(|_| Error::msg(format!("slirp4netns option mtu: invalid {v:?}")))?
            }
            "cidr" => o.cidr = Some(v.to_string()),
            // Ports are always published through slirp4netns itself.
            "port_handler" if v == "slirp4netns" || v == "rootlesskit" => {}
            _ => {
                return Err(Error::msg(format!(
                    "unknown slirp4netns option {kv:?}: use allow_host_loopback, enable_ipv6, mtu, cidr or port_handler"
                )))
            }
        }
    }
    Ok(o)
}

/// Address of the namespace and of the gateway for these options.
pub fn addresses(o: &Options) -> (String, String) {
    match o.cidr.as_deref().and_then(|c| c.split('/').next()) {
        Some(net) => {
            let base: Vec<&str> = net.split('.').collect();
            if base.len() == 4 {
                let p = format!("{}.{}.{}", base[0], base[1], base[2]);
                return (format!("{p}.100"), format!("{p}.2"));
            }
            (ADDRESS.into(), GATEWAY.into())
        }
        None => (ADDRESS.into(), GATEWAY.into()),
    }
}

/// The address of slirp4netns's DNS forwarder: [`DNS`], or the third
/// address of the `cidr` option's network (Podman's `GetSlirp4netnsDNS`).
pub fn dns_address(o: &Options) -> String {
    let (addr, _) = addresses(o);
    match addr.rsplit_once('.') {
        Some((p, _)) if o.cidr.is_some() => format!("{p}.3"),
        _ => DNS.into(),
    }
}

/// Starts slirp4netns for the namespace bound at `netns` and publishes `ports`.
/// `api` is the API socket's path: short, since a unix socket path has at
/// most 107 bytes.
pub fn start(
    netns: &Path,
    run_dir: &Path,
    api: &Path,
    ports: &[PortMapping],
    o: &Options,
) -> Result<Helper> {
    let bin = helper::find("slirp4netns", "slirp4netns")?;
    helper::check_tun()?;
    let log = run_dir.join("slirp4netns.log");
    let _ = fs::remove_file(api);
    let out =
        fs::File::create(&log).map_err(|e| Error::msg(crate::error::io_msg("create", &log, &e)))?;
    let err = out.try_clone()?;
    let (ready_r, ready_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| Error::msg(format!("pipe: {}", e.desc().to_lowercase())))?;
    // The ready pipe must survive exec in the child: clear close-on-exec on
    // our copy for the spawn, then close it.
    nix::fcntl::fcntl(
        ready_w.as_raw_fd(),
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
    )
    .map_err(|e| Error::msg(format!("fcntl: {}", e.desc().to_lowercase())))?;
    let mut cmd = Command::new(&bin);
    cmd.arg("--configure")
        .arg(format!("--mtu={}", o.mtu))
        .arg(format!("--ready-fd={}", ready_w.as_raw_fd()))
        .arg(format!("--api-socket={}", api.display()))
        .arg("--netns-type=path");
    if !o.allow_host_loopback {
        cmd.arg("--disable-host-loopback");
    }
    if o.enable_ipv6 {
        cmd.arg("--enable-ipv6");
    }
    if let Some(c) = &o.cidr {
        cmd.arg(format!("--cidr={c}"));
    }
    cmd.arg(netns)
        .arg("tap0")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        // Its own process group: a Ctrl-C meant for the container must not stop it.
        .process_group(0);
    tracing::debug!(
        "starting {:?} {:?}",
        cmd.get_program(),
        cmd.get_args().collect::<Vec<_>>()
    );
    let mut child = cmd.spawn().map_err(|e| {
        Error::msg(format!(
            "starting slirp4netns: {}",
            crate::error::io_reason(&e)
        ))
    })?;
    drop(ready_w);
    let pid = child.id() as i32;
    let mut byte = [0u8; 1];
    let n = fs::File::from(ready_r).read(&mut byte).unwrap_or(0);
    if n != 1 {
        let status = child
            .wait()
            .map(helper::describe_status)
            .unwrap_or_default();
        return Err(Error::msg(format!(
            "slirp4netns failed ({status}): {}",
            helper::last_error(&log)
        )));
    }
    let h = Helper {
        pid,
        name: "slirp4netns".into(),
        mtu: o.mtu,
    };
    for p in ports {
        if let Err(e) = add_hostfwd(api, p) {
            let _ = helper::stop(pid, "slirp4netns");
            return Err(e);
        }
    }
    Ok(h)
}

fn add_hostfwd(api: &Path, p: &PortMapping) -> Result<()> {
    let req = serde_json::json!({
        "execute": "add_hostfwd",
        "arguments": {
            "proto": p.protocol,
            "host_addr": if p.host_ip.is_empty() { "0.0.0.0" } else { p.host_ip.as_str() },
            "host_port": p.host_port,
            "guest_port": p.container_port,
        }
    });
    let fail = |why: String| {
        Error::msg(format!(
            "publishing port {}/{} through slirp4netns: {why}",
            p.host_port, p.protocol
        ))
    };
    let mut s = UnixStream::connect(api).map_err(|e| fail(crate::error::io_reason(&e)))?;
    s.write_all(req.to_string().as_bytes())
        .map_err(|e| fail(crate::error::io_reason(&e)))?;
    let _ = s.shutdown(std::net::Shutdown::Write);
    let mut reply = String::new();
    s.read_to_string(&mut reply)
        .map_err(|e| fail(crate::error::io_reason(&e)))?;
    let v: serde_json::Value = serde_json::from_str(&reply).unwrap_or_default();
    if let Some(e) = v.get("error") {
        let desc = e
            .get("desc")
            .and_then(|d| d.as_str())
            .unwrap_or("unknown error")
            .to_string();
        if desc.contains("bind") || desc.contains("in use") {
            return Err(Error::with_code(
                crate::error::EXIT_CANNOT_INVOKE,
                format!(
                    "cannot publish port {}/{}: port {} is already in use on the host",
                    p.host_port, p.protocol, p.host_port
                ),
            ));
        }
        return Err(fail(desc));
    }
    Ok(())
}

/// `--network slirp4netns[:OPTIONS]`, the default without pasta: the
/// container's own namespace behind slirp4netns, started once the
/// container process exists; ports are published through its API socket,
/// `<namespace file>.slirp.sock`.
pub struct Slirp(pub Options);

/// The API socket of the slirp4netns serving the namespace bound at `netns`.
fn api_socket(netns: &Path) -> std::path::PathBuf {
    netns.with_extension("slirp.sock")
}

impl Backend for Slirp {
    fn validate(&self, _ctx: &Context, cfg: &Config) -> Result<()> {
        helper::find("slirp4netns", "slirp4netns")?;
        helper::check_tun()?;
        ports::check_free(&super::port_specs(cfg)?)
    }

    fn attach(
        &self,
        ctx: &Context,
        c: &Container,
        _pid: i32,
        _early: Option<&mut Early>,
        st: &mut NetworkState,
    ) -> Result<Option<Connecting>> {
        st.ports = ports::allocate(&super::port_specs(&c.config)?)?;
        let netns = Path::new(&st.sandbox_key);
        let run_dir = ctx.container_run_dir(&c.id);
        let h = start(netns, &run_dir, &api_socket(netns), &st.ports, &self.0)?;
        st.helper_pid = h.pid;
        st.helper = h.name;
        st.mtu = h.mtu;
        (st.ip_address, st.gateway) = addresses(&self.0);
        st.prefix_len = 24;
        Ok(None)
    }

    fn detach(&self, _ctx: &Context, _c: &Container, st: &NetworkState, t: &mut Teardown) {
        t.step(helper::stop_recorded(st, "slirp4netns"));
        if !st.sandbox_key.is_empty() {
            t.step(super::remove_if_present(&api_socket(Path::new(
                &st.sandbox_key,
            ))));
        }
    }

    /// 10.0.2.2 (or the `cidr` option's), which slirp4netns maps to the
    /// host's loopback.
    fn host_gateway(&self, st: &NetworkState) -> Option<String> {
        Some(st.gateway.clone()).filter(|g| !g.is_empty())
    }

    /// slirp4netns's own DNS forwarder (10.0.2.3, or the third address of
    /// the `cidr` option's network), then the host's servers a namespace
    /// reaches, as Podman 5 writes them.
    fn nameservers(&self, _ctx: &Context, _st: &NetworkState, host_resolv: &str) -> Vec<String> {
        etc_files::forwarder_then_host(&[dns_address(&self.0)], host_resolv)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options() {
        let o =
            parse_options("allow_host_loopback=false,mtu=1500,port_handler=slirp4netns").unwrap();
        assert!(!o.allow_host_loopback);
        assert_eq!(o.mtu, 1500);
        assert!(parse_options("").unwrap().allow_host_loopback);
        assert!(parse_options("bogus=1").is_err());
        assert!(parse_options("enable_ipv6=maybe").is_err());
        let o = parse_options("cidr=10.5.0.0/24").unwrap();
        assert_eq!(addresses(&o), ("10.5.0.100".into(), "10.5.0.2".into()));
        assert_eq!(dns_address(&o), "10.5.0.3");
        assert_eq!(dns_address(&Options::default()), DNS);
    }
}
