//! `system df`: what images, containers and local volumes take on disk,
//! and how much of it a prune would give back, as Podman reports them.
//! Sizes are counted as containers/storage counts them (`prune::disk_usage`:
//! apparent sizes of files and links, hard links once, directories not).

use std::collections::HashMap;

use crate::image::{Image, ImageStore};
use crate::state::container::{Container, Status};
use crate::volume::Volume;
use crate::{Context, Result};

/// One image: its size (every layer), the part of it shared with another
/// image, and how many containers use it.
pub struct ImageUsage {
    pub image: Image,
    pub size: u64,
    pub shared: u64,
    pub containers: usize,
}

/// One container: what it wrote (its upper directory; vfs: its whole root
/// filesystem) and how many volumes it mounts.
pub struct ContainerUsage {
    pub container: Container,
    pub size: u64,
    pub volumes: usize,
}

/// One local volume: the containers that use it (links) and its data's size.
pub struct VolumeUsage {
    pub volume: Volume,
    pub links: usize,
    pub size: u64,
}

/// Everything `system df` reports.
pub struct Usage {
    pub images: Vec<ImageUsage>,
    pub containers: Vec<ContainerUsage>,
    pub volumes: Vec<VolumeUsage>,
    /// Bytes of the distinct layers of all images, and of those no image
    /// in use by a container has (a prune of unused images frees them).
    image_size: u64,
    image_reclaimable: u64,
}

/// One row of the summary: Podman's `Type`, `Total`, `Active`, `RawSize`
/// and `RawReclaimable`.
pub struct Summary {
    pub kind: &'static str,
    pub total: usize,
    pub active: usize,
    pub size: u64,
    pub reclaimable: u64,
}

/// Measures the store. Runs in the user namespace, where every file of
/// the store can be read.
/// Bytes the container wrote to its own layer (Podman's `SizeRw`); 0 when
/// its storage driver is unknown.
pub fn rw_size(ctx: &Context, c: &Container) -> u64 {
    crate::storage::DriverKind::parse(&c.config.driver)
        .map(|k| {
            super::prune::disk_usage(&crate::storage::rw_dir(
                k,
                &super::start::storage_dir(ctx, &c.id),
            ))
        })
        .unwrap_or(0)
}

pub fn usage(ctx: &Context) -> Result<Usage> {
    let store = ImageStore::new(ctx);
    let containers = super::store(ctx).list()?;
    let mut users: HashMap<&str, usize> = HashMap::new();
    for c in &containers {
        *users.entry(c.config.image_id.as_str()).or_default() += 1;
    }
    let images = store.list()?;
    // Each layer's size and how many images have it.
    let mut layers: HashMap<&str, (u64, usize)> = HashMap::new();
    for img in &images {
        for l in &img.layers {
            let size = store.layer(l)?.map(|r| r.size).unwrap_or(0);
            layers.entry(l.as_str()).or_insert((size, 0)).1 += 1;
        }
    }
    let in_use: std::collections::HashSet<&str> = images
        .iter()
        .filter(|i| users.contains_key(i.id.as_str()))
        .flat_map(|i| i.layers.iter().map(String::as_str))
        .collect();
    let image_size = layers.values().map(|(s, _)| s).sum();
    let image_reclaimable = layers
        .iter()
        .filter(|(l, _)| !in_use.contains(*l))
        .map(|(_, (s, _))| s)
        .sum();
    let image_rows = images
        .iter()
        .map(|img| ImageUsage {
            size: img.size,
            shared: img
                .layers
                .iter()
                .filter_map(|l| layers.get(l.as_str()))
                .filter(|(_, n)| *n > 1)
                .map(|(s, _)| s)
                .sum(),
            containers: users.get(img.id.as_str()).copied().unwrap_or(0),
            image: img.clone(),
        })
        .collect();

    let volumes = crate::volume::list(ctx)?;
    let mut links: HashMap<String, usize> = HashMap::new();
    let mut container_rows = Vec::new();
    for c in &containers {
        let mut mounted = 0;
        for name in c.config.mounts.iter().filter_map(|m| m.volume_name()) {
            *links.entry(name).or_default() += 1;
            mounted += 1;
        }
        let size = rw_size(ctx, c);
        container_rows.push(ContainerUsage {
            container: c.clone(),
            size,
            volumes: mounted,
        });
    }
    let volume_rows = volumes
        .into_iter()
        .map(|v| VolumeUsage {
            links: links.get(&v.name).copied().unwrap_or(0),
            size: super::prune::disk_usage(&crate::volume::mountpoint(ctx, &v.name)),
            volume: v,
        })
        .collect();
    Ok(Usage {
        images: image_rows,
        containers: container_rows,
        volumes: volume_rows,
        image_size,
        image_reclaimable,
    })
}

impl Usage {
    /// The three summary rows, as `podman system df` prints them: images
    /// (active: used by a container), containers (active: running;
    /// reclaimable: what the others wrote), local volumes (active: used by
    /// a container; reclaimable: the data of the others).
    pub fn summary(&self) -> [Summary; 3] {
        let running = |c: &ContainerUsage| {
            matches!(
                super::effective_status(&c.container),
                Status::Running | Status::Paused
            )
        };
        [
            Summary {
                kind: "Images",
                total: self.images.len(),
                active: self.images.iter().filter(|i| i.containers > 0).count(),
                size: self.image_size,
                reclaimable: self.image_reclaimable,
            },
            Summary {
                kind: "Containers",
                total: self.containers.len(),
                active: self.containers.iter().filter(|c| running(c)).count(),
                size: self.containers.iter().map(|c| c.size).sum(),
                reclaimable: self
                    .containers
                    .iter()
                    .filter(|c| !running(c))
                    .map(|c| c.size)
                    .sum(),
            },
            Summary {
                kind: "Local Volumes",
                total: self.volumes.len(),
                active: self.volumes.iter().filter(|v| v.links > 0).count(),
                size: self.volumes.iter().map(|v| v.size).sum(),
                reclaimable: self
                    .volumes
                    .iter()
                    .filter(|v| v.links == 0)
                    .map(|v| v.size)
                    .sum(),
            },
        ]
    }
}

impl Summary {
    /// `RECLAIMABLE` as Podman prints it: `168MB (59%)`.
    pub fn reclaimable_text(&self) -> String {
        let percent = if self.size == 0 {
            0
        } else {
            (self.reclaimable as f64 * 100.0 / self.size as f64).round() as u64
        };
        format!(
            "{} ({percent}%)",
            crate::format::human_size_4(self.reclaimable)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reclaimable_has_a_rounded_percentage() {
        let s = |size, reclaimable| Summary {
            kind: "Images",
            total: 1,
            active: 0,
            size,
            reclaimable,
        };
        assert_eq!(s(0, 0).reclaimable_text(), "0B (0%)");
        assert_eq!(
            s(281_000_000, 168_000_000).reclaimable_text(),
            "168MB (60%)"
        );
        assert_eq!(s(3, 1).reclaimable_text(), "1B (33%)");
    }
}
