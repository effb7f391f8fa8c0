//! The crate-wide error type and its mapping to Podman's exit codes.
//!
//! Every error a user sees is one line that names the object it is about.
//! Exit codes follow Podman: 125 the engine failed, 126 the command could not
//! be invoked, 127 it was not found.

use std::path::Path;

/// Exit code for failures of the engine itself.
pub const EXIT_ENGINE: i32 = 125;
/// Exit code when the container command exists but cannot be invoked.
pub const EXIT_CANNOT_INVOKE: i32 = 126;
/// Exit code when the container command was not found.
pub const EXIT_NOT_FOUND: i32 = 127;
/// Exit code of the `rm` commands (containers, images, pods, volumes,
/// networks) when a named object did not exist and nothing else failed
/// (Podman's EXIT STATUS).
pub const EXIT_NO_SUCH: i32 = 1;
/// Exit code of the `rm` commands when an object is running or in use.
pub const EXIT_IN_USE: i32 = 2;

/// The endings of the messages that say a named object does not exist, as
/// Podman words them. Podman's `rm` commands classify their errors by these
/// very strings (`strings.Contains(err.Error(), ErrNoSuchCtr.Error())`).
const NO_SUCH: [&str; 5] = [
    "no such container",
    "no such pod",
    "network not found",
    "image not known",
    "no such volume",
];

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A plain, already user-facing message (exit 125).
    #[error("{0}")]
    Msg(String),
    /// A user-facing message with a specific exit code.
    #[error("{msg}")]
    Code { msg: String, code: i32 },
    #[error("{0}")]
    Image(#[from] crate::image::Error),
    #[error("{0}")]
    Storage(#[from] crate::storage::Error),
    #[error("{0}")]
    Runtime(#[from] crate::runtime::Error),
    #[error("{0}")]
    State(#[from] crate::state::Error),
    #[error("{0}")]
    Format(#[from] crate::format::Error),
    #[error("{0}")]
    Registry(#[from] crate::registry::Error),
    #[error("{0}")]
    Kube(#[from] crate::kube::Error),
    /// A Containerfile that cannot be built as written (exit 125).
    #[error("{0}")]
    Build(#[from] crate::build::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn msg(m: impl Into<String>) -> Self {
        Error::Msg(m.into())
    }

    pub fn with_code(code: i32, m: impl Into<String>) -> Self {
        Error::Code {
            msg: m.into(),
            code,
        }
    }

    /// Whether the error says that a named container, pod, image, volume
    /// or network does not exist (what `rm -f` and `--ignore` pass over).
    pub fn is_no_such(&self) -> bool {
        let m = self.to_string();
        NO_SUCH
            .iter()
            .any(|end| m.ends_with(end) || m.starts_with("no such volume "))
    }

    /// The exit code of an `rm` command that failed with this error, after
    /// Podman's EXIT STATUS: 1 for an object that did not exist, the
    /// error's own code otherwise (2 for one in use, 125 by default).
    pub fn rm_exit_code(&self) -> i32 {
        if self.is_no_such() {
            EXIT_NO_SUCH
        } else {
            self.exit_code()
        }
    }

    /// The process exit code this error maps to.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Code { code, .. } => *code,
            Error::Runtime(e) => e.exit_code(),
            _ => EXIT_ENGINE,
        }
    }
}

/// Formats an I/O error about a path the way Podman users know it:
/// `statfs /nonexist/x: no such file or directory`.
pub fn io_msg(op: &str, path: &Path, err: &std::io::Error) -> String {
    format!("{op} {}: {}", path.display(), io_reason(err))
}

/// The bytes of a file the user names, at most `max` bytes: a larger file,
/// `/dev/zero` or a pipe that never ends is refused instead of read until
/// memory runs out. Errors (one line): `open|read PATH: REASON`, or
/// `PATH: larger than N MiB` (N is `max` in MiB).
pub fn read_bounded(path: &Path, max: u64) -> Result<Vec<u8>> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| Error::Msg(io_msg("open", path, &e)))?;
    let mut data = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut data)
        .map_err(|e| Error::Msg(io_msg("read", path, &e)))?;
    if data.len() as u64 > max {
        return Err(Error::Msg(format!(
            "{}: larger than {} MiB",
            path.display(),
            max >> 20
        )));
    }
    Ok(data)
}

/// [`read_bounded`] for a text file; not UTF-8 is `PATH: not valid UTF-8`.
pub fn read_bounded_text(path: &Path, max: u64) -> Result<String> {
    String::from_utf8(read_bounded(path, max)?)
        .map_err(|_| Error::Msg(format!("{}: not valid UTF-8", path.display())))
}

/// The lowercase reason of an I/O error, without Rust's "(os error N)" suffix.
pub fn io_reason(err: &std::io::Error) -> String {
    match err.raw_os_error() {
        Some(code) => nix::errno::Errno::from_raw(code).desc().to_lowercase(),
        None => err.to_string(),
    }
}
