//! Images: references, the content-addressed store, layers and archives.

pub mod archive;
pub mod change;
pub mod commit;
pub mod docker_archive;
pub mod docker_dir;
pub mod layer;
pub mod oci_archive;
pub mod pipe;
pub mod progress;
pub mod pull;
pub mod push;
pub mod reference;
pub mod select;
pub mod sink;
pub mod store;
pub mod tar_index;

pub use reference::Reference;
pub use store::{Image, ImageStore};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `Error: localhost/busybox: image not known`
    #[error("{0}: image not known")]
    NotKnown(String),
    #[error("{0}")]
    Msg(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl From<crate::state::Error> for Error {
    fn from(e: crate::state::Error) -> Self {
        Error::Msg(e.to_string())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
