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
    let links = network::linking_containers(ctx, &id);
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
            let before = std::mem::replace(&mut c.state.network, st);
            etc_files_follow(ctx, c, &before);
        }
        c.config.network = NetworkChoice::Explicit(Mode::Bridge(names));
        Ok(())
    })?;
    network::links_changed(ctx, &id, links);
    network_event(ctx, &id, &net.name, "connect");
    Ok(())
}

/// Disconnects container `name_or_id` from `net`; with `force`, one that is
/// not connected is no error.
pub fn disconnect(ctx: &Context, name_or_id: &str, net: &Network, force: bool) -> Result<()> {
    let store = super::store(ctx);
    let id = store.lookup(name_or_id)?.id;
    let links = network::linking_containers(ctx, &id);
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
        let before = c.state.network.clone();
        if let Some(e) = c.state.network.networks.remove(&net.name) {
            network::bridge::disconnect_one(ctx, c, &net.name, &e)?;
            let st = &mut c.state.network;
            // The primary address was this network's: the next network's
            // becomes it (Podman's inspect shows the first remaining one).
            if st.ip_address == e.ip_address {
                let next = st.networks.values().next().cloned().unwrap_or_default();
                st.ip_address = next.ip_address;
                st.gateway = next.gateway;
                st.prefix_len = next.prefix_len;
                st.mac_address = next.mac_address;
            }
            if super::effective_status(c) == Status::Running {
                etc_files_follow(ctx, c, &before);
            }
        }
        // No network left: the container keeps only loopback, as Podman does.
        c.config.network = NetworkChoice::Explicit(if names.is_empty() {
            Mode::None
        } else {
            Mode::Bridge(names)
        });
        Ok(())
    })?;
    network::links_changed(ctx, &id, links);
    network_event(ctx, &id, &net.name, "disconnect");
    Ok(())
}

/// The container's /etc/hosts and resolv.conf follow its new networks
/// (`network::etc_files_changed`); the interface change is done and
/// recorded whatever happens to them, so a failure is a warning.
fn etc_files_follow(
    ctx: &Context,
    c: &crate::state::container::Container,
    before: &network::NetworkState,
) {
    if let Err(e) = network::etc_files_changed(ctx, c, before) {
        tracing::warn!("container {}: {e}", c.name);
    }
}

/// A network event naming the container (Podman's `network connect` and
/// `disconnect` events carry the container's id and the network's name).
fn network_event(ctx: &Context, id: &str, net: &str, status: &str) {
    let mut e = crate::events::Event::object(crate::events::Type::Network, status, id, "");
    e.network = net.to_string();
    e.record(ctx);
}

/// The container whose network namespace `c` runs in, and whose published
/// ports Podman reports for `c` (`ps`, `port`, `inspect`): with
/// `--network container:X` (a pod's member: its infra container) X, followed
/// through such chains, among `all`; `c` itself otherwise, or when X is not
/// among `all`.
pub fn ports_owner<'a>(
    c: &'a crate::state::container::Container,
    all: &'a [crate::state::container::Container],
) -> &'a crate::state::container::Container {
    let mut cur = c;
    // A chain longer than the store is a loop: stop where it is.
    for _ in 0..=all.len() {
        let NetworkChoice::Explicit(Mode::Container(key)) = &cur.config.network else {
            break;
        };
        match crate::state::container::find(all, key) {
            Ok(o) if o.id != cur.id => cur = o,
            _ => break,
        }
    }
    cur
}

/// The directory whose `hosts` and `resolv.conf` container `c` uses when it
/// joins another container's network (`--network container:X`, outside a
/// pod): X's own, or those X shares in turn (a pod's, another container's),
/// as Podman bind-mounts the dependency's files. None for other networks.
pub fn shared_etc_dir(
    ctx: &Context,
    c: &crate::state::container::Container,
) -> Result<Option<std::path::PathBuf>> {
    let NetworkChoice::Explicit(Mode::Container(key)) = &c.config.network else {
        return Ok(None);
    };
    if !c.config.pod.is_empty() {
        return Ok(None);
    }
    let owner = super::store(ctx).lookup(key)?;
    if let (_, Some(dir)) = crate::pod::joined_namespaces(ctx, &owner)? {
        return Ok(Some(dir));
    }
    Ok(Some(match shared_etc_dir(ctx, &owner)? {
        Some(dir) => dir,
        None => ctx.container_dir(&owner.id).join("userdata"),
    }))
}

/// The line a container that joins another's network adds to the shared
/// /etc/hosts: its name at 127.0.0.1, as Podman 5 writes it.
fn localhost_entry(c: &crate::state::container::Container) -> Vec<(String, String)> {
    vec![(c.name.clone(), "127.0.0.1".to_string())]
}

/// At start of `c` with `--network container:X`: the directory of the
/// files it shares (see [`shared_etc_dir`]), its own line added to them.
pub fn join_shared_hosts(
    ctx: &Context,
    c: &crate::state::container::Container,
) -> Result<Option<std::path::PathBuf>> {
    let Some(dir) = shared_etc_dir(ctx, c)? else {
        return Ok(None);
    };
    network::edit_file(&dir.join("hosts"), |text| {
        network::etc_files::hosts_add(text, &localhost_entry(c))
    })?;
    Ok(Some(dir))
}

/// When `c` with `--network container:X` stops: its line leaves the shared
/// /etc/hosts (Podman's cleanup); X already gone is no error.
pub fn leave_shared_hosts(ctx: &Context, c: &crate::state::container::Container) {
    if let Ok(Some(dir)) = shared_etc_dir(ctx, c) {
        let res = network::edit_file(&dir.join("hosts"), |text| {
            network::etc_files::hosts_remove(text, &localhost_entry(c))
        });
        if let Err(e) = res {
            tracing::warn!("container {}: {e}", c.name);
        }
    }
}
