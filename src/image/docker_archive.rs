//! docker-archive: the tar `docker save` and `podman save` write
//! (`manifest.json`, `repositories`, `<config>.json`, uncompressed layer
//! tars), several images per archive; and loading it back, including the
//! OCI-layout flavour newer Docker versions write (the same manifest.json,
//! pointing into `blobs/sha256/`).

use std::collections::BTreeMap;
use std::io::{self, Read};

use serde::{Deserialize, Serialize};

use super::layer;
use super::progress::Progress;
use super::reference::Reference;
use super::sink::{add_json, Sink};
use super::store::{parse_config, LayerRecord};
use super::tar_index::TarIndex;
use super::{Image, ImageStore};
use crate::registry::sha256_digest;
use crate::{Error, Result};

#[derive(Debug, Serialize, Deserialize)]
struct ManifestEntry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers", default)]
    layers: Vec<String>,
}

fn hex(d: &str) -> &str {
    d.strip_prefix("sha256:").unwrap_or(d)
}

/// The uncompressed tar of a stored layer, exactly the bytes of its diff_id.
pub(crate) fn layer_tar(store: &ImageStore, rec: &LayerRecord) -> Result<Box<dyn Read>> {
    let path = store.blob_path(&rec.blob_digest)?;
    let f = std::fs::File::open(&path)
        .map_err(|e| Error::msg(crate::error::io_msg("open", &path, &e)))?;
    let (_, r) = layer::decompress(io::BufReader::with_capacity(1 << 20, f))?;
    Ok(r)
}

/// Writes `images` (with the names to record for each) as a docker-archive.
pub fn save(store: &ImageStore, images: &[(Image, Vec<String>)], b: &mut dyn Sink) -> Result<()> {
    let mut written: Vec<String> = Vec::new();
    let mut manifest = Vec::new();
    let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for (img, names) in images {
        let mut layers = Vec::new();
        for d in &img.layers {
            let name = format!("{}.tar", hex(d));
            if !written.contains(&name) {
                let rec = store.layer(d)?.ok_or_else(|| {
                    Error::msg(format!(
                        "{}: layer {d} is missing from the store",
                        img.short_id()
                    ))
                })?;
                let mut tar = layer_tar(store, &rec)?.take(rec.size);
                b.add(&name, rec.size, &mut tar)?;
                written.push(name.clone());
            }
            layers.push(name);
        }
        let config = store.read_blob(&img.config_digest)?;
        let cfg_name = format!("{}.json", hex(&img.config_digest));
        if !written.contains(&cfg_name) {
            b.add(&cfg_name, config.len() as u64, &mut &config[..])?;
            written.push(cfg_name.clone());
        }
        for n in names {
            if let Ok(r) = Reference::parse(n) {
                if let (Some(t), Some(last)) = (&r.tag, img.layers.last()) {
                    repositories
                        .entry(r.repository())
                        .or_default()
                        .insert(t.clone(), hex(last).to_string());
                }
            }
        }
        manifest.push(ManifestEntry {
            config: cfg_name,
            repo_tags: (!names.is_empty()).then(|| names.clone()),
            layers,
        });
    }
    add_json(b, "manifest.json", &manifest)?;
    add_json(b, "repositories", &repositories)
}

/// A name from `RepoTags` as the store keeps it (`busybox:latest` is Docker
/// Hub's, as `docker load` reads it).
fn normalize_tag(t: &str) -> Option<String> {
    Reference::parse(t)
        .ok()
        .filter(|r| r.digest.is_none())
        .map(|r| r.normalize_docker().to_string())
}

/// Loads every image of a docker-archive; returns each image with the
/// names the archive records for it (not the other names it may already
/// have in the store).
pub fn load(
    store: &ImageStore,
    idx: &TarIndex,
    progress: &Progress,
) -> Result<Vec<(Image, Vec<String>)>> {
    let label = idx.label().to_string();
    let entries: Vec<ManifestEntry> = serde_json::from_slice(&idx.read("manifest.json")?)
        .map_err(|e| Error::msg(format!("{label}: manifest.json: {e}")))?;
    if entries.is_empty() {
        return Err(Error::msg(format!("{label}: manifest.json lists no image")));
    }
    // Everything is checked before anything is stored.
    let mut plans = Vec::new();
    for e in &entries {
        idx.check(&e.config)?;
        for l in &e.layers {
            idx.check(l)?;
        }
        let config = idx.read(&e.config)?;
        let cfg = parse_config(&config)
            .map_err(|err| Error::msg(format!("{label}: {}: {err}", e.config)))?;
        let diff_ids = cfg.rootfs().diff_ids().clone();
        if diff_ids.len() != e.layers.len() {
            return Err(Error::msg(format!(
                "{label}: {} lists {} layers but its config {} diff_ids",
                e.config,
                e.layers.len(),
                diff_ids.len()
            )));
        }
        let mut names = Vec::new();
        for t in e.repo_tags.iter().flatten() {
            names.push(normalize_tag(t).ok_or_else(|| {
                Error::msg(format!(
                    "{label}: invalid image name {t:?} in manifest.json"
                ))
            })?);
        }
        plans.push((config, diff_ids, names, e));
    }
    let mut out = Vec::new();
    for (config, diff_ids, names, e) in plans {
        for (path, diff_id) in e.layers.iter().zip(&diff_ids) {
            let bp = progress.blob("blob", diff_id, None);
            if store.layer(diff_id)?.is_some() {
                bp.skipped();
                continue;
            }
            load_layer(store, idx, path, diff_id)?;
            bp.done();
        }
        let digest = sha256_digest(&config);
        store.put_blob(&config[..], Some(&digest))?;
        let img = store.create_image_from_config_blob(&digest, &names, None)?;
        out.push((img, names));
    }
    Ok(out)
}

/// Stores one layer member, committed only when it unpacks to `diff_id`.
fn load_layer(store: &ImageStore, idx: &TarIndex, path: &str, diff_id: &str) -> Result<()> {
    let label = format!("{}: {path}", idx.label());
    let mut head = [0u8; 4];
    let n = idx.open(path)?.read(&mut head)?;
    let compressed =
        head[..n].starts_with(&[0x1f, 0x8b]) || head[..n].starts_with(&[0x28, 0xb5, 0x2f, 0xfd]);
    let mut r = idx.open(path)?;
    if compressed {
        // Unusual in this format; the compressed digest is not known, so
        // the check comes after storing, and a mismatch removes nothing
        // an image uses.
        let rec = store.create_layer(&mut r, &label)?;
        if rec.diff_id != diff_id {
            return Err(Error::msg(format!(
                "{label}: layer diff_id mismatch: expected {diff_id}, got {}",
                rec.diff_id
            )));
        }
    } else {
        // An uncompressed layer's blob digest is its diff_id: verified
        // before commit.
        store.create_layer_streaming(&mut r, diff_id, Some(diff_id), &label)?;
    }
    Ok(())
}
