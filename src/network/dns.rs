//! The DNS responder of user-defined networks, run by the rootless network
//! namespace holder on port 53 of every bridge gateway. A query is answered
//! from the containers on every network the querying container is on (by
//! name, alias or short id), as aardvark-dns does; other names are forwarded
//! upstream unless all of its networks are internal.
//!
//! Messages are decoded and encoded by `hickory-proto`. The lookup is a pure
//! function of the records ([`lookup`], [`reply`]); the server around it is
//! thin: one thread answers local names at once, and a fixed pool of
//! [`FORWARDERS`] threads takes forwarded queries from a bounded queue, so a
//! burst of queries for slow upstream names never becomes a burst of threads.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{RData, Record as DnsRecord, RecordType};

use super::bridge::{all_records, Record};

/// Threads that forward queries upstream.
pub const FORWARDERS: usize = 4;
/// Forwarded queries that may wait for a thread; past that, SERVFAIL at once.
pub const FORWARD_QUEUE: usize = 64;
/// How long one upstream server gets to answer.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(3);
/// The TTL of local answers: containers come and go.
const TTL: u32 = 5;

/// What to do with a query.
#[derive(Debug, PartialEq, Eq)]
pub enum Answer {
    /// Known name: these addresses (empty for a type we have no data for).
    Found(Vec<Ipv4Addr>),
    /// Unknown name and every network of the querier is internal.
    NxDomain,
    /// Unknown name: ask the upstream resolver.
    Forward,
}

/// Answers `name` (type `qtype`) for a querier at `from`: the querier is
/// the container that has address `from` on some network, and every
/// network that container is on is searched (a container connected to a
/// second network resolves the containers there too).
pub fn lookup(records: &[Record], from: Ipv4Addr, name: &str, qtype: RecordType) -> Answer {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let from = from.to_string();
    let Some(me) = records.iter().find(|r| r.endpoint.ip_address == from) else {
        return Answer::Forward;
    };
    let mine: Vec<&Record> = records
        .iter()
        .filter(|r| r.container_id == me.container_id)
        .collect();
    let networks: BTreeSet<&str> = mine.iter().map(|r| r.network.as_str()).collect();
    let short = name.split('.').next().unwrap_or_default().to_string();
    let mut ips = Vec::new();
    let mut known = false;
    for r in records
        .iter()
        .filter(|r| networks.contains(r.network.as_str()))
    {
        let hit = |n: &str| {
            let n = n.to_ascii_lowercase();
            n == name || (name.ends_with(".dns.skiff") && n == short)
        };
        if hit(&r.name) || r.endpoint.aliases.iter().any(|a| hit(a)) {
            known = true;
            if matches!(qtype, RecordType::A | RecordType::ANY) {
                if let Ok(ip) = r.endpoint.ip_address.parse() {
                    if !ips.contains(&ip) {
                        ips.push(ip);
                    }
                }
            }
        }
    }
    if known {
        Answer::Found(ips)
    } else if mine.iter().all(|r| r.internal) {
        Answer::NxDomain
    } else {
        Answer::Forward
    }
}

/// What the server does with one datagram.
#[derive(Debug, PartialEq, Eq)]
pub enum Reply {
    /// Send these bytes back.
    Send(Vec<u8>),
    /// Hand the query to a forwarder; `servfail` is the reply if that fails.
    Forward { servfail: Vec<u8> },
    /// Not a query we can answer (not DNS, or a response): say nothing.
    Drop,
}

/// Decides the reply to the datagram `query` from `from`, given the records.
pub fn reply(records: &[Record], from: Ipv4Addr, query: &[u8]) -> Reply {
    let Ok(msg) = Message::from_vec(query) else {
        return Reply::Drop;
    };
    if msg.metadata.message_type != MessageType::Query {
        return Reply::Drop;
    }
    let respond = |code: ResponseCode, ips: &[Ipv4Addr]| {
        let mut r = Message::new(msg.metadata.id, MessageType::Response, msg.metadata.op_code);
        r.metadata = Metadata::response_from_request(&msg.metadata);
        r.metadata.recursion_available = true;
        r.metadata.authoritative = code == ResponseCode::NoError && !ips.is_empty();
        r.metadata.response_code = code;
        r.add_queries(msg.queries.iter().cloned());
        if let Some(q) = msg.queries.first() {
            for ip in ips {
                r.add_answer(DnsRecord::from_rdata(
                    q.name().clone(),
                    TTL,
                    RData::A(A(*ip)),
                ));
            }
        }
        r.to_vec().unwrap_or_default()
    };
    let [q] = msg.queries.as_slice() else {
        return Reply::Send(respond(ResponseCode::FormErr, &[]));
    };
    if msg.metadata.op_code != OpCode::Query {
        return Reply::Send(respond(ResponseCode::NotImp, &[]));
    }
    match lookup(records, from, &q.name().to_ascii(), q.query_type()) {
        Answer::Found(ips) => Reply::Send(respond(ResponseCode::NoError, &ips)),
        Answer::NxDomain => Reply::Send(respond(ResponseCode::NXDomain, &[])),
        Answer::Forward => Reply::Forward {
            servfail: respond(ResponseCode::ServFail, &[]),
        },
    }
}

fn upstreams() -> Vec<String> {
    let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let mut v = super::etc_files::nameservers(&host, true);
    if v.is_empty() {
        v.push(super::pasta::DNS_FORWARD.to_string());
    }
    v
}

/// A query waiting for a forwarder.
struct Job {
    query: Vec<u8>,
    to: SocketAddr,
    servfail: Vec<u8>,
}

/// Asks each upstream server in turn; the first reply carrying the query's
/// id goes back to the container, else SERVFAIL.
fn forward(sock: &UdpSocket, job: &Job) {
    let id = &job.query[..2];
    for up in upstreams() {
        let Ok(u) = UdpSocket::bind("0.0.0.0:0") else {
            break;
        };
        let _ = u.set_read_timeout(Some(UPSTREAM_TIMEOUT));
        if u.connect((up.as_str(), 53)).is_err() || u.send(&job.query).is_err() {
            continue;
        }
        let mut buf = [0u8; 4096];
        // A stray datagram with another id is skipped, not relayed.
        while let Ok(n) = u.recv(&mut buf) {
            if n >= 12 && &buf[..2] == id {
                let _ = sock.send_to(&buf[..n], job.to);
                return;
            }
        }
    }
    let _ = sock.send_to(&job.servfail, job.to);
}

fn forwarder(sock: UdpSocket, jobs: Arc<Mutex<Receiver<Job>>>) {
    loop {
        let job = match jobs.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        match job {
            Ok(job) => forward(&sock, &job),
            Err(_) => return,
        }
    }
}

/// Starts the forwarders; the queue is bounded by [`FORWARD_QUEUE`].
fn start_forwarders(sock: &UdpSocket) -> Option<SyncSender<Job>> {
    let (tx, rx) = mpsc::sync_channel::<Job>(FORWARD_QUEUE);
    let rx = Arc::new(Mutex::new(rx));
    let mut started = 0;
    for i in 0..FORWARDERS {
        let Ok(s) = sock.try_clone() else { break };
        let rx = Arc::clone(&rx);
        if std::thread::Builder::new()
            .name(format!("dns-forward-{i}"))
            .spawn(move || forwarder(s, rx))
            .is_ok()
        {
            started += 1;
        }
    }
    (started > 0).then_some(tx)
}

/// Serves queries forever, reading the records afresh for each one so that
/// containers that start, restart, join or leave are answered at once.
pub fn serve(sock: UdpSocket, runroot: PathBuf) {
    let jobs = start_forwarders(&sock);
    let mut buf = [0u8; 4096];
    loop {
        let Ok((n, from)) = sock.recv_from(&mut buf) else {
            continue;
        };
        let SocketAddr::V4(from4) = from else {
            continue;
        };
        match reply(&all_records(&runroot), *from4.ip(), &buf[..n]) {
            Reply::Send(bytes) => {
                let _ = sock.send_to(&bytes, from);
            }
            Reply::Forward { servfail } => {
                let job = Job {
                    query: buf[..n].to_vec(),
                    to: from,
                    servfail,
                };
                let refused = match &jobs {
                    Some(tx) => match tx.try_send(job) {
                        Ok(()) => None,
                        Err(TrySendError::Full(j) | TrySendError::Disconnected(j)) => Some(j),
                    },
                    None => Some(job),
                };
                if let Some(j) = refused {
                    let _ = sock.send_to(&j.servfail, from);
                }
            }
            Reply::Drop => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::Endpoint;
    use hickory_proto::op::Query;
    use hickory_proto::rr::Name;

    fn rec(id: &str, name: &str, net: &str, ip: &str, aliases: &[&str], internal: bool) -> Record {
        Record {
            container_id: format!("{id}0000"),
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

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn names_resolve_only_within_the_network() {
        let r = vec![
            rec("db", "db", "a", "10.89.0.2", &["database"], false),
            rec("web", "web", "a", "10.89.0.3", &[], false),
            rec("other", "other", "b", "10.89.1.2", &[], true),
        ];
        let me = ip("10.89.0.3");
        assert_eq!(
            lookup(&r, me, "db", RecordType::A),
            Answer::Found(vec![ip("10.89.0.2")])
        );
        assert_eq!(
            lookup(&r, me, "DATABASE.", RecordType::A),
            Answer::Found(vec![ip("10.89.0.2")])
        );
        assert_eq!(
            lookup(&r, me, "db.dns.skiff.", RecordType::A),
            Answer::Found(vec![ip("10.89.0.2")])
        );
        assert_eq!(
            lookup(&r, me, "db", RecordType::AAAA),
            Answer::Found(vec![])
        );
        assert_eq!(lookup(&r, me, "other", RecordType::A), Answer::Forward);
        let isolated = ip("10.89.1.2");
        assert_eq!(lookup(&r, isolated, "db", RecordType::A), Answer::NxDomain);
        // A stranger (not a container) is forwarded.
        assert_eq!(
            lookup(&r, ip("10.1.1.1"), "db", RecordType::A),
            Answer::Forward
        );
    }

    #[test]
    fn a_container_on_two_networks_resolves_on_both() {
        // web is on a (10.89.0.3) and, after `network connect`, on b.
        let r = vec![
            rec("web", "web", "a", "10.89.0.3", &[], false),
            rec("db", "db", "a", "10.89.0.2", &[], false),
            rec("web", "web", "b", "10.89.1.3", &[], true),
            rec("cache", "cache", "b", "10.89.1.2", &["redis"], true),
            rec("far", "far", "c", "10.89.2.2", &[], false),
        ];
        for from in ["10.89.0.3", "10.89.1.3"] {
            let me = ip(from);
            assert_eq!(
                lookup(&r, me, "cache", RecordType::A),
                Answer::Found(vec![ip("10.89.1.2")]),
                "{from}"
            );
            assert_eq!(
                lookup(&r, me, "redis", RecordType::A),
                Answer::Found(vec![ip("10.89.1.2")])
            );
            assert_eq!(
                lookup(&r, me, "db", RecordType::A),
                Answer::Found(vec![ip("10.89.0.2")])
            );
            // Not on a network of ours; and one of ours is not internal.
            assert_eq!(lookup(&r, me, "far", RecordType::A), Answer::Forward);
        }
        // Its own name gives both of its addresses.
        assert_eq!(
            lookup(&r, ip("10.89.1.2"), "web", RecordType::A),
            Answer::Found(vec![ip("10.89.1.3")])
        );
        assert_eq!(
            lookup(&r, ip("10.89.0.2"), "web", RecordType::A),
            Answer::Found(vec![ip("10.89.0.3")])
        );
        assert_eq!(
            lookup(&r, ip("10.89.0.3"), "web", RecordType::A),
            Answer::Found(vec![ip("10.89.0.3"), ip("10.89.1.3")])
        );
        // cache is only on an internal network: unknown names end there.
        assert_eq!(
            lookup(&r, ip("10.89.1.2"), "far", RecordType::A),
            Answer::NxDomain
        );
    }

    fn query(name: &str, qtype: RecordType) -> Vec<u8> {
        let mut m = Message::query();
        m.metadata.id = 0x1234;
        m.metadata.recursion_desired = true;
        m.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
        m.to_vec().unwrap()
    }

    #[test]
    fn replies_on_the_wire() {
        let r = vec![
            rec("db", "db", "a", "10.89.0.2", &[], false),
            rec("web", "web", "a", "10.89.0.3", &[], false),
            rec("in", "in", "i", "10.89.9.2", &[], true),
        ];
        let Reply::Send(bytes) = reply(&r, ip("10.89.0.3"), &query("db.", RecordType::A)) else {
            panic!("a local name is answered at once");
        };
        let m = Message::from_vec(&bytes).unwrap();
        assert_eq!(m.metadata.id, 0x1234);
        assert_eq!(m.metadata.message_type, MessageType::Response);
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert!(m.metadata.recursion_desired && m.metadata.authoritative);
        assert_eq!(m.queries.len(), 1);
        assert_eq!(m.answers.len(), 1);
        assert_eq!(m.answers[0].data, RData::A(A(ip("10.89.0.2"))));
        assert_eq!(m.answers[0].name.to_ascii(), "db.");

        let Reply::Send(bytes) = reply(&r, ip("10.89.9.2"), &query("nope.", RecordType::A)) else {
            panic!("internal networks answer NXDOMAIN");
        };
        let m = Message::from_vec(&bytes).unwrap();
        assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
        assert!(m.answers.is_empty());

        let Reply::Forward { servfail } =
            reply(&r, ip("10.89.0.3"), &query("example.com.", RecordType::A))
        else {
            panic!("unknown names are forwarded");
        };
        let m = Message::from_vec(&servfail).unwrap();
        assert_eq!(
            (m.metadata.id, m.metadata.response_code),
            (0x1234, ResponseCode::ServFail)
        );

        assert_eq!(reply(&r, ip("10.89.0.3"), b"garbage"), Reply::Drop);
        let mut response = Message::from_vec(&query("db.", RecordType::A)).unwrap();
        response.metadata.message_type = MessageType::Response;
        assert_eq!(
            reply(&r, ip("10.89.0.3"), &response.to_vec().unwrap()),
            Reply::Drop
        );
    }
}
