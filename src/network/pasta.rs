//! pasta (from the passt package): connects a network namespace to the host
//! through the host's own sockets, forwards published ports, and maps the
//! gateway address to the host's loopback.
//!
//! pasta daemonizes once the namespace is configured, so its exit status
//! tells whether setup worked and the daemon outlives the caller; its pid
//! comes back through `-P`.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use super::helper::{self, Helper};
use super::ports::PortMapping;
use crate::{Error, Result};

/// MTU pasta gives the namespace interface (its default, the largest it can).
pub const MTU: u32 = 65520;
/// Address in the namespace whose DNS queries pasta forwards to the host's
/// resolver (for hosts whose resolvers are all on loopback).
pub const DNS_FORWARD: &str = "169.254.1.1";

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

/// The command line for a namespace bound at `netns`.
pub fn args(netns: &Path, pid_file: &Path, ports: &[PortMapping]) -> Vec<String> {
    let mut a: Vec<String> = vec![
        "--config-net".into(),
        "--dns-forward".into(),
        DNS_FORWARD.into(),
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
    ];
    a.extend(port_args(ports, "tcp"));
    a.extend(port_args(ports, "udp"));
    a
}

/// Starts pasta for the namespace bound at `netns`; returns the daemon's pid.
pub fn start(
    netns: &Path,
    run_dir: &Path,
    ports: &[PortMapping],
    extra: &[String],
) -> Result<Helper> {
    let bin = helper::find("pasta", "passt")?;
    helper::check_tun()?;
    let pid_file = run_dir.join("pasta.pid");
    let log = run_dir.join("pasta.log");
    let _ = fs::remove_file(&pid_file);
    let err =
        fs::File::create(&log).map_err(|e| Error::msg(crate::error::io_msg("create", &log, &e)))?;
    let status = Command::new(&bin)
        .args(extra)
        .args(args(netns, &pid_file, ports))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err)
        .status()
        .map_err(|e| Error::msg(format!("starting pasta: {}", crate::error::io_reason(&e))))?;
    if !status.success() {
        return Err(Error::msg(format!(
            "pasta failed ({}): {}",
            helper::describe_status(status),
            helper::last_error(&log)
        )));
    }
    let pid: i32 = fs::read_to_string(&pid_file)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| {
            Error::msg(format!(
                "pasta started but wrote no pid to {}",
                pid_file.display()
            ))
        })?;
    Ok(Helper {
        pid,
        name: "pasta".into(),
        mtu: MTU,
    })
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
        let a = args(Path::new("/ns"), Path::new("/pid"), &p).join(" ");
        assert!(a.contains("-t 127.0.0.1/8080:80"), "{a}");
        assert!(a.contains("-u 5353:53"), "{a}");
        let a = args(Path::new("/ns"), Path::new("/pid"), &[]).join(" ");
        assert!(a.contains("-t none -u none"), "{a}");
    }
}
