//! The local image store: content-addressed blobs, unpacked layers shared by
//! every image, and one record per image, all below the graph root.
//!
//! ```text
//! blobs/sha256/<hex>            configs, manifests, layer tars (verified on write)
//! layers/<diffid>/diff/         an unpacked layer: an overlay lower directory
//! layers/<diffid>/layer.json    its diff_id, size, and the blob it came from
//! images/<id>/image.json        names, created, config digest, layer diff_ids
//! tmp/<rand>/ + tmp/<rand>.lock staging, renamed into place only when complete
//! images.lock                   held by every mutation
//! ```
//!
//! Readers take no lock: every record is replaced by rename, so a reader sees
//! the old or the new state, never a half-written one.

use std::collections::HashSet;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use oci_spec::image::ImageConfiguration;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::layer;
use super::reference::{is_hex64, Reference, DOCKER_DOMAIN, LOCAL_DOMAIN};
use super::{Error, Result};
use crate::state::{self, read_json, write_json, Lock};
use crate::Context;

/// A stored image.
#[derive(Debug, Clone, Default)]
pub struct Image {
    /// Full 64-hex image id (sha256 of the config blob).
    pub id: String,
    /// Fully qualified names (`localhost/busybox:latest`).
    pub names: Vec<String>,
    pub config: ImageConfiguration,
    pub created: DateTime<Utc>,
    /// `sha256:<hex>` of the config blob.
    pub config_digest: String,
    /// Layer diff_ids (`sha256:<hex>`), lowest first.
    pub layers: Vec<String>,
    /// `sha256:<hex>` of the manifest, when one is stored.
    pub manifest_digest: Option<String>,
    /// Every name the image ever had, most recent first (Podman's NamesHistory).
    pub names_history: Vec<String>,
    /// Sum of the uncompressed layer sizes.
    pub size: u64,
}

impl Image {
    /// The 12-hex id users see.
    pub fn short_id(&self) -> &str {
        &self.id[..12.min(self.id.len())]
    }

    /// `repository@digest` for each repository the image is named in.
    pub fn repo_digests(&self) -> Vec<String> {
        let Some(d) = &self.manifest_digest else {
            return Vec::new();
        };
        let mut out: Vec<String> = Vec::new();
        for n in &self.names {
            if let Ok(r) = Reference::parse(n) {
                let rd = format!("{}@{d}", r.repository());
                if !out.contains(&rd) {
                    out.push(rd);
                }
            }
        }
        out
    }
}

/// The on-disk record of an image (`images/<id>/image.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageRecord {
    pub id: String,
    #[serde(default)]
    pub names: Vec<String>,
    pub created: DateTime<Utc>,
    pub config_digest: String,
    pub layers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_digest: Option<String>,
    #[serde(default)]
    pub names_history: Vec<String>,
}

/// The on-disk record of an unpacked layer (`layers/<diffid>/layer.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LayerRecord {
    pub diff_id: String,
    /// Bytes of the uncompressed layer tar.
    pub size: u64,
    /// The blob the layer tar is stored as, and how it is compressed.
    pub blob_digest: String,
    pub media_type: String,
    /// Size of that blob.
    #[serde(default)]
    pub blob_size: u64,
}

pub struct ImageStore {
    root: PathBuf,
}

/// A private directory in `tmp/`, locked while it is being filled; dropped
/// (removed) when the work fails, renamed away when it succeeds.
struct Staging {
    dir: PathBuf,
    lock_path: PathBuf,
    _lock: Lock,
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = remove_tree(&self.dir);
        let _ = fs::remove_file(&self.lock_path);
    }
}

fn io_err(op: &str, path: &Path) -> impl FnOnce(io::Error) -> Error {
    let msg = format!("{op} {}", path.display());
    move |e| Error::Msg(format!("{msg}: {}", crate::error::io_reason(&e)))
}

fn remove_tree(p: &Path) -> io::Result<()> {
    match fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(p),
        Ok(_) => fs::remove_file(p),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Hashes and counts the bytes on their way to `inner` (a layer's
/// diff_id and size as its tar is written).
pub(crate) struct Hashing<W> {
    inner: W,
    hash: Sha256,
    size: u64,
}

impl<W: Write> Hashing<W> {
    pub(crate) fn new(inner: W) -> Self {
        Hashing {
            inner,
            hash: Sha256::new(),
            size: 0,
        }
    }

    /// The output, `sha256:<hex>` of what went through, and its length.
    pub(crate) fn finish(self) -> (W, String, u64) {
        let digest = format!("sha256:{}", hex::encode(self.hash.finalize()));
        (self.inner, digest, self.size)
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn hex_of(digest: &str) -> Result<&str> {
    match digest.strip_prefix("sha256:") {
        Some(h) if is_hex64(h) => Ok(h),
        _ => Err(Error::Msg(format!("invalid digest {digest:?}"))),
    }
}

fn fsync_dir(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Whether `img` is an intermediate image, which `images` hides without
/// `--all` (Podman's rule): it has no name and another image is built on
/// it, that is has its layers and its history as a strict prefix (the
/// steps of a build with `--layers`).
pub fn is_intermediate(img: &Image, all: &[Image]) -> bool {
    if !img.names.is_empty() {
        return false;
    }
    let history = img.config.history();
    all.iter().any(|other| {
        let h = other.config.history();
        other.id != img.id
            && other.layers.starts_with(&img.layers)
            && h.len() > history.len()
            && h.starts_with(history)
    })
}

/// The stored image that is `img` as it was after its first `entries`
/// history entries (a build step's image), if there is one: its history
/// is that prefix of `img`'s and its layers a prefix of `img`'s. `history`
/// shows its id instead of `<missing>`, as Podman does.
pub fn ancestor<'a>(img: &Image, all: &'a [Image], entries: usize) -> Option<&'a Image> {
    let history = img.config.history();
    let prefix = history.get(..entries)?;
    all.iter().find(|a| {
        a.id != img.id && a.config.history() == prefix && img.layers.starts_with(&a.layers)
    })
}

/// Serialises an image config the same way every time (sorted keys), so that
/// the same content gives the same image id.
pub fn config_bytes(config: &ImageConfiguration) -> Result<Vec<u8>> {
    let v = serde_json::to_value(config).map_err(|e| Error::Msg(format!("image config: {e}")))?;
    serde_json::to_vec(&v).map_err(|e| Error::Msg(format!("image config: {e}")))
}

/// Parses an image config, tolerating what real registries serve and the
/// OCI types insist on (a missing `history` or `rootfs`).
pub fn parse_config(data: &[u8]) -> std::result::Result<ImageConfiguration, String> {
    let mut v: serde_json::Value = serde_json::from_slice(data).map_err(|e| e.to_string())?;
    let obj = v.as_object_mut().ok_or("not a JSON object")?;
    if obj.get("history").is_none_or(|h| h.is_null()) {
        obj.insert("history".into(), serde_json::json!([]));
    }
    if obj.get("rootfs").is_none_or(|h| h.is_null()) {
        obj.insert(
            "rootfs".into(),
            serde_json::json!({"type": "layers", "diff_ids": []}),
        );
    }
    serde_json::from_value(v).map_err(|e| e.to_string())
}

impl ImageStore {
    pub fn new(ctx: &Context) -> Self {
        Self::at(&ctx.root)
    }

    /// A store below an arbitrary graph root (tests, tools).
    pub fn at(root: &Path) -> Self {
        ImageStore {
            root: root.to_path_buf(),
        }
    }

    fn images_dir(&self) -> PathBuf {
        self.root.join("images")
    }

    fn layers_dir(&self) -> PathBuf {
        self.root.join("layers")
    }

    fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// The lock every mutation of images, layers and blobs holds.
    pub fn lock(&self) -> Result<Lock> {
        Ok(Lock::exclusive(&self.root.join("images.lock"))?)
    }

    pub fn blob_path(&self, digest: &str) -> Result<PathBuf> {
        Ok(self.root.join("blobs/sha256").join(hex_of(digest)?))
    }

    pub fn has_blob(&self, digest: &str) -> bool {
        self.blob_path(digest).map(|p| p.exists()).unwrap_or(false)
    }

    pub fn read_blob(&self, digest: &str) -> Result<Vec<u8>> {
        let p = self.blob_path(digest)?;
        fs::read(&p).map_err(io_err("read blob", &p))
    }

    /// The directory of an unpacked layer (`layers/<hex>/diff`).
    pub fn layer_diff_dir(&self, diff_id: &str) -> Result<PathBuf> {
        Ok(self.layers_dir().join(hex_of(diff_id)?).join("diff"))
    }

    /// The record of an unpacked layer, if it is stored.
    pub fn layer(&self, diff_id: &str) -> Result<Option<LayerRecord>> {
        let p = self.layers_dir().join(hex_of(diff_id)?).join("layer.json");
        Ok(read_json(&p)?)
    }

    /// Removes what interrupted writers left in `tmp/`. Runs under the store
    /// lock; a staging directory whose lock is still held is someone's
    /// ongoing work and stays.
    fn clean_tmp(&self) {
        let tmp = self.tmp_dir();
        let Ok(rd) = fs::read_dir(&tmp) else { return };
        let mut names: Vec<String> = rd
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        names.sort();
        let locks: HashSet<String> = names
            .iter()
            .filter_map(|n| n.strip_suffix(".lock").map(str::to_string))
            .collect();
        for n in &names {
            if let Some(base) = n.strip_suffix(".lock") {
                let lp = tmp.join(n);
                if let Ok(Some(_held)) = Lock::try_exclusive(&lp) {
                    let _ = remove_tree(&tmp.join(base));
                    let _ = fs::remove_file(&lp);
                }
            } else if !locks.contains(n) {
                if let Err(e) = remove_tree(&tmp.join(n)) {
                    tracing::debug!(entry = %n, "cannot clean stale staging entry: {e}");
                }
            }
        }
    }

    /// A new staging directory in `tmp/` (same filesystem as the store, so
    /// that finished work is renamed into place).
    fn stage(&self) -> Result<Staging> {
        let _g = self.lock()?;
        self.clean_tmp();
        let tmp = self.tmp_dir();
        fs::create_dir_all(&tmp).map_err(io_err("mkdir", &tmp))?;
        let name = state::new_id()[..16].to_string();
        let lock_path = tmp.join(format!("{name}.lock"));
        let lock = Lock::exclusive(&lock_path)?;
        let dir = tmp.join(&name);
        fs::create_dir(&dir).map_err(io_err("mkdir", &dir))?;
        Ok(Staging {
            dir,
            lock_path,
            _lock: lock,
        })
    }

    /// Moves a finished, verified file into `blobs/sha256/<hex>` (under the lock).
    fn commit_blob(&self, file: &Path, hex: &str) -> Result<()> {
        let dir = self.root.join("blobs/sha256");
        fs::create_dir_all(&dir).map_err(io_err("mkdir", &dir))?;
        let dest = dir.join(hex);
        if dest.exists() {
            return Ok(());
        }
        fs::rename(file, &dest).map_err(io_err("rename", &dest))?;
        fsync_dir(&dir);
        Ok(())
    }

    /// Stores a blob from a stream, hashing as it writes; when `expected` is
    /// given the content must match it. Returns the digest and size.
    pub fn put_blob(&self, input: impl Read, expected: Option<&str>) -> Result<(String, u64)> {
        if let Some(d) = expected {
            hex_of(d)?;
        }
        let staging = self.stage()?;
        let path = staging.dir.join("blob");
        let mut f = fs::File::create(&path).map_err(io_err("create", &path))?;
        let mut hash = Sha256::new();
        let mut size = 0u64;
        let mut input = input;
        let mut buf = vec![0u8; 128 * 1024];
        loop {
            let n = match input.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::Msg(format!("read blob: {e}"))),
            };
            hash.update(&buf[..n]);
            size += n as u64;
            f.write_all(&buf[..n]).map_err(io_err("write", &path))?;
        }
        f.sync_all().map_err(io_err("fsync", &path))?;
        drop(f);
        let digest = format!("sha256:{}", hex::encode(hash.finalize()));
        if let Some(want) = expected {
            if want != digest {
                return Err(Error::Msg(format!(
                    "blob digest mismatch: expected {want}, got {digest}"
                )));
            }
        }
        let _g = self.lock()?;
        self.commit_blob(&path, hex_of(&digest)?)?;
        Ok((digest, size))
    }

    pub fn put_blob_bytes(&self, data: &[u8]) -> Result<String> {
        Ok(self.put_blob(data, None)?.0)
    }

    /// Unpacks a layer tar stream (plain, gzip or zstd) and stores it,
    /// keeping the uncompressed tar as the layer's blob so that its diff_id
    /// can be reproduced byte for byte. A layer already stored is reused.
    pub fn create_layer(&self, input: impl Read, label: &str) -> Result<LayerRecord> {
        let staging = self.stage()?;
        let diff = staging.dir.join("diff");
        fs::create_dir(&diff).map_err(io_err("mkdir", &diff))?;
        let blob = staging.dir.join("blob");
        let file = fs::File::create(&blob).map_err(io_err("create", &blob))?;
        let mut w = io::BufWriter::with_capacity(256 * 1024, file);
        let u = layer::unpack(input, &diff, label, Some(&mut w))?;
        let file = w
            .into_inner()
            .map_err(|e| io_err("write", &blob)(e.into_error()))?;
        file.sync_all().map_err(io_err("fsync", &blob))?;
        drop(file);
        let rec = LayerRecord {
            diff_id: u.diff_id.clone(),
            size: u.size,
            blob_digest: u.diff_id.clone(),
            media_type: layer::Compression::None.media_type().to_string(),
            blob_size: u.size,
        };
        self.commit_layer(staging, rec, Some(&blob))
    }

    /// Stores a layer whose tar `write` produces (a container's changes:
    /// `commit`, build steps). The tar is kept as the layer's blob as it is
    /// written; a layer the store has already is not unpacked again (a
    /// commit of the same changes, a build without its cache).
    pub fn create_layer_written(
        &self,
        label: &str,
        write: impl FnOnce(&mut dyn Write) -> Result<()>,
    ) -> Result<LayerRecord> {
        let staging = self.stage()?;
        let blob = staging.dir.join("blob");
        let file = fs::File::create(&blob).map_err(io_err("create", &blob))?;
        let mut w = Hashing::new(io::BufWriter::with_capacity(256 * 1024, file));
        write(&mut w)?;
        let (inner, diff_id, size) = w.finish();
        let file = inner
            .into_inner()
            .map_err(|e| io_err("write", &blob)(e.into_error()))?;
        file.sync_all().map_err(io_err("fsync", &blob))?;
        drop(file);
        if let Some(rec) = self.layer(&diff_id)? {
            return Ok(rec);
        }
        let diff = staging.dir.join("diff");
        fs::create_dir(&diff).map_err(io_err("mkdir", &diff))?;
        let f = fs::File::open(&blob).map_err(io_err("open", &blob))?;
        let u = layer::unpack(io::BufReader::new(f), &diff, label, None)?;
        if u.diff_id != diff_id {
            return Err(Error::Msg(format!(
                "{label}: the layer changed while it was stored ({diff_id}, then {})",
                u.diff_id
            )));
        }
        let rec = LayerRecord {
            diff_id: diff_id.clone(),
            size,
            blob_digest: diff_id,
            media_type: layer::Compression::None.media_type().to_string(),
            blob_size: size,
        };
        self.commit_layer(staging, rec, Some(&blob))
    }

    /// Unpacks a layer from a stored blob (pulled layers). When `diff_id` is
    /// given (from the image config), the content must match it.
    pub fn create_layer_from_blob(
        &self,
        blob_digest: &str,
        diff_id: Option<&str>,
        label: &str,
    ) -> Result<LayerRecord> {
        if let Some(d) = diff_id {
            if let Some(rec) = self.layer(d)? {
                return Ok(rec);
            }
        }
        let path = self.blob_path(blob_digest)?;
        let f = fs::File::open(&path).map_err(io_err("open", &path))?;
        let blob_size = f.metadata().map(|m| m.len()).unwrap_or(0);
        let staging = self.stage()?;
        let diff = staging.dir.join("diff");
        fs::create_dir(&diff).map_err(io_err("mkdir", &diff))?;
        let u = layer::unpack(io::BufReader::new(f), &diff, label, None)?;
        if let Some(want) = diff_id {
            if want != u.diff_id {
                return Err(Error::Msg(format!(
                    "{label}: layer diff_id mismatch: expected {want}, got {}",
                    u.diff_id
                )));
            }
        }
        let rec = LayerRecord {
            diff_id: u.diff_id,
            size: u.size,
            blob_digest: blob_digest.to_string(),
            media_type: u.compression.media_type().to_string(),
            blob_size,
        };
        self.commit_layer(staging, rec, None)
    }

    /// Unpacks a layer while its blob streams in (pull, load), keeping the
    /// blob byte for byte as it came. The blob must hash to `blob_digest`
    /// and the tar to `diff_id` (when given): the layer is committed only
    /// when both match, so an interrupted or corrupt download leaves nothing
    /// a later pull would trust.
    pub fn create_layer_streaming(
        &self,
        input: &mut dyn Read,
        blob_digest: &str,
        diff_id: Option<&str>,
        label: &str,
    ) -> Result<LayerRecord> {
        hex_of(blob_digest)?;
        if let Some(d) = diff_id {
            if let Some(rec) = self.layer(d)? {
                return Ok(rec);
            }
        }
        let staging = self.stage()?;
        let diff = staging.dir.join("diff");
        fs::create_dir(&diff).map_err(io_err("mkdir", &diff))?;
        let blob = staging.dir.join("blob");
        let mut file = fs::File::create(&blob).map_err(io_err("create", &blob))?;
        let mut hash = Sha256::new();
        let mut blob_size = 0u64;
        // This thread reads, hashes and keeps the blob; two more inflate
        // and create the files. After an unpack error the rest is still
        // read: the digest covers every byte, and a digest error explains a
        // garbled stream better than the decompressor's complaint about it.
        let (unpacked, drained) = layer::unpack_fed(&diff, label, |pipe| {
            let mut buf = vec![0u8; 1 << 20];
            let mut piping = true;
            loop {
                let n = match input.read(&mut buf) {
                    Ok(0) => return Ok(()),
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                };
                hash.update(&buf[..n]);
                blob_size += n as u64;
                file.write_all(&buf[..n])?;
                if piping && pipe.write_all(&buf[..n]).is_err() {
                    piping = false;
                }
            }
        });
        let got = format!("sha256:{}", hex::encode(hash.finalize()));
        let mismatch = || {
            Error::Msg(format!(
                "{label}: blob digest mismatch: expected {blob_digest}, got {got}"
            ))
        };
        let u = match (unpacked, drained) {
            (_, Err(e)) => {
                // The registry's own errors (a digest mismatch) name the blob already.
                let reason = crate::error::io_reason(&e);
                return Err(Error::Msg(if reason.starts_with(label) {
                    reason
                } else {
                    format!("{label}: {reason}")
                }));
            }
            (Err(_), Ok(_)) if got != blob_digest => return Err(mismatch()),
            (Err(e), Ok(_)) => return Err(e),
            (Ok(u), Ok(_)) => u,
        };
        if got != blob_digest {
            return Err(mismatch());
        }
        if let Some(want) = diff_id {
            if want != u.diff_id {
                return Err(Error::Msg(format!(
                    "{label}: layer diff_id mismatch: expected {want}, got {}",
                    u.diff_id
                )));
            }
        }
        file.sync_all().map_err(io_err("fsync", &blob))?;
        drop(file);
        let rec = LayerRecord {
            diff_id: u.diff_id,
            size: u.size,
            blob_digest: blob_digest.to_string(),
            media_type: u.compression.media_type().to_string(),
            blob_size,
        };
        self.commit_layer(staging, rec, Some(&blob))
    }

    fn commit_layer(
        &self,
        staging: Staging,
        rec: LayerRecord,
        blob: Option<&Path>,
    ) -> Result<LayerRecord> {
        let hex = hex_of(&rec.diff_id)?.to_string();
        let _g = self.lock()?;
        if let Some(existing) = self.layer(&rec.diff_id)? {
            // Someone stored the same layer first: share theirs.
            if let Some(b) = blob {
                self.commit_blob(b, hex_of(&existing.blob_digest)?)?;
            }
            return Ok(existing);
        }
        if let Some(b) = blob {
            self.commit_blob(b, hex_of(&rec.blob_digest)?)?;
        }
        state::write_json(&staging.dir.join("layer.json"), &rec)?;
        let layers = self.layers_dir();
        fs::create_dir_all(&layers).map_err(io_err("mkdir", &layers))?;
        let dest = layers.join(&hex);
        // A directory without layer.json can only be debris: replace it.
        remove_tree(&dest).map_err(io_err("remove", &dest))?;
        fs::rename(&staging.dir, &dest).map_err(io_err("rename", &dest))?;
        fsync_dir(&layers);
        Ok(rec)
    }

    /// Stores a config (and optionally a manifest digest already stored as a
    /// blob) as an image made of stored layers, and gives it `names`
    /// (already normalised), taking them from any image that had them.
    pub fn create_image(
        &self,
        config: &ImageConfiguration,
        names: &[String],
        manifest_digest: Option<String>,
    ) -> Result<Image> {
        let bytes = config_bytes(config)?;
        let config_digest = self.put_blob_bytes(&bytes)?;
        self.create_image_from_config_blob(&config_digest, names, manifest_digest)
    }

    /// Like `create_image`, for a config already stored byte for byte as a
    /// blob (pulled or loaded images): the image id is that blob's digest,
    /// as the registry and Podman know it.
    pub fn create_image_from_config_blob(
        &self,
        config_digest: &str,
        names: &[String],
        manifest_digest: Option<String>,
    ) -> Result<Image> {
        let id = hex_of(config_digest)?.to_string();
        let data = self.read_blob(config_digest)?;
        let config = parse_config(&data)
            .map_err(|e| Error::Msg(format!("image config {config_digest}: {e}")))?;
        let layers = config.rootfs().diff_ids().clone();
        let created = config
            .created()
            .as_deref()
            .and_then(|c| DateTime::parse_from_rfc3339(c).ok())
            .map(|c| c.with_timezone(&Utc))
            .unwrap_or_else(Utc::now);
        if let Some(m) = &manifest_digest {
            if !self.has_blob(m) {
                return Err(Error::Msg(format!("manifest {m} is not stored")));
            }
        }
        {
            let _g = self.lock()?;
            for l in &layers {
                if self.layer(l)?.is_none() {
                    return Err(Error::Msg(format!("layer {l} is not stored")));
                }
            }
            let mut rec = self.record(&id)?.unwrap_or(ImageRecord {
                id: id.clone(),
                names: Vec::new(),
                created,
                config_digest: config_digest.to_string(),
                layers,
                manifest_digest: None,
                names_history: Vec::new(),
            });
            if manifest_digest.is_some() {
                rec.manifest_digest = manifest_digest;
            }
            self.save(&rec)?;
            self.add_names_locked(&id, names)?;
        }
        self.load(&id)
    }

    fn record_path(&self, id: &str) -> PathBuf {
        self.images_dir().join(id).join("image.json")
    }

    fn record(&self, id: &str) -> Result<Option<ImageRecord>> {
        if !is_hex64(id) {
            return Ok(None);
        }
        Ok(read_json(&self.record_path(id))?)
    }

    fn save(&self, rec: &ImageRecord) -> Result<()> {
        Ok(write_json(&self.record_path(&rec.id), rec)?)
    }

    /// Every image record, newest first.
    pub fn records(&self) -> Result<Vec<ImageRecord>> {
        let dir = self.images_dir();
        let mut out = Vec::new();
        let rd = match fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(io_err("read", &dir)(e)),
        };
        for e in rd.flatten() {
            let Ok(name) = e.file_name().into_string() else {
                continue;
            };
            match self.record(&name) {
                Ok(Some(r)) => out.push(r),
                Ok(None) => {}
                Err(e) => tracing::warn!("skipping image {name}: {e}"),
            }
        }
        out.sort_by(|a, b| b.created.cmp(&a.created).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    fn materialise(&self, rec: ImageRecord) -> Result<Image> {
        let data = self.read_blob(&rec.config_digest)?;
        let config = parse_config(&data)
            .map_err(|e| Error::Msg(format!("image {}: corrupt config: {e}", rec.id)))?;
        let mut size = 0;
        for l in &rec.layers {
            size += self.layer(l)?.map(|r| r.size).unwrap_or(0);
        }
        Ok(Image {
            id: rec.id,
            names: rec.names,
            config,
            created: rec.created,
            config_digest: rec.config_digest,
            layers: rec.layers,
            manifest_digest: rec.manifest_digest,
            names_history: rec.names_history,
            size,
        })
    }

    /// Loads an image by full id.
    pub fn load(&self, id: &str) -> Result<Image> {
        match self.record(id)? {
            Some(r) => self.materialise(r),
            None => Err(Error::NotKnown(id.to_string())),
        }
    }

    /// Every image, newest first.
    pub fn list(&self) -> Result<Vec<Image>> {
        self.records()?
            .into_iter()
            .map(|r| self.materialise(r))
            .collect()
    }

    /// Finds an image by full id, name (normalised), short name, or unique
    /// id prefix.
    pub fn lookup(&self, name_or_id: &str) -> Result<Image> {
        let recs = self.records()?;
        let id = find(&recs, name_or_id)?.id.clone();
        self.load(&id)
    }

    /// Like `lookup`, but also tells which of the image's names the key
    /// resolved to (`None` when found by id).
    pub fn resolve(&self, name_or_id: &str) -> Result<(Image, Option<String>)> {
        let recs = self.records()?;
        let rec = find(&recs, name_or_id)?;
        let name = matched_name(rec, name_or_id);
        Ok((self.load(&rec.id)?, name))
    }

    /// The unpacked layer directories of an image, lowest first.
    pub fn layer_dirs(&self, image: &Image) -> Result<Vec<PathBuf>> {
        let mut out = Vec::with_capacity(image.layers.len());
        for l in &image.layers {
            let dir = self.layer_diff_dir(l)?;
            if !dir.is_dir() {
                return Err(Error::Msg(format!(
                    "layer {l} of image {} is missing from the store",
                    image.short_id()
                )));
            }
            out.push(dir);
        }
        Ok(out)
    }

    fn add_names_locked(&self, id: &str, names: &[String]) -> Result<()> {
        for rec in self.records()? {
            if rec.id != id && rec.names.iter().any(|n| names.contains(n)) {
                let mut other = rec.clone();
                other.names.retain(|n| !names.contains(n));
                self.save(&other)?;
            }
        }
        let mut rec = self.record(id)?.ok_or_else(|| Error::NotKnown(id.into()))?;
        for n in names {
            if !rec.names.contains(n) {
                rec.names.push(n.clone());
            }
            rec.names_history.retain(|h| h != n);
            rec.names_history.insert(0, n.clone());
        }
        self.save(&rec)
    }

    /// Gives an image more names (already normalised); a name held by
    /// another image moves to this one.
    pub fn add_names(&self, id: &str, names: &[String]) -> Result<()> {
        let _g = self.lock()?;
        self.add_names_locked(id, names)
    }

    /// Removes one name from an image; false when it did not have it.
    pub fn remove_name(&self, id: &str, name: &str) -> Result<bool> {
        let _g = self.lock()?;
        let mut rec = self.record(id)?.ok_or_else(|| Error::NotKnown(id.into()))?;
        let before = rec.names.len();
        rec.names.retain(|n| n != name);
        if rec.names.len() == before {
            return Ok(false);
        }
        self.save(&rec)?;
        Ok(true)
    }

    /// Removes every name of an image (it stays, dangling).
    pub fn clear_names(&self, id: &str) -> Result<Vec<String>> {
        let _g = self.lock()?;
        let mut rec = self.record(id)?.ok_or_else(|| Error::NotKnown(id.into()))?;
        let names = std::mem::take(&mut rec.names);
        self.save(&rec)?;
        Ok(names)
    }

    /// Deletes an image record, then its layers and blobs that no other
    /// image uses. Returns the diff_ids of the layers deleted.
    pub fn remove_image(&self, id: &str) -> Result<Vec<String>> {
        let _g = self.lock()?;
        let Some(rec) = self.record(id)? else {
            return Err(Error::NotKnown(id.to_string()));
        };
        let dir = self.images_dir().join(id);
        // The record goes first: a crash after it leaves only unreferenced
        // layers, never an image with missing layers.
        fs::remove_file(self.record_path(id)).map_err(io_err("remove", &dir))?;
        remove_tree(&dir).map_err(io_err("remove", &dir))?;
        fsync_dir(&self.images_dir());

        let others = self.records()?;
        let used_layers: HashSet<&String> = others.iter().flat_map(|r| &r.layers).collect();
        let mut used_blobs: HashSet<String> = HashSet::new();
        for r in &others {
            used_blobs.insert(r.config_digest.clone());
            if let Some(m) = &r.manifest_digest {
                used_blobs.insert(m.clone());
            }
            for l in &r.layers {
                if let Ok(Some(lr)) = self.layer(l) {
                    used_blobs.insert(lr.blob_digest);
                }
            }
        }
        let mut gone_blobs = vec![rec.config_digest.clone()];
        gone_blobs.extend(rec.manifest_digest.clone());
        let mut deleted = Vec::new();
        for l in &rec.layers {
            if used_layers.contains(l) || deleted.contains(l) {
                continue;
            }
            if let Ok(Some(lr)) = self.layer(l) {
                gone_blobs.push(lr.blob_digest);
            }
            self.delete_layer(l)?;
            deleted.push(l.clone());
        }
        for b in gone_blobs {
            if !used_blobs.contains(&b) {
                if let Ok(p) = self.blob_path(&b) {
                    let _ = fs::remove_file(p);
                }
            }
        }
        Ok(deleted)
    }

    /// Removes the layers, blobs and image directories no image record
    /// references: what a failed or interrupted pull or load left (`image
    /// prune`, `system prune`). Entries changed in the last minute are
    /// spared: they may belong to a pull still at work, which commits its
    /// blobs and layers before its image record. Returns how many went.
    pub fn remove_unreferenced(&self) -> Result<usize> {
        const GRACE: std::time::Duration = std::time::Duration::from_secs(60);
        let _g = self.lock()?;
        self.clean_tmp();
        let recs = self.records()?;
        let mut used_layers: HashSet<String> = HashSet::new();
        let mut used_blobs: HashSet<String> = HashSet::new();
        for r in &recs {
            used_blobs.insert(hex_of(&r.config_digest).unwrap_or_default().to_string());
            if let Some(m) = &r.manifest_digest {
                used_blobs.insert(hex_of(m).unwrap_or_default().to_string());
            }
            for l in &r.layers {
                used_layers.insert(hex_of(l).unwrap_or_default().to_string());
                if let Ok(Some(lr)) = self.layer(l) {
                    used_blobs.insert(hex_of(&lr.blob_digest).unwrap_or_default().to_string());
                }
            }
        }
        let old = |p: &Path| {
            fs::symlink_metadata(p)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age >= GRACE)
        };
        let entries = |dir: PathBuf| -> Vec<(String, PathBuf)> {
            fs::read_dir(dir)
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|e| Some((e.file_name().into_string().ok()?, e.path())))
                .collect()
        };
        let mut n = 0;
        for (name, path) in entries(self.layers_dir()) {
            if !used_layers.contains(&name) && old(&path) {
                if let Ok(()) = self.delete_layer(&format!("sha256:{name}")) {
                    n += 1;
                } else if remove_tree(&path).is_ok() {
                    n += 1;
                }
            }
        }
        for (name, path) in entries(self.root.join("blobs/sha256")) {
            if !used_blobs.contains(&name) && old(&path) && fs::remove_file(&path).is_ok() {
                n += 1;
            }
        }
        for (name, path) in entries(self.images_dir()) {
            if !self.record_path(&name).exists() && old(&path) && remove_tree(&path).is_ok() {
                n += 1;
            }
        }
        Ok(n)
    }

    /// Moves a layer out of `layers/` in one rename, then deletes it; an
    /// interrupted delete leaves debris in `tmp/` that the next write cleans.
    fn delete_layer(&self, diff_id: &str) -> Result<()> {
        let src = self.layers_dir().join(hex_of(diff_id)?);
        if !src.exists() {
            return Ok(());
        }
        let tmp = self.tmp_dir();
        fs::create_dir_all(&tmp).map_err(io_err("mkdir", &tmp))?;
        let dest = tmp.join(format!("del-{}", &state::new_id()[..16]));
        fs::rename(&src, &dest).map_err(io_err("rename", &src))?;
        remove_tree(&dest).map_err(io_err("remove", &dest))?;
        Ok(())
    }
}

/// The lookup rules, over records: full id, exact normalised name, short
/// name candidates, unique id prefix.
pub fn find<'a>(recs: &'a [ImageRecord], key: &str) -> Result<&'a ImageRecord> {
    let not_known = || Error::NotKnown(key.to_string());
    let id_key = key.strip_prefix("sha256:").unwrap_or(key);
    if is_hex64(id_key) {
        if let Some(r) = recs.iter().find(|r| r.id == id_key) {
            return Ok(r);
        }
    }
    if let Ok(r) = Reference::parse(key) {
        for cand in candidates(&r) {
            if let Some(found) = recs.iter().find(|rec| matches(rec, &cand)) {
                return Ok(found);
            }
        }
        if r.is_short() {
            // Any repository ending in /NAME with that tag (quay.io/x/NAME).
            let suffix = format!("/{}", r.path);
            let tag = r.tag.as_deref().unwrap_or(super::reference::DEFAULT_TAG);
            for rec in recs {
                let hit = rec.names.iter().any(|n| {
                    Reference::parse(n).is_ok_and(|nr| {
                        nr.repository().ends_with(&suffix)
                            && match &r.digest {
                                Some(d) => rec.manifest_digest.as_ref() == Some(d),
                                None => nr.tag.as_deref() == Some(tag),
                            }
                    })
                });
                if hit {
                    return Ok(rec);
                }
            }
        }
    }
    let is_prefix_key = !id_key.is_empty()
        && id_key.len() < 64
        && id_key
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if is_prefix_key {
        let hits: Vec<&ImageRecord> = recs.iter().filter(|r| r.id.starts_with(id_key)).collect();
        match hits.len() {
            0 => {}
            1 => return Ok(hits[0]),
            n => {
                return Err(Error::Msg(format!(
                    "{key}: ambiguous image id prefix: {n} images match; use more characters"
                )))
            }
        }
    }
    Err(not_known())
}

/// Fully qualified references a key may mean, most likely first.
fn candidates(r: &Reference) -> Vec<Reference> {
    if !r.is_short() {
        return vec![r.normalize_local()];
    }
    let mut local = r.normalize_local();
    local.domain = Some(LOCAL_DOMAIN.to_string());
    let mut out = vec![local];
    let docker = r.normalize_docker();
    if docker.domain.as_deref() == Some(DOCKER_DOMAIN) {
        out.push(docker);
    }
    out
}

fn matches(rec: &ImageRecord, r: &Reference) -> bool {
    match &r.digest {
        Some(d) => {
            rec.manifest_digest.as_ref() == Some(d)
                && rec
                    .names
                    .iter()
                    .any(|n| Reference::parse(n).is_ok_and(|nr| nr.repository() == r.repository()))
        }
        None => {
            let want = r.to_string();
            rec.names.contains(&want)
        }
    }
}

/// Which of the record's names `key` designates, if it was a name.
fn matched_name(rec: &ImageRecord, key: &str) -> Option<String> {
    let r = Reference::parse(key).ok()?;
    if r.digest.is_some() {
        return None;
    }
    for cand in candidates(&r) {
        let s = cand.to_string();
        if rec.names.contains(&s) {
            return Some(s);
        }
    }
    if r.is_short() {
        let suffix = format!("/{}", r.path);
        let tag = r.tag.as_deref().unwrap_or(super::reference::DEFAULT_TAG);
        return rec
            .names
            .iter()
            .find(|n| {
                Reference::parse(n).is_ok_and(|nr| {
                    nr.repository().ends_with(&suffix) && nr.tag.as_deref() == Some(tag)
                })
            })
            .cloned();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::image::{ImageConfigurationBuilder, RootFsBuilder};

    fn tar_with(name: &str, data: &str) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, data.as_bytes()).unwrap();
        b.into_inner().unwrap()
    }

    fn image_of(store: &ImageStore, layers: &[&LayerRecord], tag: &str, names: &[&str]) -> Image {
        let cfg = ImageConfigurationBuilder::default()
            .created(format!("2024-01-0{}T00:00:00Z", layers.len()))
            .author(tag.to_string())
            .rootfs(
                RootFsBuilder::default()
                    .typ("layers")
                    .diff_ids(layers.iter().map(|l| l.diff_id.clone()).collect::<Vec<_>>())
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        store.create_image(&cfg, &names, None).unwrap()
    }

    fn count(dir: &Path) -> usize {
        fs::read_dir(dir).map(|r| r.count()).unwrap_or(0)
    }

    #[test]
    fn layers_are_shared_and_removed_with_the_last_image() {
        let t = tempfile::tempdir().unwrap();
        let s = ImageStore::at(t.path());
        let base = s.create_layer(&tar_with("a", "1")[..], "a.tar").unwrap();
        let again = s.create_layer(&tar_with("a", "1")[..], "a.tar").unwrap();
        assert_eq!(base.diff_id, again.diff_id);
        assert_eq!(count(&t.path().join("layers")), 1);
        let top = s.create_layer(&tar_with("b", "2")[..], "b.tar").unwrap();
        // The kept blob reproduces the diff_id.
        let blob = s.read_blob(&base.blob_digest).unwrap();
        assert_eq!(
            format!("sha256:{}", hex::encode(Sha256::digest(&blob))),
            base.diff_id
        );

        let one = image_of(&s, &[&base], "one", &["localhost/one:latest"]);
        let two = image_of(&s, &[&base, &top], "two", &["localhost/two:latest"]);
        let dirs = s.layer_dirs(&two).unwrap();
        assert_eq!(dirs.len(), 2);
        assert!(dirs[0].join("a").exists() && dirs[1].join("b").exists());
        assert_eq!(two.size, base.size + top.size);

        let gone = s.remove_image(&two.id).unwrap();
        assert_eq!(gone, vec![top.diff_id.clone()]);
        assert!(s.layer_dirs(&one).is_ok());
        s.remove_image(&one.id).unwrap();
        assert_eq!(count(&t.path().join("layers")), 0);
        assert_eq!(count(&t.path().join("images")), 0);
        // Blobs go with the last user.
        assert_eq!(count(&t.path().join("blobs/sha256")), 0);
    }

    #[test]
    fn failed_unpack_leaves_nothing_behind() {
        let t = tempfile::tempdir().unwrap();
        let s = ImageStore::at(t.path());
        let mut bad = tar_with("ok", "fine");
        bad.truncate(bad.len() - 1024); // drop the end blocks
        bad.extend(tar_with("x", "y")[..512].iter().map(|_| 0xffu8)); // a corrupt header
        assert!(s.create_layer(&bad[..], "bad.tar").is_err());
        assert_eq!(count(&t.path().join("layers")), 0);
        assert_eq!(count(&t.path().join("tmp")), 0);
        assert_eq!(count(&t.path().join("blobs/sha256")), 0);
    }

    #[test]
    fn stale_staging_is_cleaned_but_live_staging_is_kept() {
        let t = tempfile::tempdir().unwrap();
        let s = ImageStore::at(t.path());
        let tmp = t.path().join("tmp");
        fs::create_dir_all(tmp.join("dead/diff")).unwrap();
        fs::write(tmp.join("dead.lock"), "").unwrap();
        fs::create_dir_all(tmp.join("orphan")).unwrap();
        let live = s.stage().unwrap();
        s.put_blob_bytes(b"x").unwrap();
        assert!(!tmp.join("dead").exists() && !tmp.join("orphan").exists());
        assert!(live.dir.exists());
        drop(live);
        assert_eq!(count(&tmp), 0);
    }

    #[test]
    fn put_blob_verifies() {
        let t = tempfile::tempdir().unwrap();
        let s = ImageStore::at(t.path());
        let d = format!("sha256:{}", hex::encode(Sha256::digest(b"abc")));
        assert_eq!(s.put_blob(&b"abc"[..], Some(&d)).unwrap().0, d);
        let wrong = format!("sha256:{}", "0".repeat(64));
        let e = s.put_blob(&b"abd"[..], Some(&wrong)).unwrap_err();
        assert!(e.to_string().contains("digest mismatch"), "{e}");
        assert!(!s.has_blob(&wrong));
    }

    #[test]
    fn lookup_rules() {
        let t = tempfile::tempdir().unwrap();
        let s = ImageStore::at(t.path());
        let l = s.create_layer(&tar_with("a", "1")[..], "a.tar").unwrap();
        let local = image_of(&s, &[&l], "a", &["localhost/busybox:latest"]);
        let hub = image_of(&s, &[&l], "b", &["docker.io/library/alpine:3"]);
        let quay = image_of(&s, &[&l], "c", &["quay.io/x/tool:latest"]);
        let id = |k: &str| s.lookup(k).map(|i| i.id);
        assert_eq!(id("busybox").unwrap(), local.id);
        assert_eq!(id("busybox:latest").unwrap(), local.id);
        assert_eq!(id("localhost/busybox").unwrap(), local.id);
        assert_eq!(id("alpine:3").unwrap(), hub.id);
        assert_eq!(id("library/alpine:3").unwrap(), hub.id);
        assert_eq!(id("tool").unwrap(), quay.id);
        assert_eq!(id("x/tool").unwrap(), quay.id);
        assert_eq!(id(&local.id).unwrap(), local.id);
        assert_eq!(id(&format!("sha256:{}", hub.id)).unwrap(), hub.id);
        assert_eq!(id(&quay.id[..10]).unwrap(), quay.id);
        assert_eq!(
            id("alpine").unwrap_err().to_string(),
            "alpine: image not known"
        );
        assert_eq!(id("NOPE").unwrap_err().to_string(), "NOPE: image not known");
        // Names move: tagging another image with a held name takes it.
        s.add_names(&hub.id, &["localhost/busybox:latest".to_string()])
            .unwrap();
        assert_eq!(id("busybox").unwrap(), hub.id);
        assert!(s.load(&local.id).unwrap().names.is_empty());
        let (_, name) = s.resolve("busybox").unwrap();
        assert_eq!(name.as_deref(), Some("localhost/busybox:latest"));
    }

    #[test]
    fn pulled_image_keeps_its_config_bytes_and_compressed_blob() {
        use std::io::Write as _;
        let t = tempfile::tempdir().unwrap();
        let s = ImageStore::at(t.path());
        let tar = tar_with("etc/motd", "hi");
        let diff_id = format!("sha256:{}", hex::encode(Sha256::digest(&tar)));
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&tar).unwrap();
        let gz = gz.finish().unwrap();
        let blob = format!("sha256:{}", hex::encode(Sha256::digest(&gz)));
        s.put_blob(&gz[..], Some(&blob)).unwrap();
        let rec = s
            .create_layer_from_blob(&blob, Some(&diff_id), "layer 1/1")
            .unwrap();
        assert_eq!(rec.media_type, layer::Compression::Gzip.media_type());
        assert_eq!(rec.blob_digest, blob);
        // A wrong diff_id is refused and leaves nothing.
        let wrong = format!("sha256:{}", "1".repeat(64));
        assert!(s.create_layer_from_blob(&blob, Some(&wrong), "l").is_err());
        assert_eq!(count(&t.path().join("layers")), 1);

        // Registry configs are not in our canonical form: the id is the
        // digest of the bytes as they came.
        let cfg = format!(
            "{{ \"architecture\": \"amd64\", \"os\": \"linux\",\n \"rootfs\": {{\"type\": \"layers\", \"diff_ids\": [\"{diff_id}\"]}}, \"config\": {{\"Cmd\": [\"sh\"]}} }}"
        );
        let cd = s.put_blob_bytes(cfg.as_bytes()).unwrap();
        let md = s.put_blob_bytes(b"{}").unwrap();
        let img = s
            .create_image_from_config_blob(
                &cd,
                &["docker.io/library/motd:latest".to_string()],
                Some(md.clone()),
            )
            .unwrap();
        assert_eq!(format!("sha256:{}", img.id), cd);
        assert_eq!(s.lookup("motd").unwrap().id, img.id);
        assert_eq!(
            img.repo_digests(),
            vec![format!("docker.io/library/motd@{md}")]
        );
        assert_eq!(
            s.lookup(&format!("motd@{md}")).unwrap().id,
            img.id,
            "by digest"
        );
        let dirs = s.layer_dirs(&img).unwrap();
        assert_eq!(fs::read(dirs[0].join("etc/motd")).unwrap(), b"hi");
    }

    #[test]
    fn ambiguous_prefix_is_an_error() {
        let recs: Vec<ImageRecord> = ["abc1", "abc2"]
            .iter()
            .map(|p| ImageRecord {
                id: format!("{p}{}", "0".repeat(60)),
                names: vec![],
                created: Utc::now(),
                config_digest: String::new(),
                layers: vec![],
                manifest_digest: None,
                names_history: vec![],
            })
            .collect();
        let e = find(&recs, "abc").unwrap_err().to_string();
        assert!(e.contains("ambiguous") && e.starts_with("abc:"), "{e}");
        assert_eq!(find(&recs, "abc2").unwrap().id, recs[1].id);
    }
}
