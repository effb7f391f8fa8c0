//! Archive commands: save and load (docker-archive and oci-archive).

use std::fs;
use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use clap::Args;

use crate::image::progress::Progress;
use crate::image::tar_index::TarIndex;
use crate::image::{docker_archive, oci_archive, Image, ImageStore};
use crate::{Context, Error, Result};

#[derive(Debug, Args)]
pub struct SaveArgs {
    /// Write to a file, default is STDOUT
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Save image to docker-archive (default) or oci-archive
    #[arg(long, default_value = "docker-archive")]
    pub format: String,
    /// Interpret additional arguments as images, not tags, to save in one archive
    #[arg(short, long)]
    pub multi_image_archive: bool,
    /// Suppress the output
    #[arg(short, long)]
    pub quiet: bool,
    /// Write layers uncompressed (docker-archive layers always are)
    #[arg(long)]
    pub uncompressed: bool,
    /// Images to save
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Read from the specified archive file or http(s) URL (default: stdin)
    #[arg(short, long)]
    pub input: Option<PathBuf>,
    /// Suppress the output
    #[arg(short, long)]
    pub quiet: bool,
}

pub fn save(ctx: &Context, a: SaveArgs) -> Result<i32> {
    if a.uncompressed && a.format != "docker-archive" {
        return Err(Error::msg(format!(
            "--uncompressed with --format {}: not supported: only docker-archive writes uncompressed layers",
            a.format
        )));
    }
    let store = ImageStore::new(ctx);
    let mut images: Vec<(Image, Vec<String>)> = Vec::new();
    for key in &a.images {
        let (img, matched) = store.resolve(key)?;
        // Saved by ID, an image carries no name (Podman): its load gives
        // <none>:<none>.
        let names: Vec<String> = matched.into_iter().collect();
        match images.iter_mut().find(|(i, _)| i.id == img.id) {
            Some((_, ns)) => {
                for n in names {
                    if !ns.contains(&n) {
                        ns.push(n);
                    }
                }
            }
            None => images.push((img, names)),
        }
    }
    let write = |out: &mut dyn Write| -> Result<()> {
        match a.format.as_str() {
            "docker-archive" => docker_archive::save(&store, &images, out),
            "oci-archive" => oci_archive::save(&store, &images, out),
            other => Err(Error::msg(format!(
                "unsupported save format {other:?}: use docker-archive or oci-archive"
            ))),
        }
    };
    match &a.output {
        None => {
            if io::stdout().is_terminal() {
                return Err(Error::msg(
                    "refusing to save to terminal: use -o or redirect stdout",
                ));
            }
            let mut out = io::BufWriter::with_capacity(1 << 20, io::stdout().lock());
            write(&mut out)?;
            out.flush()?;
        }
        Some(path) => {
            // Written beside the target and renamed: a failed save leaves
            // no half archive under the name asked for.
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let fname = path.file_name().map(|f| f.to_string_lossy().into_owned());
            let tmp = dir.join(format!(
                ".{}.{}.tmp",
                fname.unwrap_or_default(),
                &crate::state::new_id()[..8]
            ));
            let f = fs::File::create(&tmp)
                .map_err(|e| Error::msg(crate::error::io_msg("create", &tmp, &e)))?;
            let mut out = io::BufWriter::with_capacity(1 << 20, f);
            let r = write(&mut out).and_then(|_| {
                let f = out.into_inner().map_err(|e| Error::from(e.into_error()))?;
                f.sync_all()?;
                Ok(())
            });
            if let Err(e) = r {
                let _ = fs::remove_file(&tmp);
                return Err(e);
            }
            fs::rename(&tmp, path)
                .map_err(|e| Error::msg(crate::error::io_msg("rename", path, &e)))?;
        }
    }
    for (img, names) in &images {
        let name = names.first().map_or("", String::as_str);
        crate::events::Event::object(crate::events::Type::Image, "save", &img.id, name).record(ctx);
    }
    Ok(0)
}

pub fn load(ctx: &Context, a: LoadArgs) -> Result<i32> {
    let store = ImageStore::new(ctx);
    let (file, label) = match &a.input {
        Some(p) if is_url(p) => {
            let url = p.to_string_lossy().into_owned();
            (spool(ctx, &mut fetch(&url)?, &url)?, url)
        }
        Some(p) => (
            fs::File::open(p).map_err(|e| Error::msg(crate::error::io_msg("open", p, &e)))?,
            p.display().to_string(),
        ),
        None => {
            if io::stdin().is_terminal() {
                return Err(Error::msg(
                    "cannot read an archive from a terminal: use -i FILE or redirect stdin",
                ));
            }
            (
                spool(ctx, &mut io::stdin().lock(), "stdin")?,
                "stdin".to_string(),
            )
        }
    };
    // Podman's words for input that is no image archive, which scripts grep.
    let unsupported = |why: String| {
        Error::msg(format!(
            "payload does not match any of the supported image formats (oci-archive, docker-archive): {why}"
        ))
    };
    let idx = TarIndex::new(file, &label).map_err(|e| unsupported(e.to_string()))?;
    let progress = Progress::new(a.quiet);
    let loaded = if idx.contains("manifest.json") {
        docker_archive::load(&store, &idx, &progress)?
    } else if idx.contains("index.json") {
        oci_archive::load(&store, &idx, &progress)?
    } else {
        return Err(unsupported(format!(
            "{label}: neither a docker-archive (manifest.json) nor an oci-archive (index.json)"
        )));
    };
    for img in loaded {
        let name = img.names.first().map_or("", String::as_str);
        crate::events::Event::object(crate::events::Type::Image, "load", &img.id, name).record(ctx);
        if img.names.is_empty() {
            println!("Loaded image: sha256:{}", img.id);
        }
        for n in &img.names {
            println!("Loaded image: {n}");
        }
    }
    Ok(0)
}

/// Whether `load -i` names an archive to download rather than a file.
fn is_url(p: &Path) -> bool {
    let s = p.to_string_lossy();
    s.starts_with("http://") || s.starts_with("https://")
}

/// The body of `GET url`, for `load -i URL` (Podman downloads it).
fn fetch(url: &str) -> Result<impl Read> {
    let resp = ureq::get(url)
        .call()
        .map_err(|e| Error::msg(format!("downloading {url}: {e}")))?;
    Ok(resp.into_body().into_reader())
}

/// Copies `from` (stdin or a download, named `label`) into an unlinked
/// file below the store, so that the archive's members can be read in any
/// order.
fn spool(ctx: &Context, from: &mut impl Read, label: &str) -> Result<fs::File> {
    fs::create_dir_all(&ctx.root)?;
    let p = ctx
        .root
        .join(format!(".load-{}", &crate::state::new_id()[..16]));
    let mut f = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&p)
        .map_err(|e| Error::msg(crate::error::io_msg("create", &p, &e)))?;
    let _ = fs::remove_file(&p);
    io::copy(from, &mut f)
        .map_err(|e| Error::msg(format!("reading the archive from {label}: {e}")))?;
    Ok(f)
}
