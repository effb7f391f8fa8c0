//! Writing a directory tree as a tar stream: `export` of a container's root,
//! and (with whiteout conversion) the layer diffs of commit, build and push.
//!
//! The order is deterministic (sorted by name, parents before children) so
//! that the same tree gives the same bytes and the same diff_id.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use tar::{EntryType, Header};

use super::layer::{OPAQUE_MARKER, OPAQUE_XATTR, WHITEOUT_PREFIX};
use super::{Error, Result};
use crate::error::io_reason;
use crate::runtime::safe_path;

/// Writes every file below `dir` (not `dir` itself) to `out` as a tar
/// stream, walking it by descriptors (`O_NOFOLLOW` on each parent's
/// descriptor), so a symlink a running container swaps in is archived as a
/// link and never followed out of `dir`. With `whiteouts`, overlay whiteouts (0/0 character devices) and
/// opaque directories become OCI `.wh.` entries, as a layer diff needs; leave
/// it off to export a mounted root filesystem as it is.
pub fn write_tree(dir: &Path, out: impl Write, whiteouts: bool) -> Result<()> {
    let mut w = TreeWriter {
        builder: tar::Builder::new(out),
        whiteouts,
        links: HashMap::new(),
    };
    let root = safe_path::Root::open(dir)
        .and_then(|r| safe_path::reopen(r.fd(), OFlag::O_RDONLY | OFlag::O_DIRECTORY))
        .map_err(|e| err(dir, e))?;
    w.dir_children(root.as_fd(), Path::new(""))?;
    w.builder
        .finish()
        .map_err(|e| Error::Msg(format!("write tar: {}", io_reason(&e))))?;
    Ok(())
}

struct TreeWriter<W: Write> {
    builder: tar::Builder<W>,
    whiteouts: bool,
    /// (dev, inode) -> first archive path, to write later names as hard links.
    links: HashMap<(u64, u64), PathBuf>,
}

fn err(path: &Path, e: io::Error) -> Error {
    Error::Msg(format!("{}: {}", path.display(), io_reason(&e)))
}

/// A PAX extended header body: `LEN key=value\n` records, where LEN counts
/// the whole record including its own digits.
fn pax_records(pairs: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in pairs {
        let rest = k.len() + v.len() + 3; // ' ', '=', '\n'
        let mut len = rest + 1;
        while len.to_string().len() + rest != len {
            len = len.to_string().len() + rest;
        }
        out.extend_from_slice(len.to_string().as_bytes());
        out.push(b' ');
        out.extend_from_slice(k.as_bytes());
        out.push(b'=');
        out.extend_from_slice(v);
        out.push(b'\n');
    }
    out
}

/// A header with the type, mode, owner and modification time of `m`
/// (size 0: the caller sets it for regular files).
pub(crate) fn header_of(m: &fs::Metadata, kind: EntryType) -> Header {
    let mut h = Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(m.mode() & 0o7777);
    h.set_uid(m.uid() as u64);
    h.set_gid(m.gid() as u64);
    h.set_mtime(m.mtime().max(0) as u64);
    h.set_size(0);
    h
}

/// The header of a fifo or device node (with its device numbers); `None`
/// for a socket, which has no tar form.
pub(crate) fn special_header(m: &fs::Metadata) -> Option<Header> {
    let ft = m.file_type();
    let kind = if ft.is_fifo() {
        EntryType::Fifo
    } else if ft.is_char_device() {
        EntryType::Char
    } else if ft.is_block_device() {
        EntryType::Block
    } else {
        return None;
    };
    let mut h = header_of(m, kind);
    if matches!(kind, EntryType::Char | EntryType::Block) {
        let dev = m.rdev();
        let _ = h.set_device_major(nix::sys::stat::major(dev) as u32);
        let _ = h.set_device_minor(nix::sys::stat::minor(dev) as u32);
    }
    Some(h)
}

/// Appends the symlink `rel` -> `target` with the target byte for byte
/// (the tar crate's `append_link` writes a target of `/` as `//`); a
/// target too long for the header goes through its GNU long-link entry.
pub(crate) fn append_symlink<W: Write>(
    builder: &mut tar::Builder<W>,
    h: &mut Header,
    rel: &Path,
    target: &Path,
) -> io::Result<()> {
    let bytes = target.as_os_str().as_bytes();
    if bytes.len() <= 100 {
        h.set_link_name_literal(bytes)?;
        h.set_size(0);
        return builder.append_data(h, rel, io::empty());
    }
    builder.append_link(h, rel, target)
}

/// Appends one entry, preceded by a PAX header carrying `pax` records
/// (`SCHILY.xattr.NAME` extended attributes) when there are any.
pub(crate) fn append_with_pax<W: Write>(
    builder: &mut tar::Builder<W>,
    h: &mut Header,
    rel: &Path,
    pax: &[(String, Vec<u8>)],
    data: impl io::Read,
) -> io::Result<()> {
    if !pax.is_empty() {
        let body = pax_records(pax);
        let mut ph = Header::new_ustar();
        ph.set_entry_type(EntryType::XHeader);
        let mut pname = b"PaxHeaders.0/".to_vec();
        pname.extend_from_slice(rel.as_os_str().as_bytes());
        pname.truncate(99);
        if let Some(u) = ph.as_ustar_mut() {
            u.name[..pname.len()].copy_from_slice(&pname);
        }
        ph.set_mode(0o644);
        ph.set_size(body.len() as u64);
        ph.set_cksum();
        builder.append(&ph, &body[..])?;
    }
    builder.append_data(h, rel, data)
}

/// The extended attributes of what the descriptor `fd` (`O_PATH` or not,
/// never a symlink) refers to, read through `/proc/self/fd/N`, that are worth
/// keeping in an archive, as PAX records (`SCHILY.xattr.NAME`), and whether
/// the storage marks it as an opaque directory (overlay's or
/// fuse-overlayfs's own attributes, which are bookkeeping, not content, and
/// are left out).
pub(crate) fn xattr_records_of(fd: std::os::fd::BorrowedFd) -> (Vec<(String, Vec<u8>)>, bool) {
    let p = crate::runtime::safe_path::proc_path(fd);
    records_with(xattr::list_deref(&p), |n| xattr::get_deref(&p, n))
}

fn records_with(
    names: io::Result<xattr::XAttrs>,
    get: impl Fn(&str) -> io::Result<Option<Vec<u8>>>,
) -> (Vec<(String, Vec<u8>)>, bool) {
    let mut out = Vec::new();
    let mut opaque = false;
    let Ok(names) = names else {
        return (out, false);
    };
    let mut names: Vec<OsString> = names.collect();
    names.sort();
    for n in names {
        let Some(name) = n.to_str() else { continue };
        if name.starts_with("user.overlay.")
            || name.starts_with("trusted.overlay.")
            || name.starts_with("user.fuseoverlayfs.")
        {
            if OPAQUE_XATTRS.contains(&name) && get(name).ok().flatten().as_deref() == Some(b"y") {
                opaque = true;
            }
            continue;
        }
        if let Ok(Some(v)) = get(name) {
            out.push((format!("SCHILY.xattr.{name}"), v));
        }
    }
    (out, opaque)
}

/// The attributes that mark an opaque directory: overlay's with
/// `userxattr`, its privileged spelling, and fuse-overlayfs's.
pub(crate) const OPAQUE_XATTRS: [&str; 3] = [
    OPAQUE_XATTR,
    "trusted.overlay.opaque",
    "user.fuseoverlayfs.opaque",
];

impl<W: Write> TreeWriter<W> {
    /// Appends every entry of the directory `dir` (named `rel` in the
    /// archive) and below, in byte order of their names.
    fn dir_children(&mut self, dir: BorrowedFd, rel: &Path) -> Result<()> {
        let names = crate::volume::archive::names(dir).map_err(|e| err(rel, e))?;
        for name in names {
            let child_rel = rel.join(&name);
            // An entry removed since the listing is skipped, as a copy of a
            // live tree must.
            let Ok(fd) = safe_path::open_at(dir, &name, OFlag::O_PATH, 0) else {
                continue;
            };
            self.entry(fd, &child_rel)?;
        }
        Ok(())
    }

    fn append(
        &mut self,
        h: &mut Header,
        rel: &Path,
        pax: &[(String, Vec<u8>)],
        data: impl io::Read,
    ) -> Result<()> {
        append_with_pax(&mut self.builder, h, rel, pax, data)
            .map_err(|e| Error::Msg(format!("write tar: {}", io_reason(&e))))
    }

    /// Appends the entry `fd` (opened `O_PATH | O_NOFOLLOW` on its parent's
    /// descriptor) as `rel`. Everything is read through `fd`, never by a
    /// path, so a running container that swaps a directory for a symlink
    /// meanwhile cannot lead the walk out of its root.
    fn entry(&mut self, fd: OwnedFd, rel: &Path) -> Result<()> {
        let f = fs::File::from(fd);
        let m = f.metadata().map_err(|e| err(rel, e))?;
        let ft = m.file_type();
        let (pax, opaque) = if ft.is_symlink() {
            (Vec::new(), false)
        } else {
            xattr_records_of(f.as_fd())
        };
        if ft.is_dir() {
            let mut h = header_of(&m, EntryType::Directory);
            let mut name = rel.as_os_str().to_owned();
            name.push("/");
            self.append(&mut h, Path::new(&name), &pax, io::empty())?;
            if opaque && self.whiteouts {
                let mut w = header_of(&m, EntryType::Regular);
                w.set_mode(0o600);
                self.append(&mut w, &rel.join(OPAQUE_MARKER), &[], io::empty())?;
            }
            let dir = safe_path::reopen(f.as_fd(), OFlag::O_RDONLY | OFlag::O_DIRECTORY)
                .map_err(|e| err(rel, e))?;
            return self.dir_children(dir.as_fd(), rel);
        }
        if ft.is_char_device() && m.rdev() == 0 && self.whiteouts {
            let name = rel.file_name().unwrap_or_default();
            let mut wh = OsString::from(WHITEOUT_PREFIX);
            wh.push(name);
            let wrel = rel.with_file_name(wh);
            let mut h = header_of(&m, EntryType::Regular);
            h.set_mode(0o600);
            return self.append(&mut h, &wrel, &[], io::empty());
        }
        if !ft.is_dir() && m.nlink() > 1 {
            let key = (m.dev(), m.ino());
            if let Some(first) = self.links.get(&key).cloned() {
                let mut h = header_of(&m, EntryType::Link);
                return self
                    .builder
                    .append_link(&mut h, rel, &first)
                    .map_err(|e| Error::Msg(format!("write tar: {}", io_reason(&e))));
            }
            self.links.insert(key, rel.to_path_buf());
        }
        if ft.is_symlink() {
            let target =
                safe_path::readlink_at(f.as_fd(), OsStr::new("")).map_err(|e| err(rel, e))?;
            let mut h = header_of(&m, EntryType::Symlink);
            return append_symlink(&mut self.builder, &mut h, rel, &target)
                .map_err(|e| Error::Msg(format!("write tar: {}", io_reason(&e))));
        }
        if ft.is_file() {
            let data = safe_path::reopen(f.as_fd(), OFlag::O_RDONLY | OFlag::O_NONBLOCK)
                .map_err(|e| err(rel, e))?;
            let mut h = header_of(&m, EntryType::Regular);
            h.set_size(m.len());
            // Exactly the size recorded, even if the file grows meanwhile.
            return self.append(
                &mut h,
                rel,
                &pax,
                io::Read::take(fs::File::from(data), m.len()),
            );
        }
        let Some(mut h) = special_header(&m) else {
            // Sockets have no tar representation; they are runtime artefacts.
            tracing::debug!(path = %rel.display(), "skipping socket");
            return Ok(());
        };
        self.append(&mut h, rel, &pax, io::empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::layer;
    use nix::sys::stat::{makedev, mknod, Mode, SFlag};
    use std::os::unix::fs::PermissionsExt;

    fn tree(t: &Path) -> PathBuf {
        let d = t.join("tree");
        fs::create_dir_all(d.join("bin")).unwrap();
        fs::create_dir_all(d.join("var/cache")).unwrap();
        fs::create_dir_all(d.join("etc")).unwrap();
        fs::write(d.join("bin/busybox"), b"ELF...").unwrap();
        fs::set_permissions(d.join("bin/busybox"), fs::Permissions::from_mode(0o4755)).unwrap();
        fs::hard_link(d.join("bin/busybox"), d.join("bin/ls")).unwrap();
        std::os::unix::fs::symlink("/bin/busybox", d.join("bin/sh")).unwrap();
        mknod(
            &d.join("fifo"),
            SFlag::S_IFIFO,
            Mode::from_bits_truncate(0o644),
            0,
        )
        .unwrap();
        mknod(
            &d.join("etc/gone"),
            SFlag::S_IFCHR,
            Mode::empty(),
            makedev(0, 0),
        )
        .unwrap();
        xattr::set(d.join("var/cache"), OPAQUE_XATTR, b"y").unwrap();
        xattr::set(d.join("etc"), "user.note", b"kept").unwrap();
        xattr::set(d.join("bin/busybox"), "user.file", b"too").unwrap();
        let long = "x".repeat(150);
        fs::write(d.join(&long), b"long").unwrap();
        std::os::unix::fs::lchown(d.join("bin/busybox"), Some(1000), Some(1001)).unwrap();
        // After chown, which clears set-id bits.
        fs::set_permissions(d.join("bin/busybox"), fs::Permissions::from_mode(0o4755)).unwrap();
        d
    }

    fn names_in(data: &[u8]) -> Vec<(String, EntryType)> {
        let mut ar = tar::Archive::new(data);
        ar.entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.path().unwrap().display().to_string(),
                    e.header().entry_type(),
                )
            })
            .collect()
    }

    #[test]
    fn whiteouts_round_trip_through_unpack() {
        let t = tempfile::tempdir().unwrap();
        let d = tree(t.path());
        let mut out = Vec::new();
        write_tree(&d, &mut out, true).unwrap();
        let names = names_in(&out);
        let find = |n: &str| names.iter().find(|(p, _)| p == n).map(|(_, k)| *k);
        assert_eq!(find("etc/.wh.gone"), Some(EntryType::Regular));
        assert_eq!(find("etc/gone"), None);
        assert_eq!(find("var/cache/.wh..wh..opq"), Some(EntryType::Regular));
        assert_eq!(find("bin/sh"), Some(EntryType::Symlink));
        // Sorted: busybox before ls, so ls is the link.
        assert_eq!(find("bin/ls"), Some(EntryType::Link));
        assert_eq!(find("fifo"), Some(EntryType::Fifo));

        let back = t.path().join("back");
        fs::create_dir(&back).unwrap();
        layer::unpack(&out[..], &back, "diff", None).unwrap();
        let m = fs::symlink_metadata(back.join("etc/gone")).unwrap();
        assert!(m.file_type().is_char_device() && m.rdev() == 0);
        assert_eq!(
            xattr::get(back.join("var/cache"), OPAQUE_XATTR).unwrap(),
            Some(b"y".to_vec())
        );
        assert_eq!(
            xattr::get(back.join("etc"), "user.note").unwrap(),
            Some(b"kept".to_vec())
        );
        assert_eq!(
            xattr::get(back.join("bin/busybox"), "user.file").unwrap(),
            Some(b"too".to_vec())
        );
        let bb = fs::metadata(back.join("bin/busybox")).unwrap();
        assert_eq!(
            (bb.uid(), bb.gid(), bb.mode() & 0o7777),
            (1000, 1001, 0o4755)
        );
        assert_eq!(bb.nlink(), 2);
        assert_eq!(fs::read(back.join("x".repeat(150))).unwrap(), b"long");
        assert_eq!(
            fs::read_link(back.join("bin/sh")).unwrap(),
            Path::new("/bin/busybox")
        );
    }

    #[test]
    fn export_keeps_devices_and_is_deterministic() {
        let t = tempfile::tempdir().unwrap();
        let d = tree(t.path());
        let mut a = Vec::new();
        let mut b = Vec::new();
        write_tree(&d, &mut a, false).unwrap();
        write_tree(&d, &mut b, false).unwrap();
        assert_eq!(a, b);
        let names = names_in(&a);
        assert!(names.contains(&("etc/gone".to_string(), EntryType::Char)));
        assert!(!names.iter().any(|(p, _)| p.contains(".wh.")));
    }

    #[test]
    fn pax_lengths_count_themselves() {
        let body = pax_records(&[("k".into(), b"v".to_vec())]);
        assert_eq!(body, b"6 k=v\n");
        let v = vec![b'a'; 95];
        let body = pax_records(&[("k".into(), v)]);
        let len: usize =
            std::str::from_utf8(&body[..body.iter().position(|&c| c == b' ').unwrap()])
                .unwrap()
                .parse()
                .unwrap();
        assert_eq!(len, body.len());
    }
}
