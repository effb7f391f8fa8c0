//! Finding the container's command as execvp would, in the container's
//! PATH, and exec'ing it.

use std::ffi::CString;
use std::fs;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;

use super::Never;
use crate::runtime::{Error, Result};

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn is_executable_file(p: &Path) -> bool {
    fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Finds the command like execvp would, but with the container's PATH.
fn find_command(cmd: &str, env: &[String]) -> Result<PathBuf> {
    if cmd.contains('/') {
        let p = PathBuf::from(cmd);
        return match fs::metadata(&p) {
            Err(_) => Err(Error::NotFound(format!(
                "executable file `{cmd}` not found: no such file or directory"
            ))),
            Ok(m) if m.is_dir() || m.file_type().is_char_device() => Err(Error::CannotInvoke(
                format!("{cmd}: permission denied: not an executable file"),
            )),
            Ok(_) => Ok(p),
        };
    }
    let path = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH);
    for dir in path.split(':').filter(|d| !d.is_empty()) {
        let cand = Path::new(dir).join(cmd);
        if is_executable_file(&cand) {
            return Ok(cand);
        }
    }
    Err(Error::NotFound(format!(
        "executable file `{cmd}` not found in $PATH: no such file or directory"
    )))
}

pub(super) fn exec(args: &[String], env: &[String]) -> Result<Never> {
    let cmd = args.first().ok_or_else(|| {
        Error::Msg("no command specified: give one or set CMD/ENTRYPOINT in the image".into())
    })?;
    let path = find_command(cmd, env)?;
    let cstr = |s: &str| {
        CString::new(s).map_err(|_| Error::Msg(format!("argument contains a NUL byte: {s:?}")))
    };
    let c_path = CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| Error::Msg("path contains a NUL byte".into()))?;
    let c_args = args.iter().map(|a| cstr(a)).collect::<Result<Vec<_>>>()?;
    let c_env = env.iter().map(|a| cstr(a)).collect::<Result<Vec<_>>>()?;
    // The command starts with stdin, stdout and stderr only; close-on-exec
    // rather than close, so the error pipe works until the exec succeeds.
    crate::runtime::fds::cloexec_inherited();
    crate::runtime::fds::reset_signals();
    let e = nix::unistd::execve(&c_path, &c_args, &c_env).unwrap_err();
    Err(match e {
        Errno::ENOENT => Error::NotFound(format!(
            "executable file `{cmd}` not found: no such file or directory"
        )),
        Errno::EACCES | Errno::ENOEXEC | Errno::EISDIR | Errno::EPERM => Error::CannotInvoke(
            format!("{cmd}: {}: cannot invoke it", e.desc().to_lowercase()),
        ),
        e => Error::sys(format!("exec {cmd}"), e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lookup() {
        let env = vec!["PATH=/nonexistent:/bin".to_string()];
        assert_eq!(find_command("sh", &env).unwrap(), PathBuf::from("/bin/sh"));
        assert!(matches!(
            find_command("nosuchcmd", &env),
            Err(Error::NotFound(_))
        ));
        assert!(matches!(
            find_command("/nonexistent", &env),
            Err(Error::NotFound(_))
        ));
        assert!(matches!(
            find_command("/dev/null", &env),
            Err(Error::CannotInvoke(_))
        ));
    }
}
