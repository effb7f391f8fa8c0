//! Pushing a stored image to a registry: layers compressed (gzip by
//! default, zstd on request) unless their stored blob already is, blobs the
//! registry has skipped, cross-repository mounts where another name of the
//! image lives on the same registry, then the config (byte for byte, so the
//! image id survives the round trip) and the manifest.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use sha2::{Digest as _, Sha256};

use super::layer::{self, Compression};
use super::progress::Progress;
use super::pull::{jobs, split_reference, RegistryFlags};
use super::reference::Reference;
use super::store::LayerRecord;
use super::ImageStore;
use crate::registry::manifest::{self as rm, Descriptor, ImageManifest};
use crate::registry::{Client, Uploaded};
use crate::{Context, Error, Result};

/// What `skiff push` was asked for.
#[derive(Debug, Clone, Default)]
pub struct PushOptions {
    pub registry: RegistryFlags,
    /// `--compression-format`: gzip (default) or zstd.
    pub compression: Option<String>,
    /// Recompress layers already stored compressed in another format.
    pub force_compression: bool,
    /// `--format`: oci (default) or v2s2.
    pub format: Option<String>,
    pub quiet: bool,
}

/// Uncompressed bytes per independently compressed gzip member: big enough
/// for a good ratio, small enough to keep every core busy on one layer.
const GZIP_CHUNK: usize = 4 << 20;

/// A layer as it will be uploaded.
struct Prepared {
    digest: String,
    size: u64,
    media_type: String,
    /// Where the bytes come from: the stored blob, or a compressed copy.
    source: Source,
}

enum Source {
    Stored(PathBuf),
    Temp(fs::File),
}

/// Pushes `image` to `dest` (or to the image's own name); returns the
/// digest of the manifest pushed.
pub fn push(ctx: &Context, image: &str, dest: Option<&str>, opts: &PushOptions) -> Result<String> {
    let store = ImageStore::new(ctx);
    let img = store.lookup(image)?;
    let dest_name = dest.unwrap_or(image);
    let dest_name = dest_name.strip_prefix("docker://").unwrap_or(dest_name);
    let r = Reference::parse(dest_name)?;
    if r.digest.is_some() {
        return Err(Error::msg(format!(
            "{dest_name}: cannot push to a digest reference: use a tag"
        )));
    }
    let r = r.normalize_docker();
    let (registry, repo, tag) = split_reference(&r);
    let wanted = match opts.compression.as_deref() {
        None | Some("gzip") => Compression::Gzip,
        Some("zstd") | Some("zstd:chunked") => Compression::Zstd,
        Some(other) => {
            return Err(Error::msg(format!(
                "unsupported compression format {other:?}: use gzip or zstd"
            )))
        }
    };
    let docker = match opts.format.as_deref() {
        None | Some("oci") => false,
        Some("v2s2") | Some("docker") => true,
        Some(other) => {
            return Err(Error::msg(format!(
                "unsupported manifest format {other:?}: use oci or v2s2"
            )))
        }
    };
    if docker && wanted == Compression::Zstd {
        return Err(Error::msg(
            "zstd compression needs an oci manifest: drop --format v2s2",
        ));
    }
    let client = opts.registry.client()?;
    let progress = Progress::new(opts.quiet);
    let image_name = r.to_string();

    // Another repository of the same registry that has this image's blobs.
    let mount_from = img.names.iter().find_map(|n| {
        let nr = Reference::parse(n).ok()?;
        (nr.domain.as_deref() == Some(registry.as_str()) && nr.path != repo).then_some(nr.path)
    });

    progress.line("Getting image source signatures");
    let mut unique: Vec<LayerRecord> = Vec::new();
    for d in &img.layers {
        let rec = store.layer(d)?.ok_or_else(|| {
            Error::msg(format!(
                "{}: layer {d} is missing from the store",
                img.short_id()
            ))
        })?;
        if !unique.iter().any(|u| u.diff_id == rec.diff_id) {
            unique.push(rec);
        }
    }
    let cache = BlobCache::new(&ctx.root);
    let job = LayerJob {
        store: &store,
        client: &client,
        progress: &progress,
        registry: &registry,
        repo: &repo,
        mount_from: mount_from.as_deref(),
        wanted,
        force: opts.force_compression,
        docker,
        cache: &cache,
        tmp_dir: ctx.root.clone(),
    };
    let descriptors = push_layers(&job, &unique)?;
    let by_diff: HashMap<&str, &Descriptor> = unique
        .iter()
        .map(|u| u.diff_id.as_str())
        .zip(descriptors.iter())
        .collect();
    let layers: Vec<Descriptor> = img
        .layers
        .iter()
        .map(|d| by_diff[d.as_str()].clone())
        .collect();

    let config = store.read_blob(&img.config_digest)?;
    let cfg_progress = progress.blob("config", &img.config_digest, Some(config.len() as u64));
    if client
        .blob_exists(&registry, &repo, &img.config_digest)?
        .is_none()
    {
        client.push_blob(
            &registry,
            &repo,
            &img.config_digest,
            Some(config.len() as u64),
            &mut &config[..],
            None,
        )?;
    }
    cfg_progress.done();

    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(
            if docker {
                rm::DOCKER_MANIFEST
            } else {
                rm::OCI_MANIFEST
            }
            .into(),
        ),
        config: Descriptor {
            media_type: if docker {
                rm::DOCKER_CONFIG
            } else {
                rm::OCI_CONFIG
            }
            .into(),
            digest: img.config_digest.clone(),
            size: config.len() as u64,
            platform: None,
            urls: Vec::new(),
            annotations: Default::default(),
        },
        layers,
        annotations: Default::default(),
    };
    let bytes = serde_json::to_vec(&manifest)
        .map_err(|e| Error::msg(format!("{image_name}: manifest: {e}")))?;
    progress.line("Writing manifest to image destination");
    let media_type = manifest.media_type.clone().unwrap_or_default();
    let digest = client.put_manifest(&registry, &repo, &tag, &media_type, &bytes)?;
    // Keep the manifest so that `images --digests` shows what was pushed.
    let _ = store.put_blob_bytes(&bytes);
    Ok(digest)
}

struct LayerJob<'a> {
    store: &'a ImageStore,
    client: &'a Client,
    progress: &'a Progress,
    registry: &'a str,
    repo: &'a str,
    mount_from: Option<&'a str>,
    wanted: Compression,
    force: bool,
    docker: bool,
    cache: &'a BlobCache,
    tmp_dir: PathBuf,
}

/// Pushes the layers `jobs()` at a time; returns their descriptors in order.
fn push_layers(job: &LayerJob, layers: &[LayerRecord]) -> Result<Vec<Descriptor>> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let results: Mutex<Vec<Option<Result<Descriptor>>>> =
        Mutex::new((0..layers.len()).map(|_| None).collect());
    let threads = jobs().min(layers.len()).max(1);
    let worker = || loop {
        if failed.load(Ordering::SeqCst) {
            return;
        }
        let i = next.fetch_add(1, Ordering::SeqCst);
        let Some(rec) = layers.get(i) else { return };
        let r = push_layer(job, rec);
        if r.is_err() {
            failed.store(true, Ordering::SeqCst);
        }
        results.lock().expect("poisoned")[i] = Some(r);
    };
    std::thread::scope(|s| {
        for _ in 1..threads {
            s.spawn(worker);
        }
        worker();
    });
    let mut out = Vec::new();
    for r in results.into_inner().expect("poisoned") {
        match r {
            Some(Ok(d)) => out.push(d),
            Some(Err(e)) => return Err(e),
            None => return Err(Error::msg("push stopped after an earlier error")),
        }
    }
    Ok(out)
}

fn compression_of(media_type: &str) -> Compression {
    if media_type.ends_with("gzip") {
        Compression::Gzip
    } else if media_type.ends_with("zstd") {
        Compression::Zstd
    } else {
        Compression::None
    }
}

fn manifest_media_type(c: Compression, docker: bool) -> &'static str {
    match (c, docker) {
        (Compression::Gzip, true) => rm::DOCKER_LAYER_GZIP,
        (Compression::None, true) => "application/vnd.docker.image.rootfs.diff.tar",
        (c, _) => c.media_type(),
    }
}

fn push_layer(job: &LayerJob, rec: &LayerRecord) -> Result<Descriptor> {
    let stored = compression_of(&rec.media_type);
    let reuse = stored != Compression::None
        && (stored == job.wanted || !job.force)
        && !(job.docker && stored == Compression::Zstd);
    let cache_key = format!("{}|{:?}", rec.diff_id, job.wanted);
    let (digest, size, compression) = if reuse {
        (rec.blob_digest.clone(), rec.blob_size, stored)
    } else if let Some((d, s)) = job.cache.get(&cache_key) {
        (d, s, job.wanted)
    } else {
        (String::new(), 0, job.wanted)
    };
    let descriptor = |digest: String, size: u64| Descriptor {
        media_type: manifest_media_type(compression, job.docker).into(),
        digest,
        size,
        platform: None,
        urls: Vec::new(),
        annotations: Default::default(),
    };
    // What the registry already has needs neither compressing nor sending.
    if !digest.is_empty() {
        let bp = job.progress.blob("blob", &digest, Some(size));
        if job
            .client
            .blob_exists(job.registry, job.repo, &digest)?
            .is_some()
        {
            bp.skipped();
            return Ok(descriptor(digest, size));
        }
        if reuse {
            let path = job.store.blob_path(&digest)?;
            let prepared = Prepared {
                digest,
                size,
                media_type: String::new(),
                source: Source::Stored(path),
            };
            upload(job, &prepared, &bp)?;
            return Ok(descriptor(prepared.digest, prepared.size));
        }
    }
    let prepared = compress_layer(job, rec)?;
    job.cache
        .put(&cache_key, &prepared.digest, prepared.size, &job.tmp_dir);
    let bp = job
        .progress
        .blob("blob", &prepared.digest, Some(prepared.size));
    if job
        .client
        .blob_exists(job.registry, job.repo, &prepared.digest)?
        .is_some()
    {
        bp.skipped();
    } else {
        upload(job, &prepared, &bp)?;
    }
    let _ = &prepared.media_type;
    Ok(descriptor(prepared.digest, prepared.size))
}

fn upload(job: &LayerJob, p: &Prepared, bp: &super::progress::BlobProgress) -> Result<()> {
    let mut file = match &p.source {
        Source::Stored(path) => {
            fs::File::open(path).map_err(|e| Error::msg(crate::error::io_msg("open", path, &e)))?
        }
        Source::Temp(f) => {
            let mut f = f.try_clone()?;
            f.seek(SeekFrom::Start(0))?;
            f
        }
    };
    let mut reader = bp.reader(io::BufReader::with_capacity(1 << 20, &mut file));
    let how = job.client.push_blob(
        job.registry,
        job.repo,
        &p.digest,
        Some(p.size),
        &mut reader,
        job.mount_from,
    )?;
    match how {
        Uploaded::Mounted => bp.skipped(),
        Uploaded::Uploaded => bp.done(),
    }
    Ok(())
}

/// Compresses a stored layer into an unlinked temporary file, hashing it.
fn compress_layer(job: &LayerJob, rec: &LayerRecord) -> Result<Prepared> {
    let path = job.store.blob_path(&rec.blob_digest)?;
    let f =
        fs::File::open(&path).map_err(|e| Error::msg(crate::error::io_msg("open", &path, &e)))?;
    let (_, tar) = layer::decompress(io::BufReader::with_capacity(1 << 20, f))?;
    let tmp = temp_file(&job.tmp_dir)?;
    let mut out = HashingWriter {
        inner: io::BufWriter::with_capacity(1 << 20, tmp.try_clone()?),
        hash: Sha256::new(),
        count: 0,
    };
    match job.wanted {
        Compression::Zstd => {
            let mut enc = zstd::stream::write::Encoder::new(&mut out, 3)?;
            let mut tar = tar;
            io::copy(&mut tar, &mut enc)?;
            enc.finish()?;
        }
        _ => parallel_gzip(tar, &mut out)?,
    }
    out.inner.flush()?;
    let digest = format!("sha256:{}", hex::encode(out.hash.clone().finalize()));
    Ok(Prepared {
        digest,
        size: out.count,
        media_type: job.wanted.media_type().into(),
        source: Source::Temp(tmp),
    })
}

/// A file in `dir` that is unlinked as soon as it is open, so that a crash
/// leaves nothing to clean.
fn temp_file(dir: &Path) -> Result<fs::File> {
    let p = dir.join(format!(".push-{}", &crate::state::new_id()[..16]));
    let f = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&p)
        .map_err(|e| Error::msg(crate::error::io_msg("create", &p, &e)))?;
    let _ = fs::remove_file(&p);
    Ok(f)
}

/// gzip with every core: the stream is cut into chunks compressed as
/// separate gzip members, which every gzip reader joins (RFC 1952 allows a
/// file of several members; Go's reader, used by registries and Docker,
/// reads them as one stream).
pub fn parallel_gzip(mut input: impl Read, out: &mut dyn Write) -> io::Result<()> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .max(1);
    loop {
        let mut chunks = Vec::with_capacity(threads);
        for _ in 0..threads {
            let mut buf = Vec::with_capacity(GZIP_CHUNK);
            (&mut input).take(GZIP_CHUNK as u64).read_to_end(&mut buf)?;
            if buf.is_empty() {
                break;
            }
            chunks.push(buf);
        }
        if chunks.is_empty() {
            return Ok(());
        }
        let last = chunks.len() < threads || chunks.last().is_some_and(|c| c.len() < GZIP_CHUNK);
        let compressed: Vec<io::Result<Vec<u8>>> = std::thread::scope(|s| {
            let handles: Vec<_> = chunks
                .iter()
                .map(|c| {
                    s.spawn(move || {
                        let mut enc = flate2::write::GzEncoder::new(
                            Vec::with_capacity(c.len() / 2),
                            flate2::Compression::default(),
                        );
                        enc.write_all(c)?;
                        enc.finish()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(io::Error::other("gzip thread panicked")))
                })
                .collect()
        });
        for c in compressed {
            out.write_all(&c?)?;
        }
        if last {
            return Ok(());
        }
    }
}

struct HashingWriter<W> {
    inner: W,
    hash: Sha256,
    count: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Remembers the compressed digest of each (diff_id, compression) pushed,
/// so that pushing again finds what the registry has without compressing.
struct BlobCache {
    path: PathBuf,
    lock: Mutex<()>,
}

impl BlobCache {
    fn new(root: &Path) -> BlobCache {
        BlobCache {
            path: root.join("blob-info-cache.json"),
            lock: Mutex::new(()),
        }
    }

    fn read(&self) -> HashMap<String, (String, u64)> {
        fs::read(&self.path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    fn get(&self, key: &str) -> Option<(String, u64)> {
        self.read().remove(key)
    }

    /// Best effort: a lost entry only costs a compression next time.
    fn put(&self, key: &str, digest: &str, size: u64, _dir: &Path) {
        let _g = self.lock.lock();
        let mut m = self.read();
        m.insert(key.to_string(), (digest.to_string(), size));
        let _ = crate::state::write_json(&self.path, &m);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_gzip_round_trips() {
        let data: Vec<u8> = (0..(GZIP_CHUNK * 3 + 17))
            .map(|i| (i % 251) as u8)
            .collect();
        let mut out = Vec::new();
        parallel_gzip(&data[..], &mut out).unwrap();
        let mut back = Vec::new();
        flate2::read::MultiGzDecoder::new(&out[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, data);
        let mut empty = Vec::new();
        parallel_gzip(&b""[..], &mut empty).unwrap();
        assert!(empty.is_empty());
    }
}
