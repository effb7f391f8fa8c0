//! The container runtime: user namespaces and id mapping, the OCI spec, mounts,
//! capabilities and process creation.

pub mod caps;
pub mod fds;
pub mod fork;
pub mod idmap;
pub mod mounts;
pub mod process;
pub mod rootfs;
pub mod safe_path;
pub mod seccomp;
pub mod signal;
pub mod spec;
pub mod tty;
pub mod user;
pub mod usermap;
pub mod userns;

use crate::error::{EXIT_CANNOT_INVOKE, EXIT_ENGINE, EXIT_NOT_FOUND};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Msg(String),
    /// The container command was not found (exit 127).
    #[error("{0}")]
    NotFound(String),
    /// The container command exists but cannot be invoked (exit 126).
    #[error("{0}")]
    CannotInvoke(String),
    #[error("{what}: {}", .errno.desc().to_lowercase())]
    Sys {
        what: String,
        errno: nix::errno::Errno,
    },
    /// `fork::fork` refused: the process has more than one thread, so a
    /// forked child could inherit a lock held for ever (a bug in skiff).
    #[error("{what}: skiff has {threads} threads and forks only while it has one (this is a bug in skiff)")]
    MultiThreaded { what: String, threads: usize },
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::NotFound(_) => EXIT_NOT_FOUND,
            Error::CannotInvoke(_) => EXIT_CANNOT_INVOKE,
            _ => EXIT_ENGINE,
        }
    }

    pub fn sys(what: impl Into<String>, errno: nix::errno::Errno) -> Self {
        Error::Sys {
            what: what.into(),
            errno,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An I/O error of operation `op` on `path`, as one line naming both.
pub(crate) fn io_err(op: &str, path: &std::path::Path, e: std::io::Error) -> Error {
    Error::Msg(crate::error::io_msg(op, path, &e))
}
