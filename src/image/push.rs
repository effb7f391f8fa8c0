//! Pushing a stored image to a registry: layers compressed (gzip by
//! default, zstd on request) unless their stored blob already is, blobs the
//! registry has skipped, cross-repository mounts where another name of the
//! image lives on the same registry, then the config (byte for byte, so the
//! image id survives the round trip) and the manifest.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

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
    /// `--compression-level`: gzip 1-9 (default 5, as Podman), zstd 1-20 (default 3).
    pub compression_level: Option<u32>,
    /// `--format`: oci (default) or v2s2.
    pub format: Option<String>,
    pub quiet: bool,
}

/// Uncompressed bytes per independently compressed gzip member: big enough
/// for a good ratio, small enough to keep every core busy on one layer.
const GZIP_CHUNK: usize = 4 << 20;

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
    let client_opts = opts.registry.client_options()?;
    super::pull::check_blocked(&client_opts.registries_conf, &r)?;
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
    let level = compression_level(wanted, opts.compression_level)?;
    let client = crate::registry::Client::new(client_opts);
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
        level,
        force: opts.force_compression,
        docker,
        cache: &cache,
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
    level: u32,
    force: bool,
    docker: bool,
    cache: &'a BlobCache,
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

/// The level to compress at: Podman's defaults (gzip 5, zstd 3) unless asked.
fn compression_level(c: Compression, asked: Option<u32>) -> Result<u32> {
    let (default, max) = match c {
        Compression::Zstd => (3, 20),
        _ => (5, 9),
    };
    match asked {
        None => Ok(default),
        Some(l) if (1..=max).contains(&l) => Ok(l),
        Some(l) => Err(Error::msg(format!(
            "invalid --compression-level {l}: {} takes 1 to {max}",
            if c == Compression::Zstd {
                "zstd"
            } else {
                "gzip"
            }
        ))),
    }
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
    let cache_key = format!("{}|{:?}|{}", rec.diff_id, job.wanted, job.level);
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
            upload_stored(job, &path, &digest, size, &bp)?;
            return Ok(descriptor(digest, size));
        }
    }
    let (digest, size) = compress_and_upload(job, rec)?;
    job.cache.put(&cache_key, &digest, size);
    Ok(descriptor(digest, size))
}

/// Uploads a blob as it is stored.
fn upload_stored(
    job: &LayerJob,
    path: &Path,
    digest: &str,
    size: u64,
    bp: &super::progress::BlobProgress,
) -> Result<()> {
    let mut file =
        fs::File::open(path).map_err(|e| Error::msg(crate::error::io_msg("open", path, &e)))?;
    let mut reader = bp.reader(io::BufReader::with_capacity(1 << 20, &mut file));
    let how = job.client.push_blob(
        job.registry,
        job.repo,
        digest,
        Some(size),
        &mut reader,
        job.mount_from,
    )?;
    match how {
        Uploaded::Mounted => bp.skipped(),
        Uploaded::Uploaded => bp.done(),
    }
    Ok(())
}

/// Compresses a stored layer while it is uploaded: the registry stores the
/// first megabytes while the next are compressed, and nothing is written to
/// disk. The digest is known, and sent, once the last byte is. Returns the
/// digest and size of the compressed blob.
fn compress_and_upload(job: &LayerJob, rec: &LayerRecord) -> Result<(String, u64)> {
    let path = job.store.blob_path(&rec.blob_digest)?;
    let f =
        fs::File::open(&path).map_err(|e| Error::msg(crate::error::io_msg("open", &path, &e)))?;
    // Named by its content until the compressed digest exists.
    let bp = job.progress.blob("blob", &rec.diff_id, None);
    let (writer, reader) = super::pipe::pipe();
    let wanted = job.wanted;
    let level = job.level;
    std::thread::scope(|s| {
        let compressor = s.spawn(move || -> io::Result<()> {
            let (_, mut tar) = layer::decompress(io::BufReader::with_capacity(1 << 20, f))
                .map_err(|e| io::Error::other(e.to_string()))?;
            let mut out = writer;
            match wanted {
                Compression::Zstd => {
                    let mut enc = zstd::stream::write::Encoder::new(&mut out, level as i32)?;
                    io::copy(&mut tar, &mut enc)?;
                    enc.finish()?;
                }
                _ => parallel_gzip(tar, &mut out, level)?,
            }
            out.finish()?;
            Ok(())
        });
        let mut body = bp.reader(reader);
        let sent = job
            .client
            .push_blob_streamed(job.registry, job.repo, &rec.diff_id, &mut body);
        // Stops the compressor if the upload gave up half-way.
        drop(body);
        let compressed = compressor
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the compressing thread panicked")));
        match (compressed, sent) {
            (Ok(()), Ok(done)) => {
                bp.done();
                Ok(done)
            }
            // The upload failed first and the compressor lost its reader.
            (Err(e), Err(up)) if e.kind() == io::ErrorKind::BrokenPipe => Err(up.into()),
            (Err(e), _) => Err(Error::msg(format!(
                "compressing layer {}: {e}",
                rec.diff_id
            ))),
            (Ok(()), Err(up)) => Err(up.into()),
        }
    })
}

/// gzip with every core: the stream is cut into chunks compressed as
/// separate gzip members, which every gzip reader joins (RFC 1952 allows a
/// file of several members; Go's reader, used by registries and Docker,
/// reads them as one stream). The calling thread reads, one worker per core
/// compresses, and a writer puts the members out in order, so reading,
/// compressing and writing (uploading) all overlap. The output depends only
/// on the input and `level`, never on the number of cores.
pub fn parallel_gzip(
    mut input: impl Read,
    out: &mut (dyn Write + Send),
    level: u32,
) -> io::Result<()> {
    use std::sync::mpsc::sync_channel;
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .max(1);
    let compress = |chunk: &[u8]| -> io::Result<Vec<u8>> {
        let mut enc = flate2::write::GzEncoder::new(
            Vec::with_capacity(chunk.len() / 2),
            flate2::Compression::new(level),
        );
        enc.write_all(chunk)?;
        enc.finish()
    };
    let (work_tx, work_rx) = sync_channel::<(usize, Vec<u8>)>(workers);
    // Shared by the workers only: once they are all gone (the writer
    // failed), sending more work fails instead of blocking.
    let work_rx = std::sync::Arc::new(Mutex::new(work_rx));
    let (done_tx, done_rx) = sync_channel::<(usize, io::Result<Vec<u8>>)>(workers * 2);
    std::thread::scope(|s| {
        for _ in 0..workers {
            let done_tx = done_tx.clone();
            let work_rx = work_rx.clone();
            s.spawn(move || loop {
                let job = work_rx.lock().expect("poisoned").recv();
                let Ok((i, chunk)) = job else { return };
                if done_tx.send((i, compress(&chunk))).is_err() {
                    return;
                }
            });
        }
        drop(done_tx);
        drop(work_rx);
        let writer = s.spawn(move || -> io::Result<()> {
            let mut waiting = std::collections::BTreeMap::new();
            let mut next = 0;
            for (i, member) in done_rx {
                waiting.insert(i, member);
                while let Some(member) = waiting.remove(&next) {
                    out.write_all(&member?)?;
                    next += 1;
                }
            }
            Ok(())
        });
        let mut read = Ok(());
        for i in 0.. {
            let mut chunk = Vec::with_capacity(GZIP_CHUNK);
            if let Err(e) = (&mut input).take(GZIP_CHUNK as u64).read_to_end(&mut chunk) {
                read = Err(e);
                break;
            }
            // A closed queue means the writer failed: its error tells why.
            if chunk.is_empty() || work_tx.send((i, chunk)).is_err() {
                break;
            }
        }
        drop(work_tx);
        let written = writer
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("gzip writer panicked")));
        read.and(written)
    })
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
    fn put(&self, key: &str, digest: &str, size: u64) {
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
    fn compression_levels_default_as_podman_and_are_checked() {
        assert_eq!(compression_level(Compression::Gzip, None).unwrap(), 5);
        assert_eq!(compression_level(Compression::Zstd, None).unwrap(), 3);
        assert_eq!(compression_level(Compression::Zstd, Some(19)).unwrap(), 19);
        let e = compression_level(Compression::Gzip, Some(12)).unwrap_err();
        assert!(e.to_string().contains("gzip takes 1 to 9"), "{e}");
        assert!(compression_level(Compression::Gzip, Some(0)).is_err());
    }

    #[test]
    fn parallel_gzip_output_is_independent_of_timing() {
        // Chunks of very different cost finish out of order; the members
        // must still come out in input order.
        let mut data = vec![0u8; GZIP_CHUNK * 2];
        let mut x = 1u32;
        for b in data.iter_mut().skip(GZIP_CHUNK) {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            *b = (x >> 16) as u8;
        }
        data.extend_from_slice(b"tail");
        let mut a = Vec::new();
        parallel_gzip(&data[..], &mut a, 5).unwrap();
        let mut b = Vec::new();
        parallel_gzip(&data[..], &mut b, 5).unwrap();
        assert_eq!(a, b);
        let mut back = Vec::new();
        flate2::read::MultiGzDecoder::new(&a[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, data);
    }

    #[test]
    fn parallel_gzip_reports_a_failing_writer() {
        struct Broken;
        impl Write for Broken {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::new(io::ErrorKind::BrokenPipe, "gone"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let data = vec![7u8; GZIP_CHUNK * 6];
        let e = parallel_gzip(&data[..], &mut Broken, 1).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
    }

    #[test]
    fn parallel_gzip_round_trips() {
        let data: Vec<u8> = (0..(GZIP_CHUNK * 3 + 17))
            .map(|i| (i % 251) as u8)
            .collect();
        let mut out = Vec::new();
        parallel_gzip(&data[..], &mut out, 5).unwrap();
        let mut back = Vec::new();
        flate2::read::MultiGzDecoder::new(&out[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, data);
        let mut empty = Vec::new();
        parallel_gzip(&b""[..], &mut empty, 5).unwrap();
        assert!(empty.is_empty());
    }
}
