//! `attach`: connect the terminal to a running container through its
//! supervisor's attach socket; detach with the detach keys.

use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::UnixStream;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use crate::runtime::{signal, tty};
use crate::state::container::Container;
use crate::supervisor::protocol::{self, Decoder, DetachKeys};
use crate::{Context, Error, Result};

fn send_size(sock: &mut UnixStream) {
    if let Some(ws) = tty::window_size(std::io::stdin().as_raw_fd()) {
        let _ = protocol::write_frame(
            sock,
            protocol::RESIZE,
            format!("{} {}", ws.ws_row, ws.ws_col).as_bytes(),
        );
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
    mut keys: DetachKeys,
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
    let _raw = if c.config.tty && with_stdin {
        tty::RawMode::enable(stdin.as_raw_fd())
    } else {
        None
    };
    if c.config.tty {
        send_size(&mut sock);
    }
    let mut stdin_live = with_stdin;
    let mut dec = Decoder::default();
    let mut buf = vec![0u8; 32 * 1024];
    let mut out = std::io::stdout();
    let mut err = std::io::stderr();
    loop {
        let mut fds = vec![
            PollFd::new(sock.as_fd(), PollFlags::POLLIN),
            PollFd::new(sfd.as_fd(), PollFlags::POLLIN),
        ];
        if stdin_live {
            fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(Error::msg(format!("poll: {e}"))),
        }
        let r: Vec<bool> = fds
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        drop(fds);
        if r[1] {
            while let Ok(Some(info)) = sfd.read_signal() {
                match Signal::try_from(info.ssi_signo as i32) {
                    Ok(Signal::SIGWINCH) => send_size(&mut sock),
                    Ok(s) if proxy => {
                        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(c.state.pid), s);
                    }
                    _ => {}
                }
            }
        }
        if r.get(2).copied().unwrap_or(false) {
            match nix::unistd::read(stdin.as_raw_fd(), &mut buf) {
                Ok(0) | Err(_) => {
                    stdin_live = false;
                    let _ = protocol::write_frame(&mut sock, protocol::STDIN_EOF, b"");
                }
                Ok(n) => {
                    let (pass, detached) = keys.feed(&buf[..n]);
                    if !pass.is_empty() {
                        let _ = protocol::write_frame(&mut sock, protocol::STDIN, &pass);
                    }
                    if detached {
                        return Ok(0);
                    }
                }
            }
        }
        if r[0] {
            let n = match sock.read(&mut buf) {
                Ok(0) | Err(_) => return Ok(0),
                Ok(n) => n,
            };
            dec.push(&buf[..n]);
            while let Some((kind, data)) = dec.next_frame() {
                match kind {
                    protocol::STDOUT => {
                        let _ = out.write_all(&data);
                        let _ = out.flush();
                    }
                    protocol::STDERR => {
                        let _ = err.write_all(&data);
                    }
                    protocol::EXIT => {
                        return Ok(String::from_utf8_lossy(&data).trim().parse().unwrap_or(0));
                    }
                    _ => {}
                }
            }
        }
    }
}
