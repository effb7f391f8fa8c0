//! What the network helpers (pasta, slirp4netns, the port forwarder) have in
//! common: finding the binary, reporting how it failed, and stopping it
//! without ever signalling a recycled pid.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::{Error, Result};

/// A running helper process.
#[derive(Debug, Clone)]
pub struct Helper {
    pub pid: i32,
    pub name: String,
    pub mtu: u32,
}

/// Finds `name` in PATH (and the usual system directories), naming the
/// package to install when it is missing.
pub fn find(name: &str, package: &str) -> Result<PathBuf> {
    lookup(name).ok_or_else(|| {
        Error::msg(format!(
            "{name}: executable not found in $PATH: install the {package} package (apt-get install {package})"
        ))
    })
}

/// The path of `name` when it is installed.
pub fn lookup(name: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/bin", "/usr/sbin", "/usr/local/bin"])
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(name))
        .find(|p| {
            use std::os::unix::fs::PermissionsExt;
            fs::metadata(p)
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        });
    found
}

/// Both helpers need a tap device: say so plainly when /dev/net/tun is not usable.
pub fn check_tun() -> Result<()> {
    match fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun")
    {
        Ok(_) => Ok(()),
        Err(e) => Err(Error::msg(format!(
            "/dev/net/tun is not accessible ({}): rootless networking needs it readable and writable by you (mode 0666), or use --network none|host",
            crate::error::io_reason(&e)
        ))),
    }
}

pub fn describe_status(s: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (s.code(), s.signal()) {
        (Some(c), _) => format!("exit status {c}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        _ => "unknown status".into(),
    }
}

/// The last meaningful line a helper wrote to its log (pasta also complains
/// about syslog, which says nothing about the failure).
pub fn last_error(log: &Path) -> String {
    let text = fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty() && !l.contains("to syslog") && !l.starts_with("WARNING"))
        .map(|l| l.trim_end_matches('.').to_string())
        .unwrap_or_else(|| "no error output".into())
}

/// Whether `pid` is still a process whose command line mentions `name`.
pub fn is_running(pid: i32, name: &str) -> bool {
    if pid <= 0 {
        return false;
    }
    let Ok(cmd) = fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    // A zombie has an empty command line: it is gone for our purposes.
    !cmd.is_empty()
        && cmd.split(|b| *b == 0).any(|a| {
            let a = String::from_utf8_lossy(a);
            a == name || a.ends_with(&format!("/{name}"))
        })
}

/// Stops a helper at once with SIGKILL (they keep no state worth a graceful
/// exit, and pasta ignores SIGTERM), reaping it when it is our child. Does
/// nothing when the pid now belongs to something else. Returns once the
/// helper has let go of its memory, which is early in its exit: closing its
/// tap device can take tens of milliseconds more (see `stop_fully`).
///
/// Errors: the signal was refused, or the helper still ran 500 ms after it.
pub fn stop(pid: i32, name: &str) -> Result<()> {
    if !is_running(pid, name) {
        reap(pid);
        return Ok(());
    }
    sigkill(pid, name)?;
    let deadline = Instant::now() + Duration::from_millis(500);
    while Instant::now() < deadline {
        reap(pid);
        if !is_running(pid, name) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    Err(Error::msg(format!(
        "{name} (pid {pid}) still runs 500 ms after SIGKILL"
    )))
}

/// `stop`, returning only when the helper has exited completely, so that the
/// host ports it listened on are free again.
///
/// Errors: the signal was refused, or the helper had not exited 2 s after it
/// (its ports may then still be taken).
pub fn stop_fully(pid: i32, name: &str) -> Result<()> {
    if !is_running(pid, name) {
        reap(pid);
        return Ok(());
    }
    sigkill(pid, name)?;
    // The supervisor, a subreaper, is pasta's parent once it daemonizes.
    if nix::sys::wait::waitpid(Pid::from_raw(pid), None).is_ok() {
        return Ok(());
    }
    let deadline = Instant::now() + Duration::from_secs(2);
    while !is_gone(pid) {
        if Instant::now() >= deadline {
            return Err(Error::msg(format!(
                "{name} (pid {pid}) has not exited 2 s after SIGKILL: its ports may still be taken"
            )));
        }
        reap(pid);
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

/// Stops the helper `st` records when it is `name` (pasta or slirp4netns;
/// a record without a name is pasta, from before names were kept): fully
/// when it published ports, which must be free once the container is gone.
pub fn stop_recorded(st: &super::NetworkState, name: &str) -> Result<()> {
    let recorded = if st.helper.is_empty() {
        "pasta"
    } else {
        st.helper.as_str()
    };
    if st.helper_pid <= 0 || recorded != name {
        return Ok(());
    }
    if st.ports.is_empty() {
        stop(st.helper_pid, name)
    } else {
        stop_fully(st.helper_pid, name)
    }
}

/// SIGKILL to a helper; one that is already gone is no error.
fn sigkill(pid: i32, name: &str) -> Result<()> {
    match kill(Pid::from_raw(pid), Signal::SIGKILL) {
        Ok(()) | Err(nix::errno::Errno::ESRCH) => Ok(()),
        Err(e) => Err(Error::msg(format!(
            "stopping {name} (pid {pid}): {}",
            e.desc().to_lowercase()
        ))),
    }
}

/// Kills every process of ours named `name` that has `arg` among its
/// arguments (a helper nobody recorded). Scans /proc: for rare clean-ups only.
pub fn kill_by_arg(name: &str, arg: &str) {
    let Ok(dir) = fs::read_dir("/proc") else {
        return;
    };
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(cmd) = fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let mut args = cmd.split(|b| *b == 0).map(String::from_utf8_lossy);
        let named = args
            .next()
            .is_some_and(|a| a == name || a.ends_with(&format!("/{name}")));
        if named && args.any(|a| a == arg) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
}

/// Whether `pid` has exited: no such process, or a zombie (whose memory and
/// descriptors, ports included, are all released).
pub fn is_gone(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => s
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
        Err(_) => true,
    }
}

fn reap(pid: i32) {
    let _ = nix::sys::wait::waitpid(
        Pid::from_raw(pid),
        Some(nix::sys::wait::WaitPidFlag::WNOHANG),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_error_skips_syslog_noise() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("log");
        fs::write(
            &p,
            "Failed to send 57 bytes to syslog\nFailed to bind any port for '-t 1:80', exiting\n",
        )
        .unwrap();
        assert_eq!(
            last_error(&p),
            "Failed to bind any port for '-t 1:80', exiting"
        );
    }

    #[test]
    fn missing_binary_names_the_package() {
        let e = find("no-such-helper-xyz", "passt").unwrap_err().to_string();
        assert!(e.contains("install the passt package"), "{e}");
    }
}
