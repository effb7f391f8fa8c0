//! The one I/O relay: moves bytes between non-blocking descriptors with a
//! bounded buffer per sink, for the supervisor (container stdio, the log, the
//! foreground CLI's stdio and attach clients), `exec -t`, and `attach`.
//!
//! - Every descriptor is driven without blocking: descriptors we own get
//!   `O_NONBLOCK`; the std descriptors we share with other processes are
//!   reopened through `/proc/self/fd/N` (a description of our own, so the
//!   user's terminal is never left non-blocking), sockets use `MSG_DONTWAIT`
//!   per call, and regular files are written as they are (they never wait).
//! - A sink buffers at most `limit` bytes (plus the chunk that crossed it).
//!   What happens when it is full is the sink's choice ([`WhenFull`]):
//!   `Wait` takes the back-pressure to its sources, which are not read (no
//!   `POLLIN` interest) until the sink drained below its limit; `Drop`
//!   discards whole pushes and counts them, for readers that must not slow
//!   the container (attach clients).
//! - A sink with pending bytes is polled for `POLLOUT`; no write in the loop
//!   ever waits.
//! - End of file: a source that ends is removed and reported; a sink closed
//!   with [`Relay::close_after_drain`] is closed once its buffer is empty
//!   (that is how the container's stdin sees EOF after the last byte).
//!
//! The owner of a loop implements [`Handler`]: it decides where the bytes of
//! each source go, handles its own descriptors (a signalfd, a listener) as
//! watches, and says when the loop is done.

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::MsgFlags;
use nix::sys::stat::{fstat, SFlag};

/// How many bytes one read takes from a source.
pub const CHUNK: usize = 32 * 1024;

/// How a descriptor is kept from blocking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `O_NONBLOCK` is set on a description nobody else uses.
    Stream,
    /// A socket: every call passes `MSG_DONTWAIT` (and `MSG_NOSIGNAL`).
    Socket,
    /// A regular file or block device: reads and writes never wait.
    File,
}

/// One end the relay reads from or writes to.
#[derive(Debug)]
pub struct End {
    fd: OwnedFd,
    kind: Kind,
    /// Status flags to put back when the description is shared and we had
    /// to set `O_NONBLOCK` on it (only when reopening was impossible).
    restore: Option<OFlag>,
}

/// What a read gave.
enum Read {
    Data(usize),
    Wait,
    End,
}

impl End {
    /// Takes a descriptor this process alone uses (a pipe it made, a pty
    /// master, an accepted socket) and makes it non-blocking.
    pub fn owned(fd: OwnedFd) -> io::Result<End> {
        let kind = kind_of(fd.as_fd())?;
        if kind == Kind::Stream {
            set_nonblocking(fd.as_fd())?;
        }
        Ok(End {
            fd,
            kind,
            restore: None,
        })
    }

    /// Takes an end of a pipe this process just made (with `pipe2`, no
    /// status flags but its access mode) and alone uses: what `owned` does
    /// without asking the kernel what it is, and with one `F_SETFL` (the
    /// access mode is not a settable flag, so `O_NONBLOCK` alone keeps it).
    pub fn own_pipe(fd: OwnedFd) -> io::Result<End> {
        fcntl(fd.as_raw_fd(), FcntlArg::F_SETFL(OFlag::O_NONBLOCK))?;
        Ok(End {
            fd,
            kind: Kind::Stream,
            restore: None,
        })
    }

    /// A non-blocking end for a descriptor shared with other processes (our
    /// stdin, stdout or stderr, inherited from the user's shell). Pipes and
    /// terminals are reopened through `/proc/self/fd/N` with `O_NONBLOCK` and
    /// `O_NOCTTY`, so that the shared description keeps its flags; sockets
    /// and files are duplicated. `write` says which direction is wanted.
    pub fn shared(fd: BorrowedFd, write: bool) -> io::Result<End> {
        let kind = kind_of(fd)?;
        if kind != Kind::Stream {
            return Ok(End {
                fd: fd.try_clone_to_owned()?,
                kind,
                restore: None,
            });
        }
        use std::os::unix::fs::OpenOptionsExt;
        let path = format!("/proc/self/fd/{}", fd.as_raw_fd());
        match std::fs::OpenOptions::new()
            .read(!write)
            .write(write)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
            .open(&path)
        {
            Ok(f) => Ok(End {
                fd: f.into(),
                kind,
                restore: None,
            }),
            Err(_) => {
                // A stream we cannot reopen (its /proc entry is out of
                // reach): share the description and put its flags back
                // when done.
                let fd = fd.try_clone_to_owned()?;
                let old = OFlag::from_bits_truncate(fcntl(fd.as_raw_fd(), FcntlArg::F_GETFL)?);
                set_nonblocking(fd.as_fd())?;
                Ok(End {
                    fd,
                    kind,
                    restore: Some(old),
                })
            }
        }
    }

    /// A second end on the same description (a pty master read and written).
    pub fn try_clone(&self) -> io::Result<End> {
        Ok(End {
            fd: self.fd.try_clone()?,
            kind: self.kind,
            restore: None,
        })
    }

    fn read(&self, buf: &mut [u8]) -> Read {
        let r = match self.kind {
            Kind::Socket => {
                nix::sys::socket::recv(self.fd.as_raw_fd(), buf, MsgFlags::MSG_DONTWAIT)
            }
            _ => nix::unistd::read(self.fd.as_raw_fd(), buf),
        };
        match r {
            Ok(0) => Read::End,
            Ok(n) => Read::Data(n),
            Err(Errno::EAGAIN) | Err(Errno::EINTR) => Read::Wait,
            // EIO: a pty master whose last slave closed.
            Err(_) => Read::End,
        }
    }

    /// Writes what the descriptor takes now: `Ok(0)` when it would block,
    /// `Err` when the reader is gone.
    fn write(&self, data: &[u8]) -> Result<usize, Errno> {
        let r = match self.kind {
            Kind::Socket => nix::sys::socket::send(
                self.fd.as_raw_fd(),
                data,
                MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL,
            ),
            _ => nix::unistd::write(&self.fd, data),
        };
        match r {
            Ok(n) => Ok(n),
            Err(Errno::EAGAIN) | Err(Errno::EINTR) => Ok(0),
            Err(e) => Err(e),
        }
    }
}

impl Drop for End {
    fn drop(&mut self) {
        if let Some(old) = self.restore {
            let _ = fcntl(self.fd.as_raw_fd(), FcntlArg::F_SETFL(old));
        }
    }
}

impl AsFd for End {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

fn kind_of(fd: BorrowedFd) -> io::Result<Kind> {
    let st = fstat(fd.as_raw_fd())?;
    let fmt = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
    Ok(if fmt == SFlag::S_IFSOCK {
        Kind::Socket
    } else if fmt == SFlag::S_IFREG || fmt == SFlag::S_IFBLK {
        Kind::File
    } else {
        Kind::Stream
    })
}

fn set_nonblocking(fd: BorrowedFd) -> io::Result<()> {
    let flags = OFlag::from_bits_truncate(fcntl(fd.as_raw_fd(), FcntlArg::F_GETFL)?);
    fcntl(fd.as_raw_fd(), FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
    Ok(())
}

/// What a sink does with a push that does not fit under its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenFull {
    /// Keep it, and stop reading the sources that feed this sink until it
    /// drained below its limit (lossless back-pressure).
    Wait,
    /// Discard the whole push and count its bytes (the reader is too slow
    /// and must not hold up the container or the log).
    Drop,
}

/// A source's handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceId(usize);

/// A sink's handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SinkId(usize);

struct Source {
    end: End,
    /// The `Wait` sinks whose fullness stops this source being read.
    feeds: Vec<SinkId>,
}

struct Sink {
    /// `None` once closed (drained after `close_after_drain`, or failed).
    end: Option<End>,
    pending: VecDeque<u8>,
    limit: usize,
    when_full: WhenFull,
    close_when_drained: bool,
    dropped: u64,
}

/// What the loop does next, as a handler decides before every poll.
pub enum Next<T> {
    /// Stop and return this.
    Done(T),
    /// Poll, waking after this long at most (`None`: until an event).
    Wait(Option<Duration>),
}

/// The owner of one relay loop.
pub trait Handler {
    /// What [`Relay::run`] returns when the handler says it is done.
    type Output;

    /// Descriptors the handler reads itself (a signalfd, a listener, a
    /// status pipe); polled for input every round.
    fn watches(&self) -> Vec<BorrowedFd<'_>> {
        Vec::new()
    }

    /// Watch number `index` (in the order of [`Handler::watches`]) is ready.
    fn on_watch(&mut self, _relay: &mut Relay, _index: usize) {}

    /// `data` was read from `src`; push it to sinks.
    fn on_data(&mut self, relay: &mut Relay, src: SourceId, data: &[u8]);

    /// `src` reached end of file (or failed); it is already removed.
    fn on_end(&mut self, relay: &mut Relay, src: SourceId);

    /// The reader of `sink` went away; the sink is closed and its pending
    /// bytes discarded.
    fn on_sink_lost(&mut self, _relay: &mut Relay, _sink: SinkId) {}

    /// Called before every poll.
    fn next(&mut self, relay: &Relay) -> Next<Self::Output>;
}

/// The relay: sources, sinks and the poll loop that joins them.
#[derive(Default)]
pub struct Relay {
    sources: Vec<Option<Source>>,
    sinks: Vec<Option<Sink>>,
    buf: Vec<u8>,
    /// Sinks that failed since the handler last heard of it.
    lost: Vec<SinkId>,
}

fn slot<T>(v: &mut Vec<Option<T>>, item: T) -> usize {
    match v.iter().position(Option::is_none) {
        Some(i) => {
            v[i] = Some(item);
            i
        }
        None => {
            v.push(Some(item));
            v.len() - 1
        }
    }
}

impl Relay {
    /// An empty relay; its read buffer is allocated on the first run.
    pub fn new() -> Relay {
        Relay::default()
    }

    /// Adds a source whose reading stops while any of the `feeds` sinks
    /// (those with [`WhenFull::Wait`]) is full.
    pub fn add_source(&mut self, end: End, feeds: &[SinkId]) -> SourceId {
        SourceId(slot(
            &mut self.sources,
            Source {
                end,
                feeds: feeds.to_vec(),
            },
        ))
    }

    /// Adds one of our own output streams (stdout, stderr) as a sink of
    /// [`super::STREAM_BUFFER`] bytes that holds back its sources when full:
    /// how the CLI's relays (exec, attach) show the container's output.
    /// Errors: the descriptor cannot be reopened non-blocking.
    pub fn add_own_output(&mut self, fd: BorrowedFd) -> io::Result<SinkId> {
        let end = End::shared(fd, true)?;
        Ok(self.add_sink(end, super::STREAM_BUFFER, WhenFull::Wait))
    }

    /// Adds a sink buffering up to `limit` bytes.
    pub fn add_sink(&mut self, end: End, limit: usize, when_full: WhenFull) -> SinkId {
        SinkId(slot(
            &mut self.sinks,
            Sink {
                end: Some(end),
                pending: VecDeque::new(),
                limit,
                when_full,
                close_when_drained: false,
                dropped: 0,
            },
        ))
    }

    /// Replaces the sinks whose fullness holds `src` back.
    pub fn set_feeds(&mut self, src: SourceId, feeds: &[SinkId]) {
        if let Some(Some(s)) = self.sources.get_mut(src.0) {
            s.feeds = feeds.to_vec();
        }
    }

    /// Removes a source and closes its descriptor.
    pub fn remove_source(&mut self, src: SourceId) {
        if let Some(s) = self.sources.get_mut(src.0) {
            *s = None;
        }
    }

    /// Removes a sink at once, discarding what it still holds.
    pub fn remove_sink(&mut self, sink: SinkId) {
        if let Some(s) = self.sinks.get_mut(sink.0) {
            *s = None;
        }
    }

    /// Whether `sink` still has a reader.
    pub fn is_open(&self, sink: SinkId) -> bool {
        matches!(self.sinks.get(sink.0), Some(Some(s)) if s.end.is_some())
    }

    /// Bytes `sink` still holds.
    pub fn pending(&self, sink: SinkId) -> usize {
        match self.sinks.get(sink.0) {
            Some(Some(s)) if s.end.is_some() => s.pending.len(),
            _ => 0,
        }
    }

    /// The bytes `sink` dropped since the last call, and resets the count.
    pub fn take_dropped(&mut self, sink: SinkId) -> u64 {
        match self.sinks.get_mut(sink.0) {
            Some(Some(s)) => std::mem::take(&mut s.dropped),
            _ => 0,
        }
    }

    /// Queues `data` on `sink` and writes what the descriptor takes now.
    /// False when the sink is closed or dropped the push (it was full).
    pub fn push(&mut self, sink: SinkId, data: &[u8]) -> bool {
        self.push_inner(sink, data, false)
    }

    /// Like [`Relay::push`], but never dropped for fullness: for the few
    /// bytes that must arrive (an attach client's exit frame).
    pub fn push_always(&mut self, sink: SinkId, data: &[u8]) -> bool {
        self.push_inner(sink, data, true)
    }

    fn push_inner(&mut self, id: SinkId, data: &[u8], always: bool) -> bool {
        let Some(Some(sink)) = self.sinks.get_mut(id.0) else {
            return false;
        };
        let Some(end) = &sink.end else {
            return false;
        };
        if data.is_empty() {
            return true;
        }
        if sink.when_full == WhenFull::Drop
            && !always
            && sink.pending.len() + data.len() > sink.limit
        {
            sink.dropped += data.len() as u64;
            return false;
        }
        let wrote = if sink.pending.is_empty() {
            end.write(data)
        } else {
            Ok(0)
        };
        match wrote {
            Ok(n) => {
                sink.pending.extend(&data[n..]);
                true
            }
            Err(_) => {
                self.lose(id);
                false
            }
        }
    }

    /// Closes `sink` once everything queued on it is written.
    pub fn close_after_drain(&mut self, id: SinkId) {
        if let Some(Some(sink)) = self.sinks.get_mut(id.0) {
            sink.close_when_drained = true;
            if sink.pending.is_empty() {
                sink.end = None;
            }
        }
    }

    fn lose(&mut self, id: SinkId) {
        if let Some(Some(sink)) = self.sinks.get_mut(id.0) {
            sink.end = None;
            sink.pending = VecDeque::new();
            self.lost.push(id);
        }
    }

    /// Writes what `id`'s descriptor takes now.
    fn flush(&mut self, id: SinkId) {
        let Some(Some(sink)) = self.sinks.get_mut(id.0) else {
            return;
        };
        let Some(end) = &sink.end else { return };
        while !sink.pending.is_empty() {
            let (front, _) = sink.pending.as_slices();
            match end.write(front) {
                Ok(0) => break,
                Ok(n) => {
                    sink.pending.drain(..n);
                }
                Err(_) => {
                    self.lose(id);
                    return;
                }
            }
        }
        if sink.pending.is_empty() {
            // Give back a buffer a burst grew; the supervisor stays small.
            if sink.pending.capacity() > CHUNK {
                sink.pending = VecDeque::new();
            }
            if sink.close_when_drained {
                sink.end = None;
            }
        }
    }

    fn readable(&self, s: &Source) -> bool {
        s.feeds.iter().all(|f| match self.sinks.get(f.0) {
            Some(Some(k)) if k.end.is_some() && k.when_full == WhenFull::Wait => {
                k.pending.len() < k.limit
            }
            _ => true,
        })
    }

    /// Writes out `sinks` for up to `limit`, for a goodbye (an exit frame)
    /// that should reach readers before the process goes.
    pub fn drain(&mut self, sinks: &[SinkId], limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let waiting: Vec<SinkId> = sinks
                .iter()
                .copied()
                .filter(|s| self.pending(*s) > 0)
                .collect();
            let left = deadline.saturating_duration_since(Instant::now());
            if waiting.is_empty() || left.is_zero() {
                return;
            }
            let mut fds: Vec<PollFd> = waiting
                .iter()
                .filter_map(|s| match &self.sinks[s.0] {
                    Some(Sink { end: Some(e), .. }) => {
                        Some(PollFd::new(e.as_fd(), PollFlags::POLLOUT))
                    }
                    _ => None,
                })
                .collect();
            let ms = u16::try_from(left.as_millis() + 1).unwrap_or(u16::MAX);
            if let Err(e) = poll(&mut fds, PollTimeout::from(ms)) {
                if e != Errno::EINTR {
                    return;
                }
            }
            drop(fds);
            for s in waiting {
                self.flush(s);
            }
        }
    }

    /// Runs the loop until the handler says it is done. Fails only when
    /// poll itself does (ENOMEM, or more descriptors than RLIMIT_NOFILE).
    pub fn run<H: Handler>(&mut self, h: &mut H) -> Result<H::Output, Errno> {
        if self.buf.len() < CHUNK {
            self.buf = vec![0u8; CHUNK];
        }
        loop {
            self.report_lost(h);
            let timeout = match h.next(self) {
                Next::Done(out) => return Ok(out),
                Next::Wait(t) => t,
            };
            #[derive(Clone, Copy)]
            enum Who {
                Source(usize),
                Sink(usize),
                Watch(usize),
            }
            let mut who = Vec::new();
            let mut fds = Vec::new();
            for (i, s) in self.sources.iter().enumerate() {
                if let Some(s) = s.as_ref().filter(|s| self.readable(s)) {
                    who.push(Who::Source(i));
                    fds.push(PollFd::new(s.end.as_fd(), PollFlags::POLLIN));
                }
            }
            for (i, s) in self.sinks.iter().enumerate() {
                if let Some(Sink {
                    end: Some(e),
                    pending,
                    ..
                }) = s
                {
                    if !pending.is_empty() {
                        who.push(Who::Sink(i));
                        fds.push(PollFd::new(e.as_fd(), PollFlags::POLLOUT));
                    }
                }
            }
            let watches = h.watches();
            for (i, w) in watches.iter().enumerate() {
                who.push(Who::Watch(i));
                fds.push(PollFd::new(w.as_fd(), PollFlags::POLLIN));
            }
            let timeout = match timeout {
                None => PollTimeout::NONE,
                Some(d) => {
                    PollTimeout::from(u16::try_from(d.as_millis().max(1)).unwrap_or(u16::MAX))
                }
            };
            match poll(&mut fds, timeout) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(e) => return Err(e),
            }
            let ready: Vec<Who> = fds
                .iter()
                .zip(&who)
                .filter(|(f, _)| f.revents().is_some_and(|r| !r.is_empty()))
                .map(|(_, w)| *w)
                .collect();
            drop(fds);
            drop(watches);
            // Room first, so that what is read next finds it.
            for w in &ready {
                if let Who::Sink(i) = *w {
                    self.flush(SinkId(i));
                }
            }
            self.report_lost(h);
            for w in &ready {
                if let Who::Watch(i) = *w {
                    h.on_watch(self, i);
                }
            }
            let mut buf = std::mem::take(&mut self.buf);
            for w in &ready {
                let Who::Source(i) = *w else { continue };
                let Some(Some(src)) = self.sources.get(i) else {
                    continue;
                };
                match src.end.read(&mut buf) {
                    Read::Data(n) => h.on_data(self, SourceId(i), &buf[..n]),
                    Read::Wait => {}
                    Read::End => {
                        self.sources[i] = None;
                        h.on_end(self, SourceId(i));
                    }
                }
            }
            self.buf = buf;
        }
    }

    fn report_lost<H: Handler>(&mut self, h: &mut H) {
        while let Some(id) = self.lost.pop() {
            h.on_sink_lost(self, id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read as _, Write as _};

    fn pipe() -> (OwnedFd, OwnedFd) {
        nix::unistd::pipe2(OFlag::O_CLOEXEC).unwrap()
    }

    /// Copies one source to one sink and stops at EOF once drained.
    struct Copy {
        to: SinkId,
        ended: bool,
        reads: usize,
    }

    impl Handler for Copy {
        type Output = ();
        fn on_data(&mut self, relay: &mut Relay, _src: SourceId, data: &[u8]) {
            self.reads += 1;
            relay.push(self.to, data);
        }
        fn on_end(&mut self, relay: &mut Relay, _src: SourceId) {
            self.ended = true;
            relay.close_after_drain(self.to);
        }
        fn next(&mut self, relay: &Relay) -> Next<()> {
            if self.ended && !relay.is_open(self.to) {
                Next::Done(())
            } else {
                Next::Wait(None)
            }
        }
    }

    #[test]
    fn a_slow_reader_holds_the_source_back_and_gets_every_byte() {
        let (in_r, in_w) = pipe();
        let (out_r, out_w) = pipe();
        let total = 1_000_000usize;
        let writer = std::thread::spawn(move || {
            let mut w = std::fs::File::from(in_w);
            w.write_all(&vec![7u8; total]).unwrap();
        });
        let reader = std::thread::spawn(move || {
            let mut r = std::fs::File::from(out_r);
            let mut got = 0;
            let mut buf = [0u8; 1000];
            loop {
                // Slower than the writer: the relay must wait, not grow.
                std::thread::sleep(Duration::from_micros(50));
                match r.read(&mut buf).unwrap() {
                    0 => return got,
                    n => got += n,
                }
            }
        });
        let mut relay = Relay::new();
        let to = relay.add_sink(End::owned(out_w).unwrap(), 4096, WhenFull::Wait);
        relay.add_source(End::owned(in_r).unwrap(), &[to]);
        let mut h = Copy {
            to,
            ended: false,
            reads: 0,
        };
        relay.run(&mut h).unwrap();
        drop(relay);
        writer.join().unwrap();
        assert_eq!(reader.join().unwrap(), total);
        assert!(h.reads > 1);
    }

    #[test]
    fn a_shared_pipe_is_reopened_and_keeps_its_flags() {
        let (r, w) = pipe();
        let flags = |fd: BorrowedFd| {
            OFlag::from_bits_truncate(fcntl(fd.as_raw_fd(), FcntlArg::F_GETFL).unwrap())
        };
        let end = End::shared(w.as_fd(), true).unwrap();
        assert!(flags(end.as_fd()).contains(OFlag::O_NONBLOCK));
        assert!(
            !flags(w.as_fd()).contains(OFlag::O_NONBLOCK),
            "the description others share (a user's terminal) stays blocking"
        );
        assert_eq!(end.write(b"x"), Ok(1));
        let mut got = [0u8; 1];
        std::fs::File::from(r).read_exact(&mut got).unwrap();
        assert_eq!(&got, b"x");
    }

    #[test]
    fn an_own_pipe_end_turns_non_blocking_and_keeps_its_direction() {
        let (r, w) = pipe();
        let flags = |fd: BorrowedFd| {
            OFlag::from_bits_truncate(fcntl(fd.as_raw_fd(), FcntlArg::F_GETFL).unwrap())
        };
        let r = End::own_pipe(r).unwrap();
        let w = End::own_pipe(w).unwrap();
        for end in [&r, &w] {
            assert!(flags(end.as_fd()).contains(OFlag::O_NONBLOCK));
        }
        assert!(
            matches!(r.read(&mut [0u8; 1]), Read::Wait),
            "empty: no wait"
        );
        assert_eq!(w.write(b"x"), Ok(1));
        assert!(matches!(r.read(&mut [0u8; 1]), Read::Data(1)));
    }

    #[test]
    fn a_full_drop_sink_discards_whole_pushes_and_counts_them() {
        let (r, w) = pipe();
        let mut relay = Relay::new();
        let s = relay.add_sink(End::owned(w).unwrap(), 10, WhenFull::Drop);
        // Fill the pipe itself first, so that the sink has to buffer.
        let big = vec![1u8; 1 << 20];
        relay.push_always(s, &big);
        let buffered = relay.pending(s);
        assert!(buffered > 0);
        assert!(!relay.push(s, b"x"));
        assert_eq!(relay.take_dropped(s), 1);
        assert_eq!(relay.take_dropped(s), 0);
        drop(r);
        // Not a single flush: a process that another test forks at this
        // moment holds a copy of every descriptor, the read end included,
        // until it execs or exits; the write then waits (EAGAIN) rather
        // than fails. The relay polls, and a pipe whose last reader left
        // wakes it (POLLERR).
        relay.drain(&[s], Duration::from_secs(10));
        assert!(!relay.is_open(s), "a sink whose reader went away is closed");
    }

    #[test]
    fn a_sink_is_lost_when_the_last_copy_of_its_reader_goes() {
        let (r, w) = pipe();
        let mut relay = Relay::new();
        let s = relay.add_sink(End::owned(w).unwrap(), 10, WhenFull::Drop);
        relay.push_always(s, &vec![1u8; 1 << 20]);
        // Another process holds a copy of the read end, as a child forked
        // by any thread does until its exec.
        let mut holder = std::process::Command::new("sleep")
            .arg("60")
            .stdin(std::process::Stdio::from(r.try_clone().unwrap()))
            .spawn()
            .unwrap();
        drop(r);
        relay.flush(s);
        let open_while_held = relay.is_open(s);
        holder.kill().unwrap();
        holder.wait().unwrap();
        assert!(open_while_held, "a full pipe with a reader left waits");
        relay.drain(&[s], Duration::from_secs(10));
        assert!(!relay.is_open(s), "closed once the last reader is gone");
    }
}
