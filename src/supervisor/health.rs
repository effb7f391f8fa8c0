//! The supervisor's healthcheck schedule. No thread and no timer
//! descriptor: a deadline that the relay loop's poll timeout honours, and
//! at most one `skiff healthcheck run ID` child at a time (the check itself
//! runs like `exec`, in that child, which records the result and applies
//! `--health-on-failure`). The child is reaped by the supervisor's SIGCHLD
//! handling, which hands its exit to [`HealthTimer::reaped`].

use std::ffi::OsString;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::state::container::Container;
use crate::state::health::{HealthStatus, OnFailure};
use crate::Context;

/// Time a check child gets beyond its timeout before it is killed (it
/// kills its own command at the timeout; this covers a stuck child).
const GRACE: Duration = Duration::from_secs(5);

/// When the next check runs, and the one running.
pub struct HealthTimer {
    interval: Duration,
    start_interval: Duration,
    start_period_end: Instant,
    timeout: Duration,
    next_at: Instant,
    /// The running check: its pid and when it is killed.
    child: Option<(Pid, Instant)>,
    healthy_seen: bool,
    args: Vec<OsString>,
}

impl HealthTimer {
    /// The schedule of `c`'s run starting now; None without a healthcheck
    /// or with `--health-interval disable`.
    pub fn new(ctx: &Context, c: &Container) -> Option<HealthTimer> {
        let cfg = c.config.healthcheck.as_ref()?;
        if cfg.interval.is_zero() {
            return None;
        }
        let mut args: Vec<OsString> = vec![
            "--root".into(),
            ctx.root.clone().into(),
            "--runroot".into(),
            ctx.runroot.clone().into(),
        ];
        if let Some(d) = &ctx.storage_driver {
            args.extend(["--storage-driver".into(), d.into()]);
        }
        args.extend([
            "healthcheck".into(),
            "run".into(),
            "--supervised".into(),
            c.id.clone().into(),
        ]);
        let now = Instant::now();
        let mut t = HealthTimer {
            interval: cfg.interval,
            start_interval: cfg.start_interval,
            start_period_end: now + cfg.start_period,
            timeout: cfg.timeout,
            next_at: now,
            child: None,
            healthy_seen: false,
            args,
        };
        t.next_at = now + t.period(now);
        Some(t)
    }

    /// The wait before the next check: the start interval during the start
    /// period (Docker's `--health-start-interval`), else the interval.
    fn period(&self, now: Instant) -> Duration {
        if now < self.start_period_end && !self.start_interval.is_zero() {
            self.start_interval.min(self.interval)
        } else {
            self.interval
        }
    }

    /// When the loop must wake up for us next.
    pub fn due(&self) -> Instant {
        match self.child {
            Some((_, kill_at)) => kill_at,
            None => self.next_at,
        }
    }

    /// Starts a check when one is due; kills one that overran.
    pub fn tick(&mut self) {
        let now = Instant::now();
        match self.child {
            Some((pid, kill_at)) if now >= kill_at => {
                let _ = kill(pid, Signal::SIGKILL);
                // Reaped as any child; not started twice meanwhile.
                self.child = Some((pid, now + GRACE));
            }
            Some(_) => {}
            None if now >= self.next_at => {
                let spawned = Command::new("/proc/self/exe")
                    .args(&self.args)
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn();
                match spawned {
                    // Dropping the handle neither waits nor kills: our
                    // SIGCHLD handling reaps it.
                    Ok(child) => {
                        self.child =
                            Some((Pid::from_raw(child.id() as i32), now + self.timeout + GRACE))
                    }
                    Err(_) => self.next_at = now + self.period(now),
                }
            }
            None => {}
        }
    }

    /// Takes a reaped child's exit when it is our check. The first passing
    /// check calls `notify::on_first_healthy`. Returns true when the check
    /// left the container unhealthy and its `--health-on-failure` is
    /// `restart`: that one is the supervisor's to carry out (the check's
    /// process cannot start a new supervisor while this one runs).
    pub fn reaped(&mut self, ctx: &Context, pid: Pid, code: Option<i32>, c: &Container) -> bool {
        if self.child.map(|(p, _)| p) != Some(pid) {
            return false;
        }
        self.child = None;
        let now = Instant::now();
        self.next_at = now + self.period(now);
        if code == Some(0) && !self.healthy_seen {
            self.healthy_seen = true;
            super::notify::on_first_healthy(c);
        }
        code == Some(1)
            && c.config.health_on_failure == OnFailure::Restart
            && crate::container::store(ctx)
                .load(&c.id)
                .ok()
                .flatten()
                .and_then(|cur| cur.state.health)
                .is_some_and(|h| h.status == HealthStatus::Unhealthy)
    }
}
