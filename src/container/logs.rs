//! `logs`: read, filter and follow a container's k8s-file log.

use std::io::{Read, Seek, SeekFrom, Write};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::state::container::{Container, Status};
use crate::supervisor::log::{parse_line, Record, Stream};
use crate::{Context, Result};

#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    pub follow: bool,
    pub tail: Option<usize>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub timestamps: bool,
    /// Put before every line: the container's name (`--names`) or id when
    /// several containers' logs are shown, as Podman does.
    pub prefix: Option<String>,
}

/// Parses `--since`/`--until`: RFC 3339 times or durations like `10m`, `1h30m`, `5s`.
pub fn parse_time(s: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(secs) = s.parse::<i64>() {
        return DateTime::from_timestamp(secs, 0);
    }
    let mut total = 0f64;
    let mut num = String::new();
    for ch in s.chars() {
        if ch.is_ascii_digit() || ch == '.' {
            num.push(ch);
            continue;
        }
        let n: f64 = num.parse().ok()?;
        num.clear();
        total += n * match ch {
            'h' => 3600.0,
            'm' => 60.0,
            's' => 1.0,
            _ => return None,
        };
    }
    if !num.is_empty() {
        return None;
    }
    Some(now - chrono::Duration::milliseconds((total * 1000.0) as i64))
}

fn keep(r: &Record, o: &LogOptions) -> bool {
    o.since.is_none_or(|s| r.time >= s) && o.until.is_none_or(|u| r.time <= u)
}

/// Renders records as the container wrote them (partial lines joined).
pub fn render(records: &[Record], o: &LogOptions, out: &mut Vec<u8>, err: &mut Vec<u8>) {
    let mut line_start = true;
    for r in records {
        let buf = match r.stream {
            Stream::Stdout => &mut *out,
            Stream::Stderr => &mut *err,
        };
        if let Some(p) = o.prefix.as_ref().filter(|_| line_start) {
            buf.extend_from_slice(p.as_bytes());
            buf.push(b' ');
        }
        line_start = r.full;
        if o.timestamps {
            buf.extend_from_slice(
                r.time
                    .to_rfc3339_opts(chrono::SecondsFormat::Nanos, false)
                    .as_bytes(),
            );
            buf.push(b' ');
        }
        buf.extend_from_slice(&r.text);
        if r.full {
            buf.push(b'\n');
        }
    }
}

fn parse_all(data: &[u8]) -> Vec<Record> {
    data.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .filter_map(parse_line)
        .collect()
}

fn emit(records: &[Record], o: &LogOptions) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    render(records, o, &mut out, &mut err);
    let _ = std::io::stdout().write_all(&out);
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().write_all(&err);
}

/// Prints the log of `c` with the options; follows while the container runs.
pub fn logs(ctx: &Context, c: &Container, o: &LogOptions) -> Result<()> {
    let path = crate::supervisor::log_path(ctx, &c.id);
    let mut file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(_) if !o.follow => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let mut data = Vec::new();
    file.read_to_end(&mut data)?;
    // Only whole lines are parsed; a trailing half-written line waits.
    let cut = data
        .iter()
        .rposition(|&b| b == b'\n')
        .map(|i| i + 1)
        .unwrap_or(0);
    let mut records: Vec<Record> = parse_all(&data[..cut])
        .into_iter()
        .filter(|r| keep(r, o))
        .collect();
    if let Some(n) = o.tail {
        // Count whole lines from the end: a line may span partial records.
        let mut lines = 0;
        let mut start = records.len();
        while start > 0 {
            if records[start - 1].full {
                if lines == n {
                    break;
                }
                lines += 1;
            }
            start -= 1;
        }
        records.drain(..start);
    }
    emit(&records, o);
    if !o.follow {
        return Ok(());
    }
    let mut pos = cut as u64;
    let containers = super::store(ctx);
    loop {
        let running = containers
            .load(&c.id)?
            .map(|cur| {
                matches!(
                    super::effective_status(&cur),
                    Status::Running | Status::Paused | Status::Stopping | Status::Created
                )
            })
            .unwrap_or(false);
        file.seek(SeekFrom::Start(pos))?;
        let mut more = Vec::new();
        file.read_to_end(&mut more)?;
        let cut = more
            .iter()
            .rposition(|&b| b == b'\n')
            .map(|i| i + 1)
            .unwrap_or(0);
        if cut > 0 {
            let recs: Vec<Record> = parse_all(&more[..cut])
                .into_iter()
                .filter(|r| keep(r, o))
                .collect();
            emit(&recs, o);
            pos += cut as u64;
        } else if !running {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_times() {
        let now = DateTime::parse_from_rfc3339("2026-01-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            parse_time("1m", now).unwrap().to_rfc3339(),
            "2026-01-01T11:59:00+00:00"
        );
        assert_eq!(
            parse_time("1h30m", now).unwrap().to_rfc3339(),
            "2026-01-01T10:30:00+00:00"
        );
        assert!(parse_time("2026-01-01T11:00:00Z", now).is_some());
        assert!(parse_time("bogus", now).is_none());
    }

    #[test]
    fn render_joins_partials_and_splits_streams() {
        let mut log = Vec::new();
        let t = Utc::now();
        crate::supervisor::log::format_chunk(t, Stream::Stdout, b"a", &mut log);
        crate::supervisor::log::format_chunk(t, Stream::Stdout, b"b\n", &mut log);
        crate::supervisor::log::format_chunk(t, Stream::Stderr, b"e\n", &mut log);
        let recs = parse_all(&log);
        let (mut out, mut err) = (Vec::new(), Vec::new());
        render(&recs, &LogOptions::default(), &mut out, &mut err);
        assert_eq!(out, b"ab\n");
        assert_eq!(err, b"e\n");
    }
}
