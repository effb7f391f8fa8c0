//! A container's secrets (`--secret`): found by `create`, which records
//! which secret goes where but never its data, and keeps a copy of each
//! secret's data in the container's directory (`secrets/`, 0600), so that,
//! as Podman documents, removing or replacing the secret later does not
//! change what the container gets. Each start hands them to the process: a
//! read-only file bound from a copy in `userdata/secrets/` with the uid,
//! gid and mode asked for, or an environment variable. Neither copy is in
//! the root filesystem, so `export` never holds the data.

use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use nix::sys::stat::{fchmod, Mode};
use nix::unistd::{fchown, Gid, Uid};
use oci_spec::runtime::Mount as SpecMount;

use crate::runtime::spec;
use crate::state::config::{SecretKind, SecretUse};
use crate::state::container::Container;
use crate::{Context, Error, Result};

/// Where a container's secret files are written, below its `userdata`.
const DIR: &str = "secrets";
/// Where `create` keeps the data of each secret use (file `<index>`), in
/// the container's directory.
const KEPT: &str = "secrets";

/// The data of each of `uses`' secrets, read when the container is
/// created (see `keep`). Errors: a secret removed since `resolve`.
pub fn read_data(ctx: &Context, uses: &[SecretUse]) -> Result<Vec<Vec<u8>>> {
    uses.iter()
        .map(|u| Ok(crate::secret::get_data(ctx, &u.id)?.1))
        .collect()
}

/// Writes `data` (from `read_data`) into the new container directory
/// `dir`: `secrets/` 0700, one 0600 file per secret use.
pub fn keep(dir: &Path, data: &[Vec<u8>]) -> std::io::Result<()> {
    if data.is_empty() {
        return Ok(());
    }
    let kept = dir.join(KEPT);
    std::fs::DirBuilder::new().mode(0o700).create(&kept)?;
    for (i, d) in data.iter().enumerate() {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(kept.join(i.to_string()))?
            .write_all(d)?;
    }
    Ok(())
}

/// Parses the `--secret` values and finds each secret (by name, id or
/// unique id prefix), recording its id and name. Errors, one line naming
/// the value or the secret: a malformed value, a secret that does not
/// exist, two secrets with the same target (file or variable).
pub fn resolve(ctx: &Context, specs: &[String]) -> Result<Vec<SecretUse>> {
    let mut out: Vec<SecretUse> = Vec::new();
    for s in specs {
        let mut u = SecretUse::parse(s)?;
        let found = crate::secret::get(ctx, &u.name)?;
        if let Some(other) = out
            .iter()
            .find(|o| o.kind == u.kind && o.target == u.target)
        {
            return Err(Error::msg(format!(
                "invalid --secret \"{s}\": {} is already the target of secret \"{}\"",
                u.target, other.name
            )));
        }
        u.id = found.id;
        u.name = found.name;
        out.push(u);
    }
    Ok(out)
}

/// Gives the container's secrets to the process about to be created:
/// each `Mount` secret is written to `<userdata>/secrets/` with its uid,
/// gid and mode (replacing what an earlier start wrote, so a replaced
/// secret's new data is seen) and bound read-only at its target; each
/// `Env` secret is set in `env`, replacing a variable of that name.
/// Runs where the container's ids are mapped (the supervisor, inside the
/// user namespace). Errors: the kept copy is gone, its data not fit for an
/// environment variable (a NUL byte), writing the file.
pub fn apply(
    ctx: &Context,
    c: &Container,
    userdata: &Path,
    mounts: &mut Vec<SpecMount>,
    env: &mut Vec<String>,
) -> Result<()> {
    if c.config.secrets.is_empty() {
        return Ok(());
    }
    let dir = userdata.join(DIR);
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::msg(crate::error::io_msg("remove", &dir, &e))),
    }
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(|e| Error::msg(crate::error::io_msg("create", &dir, &e)))?;
    for (i, u) in c.config.secrets.iter().enumerate() {
        let kept = ctx.container_dir(&c.id).join(KEPT).join(i.to_string());
        let data = std::fs::read(&kept).map_err(|e| {
            Error::msg(format!(
                "secret \"{}\" of container {}: {}",
                u.name,
                c.name,
                crate::error::io_msg("read", &kept, &e)
            ))
        })?;
        match u.kind {
            SecretKind::Env => {
                if data.contains(&0) {
                    return Err(Error::msg(format!(
                        "secret \"{}\": its data holds a NUL byte and cannot be the variable {}",
                        u.name, u.target
                    )));
                }
                let prefix = format!("{}=", u.target);
                env.retain(|e| !e.starts_with(&prefix));
                env.push(format!("{prefix}{}", String::from_utf8_lossy(&data)));
            }
            SecretKind::Mount => {
                let file = dir.join(format!("{}-{i}", u.id));
                write_copy(&file, &data, u).map_err(|e| {
                    Error::msg(format!(
                        "secret \"{}\": {}",
                        u.name,
                        crate::error::io_msg("write", &file, &e)
                    ))
                })?;
                mounts.push(spec::bind_mount(
                    &file.to_string_lossy(),
                    &u.target,
                    &[
                        "ro".into(),
                        "nosuid".into(),
                        "nodev".into(),
                        "noexec".into(),
                    ],
                ));
            }
        }
    }
    Ok(())
}

/// Writes a new file at `path` (0600 while it is written), then gives it
/// the secret's owner and mode.
fn write_copy(path: &Path, data: &[u8], u: &SecretUse) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(data)?;
    fchown(
        f.as_raw_fd(),
        Some(Uid::from_raw(u.uid)),
        Some(Gid::from_raw(u.gid)),
    )?;
    fchmod(f.as_raw_fd(), Mode::from_bits_truncate(u.mode))?;
    Ok(())
}

/// `Config.Secrets` of `inspect`, as Podman shows the mounted secrets:
/// name, id, owner and mode; never the data.
pub fn inspect_json(c: &Container) -> serde_json::Value {
    let mounted: Vec<serde_json::Value> = c
        .config
        .secrets
        .iter()
        .filter(|u| u.kind == SecretKind::Mount)
        .map(|u| {
            serde_json::json!({
                "Name": u.name,
                "ID": u.id,
                "UID": u.uid,
                "GID": u.gid,
                "Mode": u.mode,
            })
        })
        .collect();
    if mounted.is_empty() {
        serde_json::Value::Null
    } else {
        mounted.into()
    }
}
