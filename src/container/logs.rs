//! `logs`: read, filter and follow a container's k8s-file log.

use std::io::{Read, Seek, SeekFrom, Write};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::state::container::{Container, Status};
use crate::supervisor::log::{parse_line, Record, Stream};
use crate::{Context, Error, Result};

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

pub use crate::format::units::parse_time;

fn keep(r: &Record, o: &LogOptions) -> bool {
    o.since.is_none_or(|s| r.time >= s) && o.until.is_none_or(|u| r.time <= u)
}

/// The index of the first record of the last `n` lines. A line is a run of
/// partial (`P`) records closed by a full (`F`) one; output that ended without
/// a newline leaves a last run of partial records with no `F`, and that run is
/// a line too (`printf 'a\nb'` has two lines, so `--tail 1` shows `b`).
pub fn tail_start(records: &[Record], n: usize) -> usize {
    let mut lines = 0;
    let mut start = records.len();
    while start > 0 {
        let ends_line = records[start - 1].full || start == records.len();
        if ends_line {
            if lines == n {
                break;
            }
            lines += 1;
        }
        start -= 1;
    }
    start
}

/// A record's time as `logs -t` prints it: Go's RFC3339Nano in UTC, as
/// Podman and Docker do (`2026-11-22T11:52:18.8874152Z`: trailing zeros of
/// the fraction dropped, no fraction at all on a whole second, `Z` suffix).
pub fn stamp(t: DateTime<Utc>) -> String {
    let base = t.format("%Y-%m-%dT%H:%M:%S").to_string();
    let nanos = format!("{:09}", t.timestamp_subsec_nanos());
    let frac = nanos.trim_end_matches('0');
    if frac.is_empty() {
        format!("{base}Z")
    } else {
        format!("{base}.{frac}Z")
    }
}

/// Renders records as the container wrote them (partial lines joined), as
/// runs of output of one stream each, in the order the container wrote them,
/// so that a terminal showing both streams shows them interleaved as written.
pub fn render(records: &[Record], o: &LogOptions) -> Vec<(Stream, Vec<u8>)> {
    let mut runs: Vec<(Stream, Vec<u8>)> = Vec::new();
    let mut line_start = true;
    for r in records {
        if runs.last().is_none_or(|(s, _)| *s != r.stream) {
            runs.push((r.stream, Vec::new()));
        }
        let Some((_, buf)) = runs.last_mut() else {
            continue;
        };
        if let Some(p) = o.prefix.as_ref().filter(|_| line_start) {
            buf.extend_from_slice(p.as_bytes());
            buf.push(b' ');
        }
        line_start = r.full;
        if o.timestamps {
            buf.extend_from_slice(stamp(r.time).as_bytes());
            buf.push(b' ');
        }
        buf.extend_from_slice(&r.text);
        if r.full {
            buf.push(b'\n');
        }
    }
    runs
}

fn parse_all(data: &[u8]) -> Vec<Record> {
    data.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .filter_map(parse_line)
        .collect()
}

fn emit(records: &[Record], o: &LogOptions) {
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
    for (stream, run) in render(records, o) {
        // Each run is flushed before the next one so that the order survives
        // when both streams reach the same terminal or file.
        let w: &mut dyn Write = match stream {
            Stream::Stdout => &mut out,
            Stream::Stderr => &mut err,
        };
        let _ = w.write_all(&run);
        let _ = w.flush();
    }
}

/// Prints the log of `c` with the options; follows while the container runs.
pub fn logs(ctx: &Context, c: &Container, o: &LogOptions) -> Result<()> {
    if c.config.log.driver != crate::state::container::LogDriver::K8sFile {
        // Podman's words for a container that keeps no log.
        return Err(Error::msg(format!(
            "{}: this container is using the '{}' log driver, cannot read logs: this container is not logging output",
            c.name,
            c.config.log.driver.as_str()
        )));
    }
    let path = crate::supervisor::log_path(ctx, c);
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
        records.drain(..tail_start(&records, n));
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
        assert_eq!(
            parse_time("1500ms", now).unwrap().to_rfc3339(),
            "2026-01-01T11:59:58.500+00:00"
        );
        assert_eq!(
            parse_time("1.5h", now).unwrap().to_rfc3339(),
            "2026-01-01T10:30:00+00:00"
        );
    }

    #[test]
    fn render_joins_partials_and_splits_streams() {
        let mut log = Vec::new();
        let t = Utc::now();
        crate::supervisor::log::format_chunk(t, Stream::Stdout, b"a", &mut log);
        crate::supervisor::log::format_chunk(t, Stream::Stdout, b"b\n", &mut log);
        crate::supervisor::log::format_chunk(t, Stream::Stderr, b"e\n", &mut log);
        crate::supervisor::log::format_chunk(t, Stream::Stdout, b"c\n", &mut log);
        let recs = parse_all(&log);
        let runs = render(&recs, &LogOptions::default());
        assert_eq!(
            runs,
            vec![
                (Stream::Stdout, b"ab\n".to_vec()),
                (Stream::Stderr, b"e\n".to_vec()),
                (Stream::Stdout, b"c\n".to_vec()),
            ]
        );
    }

    #[test]
    fn stamps_are_go_rfc3339nano_in_utc() {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert_eq!(
            stamp(t("2026-11-22T12:52:18.887415200+01:00")),
            "2026-11-22T11:52:18.8874152Z"
        );
        assert_eq!(stamp(t("2026-11-22T11:52:18Z")), "2026-11-22T11:52:18Z");
    }

    fn records(chunks: &[&[u8]]) -> Vec<Record> {
        let mut log = Vec::new();
        for c in chunks {
            crate::supervisor::log::format_chunk(Utc::now(), Stream::Stdout, c, &mut log);
        }
        parse_all(&log)
    }

    fn tail_text(recs: &[Record], n: usize) -> Vec<u8> {
        render(&recs[tail_start(recs, n)..], &LogOptions::default())
            .into_iter()
            .flat_map(|(_, run)| run)
            .collect()
    }

    #[test]
    fn tail_counts_an_unterminated_last_line() {
        let recs = records(&[b"a\nb"]);
        assert_eq!(tail_text(&recs, 1), b"b");
        assert_eq!(tail_text(&recs, 2), b"a\nb");
        assert_eq!(tail_text(&recs, 0), b"");
        // A line written in pieces is still one line.
        let recs = records(&[b"x\ny", b"z\n"]);
        assert_eq!(tail_text(&recs, 1), b"yz\n");
        let recs = records(&[b"x\ny", b"z"]);
        assert_eq!(tail_text(&recs, 1), b"yz");
        assert_eq!(tail_text(&recs, 5), b"x\nyz");
        assert_eq!(tail_text(&[], 1), b"");
    }
}
