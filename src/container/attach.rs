//! `attach`: connect the terminal to a running container through its
//! supervisor's attach socket; detach with the detach keys.

use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;

use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use crate::runtime::{signal, tty};
use crate::state::container::Container;
use crate::supervisor::protocol::{self, Decoder, DetachKeys};
use crate::supervisor::relay::{End, Handler, Next, Relay, SinkId, SourceId, WhenFull};
use crate::supervisor::STREAM_BUFFER;
use crate::{Context, Error, Result};

/// A RESIZE frame with the caller's terminal size, if it has one.
fn size_frame() -> Option<Vec<u8>> {
    let ws = tty::window_size(std::io::stdin().as_raw_fd())?;
    Some(protocol::frame(
        protocol::RESIZE,
        format!("{} {}", ws.ws_row, ws.ws_col).as_bytes(),
    ))
}

fn send_size(sock: &mut UnixStream) {
    if let Some(f) = size_frame() {
        let _ = sock.write_all(&f);
    }
}

/// Tells the supervisor of `id` the caller's terminal size (foreground `-t`).
pub fn send_resize(ctx: &Context, id: &str) {
    if let Ok(mut sock) = UnixStream::connect(crate::supervisor::attach_socket(ctx, id)) {
        send_size(&mut sock);
    }
}

/// Relays stdio until the container exits (its code) or the user detaches (0).
/// With `sig_proxy` (and no tty, where the terminal carries them), signals
/// the CLI receives are sent to the container.
pub fn attach(
    ctx: &Context,
    c: &Container,
    with_stdin: bool,
    keys: DetachKeys,
    sig_proxy: bool,
) -> Result<i32> {
    let path = crate::supervisor::attach_socket(ctx, &c.id);
    let mut sock = UnixStream::connect(&path).map_err(|e| {
        Error::msg(format!(
            "attaching to {}: {}",
            c.name,
            crate::error::io_reason(&e)
        ))
    })?;
    let proxy = sig_proxy && !c.config.tty;
    let mut mask = if proxy {
        signal::set_of(&signal::PROXIED)
    } else {
        SigSet::empty()
    };
    mask.add(Signal::SIGWINCH);
    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&mask), None);
    let sfd = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
        .map_err(|e| Error::msg(format!("signalfd: {e}")))?;
    let stdin = std::io::stdin();
    // Raw with a tty whether stdin is attached or not, as Podman (see launch.rs).
    let _raw = if c.config.tty {
        tty::RawMode::enable(&stdin)
    } else {
        None
    };
    if c.config.tty {
        send_size(&mut sock);
    }
    let end = |r: std::io::Result<End>| {
        r.map_err(|e| Error::msg(format!("attaching to {}: {e}", c.name)))
    };
    let mut relay = Relay::new();
    let out = relay
        .add_own_output(std::io::stdout().as_fd())
        .map_err(|e| Error::msg(format!("attaching to {}: {e}", c.name)))?;
    let err = relay
        .add_own_output(std::io::stderr().as_fd())
        .map_err(|e| Error::msg(format!("attaching to {}: {e}", c.name)))?;
    let sock_in = end(End::owned(OwnedFd::from(sock)))?;
    let sock_out = relay.add_sink(end(sock_in.try_clone())?, STREAM_BUFFER, WhenFull::Wait);
    let from_sock = relay.add_source(sock_in, &[out, err]);
    let from_stdin = if with_stdin {
        let e = end(End::shared(stdin.as_fd(), false))?;
        Some(relay.add_source(e, &[sock_out]))
    } else {
        None
    };
    let mut h = Attach {
        sfd: &sfd,
        proxy,
        pid: nix::unistd::Pid::from_raw(c.state.pid),
        keys,
        out,
        err,
        sock_out,
        from_sock,
        from_stdin,
        dec: Decoder::default(),
        done: None,
    };
    relay
        .run(&mut h)
        .map_err(|e| Error::msg(format!("poll: {e}")))
}

/// The attach client's relay: socket frames to stdout and stderr, stdin
/// (minus the detach keys) to the socket.
struct Attach<'a> {
    sfd: &'a SignalFd,
    proxy: bool,
    pid: nix::unistd::Pid,
    keys: DetachKeys,
    out: SinkId,
    err: SinkId,
    sock_out: SinkId,
    from_sock: SourceId,
    from_stdin: Option<SourceId>,
    dec: Decoder,
    /// The code to return once stdout and stderr are written out.
    done: Option<i32>,
}

impl Handler for Attach<'_> {
    type Output = i32;

    fn watches(&self) -> Vec<BorrowedFd<'_>> {
        vec![self.sfd.as_fd()]
    }

    fn on_watch(&mut self, relay: &mut Relay, _index: usize) {
        while let Ok(Some(info)) = self.sfd.read_signal() {
            match Signal::try_from(info.ssi_signo as i32) {
                Ok(Signal::SIGWINCH) => {
                    if let Some(size) = size_frame() {
                        relay.push(self.sock_out, &size);
                    }
                }
                Ok(s) if self.proxy => {
                    let _ = nix::sys::signal::kill(self.pid, s);
                }
                _ => {}
            }
        }
    }

    fn on_data(&mut self, relay: &mut Relay, src: SourceId, data: &[u8]) {
        if Some(src) == self.from_stdin {
            let (pass, detached) = self.keys.feed(data);
            if !pass.is_empty() {
                relay.push(self.sock_out, &protocol::frame(protocol::STDIN, &pass));
            }
            if detached {
                self.done = Some(0);
                relay.remove_source(src);
                relay.remove_source(self.from_sock);
            }
            return;
        }
        self.dec.push(data);
        while let Some((kind, data)) = self.dec.next_frame() {
            match kind {
                protocol::STDOUT => {
                    relay.push(self.out, &data);
                }
                protocol::STDERR => {
                    relay.push(self.err, &data);
                }
                protocol::DROPPED => {
                    let n = String::from_utf8_lossy(&data);
                    let note = format!(
                        "Warning: {n} bytes of the container's output were not shown: this client read them too slowly (skiff logs has them)\n"
                    );
                    relay.push(self.err, note.as_bytes());
                }
                protocol::EXIT => {
                    self.done = Some(String::from_utf8_lossy(&data).trim().parse().unwrap_or(0));
                    relay.remove_source(self.from_sock);
                }
                _ => {}
            }
        }
    }

    fn on_end(&mut self, relay: &mut Relay, src: SourceId) {
        if Some(src) == self.from_stdin {
            self.from_stdin = None;
            relay.push(self.sock_out, &protocol::frame(protocol::STDIN_EOF, b""));
        } else if src == self.from_sock {
            // The supervisor went away without an exit frame.
            self.done.get_or_insert(0);
        }
    }

    fn on_sink_lost(&mut self, relay: &mut Relay, sink: SinkId) {
        if sink == self.sock_out {
            self.done.get_or_insert(0);
            relay.remove_source(self.from_sock);
        }
    }

    fn next(&mut self, relay: &Relay) -> Next<i32> {
        match self.done {
            Some(code) if relay.pending(self.out) + relay.pending(self.err) == 0 => {
                Next::Done(code)
            }
            _ => Next::Wait(None),
        }
    }
}
