//! `logs`: read, filter and follow a container's k8s-file log.

use std::io::{BufRead, Read, Seek, SeekFrom, Write};
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

/// Bytes of output [`Emitter`] gathers before it writes them.
const RUN_MAX: usize = 64 * 1024;

/// The longest log line [`scan`] reads whole: the supervisor writes one
/// record per read of at most `relay::CHUNK` bytes, plus its stamp. A
/// longer line is no record of its and is skipped.
const LINE_MAX: u64 = 1 << 20;

/// Writes records as the container wrote them (partial lines joined),
/// each stream to its own writer, in the order written: what one stream
/// wrote is flushed before the other's next output, so that a terminal
/// showing both shows them interleaved as written. Holds at most about
/// [`RUN_MAX`] bytes, however long the container's lines are.
struct Emitter<'a> {
    o: &'a LogOptions,
    out: &'a mut dyn Write,
    err: &'a mut dyn Write,
    run: Vec<u8>,
    stream: Stream,
    line_start: bool,
}

impl<'a> Emitter<'a> {
    fn new(o: &'a LogOptions, out: &'a mut dyn Write, err: &'a mut dyn Write) -> Self {
        Emitter {
            o,
            out,
            err,
            run: Vec::with_capacity(RUN_MAX),
            stream: Stream::Stdout,
            line_start: true,
        }
    }

    /// Adds one record; fails with `BrokenPipe` when the output can no
    /// longer be written (`logs | head` closed it).
    fn record(&mut self, r: &Record) -> std::io::Result<()> {
        if r.stream != self.stream {
            self.flush()?;
            self.stream = r.stream;
        }
        if let Some(p) = self.o.prefix.as_ref().filter(|_| self.line_start) {
            self.run.extend_from_slice(p.as_bytes());
            self.run.push(b' ');
        }
        self.line_start = r.full;
        if self.o.timestamps {
            self.run.extend_from_slice(stamp(r.time).as_bytes());
            self.run.push(b' ');
        }
        self.run.extend_from_slice(&r.text);
        if r.full {
            self.run.push(b'\n');
        }
        if self.run.len() >= RUN_MAX {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.run.is_empty() {
            return Ok(());
        }
        let w: &mut dyn Write = match self.stream {
            Stream::Stdout => &mut *self.out,
            Stream::Stderr => &mut *self.err,
        };
        let written = w.write_all(&self.run).and_then(|()| w.flush());
        self.run.clear();
        // Whatever went wrong, nothing more can be shown: the scan stops.
        written.map_err(|_| std::io::ErrorKind::BrokenPipe.into())
    }
}

/// Reads the whole lines of the log `file` from byte `from` to byte `to`
/// (a half-written last line waits for the next call) and hands each
/// record to `each`, which may stop the scan with an error. Returns the
/// offset after the last whole line. Streams: memory does not grow with
/// the log (a container that wrote 1 GB without a newline made `logs`
/// read it whole, 2.9 GB resident).
fn scan(
    file: &std::fs::File,
    from: u64,
    to: u64,
    mut each: impl FnMut(Record) -> std::io::Result<()>,
) -> std::io::Result<u64> {
    let mut f = file;
    f.seek(SeekFrom::Start(from))?;
    let mut r = std::io::BufReader::with_capacity(256 * 1024, f.take(to.saturating_sub(from)));
    let mut pos = from;
    let mut line = Vec::new();
    let mut skipping = false;
    loop {
        line.clear();
        let n = (&mut r).take(LINE_MAX).read_until(b'\n', &mut line)?;
        if n == 0 {
            return Ok(pos);
        }
        if line.last() != Some(&b'\n') {
            if (n as u64) < LINE_MAX {
                return Ok(pos); // half written: read again later
            }
            skipping = true; // too long: the rest of it goes too
            pos += n as u64;
            continue;
        }
        pos += n as u64;
        if std::mem::take(&mut skipping) {
            continue;
        }
        if let Some(rec) = parse_line(&line[..line.len() - 1]) {
            each(rec)?;
        }
    }
}

/// What `--tail n` skips of the kept records of a log: the number of
/// line ends before the last `n` lines. A line is a run of partial (`P`)
/// records closed by a full (`F`) one; output that ended without a newline
/// leaves a last run of partial records with no `F`, and that run is a
/// line too (`printf 'a\nb'` has two lines, so `--tail 1` shows `b`).
#[derive(Default)]
struct TailCount {
    full: usize,
    last_full: bool,
    any: bool,
}

impl TailCount {
    fn add(&mut self, r: &Record) {
        self.any = true;
        self.last_full = r.full;
        if r.full {
            self.full += 1;
        }
    }

    fn skip(&self, n: usize) -> usize {
        let lines = self.full + usize::from(self.any && !self.last_full);
        lines.saturating_sub(n)
    }
}

/// Writes the kept records of `file` up to byte `to` to `out` and `err`,
/// the last `tail` lines only when given; returns where the whole lines
/// ended. Two passes for `--tail` (count, then write), none holding more
/// than a record.
fn print_from_start(
    file: &std::fs::File,
    to: u64,
    o: &LogOptions,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<u64> {
    let mut skip = 0;
    if let Some(n) = o.tail {
        let mut count = TailCount::default();
        let end = scan(file, 0, to, |r| {
            if keep(&r, o) {
                count.add(&r);
            }
            Ok(())
        })?;
        if n == 0 {
            return Ok(end);
        }
        skip = count.skip(n);
    }
    let mut e = Emitter::new(o, out, err);
    let end = scan(file, 0, to, |r| {
        if !keep(&r, o) {
            return Ok(());
        }
        if skip > 0 {
            skip -= usize::from(r.full);
            return Ok(());
        }
        e.record(&r)
    })?;
    e.flush()?;
    Ok(end)
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
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(_) if !o.follow => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
    let len = file.metadata()?.len();
    // A reader that went away (`logs | head`) ends the command quietly.
    let mut pos = match print_from_start(&file, len, o, &mut out, &mut err) {
        Ok(p) => p,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    if !o.follow {
        return Ok(());
    }
    drop((out, err));
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
        let len = file.metadata()?.len();
        if len < pos {
            pos = 0; // emptied by --log-opt max-size: read it from the start
        }
        let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
        let mut e = Emitter::new(o, &mut out, &mut err);
        let end = scan(&file, pos, len, |r| {
            if keep(&r, o) {
                e.record(&r)
            } else {
                Ok(())
            }
        })
        .and_then(|end| e.flush().map(|()| end));
        let end = match end {
            Ok(end) => end,
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        if end > pos {
            pos = end;
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

    /// A log file of `chunks`, each (stream, bytes) as the supervisor logs one read.
    fn log_of(chunks: &[(Stream, &[u8])]) -> tempfile::NamedTempFile {
        let mut log = Vec::new();
        for (stream, c) in chunks {
            crate::supervisor::log::format_chunk(Utc::now(), *stream, c, &mut log);
        }
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(&log).unwrap();
        f
    }

    /// What `logs` with `o` prints of `f`: (stdout, stderr, end offset).
    fn printed(f: &tempfile::NamedTempFile, o: &LogOptions) -> (Vec<u8>, Vec<u8>, u64) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let len = f.as_file().metadata().unwrap().len();
        let end = print_from_start(f.as_file(), len, o, &mut out, &mut err).unwrap();
        (out, err, end)
    }

    #[test]
    fn partials_are_joined_and_streams_split() {
        let f = log_of(&[
            (Stream::Stdout, b"a"),
            (Stream::Stdout, b"b\n"),
            (Stream::Stderr, b"e\n"),
            (Stream::Stdout, b"c\n"),
        ]);
        let (out, err, _) = printed(&f, &LogOptions::default());
        assert_eq!(out, b"ab\nc\n");
        assert_eq!(err, b"e\n");
        let o = LogOptions {
            prefix: Some("web".into()),
            ..Default::default()
        };
        let (out, err, _) = printed(&f, &o);
        assert_eq!(out, b"web ab\nweb c\n");
        assert_eq!(err, b"web e\n");
    }

    #[test]
    fn a_half_written_line_waits_and_a_huge_one_is_skipped() {
        let mut f = log_of(&[(Stream::Stdout, b"a\n")]);
        let whole = f.as_file().metadata().unwrap().len();
        f.write_all(b"2026-11-22T11:52:18Z stdout F hal").unwrap();
        let (out, _, end) = printed(&f, &LogOptions::default());
        assert_eq!((out.as_slice(), end), (&b"a\n"[..], whole));
        // No record of the supervisor's is this long: skipped, not held.
        f.write_all(&vec![b'x'; LINE_MAX as usize + 10]).unwrap();
        f.write_all(b"\n").unwrap();
        let mut tail = Vec::new();
        crate::supervisor::log::format_chunk(Utc::now(), Stream::Stdout, b"z\n", &mut tail);
        f.write_all(&tail).unwrap();
        let (out, _, end) = printed(&f, &LogOptions::default());
        assert_eq!(out, b"a\nz\n");
        assert_eq!(end, f.as_file().metadata().unwrap().len());
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

    fn tail_text(chunks: &[&[u8]], n: usize) -> Vec<u8> {
        let chunks: Vec<(Stream, &[u8])> = chunks.iter().map(|c| (Stream::Stdout, *c)).collect();
        let o = LogOptions {
            tail: Some(n),
            ..Default::default()
        };
        printed(&log_of(&chunks), &o).0
    }

    #[test]
    fn tail_counts_an_unterminated_last_line() {
        assert_eq!(tail_text(&[b"a\nb"], 1), b"b");
        assert_eq!(tail_text(&[b"a\nb"], 2), b"a\nb");
        assert_eq!(tail_text(&[b"a\nb"], 0), b"");
        // A line written in pieces is still one line.
        assert_eq!(tail_text(&[b"x\ny", b"z\n"], 1), b"yz\n");
        assert_eq!(tail_text(&[b"x\ny", b"z"], 1), b"yz");
        assert_eq!(tail_text(&[b"x\ny", b"z"], 5), b"x\nyz");
        assert_eq!(tail_text(&[], 1), b"");
    }
}
