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

/// What [`read_capped`] gives for input longer than its bound: an I/O
/// error of kind `FileTooLarge` whose text is `larger than N MiB`.
#[derive(Debug)]
pub struct TooLarge {
    /// The bound, in bytes.
    pub max: u64,
}

impl std::fmt::Display for TooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "larger than {} MiB", self.max >> 20)
    }
}

impl std::error::Error for TooLarge {}

/// At most `max` bytes of `r`, read to its end: a longer stream (a pipe
/// that never ends, `/dev/zero`) is refused after `max + 1` bytes instead
/// of read until memory runs out. The error is the reader's, or
/// [`TooLarge`] (kind `FileTooLarge`); callers that tell a missing file
/// apart keep doing so by its kind.
pub fn read_capped(r: impl std::io::Read, max: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut data = Vec::new();
    r.take(max + 1).read_to_end(&mut data)?;
    if data.len() as u64 > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::FileTooLarge,
            TooLarge { max },
        ));
    }
    Ok(data)
}

/// [`read_capped`] of the file at `path`, as UTF-8 text (else an error of
/// kind `InvalidData`): for configuration and credential files read where
/// a missing file is not an error.
pub fn read_capped_text(path: &Path, max: u64) -> std::io::Result<String> {
    let data = read_capped(std::fs::File::open(path)?, max)?;
    String::from_utf8(data)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not valid UTF-8"))
}

/// The bytes of a stream the user hands over (standard input), at most
/// `max` bytes, named `name` in errors (one line): `read NAME: REASON`, or
/// `NAME: larger than N MiB`.
pub fn read_bounded_from(r: impl std::io::Read, name: &str, max: u64) -> Result<Vec<u8>> {
    read_capped(r, max).map_err(
        |e| match e.get_ref().and_then(|i| i.downcast_ref::<TooLarge>()) {
            Some(big) => Error::Msg(format!("{name}: {big}")),
            None => Error::Msg(format!("read {name}: {}", io_reason(&e))),
        },
    )
}

/// The bytes of a file the user names, at most `max` bytes: a larger file,
/// `/dev/zero` or a pipe that never ends is refused instead of read until
/// memory runs out. Errors (one line): `open|read PATH: REASON`, or
/// `PATH: larger than N MiB` (N is `max` in MiB).
pub fn read_bounded(path: &Path, max: u64) -> Result<Vec<u8>> {
    let file = std::fs::File::open(path).map_err(|e| Error::Msg(io_msg("open", path, &e)))?;
    read_bounded_from(file, &path.display().to_string(), max)
}

/// [`read_bounded`] for a text file; not UTF-8 is `PATH: not valid UTF-8`.
pub fn read_bounded_text(path: &Path, max: u64) -> Result<String> {
    String::from_utf8(read_bounded(path, max)?)
        .map_err(|_| Error::Msg(format!("{}: not valid UTF-8", path.display())))
}

/// [`read_bounded_from`] for text; not UTF-8 is `NAME: not valid UTF-8`.
pub fn read_bounded_text_from(r: impl std::io::Read, name: &str, max: u64) -> Result<String> {
    String::from_utf8(read_bounded_from(r, name, max)?)
        .map_err(|_| Error::Msg(format!("{name}: not valid UTF-8")))
}

/// The most a file or stream the user hands skiff whole may hold (a
/// Containerfile, a kube YAML, a password, an id file, a configuration or
/// credential file): 16 MiB, far above any real one.
pub const USER_FILE_MAX: u64 = 16 << 20;

/// The lowercase reason of an I/O error, without Rust's "(os error N)" suffix.
pub fn io_reason(err: &std::io::Error) -> String {
    match err.raw_os_error() {
        Some(code) => nix::errno::Errno::from_raw(code).desc().to_lowercase(),
        None => err.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_reads_stop_after_the_bound() {
        // An endless stream ends in a one-line error after max + 1 bytes.
        let e = read_bounded_from(std::io::repeat(0), "standard input", 1 << 20).unwrap_err();
        assert_eq!(e.to_string(), "standard input: larger than 1 MiB");
        let e = read_capped(std::io::repeat(0), 1 << 20).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::FileTooLarge);
        // Exactly the bound is fine.
        let data = read_bounded_from(&[1u8; 1 << 20][..], "x", 1 << 20).unwrap();
        assert_eq!(data.len(), 1 << 20);
        let e = read_bounded_text_from(&[0xffu8][..], "standard input", 10).unwrap_err();
        assert_eq!(e.to_string(), "standard input: not valid UTF-8");
        // A missing file keeps its kind for callers that skip it.
        let e = read_capped_text(Path::new("/nonexistent/skiff"), 10).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
    }
}
