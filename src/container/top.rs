//! `top`: the processes of a running container as Podman's `top` shows
//! them. Podman reads them with psgo, whose AIX format descriptors (`pid`,
//! `user`, `args`, `%C`, `hpid`, `capeff`...) pick the columns; anything
//! else (`-eo pid,comm`) is handed to ps(1) in the container, as Podman
//! falls back to it.

use std::collections::HashMap;

use crate::state::container::{Container, Status};
use crate::{Context, Error, Result};

/// One psgo descriptor: its AIX code (`%p`, empty when it has none), its
/// name (`pid`) and the column header Podman prints (`PID`).
#[derive(Debug, PartialEq, Eq)]
pub struct Descriptor {
    pub code: &'static str,
    pub name: &'static str,
    pub header: &'static str,
}

const fn d(code: &'static str, name: &'static str, header: &'static str) -> Descriptor {
    Descriptor { code, name, header }
}

/// Every descriptor psgo (and so Podman's `top`) knows, in psgo's order.
pub const DESCRIPTORS: &[Descriptor] = &[
    d("%C", "pcpu", "%CPU"),
    d("%G", "group", "GROUP"),
    d("", "groups", "GROUPS"),
    d("%P", "ppid", "PPID"),
    d("%U", "user", "USER"),
    d("", "uid", "UID"),
    d("%a", "args", "COMMAND"),
    d("%c", "comm", "COMMAND"),
    d("%g", "rgroup", "RGROUP"),
    d("%n", "nice", "NI"),
    d("%p", "pid", "PID"),
    d("%r", "pgid", "PGID"),
    d("%t", "etime", "ELAPSED"),
    d("%u", "ruser", "RUSER"),
    d("%x", "time", "TIME"),
    d("%y", "tty", "TTY"),
    d("%z", "vsz", "VSZ"),
    d("", "capamb", "AMBIENT CAPS"),
    d("", "capinh", "INHERITED CAPS"),
    d("", "capprm", "PERMITTED CAPS"),
    d("", "capeff", "EFFECTIVE CAPS"),
    d("", "capbnd", "BOUNDING CAPS"),
    d("", "seccomp", "SECCOMP"),
    d("", "label", "LABEL"),
    d("", "hpid", "HPID"),
    d("", "huser", "HUSER"),
    d("", "huid", "HUID"),
    d("", "hgroup", "HGROUP"),
    d("", "hgroups", "HGROUPS"),
    d("", "rss", "RSS"),
    d("", "state", "STATE"),
    d("", "stime", "STIME"),
];

/// Podman's columns when none are named (psgo's `ps -ef` set).
pub const DEFAULT: [&str; 8] = [
    "user", "pid", "ppid", "pcpu", "etime", "tty", "time", "args",
];

/// The descriptors `args` name, comma lists split as Podman splits them
/// (none: [`DEFAULT`]); `Err` carries the first word psgo does not know.
pub fn parse(args: &[String]) -> std::result::Result<Vec<&'static Descriptor>, String> {
    let words: Vec<&str> = args
        .iter()
        .flat_map(|a| a.split(','))
        .filter(|w| !w.is_empty())
        .collect();
    let words = if words.is_empty() {
        DEFAULT.to_vec()
    } else {
        words
    };
    words
        .into_iter()
        .map(|w| {
            let w = w.trim();
            DESCRIPTORS
                .iter()
                .find(|d| w == d.name || (!d.code.is_empty() && w == d.code))
                .ok_or_else(|| w.to_string())
        })
        .collect()
}

/// What `top` prints.
#[derive(Debug)]
pub enum Output {
    /// psgo's columns: the headers, then one row per process.
    Table(Vec<&'static str>, Vec<Vec<String>>),
    /// ps(1)'s own lines, printed as they are.
    Lines(Vec<String>),
}

/// The processes of running container `c` with the columns `args` name
/// (Podman's `top CONTAINER [DESCRIPTORS...]`): psgo's descriptors make a
/// table; any other word runs `ps ARGS` on the container's processes and
/// keeps its lines but ps's own (Podman's fallback, [`ps_lines`]). Errors:
/// the container is not running, or ps(1) failed (its first line of error
/// in the message).
pub fn top(ctx: &Context, c: &Container, args: &[String]) -> Result<Output> {
    if !matches!(super::effective_status(c), Status::Running | Status::Paused) {
        return Err(Error::msg(format!(
            "top can only be used on running containers: {} is not running",
            c.name
        )));
    }
    match parse(args) {
        Ok(d) => Ok(Output::Table(
            d.iter().map(|d| d.header).collect(),
            rows(c, &d),
        )),
        Err(_) => ps_lines(ctx, c, args).map(Output::Lines),
    }
}

/// `ps ARGS` on the container's processes, its lines without those naming
/// `ARGS` (ps's own, as Podman filters); a single argument is split as a
/// shell would (`top web "-eo pid,comm"`). As Podman's `Top`: the host's
/// ps in the container's pid namespace (`runtime::process::host_ps`) when
/// the container lacks CAP_SYS_PTRACE (with it, it could reach into that
/// process) and the host has ps; else, or when that cannot be set up (with
/// Podman's warning), the container's own ps.
fn ps_lines(ctx: &Context, c: &Container, args: &[String]) -> Result<Vec<String>> {
    let ps_args: Vec<String> = match args {
        [one] => crate::systemd::quadlet::split_words(one)
            .map_err(|e| Error::msg(format!("parsing ps args: {e}")))?
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect(),
        _ => args.to_vec(),
    };
    let ptrace = c.config.privileged
        || c.config
            .capabilities
            .names()
            .iter()
            .any(|n| n == "CAP_SYS_PTRACE");
    let text = match (ptrace, crate::network::helper::lookup("ps")) {
        (false, Some(ps)) => match on_host(c, &ps, &ps_args) {
            Ok(run) if run.code == 0 => String::from_utf8_lossy(&run.stdout).into_owned(),
            Ok(run) => {
                let err = String::from_utf8_lossy(&run.stderr);
                let first = err.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
                return Err(Error::msg(format!(
                    "ps(1) failed with exit code {}: {}",
                    run.code,
                    first.trim()
                )));
            }
            Err(e) => {
                tracing::warn!(
                    "Falling back to container ps(1), could not execute ps(1) from the host: {e}"
                );
                ps_in_container(ctx, c, ps_args)?
            }
        },
        _ => ps_in_container(ctx, c, ps_args)?,
    };
    let own = args.join(" ");
    Ok(text
        .lines()
        .filter(|l| !l.contains(&own))
        .map(str::to_string)
        .collect())
}

/// The host's `ps` with `args` in the pid namespace of `c`'s init (named by
/// pidfd, checked against its start time).
fn on_host(
    c: &Container,
    ps: &std::path::Path,
    args: &[String],
) -> Result<crate::runtime::process::PsRun> {
    let init = super::process(c)
        .ok_or_else(|| Error::msg(format!("container {} is not running", c.name)))?;
    Ok(crate::runtime::process::host_ps(
        std::os::fd::AsFd::as_fd(&init),
        init.pid(),
        ps,
        args,
    )?)
}

/// `ps ARGS` run in the container as `exec` runs a command: its output.
fn ps_in_container(ctx: &Context, c: &Container, ps_args: Vec<String>) -> Result<String> {
    let mut command = vec!["ps".to_string()];
    command.extend(ps_args);
    let run = super::exec::run_captured(ctx, c, command, std::time::Duration::from_secs(30))?;
    let text = String::from_utf8_lossy(&run.output).into_owned();
    if run.exit_code != 0 {
        return Err(Error::msg(format!(
            "executing ps(1) in container: runtime failed with exit status: {} and output: {}",
            run.exit_code,
            text.trim_end()
        )));
    }
    Ok(text)
}

/// The id maps that turn the ids /proc shows skiff into the container's
/// and the host's, and the container's names for them.
struct Ids {
    /// skiff and the container share a user namespace: /proc shows
    /// container ids already.
    same_ns: bool,
    /// The container's map as skiff reads it: (inside, outside, count).
    uid_map: Vec<(u64, u64, u64)>,
    gid_map: Vec<(u64, u64, u64)>,
    /// skiff's own map to its parent namespace.
    self_uid_map: Vec<(u64, u64, u64)>,
    self_gid_map: Vec<(u64, u64, u64)>,
    passwd: String,
    group: String,
}

fn read_map(path: &str) -> Vec<(u64, u64, u64)> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let f: Vec<u64> = l
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            (f.len() == 3).then(|| (f[0], f[1], f[2]))
        })
        .collect()
}

/// `id` through `map` from its first column to its second (`forward`) or
/// back; the kernel's overflow id when it is not mapped.
fn map_id(id: u64, map: &[(u64, u64, u64)], forward: bool) -> u64 {
    map.iter()
        .find_map(|&(inside, outside, count)| {
            let (from, to) = if forward {
                (inside, outside)
            } else {
                (outside, inside)
            };
            (id >= from && id < from + count).then(|| to + (id - from))
        })
        .unwrap_or(65534)
}

impl Ids {
    fn of(c: &Container) -> Ids {
        let pid = c.state.pid;
        let same_ns = std::fs::read_link("/proc/self/ns/user").ok()
            == std::fs::read_link(format!("/proc/{pid}/ns/user")).ok();
        // Through descriptors inside the root: the container may have made
        // its /etc/passwd a FIFO or a link out of the root.
        let root = std::path::PathBuf::from(format!("/proc/{pid}/root"));
        let file = |f: &str| crate::runtime::user::read_root_file(&root, f).unwrap_or_default();
        Ids {
            same_ns,
            uid_map: read_map(&format!("/proc/{pid}/uid_map")),
            gid_map: read_map(&format!("/proc/{pid}/gid_map")),
            self_uid_map: read_map("/proc/self/uid_map"),
            self_gid_map: read_map("/proc/self/gid_map"),
            passwd: file("/etc/passwd"),
            group: file("/etc/group"),
        }
    }

    fn container_uid(&self, id: u64) -> u64 {
        if self.same_ns {
            id
        } else {
            map_id(id, &self.uid_map, false)
        }
    }

    fn container_gid(&self, id: u64) -> u64 {
        if self.same_ns {
            id
        } else {
            map_id(id, &self.gid_map, false)
        }
    }

    /// The id on the host (skiff's own namespace mapped to its parent's).
    fn host_uid(&self, id: u64) -> u64 {
        map_id(id, &self.self_uid_map, true)
    }

    fn host_gid(&self, id: u64) -> u64 {
        map_id(id, &self.self_gid_map, true)
    }

    /// The name of `id` in the container's passwd (or group) file, else the
    /// number, as psgo looks names up inside the container.
    fn name(file: &str, id: u64) -> String {
        let id = id.to_string();
        file.lines()
            .find(|l| l.split(':').nth(2) == Some(id.as_str()))
            .and_then(|l| l.split(':').next())
            .map(str::to_string)
            .unwrap_or(id)
    }

    fn user(&self, id: u64) -> String {
        Ids::name(&self.passwd, id)
    }

    fn group(&self, id: u64) -> String {
        Ids::name(&self.group, id)
    }
}

/// One process as /proc shows it to skiff.
struct Proc {
    host_pid: i32,
    status: String,
    /// /proc/PID/stat's fields after the command name (state first).
    stat: Vec<String>,
    comm: String,
    cmdline: Vec<u8>,
}

impl Proc {
    fn read(host_pid: i32) -> Option<Proc> {
        let status = std::fs::read_to_string(format!("/proc/{host_pid}/status")).ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{host_pid}/stat")).ok()?;
        let (head, tail) = stat.rsplit_once(')')?;
        let comm = head
            .split_once('(')
            .map(|(_, c)| c)
            .unwrap_or("")
            .to_string();
        Some(Proc {
            host_pid,
            status,
            stat: tail.split_whitespace().map(str::to_string).collect(),
            comm,
            cmdline: std::fs::read(format!("/proc/{host_pid}/cmdline")).unwrap_or_default(),
        })
    }

    fn field(&self, key: &str) -> &str {
        self.status
            .lines()
            .find_map(|l| l.strip_prefix(key).and_then(|v| v.strip_prefix(':')))
            .map(str::trim)
            .unwrap_or("")
    }

    /// The `n`th number of a status line (`Uid:` real, effective...).
    fn ids(&self, key: &str) -> Vec<u64> {
        self.field(key)
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect()
    }

    fn stat_num(&self, i: usize) -> i64 {
        self.stat.get(i).and_then(|x| x.parse().ok()).unwrap_or(0)
    }

    /// Its pid in the container's namespace (the last of `NSpid:`).
    fn ns_pid(&self) -> i32 {
        self.field("NSpid")
            .split_whitespace()
            .last()
            .and_then(|p| p.parse().ok())
            .unwrap_or(0)
    }
}

/// What every row is measured against: clock ticks, boot time, now.
struct Clock {
    hz: i64,
    boot: i64,
    now_ns: i128,
}

impl Clock {
    fn now() -> Clock {
        let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
            .ok()
            .flatten()
            .unwrap_or(100)
            .max(1);
        let boot = std::fs::read_to_string("/proc/stat")
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("btime "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        let now_ns = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as i128)
            .unwrap_or(0);
        Clock { hz, boot, now_ns }
    }

    /// Start in whole seconds since the epoch, as psgo computes it.
    fn start(&self, p: &Proc) -> i64 {
        self.boot + p.stat_num(19) / self.hz
    }

    fn elapsed_ns(&self, p: &Proc) -> u128 {
        (self.now_ns - self.start(p) as i128 * 1_000_000_000).max(0) as u128
    }

    /// User plus system time, whole seconds (psgo truncates).
    fn cpu_secs(&self, p: &Proc) -> i64 {
        (p.stat_num(11) + p.stat_num(12)) / self.hz
    }
}

/// One row per process of `c` (ascending container pid) with the columns
/// `descriptors` name, each as psgo writes it.
pub fn rows(c: &Container, descriptors: &[&Descriptor]) -> Vec<Vec<String>> {
    let ids = Ids::of(c);
    let clock = Clock::now();
    let mut procs: Vec<Proc> = super::pause::processes(c)
        .into_iter()
        .filter_map(Proc::read)
        .collect();
    procs.sort_by_key(Proc::ns_pid);
    let in_ns: HashMap<i64, i32> = procs
        .iter()
        .map(|p| (p.host_pid as i64, p.ns_pid()))
        .collect();
    let ns = |host: i64| in_ns.get(&host).copied().unwrap_or(0).to_string();
    procs
        .iter()
        .map(|p| {
            descriptors
                .iter()
                .map(|d| column(d.name, p, &ids, &clock, &ns))
                .collect()
        })
        .collect()
}

fn column(name: &str, p: &Proc, ids: &Ids, clock: &Clock, ns: &dyn Fn(i64) -> String) -> String {
    let uid = |i: usize| ids.container_uid(p.ids("Uid").get(i).copied().unwrap_or(0));
    let gid = |i: usize| ids.container_gid(p.ids("Gid").get(i).copied().unwrap_or(0));
    let host_uid = || ids.host_uid(p.ids("Uid").get(1).copied().unwrap_or(0));
    let host_gid = || ids.host_gid(p.ids("Gid").get(1).copied().unwrap_or(0));
    match name {
        "pid" => p.ns_pid().to_string(),
        "ppid" => ns(p.field("PPid").parse().unwrap_or(0)),
        "pgid" => ns(p.stat_num(2)),
        "user" => ids.user(uid(1)),
        "ruser" => ids.user(uid(0)),
        "uid" => uid(1).to_string(),
        "group" => ids.group(gid(1)),
        "rgroup" => ids.group(gid(0)),
        "groups" => p
            .ids("Groups")
            .into_iter()
            .map(|g| ids.group(ids.container_gid(g)))
            .collect::<Vec<_>>()
            .join(","),
        "args" => {
            // psgo splits at every NUL, the one that ends the line too.
            let parts: Vec<String> = p
                .cmdline
                .split(|&b| b == 0)
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect();
            if parts.first().is_none_or(|s| s.is_empty()) {
                format!("[{}]", p.field("Name"))
            } else {
                parts.join(" ")
            }
        }
        "comm" => p.comm.clone(),
        "nice" => p.stat_num(16).to_string(),
        "etime" => go_duration(clock.elapsed_ns(p)),
        "time" => go_duration(clock.cpu_secs(p) as u128 * 1_000_000_000),
        "pcpu" => {
            let elapsed = clock.elapsed_ns(p) as f64 / 1e9;
            let pct = if elapsed > 0.0 {
                100.0 * clock.cpu_secs(p) as f64 / elapsed
            } else {
                0.0
            };
            format!("{pct:.3}")
        }
        "tty" => tty_name(p.stat_num(4) as u64),
        "vsz" => (p.stat_num(20) / 1024).to_string(),
        "capamb" => caps(p.field("CapAmb")),
        "capinh" => caps(p.field("CapInh")),
        "capprm" => caps(p.field("CapPrm")),
        "capeff" => caps(p.field("CapEff")),
        "capbnd" => caps(p.field("CapBnd")),
        "seccomp" => match p.field("Seccomp") {
            "0" => "disabled",
            "1" => "strict",
            "2" => "filter",
            _ => "?",
        }
        .to_string(),
        "label" => std::fs::read_to_string(format!("/proc/{}/attr/current", p.host_pid))
            .map(|l| l.trim_matches('\n').trim_end_matches('\0').to_string())
            .unwrap_or_else(|_| "?".into()),
        "hpid" => p.host_pid.to_string(),
        "huser" => ids.user(host_uid()),
        "huid" => host_uid().to_string(),
        "hgroup" => ids.group(host_gid()),
        "hgroups" => p
            .ids("Groups")
            .into_iter()
            .map(|g| ids.group(ids.host_gid(g)))
            .collect::<Vec<_>>()
            .join(","),
        "rss" => p
            .field("VmRSS")
            .split_whitespace()
            .next()
            .unwrap_or("0")
            .to_string(),
        "state" => p
            .field("State")
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_string(),
        "stime" => go_time(clock.start(p)),
        _ => String::new(),
    }
}

/// A capability mask as psgo names it: `CHOWN,KILL,...` sorted, `full`
/// for every capability, `none` for none.
fn caps(hex: &str) -> String {
    const FULL: u64 = 0x1FF_FFFF_FFFF;
    let Ok(mask) = u64::from_str_radix(hex, 16) else {
        return String::new();
    };
    if mask == FULL {
        return "full".into();
    }
    let mut names: Vec<String> = (0..64u8)
        .filter(|i| mask >> i & 1 == 1)
        .map(|i| {
            caps::all()
                .into_iter()
                .find(|c| c.index() == i)
                .map(|c| c.to_string().trim_start_matches("CAP_").to_string())
                .unwrap_or_else(|| "unknown".into())
        })
        .collect();
    if names.is_empty() {
        return "none".into();
    }
    names.sort();
    names.join(",")
}

/// A controlling terminal's name from /proc's `tty_nr`: `pts/0`, `tty1`,
/// `?` for none (psgo's column).
fn tty_name(nr: u64) -> String {
    let major = (nr >> 8) & 0xfff;
    let minor = (nr & 0xff) | ((nr >> 12) & 0xfff00);
    match major {
        0 => "?".into(),
        136..=143 => format!("pts/{}", (major - 136) * 256 + minor),
        4 if minor < 64 => format!("tty{minor}"),
        5 if minor == 0 => "tty".into(),
        5 if minor == 1 => "console".into(),
        _ => "?".into(),
    }
}

/// Seconds since the epoch as Go's `time.Time.String` writes local time,
/// which psgo prints in STIME: `2026-12-02 11:06:40 +0000 UTC`.
fn go_time(secs: i64) -> String {
    use chrono::{Local, TimeZone};
    let Some(t) = Local.timestamp_opt(secs, 0).single() else {
        return String::new();
    };
    let zone = if t.offset().local_minus_utc() == 0 {
        "UTC".to_string()
    } else {
        t.format("%z").to_string()
    };
    format!("{} {zone}", t.format("%Y-%m-%d %H:%M:%S %z"))
}

/// A duration of `nanos` nanoseconds as Go's `time.Duration.String` writes
/// it, which Podman's `top` (psgo) prints in ELAPSED and TIME: `37m47.46s`,
/// `1h0m5s`, `2.5s`, `150ms`, `0s` (the fraction with no trailing zeros).
fn go_duration(nanos: u128) -> String {
    fn fraction(whole: u128, part: u128, digits: usize) -> String {
        let frac = format!("{part:0digits$}");
        let frac = frac.trim_end_matches('0');
        if frac.is_empty() {
            whole.to_string()
        } else {
            format!("{whole}.{frac}")
        }
    }
    const SEC: u128 = 1_000_000_000;
    match nanos {
        0 => "0s".into(),
        n if n < 1_000 => format!("{n}ns"),
        n if n < 1_000_000 => format!("{}µs", fraction(n / 1_000, n % 1_000, 3)),
        n if n < SEC => format!("{}ms", fraction(n / 1_000_000, n % 1_000_000, 6)),
        n => {
            let secs = fraction((n / SEC) % 60, n % SEC, 9);
            let mins = n / SEC / 60;
            match (mins / 60, mins % 60) {
                (0, 0) => format!("{secs}s"),
                (0, m) => format!("{m}m{secs}s"),
                (h, m) => format!("{h}h{m}m{secs}s"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elapsed_reads_as_gos_duration_string() {
        let ms = 1_000_000u128;
        let s = 1_000 * ms;
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(150 * ms), "150ms");
        assert_eq!(go_duration(2_500 * ms), "2.5s");
        assert_eq!(go_duration(2267 * s + 460 * ms), "37m47.46s");
        assert_eq!(go_duration(120 * s), "2m0s");
        assert_eq!(go_duration(3605 * s), "1h0m5s");
        assert_eq!(go_duration(1_500), "1.5µs");
    }

    #[test]
    fn descriptors_by_name_code_and_comma_list() {
        let words = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let headers = |a: &[&str]| -> Vec<&str> {
            parse(&words(a)).unwrap().iter().map(|d| d.header).collect()
        };
        assert_eq!(
            headers(&[]),
            ["USER", "PID", "PPID", "%CPU", "ELAPSED", "TTY", "TIME", "COMMAND"]
        );
        assert_eq!(
            headers(&["pid,%U", "args", "hpid", "capeff"]),
            ["PID", "USER", "COMMAND", "HPID", "EFFECTIVE CAPS"]
        );
        assert_eq!(parse(&words(&["pid", "bogus"])).unwrap_err(), "bogus");
        assert_eq!(parse(&words(&["-eo"])).unwrap_err(), "-eo");
    }

    #[test]
    fn masks_terminals_and_times_as_psgo_writes_them() {
        assert_eq!(caps("0000000000000000"), "none");
        assert_eq!(caps("000001ffffffffff"), "full");
        assert_eq!(caps("0000000000000021"), "CHOWN,KILL");
        assert_eq!(tty_name(0), "?");
        assert_eq!(tty_name(136 << 8), "pts/0");
        assert_eq!(tty_name((136 << 8) | 3), "pts/3");
        assert_eq!(map_id(1003, &[(0, 1003, 1), (1, 100000, 65536)], false), 0);
        assert_eq!(
            map_id(100009, &[(0, 1003, 1), (1, 100000, 65536)], false),
            10
        );
        assert_eq!(
            map_id(10, &[(0, 1003, 1), (1, 100000, 65536)], true),
            100009
        );
        assert_eq!(map_id(7, &[(0, 1003, 1)], true), 65534);
    }
}
