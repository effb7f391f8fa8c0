//! The container runtime: user namespaces and id mapping, the OCI spec, mounts,
//! capabilities and process creation.

pub mod caps;
pub mod fds;
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
