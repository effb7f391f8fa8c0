//! `network connect` and `network disconnect` of a container: the change of
//! its record and, while it runs, of its interfaces, under its lock.

use crate::network::{self, mode::NetworkChoice, records::Network, Mode};
use crate::state::container::Status;
use crate::{Context, Error, Result};

/// Connects container `name_or_id` to `net` with extra DNS `aliases`
/// (Podman's `network connect`). A running container gets its interface at
/// once; a created or stopped one on its next start.
pub fn connect(ctx: &Context, name_or_id: &str, net: &Network, aliases: &[String]) -> Result<()> {
    let store = super::store(ctx);
    let id = store.lookup(name_or_id)?.id;
    store.update(&id, |c| {
        let mut names = match &c.config.network {
            NetworkChoice::Explicit(Mode::Bridge(n)) => n.clone(),
            NetworkChoice::Explicit(m) => {
                return Err(Error::msg(format!(
                    "container {} uses --network {}: only containers on user-defined networks can be connected",
                    c.name,
                    m.name()
                )))
            }
            // A default-network container moves to bridges on its next start.
            NetworkChoice::Default => Vec::new(),
        };
        if names.contains(&net.name) {
            return Err(Error::msg(format!(
                "container {} is already connected to network {}",
                c.name, net.name
            )));
        }
        names.push(net.name.clone());
        for al in aliases {
            if !c.config.network_aliases.contains(al) {
                c.config.network_aliases.push(al.clone());
            }
        }
        if super::effective_status(c) == Status::Running {
            let mut st = c.state.network.clone();
            network::bridge::connect_one(ctx, c, net, c.state.pid, &mut st)?;
            c.state.network = st;
        }
        c.config.network = NetworkChoice::Explicit(Mode::Bridge(names));
        Ok(())
    })?;
    network_event(ctx, &id, &net.name, "connect");
    Ok(())
}

/// Disconnects container `name_or_id` from `net`; with `force`, one that is
/// not connected is no error.
pub fn disconnect(ctx: &Context, name_or_id: &str, net: &Network, force: bool) -> Result<()> {
    let store = super::store(ctx);
    let id = store.lookup(name_or_id)?.id;
    store.update(&id, |c| {
        let mut names = match &c.config.network {
            NetworkChoice::Explicit(Mode::Bridge(n)) => n.clone(),
            _ => Vec::new(),
        };
        if !names.contains(&net.name) {
            if force {
                return Ok(());
            }
            return Err(Error::msg(format!(
                "container {} is not connected to network {}",
                c.name, net.name
            )));
        }
        names.retain(|n| n != &net.name);
        if let Some(e) = c.state.network.networks.remove(&net.name) {
            network::bridge::disconnect_one(ctx, c, &net.name, &e)?;
        }
        // No network left: the container keeps only loopback, as Podman does.
        c.config.network = NetworkChoice::Explicit(if names.is_empty() {
            Mode::None
        } else {
            Mode::Bridge(names)
        });
        Ok(())
    })?;
    network_event(ctx, &id, &net.name, "disconnect");
    Ok(())
}

/// A network event naming the container (Podman's `network connect` and
/// `disconnect` events carry the container's id and the network's name).
fn network_event(ctx: &Context, id: &str, net: &str, status: &str) {
    let mut e = crate::events::Event::object(crate::events::Type::Network, status, id, "");
    e.network = net.to_string();
    e.record(ctx);
}
