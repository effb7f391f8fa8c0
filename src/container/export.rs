//! `export`: a container's root filesystem as a tar archive.

use std::io::Write;
use std::path::Path;

use crate::state::container::{Container, Status};
use crate::{Context, Error, Result};

/// Writes the container's root filesystem as a tar archive to `output`, or
/// to stdout when None (as Podman's `export`). A file is written next to
/// its target and renamed into place, so a failure leaves no partial
/// archive. A stopped container's root filesystem is mounted for the time
/// of the export.
pub fn export(ctx: &Context, c: &Container, output: Option<&Path>) -> Result<()> {
    let running = super::effective_status(c) == Status::Running;
    let rootfs = super::start::mount_rootfs(ctx, c)?;
    let result = match output {
        Some(path) => {
            let tmp = path.with_extension("skiff-partial");
            let res = std::fs::File::create(&tmp)
                .map_err(|e| Error::msg(crate::error::io_msg("create", &tmp, &e)))
                .and_then(|f| {
                    let mut w = std::io::BufWriter::new(f);
                    crate::image::archive::write_tree(&rootfs, &mut w, false)?;
                    w.flush()?;
                    Ok(())
                })
                .and_then(|_| std::fs::rename(&tmp, path).map_err(Error::from));
            if res.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            res
        }
        None => {
            let stdout = std::io::stdout();
            let mut w = std::io::BufWriter::new(stdout.lock());
            crate::image::archive::write_tree(&rootfs, &mut w, false)
                .map_err(Error::from)
                .and_then(|_| w.flush().map_err(Error::from))
        }
    };
    if !running {
        let _ = super::start::unmount_rootfs(ctx, c);
    }
    result
}
