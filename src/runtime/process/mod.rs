//! Creating the container process from its OCI spec: new namespaces, the
//! root filesystem and its mounts, pivot_root, identity, capabilities and
//! exec. The parent learns whether exec succeeded through a close-on-exec
//! pipe: end-of-file means the command runs, a message means it failed.
//!
//! One file per concern:
//! - `init.rs`: `create` and `Created`, the clone of a container's init and
//!   its set-up up to exec (joined namespaces, loopback, root filesystem,
//!   stdio, rlimits, identity and capabilities, seccomp);
//! - `exec.rs`: `exec_in`, a process exec'd into a running container
//!   (joining its namespaces, a new session keyring, the hidden environment);
//! - `channel.rs`: the go and result pipes between parent and child;
//! - `console.rs`: the console socket and the pty made in the container;
//! - `command.rs`: finding the command in the container's PATH and execve;
//! - `host_ps.rs`: the host's ps(1) in a container's pid namespace (`top`).

mod channel;
mod command;
mod console;
mod exec;
mod host_ps;
mod init;

use std::os::fd::OwnedFd;

pub use console::{console_socket, receive_console};
pub use exec::{exec_in, JoinedBy};
pub use host_ps::{host_ps, PsRun};
pub use init::{bring_up_loopback, create, loopback_up, Created};

/// What the container's standard streams are connected to.
pub enum ChildStdio {
    /// The slave side of a pty, which becomes the controlling terminal.
    Pty(OwnedFd),
    /// Explicit descriptors for stdin, stdout and stderr.
    Fds(OwnedFd, OwnedFd, OwnedFd),
    /// A pty made inside the container's own /dev/pts (so `tty` names it),
    /// whose master is sent back over this socket (see `receive_console`).
    Console(OwnedFd, Option<nix::pty::Winsize>),
}

/// What confines a container process beyond its spec: the seccomp filter it
/// installs last before exec, and the name of the new session keyring it
/// joins first (runc's `_ses.<container id>`), so that it never sees the
/// caller's keys. `Default` confines by neither (tests, tools).
#[derive(Debug, Clone, Default)]
pub struct Confinement {
    pub seccomp: Option<super::seccomp::Program>,
    pub keyring: Option<String>,
}

/// What a container process's set-up returns when it cannot fail: nothing,
/// because exec replaced it.
enum Never {}
