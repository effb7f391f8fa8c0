//! User-defined networks, rootless: a shared network namespace holding one
//! bridge per network, one veth pair per container and network, and one
//! outbound helper.

use super::{Endpoint, NetworkState};
use crate::state::container::Container;
use crate::{Context, Error, Result};

pub fn connect_all(
    _ctx: &Context,
    _c: &Container,
    _names: &[String],
    _pid: i32,
    _st: &mut NetworkState,
) -> Result<()> {
    let _ = Endpoint::default();
    Err(Error::msg("user-defined networks are not available yet"))
}

pub fn disconnect_all(_ctx: &Context, _c: &Container, _st: &NetworkState) -> Result<()> {
    Ok(())
}

pub fn host_address() -> Option<String> {
    None
}

pub fn connect_one(
    _ctx: &Context,
    _c: &Container,
    _net: &super::records::Network,
    _pid: i32,
    _st: &mut NetworkState,
) -> Result<()> {
    Err(Error::msg("not yet"))
}

pub fn disconnect_one(_ctx: &Context, _c: &Container, _net: &str, _e: &Endpoint) {}

pub fn remove_network(_ctx: &Context, _net: &super::records::Network) {}

pub fn holder_main(_ctx: &Context) -> Result<i32> {
    Ok(0)
}
