//! An in-process pipe between a thread that produces bytes (a compressor)
//! and one that reads them (an upload). Unlike an OS pipe, the reader sees
//! the end only when the writer says it is complete: a writer that fails or
//! panics half-way gives the reader an error, never a short stream that
//! would be stored as if it were whole.

use std::io::{self, Read, Write};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

/// Bytes the writer gathers before handing them over.
const CHUNK: usize = 1 << 20;
/// Chunks in flight: the writer runs at most this far ahead.
const DEPTH: usize = 4;

enum Msg {
    Data(Vec<u8>),
    End,
}

/// A connected (writer, reader) pair.
pub fn pipe() -> (PipeWriter, PipeReader) {
    let (tx, rx) = sync_channel(DEPTH);
    (
        PipeWriter {
            tx,
            buf: Vec::with_capacity(CHUNK),
        },
        PipeReader {
            rx,
            cur: Vec::new(),
            pos: 0,
            ended: false,
        },
    )
}

pub struct PipeWriter {
    tx: SyncSender<Msg>,
    buf: Vec<u8>,
}

impl PipeWriter {
    /// Marks the stream complete: only now does the reader see its end.
    pub fn finish(mut self) -> io::Result<()> {
        self.send_buf()?;
        self.tx.send(Msg::End).map_err(|_| gone())
    }

    fn send_buf(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let full = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        self.tx.send(Msg::Data(full)).map_err(|_| gone())
    }
}

fn gone() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "the reader has gone")
}

impl Write for PipeWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send_buf()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send_buf()
    }
}

pub struct PipeReader {
    rx: Receiver<Msg>,
    cur: Vec<u8>,
    pos: usize,
    ended: bool,
}

impl Read for PipeReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.cur.len() {
            if self.ended {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Msg::Data(d)) => {
                    self.cur = d;
                    self.pos = 0;
                }
                Ok(Msg::End) => self.ended = true,
                Err(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the stream was cut off: its producer failed",
                    ))
                }
            }
        }
        let n = out.len().min(self.cur.len() - self.pos);
        out[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carries_everything_written_once_finished() {
        let (mut w, mut r) = pipe();
        let data: Vec<u8> = (0..(CHUNK * 2 + 5)).map(|i| (i % 253) as u8).collect();
        let expected = data.clone();
        let t = std::thread::spawn(move || {
            w.write_all(&data).unwrap();
            w.finish().unwrap();
        });
        let mut got = Vec::new();
        r.read_to_end(&mut got).unwrap();
        t.join().unwrap();
        assert_eq!(got, expected);
    }

    #[test]
    fn a_writer_that_stops_early_is_an_error_not_an_end() {
        let (mut w, mut r) = pipe();
        std::thread::spawn(move || {
            w.write_all(b"partial").unwrap();
            w.flush().unwrap();
            // dropped without finish()
        })
        .join()
        .unwrap();
        let mut got = Vec::new();
        let e = r.read_to_end(&mut got).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(got, b"partial");
    }

    #[test]
    fn writing_after_the_reader_left_fails() {
        let (mut w, r) = pipe();
        drop(r);
        assert!(w.write_all(&vec![0u8; CHUNK]).is_err());
    }
}
