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
            go_duration((elapsed * 1e9).round() as u128),
            "?".into(),
            format!("{}s", cpu_secs as u64),
            cmd,
        ]);
    }
    Ok(rows)
}

/// A duration of `nanos` nanoseconds as Go's `time.Duration.String` writes
/// it, which Podman's `top` (psgo) prints in ELAPSED: `37m47.46s`,
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
    use super::go_duration;

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
}
