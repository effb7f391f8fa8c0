//! `stats`: what a container uses, read from its cgroup (cpu.stat,
//! memory.current, io.stat, pids.current) and its network namespace
//! (/proc/PID/net/dev). Without a cgroup of its own, CPU and PIDs come from
//! the processes of its pid namespace, and what cannot be read shows "--",
//! as Podman shows it.

use std::fs;
use std::path::Path;
use std::time::Instant;

use serde_json::{json, Value};

use crate::format::{bytes_size, human_size_compact};
use crate::state::container::{Container, Status};

/// The column headers of `stats`' default table (Podman 5).
pub const HEADERS: [&str; 10] = [
    "ID",
    "NAME",
    "CPU %",
    "MEM USAGE / LIMIT",
    "MEM %",
    "NET IO",
    "BLOCK IO",
    "PIDS",
    "CPU TIME",
    "AVG CPU %",
];

/// One reading of a container. Counters are cumulative; `None` where the
/// host gives no way to read the value.
#[derive(Debug, Clone)]
pub struct Reading {
    pub id: String,
    pub name: String,
    pub running: bool,
    /// CPU time used, microseconds.
    pub cpu_usec: Option<u64>,
    /// Seconds the container has run (for AVG CPU %).
    pub uptime_secs: f64,
    pub mem_usage: Option<u64>,
    pub mem_limit: u64,
    /// Received and transmitted bytes, every interface but lo.
    pub net: Option<(u64, u64)>,
    /// Read and written bytes.
    pub block: Option<(u64, u64)>,
    pub pids: u64,
    pub at: Instant,
}

/// Reads the container `c` now.
pub fn read(c: &Container) -> Reading {
    read_with(c, &super::pause::PidNamespaces::default())
}

/// Reads each of `cs` now, with one pass over /proc for all of them.
pub fn read_all<'a>(cs: impl IntoIterator<Item = &'a Container>) -> Vec<Reading> {
    let procs = super::pause::PidNamespaces::default();
    cs.into_iter().map(|c| read_with(c, &procs)).collect()
}

/// Reads `c` with the processes of `procs` (kept across containers).
///
/// What it costs, per running container: one read of its init's
/// /proc/PID/stat (alive, the same process, its CPU time), its cgroup's
/// files when it has a cgroup (else its pid namespace's processes, from
/// the container's own /proc or, where that cannot say, the one pass over
/// the host's /proc that `procs` makes for every container), and its
/// /proc/PID/net/dev; every file in one read(2). No process is spawned
/// and no namespace joined.
pub fn read_with(c: &Container, procs: &super::pause::PidNamespaces) -> Reading {
    let init = matches!(c.state.status, Status::Running | Status::Paused)
        .then(|| InitStat::read(c.state.pid, c.state.start_time))
        .flatten();
    let running = init.is_some();
    let cg = (!c.state.cgroup.is_empty() && running).then(|| Path::new(&c.state.cgroup));
    let uptime_secs = c
        .state
        .started_at
        .filter(|_| running)
        .map(|t| (chrono::Utc::now() - t).num_milliseconds().max(1) as f64 / 1000.0)
        .unwrap_or(0.0);
    // The processes of its pid namespace, only where the cgroup cannot say.
    let members = std::cell::OnceCell::new();
    let members = |init: InitStat| *members.get_or_init(|| Members::of(c.state.pid, init, procs));
    let cpu_usec = match (cg, init) {
        (Some(d), _) => keyed(&d.join("cpu.stat"), "usage_usec"),
        (None, Some(init)) => Some(members(init).cpu_ticks * TICK_USEC),
        (None, None) => None,
    };
    let mem_usage = cg.and_then(|d| number(&d.join("memory.current")));
    let mem_limit = cg
        .and_then(|d| number(&d.join("memory.max")))
        .unwrap_or_else(host_memory);
    let pids = match (cg.and_then(|d| number(&d.join("pids.current"))), init) {
        (Some(n), _) => n,
        (None, Some(init)) => members(init).count,
        (None, None) => 0,
    };
    let net = running.then(|| net_dev(c.state.pid)).flatten();
    let block = cg.and_then(|d| io_stat(&d.join("io.stat")));
    Reading {
        id: c.id.clone(),
        name: c.name.clone(),
        running,
        cpu_usec,
        uptime_secs,
        mem_usage,
        mem_limit,
        net,
        block,
        pids,
        at: Instant::now(),
    }
}

/// Microseconds in a clock tick (USER_HZ, 100 on Linux).
const TICK_USEC: u64 = 10_000;

/// What one read of a container's init's /proc/PID/stat tells.
#[derive(Debug, Clone, Copy)]
struct InitStat {
    /// utime + stime, clock ticks.
    cpu_ticks: u64,
    /// When it started, clock ticks after boot (field 22).
    start: u64,
}

/// The processes of a container's pid namespace (for a container without
/// a cgroup of its own): how many, and their CPU time.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Members {
    count: u64,
    /// utime + stime summed over them, clock ticks.
    cpu_ticks: u64,
}

impl Members {
    /// The members of the pid namespace of `pid`, whose /proc/PID/stat
    /// read as `init`: listed by the namespace's own /proc (see
    /// [`Members::own_proc`]), else found in `procs`' pass over the host's.
    fn of(pid: i32, init: InitStat, procs: &super::pause::PidNamespaces) -> Members {
        if let Some(m) = Members::own_proc(pid, init) {
            return m;
        }
        let pids = procs.of_init(pid);
        Members {
            count: pids.len() as u64,
            cpu_ticks: pids
                .iter()
                .map(|&p| {
                    if p == pid {
                        init.cpu_ticks
                    } else {
                        proc_cpu_ticks(&format!("/proc/{p}/stat")).unwrap_or(0)
                    }
                })
                .sum(),
        }
    }

    /// The members as the container's own /proc lists them, seen from the
    /// host at /proc/PID/root/proc: a handful of entries, where the host's
    /// /proc holds every process of the machine (a pass over it reads the
    /// pid namespace of each, and costs several times more than ten
    /// containers' own). Believed only when that /proc is the pid
    /// namespace whose pid 1 is this init (same start time): None when the
    /// container has none mounted there, or one of another namespace (the
    /// host's with `--pid host`, a pod's shared one whose pid 1 is another
    /// container's), or it cannot be read.
    fn own_proc(pid: i32, init: InitStat) -> Option<Members> {
        let root = format!("/proc/{pid}/root/proc");
        let one = crate::runtime::fds::proc_stat_at(&format!("{root}/1/stat"))?;
        let one = parse_init_stat(&one, init.start)?;
        let mut m = Members {
            count: 1,
            cpu_ticks: one.cpu_ticks,
        };
        for e in fs::read_dir(&root).ok()?.flatten() {
            let name = e.file_name();
            let Some(n) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            if n != 1 {
                m.count += 1;
                m.cpu_ticks += proc_cpu_ticks(&format!("{root}/{n}/stat")).unwrap_or(0);
            }
        }
        Some(m)
    }
}

impl InitStat {
    /// The init `pid` when it is still the process recorded (started at
    /// `started` clock ticks after boot; 0 trusts the pid) and not a zombie.
    fn read(pid: i32, started: u64) -> Option<InitStat> {
        if pid <= 0 {
            return None;
        }
        parse_init_stat(&crate::runtime::fds::proc_stat(&pid.to_string())?, started)
    }
}

/// [`InitStat`] from a /proc/PID/stat line, None for a zombie or another
/// process (start time not `started`). Fields are counted after the last
/// ')', as the command name may hold both spaces and parentheses.
fn parse_init_stat(stat: &str, started: u64) -> Option<InitStat> {
    let rest = &stat[stat.rfind(')')? + 1..];
    // Field 3 (state) is the first of `rest`: utime (14) its 12th, stime
    // (15) its 13th, starttime (22) its 20th.
    let f: Vec<&str> = rest.split_whitespace().take(20).collect();
    let num = |i: usize| f.get(i)?.parse::<u64>().ok();
    if f.first() == Some(&"Z") || (started != 0 && num(19)? != started) {
        return None;
    }
    Some(InitStat {
        cpu_ticks: num(11)? + num(12)?,
        start: num(19)?,
    })
}

impl Reading {
    /// The template view (Podman's field names) and table cells: CPU % over
    /// the time since `prev` (the last reading, in live mode) or since the
    /// container started.
    pub fn view(&self, prev: Option<&Reading>, no_trunc: bool) -> Value {
        let dash = || "--".to_string();
        let avg = match (self.cpu_usec, self.uptime_secs) {
            (Some(u), t) if t > 0.0 => Some(u as f64 / 1e4 / t),
            _ => None,
        };
        let cpu = match (
            prev.and_then(|p| p.cpu_usec.map(|u| (u, p.at))),
            self.cpu_usec,
        ) {
            (Some((pu, pat)), Some(u)) => {
                let dt = self.at.duration_since(pat).as_secs_f64();
                (dt > 0.0).then(|| u.saturating_sub(pu) as f64 / 1e4 / dt)
            }
            _ => avg,
        };
        let pct = |p: Option<f64>| p.map_or_else(dash, |p| format!("{p:.2}%"));
        let pair = |p: Option<(u64, u64)>| {
            p.map_or_else(dash, |(a, b)| {
                format!("{} / {}", human_size_compact(a), human_size_compact(b))
            })
        };
        let mem_usage = self.mem_usage.map_or_else(dash, |m| {
            format!(
                "{} / {}",
                human_size_compact(m),
                human_size_compact(self.mem_limit)
            )
        });
        let mem_perc = self
            .mem_usage
            .filter(|_| self.mem_limit > 0)
            .map(|m| m as f64 * 100.0 / self.mem_limit as f64);
        let id = if no_trunc {
            self.id.clone()
        } else {
            self.id.chars().take(12).collect()
        };
        let cpu_time = self
            .cpu_usec
            .map_or_else(dash, |u| format!("{:.6}s", u as f64 / 1e6));
        json!({
            "ID": id,
            "ContainerID": self.id,
            "Name": self.name,
            "CPUPerc": pct(cpu),
            "AvgCPU": pct(avg),
            "CPU": cpu.unwrap_or(0.0),
            "CPUTime": cpu_time,
            "MemUsage": mem_usage,
            // go-units' BytesSize, as Podman's: `64MiB / 256MiB`.
            "MemUsageBytes": self.mem_usage.map_or_else(dash, |m| {
                format!("{} / {}", bytes_size(m), bytes_size(self.mem_limit))
            }),
            "MemPerc": pct(mem_perc),
            "MemLimit": self.mem_limit,
            "NetIO": pair(self.net),
            "BlockIO": pair(self.block),
            "PIDs": if self.running { self.pids.to_string() } else { dash() },
            "UpTime": crate::format::human_duration(self.uptime_secs as i64),
        })
    }
}

/// `stats --format json` as Podman prints it: an array with one object per
/// container under Podman's keys (`id`, `name`, `cpu_time`, `cpu_percent`,
/// `avg_cpu`, `mem_usage`, `mem_percent`, `net_io`, `block_io`, `pids`),
/// each value the text the table shows, from the views.
pub fn podman_json(views: &[Value]) -> Value {
    const KEYS: [(&str, &str); 10] = [
        ("id", "ID"),
        ("name", "Name"),
        ("cpu_time", "CPUTime"),
        ("cpu_percent", "CPUPerc"),
        ("avg_cpu", "AvgCPU"),
        ("mem_usage", "MemUsage"),
        ("mem_percent", "MemPerc"),
        ("net_io", "NetIO"),
        ("block_io", "BlockIO"),
        ("pids", "PIDs"),
    ];
    let entry = |v: &Value| {
        let m: serde_json::Map<String, Value> = KEYS
            .iter()
            .map(|(k, from)| (k.to_string(), v[*from].clone()))
            .collect();
        Value::Object(m)
    };
    Value::Array(views.iter().map(entry).collect())
}

/// One row of the default table, from a view.
pub fn row(view: &Value) -> Vec<String> {
    [
        "ID", "Name", "CPUPerc", "MemUsage", "MemPerc", "NetIO", "BlockIO", "PIDs", "CPUTime",
        "AvgCPU",
    ]
    .iter()
    .map(|k| view[*k].as_str().unwrap_or_default().to_string())
    .collect()
}

/// A /proc or cgroup file in one read(2) (those read here fit in 4 KiB;
/// a /proc/PID/net/dev of a namespace with very many interfaces that does
/// not is read the ordinary way).
fn read_small(p: &Path) -> Option<String> {
    let mut buf = [0u8; 4 << 10];
    match crate::runtime::fds::read_proc(p.to_str()?, &mut buf) {
        Some(s) => Some(s.to_string()),
        None => fs::read_to_string(p).ok(),
    }
}

fn number(p: &Path) -> Option<u64> {
    read_small(p)?.trim().parse().ok()
}

/// `key N` in a flat-keyed file such as cpu.stat.
fn keyed(p: &Path, key: &str) -> Option<u64> {
    read_small(p)?.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

/// utime + stime of the process whose stat file is `path`, clock ticks.
fn proc_cpu_ticks(path: &str) -> Option<u64> {
    let stat = crate::runtime::fds::proc_stat_at(path)?;
    Some(parse_init_stat(&stat, 0)?.cpu_ticks)
}

/// The host's memory (MemTotal of /proc/meminfo), the limit of a container
/// without one: read once per command.
fn host_memory() -> u64 {
    static TOTAL: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TOTAL.get_or_init(|| {
        read_small(Path::new("/proc/meminfo"))
            .and_then(|t| {
                t.lines().find_map(|l| {
                    let kb = l.strip_prefix("MemTotal:")?.trim().trim_end_matches("kB");
                    kb.trim().parse::<u64>().ok()
                })
            })
            .map_or(0, |kb| kb * 1024)
    })
}

/// Received and sent bytes of the network namespace of `pid`, lo excluded.
fn net_dev(pid: i32) -> Option<(u64, u64)> {
    parse_net_dev(&read_small(Path::new(&format!("/proc/{pid}/net/dev")))?)
}

fn parse_net_dev(text: &str) -> Option<(u64, u64)> {
    let mut total = (0, 0);
    for line in text.lines().skip(2) {
        let (iface, rest) = line.split_once(':')?;
        if iface.trim() == "lo" {
            continue;
        }
        let f: Vec<u64> = rest
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        total.0 += f.first().copied().unwrap_or(0);
        total.1 += f.get(8).copied().unwrap_or(0);
    }
    Some(total)
}

/// Read and written bytes summed over every device of an io.stat.
fn io_stat(p: &Path) -> Option<(u64, u64)> {
    let text = read_small(p)?;
    let mut total = (0, 0);
    for tok in text.split_whitespace() {
        if let Some(v) = tok.strip_prefix("rbytes=") {
            total.0 += v.parse::<u64>().unwrap_or(0);
        } else if let Some(v) = tok.strip_prefix("wbytes=") {
            total.1 += v.parse::<u64>().unwrap_or(0);
        }
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn net_dev_sums_all_but_lo() {
        let t = "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    lo:     100       1    0    0    0     0          0         0      100       1    0    0    0     0       0          0\n  eth0:    1500      10    0    0    0     0          0         0      648       5    0    0    0     0       0          0\n";
        assert_eq!(parse_net_dev(t), Some((1500, 648)));
    }

    #[test]
    fn json_has_podmans_keys_and_the_tables_texts() {
        let r = Reading {
            id: "0123456789abcdef".into(),
            name: "w".into(),
            running: true,
            cpu_usec: Some(1_500_000),
            uptime_secs: 3.0,
            mem_usage: Some(64 << 20),
            mem_limit: 128 << 20,
            net: None,
            block: None,
            pids: 3,
            at: Instant::now(),
        };
        let j = podman_json(&[r.view(None, false)]);
        let o = j[0].as_object().unwrap();
        let mut keys: Vec<&str> = o.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "avg_cpu",
                "block_io",
                "cpu_percent",
                "cpu_time",
                "id",
                "mem_percent",
                "mem_usage",
                "name",
                "net_io",
                "pids"
            ]
        );
        assert_eq!(o["id"], "0123456789ab");
        assert_eq!(o["cpu_percent"], "50.00%");
        assert_eq!(o["mem_usage"], "67.1MB / 134MB");
        assert_eq!(o["mem_percent"], "50.00%");
        assert_eq!(o["pids"], "3");
        assert_eq!(o["net_io"], "--");
    }

    #[test]
    fn init_stat_is_its_cpu_time_unless_another_process_or_a_zombie() {
        // A command name with spaces and parentheses; utime 7, stime 5,
        // starttime 4242.
        let line =
            "123 (a (b) c) S 1 123 123 0 -1 4194560 90 0 0 0 7 5 0 0 20 0 1 0 4242 2322432 372";
        assert_eq!(parse_init_stat(line, 4242).map(|s| s.cpu_ticks), Some(12));
        assert_eq!(parse_init_stat(line, 0).map(|s| s.cpu_ticks), Some(12));
        assert!(parse_init_stat(line, 4243).is_none());
        let zombie = line.replace(") S ", ") Z ");
        assert!(parse_init_stat(&zombie, 4242).is_none());
    }

    #[test]
    fn io_and_cpu_files_are_read() {
        let d = tempfile::tempdir().unwrap();
        fs::write(
            d.path().join("io.stat"),
            "254:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n8:0 rbytes=1 wbytes=0\n",
        )
        .unwrap();
        assert_eq!(io_stat(&d.path().join("io.stat")), Some((4097, 8192)));
        fs::write(
            d.path().join("cpu.stat"),
            "usage_usec 2500000\nuser_usec 2000000\n",
        )
        .unwrap();
        assert_eq!(
            keyed(&d.path().join("cpu.stat"), "usage_usec"),
            Some(2_500_000)
        );
    }
}
