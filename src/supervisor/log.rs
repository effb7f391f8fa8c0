//! The container log in Podman's k8s-file format, one record per line:
//! `2026-11-22T11:52:18.887415247+00:00 stdout F text` where `F` marks a full
//! line and `P` a partial one (output that did not end with a newline yet).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

use chrono::{DateTime, SecondsFormat, Utc};

/// Which stream a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// Formats one chunk of output as log records.
pub fn format_chunk(now: DateTime<Utc>, stream: Stream, chunk: &[u8], out: &mut Vec<u8>) {
    let ts = now.to_rfc3339_opts(SecondsFormat::Nanos, false);
    let mut rest = chunk;
    while !rest.is_empty() {
        let (line, full, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&rest[..i], true, &rest[i + 1..]),
            None => (rest, false, &rest[rest.len()..]),
        };
        out.extend_from_slice(ts.as_bytes());
        out.push(b' ');
        out.extend_from_slice(stream.as_str().as_bytes());
        out.extend_from_slice(if full { b" F " } else { b" P " });
        out.extend_from_slice(line);
        out.push(b'\n');
        rest = next;
    }
}

/// An append-only log file, or none (`--log-driver none|passthrough`).
pub struct LogWriter {
    file: Option<File>,
    buf: Vec<u8>,
    /// `--log-opt max-size`: bytes the file may hold, and what it holds.
    max_size: Option<u64>,
    size: u64,
}

impl LogWriter {
    /// Appends to `path`; with `max_size` (bytes) the file is emptied when
    /// a record would take it past that size, as conmon's log-size-max.
    pub fn open(path: &Path, max_size: Option<u64>) -> std::io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let size = file.metadata()?.len();
        Ok(LogWriter {
            file: Some(file),
            buf: Vec::with_capacity(4096),
            max_size,
            size,
        })
    }

    /// A writer that keeps nothing.
    pub fn discard() -> Self {
        LogWriter {
            file: None,
            buf: Vec::new(),
            max_size: None,
            size: 0,
        }
    }

    pub fn write(&mut self, stream: Stream, chunk: &[u8]) {
        let Some(file) = &mut self.file else {
            return;
        };
        self.buf.clear();
        format_chunk(Utc::now(), stream, chunk, &mut self.buf);
        let len = self.buf.len() as u64;
        if self.max_size.is_some_and(|max| self.size + len > max) && file.set_len(0).is_ok() {
            self.size = 0;
        }
        // A full disk must not stop the container: drop the record.
        if file.write_all(&self.buf).is_ok() {
            self.size += len;
        }
    }
}

/// One parsed log record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub time: DateTime<Utc>,
    pub stream: Stream,
    pub full: bool,
    pub text: Vec<u8>,
}

/// Parses one line of the log; `None` for a malformed line.
pub fn parse_line(line: &[u8]) -> Option<Record> {
    let mut parts = line.splitn(4, |&b| b == b' ');
    let ts = std::str::from_utf8(parts.next()?).ok()?;
    let stream = match parts.next()? {
        b"stdout" => Stream::Stdout,
        b"stderr" => Stream::Stderr,
        _ => return None,
    };
    let full = match parts.next()? {
        b"F" => true,
        b"P" => false,
        _ => return None,
    };
    let text = parts.next().unwrap_or_default().to_vec();
    let time = DateTime::parse_from_rfc3339(ts).ok()?.with_timezone(&Utc);
    Some(Record {
        time,
        stream,
        full,
        text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_and_partial_lines() {
        let now = DateTime::parse_from_rfc3339("2026-11-22T11:52:18.887415247+00:00")
            .unwrap()
            .with_timezone(&Utc);
        let mut out = Vec::new();
        format_chunk(now, Stream::Stdout, b"out\npart", &mut out);
        assert_eq!(
            String::from_utf8(out.clone()).unwrap(),
            "2026-11-22T11:52:18.887415247+00:00 stdout F out\n2026-11-22T11:52:18.887415247+00:00 stdout P part\n"
        );
        let lines: Vec<Record> = out
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| parse_line(l).unwrap())
            .collect();
        assert_eq!(lines[0].text, b"out");
        assert!(lines[0].full);
        assert!(!lines[1].full);
        assert_eq!(lines[1].time, now);
    }

    #[test]
    fn empty_line_and_garbage() {
        let mut out = Vec::new();
        format_chunk(Utc::now(), Stream::Stderr, b"\n", &mut out);
        let r = parse_line(&out[..out.len() - 1]).unwrap();
        assert_eq!((r.stream, r.full, r.text.len()), (Stream::Stderr, true, 0));
        assert!(parse_line(b"nonsense").is_none());
    }
}
