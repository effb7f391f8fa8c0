//! The one place the build turns a working container into an image: a
//! layer from the container's changes (`image::commit`, which owns the
//! layer diff) on top of the stage's configuration, with the step's
//! history entry.

use oci_spec::image::ImageConfiguration;

use crate::image::commit::{commit, CommitOptions, ManifestFormat, Squash};
use crate::image::Image;
use crate::state::container::Container;
use crate::{Context, Result};

/// Commits `c` as a new image whose configuration is `config` (the stage's,
/// history up to the previous step) plus one layer of the container's
/// changes, recorded in history as `created_by`. `docker` selects the
/// Docker v2s2 format, else OCI. `squash`: how the layers are laid out
/// (`--squash-all`: one layer of the whole root file system and only this
/// history entry; `--squash`: one layer over the base image's). `comment`
/// is the history entry's.
pub fn layer(
    ctx: &Context,
    c: &Container,
    config: &ImageConfiguration,
    created_by: &str,
    docker: bool,
    squash: Squash,
    comment: Option<String>,
) -> Result<Image> {
    let opts = CommitOptions {
        squash,
        message: comment,
        author: config.author().clone(),
        created_by: Some(created_by.to_string()),
        config: Some(config.clone()),
        format: if docker {
            ManifestFormat::Docker
        } else {
            ManifestFormat::Oci
        },
        quiet: true,
        ..Default::default()
    };
    commit(ctx, &c.id, &opts)
}
