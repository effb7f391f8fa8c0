//! The container's terminal: the console socket, and the pty the container
//! makes in its own /dev/pts and sends back over it.
#![allow(unsafe_code)]

use std::fs;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::Path;

use crate::runtime::{io_err, Error, Result};

/// Makes the socket pair for `ChildStdio::Console`: (ours, the child's).
pub fn console_socket() -> Result<(OwnedFd, OwnedFd)> {
    use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
    socketpair(
        AddressFamily::Unix,
        SockType::Stream,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| Error::sys("socketpair", e))
}

/// Receives the pty master the container sent over the console socket.
pub fn receive_console(sock: &OwnedFd) -> Result<OwnedFd> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    use std::io::IoSliceMut;
    let mut byte = [0u8; 1];
    let mut iov = [IoSliceMut::new(&mut byte)];
    let mut cmsg = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .map_err(|e| Error::sys("receiving the container's terminal", e))?;
    for c in msg
        .cmsgs()
        .map_err(|e| Error::sys("receiving the container's terminal", e))?
    {
        if let ControlMessageOwned::ScmRights(fds) = c {
            if let Some(&fd) = fds.first() {
                // SAFETY: SCM_RIGHTS just installed this descriptor in our table.
                return Ok(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) });
            }
        }
    }
    Err(Error::Msg("the container did not send its terminal".into()))
}

/// In the container: opens a pty in its /dev/pts, sends the master over
/// `sock`, and returns the slave.
pub(super) fn make_console(sock: &OwnedFd, size: Option<nix::pty::Winsize>) -> Result<OwnedFd> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    use std::io::IoSlice;
    let master = nix::pty::posix_openpt(nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_NOCTTY)
        .map_err(|e| Error::sys("opening /dev/ptmx in the container", e))?;
    nix::pty::grantpt(&master).map_err(|e| Error::sys("grantpt", e))?;
    nix::pty::unlockpt(&master).map_err(|e| Error::sys("unlockpt", e))?;
    let name = nix::pty::ptsname_r(&master).map_err(|e| Error::sys("ptsname", e))?;
    let slave = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&name)
        .map_err(|e| io_err("open", Path::new(&name), e))?;
    if let Some(ws) = size {
        crate::runtime::tty::set_window_size(master.as_raw_fd(), ws.ws_row, ws.ws_col);
    }
    let fds = [master.as_raw_fd()];
    sendmsg::<()>(
        sock.as_raw_fd(),
        &[IoSlice::new(b"t")],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .map_err(|e| Error::sys("sending the terminal to the supervisor", e))?;
    Ok(slave.into())
}
