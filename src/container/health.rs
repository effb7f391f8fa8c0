//! Running a container's healthcheck once (`healthcheck run`, and what a
//! supervisor starts on its schedule): the check runs like `exec`, its
//! result is added to the record (`state::health`), a `health_status`
//! event is recorded, and `--health-on-failure` is applied when the
//! container is unhealthy, as Podman's `healthcheck run` does.

use std::time::Duration;

use chrono::{Local, Utc};

use super::effective_status;
use crate::state::container::{Container, Status};
use crate::state::health::{HealthLog, HealthStatus, OnFailure};
use crate::{Context, Error, Result};

/// Runs `c`'s healthcheck once and returns the container's health after
/// it. `supervised`: run by the container's supervisor, which restarts it
/// itself for `--health-on-failure restart`. Errors (exit 125): no
/// healthcheck, not running.
pub fn run(ctx: &Context, c: &Container, supervised: bool) -> Result<HealthStatus> {
    let cfg =
        c.config.healthcheck.clone().ok_or_else(|| {
            Error::msg(format!("container {} has no defined healthcheck", c.name))
        })?;
    if effective_status(c) != Status::Running {
        return Err(Error::msg(format!("container {} is not running", c.name)));
    }
    let start = Local::now();
    let (exit_code, output) = match super::exec::run_captured(ctx, c, cfg.argv(), cfg.timeout) {
        Ok(r) if r.timed_out => (
            1,
            format!(
                "healthcheck command exceeded timeout of {}",
                go_duration(cfg.timeout)
            ),
        ),
        Ok(r) => (r.exit_code, String::from_utf8_lossy(&r.output).into_owned()),
        // The command could not start (not found): a failed check.
        Err(e) => (1, e.to_string()),
    };
    let entry = HealthLog {
        start,
        end: Local::now(),
        exit_code,
        output,
    };
    let in_start_period = c
        .state
        .started_at
        .is_some_and(|t| Utc::now() < t + cfg.start_period);
    let (after, cur) = super::store(ctx).update(&c.id, |cur| {
        let h = cur.state.health.get_or_insert_with(Default::default);
        h.add(entry, cfg.retries, in_start_period);
        Ok::<_, Error>((h.status, cur.clone()))
    })?;
    let mut e = crate::events::Event::container(&cur, "health_status");
    e.health_status = after.as_str().to_string();
    e.record(ctx);
    let by_supervisor = supervised && cur.config.health_on_failure == OnFailure::Restart;
    if after == HealthStatus::Unhealthy && !by_supervisor {
        on_failure(ctx, &cur)?;
    }
    Ok(after)
}

/// `--health-on-failure` for a container found unhealthy.
fn on_failure(ctx: &Context, c: &Container) -> Result<()> {
    match c.config.health_on_failure {
        OnFailure::None => Ok(()),
        OnFailure::Kill => {
            super::stop::kill(c, nix::sys::signal::Signal::SIGKILL)?;
            crate::events::Event::container(c, "kill").record(ctx);
            Ok(())
        }
        OnFailure::Stop => super::stop::stop(ctx, c, Duration::from_secs(10)),
        OnFailure::Restart => super::restart::restart(ctx, c, Duration::from_secs(10)),
    }
}

/// A duration as Go prints it for whole seconds and minutes (`30s`, `1m0s`).
fn go_duration(d: Duration) -> String {
    let s = d.as_secs();
    let ms = d.subsec_millis();
    if ms != 0 {
        return format!("{}s", d.as_secs_f64());
    }
    match (s / 3600, s / 60 % 60, s % 60) {
        (0, 0, sec) => format!("{sec}s"),
        (0, m, sec) => format!("{m}m{sec}s"),
        (h, m, sec) => format!("{h}h{m}m{sec}s"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn go_durations() {
        use std::time::Duration;
        assert_eq!(super::go_duration(Duration::from_secs(1)), "1s");
        assert_eq!(super::go_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(super::go_duration(Duration::from_millis(1500)), "1.5s");
    }
}
