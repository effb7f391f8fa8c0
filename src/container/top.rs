//! `top`: the processes of a running container, one row per process, with
//! Podman's default columns.

use crate::state::container::{Container, Status};
use crate::{Context, Error, Result};

/// Podman's default `top` columns, in order.
pub const HEADERS: [&str; 8] = [
    "USER", "PID", "PPID", "%CPU", "ELAPSED", "TTY", "TIME", "COMMAND",
];

fn clock_ticks() -> f64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as f64
}

/// One row per process of the container (columns as `HEADERS`): pids as
/// the container sees them, users named from its /etc/passwd. The
/// container must be running or paused.
pub fn top(_ctx: &Context, c: &Container) -> Result<Vec<Vec<String>>> {
    if !matches!(super::effective_status(c), Status::Running | Status::Paused) {
        return Err(Error::msg(format!(
            "top can only be used on running containers: {} is not running",
            c.name
        )));
    }
    // Through descriptors inside the root: the container may have made its
    // /etc/passwd a FIFO or a link out of the root.
    let passwd = crate::runtime::user::read_root_file(
        std::path::Path::new(&format!("/proc/{}/root", c.state.pid)),
        "/etc/passwd",
    )
    .unwrap_or_default();
    let uptime: f64 = std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|u| u.split_whitespace().next().and_then(|x| x.parse().ok()))
        .unwrap_or(0.0);
    let hz = clock_ticks();
    let mut rows = Vec::new();
    for pid in super::pause::processes(c) {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let field = |k: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(k))
                .map(|v| v.trim().to_string())
                .unwrap_or_default()
        };
        let ns_pid = field("NSpid:")
            .split_whitespace()
            .last()
            .unwrap_or("?")
            .to_string();
        let ns_ppid = {
            let ppid: i32 = field("PPid:").parse().unwrap_or(0);
            std::fs::read_to_string(format!("/proc/{ppid}/status"))
                .ok()
                .filter(|_| super::pause::processes(c).contains(&ppid))
                .and_then(|s| {
                    s.lines()
                        .find_map(|l| l.strip_prefix("NSpid:"))
                        .map(|v| v.split_whitespace().last().unwrap_or("0").to_string())
                })
                .unwrap_or_else(|| "0".into())
        };
        let uid = field("Uid:")
            .split_whitespace()
            .next()
            .unwrap_or("0")
            .to_string();
        let user = passwd
            .lines()
            .find(|l| l.split(':').nth(2) == Some(uid.as_str()))
            .and_then(|l| l.split(':').next())
            .unwrap_or(&uid)
            .to_string();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let after = stat.rsplit(')').next().unwrap_or("");
        let f: Vec<&str> = after.split_whitespace().collect();
        let num = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
        let cpu_secs = (num(11) + num(12)) / hz;
        let elapsed = (uptime - num(19) / hz).max(0.0);
        let pct = if elapsed > 0.0 {
            cpu_secs / elapsed * 100.0
        } else {
            0.0
        };
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|b| {
                b.split(|&x| x == 0)
                    .filter(|p| !p.is_empty())
                    .map(|p| String::from_utf8_lossy(p).into_owned())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default();
        rows.push(vec![
            user,
            ns_pid,
            ns_ppid,
            format!("{pct:.3}"),
            format!("{elapsed:.9}s"),
            "?".into(),
            format!("{}s", cpu_secs as u64),
            cmd,
        ]);
    }
    Ok(rows)
}
