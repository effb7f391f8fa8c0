//! `skiff build`, `skiff image build` and `skiff buildx build`: podman
//! build's flags, the context (a directory, a tar archive, or `-` for a
//! Containerfile or an archive on standard input), and the output.

use std::io::Read;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use crate::build::executor::{self, Format, Request};
use crate::build::{plan, BuildOptions, Ignore};
use crate::image::reference::normalize_local_name;
use crate::{Context, Error, Result};

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Name (and tag) of the resulting image; repeatable
    #[arg(short = 't', long = "tag", value_name = "NAME")]
    pub tags: Vec<String>,
    /// Containerfile or Dockerfile to build (default: Containerfile, else
    /// Dockerfile, in the context); `-` reads it from standard input
    #[arg(short = 'f', long = "file", value_name = "PATHNAME")]
    pub file: Option<String>,
    /// ARG value for the build: NAME=VALUE, or NAME to take it from the environment
    #[arg(long = "build-arg", value_name = "ARG=VALUE")]
    pub build_args: Vec<String>,
    /// The stage to build (default: the last)
    #[arg(long, value_name = "STAGE")]
    pub target: Option<String>,
    /// Label to set on the image: KEY=VALUE; repeatable
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// Do not use cached steps: run every step again
    #[arg(long)]
    pub no_cache: bool,
    /// Use and keep the images of each step (default true, or false when
    /// BUILDAH_LAYERS is false or 0); false: no cache, and each stage's
    /// steps make one layer
    #[arg(long, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub layers: Option<bool>,
    /// Pull base images: always, missing, never or newer (--pull alone: always)
    #[arg(long, value_name = "POLICY", num_args = 0..=1, default_missing_value = "always", default_value = "missing")]
    pub pull: String,
    /// Write the image id to this file
    #[arg(long, value_name = "FILE")]
    pub iidfile: Option<PathBuf>,
    /// Print only the image id
    #[arg(short, long)]
    pub quiet: bool,
    /// `--tls-verify`, `--authfile`, `--creds`, `--cert-dir` for base images.
    #[command(flatten)]
    pub registry: crate::cli::registry::RegistryArgs,
    /// Image format: oci or docker
    #[arg(long, default_value = "oci", value_name = "FORMAT")]
    pub format: String,
    /// Network mode for RUN instructions (default: as `run`'s default)
    #[arg(long, value_name = "MODE")]
    pub network: Option<String>,
    /// A secret for RUN --mount=type=secret: id=ID,src=PATH
    #[arg(long = "secret", value_name = "id=ID,src=PATH")]
    pub secrets: Vec<String>,
    /// Squash the layers the build adds into one; the base image's stay
    #[arg(long)]
    pub squash: bool,
    /// Squash the result into one layer with one history entry
    #[arg(long)]
    pub squash_all: bool,
    /// Platform of the image, os/arch[/variant]: the host's only (sets the
    /// TARGET* args)
    #[arg(long, value_name = "OS/ARCH")]
    pub platform: Option<String>,
    /// Refused: skiff keeps its build cache in local storage only
    #[arg(long = "cache-from", value_name = "IMAGE", hide = true)]
    pub cache_from: Vec<String>,
    /// Refused: skiff keeps its build cache in local storage only
    #[arg(long = "cache-to", value_name = "IMAGE", hide = true)]
    pub cache_to: Vec<String>,
    /// Refused: skiff keeps its build cache until the images go
    #[arg(long = "cache-ttl", value_name = "DURATION", hide = true)]
    pub cache_ttl: Option<String>,
    /// Refused: no ssh agent forwarding into RUN
    #[arg(long = "ssh", value_name = "default|ID[=SOCKET|KEY]", hide = true)]
    pub ssh: Vec<String>,
    /// The context: a directory, a tar archive, or `-` (standard input)
    #[arg(value_name = "CONTEXT")]
    pub context: Option<String>,
}

/// `skiff buildx ...`: Docker's buildx front end, `build` only.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum BuildxCommand {
    /// Build an image from a Containerfile
    Build(Box<BuildArgs>),
}

/// A context directory this command made (from an archive or standard
/// input), removed when the build ends.
struct TempContext(Option<PathBuf>);

impl Drop for TempContext {
    fn drop(&mut self) {
        if let Some(p) = &self.0 {
            let _ = std::fs::remove_dir_all(p);
        }
    }
}

/// A private directory for a context unpacked from an archive. Not in the
/// image store's `tmp/`, whose staging sweep removes what it does not lock.
fn temp_dir(ctx: &Context) -> Result<PathBuf> {
    let parent = ctx.root.join("build-contexts");
    sweep_dead(&parent);
    let p = parent.join(std::process::id().to_string());
    let _ = std::fs::remove_dir_all(&p);
    std::fs::create_dir_all(&p).map_err(|e| Error::msg(crate::error::io_msg("mkdir", &p, &e)))?;
    Ok(p)
}

/// Removes what builds killed before their cleanup left in `dir`: entries
/// are named by the build's pid (`PID` or `PID-add`).
fn sweep_dead(dir: &Path) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let pid = name.split('-').next().and_then(|p| p.parse::<i32>().ok());
        // ESRCH only: a pid we may not signal is someone's, alive.
        let dead = pid.is_some_and(|p| {
            p > 0
                && nix::sys::signal::kill(nix::unistd::Pid::from_raw(p), None)
                    == Err(nix::errno::Errno::ESRCH)
        });
        if dead {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// Whether bytes start like a tar archive (plain, gzip or zstd).
fn looks_like_tar(data: &[u8]) -> bool {
    if data.starts_with(&[0x1f, 0x8b]) || data.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        return true;
    }
    data.len() >= 262 && &data[257..262] == b"ustar"
}

fn unpack_into(ctx: &Context, data: impl Read, label: &str) -> Result<TempContext> {
    let dir = temp_dir(ctx)?;
    let t = TempContext(Some(dir.clone()));
    crate::image::layer::unpack(data, &dir, label, None)?;
    Ok(t)
}

/// The most a Containerfile may hold (a file larger, `-f /dev/zero` or
/// `-f - </dev/zero`, is refused rather than read until memory runs out).
const CONTAINERFILE_MAX: u64 = crate::error::USER_FILE_MAX;

fn read_file(p: &Path) -> Result<String> {
    crate::error::read_bounded_text(p, CONTAINERFILE_MAX)
}

/// `--secret id=ID,src=PATH` as a map of ids to absolute paths (the id
/// defaults to the file's name).
fn secrets(specs: &[String]) -> Result<std::collections::BTreeMap<String, PathBuf>> {
    let mut out = std::collections::BTreeMap::new();
    for spec in specs {
        let bad = |why: &str| Error::msg(format!("invalid --secret {spec:?}: {why}"));
        let mut id = None;
        let mut src = None;
        for field in spec.split(',') {
            match field.split_once('=') {
                Some(("id", v)) => id = Some(v.to_string()),
                Some(("src" | "source", v)) => src = Some(PathBuf::from(v)),
                Some(("type", "file")) => {}
                _ => return Err(bad("expected id=ID,src=PATH")),
            }
        }
        let src = src.ok_or_else(|| bad("src=PATH is required"))?;
        let id = id
            .or_else(|| src.file_name().map(|n| n.to_string_lossy().into_owned()))
            .ok_or_else(|| bad("no id"))?;
        let path = std::fs::canonicalize(&src)
            .map_err(|e| Error::msg(crate::error::io_msg("secret", &src, &e)))?;
        out.insert(id, path);
    }
    Ok(out)
}

/// Whether steps are cached and kept (`--layers`): the flag when given,
/// else false only when `BUILDAH_LAYERS` is `false` (any case) or `0`, as
/// podman reads it.
fn use_layers(flag: Option<bool>, env: Option<&str>) -> bool {
    match (flag, env) {
        (Some(v), _) => v,
        (None, Some(e)) => !(e.eq_ignore_ascii_case("false") || e == "0"),
        (None, None) => true,
    }
}

/// Refuses the podman build flags skiff does not implement, rather than
/// accept and ignore them.
fn refuse_unsupported(a: &BuildArgs) -> Result<()> {
    let given = [
        ("--cache-from", !a.cache_from.is_empty()),
        ("--cache-to", !a.cache_to.is_empty()),
        ("--cache-ttl", a.cache_ttl.is_some()),
        ("--ssh", !a.ssh.is_empty()),
    ];
    if let Some((flag, _)) = given.iter().find(|(_, on)| *on) {
        let why = if flag.starts_with("--cache") {
            "the build cache is kept in local storage only"
        } else {
            "no ssh agent is forwarded into RUN"
        };
        return Err(Error::msg(format!("{flag} is not supported: {why}")));
    }
    if let Some(p) = &a.platform {
        if p.split(',').count() > 1 || !plan::is_host_platform(p) {
            return Err(Error::msg(plan::platform_unsupported(p)));
        }
    }
    Ok(())
}

/// `skiff build`.
pub fn build(ctx: &Context, a: BuildArgs) -> Result<i32> {
    refuse_unsupported(&a)?;
    if a.squash && (a.layers.is_some() || a.squash_all) {
        // Podman's one message for both conflicts.
        return Err(Error::msg(
            "cannot specify --squash with --layers and --squash-all with --squash",
        ));
    }
    let layers = use_layers(a.layers, std::env::var("BUILDAH_LAYERS").ok().as_deref());
    let format = match a.format.to_ascii_lowercase().as_str() {
        "oci" => Format::Oci,
        "docker" => Format::Docker,
        other => {
            return Err(Error::msg(format!(
                "unrecognized image type {other:?}: use oci or docker"
            )))
        }
    };
    let pull = match a.pull.as_str() {
        "true" => "always".to_string(),
        "false" => "missing".to_string(),
        "ifmissing" => "missing".to_string(),
        "ifnewer" => "newer".to_string(),
        p @ ("always" | "missing" | "never" | "newer") => p.to_string(),
        other => {
            return Err(Error::msg(format!(
                "invalid --pull {other:?}: use always, missing, never or newer"
            )))
        }
    };
    let mut tags = Vec::new();
    for t in &a.tags {
        tags.push(normalize_local_name(t)?);
    }
    let labels = crate::container::create::parse_labels(&a.labels)?
        .into_iter()
        .collect();

    // The context and the Containerfile.
    let mut stdin_file = None;
    let (context, _temp) = match a.context.as_deref().unwrap_or(".") {
        "-" => {
            // A context archive is streamed (it may be large); anything
            // else is a Containerfile, read with the files' bound.
            let mut stdin = std::io::stdin().lock();
            let mut head = Vec::with_capacity(512);
            (&mut stdin).take(512).read_to_end(&mut head).map_err(|e| {
                Error::msg(format!(
                    "read standard input: {}",
                    crate::error::io_reason(&e)
                ))
            })?;
            let input = head.as_slice().chain(stdin);
            if looks_like_tar(&head) {
                let t = unpack_into(ctx, input, "standard input")?;
                (t.0.clone().expect("made above"), t)
            } else {
                let data =
                    crate::error::read_bounded_from(input, "standard input", CONTAINERFILE_MAX)?;
                stdin_file = Some(String::from_utf8(data).map_err(|_| {
                    Error::msg("standard input: the Containerfile is not UTF-8 text")
                })?);
                let t = TempContext(Some(temp_dir(ctx)?));
                (t.0.clone().expect("made above"), t)
            }
        }
        path => {
            let p = PathBuf::from(path);
            let meta = std::fs::metadata(&p)
                .map_err(|e| Error::msg(crate::error::io_msg("stat context", &p, &e)))?;
            if meta.is_dir() {
                (p, TempContext(None))
            } else {
                // Streamed, not read whole: a context archive may be
                // large, and `/dev/zero` must not fill memory (its zero
                // blocks end the archive; the unpacker bounds what follows).
                let io = |op: &str, e: std::io::Error| Error::msg(crate::error::io_msg(op, &p, &e));
                let mut file = std::fs::File::open(&p).map_err(|e| io("open", e))?;
                let mut head = Vec::with_capacity(512);
                (&mut file)
                    .take(512)
                    .read_to_end(&mut head)
                    .map_err(|e| io("read", e))?;
                if !looks_like_tar(&head) {
                    return Err(Error::msg(format!(
                        "{path}: the context must be a directory or a tar archive"
                    )));
                }
                let t = unpack_into(ctx, head.as_slice().chain(file), path)?;
                (t.0.clone().expect("made above"), t)
            }
        }
    };
    let (file_name, text) = match (&a.file, stdin_file) {
        (Some(f), _) if f == "-" => (
            "Containerfile".to_string(),
            crate::error::read_bounded_text_from(
                std::io::stdin().lock(),
                "standard input",
                CONTAINERFILE_MAX,
            )?,
        ),
        (Some(f), _) => {
            let p = PathBuf::from(f);
            let p = if p.exists() || p.is_absolute() {
                p
            } else {
                context.join(&p)
            };
            (f.clone(), read_file(&p)?)
        }
        (None, Some(s)) => ("Containerfile".to_string(), s),
        (None, None) => {
            let found = ["Containerfile", "Dockerfile"]
                .iter()
                .map(|n| context.join(n))
                .find(|p| p.is_file());
            match found {
                Some(p) => (
                    p.file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                    read_file(&p)?,
                ),
                None => {
                    let abs = std::fs::canonicalize(&context).unwrap_or(context.clone());
                    return Err(Error::msg(format!(
                        "no Containerfile or Dockerfile specified or found in context directory, {}: no such file or directory",
                        abs.display()
                    )));
                }
            }
        }
    };
    let ignore = [".containerignore", ".dockerignore"]
        .iter()
        .map(|n| context.join(n))
        .find(|p| p.is_file());
    let ignore = match ignore {
        Some(p) => {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            Ignore::parse(&name, &read_file(&p)?)?
        }
        None => Ignore::default(),
    };
    let req = Request {
        file_name,
        text,
        context,
        ignore,
        options: BuildOptions {
            build_args: plan::build_args(&a.build_args, &|k| std::env::var(k).ok()),
            target: a.target.clone(),
            platform: a.platform.clone(),
        },
        tags,
        commit_name: a.tags.first().cloned(),
        labels,
        no_cache: a.no_cache,
        squash: a.squash || !layers,
        pull,
        registry: a.registry.flags(),
        quiet: a.quiet,
        format,
        network: a.network.clone(),
        squash_all: a.squash_all,
        secrets: secrets(&a.secrets)?,
    };
    let img = executor::build(ctx, &req)?;
    let name = img.names.first().map_or("", String::as_str);
    crate::events::Event::object(crate::events::Type::Image, "build", &img.id, name).record(ctx);
    if let Some(p) = &a.iidfile {
        std::fs::write(p, format!("sha256:{}", img.id))
            .map_err(|e| Error::msg(crate::error::io_msg("write", p, &e)))?;
    }
    println!("{}", img.id);
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_come_from_the_flag_else_buildah_layers() {
        assert!(use_layers(None, None));
        assert!(!use_layers(Some(false), Some("true")));
        assert!(use_layers(Some(true), Some("0")));
        for off in ["false", "FALSE", "0"] {
            assert!(!use_layers(None, Some(off)), "{off}");
        }
        for on in ["true", "1", "", "no"] {
            assert!(use_layers(None, Some(on)), "{on}");
        }
    }
}
