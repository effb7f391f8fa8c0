//! A container's secrets (`--secret`): found by `create`, which records
//! which secret goes where but never its data, and handed to the process
//! at every start, as Podman does: a read-only file bound from a copy in
//! the container's `userdata/secrets/` (outside its root filesystem, so
//! `export` never holds the data), or an environment variable.

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
/// user namespace). Errors: a secret removed since `create`, its data not
/// fit for an environment variable (a NUL byte), writing the copy.
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
        let data = match crate::secret::get_data(ctx, &u.id) {
            Ok((_, data)) => data,
            Err(crate::secret::Error::NotFound(_)) => {
                return Err(Error::msg(format!(
                    "secret \"{}\" of container {} no longer exists: no such secret",
                    u.name, c.name
                )))
            }
            Err(e) => return Err(e.into()),
        };
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
