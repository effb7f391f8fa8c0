//! The one place the build turns a working container into an image: a
//! layer from the container's changes (`image::commit`, which owns the
//! layer diff) on top of the stage's configuration, with the step's
//! history entry.

use oci_spec::image::ImageConfiguration;

use crate::image::Image;
use crate::state::container::Container;
use crate::{Context, Result};

/// Commits `c` as a new image whose configuration is `config` (the stage's,
/// history up to the previous step) plus one layer of the container's
/// changes, recorded in history as `created_by`. `docker` selects the
/// Docker v2s2 format, else OCI.
pub fn layer(
    ctx: &Context,
    c: &Container,
    config: &ImageConfiguration,
    created_by: &str,
    docker: bool,
) -> Result<Image> {
    let _ = (ctx, c, config, created_by, docker);
    Err(crate::Error::msg(
        "committing a layer needs image::commit (branch wave/commit), not merged yet",
    ))
}
