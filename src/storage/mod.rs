//! Container root filesystems: kernel overlayfs, fuse-overlayfs or a plain copy (stub).

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Msg(String),
}
