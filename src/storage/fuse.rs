//! fuse-overlayfs: overlayfs in user space, for kernels without rootless overlay.
//!
//! fuse-overlayfs (checked with 1.10) hides 0/0 character devices and treats
//! `user.overlay.opaque`, `trusted.overlay.opaque` and
//! `user.fuseoverlayfs.opaque` alike, so our layer directories serve it as
//! they are. The whiteouts it writes into the upper directory are 0/0 devices
//! where mknod is allowed and `.wh.NAME` files where it is not.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{merged_dir, mountinfo, prepare_overlay_dirs, unmount_all, Error, Result};

const PROGRAM: &str = "fuse-overlayfs";

/// Whether fuse-overlayfs can run here: the program is installed and /dev/fuse opens.
pub(super) fn usable() -> Result<()> {
    program()?;
    let dev = Path::new("/dev/fuse");
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(dev)
        .map(drop)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                Error::Msg("/dev/fuse: no such device (load the fuse module: modprobe fuse)".into())
            }
            _ => Error::io("open", dev, &e),
        })
}

/// The fuse-overlayfs program found in PATH.
fn program() -> Result<PathBuf> {
    find_in_path(PROGRAM).ok_or_else(|| {
        Error::Msg(format!(
            "{PROGRAM}: not installed (apt install {PROGRAM}, or use --storage-driver vfs)"
        ))
    })
}

fn find_in_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| {
            std::fs::metadata(p)
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
}

pub(super) fn mount(lowers: &[PathBuf], dir: &Path) -> Result<PathBuf> {
    mount_with(lowers, dir, None)
}

/// fuse-overlayfs's `uidmapping=`/`gidmapping=` value: the map's lines
/// (`inside:outside:count`), joined by ':' (',' separates options).
fn mapping_option(maps: &[crate::runtime::idmap::IdMap]) -> String {
    maps.iter()
        .map(|m| format!("{}:{}:{}", m.inside, m.outside, m.count))
        .collect::<Vec<_>>()
        .join(":")
}

/// `mount`, with `shift` the ids seen through it (see `super::mount_shifted`).
pub(super) fn mount_with(
    lowers: &[PathBuf],
    dir: &Path,
    shift: Option<super::IdShift<'_>>,
) -> Result<PathBuf> {
    let merged = merged_dir(dir);
    if mountinfo::is_mount_point(&merged) {
        return Ok(merged);
    }
    usable()?;
    let program = program()?;
    let lowers = prepare_overlay_dirs(lowers, dir)?;
    let lowers = option_safe(&lowers, dir)?;
    let upper = dir.join("upper");
    let work = dir.join("work");
    for p in [&upper, &work] {
        if !is_option_safe(p) {
            return Err(Error::Msg(format!(
                "{}: fuse-overlayfs cannot use a path containing ':' or ','; use another --root",
                p.display()
            )));
        }
    }
    let lowerdir: Vec<String> = lowers.iter().map(|p| p.display().to_string()).collect();
    let mut opts = format!(
        "lowerdir={},upperdir={},workdir={}",
        lowerdir.join(":"),
        upper.display(),
        work.display()
    );
    if let Some(shift) = shift {
        opts.push_str(&format!(
            ",uidmapping={},gidmapping={}",
            mapping_option(shift.uids),
            mapping_option(shift.gids)
        ));
    }
    // fuse-overlayfs detaches once the file system is mounted and points its
    // own stdio at /dev/null, so waiting for its output ends at that moment.
    let out = Command::new(&program)
        .arg("-o")
        .arg(&opts)
        .arg(&merged)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| Error::io("run", &program, &e))?;
    if !out.status.success() {
        return Err(Error::Msg(format!(
            "fuse-overlayfs on {}: {} ({})",
            merged.display(),
            stderr_reason(&out.stderr),
            out.status
        )));
    }
    if !mountinfo::is_mount_point(&merged) {
        return Err(Error::Msg(format!(
            "fuse-overlayfs on {}: exited successfully but nothing is mounted",
            merged.display()
        )));
    }
    Ok(merged)
}

pub(super) fn unmount(dir: &Path) -> Result<()> {
    let merged = merged_dir(dir);
    if !mountinfo::is_mount_point(&merged) {
        return Ok(());
    }
    // umount2 works for root and inside the user namespace that mounted it;
    // an unprivileged user outside it needs the setuid helper.
    if unmount_all(&merged).is_ok() {
        return Ok(());
    }
    for helper in ["fusermount3", "fusermount"] {
        let Some(bin) = find_in_path(helper) else {
            continue;
        };
        let out = Command::new(&bin)
            .arg("-u")
            .arg(&merged)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| Error::io("run", &bin, &e))?;
        if out.status.success() || !mountinfo::is_mount_point(&merged) {
            return Ok(());
        }
        return Err(Error::Msg(format!(
            "unmount {}: {}",
            merged.display(),
            stderr_reason(&out.stderr)
        )));
    }
    unmount_all(&merged)
}

/// The lines of a helper's stderr that say something, on one line.
fn stderr_reason(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        // Debian's 1.10 warns about an option the mount helper passes; not the cause.
        .filter(|l| !l.is_empty() && !l.starts_with("unknown argument ignored"))
        .map(|l| l.strip_prefix("fuse-overlayfs: ").unwrap_or(l))
        .collect();
    if lines.is_empty() {
        "failed without a message".into()
    } else {
        lines.join("; ")
    }
}

fn is_option_safe(p: &Path) -> bool {
    p.to_str().is_some_and(|s| !s.contains([':', ',']))
}

/// fuse-overlayfs splits its options at ',' and lowerdir at ':'; layers whose
/// paths contain them are reached through short symlinks in `dir/l`.
fn option_safe(lowers: &[PathBuf], dir: &Path) -> Result<Vec<PathBuf>> {
    if lowers.iter().all(|p| is_option_safe(p)) {
        return Ok(lowers.to_vec());
    }
    let links = dir.join("l");
    if !is_option_safe(&links) {
        return Err(Error::Msg(format!(
            "{}: fuse-overlayfs cannot use a path containing ':' or ','; use another --root",
            links.display()
        )));
    }
    let _ = std::fs::remove_dir_all(&links);
    std::fs::create_dir_all(&links).map_err(|e| Error::io("mkdir", &links, &e))?;
    let mut out = Vec::with_capacity(lowers.len());
    for (i, p) in lowers.iter().enumerate() {
        let link = links.join(i.to_string());
        std::os::unix::fs::symlink(p, &link).map_err(|e| Error::io("symlink", &link, &e))?;
        out.push(link);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_option_joins_lines_with_colons() {
        use crate::runtime::idmap::IdMap;
        let m = [
            IdMap {
                inside: 1000,
                outside: 0,
                count: 1,
            },
            IdMap {
                inside: 0,
                outside: 1,
                count: 1000,
            },
        ];
        assert_eq!(mapping_option(&m), "1000:0:1:0:1:1000");
    }

    #[test]
    fn helper_messages() {
        assert!(find_in_path("no-such-program-skiff").is_none());
        assert!(find_in_path("sh").is_some());
        assert_eq!(
            stderr_reason(
                b"unknown argument ignored: lazytime\nfuse-overlayfs: cannot open workdir\n\n"
            ),
            "cannot open workdir"
        );
        assert_eq!(stderr_reason(b""), "failed without a message");
    }

    #[test]
    fn mount_failure_reports_stderr() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("c");
        std::fs::create_dir_all(&dir).unwrap();
        // A work directory that is a file makes fuse-overlayfs itself fail.
        std::fs::write(dir.join("work"), "").unwrap();
        let res = mount(&[], &dir);
        super::super::unmount_all(&dir.join("merged")).unwrap();
        let err = res.unwrap_err().to_string();
        assert!(err.starts_with("fuse-overlayfs on "), "{err}");
        assert!(!err.contains('\n'), "{err}");
    }
}
