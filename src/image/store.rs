//! The local image store (stub until the image store lands).

use std::path::PathBuf;

use oci_spec::image::ImageConfiguration;

use super::{Error, Result};
use crate::Context;

/// A stored image.
#[derive(Debug, Clone)]
pub struct Image {
    /// Full 64-hex image id (sha256 of the config blob).
    pub id: String,
    /// Fully qualified names (`localhost/busybox:latest`).
    pub names: Vec<String>,
    pub config: ImageConfiguration,
}

pub struct ImageStore {
    root: PathBuf,
}

impl ImageStore {
    pub fn new(ctx: &Context) -> Self {
        ImageStore {
            root: ctx.root.clone(),
        }
    }

    /// Finds an image by name (normalised), full id or unique id prefix.
    pub fn lookup(&self, name_or_id: &str) -> Result<Image> {
        let _ = &self.root;
        Err(Error::NotKnown(name_or_id.to_string()))
    }

    /// The unpacked layer directories of an image, lowest first.
    pub fn layer_dirs(&self, _image: &Image) -> Result<Vec<PathBuf>> {
        Ok(Vec::new())
    }
}
