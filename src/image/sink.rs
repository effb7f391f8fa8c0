//! Where `save` writes an image layout: the members of a tar stream
//! (docker-archive, oci-archive) or the files of a directory (oci-dir,
//! docker-dir). The formats name their members the same way in both.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// A destination for the members of a layout.
pub trait Sink {
    /// Adds the member `name` (a relative `/`-separated path) holding the
    /// `size` bytes read from `data`.
    fn add(&mut self, name: &str, size: u64, data: &mut dyn Read) -> Result<()>;
}

/// Adds `value` serialized as JSON as the member `name`.
pub fn add_json(sink: &mut dyn Sink, name: &str, value: &impl serde::Serialize) -> Result<()> {
    let data = serde_json::to_vec(value).map_err(|e| Error::msg(e.to_string()))?;
    sink.add(name, data.len() as u64, &mut &data[..])
}

/// A tar stream whose members carry fixed metadata (mode 0644, mtime 0):
/// the same images give the same bytes.
pub struct TarSink<'a>(tar::Builder<&'a mut dyn Write>);

impl<'a> TarSink<'a> {
    pub fn new(out: &'a mut dyn Write) -> Self {
        TarSink(tar::Builder::new(out))
    }

    /// Writes the end-of-archive blocks and flushes.
    pub fn finish(self) -> Result<()> {
        self.0
            .into_inner()
            .map_err(|e| {
                Error::msg(format!(
                    "writing the archive: {}",
                    crate::error::io_reason(&e)
                ))
            })?
            .flush()?;
        Ok(())
    }
}

impl Sink for TarSink<'_> {
    fn add(&mut self, name: &str, size: u64, data: &mut dyn Read) -> Result<()> {
        let mut h = tar::Header::new_ustar();
        h.set_size(size);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_entry_type(tar::EntryType::Regular);
        self.0
            .append_data(&mut h, name, data.take(size))
            .map_err(|e| Error::msg(format!("writing {name}: {}", crate::error::io_reason(&e))))
    }
}

/// The files of a directory, written first into a hidden directory beside
/// the target and renamed into place by [`DirSink::commit`]: a failed save
/// leaves nothing under the name asked for.
pub struct DirSink {
    tmp: PathBuf,
    target: PathBuf,
}

impl DirSink {
    /// Starts writing the directory `target`, which must not exist or be
    /// empty (Podman's dir destinations refuse to mix with other content).
    pub fn new(target: &Path) -> Result<DirSink> {
        if let Ok(mut rd) = fs::read_dir(target) {
            if rd.next().is_some() {
                return Err(Error::msg(format!(
                    "{}: directory is not empty: remove it or name another",
                    target.display()
                )));
            }
        } else if target.exists() {
            return Err(Error::msg(format!(
                "{}: exists and is not a directory",
                target.display()
            )));
        }
        let parent = target
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let fname = target.file_name().map(|f| f.to_string_lossy().into_owned());
        let tmp = parent.join(format!(
            ".{}.{}.tmp",
            fname.unwrap_or_default(),
            &crate::state::new_id()[..8]
        ));
        fs::create_dir(&tmp).map_err(|e| Error::msg(crate::error::io_msg("create", &tmp, &e)))?;
        Ok(DirSink {
            tmp,
            target: target.to_path_buf(),
        })
    }

    /// Syncs the files and puts the directory in place.
    pub fn commit(self) -> Result<()> {
        fs::File::open(&self.tmp)?.sync_all()?;
        // An empty target is replaced (rename(2) allows that for directories).
        fs::rename(&self.tmp, &self.target)
            .map_err(|e| Error::msg(crate::error::io_msg("rename", &self.target, &e)))
    }
}

impl Drop for DirSink {
    fn drop(&mut self) {
        // After commit the temporary name is gone and this does nothing.
        let _ = fs::remove_dir_all(&self.tmp);
    }
}

impl Sink for DirSink {
    fn add(&mut self, name: &str, size: u64, data: &mut dyn Read) -> Result<()> {
        let rel = crate::image::tar_index::clean_path(name)
            .ok_or_else(|| Error::msg(format!("invalid member name {name:?}")))?;
        let path = self.tmp.join(rel);
        if let Some(d) = path.parent() {
            fs::create_dir_all(d).map_err(|e| Error::msg(crate::error::io_msg("create", d, &e)))?;
        }
        let mut f = fs::File::create(&path)
            .map_err(|e| Error::msg(crate::error::io_msg("create", &path, &e)))?;
        let n = std::io::copy(&mut data.take(size), &mut f)
            .map_err(|e| Error::msg(crate::error::io_msg("write", &path, &e)))?;
        if n != size {
            return Err(Error::msg(format!(
                "{name}: short read ({n} of {size} bytes)"
            )));
        }
        f.sync_all()?;
        Ok(())
    }
}
