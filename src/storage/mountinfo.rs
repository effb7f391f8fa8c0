//! Reading /proc/self/mountinfo: is something mounted on a path in our mount namespace?

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

/// The mount points listed in /proc/self/mountinfo, unescaped.
pub(super) fn mount_points() -> Vec<PathBuf> {
    // Read as bytes: mount points need not be UTF-8.
    match std::fs::read("/proc/self/mountinfo") {
        Ok(text) => parse(&text),
        Err(_) => Vec::new(),
    }
}

fn parse(text: &[u8]) -> Vec<PathBuf> {
    text.split(|&c| c == b'\n')
        .filter_map(|l| l.split(|&c| c == b' ').nth(4))
        .map(|p| PathBuf::from(unescape(p)))
        .collect()
}

/// Whether a file system is mounted exactly on `path`.
pub(super) fn is_mount_point(path: &Path) -> bool {
    // mountinfo lists resolved paths; resolve ours the same way.
    let Ok(path) = std::fs::canonicalize(path) else {
        return false;
    };
    mount_points().contains(&path)
}

/// The kernel writes space, tab, newline and backslash in mount points as `\NNN` octal.
fn unescape(b: &[u8]) -> OsString {
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    OsString::from_vec(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_unescapes_mount_points() {
        let text = b"22 1 0:21 / /proc rw,nosuid - proc proc rw\n\
                    63 27 0:39 / /tmp/a\\040b/merged rw - overlay overlay rw,lowerdir=x\n";
        assert_eq!(
            parse(text),
            vec![PathBuf::from("/proc"), PathBuf::from("/tmp/a b/merged")]
        );
        assert!(is_mount_point(Path::new("/proc")));
        assert!(!is_mount_point(Path::new("/proc/self")));
    }
}
