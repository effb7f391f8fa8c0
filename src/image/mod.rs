//! Images: references, the content-addressed store, layers and archives.

pub mod store;

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

pub type Result<T, E = Error> = std::result::Result<T, E>;
