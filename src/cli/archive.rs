//! Archive commands: save and load (docker-archive and oci-archive, the
//! oci-dir and docker-dir layouts, and archives compressed with gzip, zstd
//! or xz).

use std::fs;
use std::io::{self, IsTerminal, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use clap::Args;

use crate::image::progress::Progress;
use crate::image::sink::{DirSink, TarSink};
use crate::image::tar_index::TarIndex;
use crate::image::{docker_archive, docker_dir, oci_archive, Image, ImageStore};
use crate::{Context, Error, Result};

#[derive(Debug, Args)]
pub struct SaveArgs {
    /// Write to a file, default is STDOUT
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Save image to docker-archive (default), oci-archive, oci-dir or docker-dir
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
    /// Read from the specified archive file, oci-dir or docker-dir directory, or http(s) URL (default: stdin)
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
    if a.multi_image_archive && a.images.len() > 1 && a.format != "docker-archive" {
        return Err(Error::msg(format!(
            "unsupported format {:?} for saving multiple images (only docker-archive)",
            a.format
        )));
    }
    // Without -m, Podman saves the first image only; the other arguments
    // are more names for it in a docker-archive, and ignored otherwise.
    let (keys, tags) = if a.multi_image_archive {
        (&a.images[..], Vec::new())
    } else {
        (&a.images[..1], additional_tags(&a.images[1..])?)
    };
    let store = ImageStore::new(ctx);
    let mut images: Vec<(Image, Vec<String>)> = Vec::new();
    for key in keys {
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
    if let Some((_, names)) = images.first_mut().filter(|_| a.format == "docker-archive") {
        // libimage lists the additional tags first, then the image's own name.
        let own = std::mem::replace(names, tags);
        for n in own {
            if !names.contains(&n) {
                names.push(n);
            }
        }
    }
    if !matches!(
        a.format.as_str(),
        "docker-archive" | "oci-archive" | "oci-dir" | "docker-dir"
    ) {
        return Err(Error::msg(format!(
            "unsupported save format {:?}: use docker-archive, oci-archive, oci-dir or docker-dir",
            a.format
        )));
    }
    if a.format.ends_with("-dir") {
        save_dir(&store, &a, &images)?;
    } else {
        save_archive(&store, &a, &images)?;
    }
    for (img, names) in &images {
        let name = names.first().map_or("", String::as_str);
        crate::events::Event::object(crate::events::Type::Image, "save", &img.id, name).record(ctx);
    }
    Ok(0)
}

/// `save IMAGE NAME...` without `-m`: the names as libimage normalizes
/// them (`extra` -> `localhost/extra:latest`); one that does not parse is
/// passed over and a digest without a tag refused, as Podman does.
fn additional_tags(names: &[String]) -> Result<Vec<String>> {
    let mut tags = Vec::new();
    for n in names {
        let Ok(r) = crate::image::reference::Reference::parse(n) else {
            continue;
        };
        let r = r.normalize_local();
        if r.tag.is_none() {
            return Err(Error::msg(format!(
                "invalid additional tag {n:?}: normalized to untagged {:?}",
                r.to_string()
            )));
        }
        let r = r.to_string();
        if !tags.contains(&r) {
            tags.push(r);
        }
    }
    Ok(tags)
}

/// `save` to a tar file or stdout (docker-archive, oci-archive).
fn save_archive(store: &ImageStore, a: &SaveArgs, images: &[(Image, Vec<String>)]) -> Result<()> {
    let write = |out: &mut dyn Write| -> Result<()> {
        let mut sink = TarSink::new(out);
        if a.format == "oci-archive" {
            oci_archive::save(store, images, &mut sink)?;
        } else {
            docker_archive::save(store, images, &mut sink)?;
        }
        sink.finish()
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
    Ok(())
}

/// `save` to a directory (oci-dir, docker-dir), which `-o` must name: it is
/// written whole or not at all.
fn save_dir(store: &ImageStore, a: &SaveArgs, images: &[(Image, Vec<String>)]) -> Result<()> {
    let Some(path) = &a.output else {
        return Err(Error::msg(format!(
            "--format {} writes a directory: name it with -o DIR",
            a.format
        )));
    };
    let mut sink = DirSink::new(path)?;
    if a.format == "oci-dir" {
        oci_archive::save(store, images, &mut sink)?;
    } else {
        let [(img, _)] = images else {
            return Err(Error::msg(
                "--format docker-dir holds one image: save the others separately or use oci-dir",
            ));
        };
        docker_dir::save(store, img, &mut sink)?;
    }
    sink.commit()
}

pub fn load(ctx: &Context, a: LoadArgs) -> Result<i32> {
    let store = ImageStore::new(ctx);
    let (file, label) = match &a.input {
        Some(p) if !is_url(p) && p.is_dir() => {
            let idx = TarIndex::dir(p, &p.display().to_string());
            return load_from(ctx, &store, &idx, a.quiet);
        }
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
    let file = decompressed(ctx, file, &label)?;
    let idx = TarIndex::new(file, &label).map_err(|e| unsupported(e.to_string()))?;
    load_from(ctx, &store, &idx, a.quiet)
}

/// Podman's words for input that is no image archive, which scripts grep.
fn unsupported(why: String) -> Error {
    Error::msg(format!(
        "payload does not match any of the supported image formats (oci-archive, docker-archive, oci-dir, docker-dir): {why}"
    ))
}

/// Loads the images of an archive or directory, and prints the names it
/// records for them (Podman: `Loaded image: NAME`, or the id of an image
/// the archive names not).
fn load_from(ctx: &Context, store: &ImageStore, idx: &TarIndex, quiet: bool) -> Result<i32> {
    let progress = Progress::new(quiet);
    let loaded = if docker_dir::is_docker_dir(idx) {
        docker_dir::load(store, idx, &progress)?
    } else if idx.contains("manifest.json") {
        docker_archive::load(store, idx, &progress)?
    } else if idx.contains("index.json") {
        oci_archive::load(store, idx, &progress)?
    } else {
        return Err(unsupported(format!(
            "{}: neither a docker-archive or docker-dir (manifest.json) nor an oci-archive or oci-dir (index.json)",
            idx.label()
        )));
    };
    for (img, names) in loaded {
        let name = names.first().map_or("", String::as_str);
        crate::events::Event::object(crate::events::Type::Image, "load", &img.id, name).record(ctx);
        if names.is_empty() {
            println!("Loaded image: sha256:{}", img.id);
        }
        for n in &names {
            println!("Loaded image: {n}");
        }
    }
    Ok(0)
}

/// `file` itself when it is a tar, or its content decompressed into a
/// spooled file when gzip, zstd or xz compressed it (Podman loads those
/// too): the archive's members are then read in any order.
fn decompressed(ctx: &Context, mut file: fs::File, label: &str) -> Result<fs::File> {
    let mut head = [0u8; 6];
    // A spooled file is positioned at its end.
    file.seek(SeekFrom::Start(0))?;
    let n = file.read(&mut head)?;
    file.seek(SeekFrom::Start(0))?;
    let head = &head[..n];
    let mut reader: Box<dyn Read> = if head.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::MultiGzDecoder::new(io::BufReader::new(file)))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Box::new(zstd::stream::read::Decoder::new(file)?)
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Box::new(liblzma::read::XzDecoder::new_multi_decoder(
            io::BufReader::new(file),
        ))
    } else if head.starts_with(b"BZh") {
        return Err(unsupported(format!(
            "{label}: bzip2-compressed archives are not supported: decompress it first"
        )));
    } else {
        return Ok(file);
    };
    spool(ctx, &mut reader, label)
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
