//! Messages between the CLI and a supervisor.
//!
//! The status pipe (supervisor -> the CLI that started it) carries lines:
//! `started PID`, `error CODE MESSAGE`, `exited CODE`, `detached`.
//! The attach socket carries frames: one type byte, a big-endian u32 length,
//! then the payload.

use std::io::{self, Read};

/// Supervisor -> client: container output on stdout.
pub const STDOUT: u8 = 1;
/// Supervisor -> client: container output on stderr.
pub const STDERR: u8 = 2;
/// Supervisor -> client: the container exited; payload is the code as text.
pub const EXIT: u8 = 3;
/// Client -> supervisor: bytes for the container's stdin.
pub const STDIN: u8 = 4;
/// Client -> supervisor: the client's stdin reached end of file.
pub const STDIN_EOF: u8 = 5;
/// Client -> supervisor: terminal size, payload "ROWS COLS".
pub const RESIZE: u8 = 6;
/// Supervisor -> client: this many bytes of output (as text) were dropped
/// for this client because it read too slowly; the container log has them.
pub const DROPPED: u8 = 7;

/// Encodes one frame.
pub fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(5 + payload.len());
    v.push(kind);
    v.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// Reads one frame; `Ok(None)` at a clean end of stream.
pub fn read_frame(r: &mut impl Read) -> io::Result<Option<(u8, Vec<u8>)>> {
    let mut head = [0u8; 5];
    match r.read_exact(&mut head) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
    if len > 16 << 20 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "frame too large",
        ));
    }
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload)?;
    Ok(Some((head[0], payload)))
}

/// Incremental frame decoder for non-blocking reads.
#[derive(Default)]
pub struct Decoder {
    buf: Vec<u8>,
}

impl Decoder {
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next complete frame, if any.
    pub fn next_frame(&mut self) -> Option<(u8, Vec<u8>)> {
        if self.buf.len() < 5 {
            return None;
        }
        let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]) as usize;
        if self.buf.len() < 5 + len {
            return None;
        }
        let kind = self.buf[0];
        let payload = self.buf[5..5 + len].to_vec();
        self.buf.drain(..5 + len);
        Some((kind, payload))
    }
}

/// Detects a detach key sequence (default ctrl-p ctrl-q) in a byte stream.
pub struct DetachKeys {
    keys: Vec<u8>,
    matched: usize,
}

impl DetachKeys {
    /// Parses Docker's `--detach-keys` form: `ctrl-p,ctrl-q`, `a,ctrl-b`; empty disables.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut keys = Vec::new();
        for k in spec.split(',').filter(|k| !k.is_empty()) {
            let b = if let Some(c) = k.strip_prefix("ctrl-") {
                match c.as_bytes() {
                    [c @ b'a'..=b'z'] => c - b'a' + 1,
                    [b'@'] => 0,
                    [b'['] => 27,
                    [b'\\'] => 28,
                    [b']'] => 29,
                    [b'^'] => 30,
                    [b'_'] => 31,
                    _ => return Err(format!("invalid detach keys \"{spec}\": unknown key {k}")),
                }
            } else if k.len() == 1 {
                k.as_bytes()[0]
            } else {
                return Err(format!("invalid detach keys \"{spec}\": unknown key {k}"));
            };
            keys.push(b);
        }
        Ok(DetachKeys { keys, matched: 0 })
    }

    /// Feeds input; returns the bytes to pass on and whether the sequence completed.
    /// Bytes that might start the sequence are held back until it is decided.
    pub fn feed(&mut self, input: &[u8]) -> (Vec<u8>, bool) {
        let mut out = Vec::with_capacity(input.len());
        if self.keys.is_empty() {
            out.extend_from_slice(input);
            return (out, false);
        }
        for &b in input {
            if b == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    self.matched = 0;
                    return (out, true);
                }
            } else {
                out.extend_from_slice(&self.keys[..self.matched]);
                self.matched = 0;
                if b == self.keys[0] {
                    self.matched = 1;
                } else {
                    out.push(b);
                }
            }
        }
        (out, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let mut bytes = frame(STDOUT, b"hello");
        bytes.extend(frame(EXIT, b"3"));
        let mut r = &bytes[..];
        assert_eq!(
            read_frame(&mut r).unwrap(),
            Some((STDOUT, b"hello".to_vec()))
        );
        assert_eq!(read_frame(&mut r).unwrap(), Some((EXIT, b"3".to_vec())));
        assert_eq!(read_frame(&mut r).unwrap(), None);
        let mut d = Decoder::default();
        d.push(&bytes[..3]);
        assert!(d.next_frame().is_none());
        d.push(&bytes[3..]);
        assert_eq!(d.next_frame(), Some((STDOUT, b"hello".to_vec())));
        assert_eq!(d.next_frame(), Some((EXIT, b"3".to_vec())));
    }

    #[test]
    fn detach_sequence() {
        let mut k = DetachKeys::parse("ctrl-p,ctrl-q").unwrap();
        assert_eq!(k.feed(b"ab\x10"), (b"ab".to_vec(), false));
        assert_eq!(k.feed(b"\x11"), (Vec::new(), true));
        let mut k = DetachKeys::parse("ctrl-p,ctrl-q").unwrap();
        assert_eq!(k.feed(b"\x10x"), (b"\x10x".to_vec(), false));
        assert!(DetachKeys::parse("ctrl-1").is_err());
        let mut none = DetachKeys::parse("").unwrap();
        assert_eq!(none.feed(b"\x10\x11"), (b"\x10\x11".to_vec(), false));
    }
}
