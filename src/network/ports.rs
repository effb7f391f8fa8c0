//! Published ports: parsing `-p [ip:][hostPort[-range]:]containerPort[-range][/proto]`,
//! `-P` over the exposed ports, picking free host ports and detecting conflicts
//! before any helper starts.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, UdpSocket};

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// One host port forwarded to one container port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortMapping {
    /// Host address to bind; empty means every address.
    #[serde(default)]
    pub host_ip: String,
    pub host_port: u16,
    pub container_port: u16,
    /// "tcp" or "udp".
    pub protocol: String,
}

impl PortMapping {
    /// `80/tcp -> 0.0.0.0:8080`, as `skiff port` prints it.
    pub fn describe(&self) -> String {
        let ip = if self.host_ip.is_empty() {
            "0.0.0.0"
        } else {
            &self.host_ip
        };
        format!(
            "{}/{} -> {ip}:{}",
            self.container_port, self.protocol, self.host_port
        )
    }

    /// The host address to bind.
    pub fn bind_ip(&self) -> IpAddr {
        self.host_ip
            .parse()
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
    }
}

/// A `-p` value before host ports are chosen: ranges of equal length, host
/// port 0 meaning "pick one". Stored as is in the container record (version 3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortSpec {
    pub host_ip: String,
    /// First host port; 0 when omitted or 0.
    pub host_port: u16,
    pub container_port: u16,
    /// Number of consecutive ports.
    pub count: u16,
    pub protocol: String,
}

fn bad(spec: &str, why: impl std::fmt::Display) -> Error {
    Error::msg(format!("parsing port {spec:?}: {why}"))
}

fn port_range(spec: &str, s: &str) -> Result<(u16, u16)> {
    let num = |p: &str| -> Result<u16> {
        p.parse::<u16>()
            .map_err(|_| bad(spec, format!("invalid port number: {p:?}")))
    };
    match s.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (num(a)?, num(b)?);
            if b < a {
                return Err(bad(spec, format!("invalid port range: {s}")));
            }
            Ok((a, b - a + 1))
        }
        None => Ok((num(s)?, 1)),
    }
}

/// Parses one `-p` value.
pub fn parse(spec: &str) -> Result<PortSpec> {
    let (body, protocol) = match spec.rsplit_once('/') {
        Some((b, p)) => (b, p.to_ascii_lowercase()),
        None => (spec, "tcp".to_string()),
    };
    if protocol != "tcp" && protocol != "udp" {
        return Err(bad(
            spec,
            format!("unsupported protocol {protocol:?}: use tcp or udp"),
        ));
    }
    // An IPv6 host address is written in brackets: [::1]:8080:80.
    let (host_ip, rest) = if let Some(r) = body.strip_prefix('[') {
        let (ip, rest) = r
            .split_once("]:")
            .ok_or_else(|| bad(spec, "unterminated IPv6 address"))?;
        (ip.to_string(), rest.to_string())
    } else {
        let parts: Vec<&str> = body.split(':').collect();
        match parts.len() {
            1 | 2 => (String::new(), body.to_string()),
            3 => (parts[0].to_string(), format!("{}:{}", parts[1], parts[2])),
            _ => return Err(bad(spec, "too many colons")),
        }
    };
    if !host_ip.is_empty() && host_ip.parse::<IpAddr>().is_err() {
        return Err(bad(spec, format!("invalid IP address {host_ip:?}")));
    }
    let (host, container) = match rest.split_once(':') {
        Some((h, c)) => (h, c),
        None => ("", rest.as_str()),
    };
    if container.is_empty() {
        return Err(bad(spec, "no container port"));
    }
    let (container_port, count) = port_range(spec, container)?;
    if container_port == 0 {
        return Err(bad(spec, "container port 0 is not valid"));
    }
    let (host_port, host_count) = if host.is_empty() {
        (0, count)
    } else {
        port_range(spec, host)?
    };
    if host_count != count && !(host_count == 1 && host_port == 0) {
        return Err(bad(
            spec,
            "host and container port ranges have different lengths",
        ));
    }
    if host_port as u32 + count as u32 > 65536 || container_port as u32 + count as u32 > 65536 {
        return Err(bad(spec, "port range goes past 65535"));
    }
    Ok(PortSpec {
        host_ip,
        host_port,
        container_port,
        count,
        protocol,
    })
}

/// Parses every `-p` value, in order. Errors: the first bad one, by value.
pub fn parse_all(publish: &[String]) -> Result<Vec<PortSpec>> {
    publish.iter().map(|p| parse(p)).collect()
}

/// The specs of a container: its parsed `-p` values and, with `-P`, every
/// exposed port on a random host port (unless already published).
pub fn specs(publish: &[PortSpec], publish_all: bool, expose: &[String]) -> Result<Vec<PortSpec>> {
    let mut out = publish.to_vec();
    if publish_all {
        for e in expose {
            let (port, proto) = e.split_once('/').unwrap_or((e.as_str(), "tcp"));
            let (first, count) = port_range(e, port)?;
            for p in first..first + count {
                let taken = out.iter().any(|s| {
                    s.protocol == proto
                        && (s.container_port..s.container_port + s.count).contains(&p)
                });
                if !taken {
                    out.push(PortSpec {
                        host_ip: String::new(),
                        host_port: 0,
                        container_port: p,
                        count: 1,
                        protocol: proto.to_ascii_lowercase(),
                    });
                }
            }
        }
    }
    Ok(out)
}

fn in_use(ip: IpAddr, port: u16, protocol: &str) -> Error {
    let addr = if ip.is_unspecified() {
        String::new()
    } else {
        format!("{ip}:")
    };
    // Podman: a port that cannot be bound is exit 126.
    Error::with_code(
        crate::error::EXIT_CANNOT_INVOKE,
        format!(
            "cannot publish {addr}{port}/{protocol}: port {port} is already in use on the host"
        ),
    )
}

/// Checks that a host port can be bound now (binding it for an instant).
fn probe(ip: IpAddr, port: u16, protocol: &str) -> Result<u16> {
    let addr = SocketAddr::new(ip, port);
    let res = if protocol == "udp" {
        UdpSocket::bind(addr).and_then(|s| s.local_addr())
    } else {
        TcpListener::bind(addr).and_then(|s| s.local_addr())
    };
    match res {
        Ok(a) => Ok(a.port()),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Err(in_use(ip, port, protocol)),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Err(Error::msg(format!(
            "cannot publish port {port}/{protocol}: binding a port below 1024 needs privileges (see sysctl net.ipv4.ip_unprivileged_port_start)"
        ))),
        Err(e) => Err(Error::msg(format!(
            "cannot publish {addr}/{protocol}: {}",
            crate::error::io_reason(&e)
        ))),
    }
}

/// Checks explicit host ports up front, so that `run` fails before creating anything.
pub fn check_free(specs: &[PortSpec]) -> Result<()> {
    for s in specs.iter().filter(|s| s.host_port != 0) {
        let ip = s
            .host_ip
            .parse()
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        for p in s.host_port..s.host_port + s.count {
            probe(ip, p, &s.protocol)?;
        }
    }
    Ok(())
}

/// Turns specs into one mapping per port, choosing free host ports for 0.
pub fn allocate(specs: &[PortSpec]) -> Result<Vec<PortMapping>> {
    let mut out = Vec::new();
    for s in specs {
        let ip = s
            .host_ip
            .parse()
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        for i in 0..s.count {
            let host_port = if s.host_port == 0 {
                probe(ip, 0, &s.protocol)?
            } else {
                probe(ip, s.host_port + i, &s.protocol)?
            };
            out.push(PortMapping {
                host_ip: s.host_ip.clone(),
                host_port,
                container_port: s.container_port + i,
                protocol: s.protocol.clone(),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let p = parse("8080:80").unwrap();
        assert_eq!((p.host_port, p.container_port, p.count), (8080, 80, 1));
        assert_eq!(p.protocol, "tcp");
        let p = parse("127.0.0.1:5353:53/udp").unwrap();
        assert_eq!(p.host_ip, "127.0.0.1");
        assert_eq!((p.host_port, p.container_port), (5353, 53));
        assert_eq!(p.protocol, "udp");
        let p = parse("80").unwrap();
        assert_eq!((p.host_port, p.container_port), (0, 80));
        let p = parse("127.0.0.1::80").unwrap();
        assert_eq!((p.host_ip.as_str(), p.host_port), ("127.0.0.1", 0));
        let p = parse("9000-9002:80-82").unwrap();
        assert_eq!((p.host_port, p.container_port, p.count), (9000, 80, 3));
        let p = parse("[::1]:8080:80").unwrap();
        assert_eq!(p.host_ip, "::1");
    }

    #[test]
    fn bad_input() {
        assert!(parse("abc")
            .unwrap_err()
            .to_string()
            .contains("invalid port number"));
        assert!(parse("8080:80/sctp").is_err());
        assert!(parse("1-3:80-81").is_err());
        assert!(parse("999.1.1.1:80:80").is_err());
        assert!(parse("80:0").is_err());
        assert!(parse("1:2:3:4").is_err());
    }

    #[test]
    fn publish_all_adds_exposed() {
        let s = specs(
            &parse_all(&["8080:80".into()]).unwrap(),
            true,
            &["80/tcp".into(), "53/udp".into()],
        )
        .unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!((s[1].container_port, s[1].protocol.as_str()), (53, "udp"));
    }

    #[test]
    fn allocation_and_conflicts() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let spec = parse(&format!("127.0.0.1:{port}:80")).unwrap();
        let e = check_free(&[spec]).unwrap_err().to_string();
        assert!(e.contains(&format!("port {port} is already in use")), "{e}");
        let m = allocate(&[parse("127.0.0.1::80/udp").unwrap()]).unwrap();
        assert_ne!(m[0].host_port, 0);
        assert_eq!(
            m[0].describe(),
            format!("80/udp -> 127.0.0.1:{}", m[0].host_port)
        );
    }
}
