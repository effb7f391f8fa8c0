//! Unpacking a layer tar stream into a directory that overlayfs can use as a
//! lower layer: ownership, modes, times, xattrs, links and OCI whiteouts
//! (turned into overlay whiteouts), and never a write outside the layer.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::time::{Duration, SystemTime};

use nix::errno::Errno;
use nix::sys::stat::{makedev, mknod, utimensat, Mode, SFlag, UtimensatFlags};
use nix::sys::time::TimeSpec;
use sha2::{Digest, Sha256};
use tar::EntryType;

use super::{Error, Result};
use crate::error::io_reason;

/// OCI whiteout prefix: `.wh.NAME` deletes NAME from the layers below.
pub const WHITEOUT_PREFIX: &str = ".wh.";
/// OCI opaque-directory marker: hides everything below from lower layers.
pub const OPAQUE_MARKER: &str = ".wh..wh..opq";
/// The xattr overlayfs (mounted with `userxattr`) reads for opaque directories.
pub const OPAQUE_XATTR: &str = "user.overlay.opaque";

/// How a layer blob is compressed, detected from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    /// The OCI media type of a layer stored this way.
    pub fn media_type(self) -> &'static str {
        match self {
            Compression::None => "application/vnd.oci.image.layer.v1.tar",
            Compression::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
            Compression::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
        }
    }
}

/// What unpacking a layer found.
#[derive(Debug, Clone)]
pub struct Unpacked {
    /// `sha256:<hex>` of the uncompressed tar stream.
    pub diff_id: String,
    /// Bytes of the uncompressed tar stream.
    pub size: u64,
    pub compression: Compression,
    /// Device nodes that could not be created (rootless) and were left out.
    pub devices_skipped: usize,
}

/// Reads the first bytes of `input` to tell the compression, and returns a
/// reader of the uncompressed stream.
pub fn decompress<'a>(input: impl Read + 'a) -> Result<(Compression, Box<dyn Read + 'a>)> {
    let mut input = input;
    let mut head = Vec::with_capacity(6);
    (&mut input).take(6).read_to_end(&mut head)?;
    let kind = if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        return Err(Error::Msg("xz-compressed layers are not supported".into()));
    } else if head.starts_with(b"BZh") {
        return Err(Error::Msg(
            "bzip2-compressed layers are not supported".into(),
        ));
    } else {
        Compression::None
    };
    let whole = io::Cursor::new(head).chain(input);
    let reader: Box<dyn Read + 'a> = match kind {
        Compression::None => Box::new(whole),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(whole)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(whole)?),
    };
    Ok((kind, reader))
}

/// Hashes and counts what passes through, and optionally copies it out (to
/// keep the uncompressed tar as a blob while unpacking it).
struct Tee<'a, R> {
    inner: R,
    hash: Sha256,
    count: u64,
    copy: Option<&'a mut dyn Write>,
}

impl<R: Read> Read for Tee<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        self.count += n as u64;
        if let Some(w) = self.copy.as_mut() {
            w.write_all(&buf[..n])?;
        }
        Ok(n)
    }
}

/// Unpacks a (possibly compressed) layer tar stream into `dest`, an existing
/// empty directory. `label` names the archive in errors (`rootfs.tar`).
/// When `copy` is given, the uncompressed tar is written to it as it streams.
pub fn unpack(
    input: impl Read,
    dest: &Path,
    label: &str,
    copy: Option<&mut dyn Write>,
) -> Result<Unpacked> {
    let Some(copy) = copy else {
        let mut input = input;
        let (unpacked, fed) = unpack_fed(dest, label, |pipe| io::copy(&mut input, pipe));
        return match fed {
            Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
                Err(Error::Msg(format!("{label}: {}", io_reason(&e))))
            }
            _ => unpacked,
        };
    };
    // The copy is written on this thread, so everything happens here.
    let (compression, reader) = decompress(input).map_err(|e| relabel(label, e))?;
    let mut tee = Tee {
        inner: io::BufReader::with_capacity(256 * 1024, reader),
        hash: Sha256::new(),
        count: 0,
        copy: Some(copy),
    };
    let devices_skipped = unpack_tar(&mut tee, dest, label)?;
    Ok(Unpacked {
        diff_id: format!("sha256:{}", hex::encode(tee.hash.finalize())),
        size: tee.count,
        compression,
        devices_skipped,
    })
}

/// Chunks handed between the stages of [`unpack_fed`]: large, so that the
/// channels cost nothing next to the work on each chunk.
const CHUNK: usize = 1 << 20;
/// Chunks in flight between two stages.
const DEPTH: usize = 2;

type Chunk = io::Result<Vec<u8>>;

/// The writing end of a pipe between threads, in [`CHUNK`]s. A write fails
/// with `BrokenPipe` once the reading end is gone (the unpack failed).
pub struct PipeWriter {
    tx: SyncSender<Chunk>,
    buf: Vec<u8>,
}

impl PipeWriter {
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        self.tx
            .send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the unpacker stopped"))
    }
}

impl Write for PipeWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(CHUNK - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == CHUNK {
            self.send()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

/// The reading end: end of file when the writer is dropped, the writer's
/// error when it sends one.
struct PipeReader {
    rx: Receiver<Chunk>,
    cur: Vec<u8>,
    pos: usize,
    done: bool,
}

impl PipeReader {
    fn new(rx: Receiver<Chunk>) -> Self {
        PipeReader {
            rx,
            cur: Vec::new(),
            pos: 0,
            done: false,
        }
    }
}

impl Read for PipeReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.cur.len() {
            if self.done {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Ok(chunk)) => {
                    self.cur = chunk;
                    self.pos = 0;
                }
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Err(_) => self.done = true,
            }
        }
        let n = buf.len().min(self.cur.len() - self.pos);
        buf[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Unpacks a layer stream that `feed` writes, on three threads: `feed` runs
/// on this one (reading the network, hashing the blob), decompression and
/// the diff_id hash on a second, tar parsing and file creation on a third.
/// Returns the unpack result and what `feed` returned; `feed`'s writes fail
/// with `BrokenPipe` once the unpack has failed.
pub fn unpack_fed<T>(
    dest: &Path,
    label: &str,
    feed: impl FnOnce(&mut PipeWriter) -> io::Result<T>,
) -> (Result<Unpacked>, io::Result<T>) {
    let (in_tx, in_rx) = sync_channel::<Chunk>(DEPTH);
    let (tar_tx, tar_rx) = sync_channel::<Chunk>(DEPTH);
    std::thread::scope(|s| {
        let inflate = s.spawn(move || inflate_stage(PipeReader::new(in_rx), tar_tx));
        let files = s.spawn(move || unpack_tar(PipeReader::new(tar_rx), dest, label));
        let mut pipe = PipeWriter {
            tx: in_tx,
            buf: Vec::with_capacity(CHUNK),
        };
        let fed = feed(&mut pipe).and_then(|t| pipe.flush().map(|()| t));
        drop(pipe);
        let files = files
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        let inflated = inflate
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        let unpacked = match (files, inflated) {
            (Err(e), _) => Err(e),
            (Ok(_), Err(e)) => Err(relabel(label, e)),
            (Ok(devices_skipped), Ok((compression, hash, size))) => Ok(Unpacked {
                diff_id: format!("sha256:{}", hex::encode(hash)),
                size,
                compression,
                devices_skipped,
            }),
        };
        (unpacked, fed)
    })
}

/// The middle stage of [`unpack_fed`]: decompresses, hashes and counts the
/// tar stream and passes it on. Stops early when the tar stage is gone.
fn inflate_stage(
    input: PipeReader,
    out: SyncSender<Chunk>,
) -> Result<(Compression, sha2::digest::Output<Sha256>, u64)> {
    let (compression, mut reader) = decompress(input)?;
    let mut hash = Sha256::new();
    let mut size = 0u64;
    loop {
        let mut buf = vec![0u8; CHUNK];
        let mut filled = 0;
        let mut failed = None;
        while filled < CHUNK {
            match reader.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        buf.truncate(filled);
        hash.update(&buf);
        size += filled as u64;
        let last = filled < CHUNK;
        if filled > 0 && out.send(Ok(buf)).is_err() {
            return Err(Error::Msg("unpacking stopped".into()));
        }
        if let Some(e) = failed {
            let msg = io_reason(&e);
            let _ = out.send(Err(e));
            return Err(Error::Msg(msg));
        }
        if last {
            return Ok((compression, hash.finalize(), size));
        }
    }
}

/// The most a tar stream may carry after its end-of-archive blocks: 1 MiB,
/// the largest record size tar writers pad to in practice.
const TRAILER_MAX: u64 = 1 << 20;

/// Unpacks an uncompressed tar stream into `dest` and reads it to the end
/// (the diff_id covers every byte). Returns the device nodes skipped.
fn unpack_tar(reader: impl Read, dest: &Path, label: &str) -> Result<usize> {
    let mut archive = tar::Archive::new(reader);
    let mut u = Unpacker {
        root: dest.to_path_buf(),
        label: label.to_string(),
        dirs: Vec::new(),
        known_dirs: HashSet::new(),
        devices_skipped: 0,
        buf: vec![0u8; 256 * 1024],
    };
    let entries = archive
        .entries()
        .map_err(|e| Error::Msg(format!("{label}: {}", io_reason(&e))))?;
    for entry in entries {
        let mut entry =
            entry.map_err(|e| Error::Msg(format!("{label}: invalid tar: {}", io_reason(&e))))?;
        u.entry(&mut entry)?;
    }
    u.finish()?;
    // Read the end-of-archive blocks and padding too: the diff_id covers
    // every byte of the stream. Bounded: tar pads to its record size (10 KiB
    // by default, 1 MiB at most in practice); a stream that goes on (import
    // of /dev/zero) is refused rather than read forever.
    let rest = archive.into_inner();
    let trailing = io::copy(&mut rest.take(TRAILER_MAX + 1), &mut io::sink())
        .map_err(|e| Error::Msg(format!("{label}: {}", io_reason(&e))))?;
    if trailing > TRAILER_MAX {
        return Err(Error::Msg(format!(
            "{label}: invalid tar: more than {} MiB after the end of the archive",
            TRAILER_MAX >> 20
        )));
    }
    if u.devices_skipped > 0 {
        tracing::warn!(
            "{label}: skipped {} device node(s): creating devices is not permitted here",
            u.devices_skipped
        );
    }
    Ok(u.devices_skipped)
}

fn relabel(label: &str, e: Error) -> Error {
    Error::Msg(format!("{label}: {e}"))
}

struct Unpacker {
    root: PathBuf,
    label: String,
    /// Directories with their mtimes, applied at the end since creating
    /// children changes a directory's mtime.
    dirs: Vec<(PathBuf, i64)>,
    /// Directories already checked to be real directories inside the root
    /// (their parents too), so that the next entry in them needs no
    /// lstat of every component. Emptied whenever something is removed.
    known_dirs: HashSet<PathBuf>,
    devices_skipped: usize,
    /// Copy buffer for file contents.
    buf: Vec<u8>,
}

/// The path of an entry as relative normal components; `None` when it
/// climbs out (`..`) or is absolute.
fn clean(p: &Path, allow_absolute: bool) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir => {}
            Component::RootDir if allow_absolute => {}
            Component::RootDir | Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

impl Unpacker {
    fn escapes(&self, name: &str) -> Error {
        Error::Msg(format!(
            "{}: entry \"{name}\" escapes the layer",
            self.label
        ))
    }

    fn io(&self, name: &str, e: io::Error) -> Error {
        Error::Msg(format!(
            "{}: entry \"{name}\": {}",
            self.label,
            io_reason(&e)
        ))
    }

    fn errno(&self, name: &str, what: &str, e: Errno) -> Error {
        Error::Msg(format!(
            "{}: entry \"{name}\": {what}: {}",
            self.label,
            e.desc().to_lowercase()
        ))
    }

    /// Makes sure every parent of `rel` is a real directory inside the root
    /// (creating missing ones), never following a symlink. Returns the
    /// absolute path of `rel`.
    fn prepare_parents(&mut self, rel: &Path, name: &str) -> Result<PathBuf> {
        let path = self.root.join(rel);
        if let Some(parent) = path.parent() {
            if parent == self.root || self.known_dirs.contains(parent) {
                return Ok(path);
            }
        }
        let mut cur = self.root.clone();
        let comps: Vec<_> = rel.components().collect();
        for c in comps.iter().take(comps.len().saturating_sub(1)) {
            cur.push(c);
            if self.known_dirs.contains(&cur) {
                continue;
            }
            match fs::symlink_metadata(&cur) {
                Ok(m) if m.file_type().is_symlink() => return Err(self.escapes(name)),
                Ok(m) if m.is_dir() => {}
                Ok(_) => {
                    return Err(Error::Msg(format!(
                        "{}: entry \"{name}\": a parent is not a directory",
                        self.label
                    )))
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    fs::create_dir(&cur).map_err(|e| self.io(name, e))?;
                    fs::set_permissions(&cur, fs::Permissions::from_mode(0o755))
                        .map_err(|e| self.io(name, e))?;
                }
                Err(e) => return Err(self.io(name, e)),
            }
            self.known_dirs.insert(cur.clone());
        }
        Ok(path)
    }

    /// Removes whatever is at `path` (a later entry replaces an earlier one),
    /// keeping a directory when `keep_dir`.
    fn clear(&mut self, path: &Path, keep_dir: bool, name: &str) -> Result<bool> {
        match fs::symlink_metadata(path) {
            Ok(m) if m.is_dir() => {
                if keep_dir {
                    return Ok(true);
                }
                // Whatever was checked below it is gone.
                self.known_dirs.clear();
                fs::remove_dir_all(path).map_err(|e| self.io(name, e))?;
            }
            Ok(_) => fs::remove_file(path).map_err(|e| self.io(name, e))?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(self.io(name, e)),
        }
        Ok(false)
    }

    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<R>) -> Result<()> {
        let kind = entry.header().entry_type();
        if matches!(
            kind,
            EntryType::XGlobalHeader
                | EntryType::XHeader
                | EntryType::GNULongName
                | EntryType::GNULongLink
        ) {
            return Ok(());
        }
        let raw = entry.path_bytes().into_owned();
        let name = String::from_utf8_lossy(&raw).into_owned();
        let raw_path = Path::new(OsStr::from_bytes(&raw));
        let rel = clean(raw_path, false).ok_or_else(|| self.escapes(&name))?;

        let base = rel
            .file_name()
            .map(|b| b.as_bytes().to_vec())
            .unwrap_or_default();
        if base.starts_with(WHITEOUT_PREFIX.as_bytes()) {
            return self.whiteout(&rel, &base, &name);
        }

        if rel.as_os_str().is_empty() {
            // The layer root itself ("./"): take its metadata only.
            if kind == EntryType::Directory {
                let root = self.root.clone();
                self.metadata(entry, &root, &name, false)?;
                self.dirs
                    .push((root, entry.header().mtime().unwrap_or(0) as i64));
            }
            return Ok(());
        }

        self.refuse_sparse(entry, &name)?;
        let path = self.prepare_parents(&rel, &name)?;
        let header = entry.header().clone();
        match kind {
            EntryType::Directory => {
                if !self.clear(&path, true, &name)? {
                    fs::create_dir(&path).map_err(|e| self.io(&name, e))?;
                }
                self.metadata(entry, &path, &name, false)?;
                self.known_dirs.insert(path.clone());
                self.dirs.push((path, header.mtime().unwrap_or(0) as i64));
                return Ok(());
            }
            EntryType::Regular | EntryType::Continuous => {
                let mut f = self.create_file(&path, &name)?;
                loop {
                    let n = match entry.read(&mut self.buf) {
                        Ok(0) => break,
                        Ok(n) => n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(self.io(&name, e)),
                    };
                    f.write_all(&self.buf[..n]).map_err(|e| self.io(&name, e))?;
                }
                // Everything through the open file: no path walks.
                self.file_metadata(entry, &f, &name)?;
                let t = SystemTime::UNIX_EPOCH + Duration::from_secs(header.mtime().unwrap_or(0));
                f.set_times(fs::FileTimes::new().set_accessed(t).set_modified(t))
                    .map_err(|e| self.io(&name, e))?;
                return Ok(());
            }
            EntryType::Symlink => {
                self.clear(&path, false, &name)?;
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| self.escapes(&name))?
                    .into_owned();
                // Verbatim: an absolute target is resolved inside the container.
                std::os::unix::fs::symlink(OsStr::from_bytes(&target), &path)
                    .map_err(|e| self.io(&name, e))?;
                self.metadata(entry, &path, &name, true)?;
                return Ok(());
            }
            EntryType::Link => {
                let target_raw = entry
                    .link_name_bytes()
                    .ok_or_else(|| self.escapes(&name))?
                    .into_owned();
                let target_name = String::from_utf8_lossy(&target_raw).into_owned();
                let target_rel = clean(Path::new(OsStr::from_bytes(&target_raw)), true)
                    .filter(|t| !t.as_os_str().is_empty())
                    .ok_or_else(|| self.escapes(&target_name))?;
                let target = self.resolve_existing(&target_rel, &target_name)?;
                self.clear(&path, false, &name)?;
                // link(2) does not follow a symlink target: the new name is
                // another link to the symlink itself, inside the layer.
                fs::hard_link(&target, &path).map_err(|e| self.io(&name, e))?;
                return Ok(());
            }
            EntryType::Char | EntryType::Block => {
                self.clear(&path, false, &name)?;
                let major = header.device_major().ok().flatten().unwrap_or(0) as u64;
                let minor = header.device_minor().ok().flatten().unwrap_or(0) as u64;
                let flag = if kind == EntryType::Char {
                    SFlag::S_IFCHR
                } else {
                    SFlag::S_IFBLK
                };
                let mode = Mode::from_bits_truncate(header.mode().unwrap_or(0o600) & 0o7777);
                match mknod(&path, flag, mode, makedev(major, minor)) {
                    Ok(()) => {}
                    Err(Errno::EPERM) | Err(Errno::EACCES) => {
                        self.devices_skipped += 1;
                        return Ok(());
                    }
                    Err(e) => return Err(self.errno(&name, "mknod", e)),
                }
            }
            EntryType::Fifo => {
                self.clear(&path, false, &name)?;
                let mode = Mode::from_bits_truncate(header.mode().unwrap_or(0o600) & 0o7777);
                mknod(&path, SFlag::S_IFIFO, mode, 0)
                    .map_err(|e| self.errno(&name, "mkfifo", e))?;
            }
            other => {
                tracing::debug!(?other, entry = %name, "skipping unsupported tar entry type");
                return Ok(());
            }
        }
        self.metadata(entry, &path, &name, false)?;
        set_mtime(&path, header.mtime().unwrap_or(0) as i64)
            .map_err(|e| self.errno(&name, "set times", e))?;
        Ok(())
    }

    /// Creates a regular file at `path` (its parents checked), never
    /// following a symlink: a new inode or an error. Whatever was there is
    /// removed first, which the common case (nothing) does not pay for.
    /// Refuses sparse files (GNU type `S`, or GNU's PAX sparse formats): a
    /// few bytes of archive can ask for terabytes of zeros, and the tar
    /// crate would write every one of them. Podman refuses the entry type
    /// too; image builders do not produce them.
    fn refuse_sparse<R: Read>(&self, entry: &mut tar::Entry<R>, name: &str) -> Result<()> {
        let gnu_sparse = entry.header().entry_type() == EntryType::GNUSparse;
        let pax_sparse = entry
            .pax_extensions()
            .ok()
            .flatten()
            .is_some_and(|mut exts| {
                exts.any(|e| e.is_ok_and(|e| e.key_bytes().starts_with(b"GNU.sparse.")))
            });
        if gnu_sparse || pax_sparse {
            let size = entry
                .header()
                .as_gnu()
                .and_then(|g| g.real_size().ok())
                .filter(|_| gnu_sparse)
                .map(|n| format!(" of {n} bytes"))
                .unwrap_or_default();
            return Err(Error::Msg(format!(
                "{}: entry \"{name}\": sparse file{size} not supported; rebuild the layer without sparse files",
                self.label
            )));
        }
        Ok(())
    }

    fn create_file(&mut self, path: &Path, name: &str) -> Result<fs::File> {
        let open = || {
            fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                .open(path)
        };
        match open() {
            Ok(f) => Ok(f),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                self.clear(path, false, name)?;
                open().map_err(|e| self.io(name, e))
            }
            Err(e) => Err(self.io(name, e)),
        }
    }

    /// A hard link's target: it must already exist in this layer, reached
    /// through real directories only.
    fn resolve_existing(&self, rel: &Path, name: &str) -> Result<PathBuf> {
        let mut cur = self.root.clone();
        let comps: Vec<_> = rel.components().collect();
        for (i, c) in comps.iter().enumerate() {
            cur.push(c);
            let m = fs::symlink_metadata(&cur).map_err(|e| self.io(name, e))?;
            let last = i + 1 == comps.len();
            if !last && !m.is_dir() {
                // A symlink (or file) in the middle could lead anywhere.
                return Err(self.escapes(name));
            }
            if last && m.is_dir() {
                return Err(Error::Msg(format!(
                    "{}: hard link to directory \"{name}\"",
                    self.label
                )));
            }
        }
        Ok(cur)
    }

    fn whiteout(&mut self, rel: &Path, base: &[u8], name: &str) -> Result<()> {
        let path = self.prepare_parents(rel, name)?;
        let parent = path.parent().unwrap_or(&self.root).to_path_buf();
        if base == OPAQUE_MARKER.as_bytes() {
            xattr::set(&parent, OPAQUE_XATTR, b"y").map_err(|e| self.io(name, e))?;
            return Ok(());
        }
        if base.starts_with(b".wh..wh.") {
            // Other AUFS metadata (.wh..wh.plnk, ...) means nothing to overlay.
            return Ok(());
        }
        let hidden = &base[WHITEOUT_PREFIX.len()..];
        if hidden.is_empty() || hidden == b"." || hidden == b".." {
            return Err(self.escapes(name));
        }
        let target = parent.join(OsStr::from_bytes(hidden));
        self.clear(&target, false, name)?;
        mknod(&target, SFlag::S_IFCHR, Mode::empty(), makedev(0, 0))
            .map_err(|e| self.errno(name, "create whiteout", e))?;
        Ok(())
    }

    /// Ownership, mode and xattrs of a created entry (times are separate).
    fn metadata<R: Read>(
        &self,
        entry: &mut tar::Entry<R>,
        path: &Path,
        name: &str,
        symlink: bool,
    ) -> Result<()> {
        let h = entry.header();
        let uid = h.uid().unwrap_or(0) as u32;
        let gid = h.gid().unwrap_or(0) as u32;
        let mode = h.mode().unwrap_or(0o644) & 0o7777;
        let mtime = h.mtime().unwrap_or(0) as i64;
        std::os::unix::fs::lchown(path, Some(uid), Some(gid))
            .map_err(|e| self.chown_error(name, uid, gid, e))?;
        if !symlink {
            // After chown, which clears set-id bits.
            fs::set_permissions(path, fs::Permissions::from_mode(mode))
                .map_err(|e| self.io(name, e))?;
        }
        for (attr, value) in xattrs(entry) {
            if let Err(e) = xattr::set(path, &attr, &value) {
                self.xattr_failed(name, &attr, e, symlink)?;
            }
        }
        if symlink {
            set_mtime(path, mtime).map_err(|e| self.errno(name, "set times", e))?;
        }
        Ok(())
    }

    /// [`Self::metadata`] of a regular file, through its open descriptor.
    fn file_metadata<R: Read>(
        &self,
        entry: &mut tar::Entry<R>,
        f: &fs::File,
        name: &str,
    ) -> Result<()> {
        use xattr::FileExt;
        let h = entry.header();
        let uid = h.uid().unwrap_or(0) as u32;
        let gid = h.gid().unwrap_or(0) as u32;
        let mode = h.mode().unwrap_or(0o644) & 0o7777;
        std::os::unix::fs::fchown(f, Some(uid), Some(gid))
            .map_err(|e| self.chown_error(name, uid, gid, e))?;
        // After chown, which clears set-id bits.
        f.set_permissions(fs::Permissions::from_mode(mode))
            .map_err(|e| self.io(name, e))?;
        for (attr, value) in xattrs(entry) {
            if let Err(e) = f.set_xattr(&attr, &value) {
                self.xattr_failed(name, &attr, e, false)?;
            }
        }
        Ok(())
    }

    fn chown_error(&self, name: &str, uid: u32, gid: u32, e: io::Error) -> Error {
        let hint = if e.raw_os_error() == Some(libc::EINVAL) {
            " (the id is not mapped in the user namespace: check /etc/subuid and /etc/subgid)"
        } else {
            ""
        };
        Error::Msg(format!(
            "{}: entry \"{name}\": chown to {uid}:{gid}: {}{hint}",
            self.label,
            io_reason(&e)
        ))
    }

    /// Whether a failed setxattr is an error: attributes this kernel or
    /// this user cannot have are dropped.
    fn xattr_failed(&self, name: &str, attr: &str, e: io::Error, symlink: bool) -> Result<()> {
        let privileged = attr.starts_with("security.") || attr.starts_with("trusted.");
        let errno = e.raw_os_error();
        let tolerable = errno == Some(libc::ENOTSUP)
            || (privileged && matches!(errno, Some(libc::EPERM) | Some(libc::EACCES)))
            || (symlink && errno == Some(libc::EPERM));
        if !tolerable {
            return Err(Error::Msg(format!(
                "{}: entry \"{name}\": set xattr {attr}: {}",
                self.label,
                io_reason(&e)
            )));
        }
        tracing::debug!(entry = %name, %attr, "xattr not kept: {e}");
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        // Deepest first so that setting a parent's time comes last.
        self.dirs.sort_by(|a, b| b.0.cmp(&a.0));
        for (path, mtime) in std::mem::take(&mut self.dirs) {
            set_mtime(&path, mtime).map_err(|e| {
                Error::Msg(format!(
                    "{}: {}: set times: {}",
                    self.label,
                    path.display(),
                    e.desc().to_lowercase()
                ))
            })?;
        }
        Ok(())
    }
}

/// The extended attributes an entry carries (PAX `SCHILY.xattr.*`), less
/// overlay's own: those only ever come from our whiteout conversion, never
/// from a layer's content.
fn xattrs<R: Read>(entry: &mut tar::Entry<R>) -> Vec<(String, Vec<u8>)> {
    let mut attrs = Vec::new();
    if let Ok(Some(exts)) = entry.pax_extensions() {
        for ext in exts.flatten() {
            let Ok(key) = ext.key() else { continue };
            if let Some(attr) = key.strip_prefix("SCHILY.xattr.") {
                if attr.starts_with("user.overlay.") || attr.starts_with("trusted.overlay.") {
                    continue;
                }
                attrs.push((attr.to_string(), ext.value_bytes().to_vec()));
            }
        }
    }
    attrs
}

fn set_mtime(path: &Path, mtime: i64) -> nix::Result<()> {
    let t = TimeSpec::new(mtime, 0);
    utimensat(None, path, &t, &t, UtimensatFlags::NoFollowSymlink)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{FileTypeExt, MetadataExt};

    /// Builds a tar in memory from (path, type, data-or-link) entries.
    fn tar_of(entries: &[(&str, EntryType, &str)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, kind, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(*kind);
            h.set_uid(1000);
            h.set_gid(1000);
            h.set_mtime(1_600_000_000);
            h.set_mode(if *kind == EntryType::Directory {
                0o755
            } else {
                0o644
            });
            // Write the name bytes raw: Builder::append_data refuses `..`,
            // and hostile archives are what we test.
            let name = path.as_bytes();
            {
                let gnu = h.as_gnu_mut().unwrap();
                gnu.name[..name.len()].copy_from_slice(name);
            }
            match kind {
                EntryType::Symlink | EntryType::Link => {
                    let l = data.as_bytes();
                    h.as_gnu_mut().unwrap().linkname[..l.len()].copy_from_slice(l);
                    h.set_size(0);
                    h.set_cksum();
                    b.append(&h, io::empty()).unwrap();
                }
                _ => {
                    h.set_size(data.len() as u64);
                    h.set_cksum();
                    b.append(&h, data.as_bytes()).unwrap();
                }
            }
        }
        b.into_inner().unwrap()
    }

    fn sandbox() -> (tempfile::TempDir, PathBuf) {
        let t = tempfile::tempdir().unwrap();
        let dest = t.path().join("layer");
        fs::create_dir(&dest).unwrap();
        (t, dest)
    }

    /// Everything under `top`, to check nothing landed outside the layer.
    fn listing(top: &Path) -> Vec<String> {
        let mut out = Vec::new();
        fn walk(d: &Path, top: &Path, out: &mut Vec<String>) {
            for e in fs::read_dir(d).unwrap().flatten() {
                let p = e.path();
                out.push(p.strip_prefix(top).unwrap().display().to_string());
                if e.file_type().unwrap().is_dir() {
                    walk(&p, top, out);
                }
            }
        }
        walk(top, top, &mut out);
        out.sort();
        out
    }

    #[test]
    fn unpacks_files_links_and_metadata() {
        let (_t, dest) = sandbox();
        let data = tar_of(&[
            ("bin/", EntryType::Directory, ""),
            ("bin/busybox", EntryType::Regular, "ELF"),
            ("bin/sh", EntryType::Symlink, "/bin/busybox"),
            ("bin/ls", EntryType::Link, "bin/busybox"),
            ("run/fifo", EntryType::Fifo, ""),
        ]);
        let mut copy = Vec::new();
        let u = unpack(&data[..], &dest, "rootfs.tar", Some(&mut copy)).unwrap();
        assert_eq!(copy, data);
        assert_eq!(u.size, data.len() as u64);
        assert_eq!(
            u.diff_id,
            format!("sha256:{}", hex::encode(Sha256::digest(&data)))
        );
        assert_eq!(u.compression, Compression::None);
        let bb = fs::metadata(dest.join("bin/busybox")).unwrap();
        assert_eq!(fs::read(dest.join("bin/busybox")).unwrap(), b"ELF");
        assert_eq!(bb.uid(), 1000);
        assert_eq!(bb.mode() & 0o7777, 0o644);
        assert_eq!(bb.mtime(), 1_600_000_000);
        assert_eq!(bb.nlink(), 2);
        assert_eq!(
            fs::read_link(dest.join("bin/sh")).unwrap(),
            Path::new("/bin/busybox")
        );
        assert_eq!(
            fs::metadata(dest.join("bin")).unwrap().mtime(),
            1_600_000_000
        );
        assert!(fs::symlink_metadata(dest.join("run/fifo"))
            .unwrap()
            .file_type()
            .is_fifo());
    }

    #[test]
    fn gzip_and_zstd_give_the_same_diff_id() {
        let data = tar_of(&[("a", EntryType::Regular, "hello")]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&data).unwrap();
        let gz = gz.finish().unwrap();
        let zs = zstd::encode_all(&data[..], 1).unwrap();
        let (_t, d1) = sandbox();
        let (_t2, d2) = sandbox();
        let (_t3, d3) = sandbox();
        let plain = unpack(&data[..], &d1, "x", None).unwrap();
        let g = unpack(&gz[..], &d2, "x", None).unwrap();
        let z = unpack(&zs[..], &d3, "x", None).unwrap();
        assert_eq!(g.compression, Compression::Gzip);
        assert_eq!(z.compression, Compression::Zstd);
        assert_eq!(plain.diff_id, g.diff_id);
        assert_eq!(plain.diff_id, z.diff_id);
        assert_eq!(fs::read(d3.join("a")).unwrap(), b"hello");
    }

    #[test]
    fn whiteouts_become_overlay_whiteouts() {
        let (_t, dest) = sandbox();
        let data = tar_of(&[
            ("etc/", EntryType::Directory, ""),
            ("etc/.wh.passwd", EntryType::Regular, ""),
            ("var/.wh..wh..opq", EntryType::Regular, ""),
            ("var/new", EntryType::Regular, "n"),
        ]);
        unpack(&data[..], &dest, "l", None).unwrap();
        let m = fs::symlink_metadata(dest.join("etc/passwd")).unwrap();
        assert!(m.file_type().is_char_device());
        assert_eq!(m.rdev(), 0);
        assert!(!dest.join("etc/.wh.passwd").exists());
        assert_eq!(
            xattr::get(dest.join("var"), OPAQUE_XATTR).unwrap(),
            Some(b"y".to_vec())
        );
        assert!(dest.join("var/new").exists());
    }

    #[test]
    fn rejects_sparse_entries_before_writing() {
        let (t, dest) = sandbox();
        let mut h = tar::Header::new_gnu();
        h.set_path("big").unwrap();
        h.set_entry_type(EntryType::GNUSparse);
        h.set_mode(0o644);
        h.set_size(512);
        let g = h.as_gnu_mut().unwrap();
        // 1 TiB of holes, then 512 bytes: base-256, since it needs 13 octal digits.
        let real: u64 = 1 << 40;
        g.set_real_size(real);
        g.sparse[0].offset = [0; 12];
        g.sparse[0].offset[0] = 0x80;
        g.sparse[0].offset[4..].copy_from_slice(&(real - 512).to_be_bytes());
        g.sparse[0].numbytes.copy_from_slice(b"00000001000\0");
        h.set_cksum();
        let mut b = tar::Builder::new(Vec::new());
        b.append(&h, &[b'x'; 512][..]).unwrap();
        let data = b.into_inner().unwrap();
        let e = unpack(&data[..], &dest, "a.tar", None)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            format!("a.tar: entry \"big\": sparse file of {real} bytes not supported; rebuild the layer without sparse files")
        );
        assert_eq!(listing(t.path()), vec!["layer"]);
    }

    #[test]
    fn rejects_parent_dir_entries() {
        let (t, dest) = sandbox();
        let data = tar_of(&[("../../etc/x", EntryType::Regular, "evil")]);
        let e = unpack(&data[..], &dest, "rootfs.tar", None)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "rootfs.tar: entry \"../../etc/x\" escapes the layer");
        assert_eq!(listing(t.path()), vec!["layer"]);
    }

    #[test]
    fn rejects_absolute_entries() {
        let (t, dest) = sandbox();
        let data = tar_of(&[("/tmp/evil", EntryType::Regular, "evil")]);
        let e = unpack(&data[..], &dest, "a.tar", None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("escapes the layer"), "{e}");
        assert_eq!(listing(t.path()), vec!["layer"]);
    }

    #[test]
    fn never_writes_through_a_symlink() {
        let (t, dest) = sandbox();
        let outside = t.path().join("outside");
        fs::create_dir(&outside).unwrap();
        let data = tar_of(&[
            ("root", EntryType::Symlink, "/"),
            ("out", EntryType::Symlink, outside.to_str().unwrap()),
            ("out/planted", EntryType::Regular, "evil"),
        ]);
        let e = unpack(&data[..], &dest, "l.tar", None)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "l.tar: entry \"out/planted\" escapes the layer");
        assert!(fs::read_dir(&outside).unwrap().next().is_none());

        let (_t2, dest2) = sandbox();
        let data = tar_of(&[
            ("root", EntryType::Symlink, "/"),
            ("root/tmp/skiff-planted", EntryType::Regular, "evil"),
        ]);
        assert!(unpack(&data[..], &dest2, "l.tar", None).is_err());
        assert!(!Path::new("/tmp/skiff-planted").exists());
    }

    #[test]
    fn replacing_a_symlink_with_a_file_does_not_follow_it() {
        let (t, dest) = sandbox();
        let victim = t.path().join("victim");
        fs::write(&victim, "safe").unwrap();
        let data = tar_of(&[
            ("f", EntryType::Symlink, victim.to_str().unwrap()),
            ("f", EntryType::Regular, "evil"),
        ]);
        unpack(&data[..], &dest, "l", None).unwrap();
        assert_eq!(fs::read(&victim).unwrap(), b"safe");
        assert_eq!(fs::read(dest.join("f")).unwrap(), b"evil");
    }

    #[test]
    fn rejects_hard_links_out_of_the_layer() {
        let (t, dest) = sandbox();
        fs::write(t.path().join("x"), "secret").unwrap();
        let data = tar_of(&[("l", EntryType::Link, "../../x")]);
        let e = unpack(&data[..], &dest, "h.tar", None)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "h.tar: entry \"../../x\" escapes the layer");
        assert_eq!(listing(t.path()), vec!["layer", "x"]);

        // Through a symlinked directory.
        let (t, dest) = sandbox();
        fs::write(t.path().join("x"), "secret").unwrap();
        let data = tar_of(&[
            ("up", EntryType::Symlink, t.path().to_str().unwrap()),
            ("l", EntryType::Link, "up/x"),
        ]);
        let e = unpack(&data[..], &dest, "h.tar", None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("escapes the layer"), "{e}");
        assert!(!dest.join("l").exists());
        assert_eq!(fs::metadata(t.path().join("x")).unwrap().nlink(), 1);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let (_t, dest) = sandbox();
        let e = unpack(&b"this is not a tar archive at all"[..], &dest, "g", None);
        // A short non-tar stream reads as a truncated header.
        assert!(e.is_err() || listing(&dest).is_empty());
        let mut junk = vec![0x1f, 0x8b];
        junk.extend_from_slice(&[7u8; 100]);
        assert!(unpack(&junk[..], &dest, "g", None).is_err());
    }
}
