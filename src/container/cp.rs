//! `cp`: copy files between the host and a container's root filesystem, in
//! both directions, or as a tar stream with `-`. Every container-side path is
//! resolved inside the container root, so symlinks in the container can
//! never make a copy read or write outside it.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use super::{effective_status, start};
use crate::runtime::process::resolve_in_root;
use crate::state::container::{Container, Status};
use crate::{Context, Error, Result};

/// One side of `cp`: a host path, `-` (a tar stream), or `CONTAINER:PATH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Host(PathBuf),
    Stream,
    Container(String, String),
}

/// Parses a `cp` argument. `name:path` is a container path when `name` has
/// no slash (so `./a:b` and `/x:y` stay host paths).
pub fn parse_location(s: &str) -> Location {
    if s == "-" {
        return Location::Stream;
    }
    if let Some((name, path)) = s.split_once(':') {
        if !name.is_empty() && !name.contains('/') && !name.starts_with('.') {
            let path = if path.is_empty() { "/" } else { path };
            return Location::Container(name.to_string(), path.to_string());
        }
    }
    Location::Host(PathBuf::from(s))
}

/// The container-relative path, normalised and absolute.
fn clean(p: &str) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in Path::new(p).components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

/// A mounted container root, unmounted again on drop unless the container runs.
struct Root<'a> {
    ctx: &'a Context,
    c: &'a Container,
    path: PathBuf,
    unmount: bool,
}

impl<'a> Root<'a> {
    fn open(ctx: &'a Context, c: &'a Container) -> Result<Root<'a>> {
        let running = matches!(effective_status(c), Status::Running | Status::Paused);
        let path = start::mount_rootfs(ctx, c)?;
        Ok(Root {
            ctx,
            c,
            path,
            unmount: !running,
        })
    }

    /// Host path of a container path, symlinks resolved inside the root.
    fn resolve(&self, p: &Path) -> PathBuf {
        resolve_in_root(&self.path, p)
    }
}

impl Drop for Root<'_> {
    fn drop(&mut self) {
        if self.unmount {
            let _ = start::unmount_rootfs(self.ctx, self.c);
        }
    }
}

fn io<'a>(op: &str, p: &'a Path) -> impl FnOnce(std::io::Error) -> Error + 'a {
    let op = op.to_string();
    move |e| Error::msg(crate::error::io_msg(&op, p, &e))
}

/// Copies a host tree into the container at container path `dest`; each
/// entry is resolved again so a symlink already in the container is never
/// written through.
fn copy_in(src: &Path, root: &Root, dest: &Path) -> Result<()> {
    let meta = fs::symlink_metadata(src).map_err(io("stat", src))?;
    let target = root
        .resolve(dest.parent().unwrap_or(Path::new("/")))
        .join(dest.file_name().unwrap_or_default());
    if let Ok(existing) = fs::symlink_metadata(&target) {
        if existing.file_type().is_symlink() || (!existing.is_dir() && meta.is_dir()) {
            fs::remove_file(&target).map_err(io("remove", &target))?;
        }
    }
    if meta.file_type().is_symlink() {
        let link = fs::read_link(src).map_err(io("readlink", src))?;
        symlink(&link, &target).map_err(io("symlink", &target))?;
    } else if meta.is_dir() {
        if !target.is_dir() {
            fs::create_dir(&target).map_err(io("mkdir", &target))?;
        }
        fs::set_permissions(&target, meta.permissions()).map_err(io("chmod", &target))?;
        for e in fs::read_dir(src).map_err(io("read", src))? {
            let e = e?;
            copy_in(&e.path(), root, &dest.join(e.file_name()))?;
        }
    } else {
        fs::copy(src, &target).map_err(io("copy", &target))?;
        fs::set_permissions(
            &target,
            fs::Permissions::from_mode(meta.permissions().mode()),
        )
        .map_err(io("chmod", &target))?;
    }
    Ok(())
}

/// Copies a container tree (already resolved to host path `src`) to the host.
fn copy_out(src: &Path, dest: &Path) -> Result<()> {
    let meta = fs::symlink_metadata(src).map_err(io("stat", src))?;
    if meta.file_type().is_symlink() {
        let link = fs::read_link(src).map_err(io("readlink", src))?;
        let _ = fs::remove_file(dest);
        symlink(&link, dest).map_err(io("symlink", dest))?;
    } else if meta.is_dir() {
        if !dest.is_dir() {
            fs::create_dir(dest).map_err(io("mkdir", dest))?;
        }
        for e in fs::read_dir(src).map_err(io("read", src))? {
            let e = e?;
            copy_out(&e.path(), &dest.join(e.file_name()))?;
        }
    } else if meta.is_file() {
        fs::copy(src, dest).map_err(io("copy", dest))?;
    }
    Ok(())
}

fn base_name(p: &Path) -> Result<std::ffi::OsString> {
    p.file_name().map(|n| n.to_os_string()).ok_or_else(|| {
        Error::msg(format!(
            "{}: cannot copy a path without a name",
            p.display()
        ))
    })
}

/// `skiff cp SRC DEST`.
pub fn cp(ctx: &Context, src: &str, dest: &str) -> Result<()> {
    let store = super::store(ctx);
    match (parse_location(src), parse_location(dest)) {
        (Location::Host(h), Location::Container(name, path)) => {
            let c = store.lookup(&name)?;
            let root = Root::open(ctx, &c)?;
            fs::symlink_metadata(&h).map_err(io("stat", &h))?;
            let cpath = clean(&path);
            let into_dir = path.ends_with('/') || root.resolve(&cpath).is_dir();
            let target = if into_dir {
                cpath.join(base_name(&h)?)
            } else {
                cpath
            };
            if !root
                .resolve(target.parent().unwrap_or(Path::new("/")))
                .is_dir()
            {
                return Err(Error::msg(format!(
                    "{}:{}: no such directory in the container",
                    name,
                    target.parent().unwrap_or(Path::new("/")).display()
                )));
            }
            copy_in(&h, &root, &target)
        }
        (Location::Container(name, path), Location::Host(h)) => {
            let c = store.lookup(&name)?;
            let root = Root::open(ctx, &c)?;
            let cpath = clean(&path);
            let s = root.resolve(&cpath);
            if fs::symlink_metadata(&s).is_err() {
                return Err(Error::msg(format!(
                    "{name}:{path}: no such file or directory in the container"
                )));
            }
            let target = if h.is_dir() {
                h.join(base_name(&cpath).unwrap_or_else(|_| "root".into()))
            } else {
                h
            };
            copy_out(&s, &target)
        }
        (Location::Container(name, path), Location::Stream) => {
            let c = store.lookup(&name)?;
            let root = Root::open(ctx, &c)?;
            let cpath = clean(&path);
            let s = root.resolve(&cpath);
            let meta = fs::symlink_metadata(&s).map_err(|_| {
                Error::msg(format!(
                    "{name}:{path}: no such file or directory in the container"
                ))
            })?;
            let stdout = std::io::stdout();
            let mut b = tar::Builder::new(stdout.lock());
            b.follow_symlinks(false);
            let label = base_name(&cpath).unwrap_or_else(|_| ".".into());
            if meta.is_dir() {
                b.append_dir_all(&label, &s)?;
            } else {
                b.append_path_with_name(&s, &label)?;
            }
            b.into_inner()?.flush()?;
            Ok(())
        }
        (Location::Stream, Location::Container(name, path)) => {
            let c = store.lookup(&name)?;
            let root = Root::open(ctx, &c)?;
            let target = root.resolve(&clean(&path));
            if !target.is_dir() {
                return Err(Error::msg(format!(
                    "{name}:{path}: the destination of a tar stream must be a directory in the container"
                )));
            }
            let mut data = Vec::new();
            std::io::stdin().read_to_end(&mut data)?;
            crate::image::layer::unpack(&data[..], &target, "standard input", None)?;
            Ok(())
        }
        (Location::Container(..), Location::Container(..)) => Err(Error::msg(
            "copying between containers is not supported: copy to the host first",
        )),
        _ => Err(Error::msg(
            "one of the paths must be a container path: CONTAINER:PATH",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        assert_eq!(parse_location("-"), Location::Stream);
        assert_eq!(
            parse_location("web:/etc/passwd"),
            Location::Container("web".into(), "/etc/passwd".into())
        );
        assert_eq!(
            parse_location("web:"),
            Location::Container("web".into(), "/".into())
        );
        assert_eq!(parse_location("./a:b"), Location::Host("./a:b".into()));
        assert_eq!(parse_location("/x:y"), Location::Host("/x:y".into()));
        assert_eq!(parse_location("file"), Location::Host("file".into()));
    }

    #[test]
    fn clean_paths() {
        assert_eq!(clean("../../etc/x"), PathBuf::from("/etc/x"));
        assert_eq!(clean("tmp/"), PathBuf::from("/tmp"));
    }
}
