//! docker-dir: the `dir:` layout of containers/image, which
//! `podman save --format docker-dir` writes and `podman load` reads: a
//! `version` file, one Docker schema 2 `manifest.json`, and each blob
//! (config and layers, as stored) in a file named by its hex digest. It
//! holds one image and records no name.

use super::oci_archive::{load_manifests, manifest_of, Entry};
use super::progress::Progress;
use super::sink::Sink;
use super::tar_index::TarIndex;
use super::{Image, ImageStore};
use crate::registry::manifest::{self as rm, ImageManifest};
use crate::registry::sha256_digest;
use crate::{Error, Result};

/// The `version` file's content, as containers/image writes it.
const VERSION: &[u8] = b"Directory Transport Version: 1.1\n";

/// Where the layout keeps the blob `digest`: its hex, no algorithm prefix.
fn blob_name(digest: &str) -> String {
    digest.strip_prefix("sha256:").unwrap_or(digest).to_string()
}

/// The Docker media type of a stored layer's OCI one; `None` for what
/// schema 2 cannot say (zstd).
fn docker_layer_type(oci: &str) -> Option<&'static str> {
    match oci {
        rm::OCI_LAYER_GZIP | rm::DOCKER_LAYER_GZIP => Some(rm::DOCKER_LAYER_GZIP),
        rm::OCI_LAYER | DOCKER_LAYER => Some(DOCKER_LAYER),
        _ => None,
    }
}

/// Docker's media type of an uncompressed layer.
const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar";

/// Writes `img` as a docker-dir. The manifest is Docker schema 2 (as
/// Podman's docker-dir) unless a layer is compressed in a way schema 2 has
/// no type for (zstd), which keeps the OCI manifest.
pub fn save(store: &ImageStore, img: &Image, b: &mut dyn Sink) -> Result<()> {
    let (oci, blobs) = manifest_of(store, img)?;
    let mut m: ImageManifest =
        serde_json::from_slice(&oci).map_err(|e| Error::msg(e.to_string()))?;
    if m.layers
        .iter()
        .all(|l| docker_layer_type(&l.media_type).is_some())
    {
        m.media_type = Some(rm::DOCKER_MANIFEST.into());
        m.config.media_type = rm::DOCKER_CONFIG.into();
        for l in &mut m.layers {
            if let Some(t) = docker_layer_type(&l.media_type) {
                l.media_type = t.into();
            }
        }
    }
    let manifest = serde_json::to_vec(&m).map_err(|e| Error::msg(e.to_string()))?;
    for (digest, size) in blobs {
        let path = store.blob_path(&digest)?;
        let mut f = std::fs::File::open(&path)
            .map_err(|e| Error::msg(crate::error::io_msg("open", &path, &e)))?;
        b.add(&blob_name(&digest), size, &mut f)?;
    }
    let config = store.read_blob(&img.config_digest)?;
    b.add(
        &blob_name(&img.config_digest),
        config.len() as u64,
        &mut &config[..],
    )?;
    b.add("manifest.json", manifest.len() as u64, &mut &manifest[..])?;
    b.add("version", VERSION.len() as u64, &mut &VERSION[..])
}

/// Whether `idx` holds a docker-dir: a `version` file beside a
/// `manifest.json` that is one manifest (a docker-archive's is a list).
pub fn is_docker_dir(idx: &TarIndex) -> bool {
    idx.contains("version")
        && idx
            .read("manifest.json")
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .is_some_and(|v| v.is_object())
}

/// Loads the image of a docker-dir (without a name: the layout has none).
pub fn load(
    store: &ImageStore,
    idx: &TarIndex,
    progress: &Progress,
) -> Result<Vec<(Image, Vec<String>)>> {
    let bytes = idx.read("manifest.json")?;
    let label = idx.label();
    let kind = rm::kind_of(&rm::detect_media_type(None, &bytes));
    if !matches!(kind, Some(rm::Kind::Image)) {
        return Err(Error::msg(format!(
            "{label}: manifest.json: not an image manifest (a manifest list in a dir layout is not supported)"
        )));
    }
    let entry = Entry {
        digest: sha256_digest(&bytes),
        bytes,
        name: None,
    };
    load_manifests(store, idx, vec![entry], blob_name, progress)
}
