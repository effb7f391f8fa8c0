//! The DNS responder of user-defined networks, run by the rootless network
//! namespace holder on port 53 of every bridge gateway. A query is answered
//! from the containers on the querier's own network (by name, alias or short
//! id); other names are forwarded upstream unless the network is internal.
//! The lookup is a pure function of the records; the server around it is thin.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::time::Duration;

use super::bridge::{all_records, Record};

/// What to do with a query.
#[derive(Debug, PartialEq, Eq)]
pub enum Answer {
    /// Known name: these addresses (empty for a type we have no data for).
    Found(Vec<Ipv4Addr>),
    /// Unknown name on an internal network.
    NxDomain,
    /// Unknown name: ask the upstream resolver.
    Forward,
}

/// Answers `name` (type `qtype`) for a querier at `from`.
pub fn lookup(records: &[Record], from: Ipv4Addr, name: &str, qtype: u16) -> Answer {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let from = from.to_string();
    let Some(me) = records.iter().find(|r| r.endpoint.ip_address == from) else {
        return Answer::Forward;
    };
    let short = name.split('.').next().unwrap_or_default().to_string();
    let mut ips = Vec::new();
    let mut known = false;
    for r in records.iter().filter(|r| r.network == me.network) {
        let hit = |n: &str| {
            let n = n.to_ascii_lowercase();
            n == name || (name.ends_with(".dns.skiff") && n == short)
        };
        if hit(&r.name) || r.endpoint.aliases.iter().any(|a| hit(a)) {
            known = true;
            if qtype == 1 || qtype == 255 {
                if let Ok(ip) = r.endpoint.ip_address.parse() {
                    ips.push(ip);
                }
            }
        }
    }
    if known {
        Answer::Found(ips)
    } else if me.internal {
        Answer::NxDomain
    } else {
        Answer::Forward
    }
}

/// Parses the question of a query: (name, qtype, end of question).
pub fn question(q: &[u8]) -> Option<(String, u16, usize)> {
    if q.len() < 12 || u16::from_be_bytes([q[4], q[5]]) != 1 {
        return None;
    }
    let mut i = 12;
    let mut labels = Vec::new();
    loop {
        let len = *q.get(i)? as usize;
        i += 1;
        if len == 0 {
            break;
        }
        if len > 63 {
            return None;
        }
        labels.push(String::from_utf8_lossy(q.get(i..i + len)?).into_owned());
        i += len;
    }
    let qtype = u16::from_be_bytes([*q.get(i)?, *q.get(i + 1)?]);
    Some((labels.join("."), qtype, i + 4))
}

/// Builds the response to query `q` whose question ends at `end`.
pub fn response(q: &[u8], end: usize, rcode: u8, ips: &[Ipv4Addr]) -> Vec<u8> {
    let mut r = Vec::with_capacity(end + ips.len() * 16);
    r.extend_from_slice(&q[0..2]);
    // QR, opcode 0, AA, RD copied, RA.
    r.push(0x84 | (q[2] & 0x01));
    r.push(0x80 | rcode);
    r.extend_from_slice(&1u16.to_be_bytes());
    r.extend_from_slice(&(ips.len() as u16).to_be_bytes());
    r.extend_from_slice(&[0, 0, 0, 0]);
    r.extend_from_slice(&q[12..end]);
    for ip in ips {
        r.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1]);
        r.extend_from_slice(&5u32.to_be_bytes());
        r.extend_from_slice(&4u16.to_be_bytes());
        r.extend_from_slice(&ip.octets());
    }
    r
}

fn upstreams() -> Vec<String> {
    let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let mut v = super::etc_files::nameservers(&host, true);
    if v.is_empty() {
        v.push(super::pasta::DNS_FORWARD.to_string());
    }
    v
}

fn forward(sock: &UdpSocket, q: Vec<u8>, to: SocketAddr, end: usize) {
    let sock = match sock.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    };
    std::thread::spawn(move || {
        for up in upstreams() {
            let Ok(u) = UdpSocket::bind("0.0.0.0:0") else {
                return;
            };
            let _ = u.set_read_timeout(Some(Duration::from_secs(3)));
            if u.send_to(&q, (up.as_str(), 53)).is_err() {
                continue;
            }
            let mut buf = [0u8; 4096];
            if let Ok(n) = u.recv(&mut buf) {
                let _ = sock.send_to(&buf[..n], to);
                return;
            }
        }
        let _ = sock.send_to(&response(&q, end, 2, &[]), to);
    });
}

/// Serves queries forever, reading the records afresh for each one so that
/// containers that start, restart or join are answered at once.
pub fn serve(sock: UdpSocket, runroot: PathBuf) {
    let mut buf = [0u8; 1500];
    loop {
        let Ok((n, from)) = sock.recv_from(&mut buf) else {
            continue;
        };
        let q = &buf[..n];
        let Some((name, qtype, end)) = question(q) else {
            continue;
        };
        let SocketAddr::V4(from4) = from else {
            continue;
        };
        match lookup(&all_records(&runroot), *from4.ip(), &name, qtype) {
            Answer::Found(ips) => {
                let _ = sock.send_to(&response(q, end, 0, &ips), from);
            }
            Answer::NxDomain => {
                let _ = sock.send_to(&response(q, end, 3, &[]), from);
            }
            Answer::Forward => forward(&sock, q.to_vec(), from, end),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::Endpoint;

    fn rec(name: &str, net: &str, ip: &str, aliases: &[&str], internal: bool) -> Record {
        Record {
            container_id: format!("{name}id"),
            name: name.into(),
            network: net.into(),
            internal,
            endpoint: Endpoint {
                ip_address: ip.into(),
                aliases: aliases.iter().map(|s| s.to_string()).collect(),
                ..Default::default()
            },
        }
    }

    #[test]
    fn names_resolve_only_within_the_network() {
        let r = vec![
            rec("db", "a", "10.89.0.2", &["database"], false),
            rec("web", "a", "10.89.0.3", &[], false),
            rec("other", "b", "10.89.1.2", &[], true),
        ];
        let me = "10.89.0.3".parse().unwrap();
        assert_eq!(
            lookup(&r, me, "db", 1),
            Answer::Found(vec!["10.89.0.2".parse().unwrap()])
        );
        assert_eq!(
            lookup(&r, me, "DATABASE.", 1),
            Answer::Found(vec!["10.89.0.2".parse().unwrap()])
        );
        assert_eq!(lookup(&r, me, "db", 28), Answer::Found(vec![]));
        assert_eq!(lookup(&r, me, "other", 1), Answer::Forward);
        let isolated = "10.89.1.2".parse().unwrap();
        assert_eq!(lookup(&r, isolated, "db", 1), Answer::NxDomain);
    }

    #[test]
    fn wire_format() {
        // id 0x1234, RD, one question: "db" A IN.
        let q = [
            0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 2, b'd', b'b', 0, 0, 1, 0, 1,
        ];
        let (name, qtype, end) = question(&q).unwrap();
        assert_eq!((name.as_str(), qtype, end), ("db", 1, q.len()));
        let r = response(&q, end, 0, &["10.0.0.7".parse().unwrap()]);
        assert_eq!(&r[0..2], &[0x12, 0x34]);
        assert_eq!(u16::from_be_bytes([r[6], r[7]]), 1);
        assert_eq!(&r[r.len() - 4..], &[10, 0, 0, 7]);
    }
}
