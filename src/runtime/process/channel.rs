//! The pipes between the parent and the container process: go-bytes from
//! the parent, and the result of the child's exec, class byte and message.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;

use nix::unistd::Pid;

use crate::runtime::{Error, Result};

/// Exit-status class bytes on the result pipe.
const FAIL_ENGINE: u8 = b'5';
const FAIL_INVOKE: u8 = b'6';
const FAIL_NOT_FOUND: u8 = b'7';

/// Reads the child's result pipe to its end: nothing means the command
/// runs; else the child is reaped and its error returned, classed as its
/// first byte says.
pub(super) fn read_result(mut result: File, pid: Pid) -> Result<Pid> {
    let mut msg = Vec::new();
    let _ = result.read_to_end(&mut msg);
    if msg.is_empty() {
        return Ok(pid);
    }
    let _ = nix::sys::wait::waitpid(pid, None);
    let text = String::from_utf8_lossy(&msg[1..]).into_owned();
    Err(match msg[0] {
        FAIL_NOT_FOUND => Error::NotFound(text),
        FAIL_INVOKE => Error::CannotInvoke(text),
        _ => Error::Msg(text),
    })
}

/// In the child: sends `err` on the result pipe, its class byte first,
/// and exits 127, 126 or 125 as the class says.
pub(super) fn report_and_exit(mut result: File, err: Error) -> ! {
    let (class, code) = match err {
        Error::NotFound(_) => (FAIL_NOT_FOUND, 127),
        Error::CannotInvoke(_) => (FAIL_INVOKE, 126),
        _ => (FAIL_ENGINE, 125),
    };
    let mut msg = vec![class];
    msg.extend_from_slice(err.to_string().as_bytes());
    let _ = result.write_all(&msg);
    crate::runtime::fork::exit_now(code)
}

/// A close-on-exec pipe: (read end, write end).
pub(super) fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| Error::sys("pipe", e))
}

/// Waits for the parent's next go-byte; exits quietly when the parent gave
/// up instead (closed the pipe).
pub(super) fn wait_for_go(go: &mut File) {
    let mut byte = [0u8; 1];
    if go.read(&mut byte).unwrap_or(0) != 1 {
        crate::runtime::fork::exit_now(125);
    }
}
