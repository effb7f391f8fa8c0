//! oci-archive: an OCI image layout (`oci-layout`, `index.json`,
//! `blobs/sha256/`) in a tar, the format `podman save --format oci-archive`
//! and skopeo write. Layers are kept as stored (compressed when pulled), so
//! saving costs no recompression and every blob is checked by digest on load.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::progress::Progress;
use super::reference::Reference;
use super::sink::{add_json, Sink};
use super::store::parse_config;
use super::tar_index::TarIndex;
use super::{Image, ImageStore};
use crate::registry::manifest::{self as rm, Descriptor, ImageManifest, ManifestList, Platform};
use crate::registry::sha256_digest;
use crate::{Error, Result};

/// The annotation OCI layouts name images with.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
/// The full name containerd and Docker add beside it.
pub const CONTAINERD_NAME: &str = "io.containerd.image.name";

#[derive(Serialize, Deserialize)]
struct Index {
    #[serde(rename = "schemaVersion")]
    schema_version: u32,
    #[serde(rename = "mediaType", default, skip_serializing_if = "Option::is_none")]
    media_type: Option<String>,
    manifests: Vec<Descriptor>,
}

/// Where an OCI layout keeps the blob `digest`.
pub(crate) fn blob_name(digest: &str) -> String {
    format!(
        "blobs/sha256/{}",
        digest.strip_prefix("sha256:").unwrap_or(digest)
    )
}

/// A manifest's bytes, and the (digest, size) of the layer blobs it names.
type ManifestBlobs = (Vec<u8>, Vec<(String, u64)>);

/// The OCI manifest of a stored image, pointing at its stored blobs.
pub(crate) fn manifest_of(store: &ImageStore, img: &Image) -> Result<ManifestBlobs> {
    let config = store.read_blob(&img.config_digest)?;
    let mut layers = Vec::new();
    let mut blobs = Vec::new();
    for d in &img.layers {
        let rec = store.layer(d)?.ok_or_else(|| {
            Error::msg(format!(
                "{}: layer {d} is missing from the store",
                img.short_id()
            ))
        })?;
        layers.push(Descriptor {
            media_type: rec.media_type.clone(),
            digest: rec.blob_digest.clone(),
            size: rec.blob_size,
            platform: None,
            urls: Vec::new(),
            annotations: Default::default(),
        });
        blobs.push((rec.blob_digest.clone(), rec.blob_size));
    }
    let m = ImageManifest {
        schema_version: 2,
        media_type: Some(rm::OCI_MANIFEST.into()),
        config: Descriptor {
            media_type: rm::OCI_CONFIG.into(),
            digest: img.config_digest.clone(),
            size: config.len() as u64,
            platform: None,
            urls: Vec::new(),
            annotations: Default::default(),
        },
        layers,
        annotations: Default::default(),
    };
    let bytes = serde_json::to_vec(&m).map_err(|e| Error::msg(e.to_string()))?;
    Ok((bytes, blobs))
}

/// Writes `images` (each with the names to record) as an oci-archive.
/// The same layout, unpacked into a directory, is an oci-dir.
pub fn save(store: &ImageStore, images: &[(Image, Vec<String>)], b: &mut dyn Sink) -> Result<()> {
    let layout = br#"{"imageLayoutVersion":"1.0.0"}"#;
    b.add("oci-layout", layout.len() as u64, &mut &layout[..])?;
    let mut written: Vec<String> = Vec::new();
    let mut index = Index {
        schema_version: 2,
        media_type: Some(rm::OCI_INDEX.into()),
        manifests: Vec::new(),
    };
    for (img, names) in images {
        let (manifest, blobs) = manifest_of(store, img)?;
        for (digest, size) in blobs {
            let name = blob_name(&digest);
            if written.contains(&name) {
                continue;
            }
            let path = store.blob_path(&digest)?;
            let mut f = std::fs::File::open(&path)
                .map_err(|e| Error::msg(crate::error::io_msg("open", &path, &e)))?;
            b.add(&name, size, &mut f)?;
            written.push(name);
        }
        let config = store.read_blob(&img.config_digest)?;
        for (digest, data) in [
            (img.config_digest.clone(), config),
            (sha256_digest(&manifest), manifest.clone()),
        ] {
            let name = blob_name(&digest);
            if !written.contains(&name) {
                b.add(&name, data.len() as u64, &mut &data[..])?;
                written.push(name);
            }
        }
        let desc = |name: Option<&String>| {
            let mut annotations = BTreeMap::new();
            if let Some(n) = name {
                annotations.insert(REF_NAME.to_string(), n.clone());
                annotations.insert(CONTAINERD_NAME.to_string(), n.clone());
            }
            Descriptor {
                media_type: rm::OCI_MANIFEST.into(),
                digest: sha256_digest(&manifest),
                size: manifest.len() as u64,
                platform: Some(Platform::new(
                    img.config.os().to_string().as_str(),
                    img.config.architecture().to_string().as_str(),
                    img.config.variant().as_deref(),
                )),
                urls: Vec::new(),
                annotations,
            }
        };
        if names.is_empty() {
            index.manifests.push(desc(None));
        }
        for n in names {
            index.manifests.push(desc(Some(n)));
        }
    }
    add_json(b, "index.json", &index)
}

/// Reads a blob of the layout whole (found by `blob_name`), checking its digest.
fn read_blob(idx: &TarIndex, digest: &str, blob_name: fn(&str) -> String) -> Result<Vec<u8>> {
    if !super::reference::valid_digest(digest) {
        return Err(Error::msg(format!(
            "{}: invalid digest {digest:?}",
            idx.label()
        )));
    }
    let data = idx.read(&blob_name(digest))?;
    let got = sha256_digest(&data);
    if got != digest {
        return Err(Error::msg(format!(
            "{}: blob digest mismatch: expected {digest}, got {got}",
            idx.label()
        )));
    }
    Ok(data)
}

/// The name an index entry gives its image, if a usable one.
fn name_of(d: &Descriptor) -> Option<String> {
    let n = d
        .annotations
        .get(CONTAINERD_NAME)
        .or_else(|| d.annotations.get(REF_NAME))?;
    let r = Reference::parse(n).ok()?;
    // A bare tag (`latest`) is how some tools name the one image of a
    // layout; it names no repository.
    if r.is_short()
        && !n.contains('/')
        && !n.contains(':')
        && !d.annotations.contains_key(CONTAINERD_NAME)
    {
        return None;
    }
    (r.digest.is_none()).then(|| r.normalize_docker().to_string())
}

/// One image of a layout to load: its manifest (bytes and digest) and the
/// name the layout gives it.
pub(crate) struct Entry {
    pub bytes: Vec<u8>,
    pub digest: String,
    pub name: Option<String>,
}

/// Loads every image an oci-archive's (or oci-dir's) index names; returns
/// each image with the names the index records for it (not the other names
/// it may already have in the store).
pub fn load(
    store: &ImageStore,
    idx: &TarIndex,
    progress: &Progress,
) -> Result<Vec<(Image, Vec<String>)>> {
    let label = idx.label().to_string();
    let index: Index = serde_json::from_slice(&idx.read("index.json")?)
        .map_err(|e| Error::msg(format!("{label}: index.json: {e}")))?;
    let mut entries = Vec::new();
    for d in &index.manifests {
        let mut digest = d.digest.clone();
        let mut bytes = read_blob(idx, &digest, blob_name)?;
        if matches!(rm::kind_of(&d.media_type), Some(rm::Kind::List)) {
            let list: ManifestList = serde_json::from_slice(&bytes)
                .map_err(|e| Error::msg(format!("{label}: {digest}: {e}")))?;
            let host = Platform::host();
            let chosen = list.select(&host).map_err(|avail| {
                Error::msg(format!("{label}: no image for {host} (available: {avail})"))
            })?;
            digest = chosen.digest.clone();
            bytes = read_blob(idx, &digest, blob_name)?;
        }
        entries.push(Entry {
            bytes,
            digest,
            name: name_of(d),
        });
    }
    load_manifests(store, idx, entries, blob_name, progress)
}

/// Stores the images of `entries` (several entries of one manifest are
/// several names of one image), reading their blobs from `idx` where
/// `blob_name` says they are. Every blob is checked before anything is
/// stored.
pub(crate) fn load_manifests(
    store: &ImageStore,
    idx: &TarIndex,
    entries: Vec<Entry>,
    blob_name: fn(&str) -> String,
    progress: &Progress,
) -> Result<Vec<(Image, Vec<String>)>> {
    let label = idx.label().to_string();
    let mut plans: Vec<(ImageManifest, Vec<String>, Vec<String>)> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for e in entries {
        if let Some(pos) = seen.iter().position(|s| *s == e.digest) {
            plans[pos].1.extend(e.name);
            continue;
        }
        let m: ImageManifest = serde_json::from_slice(&e.bytes)
            .map_err(|err| Error::msg(format!("{label}: manifest {}: {err}", e.digest)))?;
        idx.check(&blob_name(&m.config.digest))?;
        for l in &m.layers {
            idx.check(&blob_name(&l.digest))?;
        }
        let cfg = parse_config(&read_blob(idx, &m.config.digest, blob_name)?)
            .map_err(|err| Error::msg(format!("{label}: config {}: {err}", m.config.digest)))?;
        let diff_ids = cfg.rootfs().diff_ids().clone();
        if diff_ids.len() != m.layers.len() {
            return Err(Error::msg(format!(
                "{label}: manifest {} lists {} layers but its config {} diff_ids",
                e.digest,
                m.layers.len(),
                diff_ids.len()
            )));
        }
        seen.push(e.digest);
        plans.push((m, e.name.into_iter().collect(), diff_ids));
    }
    if plans.is_empty() {
        return Err(Error::msg(format!("{label}: the layout lists no image")));
    }
    let mut out = Vec::new();
    for (m, names, diff_ids) in plans {
        for (l, diff_id) in m.layers.iter().zip(&diff_ids) {
            let bp = progress.blob("blob", &l.digest, Some(l.size));
            if store.layer(diff_id)?.is_some() {
                bp.skipped();
                continue;
            }
            let mut r = idx.open(&blob_name(&l.digest))?;
            let what = format!("{label}: {}", blob_name(&l.digest));
            store.create_layer_streaming(&mut r, &l.digest, Some(diff_id), &what)?;
            bp.done();
        }
        let config = read_blob(idx, &m.config.digest, blob_name)?;
        store.put_blob(&config[..], Some(&m.config.digest))?;
        let img = store.create_image_from_config_blob(&m.config.digest, &names, None)?;
        out.push((img, names));
    }
    Ok(out)
}
