//! `commit` and `diff` (also `container commit`, `container diff`, `image
//! diff`): a new image from a container's changes, and the changes listed.

use clap::Args;
use serde::Serialize;

use crate::container;
use crate::image::commit::{CommitOptions, ManifestFormat};
use crate::image::ImageStore;
use crate::storage::diff::{self, Change, ChangeKind};
use crate::{Context, Error, Result};

#[derive(Debug, Args)]
pub struct CommitArgs {
    /// Set the author for the image committed
    #[arg(short, long)]
    pub author: Option<String>,
    /// Apply the following possible instructions to the created image (default []): CMD | ENTRYPOINT | ENV | EXPOSE | LABEL | STOPSIGNAL | USER | VOLUME | WORKDIR
    #[arg(short, long = "change")]
    pub change: Vec<String>,
    /// Format of the image manifest and metadata
    #[arg(short, long, default_value = "oci")]
    pub format: String,
    /// Write the image ID to the file
    #[arg(long)]
    pub iidfile: Option<std::path::PathBuf>,
    /// Include container volumes as image volumes
    #[arg(long)]
    pub include_volumes: bool,
    /// Set commit message for imported image
    #[arg(short, long)]
    pub message: Option<String>,
    /// Pause container during commit
    #[arg(short, long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub pause: bool,
    /// Suppress output
    #[arg(short, long)]
    pub quiet: bool,
    /// Squash the image's layers and the changes into one layer
    #[arg(short, long)]
    pub squash: bool,
    pub container: String,
    /// Name of the new image
    pub image: Option<String>,
}

/// `commit`: prints Podman's progress lines on stderr (unless `-q`) and the
/// new image's id on stdout.
pub fn commit(ctx: &Context, a: CommitArgs) -> Result<i32> {
    let opts = CommitOptions {
        names: a.image.into_iter().collect(),
        author: a.author,
        message: a.message,
        changes: a.change,
        pause: a.pause,
        format: ManifestFormat::parse(&a.format)?,
        quiet: a.quiet,
        squash: if a.squash {
            crate::image::commit::Squash::All
        } else {
            crate::image::commit::Squash::No
        },
        include_volumes: a.include_volumes,
        ..CommitOptions::default()
    };
    let image = crate::image::commit::commit(ctx, &a.container, &opts)?;
    if let Ok(c) = crate::container::lookup(ctx, &a.container) {
        crate::events::Event::container(&c, "commit").record(ctx);
    }
    if let Some(p) = &a.iidfile {
        std::fs::write(p, format!("sha256:{}", image.id))
            .map_err(|e| Error::msg(crate::error::io_msg("write", p, &e)))?;
    }
    println!("{}", image.id);
    Ok(0)
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// Change the output format: json
    #[arg(long)]
    pub format: Option<String>,
    /// A container or an image
    pub name: String,
}

/// Which objects a `diff` may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiffOf {
    /// `diff`: a container, else an image (Podman's order).
    Either,
    Container,
    Image,
}

/// Podman's `diff --format json` shape; empty lists are left out.
#[derive(Serialize, Default)]
struct Report {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    changed: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    added: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    deleted: Vec<String>,
}

/// `diff`: `A /path`, `C /path`, `D /path` lines, or JSON.
pub fn diff(ctx: &Context, a: DiffArgs, of: DiffOf) -> Result<i32> {
    let json = match a.format.as_deref() {
        None => false,
        Some("json") => true,
        Some(f) => return Err(Error::msg(format!("unsupported --format {f:?}: use json"))),
    };
    let changes = changes_of(ctx, &a.name, of)?;
    if json {
        let mut r = Report::default();
        for c in changes {
            match c.kind {
                ChangeKind::Modified => r.changed.push(c.path),
                ChangeKind::Added => r.added.push(c.path),
                ChangeKind::Deleted => r.deleted.push(c.path),
            }
        }
        println!(
            "{}",
            serde_json::to_string_pretty(&r).map_err(|e| Error::msg(e.to_string()))?
        );
    } else {
        for c in changes {
            println!("{c}");
        }
    }
    Ok(0)
}

fn changes_of(ctx: &Context, name: &str, of: DiffOf) -> Result<Vec<Change>> {
    if of != DiffOf::Image {
        match container::lookup(ctx, name) {
            Ok(c) => return Ok(diff::changes(ctx, &c)?),
            Err(e) if of == DiffOf::Container => return Err(e),
            Err(_) => {}
        }
    }
    let store = ImageStore::new(ctx);
    let image = match store.lookup(name) {
        Ok(i) => i,
        Err(crate::image::Error::NotKnown(_)) if of == DiffOf::Either => {
            return Err(Error::msg(format!("{name}: no such container or image")))
        }
        Err(e) => return Err(e.into()),
    };
    Ok(diff::layer_changes(&store.layer_dirs(&image)?)?)
}
