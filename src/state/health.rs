//! Healthchecks in the container record: the check as configured
//! ([`HealthConfig`], from `--health-*` or the image's HEALTHCHECK), what
//! to do when it fails ([`OnFailure`]), and the results so far
//! ([`Health`], Podman's `.State.Health`). The flags are parsed here once,
//! by clap's value parsers at the command line.

use std::time::Duration;

use chrono::{DateTime, Local};
use serde::{Deserialize, Serialize};

/// Podman's defaults (`--health-interval 30s`, `--health-timeout 30s`,
/// `--health-retries 3`).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_RETRIES: u32 = 3;
/// Docker's default `--health-start-interval`.
pub const DEFAULT_START_INTERVAL: Duration = Duration::from_secs(5);
/// Results kept in `.State.Health.Log` (Podman's `HealthCheckMaxLogCount`).
pub const MAX_LOG: usize = 5;
/// Bytes of a check's output kept (Podman's `HealthCheckMaxLogSize`).
pub const MAX_OUTPUT: usize = 500;

/// A healthcheck: the command and when to run it. Durations are kept in
/// nanoseconds in the record, as Docker's image config keeps them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthConfig {
    /// `["CMD", arg...]` (exec form) or `["CMD-SHELL", text]`.
    pub test: Vec<String>,
    /// Between two checks; zero: none is scheduled (`--health-interval
    /// disable`), only `healthcheck run` checks.
    #[serde(with = "nanos")]
    pub interval: Duration,
    #[serde(with = "nanos")]
    pub timeout: Duration,
    /// Failures during this time after a start do not count.
    #[serde(with = "nanos")]
    pub start_period: Duration,
    /// Between two checks during the start period.
    #[serde(with = "nanos")]
    pub start_interval: Duration,
    pub retries: u32,
}

mod nanos {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_nanos() as u64)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_nanos(u64::deserialize(d)?))
    }
}

impl HealthConfig {
    /// The argv to run in the container: `/bin/sh -c TEXT` for CMD-SHELL.
    pub fn argv(&self) -> Vec<String> {
        match self.test.first().map(String::as_str) {
            Some("CMD-SHELL") => vec!["/bin/sh".into(), "-c".into(), self.test[1..].join(" ")],
            Some("CMD") => self.test[1..].to_vec(),
            _ => self.test.clone(),
        }
    }

    /// From Docker's image config `Healthcheck` JSON (durations in
    /// nanoseconds, zero meaning the default); None for `["NONE"]`, an
    /// empty test, or a shape that is not a healthcheck.
    pub fn from_image(v: &serde_json::Value) -> Option<HealthConfig> {
        let test: Vec<String> = v["Test"]
            .as_array()?
            .iter()
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect();
        if !matches!(test.first().map(String::as_str), Some("CMD" | "CMD-SHELL")) {
            return None;
        }
        let ns = |k: &str, def: Duration| match v[k].as_i64() {
            Some(n) if n > 0 => Duration::from_nanos(n as u64),
            _ => def,
        };
        Some(HealthConfig {
            test,
            interval: ns("Interval", DEFAULT_INTERVAL),
            timeout: ns("Timeout", DEFAULT_TIMEOUT),
            start_period: ns("StartPeriod", Duration::ZERO),
            start_interval: ns("StartInterval", DEFAULT_START_INTERVAL),
            retries: match v["Retries"].as_u64() {
                Some(n) if n > 0 => n as u32,
                _ => DEFAULT_RETRIES,
            },
        })
    }

    /// Docker's and Podman's `.Config.Healthcheck` shape.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "Test": self.test,
            "StartPeriod": self.start_period.as_nanos() as u64,
            "Interval": self.interval.as_nanos() as u64,
            "Timeout": self.timeout.as_nanos() as u64,
            "Retries": self.retries,
        })
    }
}

/// `--health-cmd`: a JSON array (exec form, `CMD` added unless it starts
/// with `CMD`, `CMD-SHELL` or `NONE`), `none` to disable (`["NONE"]`), or
/// a shell command (`["CMD-SHELL", text]`), as Podman reads it.
pub fn parse_health_cmd(s: &str) -> Result<Vec<String>, String> {
    if s.is_empty() {
        return Err("must provide a non-empty command to --health-cmd".into());
    }
    if s.eq_ignore_ascii_case("none") {
        return Ok(vec!["NONE".into()]);
    }
    if s.trim_start().starts_with('[') {
        let v: Vec<String> =
            serde_json::from_str(s).map_err(|e| format!("invalid --health-cmd {s:?}: {e}"))?;
        if v.is_empty() {
            return Err("must provide a non-empty command to --health-cmd".into());
        }
        return Ok(match v[0].as_str() {
            "CMD" | "CMD-SHELL" | "NONE" => v,
            _ => std::iter::once("CMD".to_string()).chain(v).collect(),
        });
    }
    Ok(vec!["CMD-SHELL".into(), s.to_string()])
}

/// A parsed `--health-cmd` (see [`parse_health_cmd`]): one value for clap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCmd(pub Vec<String>);

/// [`parse_health_cmd`] as clap's value parser.
pub fn health_cmd_arg(s: &str) -> Result<HealthCmd, String> {
    parse_health_cmd(s).map(HealthCmd)
}

fn go_duration(flag: &str, s: &str) -> Result<Duration, String> {
    let n = crate::format::parse_go_duration(s).map_err(|e| format!("invalid {flag}: {e}"))?;
    if n < 0 {
        return Err(format!("{flag} must be 0 seconds or greater"));
    }
    Ok(Duration::from_nanos(n as u64))
}

/// `--health-interval`: a Go duration of at least one second, or
/// `disable` (zero: no scheduled checks).
pub fn parse_interval(s: &str) -> Result<Duration, String> {
    if s == "disable" {
        return Ok(Duration::ZERO);
    }
    at_least_a_second("healthcheck-interval", s)
}

/// A Go duration of at least one second, Podman's floor for the interval
/// and the timeout.
fn at_least_a_second(flag: &str, s: &str) -> Result<Duration, String> {
    let d = go_duration(flag, s)?;
    if d < Duration::from_secs(1) {
        return Err(format!("{flag} must be at least 1 second"));
    }
    Ok(d)
}

/// `--health-timeout`: a Go duration of at least one second.
pub fn parse_timeout(s: &str) -> Result<Duration, String> {
    at_least_a_second("healthcheck-timeout", s)
}

/// `--health-start-period`: a Go duration, zero or more.
pub fn parse_start_period(s: &str) -> Result<Duration, String> {
    go_duration("healthcheck-start-period", s)
}

/// `--health-start-interval`: a Go duration of at least one second.
pub fn parse_start_interval(s: &str) -> Result<Duration, String> {
    at_least_a_second("healthcheck-start-interval", s)
}

/// `--health-retries`: a count of at least 1.
pub fn parse_retries(s: &str) -> Result<u32, String> {
    let n: u32 = s
        .parse()
        .map_err(|_| format!("invalid argument {s:?} for \"--health-retries\" flag"))?;
    if n < 1 {
        return Err("healthcheck-retries must be greater than 0".into());
    }
    Ok(n)
}

/// `--health-on-failure`: what happens when the container turns unhealthy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnFailure {
    #[default]
    None,
    Kill,
    Restart,
    Stop,
}

impl OnFailure {
    /// Parses `none`, `kill`, `restart` or `stop` (Podman's message otherwise).
    pub fn parse(s: &str) -> Result<OnFailure, String> {
        match s {
            "none" => Ok(OnFailure::None),
            "kill" => Ok(OnFailure::Kill),
            "restart" => Ok(OnFailure::Restart),
            "stop" => Ok(OnFailure::Stop),
            _ => Err(format!(
                "invalid on-failure action \"{s}\" for health check: supported actions are none,kill,restart,stop"
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OnFailure::None => "none",
            OnFailure::Kill => "kill",
            OnFailure::Restart => "restart",
            OnFailure::Stop => "stop",
        }
    }
}

/// `.State.Health.Status`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    #[default]
    Starting,
    Healthy,
    Unhealthy,
}

impl HealthStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Starting => "starting",
            HealthStatus::Healthy => "healthy",
            HealthStatus::Unhealthy => "unhealthy",
        }
    }
}

/// One check's result, as `.State.Health.Log[]` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthLog {
    #[serde(rename = "Start")]
    pub start: DateTime<Local>,
    #[serde(rename = "End")]
    pub end: DateTime<Local>,
    #[serde(rename = "ExitCode")]
    pub exit_code: i32,
    #[serde(rename = "Output")]
    pub output: String,
}

/// The results so far of a running container's checks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    pub status: HealthStatus,
    pub failing_streak: u32,
    /// The last [`MAX_LOG`] results, oldest first.
    pub log: Vec<HealthLog>,
}

impl Health {
    /// Adds a result as Podman's `updateHealthCheckLog` does: a success
    /// makes it healthy and clears the streak; a failure outside the start
    /// period adds to the streak and makes it unhealthy once the streak
    /// reaches `retries`. Output is cut to [`MAX_OUTPUT`] bytes.
    pub fn add(&mut self, mut entry: HealthLog, retries: u32, in_start_period: bool) {
        if entry.output.len() > MAX_OUTPUT {
            let mut cut = MAX_OUTPUT;
            while !entry.output.is_char_boundary(cut) {
                cut -= 1;
            }
            entry.output.truncate(cut);
        }
        if entry.exit_code == 0 {
            self.status = HealthStatus::Healthy;
            self.failing_streak = 0;
        } else if !in_start_period {
            self.failing_streak += 1;
            if self.failing_streak >= retries {
                self.status = HealthStatus::Unhealthy;
            }
        }
        self.log.push(entry);
        if self.log.len() > MAX_LOG {
            let extra = self.log.len() - MAX_LOG;
            self.log.drain(..extra);
        }
    }

    /// Podman's `.State.Health` object.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "Status": self.status.as_str(),
            "FailingStreak": self.failing_streak,
            "Log": self.log,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(code: i32) -> HealthLog {
        HealthLog {
            start: Local::now(),
            end: Local::now(),
            exit_code: code,
            output: "x".repeat(600),
        }
    }

    #[test]
    fn commands() {
        assert_eq!(parse_health_cmd("true").unwrap(), ["CMD-SHELL", "true"]);
        assert_eq!(parse_health_cmd("none").unwrap(), ["NONE"]);
        assert_eq!(
            parse_health_cmd(r#"["/bin/true", "-x"]"#).unwrap(),
            ["CMD", "/bin/true", "-x"]
        );
        assert_eq!(
            parse_health_cmd(r#"["CMD-SHELL", "a"]"#).unwrap(),
            ["CMD-SHELL", "a"]
        );
        assert!(parse_health_cmd("").is_err());
        let cfg =
            HealthConfig::from_image(&serde_json::json!({"Test": ["CMD-SHELL", "a b"]})).unwrap();
        assert_eq!(cfg.argv(), ["/bin/sh", "-c", "a b"]);
        assert_eq!(cfg.interval, DEFAULT_INTERVAL);
        assert!(HealthConfig::from_image(&serde_json::json!({"Test": ["NONE"]})).is_none());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_interval("2s").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_interval("disable").unwrap(), Duration::ZERO);
        assert!(parse_interval("500ms")
            .unwrap_err()
            .contains("at least 1 second"));
        assert!(parse_interval("abc").is_err());
        assert!(parse_timeout("0s").is_err());
        assert_eq!(parse_start_period("0s").unwrap(), Duration::ZERO);
        assert!(parse_start_period("-1s").is_err());
        assert!(parse_retries("0").is_err());
        assert!(parse_retries("x").is_err());
        assert!(OnFailure::parse("explode")
            .unwrap_err()
            .contains("none,kill,restart,stop"));
    }

    #[test]
    fn streaks_and_log() {
        let mut h = Health::default();
        h.add(entry(1), 2, true);
        assert_eq!((h.status, h.failing_streak), (HealthStatus::Starting, 0));
        h.add(entry(1), 2, false);
        assert_eq!((h.status, h.failing_streak), (HealthStatus::Starting, 1));
        h.add(entry(1), 2, false);
        assert_eq!(h.status, HealthStatus::Unhealthy);
        h.add(entry(0), 2, false);
        assert_eq!((h.status, h.failing_streak), (HealthStatus::Healthy, 0));
        for _ in 0..5 {
            h.add(entry(0), 2, false);
        }
        assert_eq!(h.log.len(), MAX_LOG);
        assert_eq!(h.log[0].output.len(), MAX_OUTPUT);
    }
}
