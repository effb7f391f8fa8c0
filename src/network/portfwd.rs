//! A small userspace port forwarder (`skiff _portfwd`), for the ports a
//! helper cannot forward itself: containers on user-defined networks (behind
//! the shared rootless namespace) and UDP with pasta, whose loopback UDP
//! splicing drops replies in the packaged version.
//!
//! The caller binds the host sockets in the host's namespace (so a port in
//! use fails there, at once) and passes them down; the forwarder then enters
//! the container's namespace, where every socket it opens to the target lives.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout};

use super::ports::PortMapping;
use crate::{Context, Error, Result};

/// A host socket bound by the CLI, before it is handed to the forwarder.
enum Bound {
    Tcp(TcpListener),
    Udp(UdpSocket),
}

fn bind(p: &PortMapping) -> Result<Bound> {
    let addr = SocketAddr::new(p.bind_ip(), p.host_port);
    let in_use = |e: std::io::Error| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            Error::with_code(
                crate::error::EXIT_CANNOT_INVOKE,
                format!(
                    "cannot publish {}/{}: port {} is already in use on the host",
                    p.host_port, p.protocol, p.host_port
                ),
            )
        } else {
            Error::msg(format!(
                "cannot publish {addr}/{}: {}",
                p.protocol,
                crate::error::io_reason(&e)
            ))
        }
    };
    Ok(if p.protocol == "udp" {
        Bound::Udp(UdpSocket::bind(addr).map_err(in_use)?)
    } else {
        Bound::Tcp(TcpListener::bind(addr).map_err(in_use)?)
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
            Bound::Tcp(t) => t.into(),
            Bound::Udp(u) => u.into(),
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
    // The kernel's link to this very binary: valid in whatever mount
    // namespace (and root) this process runs, where the path it was started
    // by may not resolve (setns into the user namespace's mount namespace
    // resets the root; a chroot's path is then another).
    let exe = std::path::PathBuf::from("/proc/self/exe");
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
    let fds: Vec<i32> = specs.iter().map(|s| s.1).collect();
    if (1..fds.len()).any(|i| fds[i..].contains(&fds[i - 1])) {
        return Err(usage());
    }
    // SAFETY: nothing of this process owns a descriptor above stderr but
    // the ones it was handed, which are kept.
    #[allow(unsafe_code)]
    unsafe {
        crate::runtime::fds::close_all_but(&fds)
    };
    let mut listeners = Vec::new();
    for (proto, fd, target) in specs {
        // SAFETY: our parent passed these sockets for us alone and each
        // number once (checked above), so nothing else owns one.
        #[allow(unsafe_code)]
        let fd = unsafe { crate::runtime::fds::adopt_inherited(fd) }.ok_or_else(usage)?;
        listeners.push((proto, fd, target));
    }
    // Enter the target namespace for every socket to come.
    let ns = std::fs::File::open(netns)
        .map_err(|e| Error::msg(crate::error::io_msg("open", Path::new(netns), &e)))?;
    nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET)
        .map_err(|e| Error::msg(format!("joining {netns}: {}", e.desc().to_lowercase())))?;
    let mut relay = Relay::default();
    for (proto, fd, target) in listeners {
        let l = if proto == "udp" {
            let sock = UdpSocket::from(fd);
            sock.set_nonblocking(true)?;
            Listener::Udp(sock, target, HashMap::new())
        } else {
            let sock = TcpListener::from(fd);
            sock.set_nonblocking(true)?;
            Listener::Tcp(sock, target)
        };
        relay.listeners.push(l);
    }
    relay.run()
}

/// TCP connections one forwarder relays at once; more are accepted and
/// closed at once, so that neither a container nor a host client can make
/// it take unbounded memory or descriptors (Podman's rootlessport has no cap).
pub const MAX_TCP_CONNECTIONS: usize = 256;
/// UDP clients with a session at once; datagrams of further clients are dropped.
pub const MAX_UDP_SESSIONS: usize = 256;
/// Bytes buffered per direction of a TCP connection.
const TCP_BUFFER: usize = 16 * 1024;
/// A connection to the target that has not completed by then is given up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A UDP session without traffic for this long is closed.
const UDP_IDLE: Duration = Duration::from_secs(60);

/// A bound host socket handed down by the CLI, with the target it forwards to.
enum Listener {
    Tcp(TcpListener, SocketAddr),
    /// With its sessions: client address to a socket connected to the target.
    Udp(UdpSocket, SocketAddr, HashMap<SocketAddr, UdpSession>),
}

struct UdpSession {
    sock: UdpSocket,
    last: Instant,
}

/// One direction of a TCP connection: a small buffer between a reader and
/// a writer, and whether the reader has ended.
struct Half {
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    eof: bool,
    shut: bool,
}

impl Half {
    fn new() -> Self {
        Half {
            buf: vec![0u8; TCP_BUFFER].into_boxed_slice(),
            start: 0,
            end: 0,
            eof: false,
            shut: false,
        }
    }

    fn has_data(&self) -> bool {
        self.start < self.end
    }

    fn wants_read(&self) -> bool {
        !self.eof && self.end < self.buf.len()
    }

    /// Reads what `from` has, as far as the buffer allows.
    fn fill(&mut self, from: &mut TcpStream) -> io::Result<()> {
        match from.read(&mut self.buf[self.end..]) {
            Ok(0) => self.eof = true,
            Ok(n) => self.end += n,
            Err(e) if would_block(&e) => {}
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// Writes what `to` takes; passes the end on once everything is written.
    fn drain(&mut self, to: &mut TcpStream) -> io::Result<()> {
        if self.has_data() {
            match to.write(&self.buf[self.start..self.end]) {
                Ok(n) => self.start += n,
                Err(e) if would_block(&e) => {}
                Err(e) => return Err(e),
            }
            if self.start == self.end {
                (self.start, self.end) = (0, 0);
            }
        }
        if self.eof && !self.has_data() && !self.shut {
            let _ = to.shutdown(Shutdown::Write);
            self.shut = true;
        }
        Ok(())
    }
}

fn would_block(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

/// A relayed TCP connection: the host-side client and the socket to the target.
struct Conn {
    client: TcpStream,
    server: TcpStream,
    /// Until the non-blocking connect to the target completes: its deadline.
    connecting: Option<Instant>,
    /// Client to target.
    up: Half,
    /// Target to client.
    down: Half,
    dead: bool,
}

impl Conn {
    fn done(&self) -> bool {
        self.dead || (self.up.shut && self.down.shut)
    }

    fn client_events(&self) -> PollFlags {
        let mut ev = PollFlags::empty();
        if self.connecting.is_none() {
            if self.up.wants_read() {
                ev |= PollFlags::POLLIN;
            }
            if self.down.has_data() {
                ev |= PollFlags::POLLOUT;
            }
        }
        ev
    }

    fn server_events(&self) -> PollFlags {
        if self.connecting.is_some() {
            return PollFlags::POLLOUT;
        }
        let mut ev = PollFlags::empty();
        if self.down.wants_read() {
            ev |= PollFlags::POLLIN;
        }
        if self.up.has_data() {
            ev |= PollFlags::POLLOUT;
        }
        ev
    }

    fn handle(&mut self, client: PollFlags, server: PollFlags) {
        let ready = PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR;
        let writable = PollFlags::POLLOUT | PollFlags::POLLHUP | PollFlags::POLLERR;
        if let Some(deadline) = self.connecting {
            if server.intersects(writable) {
                match self.server.take_error() {
                    Ok(None) => {
                        self.connecting = None;
                        let _ = self.server.set_nodelay(true);
                    }
                    _ => self.dead = true,
                }
            } else if Instant::now() > deadline {
                self.dead = true;
            }
            return;
        }
        let r = (|| -> io::Result<()> {
            if client.intersects(ready) && self.up.wants_read() {
                self.up.fill(&mut self.client)?;
            }
            if server.intersects(ready) && self.down.wants_read() {
                self.down.fill(&mut self.server)?;
            }
            // Write what there is at once: a socket has room more often than not.
            self.up.drain(&mut self.server)?;
            self.down.drain(&mut self.client)
        })();
        if r.is_err() {
            self.dead = true;
        }
    }
}

/// Every socket of one forwarder, served by one thread: a poll loop over
/// the listeners, the UDP sessions and the TCP connections, with bounded
/// buffers, never a blocking call.
#[derive(Default)]
struct Relay {
    listeners: Vec<Listener>,
    conns: Vec<Conn>,
}

/// What a poll slot stands for.
#[derive(Clone, Copy)]
enum Slot {
    Listener(usize),
    Session(usize, SocketAddr),
    Conn(usize),
}

impl Relay {
    fn run(&mut self) -> Result<i32> {
        let mut udp_buf = vec![0u8; 65536];
        loop {
            let (slots, revents) = self.poll()?;
            // TCP connections: both of their descriptors' events at once.
            let mut conn_events = vec![(PollFlags::empty(), PollFlags::empty()); self.conns.len()];
            for (slot, ev) in slots.iter().zip(&revents) {
                if let (Slot::Conn(i), Some((side, ev))) = (slot, ev) {
                    if *side == 0 {
                        conn_events[*i].0 = *ev;
                    } else {
                        conn_events[*i].1 = *ev;
                    }
                }
            }
            for (c, (client, server)) in self.conns.iter_mut().zip(conn_events) {
                c.handle(client, server);
            }
            self.conns.retain(|c| !c.done());
            for (slot, ev) in slots.iter().zip(&revents) {
                if ev.is_none() {
                    continue;
                }
                match *slot {
                    Slot::Listener(i) => self.accept(i, &mut udp_buf),
                    Slot::Session(i, client) => self.reply(i, client, &mut udp_buf),
                    Slot::Conn(_) => {}
                }
            }
            self.expire_sessions();
        }
    }

    /// Polls every socket that has something to do; returns what each poll
    /// slot is and its events (with, for a connection, which side: 0 client, 1 server).
    #[allow(clippy::type_complexity)]
    fn poll(&self) -> Result<(Vec<Slot>, Vec<Option<(u8, PollFlags)>>)> {
        let mut slots = Vec::new();
        let mut sides = Vec::new();
        let mut fds = Vec::new();
        for (i, l) in self.listeners.iter().enumerate() {
            slots.push(Slot::Listener(i));
            sides.push(0);
            match l {
                Listener::Tcp(t, _) => fds.push(PollFd::new(t.as_fd(), PollFlags::POLLIN)),
                Listener::Udp(u, _, sessions) => {
                    fds.push(PollFd::new(u.as_fd(), PollFlags::POLLIN));
                    for (client, s) in sessions {
                        slots.push(Slot::Session(i, *client));
                        sides.push(0);
                        fds.push(PollFd::new(s.sock.as_fd(), PollFlags::POLLIN));
                    }
                }
            }
        }
        for (i, c) in self.conns.iter().enumerate() {
            for (side, sock, ev) in [
                (0u8, &c.client, c.client_events()),
                (1u8, &c.server, c.server_events()),
            ] {
                if !ev.is_empty() {
                    slots.push(Slot::Conn(i));
                    sides.push(side);
                    fds.push(PollFd::new(sock.as_fd(), ev));
                }
            }
        }
        // Wake up now and then for connect deadlines and idle sessions.
        match nix::poll::poll(&mut fds, PollTimeout::from(1000u16)) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => return Err(Error::msg(format!("poll: {}", e.desc().to_lowercase()))),
        }
        let revents = fds
            .iter()
            .zip(&sides)
            .map(|(f, side)| f.revents().filter(|r| !r.is_empty()).map(|r| (*side, r)))
            .collect();
        Ok((slots, revents))
    }

    /// Takes what a listener has: new TCP connections, or datagrams from clients.
    fn accept(&mut self, i: usize, buf: &mut [u8]) {
        match &mut self.listeners[i] {
            Listener::Tcp(l, target) => {
                let target = *target;
                while let Ok((client, _)) = l.accept() {
                    if self.conns.len() >= MAX_TCP_CONNECTIONS {
                        // Over the cap: the client sees the connection closed.
                        continue;
                    }
                    if let Some(c) = connect(client, target) {
                        self.conns.push(c);
                    }
                }
            }
            Listener::Udp(l, target, sessions) => {
                while let Ok((n, client)) = l.recv_from(buf) {
                    if !sessions.contains_key(&client) {
                        if sessions.len() >= MAX_UDP_SESSIONS {
                            continue;
                        }
                        let Some(sock) = udp_session(*target) else {
                            continue;
                        };
                        sessions.insert(
                            client,
                            UdpSession {
                                sock,
                                last: Instant::now(),
                            },
                        );
                    }
                    let s = sessions.get_mut(&client).expect("inserted above");
                    s.last = Instant::now();
                    let _ = s.sock.send(&buf[..n]);
                }
            }
        }
    }

    /// Passes a target's replies back to the UDP client of a session.
    fn reply(&mut self, i: usize, client: SocketAddr, buf: &mut [u8]) {
        let Listener::Udp(l, _, sessions) = &mut self.listeners[i] else {
            return;
        };
        let Some(s) = sessions.get_mut(&client) else {
            return;
        };
        while let Ok(n) = s.sock.recv(buf) {
            s.last = Instant::now();
            let _ = l.send_to(&buf[..n], client);
        }
    }

    fn expire_sessions(&mut self) {
        for l in &mut self.listeners {
            if let Listener::Udp(_, _, sessions) = l {
                sessions.retain(|_, s| s.last.elapsed() < UDP_IDLE);
            }
        }
    }
}

/// Starts a non-blocking connection to `target` for `client`.
fn connect(client: TcpStream, target: SocketAddr) -> Option<Conn> {
    use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType, SockaddrIn, SockaddrIn6};
    client.set_nonblocking(true).ok()?;
    let _ = client.set_nodelay(true);
    let family = if target.is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    };
    let fd = socket(
        family,
        SockType::Stream,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        None,
    )
    .ok()?;
    let started = match target {
        SocketAddr::V4(a) => nix::sys::socket::connect(fd.as_raw_fd(), &SockaddrIn::from(a)),
        SocketAddr::V6(a) => nix::sys::socket::connect(fd.as_raw_fd(), &SockaddrIn6::from(a)),
    };
    match started {
        Ok(()) | Err(Errno::EINPROGRESS) => {}
        Err(_) => return None,
    }
    Some(Conn {
        client,
        server: TcpStream::from(fd),
        connecting: Some(Instant::now() + CONNECT_TIMEOUT),
        up: Half::new(),
        down: Half::new(),
        dead: false,
    })
}

/// A non-blocking UDP socket connected to `target`, for one client.
fn udp_session(target: SocketAddr) -> Option<UdpSocket> {
    let bind = if target.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    };
    let s = UdpSocket::bind(bind).ok()?;
    s.connect(target).ok()?;
    s.set_nonblocking(true).ok()?;
    Some(s)
}
