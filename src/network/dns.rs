//! The DNS responder of user-defined networks, run by the rootless network
//! namespace holder on port 53 of every bridge gateway. A query is answered
//! from the containers on every network the querying container is on (by
//! name, alias or short id), as aardvark-dns does; other names are forwarded
//! upstream unless all of its networks are internal. Forwarding never
//! leaves a container waiting: every upstream is asked at once and the
//! first conclusive answer (NXDOMAIN included) goes back, or SERVFAIL after
//! [`FORWARD_DEADLINE`].
//!
//! Messages are decoded and encoded by `hickory-proto`. The lookup is a pure
//! function of the records ([`lookup`], [`reply`]); the server around it is
//! thin: one thread answers local names at once, and a fixed pool of
//! [`FORWARDERS`] threads takes forwarded queries from a bounded queue, so a
//! burst of queries for slow upstream names never becomes a burst of threads.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{RData, Record as DnsRecord, RecordType};

use super::bridge::{all_records, Record};

/// Threads that forward queries upstream.
pub const FORWARDERS: usize = 4;
/// Forwarded queries that may wait for a thread; past that, SERVFAIL at once.
pub const FORWARD_QUEUE: usize = 64;
/// How long the upstream servers get to answer a forwarded query: past it
/// the container gets SERVFAIL, before its resolver's own first timeout
/// (5 s for glibc, 2.5 s between musl's tries).
pub const FORWARD_DEADLINE: Duration = Duration::from_secs(2);
/// The search domain of containers on user networks (Podman's
/// `dns.podman`): `NAME.dns.skiff` is container NAME; an unknown name in
/// it is NXDOMAIN at once, never asked upstream.
pub const SEARCH_DOMAIN: &str = "dns.skiff";
/// The TTL of local answers: containers come and go.
const TTL: u32 = 5;

/// What to do with a query.
#[derive(Debug, PartialEq, Eq)]
pub enum Answer {
    /// Known name: these addresses (empty for a type we have no data for).
    Found(Vec<Ipv4Addr>),
    /// Unknown name in [`SEARCH_DOMAIN`], or every network of the querier
    /// is internal.
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
    let in_zone = name == SEARCH_DOMAIN
        || name
            .strip_suffix(SEARCH_DOMAIN)
            .is_some_and(|n| n.ends_with('.'));
    let short = name.split('.').next().unwrap_or_default().to_string();
    let mut ips = Vec::new();
    let mut known = false;
    for r in records
        .iter()
        .filter(|r| networks.contains(r.network.as_str()))
    {
        let hit = |n: &str| {
            let n = n.to_ascii_lowercase();
            n == name || (in_zone && n == short)
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
    } else if in_zone || mine.iter().all(|r| r.internal) {
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

/// The servers forwarded queries go to, as Podman 5 writes the rootless
/// network namespace's resolv.conf for aardvark-dns: the DNS forwarder of
/// the helper that connects the namespace (pasta's `--dns-forward`
/// address, which reaches the host's resolver even on its loopback, or
/// slirp4netns's 10.0.2.3), then the host's servers a namespace reaches.
fn upstreams(runroot: &Path) -> Vec<SocketAddr> {
    let forwarder = match super::bridge::outbound_helper(runroot).as_deref() {
        Some("slirp4netns") => super::slirp4netns::DNS,
        _ => super::pasta::DNS_FORWARD,
    };
    let host = super::host_resolv_conf(true);
    super::etc_files::forwarder_then_host(&[forwarder.to_string()], &host)
        .iter()
        .filter_map(|s| s.parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}

/// A query waiting for a forwarder.
struct Job {
    query: Vec<u8>,
    to: SocketAddr,
    servfail: Vec<u8>,
}

/// Sends `query` to all the `upstreams` at once and returns the first
/// conclusive reply carrying its id (NOERROR or NXDOMAIN: what musl's
/// resolver accepts); failing that, an inconclusive one (SERVFAIL,
/// REFUSED) once every server has answered or `limit` has passed; `None`
/// when none answered in time.
pub fn ask(query: &[u8], upstreams: &[SocketAddr], limit: Duration) -> Option<Vec<u8>> {
    let deadline = Instant::now() + limit;
    let id = query.get(..2)?;
    let any: SocketAddr = if upstreams.iter().all(SocketAddr::is_ipv6) {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    };
    let u = UdpSocket::bind(any).ok()?;
    let mut asked = Vec::new();
    for up in upstreams {
        if u.send_to(query, up).is_ok() {
            asked.push(*up);
        }
    }
    let mut fallback = None;
    let mut answered = Vec::new();
    let mut buf = [0u8; 4096];
    while answered.len() < asked.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || u.set_read_timeout(Some(left)).is_err() {
            break;
        }
        let (n, from) = match u.recv_from(&mut buf) {
            Ok(got) => got,
            // A signal to this process ends the wait early (SO_RCVTIMEO
            // is never restarted): wait out the rest of the limit.
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        // A stray datagram (another sender, another id, not a response)
        // is skipped, not relayed.
        if n < 12 || &buf[..2] != id || buf[2] & 0x80 == 0 || !asked.contains(&from) {
            continue;
        }
        if !answered.contains(&from) {
            answered.push(from);
        }
        match buf[3] & 0x0f {
            0 | 3 => return Some(buf[..n].to_vec()),
            _ => fallback = Some(buf[..n].to_vec()),
        }
    }
    fallback
}

/// Relays the upstream answer to `job`, or SERVFAIL when none came.
fn forward(sock: &UdpSocket, job: &Job, runroot: &Path) {
    let reply = ask(&job.query, &upstreams(runroot), FORWARD_DEADLINE);
    let _ = sock.send_to(reply.as_deref().unwrap_or(&job.servfail), job.to);
}

fn forwarder(sock: UdpSocket, jobs: Arc<Mutex<Receiver<Job>>>, runroot: PathBuf) {
    loop {
        let job = match jobs.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        match job {
            Ok(job) => forward(&sock, &job, &runroot),
            Err(_) => return,
        }
    }
}

/// Starts the forwarders; the queue is bounded by [`FORWARD_QUEUE`].
fn start_forwarders(sock: &UdpSocket, runroot: &Path) -> Option<SyncSender<Job>> {
    let (tx, rx) = mpsc::sync_channel::<Job>(FORWARD_QUEUE);
    let rx = Arc::new(Mutex::new(rx));
    let mut started = 0;
    for i in 0..FORWARDERS {
        let Ok(s) = sock.try_clone() else { break };
        let rx = Arc::clone(&rx);
        let runroot = runroot.to_path_buf();
        if std::thread::Builder::new()
            .name(format!("dns-forward-{i}"))
            .spawn(move || forwarder(s, rx, runroot))
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
    let jobs = start_forwarders(&sock, &runroot);
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
        // Our own zone is never asked upstream.
        assert_eq!(
            lookup(&r, me, "nope.dns.skiff.", RecordType::A),
            Answer::NxDomain
        );
        assert_eq!(
            lookup(&r, me, "other.dns.skiff", RecordType::A),
            Answer::NxDomain
        );
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

    /// A server on 127.0.0.1 that answers each query with its response
    /// code `rcode` once, or stays silent (`None`).
    fn upstream(rcode: Option<ResponseCode>) -> SocketAddr {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = s.local_addr().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            let Ok((n, from)) = s.recv_from(&mut buf) else {
                return;
            };
            let Some(code) = rcode else {
                // Hold the socket until the test is over: silent, not refused.
                std::thread::sleep(Duration::from_secs(5));
                return;
            };
            let q = Message::from_vec(&buf[..n]).unwrap();
            let mut r = Message::new(q.metadata.id, MessageType::Response, OpCode::Query);
            r.metadata.response_code = code;
            r.add_queries(q.queries.iter().cloned());
            let _ = s.send_to(&r.to_vec().unwrap(), from);
        });
        addr
    }

    fn rcode(reply: Option<Vec<u8>>) -> Option<ResponseCode> {
        reply.map(|r| Message::from_vec(&r).unwrap().metadata.response_code)
    }

    #[test]
    fn forwarding_takes_the_first_conclusive_answer_and_never_hangs() {
        let q = query("nope.test.", RecordType::A);
        // Not a timing test: the silent server would hold `ask` for the
        // whole 10 s limit, a relayed answer comes long before it even on
        // a loaded machine.
        let limit = Duration::from_secs(10);
        let t = Instant::now();
        let ups = [
            upstream(None),
            upstream(Some(ResponseCode::ServFail)),
            upstream(Some(ResponseCode::NXDomain)),
        ];
        assert_eq!(rcode(ask(&q, &ups, limit)), Some(ResponseCode::NXDomain));
        assert!(
            t.elapsed() < limit,
            "a conclusive answer is relayed without waiting for the silent server"
        );
        // Only failures: the failure, once all have answered.
        let ups = [
            upstream(Some(ResponseCode::ServFail)),
            upstream(Some(ResponseCode::Refused)),
        ];
        let got = rcode(ask(&q, &ups, Duration::from_secs(5)));
        assert!(matches!(
            got,
            Some(ResponseCode::ServFail | ResponseCode::Refused)
        ));
        // A silent server: nothing, once the limit has passed (and it does
        // return: the bound is generous, a loaded machine may be slow).
        let limit = Duration::from_millis(800);
        let t = Instant::now();
        assert_eq!(ask(&q, &[upstream(None)], limit), None);
        let took = t.elapsed();
        assert!(
            took >= limit && took < limit + Duration::from_secs(10),
            "{took:?}"
        );
        assert_eq!(ask(&q, &[], limit), None);
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
