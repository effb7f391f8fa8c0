//! A small userspace port forwarder (`skiff _portfwd`), for the ports a
//! helper cannot forward itself: containers on user-defined networks (behind
//! the shared rootless namespace) and UDP with pasta, whose loopback UDP
//! splicing drops replies in the packaged version.
//!
//! The caller binds the host sockets in the host's namespace (so a port in
//! use fails there, at once) and passes them down; the forwarder then enters
//! the container's namespace, where every socket it opens to the target lives.

use std::collections::HashMap;
use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::ports::PortMapping;
use crate::{Context, Error, Result};

enum Listener {
    Tcp(TcpListener),
    Udp(UdpSocket),
}

fn bind(p: &PortMapping) -> Result<Listener> {
    let addr = SocketAddr::new(p.bind_ip(), p.host_port);
    let in_use = |e: std::io::Error| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            Error::msg(format!(
                "cannot publish {}/{}: port {} is already in use on the host",
                p.host_port, p.protocol, p.host_port
            ))
        } else {
            Error::msg(format!(
                "cannot publish {addr}/{}: {}",
                p.protocol,
                crate::error::io_reason(&e)
            ))
        }
    };
    Ok(if p.protocol == "udp" {
        Listener::Udp(UdpSocket::bind(addr).map_err(in_use)?)
    } else {
        Listener::Tcp(TcpListener::bind(addr).map_err(in_use)?)
    })
}

/// Starts a forwarder from the host ports in `ports` to `target_ip` inside
/// the namespace bound at `netns`; returns its pid.
pub fn spawn(
    _ctx: &Context,
    netns: &Path,
    target_ip: &str,
    ports: &[PortMapping],
    run_dir: &Path,
) -> Result<i32> {
    let listeners = ports.iter().map(bind).collect::<Result<Vec<_>>>()?;
    let mut args = vec![
        "_portfwd".to_string(),
        netns.display().to_string(),
        target_ip.to_string(),
    ];
    let mut keep: Vec<OwnedFd> = Vec::new();
    for (l, p) in listeners.into_iter().zip(ports) {
        let fd: OwnedFd = match l {
            Listener::Tcp(t) => t.into(),
            Listener::Udp(u) => u.into(),
        };
        // The child must inherit the socket: clear close-on-exec on our copy.
        nix::fcntl::fcntl(
            fd.as_raw_fd(),
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
        )
        .map_err(|e| Error::msg(format!("fcntl: {}", e.desc().to_lowercase())))?;
        args.push(format!(
            "{}:{}:{}",
            p.protocol,
            fd.as_raw_fd(),
            p.container_port
        ));
        keep.push(fd);
    }
    let log = run_dir.join("portfwd.log");
    let err = std::fs::File::create(&log)
        .map_err(|e| Error::msg(crate::error::io_msg("create", &log, &e)))?;
    use std::os::unix::process::CommandExt;
    let exe = std::env::current_exe().unwrap_or_else(|_| "/proc/self/exe".into());
    let child = Command::new(exe)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(|e| {
            Error::msg(format!(
                "starting the port forwarder: {}",
                crate::error::io_reason(&e)
            ))
        })?;
    drop(keep);
    Ok(child.id() as i32)
}

/// `skiff _portfwd NETNS IP proto:fd:port...`
pub fn main(args: Vec<String>) -> Result<i32> {
    let usage = || Error::msg("usage: skiff _portfwd NETNS IP PROTO:FD:PORT...");
    let netns = args.first().ok_or_else(usage)?;
    let ip: std::net::IpAddr = args.get(1).and_then(|s| s.parse().ok()).ok_or_else(usage)?;
    let mut specs = Vec::new();
    for spec in &args[2..] {
        let f: Vec<&str> = spec.split(':').collect();
        if f.len() != 3 {
            return Err(usage());
        }
        let fd: i32 = f[1].parse().map_err(|_| usage())?;
        let port: u16 = f[2].parse().map_err(|_| usage())?;
        specs.push((f[0].to_string(), fd, SocketAddr::new(ip, port)));
    }
    // It outlives the command that started it: keep only the sockets it was given.
    crate::runtime::fds::close_all_but(&specs.iter().map(|s| s.1).collect::<Vec<_>>());
    let listeners: Vec<_> = specs
        .into_iter()
        .map(|(proto, fd, target)| (proto, take_fd(fd), target))
        .collect();
    // Single-threaded still: enter the target namespace for every socket to come.
    let ns = std::fs::File::open(netns)
        .map_err(|e| Error::msg(crate::error::io_msg("open", Path::new(netns), &e)))?;
    nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET)
        .map_err(|e| Error::msg(format!("joining {netns}: {}", e.desc().to_lowercase())))?;
    let mut threads = Vec::new();
    for (proto, fd, target) in listeners {
        threads.push(std::thread::spawn(move || {
            if proto == "udp" {
                udp_loop(UdpSocket::from(fd), target)
            } else {
                tcp_loop(TcpListener::from(fd), target)
            }
        }));
    }
    for t in threads {
        let _ = t.join();
    }
    Ok(0)
}

#[allow(unsafe_code)]
fn take_fd(fd: i32) -> OwnedFd {
    // SAFETY: the fd was passed down by our parent for us alone and nothing
    // else in this process owns it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

fn tcp_loop(l: TcpListener, target: SocketAddr) {
    for conn in l.incoming() {
        let Ok(client) = conn else { continue };
        std::thread::spawn(move || {
            let Ok(server) = TcpStream::connect_timeout(&target, Duration::from_secs(10)) else {
                return;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) else {
                return;
            };
            let up = std::thread::spawn(move || pipe(client, server));
            pipe(s2, c2);
            let _ = up.join();
        });
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if std::io::Write::write_all(&mut to, &buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Write);
}

fn udp_loop(l: UdpSocket, target: SocketAddr) {
    let l = Arc::new(l);
    let sessions: Arc<Mutex<HashMap<SocketAddr, Arc<UdpSocket>>>> = Default::default();
    let mut buf = vec![0u8; 65536];
    loop {
        let Ok((n, client)) = l.recv_from(&mut buf) else {
            continue;
        };
        let existing = sessions
            .lock()
            .map(|m| m.get(&client).cloned())
            .ok()
            .flatten();
        let sock = match existing {
            Some(s) => s,
            None => {
                let bind = if target.is_ipv4() {
                    "0.0.0.0:0"
                } else {
                    "[::]:0"
                };
                let Ok(s) = UdpSocket::bind(bind) else {
                    continue;
                };
                if s.connect(target).is_err() {
                    continue;
                }
                let _ = s.set_read_timeout(Some(Duration::from_secs(60)));
                let s = Arc::new(s);
                if let Ok(mut m) = sessions.lock() {
                    m.insert(client, s.clone());
                }
                let (back, l2, sess) = (s.clone(), l.clone(), sessions.clone());
                std::thread::spawn(move || {
                    let mut b = vec![0u8; 65536];
                    // Replies flow until the session is idle for a minute.
                    while let Ok(n) = back.recv(&mut b) {
                        let _ = l2.send_to(&b[..n], client);
                    }
                    if let Ok(mut m) = sess.lock() {
                        m.remove(&client);
                    }
                });
                s
            }
        };
        let _ = sock.send(&buf[..n]);
    }
}
