//! `auto-update`: containers that systemd units made and that are labelled
//! `io.containers.autoupdate=registry|local` get the newest image of their
//! name and their unit restarted; when the restart fails, the old image
//! takes the name back and the unit is restarted again (`--rollback`).

use crate::image::pull::{registry_is_newer, PullOptions};
use crate::image::reference::Reference;
use crate::image::ImageStore;
use crate::state::container::Container;
use crate::{Context, Error, Result};

/// The label that asks for updates, and its values (Podman's; `image` is
/// the older name of `registry`).
pub const LABEL: &str = "io.containers.autoupdate";

/// The label `create` sets from the caller's `PODMAN_SYSTEMD_UNIT`.
pub const UNIT_LABEL: &str = super::unit::UNIT_ENV;

/// One container's outcome, as Podman's report: `Updated` is `pending`
/// (dry run, newer image), `true`, `false`, `rolled back` or `failed`.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Report {
    pub unit: String,
    /// `ID12 (name)`.
    pub container: String,
    #[serde(rename = "ContainerID")]
    pub container_id: String,
    pub container_name: String,
    pub image: String,
    pub policy: String,
    pub updated: String,
}

/// The policy a container asks for: `registry` or `local`; None when it
/// has no (or an unknown) label or was not made by a unit.
fn policy(c: &Container) -> Option<(&'static str, String)> {
    let p = match c.config.labels.get(LABEL)?.as_str() {
        "registry" | "image" => "registry",
        "local" => "local",
        _ => return None,
    };
    let unit = c.config.labels.get(UNIT_LABEL)?.clone();
    Some((p, unit))
}

/// The image name the container was created from, as the user gave it
/// (Podman's `RawImageName`): the name to update, not the image's first
/// name, which may be another one (`localhost/x` pushed to a registry and
/// pulled from it again is one image with two names).
fn raw_name(c: &Container) -> &str {
    if c.config.raw_image_name.is_empty() {
        &c.config.image_name
    } else {
        &c.config.raw_image_name
    }
}

/// The normalised name to pull and to tag back on rollback. Errors, as
/// Podman's: a short name under the registry policy (no registry to ask).
fn update_name(c: &Container, policy: &str) -> Result<String> {
    let raw = raw_name(c);
    let r = Reference::parse(raw)?;
    if policy == "registry" {
        if r.is_short() {
            return Err(Error::msg(format!(
                "auto-updates require fully-qualified image reference: \"{raw}\" (container {})",
                c.name
            )));
        }
        Ok(r.normalize_docker().to_string())
    } else {
        Ok(r.normalize_local().to_string())
    }
}

/// Whether a newer image is available for `c` under `policy`: under
/// `local`, the image its name has now is another; under `registry`, the
/// registry's manifest for its name is not the one it was pulled as.
fn newer(ctx: &Context, c: &Container, policy: &str, opts: &PullOptions) -> Result<bool> {
    let store = ImageStore::new(ctx);
    let name = update_name(c, policy)?;
    match policy {
        "local" => Ok(store
            .lookup(&name)
            .map(|img| img.id != c.config.image_id)
            .unwrap_or(false)),
        _ => {
            let img = store.lookup(&c.config.image_id)?;
            registry_is_newer(&img, &name, opts)
        }
    }
}

/// `systemctl [--user] restart UNIT`: the user's manager for a rootless
/// store, the system's for real root. Decided by the context (the uid the
/// CLI started as), not by `getuid()`: `auto-update` runs inside the
/// store's user namespace, where every rootless user reads as uid 0.
fn restart_command(ctx: &Context, unit: &str) -> std::process::Command {
    let mut cmd = std::process::Command::new("systemctl");
    if ctx.rootless {
        cmd.arg("--user");
    }
    cmd.args(["restart", unit]);
    cmd
}

/// Restarts a unit through the user's (or, as root, the system's) manager.
fn restart_unit(ctx: &Context, unit: &str) -> Result<()> {
    let out = restart_command(ctx, unit)
        .output()
        .map_err(|e| Error::msg(format!("running systemctl: {e}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(Error::msg(format!(
            "restarting unit {unit}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// Checks (and unless `dry_run`, updates) every labelled container; the
/// reports in container order, and the errors met (one per container).
pub fn auto_update(
    ctx: &Context,
    dry_run: bool,
    rollback: bool,
) -> Result<(Vec<Report>, Vec<Error>)> {
    let opts = PullOptions {
        quiet: true,
        ..Default::default()
    };
    let mut reports = Vec::new();
    let mut errors = Vec::new();
    for c in crate::container::list(ctx)? {
        let Some((policy, unit)) = policy(&c) else {
            continue;
        };
        let mut r = Report {
            unit: unit.clone(),
            container: format!("{} ({})", &c.id[..12], c.name),
            container_id: c.id.clone(),
            container_name: c.name.clone(),
            image: raw_name(&c).to_string(),
            policy: policy.into(),
            updated: "false".into(),
        };
        let found = newer(ctx, &c, policy, &opts);
        match found {
            Err(e) => {
                r.updated = "failed".into();
                errors.push(e);
            }
            Ok(false) => {}
            Ok(true) if dry_run => r.updated = "pending".into(),
            Ok(true) => match update(ctx, &c, policy, &unit, &opts, rollback) {
                Ok(state) => r.updated = state.into(),
                Err(e) => {
                    r.updated = "failed".into();
                    errors.push(e);
                }
            },
        }
        reports.push(r);
    }
    Ok((reports, errors))
}

/// Pulls (registry) and restarts the unit; on a failed restart with
/// `rollback`, gives the old image its name back and restarts again
/// (Podman's `auto-update --rollback`: "rolled back" when that restart
/// succeeds).
fn update(
    ctx: &Context,
    c: &Container,
    policy: &str,
    unit: &str,
    opts: &PullOptions,
    rollback: bool,
) -> Result<&'static str> {
    let name = update_name(c, policy)?;
    if policy == "registry" {
        crate::image::pull::pull(ctx, &name, opts)?;
    }
    match restart_unit(ctx, unit) {
        Ok(()) => Ok("true"),
        Err(e) if !rollback => Err(e),
        Err(_) => {
            ImageStore::new(ctx)
                .add_names(&c.config.image_id, std::slice::from_ref(&name))
                .map_err(|e| Error::msg(format!("rolling back image {name}: {e}")))?;
            restart_unit(ctx, unit).map_err(|e| {
                Error::msg(format!(
                    "restarting unit {unit} with the old image during rollback: {e}"
                ))
            })?;
            Ok("rolled back")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(rootless: bool, uid: u32) -> Context {
        Context {
            root: "/nonexistent/root".into(),
            runroot: "/nonexistent/run".into(),
            storage_driver: None,
            rootless,
            uid,
            gid: uid,
            events: false,
        }
    }

    fn args(c: &std::process::Command) -> Vec<String> {
        c.get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn a_rootless_store_restarts_through_the_users_manager() {
        // This test process may well be uid 0 (or in a user namespace where
        // it reads as 0): only the context decides.
        let c = restart_command(&ctx(true, 1000), "container-web.service");
        assert_eq!(c.get_program(), "systemctl");
        assert_eq!(args(&c), ["--user", "restart", "container-web.service"]);
        let c = restart_command(&ctx(false, 0), "container-web.service");
        assert_eq!(args(&c), ["restart", "container-web.service"]);
    }
}
