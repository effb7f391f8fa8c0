//! Rootless networking with real packets: pasta and slirp4netns, published
//! TCP and UDP ports reached from the host, host-loopback access, the /etc
//! files, joined namespaces, user-defined networks with name resolution and
//! isolation. Traffic only ever goes to 127.0.0.1 and namespaces the tests make.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, UdpSocket};
use std::path::Path;
use std::process::Child;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record as DnsRecord, RecordType};

use common::*;

/// A foreground `skiff run` in the background, killed (with its container) on drop.
struct Background<'a> {
    s: &'a Skiff,
    name: String,
    child: Option<Child>,
}

impl<'a> Background<'a> {
    fn start(s: &'a Skiff, name: &str, flags: &[&str], cmd: &[&str]) -> Self {
        let mut args = vec!["run", "--rm", "--name", name];
        args.extend_from_slice(flags);
        args.push("busybox");
        args.extend_from_slice(cmd);
        Background {
            s,
            name: name.to_string(),
            child: Some(s.spawn(&args)),
        }
    }

    /// Waits until the container is running (its state says so).
    fn wait_running(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let o = self
                .s
                .cmd(&["inspect", "--format", "{{.State.Status}}", &self.name]);
            if o.code == 0 && o.stdout.trim() == "running" {
                return;
            }
            if let Some(st) = self.child.as_mut().unwrap().try_wait().unwrap() {
                let mut err = String::new();
                if let Some(mut e) = self.child.as_mut().unwrap().stderr.take() {
                    let _ = e.read_to_string(&mut err);
                }
                panic!(
                    "container {} exited ({st}) before running: {err}",
                    self.name
                );
            }
            assert!(
                Instant::now() < deadline,
                "container {} never ran",
                self.name
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the container runs and a TCP socket listens on `port` in
    /// its network namespace (its `/proc/PID/net/tcp{,6}` shows the port in
    /// state LISTEN), so that a client started next is answered.
    fn wait_listening(&mut self, port: u16) {
        self.wait_running();
        let pid = self
            .s
            .ok(&["inspect", "--format", "{{.State.Pid}}", &self.name]);
        let pid = pid.trim();
        let deadline = Instant::now() + Duration::from_secs(20);
        while !listens(pid, port) {
            assert!(
                Instant::now() < deadline,
                "nothing listens on port {port} in container {} (pid {pid})",
                self.name
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Whether process `pid`'s network namespace has a TCP socket listening on
/// `port`: a line of /proc/PID/net/tcp or tcp6 whose local address ends in
/// the port (hexadecimal) and whose state is 0A (LISTEN).
fn listens(pid: &str, port: u16) -> bool {
    let suffix = format!(":{port:04X}");
    ["tcp", "tcp6"].iter().any(|f| {
        std::fs::read_to_string(format!("/proc/{pid}/net/{f}"))
            .unwrap_or_default()
            .lines()
            .skip(1)
            .any(|l| {
                let cols: Vec<&str> = l.split_whitespace().collect();
                cols.len() > 3 && cols[1].ends_with(&suffix) && cols[3] == "0A"
            })
    })
}

impl Drop for Background<'_> {
    fn drop(&mut self) {
        let _ = self
            .s
            .try_run(&["rm", "-f", &self.name], None, Duration::from_secs(30));
        if let Some(mut c) = self.child.take() {
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if c.try_wait().ok().flatten().is_some() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Processes named `name` in this test's user namespace.
fn helpers_left(s: &Skiff, names: &[&str]) -> Vec<String> {
    s.processes()
        .into_iter()
        .filter_map(|p| {
            let comm = std::fs::read_to_string(format!("/proc/{p}/comm")).ok()?;
            let cmd = std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
            let args: Vec<String> = cmd
                .split(|b| *b == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            let argv0 = args.first().cloned().unwrap_or_default();
            let argv1 = args.get(1).cloned().unwrap_or_default();
            names
                .iter()
                .any(|n| comm.trim() == *n || argv0.ends_with(&format!("/{n}")) || argv1 == *n)
                .then(|| format!("{p} {}", args.join(" ")))
        })
        .collect()
}

fn assert_no_helpers(s: &Skiff) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = helpers_left(s, &["pasta", "slirp4netns", "_portfwd"]);
        if left.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "helpers left behind: {left:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn published_http(network: &str) {
    let s = busybox();
    let port = free_port();
    let publish = format!("{port}:80");
    {
        let mut web = Background::start(
            &s,
            "web",
            &["--network", network, "-p", &publish],
            &["httpd", "-f", "-p", "80", "-h", "/www"],
        );
        web.wait_running();
        let body = http_get(port);
        assert!(body.contains(INDEX_HTML.trim()), "{body}");
        let out = s.ok(&["port", "web"]);
        assert_eq!(out.trim(), format!("80/tcp -> 0.0.0.0:{port}"));
        let ports = s.ok(&[
            "inspect",
            "--format",
            "{{json .NetworkSettings.Ports}}",
            "web",
        ]);
        assert!(
            ports.contains(&format!("\"HostPort\":\"{port}\"")),
            "{ports}"
        );
        assert_eq!(
            helpers_left(&s, &[network]).len(),
            1,
            "one {network} helper runs"
        );
    }
    assert_no_helpers(&s);
}

#[test]
fn pasta_publishes_tcp_to_the_host() {
    published_http("pasta");
}

#[test]
fn slirp4netns_publishes_tcp_to_the_host() {
    published_http("slirp4netns");
}

#[test]
fn default_network_is_pasta_and_leaves_no_helper() {
    let s = busybox();
    let out = s.sh(&[], "ip -o -4 addr show; ip route");
    assert!(out.contains("default via"), "{out}");
    assert_no_helpers(&s);
}

/// A UDP echo server on port 5353, for the container side of the UDP tests:
/// busybox (Debian's busybox-static) has neither `nc -u` nor `udpsvd`. It
/// exits on SIGTERM (as PID 1 it would otherwise ignore it).
const UDP_ECHO_C: &str = r#"
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

static void leave(int sig) { (void)sig; _exit(0); }

int main(void) {
    signal(SIGTERM, leave);
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(5353)};
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0) {
        perror("udpecho");
        return 1;
    }
    for (;;) {
        char buf[2048];
        struct sockaddr_in peer;
        socklen_t len = sizeof peer;
        ssize_t n = recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&peer, &len);
        if (n >= 0)
            sendto(s, buf, (size_t)n, 0, (struct sockaddr *)&peer, len);
    }
}
"#;

/// Builds [`UDP_ECHO_C`] with the host's `cc` as a static program in the
/// test's home (owned by the test user, mode 0755) and returns its path.
fn build_udp_echo(s: &Skiff) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let built = s.home.join("cc/udpecho");
    build_static_c(UDP_ECHO_C, &built);
    let bin = s.write_file("udpecho", &std::fs::read(&built).unwrap());
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

fn udp_echo(network: &str) {
    let s = busybox();
    let port = {
        let u = UdpSocket::bind("127.0.0.1:0").unwrap();
        u.local_addr().unwrap().port()
    };
    let publish = format!("127.0.0.1:{port}:5353/udp");
    let mount = format!("{}:/udpecho:ro", build_udp_echo(&s).display());
    let mut echo = Background::start(
        &s,
        "echo",
        &["--network", network, "-p", &publish, "-v", &mount],
        &["/udpecho"],
    );
    echo.wait_running();
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut buf = [0u8; 64];
    loop {
        sock.send_to(b"ping over udp\n", ("127.0.0.1", port))
            .unwrap();
        if let Ok((n, _)) = sock.recv_from(&mut buf) {
            assert_eq!(&buf[..n], b"ping over udp\n");
            break;
        }
        assert!(Instant::now() < deadline, "no UDP echo through {network}");
    }
}

#[test]
fn pasta_publishes_udp() {
    udp_echo("pasta");
}

#[test]
fn slirp4netns_publishes_udp() {
    udp_echo("slirp4netns");
}

/// A one-shot HTTP server on the host's 127.0.0.1, answering `body`.
fn host_server(body: &'static str) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut c in l.incoming().flatten() {
            let mut r = BufReader::new(c.try_clone().unwrap());
            let mut line = String::new();
            while r.read_line(&mut line).unwrap_or(0) > 2 {
                line.clear();
            }
            let _ = write!(
                c,
                "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

fn host_loopback(network: &str) {
    let s = busybox();
    let port = host_server("from the host loopback");
    let out = s.sh(
        &["--network", network],
        &format!("wget -qO- http://host.containers.internal:{port}/"),
    );
    assert_eq!(out, "from the host loopback");
}

#[test]
fn pasta_reaches_host_loopback() {
    host_loopback("pasta");
}

#[test]
fn slirp4netns_reaches_host_loopback() {
    host_loopback("slirp4netns");
}

#[test]
fn etc_files_follow_the_flags() {
    let s = busybox();
    let out = s.sh(
        &[
            "--name",
            "named",
            "--hostname",
            "h1",
            "--add-host",
            "foo:10.1.2.3",
            "--dns",
            "192.0.2.53",
            "--dns-search",
            "example.test",
            "--dns-option",
            "ndots:3",
        ],
        "cat /etc/hosts /etc/resolv.conf /etc/hostname",
    );
    assert!(out.contains("10.1.2.3\tfoo\n"), "{out}");
    assert!(out.contains("host.containers.internal"), "{out}");
    assert!(out.contains("h1 named"), "{out}");
    assert!(out.contains("nameserver 192.0.2.53\n"), "{out}");
    assert!(out.contains("search example.test\n"), "{out}");
    assert!(out.contains("options ndots:3\n"), "{out}");
    assert!(out.ends_with("h1\n"), "{out}");
    let slirp = s.sh(&["--network", "slirp4netns"], "cat /etc/resolv.conf");
    assert!(slirp.contains("nameserver 10.0.2.3"), "{slirp}");
}

#[test]
fn network_none_has_only_lo_and_no_helper() {
    let s = busybox();
    let out = s.sh(&["--network", "none"], "ip -o link");
    let names: Vec<&str> = out.lines().filter_map(|l| l.split(": ").nth(1)).collect();
    assert_eq!(names, ["lo"], "{out}");
    assert_no_helpers(&s);
}

#[test]
fn port_in_use_is_refused_up_front() {
    let s = busybox();
    let l = TcpListener::bind("0.0.0.0:0").unwrap();
    let port = l.local_addr().unwrap().port();
    // Podman: a port in use is exit 126.
    let err = s.fails(
        &[
            "run",
            "--rm",
            "-p",
            &format!("{port}:80"),
            "busybox",
            "true",
        ],
        126,
    );
    assert!(
        err.contains(&format!("port {port} is already in use")),
        "{err}"
    );
    assert!(s.container_ids().is_empty(), "no container left behind");
    assert_no_helpers(&s);
    let err = s.fails_engine(&["run", "--rm", "-p", "abc", "busybox", "true"]);
    assert!(err.contains("invalid port number"), "{err}");
    let err = s.fails_engine(&["run", "--rm", "--network", "nosuchnet", "busybox", "true"]);
    assert!(err.contains("network not found"), "{err}");
    assert!(s.container_ids().is_empty(), "no container left behind");
}

#[test]
fn publish_all_picks_random_ports() {
    let s = busybox();
    let mut web = Background::start(
        &s,
        "pall",
        &["-P", "--expose", "80"],
        &["httpd", "-f", "-p", "80", "-h", "/www"],
    );
    web.wait_running();
    let out = s.ok(&["port", "pall", "80/tcp"]);
    let port: u16 = out
        .trim()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap_or_else(|_| panic!("{out}"));
    assert!(http_get(port).contains(INDEX_HTML.trim()));
}

#[test]
fn container_mode_shares_the_namespace() {
    let s = busybox();
    let mut web = Background::start(&s, "web", &[], &["httpd", "-f", "-p", "80", "-h", "/www"]);
    web.wait_listening(80);
    let out = s.sh(
        &["--network", "container:web"],
        "wget -qO- http://127.0.0.1:80/",
    );
    assert_eq!(out, INDEX_HTML);
    let pid = s.ok(&["inspect", "--format", "{{.State.Pid}}", "web"]);
    let ns = std::fs::read_link(format!("/proc/{}/ns/net", pid.trim())).unwrap();
    let inner = s.sh(
        &["--network", "container:web"],
        "readlink /proc/self/ns/net",
    );
    assert_eq!(inner.trim(), ns.to_string_lossy());
    let sandbox = s.ok(&[
        "inspect",
        "--format",
        "{{.NetworkSettings.SandboxKey}}",
        "web",
    ]);
    let inner = s.sh(
        &["--network", &format!("ns:{}", sandbox.trim())],
        "readlink /proc/self/ns/net",
    );
    assert_eq!(inner.trim(), ns.to_string_lossy());
}

#[test]
fn user_network_resolves_names_and_aliases_and_publishes() {
    let s = busybox();
    assert_eq!(s.ok(&["network", "create", "appnet"]).trim(), "appnet");
    assert_eq!(s.cmd(&["network", "exists", "appnet"]).code, 0);
    assert_eq!(s.cmd(&["network", "exists", "nonet"]).code, 1);
    let ls = s.ok(&["network", "ls"]);
    assert!(ls.contains("podman") && ls.contains("appnet"), "{ls}");
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:80");
    {
        let mut db = Background::start(
            &s,
            "db",
            &[
                "--network",
                "appnet",
                "--network-alias",
                "cache",
                "-p",
                &publish,
                "--env",
                "DBVAR=hello",
            ],
            &["httpd", "-f", "-p", "80", "-h", "/www"],
        );
        db.wait_listening(80);
        let out = s.sh(
            &["--network", "appnet"],
            "wget -qO- http://db/ && wget -qO- http://cache/ && nslookup db",
        );
        assert!(
            out.starts_with(&format!("{INDEX_HTML}{INDEX_HTML}")),
            "{out}"
        );
        let ip = s.ok(&[
            "inspect",
            "--format",
            "{{.NetworkSettings.IPAddress}}",
            "db",
        ]);
        assert!(
            out.contains(ip.trim()),
            "nslookup answers db's address {ip}: {out}"
        );
        // A published port of a container on a user network.
        assert!(http_get(port).contains(INDEX_HTML.trim()));
        // --link on the same network: the alias reaches db at its own
        // address, and Docker's link variables describe it.
        let out = s.sh(
            &[
                "--name",
                "linker",
                "--network",
                "appnet",
                "--link",
                "db:database",
            ],
            "wget -qO- http://database/ && env | grep ^DATABASE_ | sort",
        );
        let ip = ip.trim();
        let want: String = [
            "DATABASE_ENV_DBVAR=hello".to_string(),
            "DATABASE_ENV_TERM=xterm".to_string(),
            "DATABASE_ENV_container=skiff".to_string(),
            "DATABASE_NAME=/linker/database".to_string(),
            format!("DATABASE_PORT=tcp://{ip}:80"),
            format!("DATABASE_PORT_80_TCP=tcp://{ip}:80"),
            format!("DATABASE_PORT_80_TCP_ADDR={ip}"),
            "DATABASE_PORT_80_TCP_PORT=80".to_string(),
            "DATABASE_PORT_80_TCP_PROTO=tcp".to_string(),
        ]
        .iter()
        .map(|l| format!("{l}\n"))
        .collect();
        assert_eq!(out, format!("{INDEX_HTML}{want}"));
        let err = s.fails(&["network", "rm", "appnet"], 2);
        assert!(err.contains("in use"), "{err}");
        let insp = s.ok(&[
            "network",
            "inspect",
            "--format",
            "{{.Name}} {{.Driver}}",
            "appnet",
        ]);
        assert_eq!(insp.trim(), "appnet bridge");
    }
    assert_no_helpers(&s);
    assert_eq!(s.ok(&["network", "rm", "appnet"]).trim(), "appnet");
    assert_eq!(s.cmd(&["network", "exists", "appnet"]).code, 1);
}

/// `--link` where no container has an address another reaches (the default
/// rootless network: pasta or slirp4netns) is refused with one line naming
/// the link and the fix, before anything is made; so is a link to a
/// container on no network the new one is on.
#[test]
fn link_needs_a_shared_user_network() {
    let s = busybox();
    s.ok(&["create", "--name", "db", "busybox", "true"]);
    let args = [
        "create",
        "--name",
        "web",
        "--link",
        "db:database",
        "busybox",
        "true",
    ];
    let err = s.fails_engine(&args);
    assert!(
        err.starts_with(
            "Error: --link db:database: links need a user-defined network, \
             and this container is on the default network ("
        ) && err.ends_with("run both containers with --network NAME"),
        "{err}"
    );
    let err = s.fails_engine(&[
        "create",
        "--network",
        "none",
        "--link",
        "db",
        "busybox",
        "true",
    ]);
    assert!(
        err.contains("this container is on --network none,"),
        "{err}"
    );
    assert_eq!(s.cmd(&["container", "exists", "web"]).code, 1);
    s.ok(&["network", "create", "linka"]);
    s.ok(&["network", "create", "linkb"]);
    s.ok(&[
        "create",
        "--name",
        "dbb",
        "--network",
        "linkb",
        "busybox",
        "true",
    ]);
    let linked = ["--network", "linka", "--link", "dbb:x", "busybox", "true"];
    let err = s.fails_engine(&[&["create"][..], &linked].concat());
    assert_eq!(
        err,
        "Error: --link dbb:x: container dbb is on no network of this container (linka); \
         connect it with 'skiff network connect linka dbb'"
    );
    // Once connected, the same link is taken.
    s.ok(&["network", "connect", "linka", "dbb"]);
    s.ok(&[&["create", "--name", "web"][..], &linked].concat());
    s.ok(&["rm", "web", "dbb", "db"]);
    s.ok(&["network", "rm", "linka", "linkb"]);
}

#[test]
fn networks_are_isolated_and_internal_has_no_outbound() {
    let s = busybox();
    s.ok(&["network", "create", "neta"]);
    s.ok(&["network", "create", "netb"]);
    s.ok(&["network", "create", "--internal", "inner"]);
    let host_port = host_server("outbound works");
    let mut web = Background::start(
        &s,
        "weba",
        &["--network", "neta"],
        &["httpd", "-f", "-p", "80", "-h", "/www"],
    );
    web.wait_listening(80);
    let ip = s.ok(&[
        "inspect",
        "--format",
        "{{.NetworkSettings.IPAddress}}",
        "weba",
    ]);
    let ip = ip.trim();
    let same = s.sh(&["--network", "neta"], &format!("wget -qO- http://{ip}/"));
    assert_eq!(same, INDEX_HTML);
    let other = s.cmd(&[
        "run",
        "--rm",
        "--network",
        "netb",
        "busybox",
        "sh",
        "-c",
        &format!("wget -T 2 -qO- http://{ip}/ || nslookup weba || echo isolated"),
    ]);
    assert!(
        other.stdout.trim().ends_with("isolated"),
        "{}",
        other.describe()
    );
    let out = s.sh(
        &["--network", "netb"],
        &format!("wget -qO- http://host.containers.internal:{host_port}/"),
    );
    assert_eq!(out, "outbound works");
    let inner = s.cmd(&[
        "run",
        "--rm",
        "--network",
        "inner",
        "busybox",
        "sh",
        "-c",
        &format!("wget -T 2 -qO- http://host.containers.internal:{host_port}/ || echo blocked"),
    ]);
    assert!(
        inner.stdout.trim().ends_with("blocked"),
        "{}",
        inner.describe()
    );
}

/// A container on two networks resolves the containers of both: given two
/// `--network` flags at run, or connected to a second network while it runs.
#[test]
fn a_container_on_two_networks_resolves_names_on_both() {
    let s = busybox();
    s.ok(&["network", "create", "twoa"]);
    s.ok(&["network", "create", "twob"]);
    let mut a = Background::start(&s, "ona", &["--network", "twoa"], &["sleep", "300"]);
    a.wait_running();
    let mut b = Background::start(&s, "onb", &["--network", "twob"], &["sleep", "300"]);
    b.wait_running();
    let out = s.sh(
        &["--network", "twoa", "--network", "twob"],
        "nslookup ona >/dev/null && nslookup onb >/dev/null && echo both; ls /sys/class/net | grep -c eth",
    );
    assert_eq!(
        out, "both\n2\n",
        "two --network flags attach and resolve both"
    );

    let mut j = Background::start(&s, "joiner", &["--network", "twoa"], &["sleep", "300"]);
    j.wait_running();
    s.ok(&["network", "connect", "twob", "joiner"]);
    let o = s.cmd(&["exec", "joiner", "nslookup", "onb"]);
    assert_eq!(
        o.code,
        0,
        "a connected second network resolves\n{}",
        o.describe()
    );
    let o = s.cmd(&["exec", "joiner", "nslookup", "ona"]);
    assert_eq!(
        o.code,
        0,
        "the first network still resolves\n{}",
        o.describe()
    );
    drop(j);

    let line = s.fails_engine(&[
        "run",
        "--rm",
        "--network",
        "host",
        "--network",
        "twoa",
        "busybox",
        "true",
    ]);
    assert!(line.contains("cannot be combined"), "{line}");
    drop((a, b));
    assert_no_helpers(&s);
}

/// `network connect` to a container on the default network (pasta, whose
/// interface in the container is eth0) adds the next free name, eth1, with
/// an address of the network (Podman's choice), and leaves the default
/// route on pasta's; `network disconnect` takes eth1 away again.
#[test]
fn connect_to_a_pasta_container_adds_eth1() {
    let s = busybox();
    s.ok(&["network", "create", "--subnet", "10.89.77.0/24", "n1"]);
    let mut c = Background::start(&s, "onpasta", &[], &["sleep", "300"]);
    c.wait_running();
    let o = s.cmd(&["network", "connect", "n1", "onpasta"]);
    assert_eq!(o.code, 0, "connect succeeds\n{}", o.describe());
    let addr = s.ok(&["exec", "onpasta", "ip", "-o", "-4", "addr", "show", "eth1"]);
    assert!(
        addr.contains("inet 10.89.77."),
        "eth1 has an address of n1: {addr}"
    );
    let route = s.ok(&["exec", "onpasta", "ip", "route", "show", "default"]);
    assert!(
        route.contains("dev eth0"),
        "the default route stays on pasta's: {route}"
    );
    s.ok(&["network", "disconnect", "n1", "onpasta"]);
    let links = s.ok(&["exec", "onpasta", "ls", "/sys/class/net"]);
    assert!(
        links.contains("eth0") && !links.contains("eth1"),
        "disconnect removes eth1 only: {links}"
    );
    s.ok(&["rm", "-f", "-t", "0", "onpasta"]);
    drop(c);
    assert_no_helpers(&s);
}

/// A bridge address carries its network's broadcast address, as netavark
/// sets it (`ip addr` shows `brd`), and so does the bridge in the rootless
/// namespace.
#[test]
fn bridge_addresses_have_their_broadcast_address() {
    let s = busybox();
    s.ok(&["network", "create", "--subnet", "10.89.78.0/24", "bcast"]);
    let out = s.sh(&["--network", "bcast"], "ip -o -4 addr show eth0");
    assert!(
        out.contains("inet 10.89.78.") && out.contains("brd 10.89.78.255"),
        "eth0 has the broadcast address of 10.89.78.0/24: {out}"
    );
    assert_no_helpers(&s);
}

/// A created container that was never started lists the network its mode
/// names in `NetworkSettings.Networks`, as Podman's inspect does (one entry
/// named after the mode: `pasta` for the rootless default); one created on
/// a user network lists that network.
#[test]
fn created_containers_list_their_network() {
    let s = busybox();
    s.ok(&["create", "--name", "fresh", "busybox", "true"]);
    let nets = s.inspect_format(
        "fresh",
        "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{$v.NetworkID}}{{end}}",
    );
    assert_eq!(
        nets, "pasta pasta",
        "the default network of a created container"
    );
    s.ok(&[
        "create",
        "--name",
        "fresh-none",
        "--network",
        "none",
        "busybox",
        "true",
    ]);
    let nets = s.inspect_format(
        "fresh-none",
        "{{range $k, $v := .NetworkSettings.Networks}}{{$k}}{{end}}",
    );
    assert_eq!(nets, "none");
    s.ok(&["rm", "fresh", "fresh-none"]);
}

/// `network connect` of a running container appends a line naming it at
/// its new address to its /etc/hosts and puts the network's DNS server in
/// its resolv.conf; `network disconnect` takes both out again, leaving the
/// rest of the files (a line the user added too) as they were, as Podman's
/// `NetworkConnect`/`NetworkDisconnect` edit them. A container that
/// `--link`s to it follows at once: its link line goes when the target no
/// longer has an address on a network they share.
#[test]
fn connect_and_disconnect_edit_etc_files() {
    let s = busybox();
    s.ok(&["network", "create", "--subnet", "10.89.81.0/24", "ea"]);
    s.ok(&["network", "create", "--subnet", "10.89.82.0/24", "eb"]);
    let mut a = Background::start(&s, "hosta", &["--network", "ea"], &["sleep", "300"]);
    a.wait_running();
    let mut l = Background::start(
        &s,
        "linker",
        &["--network", "ea", "--link", "hosta:db"],
        &["sleep", "300"],
    );
    l.wait_running();
    let mut c = Background::start(&s, "onb", &["--network", "eb"], &["sleep", "300"]);
    c.wait_running();
    let host = s.ok(&["exec", "hosta", "hostname"]);
    let own = |ip: &str| format!("{ip}\t{} hosta", host.trim());
    let ip_a = s.inspect_format("hosta", "{{.NetworkSettings.Networks.ea.IPAddress}}");
    assert!(ip_a.starts_with("10.89.81."), "{ip_a}");
    let link_line = format!("{ip_a}\tdb hosta");
    let hosts = s.ok(&["exec", "linker", "cat", "/etc/hosts"]);
    assert!(
        hosts.lines().any(|l| l == link_line),
        "the link names hosta's address:\n{hosts}"
    );
    // A line of the user's own survives every edit.
    s.ok(&[
        "exec",
        "hosta",
        "sh",
        "-c",
        "echo '192.0.2.7\tmine' >>/etc/hosts",
    ]);

    s.ok(&["network", "connect", "eb", "hosta"]);
    let ip_b = s.inspect_format("hosta", "{{.NetworkSettings.Networks.eb.IPAddress}}");
    assert!(ip_b.starts_with("10.89.82."), "{ip_b}");
    let hosts = s.ok(&["exec", "hosta", "cat", "/etc/hosts"]);
    let lines: Vec<&str> = hosts.lines().collect();
    assert!(lines.contains(&own(&ip_a).as_str()), "{hosts}");
    assert!(lines.contains(&"192.0.2.7\tmine"), "{hosts}");
    assert_eq!(
        lines.last(),
        Some(&own(&ip_b).as_str()),
        "connect appends the new address:\n{hosts}"
    );
    let resolv = s.ok(&["exec", "hosta", "cat", "/etc/resolv.conf"]);
    let servers: Vec<&str> = resolv
        .lines()
        .filter(|l| l.starts_with("nameserver"))
        .collect();
    assert_eq!(
        servers,
        ["nameserver 10.89.82.1", "nameserver 10.89.81.1"],
        "the new network's DNS server goes in front:\n{resolv}"
    );
    let o = s.cmd(&["exec", "onb", "nslookup", "hosta"]);
    assert!(
        o.code == 0 && o.stdout.contains(&ip_b),
        "eb resolves hosta\n{}",
        o.describe()
    );
    let o = s.cmd(&["exec", "hosta", "nslookup", "onb"]);
    assert_eq!(o.code, 0, "hosta resolves onb on eb\n{}", o.describe());

    s.ok(&["network", "disconnect", "eb", "hosta"]);
    let hosts = s.ok(&["exec", "hosta", "cat", "/etc/hosts"]);
    assert!(
        !hosts.contains(&ip_b),
        "disconnect removes the address:\n{hosts}"
    );
    assert!(hosts.lines().any(|l| l == own(&ip_a)), "{hosts}");
    assert!(hosts.contains("192.0.2.7\tmine"), "{hosts}");
    let resolv = s.ok(&["exec", "hosta", "cat", "/etc/resolv.conf"]);
    assert!(!resolv.contains("10.89.82.1"), "{resolv}");
    assert!(resolv.contains("nameserver 10.89.81.1"), "{resolv}");
    let o = s.cmd(&["exec", "onb", "nslookup", "hosta"]);
    assert_ne!(o.code, 0, "eb no longer resolves hosta\n{}", o.describe());

    // Leaving the network it shares with its linker takes the link line
    // away: hosta has no address the linker reaches (the host's would
    // lead only to published ports).
    s.ok(&["network", "connect", "eb", "hosta"]);
    s.ok(&["network", "disconnect", "ea", "hosta"]);
    let hosts = s.ok(&["exec", "linker", "cat", "/etc/hosts"]);
    assert!(
        !hosts.lines().any(|l| l.ends_with("\tdb hosta")),
        "the link no longer names hosta:\n{hosts}"
    );
    let hosts = s.ok(&["exec", "hosta", "cat", "/etc/hosts"]);
    assert!(!hosts.contains(&ip_a), "{hosts}");
    assert!(hosts.lines().any(|l| l.ends_with(&format!("\t{} hosta", host.trim())) && l.starts_with("10.89.82.")), "{hosts}");
    drop((a, l, c));
    assert_no_helpers(&s);
}

/// The address `known.test` has on the test resolver.
const KNOWN_IP: &str = "192.0.2.77";

/// A DNS server for one test, on port 53 of a loopback address of the host
/// of its own (127.53.X.Y, so that tests running at once and a resolver of
/// the host's on 127.0.0.1 keep apart): `known.test` has the address
/// [`KNOWN_IP`], every other name is NXDOMAIN; while `silent` it answers
/// nothing. It records the names it is asked. Stopped on drop.
struct TestResolver {
    addr: std::net::Ipv4Addr,
    silent: Arc<AtomicBool>,
    asked: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestResolver {
    fn start() -> Self {
        static NEXT: AtomicU8 = AtomicU8::new(1);
        let pid = std::process::id();
        let (addr, sock) = loop {
            let n = NEXT.fetch_add(1, Ordering::SeqCst);
            let addr = std::net::Ipv4Addr::new(127, 53, (pid % 250) as u8 + 1, n);
            match UdpSocket::bind((addr, 53)) {
                Ok(s) => break (addr, s),
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && n < 250 => continue,
                Err(e) => panic!("binding a test resolver on {addr}:53: {e}"),
            }
        };
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let silent = Arc::new(AtomicBool::new(false));
        let asked = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (silent, asked, stop) = (silent.clone(), asked.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut buf = [0u8; 1500];
                while !stop.load(Ordering::SeqCst) {
                    let Ok((n, from)) = sock.recv_from(&mut buf) else {
                        continue;
                    };
                    let Ok(q) = Message::from_vec(&buf[..n]) else {
                        continue;
                    };
                    let Some(question) = q.queries.first().cloned() else {
                        continue;
                    };
                    let name = question.name().to_ascii().trim_end_matches('.').to_string();
                    asked.lock().unwrap().push(name.clone());
                    if silent.load(Ordering::SeqCst) {
                        continue;
                    }
                    let mut r = Message::new(q.metadata.id, MessageType::Response, OpCode::Query);
                    r.metadata.recursion_desired = q.metadata.recursion_desired;
                    r.metadata.recursion_available = true;
                    r.add_queries(q.queries.iter().cloned());
                    if name.eq_ignore_ascii_case("known.test") {
                        if question.query_type() == RecordType::A {
                            r.add_answer(DnsRecord::from_rdata(
                                question.name().clone(),
                                60,
                                RData::A(A(KNOWN_IP.parse().unwrap())),
                            ));
                        }
                    } else {
                        r.metadata.response_code = ResponseCode::NXDomain;
                    }
                    let _ = sock.send_to(&r.to_vec().unwrap(), from);
                }
            })
        };
        TestResolver {
            addr,
            silent,
            asked,
            stop,
            thread: Some(thread),
        }
    }

    fn was_asked(&self, name: &str) -> bool {
        self.asked.lock().unwrap().iter().any(|n| n == name)
    }
}

impl Drop for TestResolver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Runs skiff as the test user in a mount namespace of its own in which
/// `conf` is bound over /etc/resolv.conf: the host's resolver
/// configuration that skiff, pasta and the user networks' DNS server read.
/// A store's first command must run this way, so that its long-lived
/// processes (the user namespace's holder, the rootless network namespace)
/// live in that namespace too; `conf` is then rewritten in place.
fn with_resolv(s: &Skiff, conf: &Path, args: &[&str]) -> Output {
    use std::os::unix::process::CommandExt;
    let inner = s.command(args);
    let mut c = std::process::Command::new("unshare");
    c.args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg(r#"mount --bind "$0" /etc/resolv.conf && exec "$@""#)
        .arg(conf)
        .arg(inner.get_program())
        .args(inner.get_args())
        .env_clear()
        .process_group(0);
    for (k, v) in inner.get_envs() {
        if let Some(v) = v {
            c.env(k, v);
        }
    }
    if let Some(d) = inner.get_current_dir() {
        c.current_dir(d);
    }
    s.run_prepared(c, args)
}

/// Like [`with_resolv`], for a command that must succeed: its stdout.
fn ok_with_resolv(s: &Skiff, conf: &Path, args: &[&str]) -> String {
    let o = with_resolv(s, conf, args);
    assert_eq!(o.code, 0, "{}", o.describe());
    o.stdout
}

/// A store with the busybox fixture whose host resolver is `dns`, and the
/// resolv.conf file that says so; `None` (the test skipped) without root.
fn store_with_resolver(dns: &TestResolver, test: &str) -> Option<(Skiff, std::path::PathBuf)> {
    if env().drop_to.is_none() {
        skip(
            test,
            "standing a test resolver in for the host's /etc/resolv.conf \
             needs root (a mount namespace, port 53 on loopback): run the suite as root",
        );
        return None;
    }
    let s = Skiff::new();
    let conf = s.write_file(
        "resolv.conf",
        format!("nameserver {}\n", dns.addr).as_bytes(),
    );
    let fixture = env().fixture.to_str().unwrap().to_string();
    ok_with_resolv(
        &s,
        &conf,
        &[
            "import",
            &fixture,
            BUSYBOX,
            "--change",
            r#"CMD ["/bin/sh"]"#,
        ],
    );
    Some((s, conf))
}

/// The lookups every kind of network must answer, run in one container:
/// `extra` names first, then `known.test` through the host's resolver,
/// then `nope.test`, timed by /proc/uptime (centiseconds).
const LOOKUPS: &str = r#"
nslookup known.test; echo "known=$?"
read a _ </proc/uptime; nslookup nope.test; echo "nope=$?"; read b _ </proc/uptime
echo "took $a $b"
"#;

/// Checks the output of [`LOOKUPS`]: the known name has its address, the
/// missing one is NXDOMAIN, answered within 2 s (a correctness bound: a
/// silent server makes it 5 s or more).
fn assert_lookups(out: &Output, dns: &TestResolver) {
    let text = &out.stdout;
    assert!(
        text.contains(KNOWN_IP) && text.contains("known=0"),
        "{}",
        out.describe()
    );
    assert!(
        text.contains("NXDOMAIN") && text.contains("nope=1"),
        "{}",
        out.describe()
    );
    let took = text
        .lines()
        .find_map(|l| l.strip_prefix("took "))
        .and_then(|t| t.split_once(' '))
        .map(|(a, b)| b.parse::<f64>().unwrap() - a.parse::<f64>().unwrap())
        .unwrap_or_else(|| panic!("no timing\n{}", out.describe()));
    assert!(took < 2.0, "NXDOMAIN took {took} s\n{}", out.describe());
    assert!(dns.was_asked("known.test") && dns.was_asked("nope.test"));
}

/// The default network as Podman 5 sets it up: pasta forwards queries to
/// 169.254.1.1 to the host's resolver (here the test's, on the host's
/// loopback, which the container could not reach itself), and the
/// container's resolv.conf names that address first, then the host's
/// servers a namespace reaches, with the host's search list and options;
/// slirp4netns's 10.0.2.3 takes its place there. A missing name is
/// NXDOMAIN at once.
#[test]
fn default_network_resolves_through_pastas_forwarder_as_podman() {
    let dns = TestResolver::start();
    let Some((s, conf)) = store_with_resolver(&dns, "default network DNS") else {
        return;
    };
    let sk = |args: &[&str]| ok_with_resolv(&s, &conf, args);
    let cat = ["busybox", "cat", "/etc/resolv.conf"];
    let run = |flags: &[&str], cmd: &[&str]| {
        let mut a = vec!["run", "--rm"];
        a.extend_from_slice(flags);
        a.extend_from_slice(cmd);
        sk(&a)
    };
    assert_eq!(run(&[], &cat), "nameserver 169.254.1.1\n");
    // Content only (nothing is looked up): 203.0.113.53 is not to be asked.
    std::fs::write(
        &conf,
        format!(
            "search example.test\nnameserver {}\nnameserver 203.0.113.53\noptions ndots:2\n",
            dns.addr
        ),
    )
    .unwrap();
    let want = |first: &str| {
        format!(
            "search example.test\nnameserver {first}\nnameserver 203.0.113.53\noptions ndots:2\n"
        )
    };
    assert_eq!(run(&[], &cat), want("169.254.1.1"));
    assert_eq!(run(&["--network", "slirp4netns"], &cat), want("10.0.2.3"));
    // The user's own forwarding address replaces ours, as in Podman.
    assert_eq!(
        run(&["--network", "pasta:--dns-forward,169.254.7.7"], &cat),
        want("169.254.7.7")
    );
    std::fs::write(&conf, format!("nameserver {}\n", dns.addr)).unwrap();
    let o = with_resolv(&s, &conf, &["run", "--rm", "busybox", "sh", "-c", LOOKUPS]);
    assert_lookups(&o, &dns);
    assert_no_helpers(&s);
}

/// Sends a query for `name` to `server`:53 from the network namespace of
/// process `pid` (the test runs as root, which may enter it); returns the
/// answer's response code and how long it took (None: no answer in 10 s).
fn query_in_netns(pid: &str, server: &str, name: &str) -> (Option<ResponseCode>, Duration) {
    let ns = std::fs::File::open(format!("/proc/{pid}/ns/net")).unwrap();
    let server: std::net::Ipv4Addr = server.parse().unwrap();
    let name = name.to_string();
    // setns changes the namespace of this thread only.
    std::thread::spawn(move || {
        nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        let u = UdpSocket::bind("0.0.0.0:0").unwrap();
        u.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut m = Message::query();
        m.metadata.id = 0x5a5a;
        m.metadata.recursion_desired = true;
        m.add_query(Query::query(
            Name::from_ascii(&name).unwrap(),
            RecordType::A,
        ));
        let t = Instant::now();
        u.send_to(&m.to_vec().unwrap(), (server, 53)).unwrap();
        let mut buf = [0u8; 1500];
        let code = u
            .recv(&mut buf)
            .ok()
            .and_then(|n| Message::from_vec(&buf[..n]).ok())
            .map(|r| r.metadata.response_code);
        (code, t.elapsed())
    })
    .join()
    .unwrap()
}

/// The DNS server of a user-defined network answers its containers' names,
/// forwards the rest through the namespace helper's forwarder to the host's
/// resolver (NXDOMAIN relayed at once), and when the upstream stays silent
/// answers SERVFAIL within its deadline (2 s) instead of leaving the
/// container waiting.
#[test]
fn user_network_dns_answers_missing_names_promptly() {
    let dns = TestResolver::start();
    let Some((s, conf)) = store_with_resolver(&dns, "user network DNS") else {
        return;
    };
    let sk = |args: &[&str]| ok_with_resolv(&s, &conf, args);
    sk(&["network", "create", "dnsnet"]);
    sk(&[
        "run",
        "-d",
        "--name",
        "db",
        "--network",
        "dnsnet",
        "busybox",
        "sleep",
        "300",
    ]);
    let script = format!("nslookup db && echo db=found\n{LOOKUPS}");
    let o = with_resolv(
        &s,
        &conf,
        &[
            "run",
            "--rm",
            "--network",
            "dnsnet",
            "busybox",
            "sh",
            "-c",
            &script,
        ],
    );
    assert!(o.stdout.contains("db=found"), "{}", o.describe());
    assert_lookups(&o, &dns);

    let pid = sk(&["inspect", "--format", "{{.State.Pid}}", "db"]);
    let resolv = sk(&["exec", "db", "cat", "/etc/resolv.conf"]);
    let gateway = resolv
        .lines()
        .find_map(|l| l.strip_prefix("nameserver "))
        .unwrap_or_else(|| panic!("no nameserver in {resolv}"))
        .trim()
        .to_string();
    // Podman's resolv.conf on a user network: the network's search
    // domain (Podman's dns.podman) and its DNS server, nothing of the host's.
    assert_eq!(resolv, format!("search dns.skiff\nnameserver {gateway}\n"));
    let (code, took) = query_in_netns(pid.trim(), &gateway, "nope.test.");
    assert_eq!(code, Some(ResponseCode::NXDomain));
    assert!(took < Duration::from_secs(2), "NXDOMAIN took {took:?}");
    dns.silent.store(true, Ordering::SeqCst);
    let (code, took) = query_in_netns(pid.trim(), &gateway, "silent.test.");
    assert_eq!(
        code,
        Some(ResponseCode::ServFail),
        "a silent upstream gives SERVFAIL, not silence"
    );
    // The server's deadline is 2 s; the old one-server-at-a-time 3 s
    // timeout fails this.
    assert!(took < Duration::from_millis(2800), "SERVFAIL took {took:?}");
    assert!(dns.was_asked("silent.test"));
    // An unknown name in our own domain is ours to answer: at once.
    let (code, took) = query_in_netns(pid.trim(), &gateway, "nope.dns.skiff.");
    assert_eq!(code, Some(ResponseCode::NXDomain));
    assert!(took < Duration::from_secs(1), "took {took:?}");
    assert!(!dns.was_asked("nope.dns.skiff"));
    sk(&["rm", "-f", "db"]);
    sk(&["network", "rm", "dnsnet"]);
    assert_no_helpers(&s);
}

#[test]
fn an_overlong_network_name_is_refused_before_anything_is_written() {
    let s = Skiff::new();
    let before = s.ok(&["network", "ls", "--format", "{{.Name}}"]);
    let name = "a".repeat(300);
    let e = s.fails_engine(&["network", "create", &name]);
    assert!(
        e.starts_with("Error: invalid network name \"aaaa") && e.contains("longer than 200"),
        "{e}"
    );
    assert_eq!(
        s.ok(&["network", "ls", "--format", "{{.Name}}"]),
        before,
        "a network was left"
    );
    let left: Vec<_> = std::fs::read_dir(s.store().join("networks"))
        .map(|rd| rd.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        !left.iter().any(|f| f.to_string_lossy().contains("aaaa")),
        "networks/ keeps {left:?}"
    );
    // The longest name that fits is still taken.
    let name = "b".repeat(200);
    s.ok(&["network", "create", &name]);
    s.ok(&["network", "rm", &name]);
}
