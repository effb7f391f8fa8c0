//! Random access to the members of an image archive (docker-archive,
//! oci-archive): one pass records where each member's data lies, then
//! members are read in whatever order the archive's manifest names them.
//! The same interface reads an unpacked layout (oci-dir, docker-dir), whose
//! members are the files below a directory.
//!
//! The pass also rejects what must never be trusted before anything is
//! stored: member paths that climb out (`..`, absolute) and a truncated file.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};

use crate::{Error, Result};

/// Manifests and configs are small; a bigger one is not what it claims.
const MAX_SMALL: u64 = 64 << 20;

pub struct TarIndex {
    backing: Backing,
    label: String,
}

enum Backing {
    /// A tar file and its members: path (normalised) -> (data offset, size).
    Tar {
        file: File,
        entries: HashMap<String, (u64, u64)>,
    },
    /// A directory: a member is the regular file at its path below it.
    Dir(PathBuf),
}

/// `./a/b` -> `a/b`; `None` when the path is absolute or climbs out.
pub fn clean_path(p: &str) -> Option<String> {
    let mut out: Vec<String> = Vec::new();
    for c in Path::new(p).components() {
        match c {
            Component::Normal(n) => out.push(n.to_string_lossy().into_owned()),
            Component::CurDir => {}
            _ => return None,
        }
    }
    (!out.is_empty()).then(|| out.join("/"))
}

/// Where a link member points, as a member path: a symlink's target is
/// relative to the link's directory, a hard link's to the archive root.
/// `..` may be used as long as it stays inside the archive (`<id>/layer.tar`
/// -> `../<digest>.tar` is how docker, podman and skopeo share a layer);
/// `None` when the target is absolute or climbs above the root.
pub fn link_target(member: &str, target: &str, symlink: bool) -> Option<String> {
    let mut out: Vec<String> = Vec::new();
    if symlink {
        if let Some((dir, _)) = member.rsplit_once('/') {
            out.extend(dir.split('/').map(str::to_string));
        }
    }
    for c in Path::new(target).components() {
        match c {
            Component::Normal(n) => out.push(n.to_string_lossy().into_owned()),
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    (!out.is_empty()).then(|| out.join("/"))
}

/// How many links a chain may have before it counts as a loop (as Linux's
/// `MAXSYMLINKS`).
const MAX_LINK_HOPS: usize = 40;

impl TarIndex {
    /// Indexes `file`; `label` names the archive in errors.
    pub fn new(mut file: File, label: &str) -> Result<TarIndex> {
        let len = file.metadata()?.len();
        let bad = |m: String| Error::msg(format!("{label}: {m}"));
        let mut entries = HashMap::new();
        let mut links: Vec<(String, String)> = Vec::new();
        // Where the last member's data ends, padded to a block: the
        // end-of-archive blocks must follow, or the file was cut short.
        let mut end = 0u64;
        file.seek(SeekFrom::Start(0))?;
        {
            let mut archive = tar::Archive::new(&mut file);
            let iter = archive
                .entries()
                .map_err(|e| bad(format!("not a tar archive: {e}")))?;
            for (n, entry) in iter.enumerate() {
                // The tar crate's message quotes the header's bytes: of a
                // file that is no archive at all they are its text, lines
                // and all, so that file is named for what it is, and a
                // later bad header's message is kept to one line.
                let entry = entry.map_err(|e| {
                    bad(if n == 0 {
                        "not a tar archive".into()
                    } else {
                        format!(
                            "invalid or truncated archive: {}",
                            e.to_string().escape_debug()
                        )
                    })
                })?;
                let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
                let kind = entry.header().entry_type();
                if raw == "." || raw == "./" {
                    continue;
                }
                let Some(name) = clean_path(&raw) else {
                    return Err(bad(format!("entry \"{raw}\" escapes the archive")));
                };
                let (off, size) = (entry.raw_file_position(), entry.size());
                end = off + size.div_ceil(512) * 512;
                if kind.is_file() {
                    if off + size > len {
                        return Err(bad("truncated archive".into()));
                    }
                    entries.insert(name, (off, size));
                } else if kind.is_symlink() || kind.is_hard_link() {
                    let target = entry
                        .link_name_bytes()
                        .map(|b| String::from_utf8_lossy(&b).into_owned())
                        .unwrap_or_default();
                    let Some(t) = link_target(&name, &target, kind.is_symlink()) else {
                        return Err(bad(format!(
                            "link \"{raw}\" -> \"{target}\" escapes the archive"
                        )));
                    };
                    links.push((name, t));
                }
            }
        }
        let mut trailer = [0u8; 512];
        file.seek(SeekFrom::Start(end))?;
        let complete = file.read_exact(&mut trailer).is_ok() && trailer.iter().all(|b| *b == 0);
        if !complete {
            return Err(bad("truncated archive: no end-of-archive marker".into()));
        }
        // A link names the data of the file its chain ends at; a chain that
        // ends outside the member set (or loops) names nothing.
        let link_map: HashMap<String, String> = links.into_iter().collect();
        for (name, first) in &link_map {
            let mut target = first;
            for _ in 0..MAX_LINK_HOPS {
                if let Some(v) = entries.get(target).copied() {
                    entries.insert(name.clone(), v);
                    break;
                }
                match link_map.get(target) {
                    Some(next) => target = next,
                    None => break,
                }
            }
        }
        if entries.is_empty() {
            return Err(bad("empty or not a tar archive".into()));
        }
        Ok(TarIndex {
            backing: Backing::Tar { file, entries },
            label: label.to_string(),
        })
    }

    /// Reads the layout unpacked below `dir` (oci-dir, docker-dir); `label`
    /// names it in errors. Member paths are cleaned as in an archive, so
    /// none climbs out of `dir`.
    pub fn dir(dir: &Path, label: &str) -> TarIndex {
        TarIndex {
            backing: Backing::Dir(dir.to_path_buf()),
            label: label.to_string(),
        }
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    pub fn contains(&self, name: &str) -> bool {
        self.locate(name).is_ok()
    }

    /// Where a member's data lies: its file, offset and size.
    fn locate(&self, name: &str) -> Result<(File, u64, u64)> {
        let Some(n) = clean_path(name) else {
            return Err(Error::msg(format!(
                "{}: path \"{name}\" escapes the archive",
                self.label
            )));
        };
        let missing = || Error::msg(format!("{}: \"{name}\" is not in the archive", self.label));
        match &self.backing {
            Backing::Tar { file, entries } => {
                let (off, size) = entries.get(&n).copied().ok_or_else(missing)?;
                Ok((file.try_clone()?, off, size))
            }
            Backing::Dir(dir) => {
                let f = File::open(dir.join(&n)).map_err(|_| missing())?;
                let m = f.metadata()?;
                if !m.is_file() {
                    return Err(missing());
                }
                Ok((f, 0, m.len()))
            }
        }
    }

    /// Checks that a member exists (before anything is stored).
    pub fn check(&self, name: &str) -> Result<()> {
        self.locate(name).map(|_| ())
    }

    /// Streams one member.
    pub fn open(&self, name: &str) -> Result<io::Take<File>> {
        let (mut f, off, size) = self.locate(name)?;
        f.seek(SeekFrom::Start(off))?;
        Ok(f.take(size))
    }

    /// Reads a small member (manifest, config) whole.
    pub fn read(&self, name: &str) -> Result<Vec<u8>> {
        let (_, _, size) = self.locate(name)?;
        if size > MAX_SMALL {
            return Err(Error::msg(format!(
                "{}: \"{name}\" is too large ({size} bytes)",
                self.label
            )));
        }
        let mut buf = Vec::with_capacity(size as usize);
        self.open(name)?.read_to_end(&mut buf)?;
        if buf.len() as u64 != size {
            return Err(Error::msg(format!("{}: truncated archive", self.label)));
        }
        Ok(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_paths() {
        assert_eq!(clean_path("./a/b").as_deref(), Some("a/b"));
        assert_eq!(clean_path("a//b/").as_deref(), Some("a/b"));
        assert_eq!(clean_path("../x"), None);
        assert_eq!(clean_path("a/../../x"), None);
        assert_eq!(clean_path("/etc/passwd"), None);
    }

    #[test]
    fn link_targets_stay_inside_the_archive() {
        let id = "0123abcd";
        assert_eq!(
            link_target(&format!("{id}/layer.tar"), "../sha.tar", true).as_deref(),
            Some("sha.tar")
        );
        assert_eq!(
            link_target("a/b/c", "../d/./e", true).as_deref(),
            Some("a/d/e")
        );
        assert_eq!(link_target("top", "other", true).as_deref(), Some("other"));
        // Hard links name a path from the root.
        assert_eq!(link_target("a/b", "c/d", false).as_deref(), Some("c/d"));
        assert_eq!(link_target("a/layer.tar", "../../x.tar", true), None);
        assert_eq!(link_target("layer.tar", "../x.tar", true), None);
        assert_eq!(link_target("a/b", "/etc/passwd", true), None);
        assert_eq!(link_target("a/b", "../c/../../x", false), None);
        assert_eq!(link_target("a/b", "..", true), None);
    }
}
