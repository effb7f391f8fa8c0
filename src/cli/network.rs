//! `network create/ls/inspect/rm/prune/connect/disconnect/exists` and `port`.

use std::collections::BTreeMap;

use clap::{Args, Subcommand};

use crate::container;
use crate::network::{self, records, Mode};
use crate::state::container::{Container, Status};
use crate::{Context, Error, Result};

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum NetworkCommand {
    /// Create a network
    Create(CreateArgs),
    /// List networks
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// Display the configuration of one or more networks
    Inspect(InspectArgs),
    /// Remove one or more networks
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// Remove networks no container uses
    Prune(PruneArgs),
    /// Connect a container to a network
    Connect(ConnectArgs),
    /// Disconnect a container from a network
    Disconnect(DisconnectArgs),
    /// Check whether a network exists (exit 0) or not (exit 1)
    Exists(ExistsArgs),
}

impl NetworkCommand {
    /// Removing containers and touching live namespaces happen in the user namespace.
    pub fn needs_userns(&self) -> bool {
        matches!(
            self,
            NetworkCommand::Rm(_)
                | NetworkCommand::Prune(_)
                | NetworkCommand::Connect(_)
                | NetworkCommand::Disconnect(_)
        )
    }
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Name of the network (default: skiffN)
    pub name: Option<String>,
    /// Subnet in CIDR notation
    #[arg(long)]
    pub subnet: Option<String>,
    /// Gateway address in the subnet (default: its first address)
    #[arg(long)]
    pub gateway: Option<String>,
    /// Restrict external access from this network
    #[arg(long)]
    pub internal: bool,
    /// Set metadata on the network (KEY=VALUE)
    #[arg(long)]
    pub label: Vec<String>,
    /// Driver to manage the network (only bridge)
    #[arg(short, long, default_value = "bridge")]
    pub driver: String,
    /// Do not fail when the network already exists
    #[arg(long)]
    pub ignore: bool,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Pretty-print networks with a Go template or as json
    #[arg(long)]
    pub format: Option<String>,
    /// Print only the network ids
    #[arg(short, long)]
    pub quiet: bool,
    /// Do not truncate the ids
    #[arg(long)]
    pub no_trunc: bool,
    /// Show no header row
    #[arg(short, long)]
    pub noheading: bool,
    /// Filter output (name=, id=, driver=, label=)
    #[arg(short, long)]
    pub filter: Vec<String>,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    #[arg(required = true)]
    pub names: Vec<String>,
    /// Format the output with a Go template or as json
    #[arg(short, long)]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    #[arg(required = true)]
    pub names: Vec<String>,
    /// Remove the containers that use the network too
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Do not ask for confirmation
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct ConnectArgs {
    pub network: String,
    pub container: String,
    /// Network-scoped alias for the container
    #[arg(long)]
    pub alias: Vec<String>,
}

#[derive(Debug, Args)]
pub struct DisconnectArgs {
    pub network: String,
    pub container: String,
    /// Disconnect even when the container is not on the network
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct ExistsArgs {
    pub name: String,
}

#[derive(Debug, Args)]
pub struct PortArgs {
    /// Container name or id
    pub container: Option<String>,
    /// Only this private port (PORT or PORT/PROTO)
    pub port: Option<String>,
    /// Show the ports of every container
    #[arg(short, long)]
    pub all: bool,
}

pub fn dispatch(ctx: &Context, c: NetworkCommand) -> Result<i32> {
    match c {
        NetworkCommand::Create(a) => create(ctx, a),
        NetworkCommand::Ls(a) => ls(ctx, a),
        NetworkCommand::Inspect(a) => inspect(ctx, a),
        NetworkCommand::Rm(a) => rm(ctx, a),
        NetworkCommand::Prune(a) => prune(ctx, a),
        NetworkCommand::Connect(a) => connect(ctx, a),
        NetworkCommand::Disconnect(a) => disconnect(ctx, a),
        NetworkCommand::Exists(a) => Ok(if records::exists(ctx, &a.name) { 0 } else { 1 }),
    }
}

fn create(ctx: &Context, a: CreateArgs) -> Result<i32> {
    if a.driver != "bridge" {
        return Err(Error::msg(format!(
            "unsupported network driver {}: only bridge is available",
            a.driver
        )));
    }
    let mut labels = BTreeMap::new();
    for l in &a.label {
        let (k, v) = l.split_once('=').unwrap_or((l.as_str(), ""));
        labels.insert(k.to_string(), v.to_string());
    }
    let n = records::create(
        ctx,
        &records::CreateOptions {
            name: a.name,
            subnet: a.subnet,
            gateway: a.gateway,
            internal: a.internal,
            labels,
            ignore_existing: a.ignore,
        },
    )?;
    println!("{}", n.name);
    Ok(0)
}

fn json(n: &records::Network) -> serde_json::Value {
    serde_json::to_value(n).unwrap_or_default()
}

/// A netavark JSON key as the Go field of Podman's `types.Network` names it:
/// `network_dns_servers` -> `NetworkDNSServers`, `ipv6_enabled` -> `IPv6Enabled`.
fn go_field(key: &str) -> String {
    key.split('_')
        .map(|w| match w {
            "id" => "ID".to_string(),
            "dns" => "DNS".to_string(),
            "ipam" => "IPAM".to_string(),
            "ipv6" => "IPv6".to_string(),
            "ipnet" => "IPNet".to_string(),
            _ => {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_uppercase().chain(c).collect())
                    .unwrap_or_default()
            }
        })
        .collect()
}

/// What a `network inspect --format` template sees of an inspect object:
/// Podman's Go field names (`{{.Name}}`, `{{.Subnets}}`,
/// `{{.Containers}}`), as its templates run over the Go struct rather than
/// the JSON. Map keys (labels, options, container ids, interface names)
/// stay as they are; a struct's key is renamed at any depth.
pub fn template_view(v: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    fn structs(v: &Value) -> Value {
        match v {
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| {
                        let v = match k.as_str() {
                            "labels" | "options" | "ipam_options" => v.clone(),
                            // Maps whose values are structs.
                            "containers" | "interfaces" => match v {
                                Value::Object(m) => Value::Object(
                                    m.iter().map(|(k, v)| (k.clone(), structs(v))).collect(),
                                ),
                                other => other.clone(),
                            },
                            _ => structs(v),
                        };
                        (go_field(k), v)
                    })
                    .collect(),
            ),
            Value::Array(a) => Value::Array(a.iter().map(structs).collect()),
            other => other.clone(),
        }
    }
    structs(v)
}

/// Go-template view of a network for `ls --format`: Podman's field names.
fn ls_value(n: &records::Network) -> serde_json::Value {
    let mut v = json(n);
    if let serde_json::Value::Object(m) = &mut v {
        m.insert("Name".into(), n.name.clone().into());
        m.insert("ID".into(), n.id[..12].to_string().into());
        m.insert("Driver".into(), n.driver.clone().into());
        m.insert("Internal".into(), n.internal.into());
        m.insert(
            "Labels".into(),
            serde_json::to_value(&n.labels).unwrap_or_default(),
        );
    }
    v
}

fn matches_filter(n: &records::Network, f: &str) -> Result<bool> {
    let (k, v) = f
        .split_once('=')
        .ok_or_else(|| Error::msg(format!("invalid filter {f:?}: use KEY=VALUE")))?;
    Ok(match k {
        "name" => n.name.contains(v),
        "id" => n.id.starts_with(v),
        "driver" => n.driver == v,
        "label" => match v.split_once('=') {
            Some((lk, lv)) => n.labels.get(lk).map(|x| x == lv).unwrap_or(false),
            None => n.labels.contains_key(v),
        },
        _ => {
            return Err(Error::msg(format!(
                "invalid filter {k:?}: use name, id, driver or label"
            )))
        }
    })
}

fn ls(ctx: &Context, a: LsArgs) -> Result<i32> {
    let mut nets = Vec::new();
    for n in records::list(ctx)? {
        let mut keep = true;
        for f in &a.filter {
            keep &= matches_filter(&n, f)?;
        }
        if keep {
            nets.push(n);
        }
    }
    let id = |n: &records::Network| {
        if a.no_trunc {
            n.id.clone()
        } else {
            n.id[..12].to_string()
        }
    };
    if a.quiet {
        for n in &nets {
            println!("{}", id(n));
        }
        return Ok(0);
    }
    if let Some(f) = &a.format {
        if f == "json" {
            let v: Vec<_> = nets.iter().map(json).collect();
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        } else {
            let v: Vec<_> = nets.iter().map(ls_value).collect();
            let sample = ls_value(&records::default_network());
            let shape = crate::format::Shape::new("types.Network", &sample);
            crate::format::print_formatted(f, &v, &shape)?;
        }
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = nets
        .iter()
        .map(|n| vec![id(n), n.name.clone(), n.driver.clone()])
        .collect();
    crate::format::print_table(&["NETWORK ID", "NAME", "DRIVER"], &rows, a.noheading);
    Ok(0)
}

/// The containers whose configuration names `net`.
fn users(ctx: &Context, net: &str) -> Result<Vec<Container>> {
    Ok(container::store(ctx)
        .list()?
        .into_iter()
        .filter(|c| matches!(network::mode_of(&c.config), Mode::Bridge(ns) if ns.iter().any(|n| n == net)))
        .collect())
}

/// `network inspect`, as Podman's: the networks found (`[]` when none),
/// then each missing one reported, failing with the first.
fn inspect(ctx: &Context, a: InspectArgs) -> Result<i32> {
    let mut items = Vec::new();
    let mut missing = Vec::new();
    for n in &a.names {
        match inspect_item(ctx, n) {
            Ok(v) => items.push(v),
            Err(e) if e.to_string().ends_with("network not found") => missing.push(e),
            Err(e) => return Err(e),
        }
    }
    crate::cli::container::print_found(a.format.as_deref(), &items, missing)
}

/// `network inspect`'s object for the network `name_or_id`, with the
/// containers attached to it. Errors: no such network, in Podman's words
/// (`network NAME: unable to find network with name or ID NAME: network
/// not found`).
pub fn inspect_item(ctx: &Context, name_or_id: &str) -> Result<serde_json::Value> {
    {
        let net = records::load(ctx, name_or_id).map_err(|e| {
            if e.to_string().ends_with("network not found") {
                Error::msg(format!("network {name_or_id}: {e}"))
            } else {
                e
            }
        })?;
        let mut v = json(&net);
        let mut containers = serde_json::Map::new();
        for c in users(ctx, &net.name)? {
            if let Some(e) = c.state.network.networks.get(&net.name) {
                containers.insert(
                    c.id.clone(),
                    serde_json::json!({
                        "name": c.name,
                        "interfaces": {e.interface.clone(): {
                            "subnets": [{"ipnet": format!("{}/{}", e.ip_address, e.prefix_len), "gateway": e.gateway}],
                            "mac_address": e.mac_address,
                        }},
                    }),
                );
            }
        }
        if let serde_json::Value::Object(m) = &mut v {
            m.insert("containers".into(), containers.into());
        }
        Ok(v)
    }
}

fn rm(ctx: &Context, a: RmArgs) -> Result<i32> {
    let mut code = 0;
    for name in &a.names {
        let res = (|| -> Result<()> {
            let net = records::load(ctx, name)?;
            if net.name == network::mode::DEFAULT_NETWORK {
                return Err(Error::msg(format!(
                    "default network {} cannot be removed",
                    net.name
                )));
            }
            let used = users(ctx, &net.name)?;
            if !used.is_empty() && !a.force {
                let names: Vec<&str> = used.iter().map(|c| c.name.as_str()).collect();
                return Err(Error::with_code(
                    2,
                    format!(
                        "network {} is in use by container(s) {}: remove them first or use -f",
                        net.name,
                        names.join(", ")
                    ),
                ));
            }
            for c in used {
                container::remove::remove(ctx, &c, true)?;
            }
            network::bridge::remove_network(ctx, &net);
            records::remove(ctx, &net.name)
        })();
        match res {
            Ok(()) => println!("{name}"),
            // Podman: -f passes over a network that does not exist.
            Err(e) if a.force && e.is_no_such() => {}
            Err(e) => {
                // Podman: a network that does not exist is exit 1.
                crate::cli::report(&e);
                code = e.rm_exit_code();
            }
        }
    }
    Ok(code)
}

fn prune(ctx: &Context, _a: PruneArgs) -> Result<i32> {
    for net in records::list(ctx)? {
        if net.name == network::mode::DEFAULT_NETWORK || !users(ctx, &net.name)?.is_empty() {
            continue;
        }
        network::bridge::remove_network(ctx, &net);
        records::remove(ctx, &net.name)?;
        println!("{}", net.name);
    }
    Ok(0)
}

fn connect(ctx: &Context, a: ConnectArgs) -> Result<i32> {
    let net = records::load(ctx, &a.network)?;
    container::network::connect(ctx, &a.container, &net, &a.alias)?;
    Ok(0)
}

fn disconnect(ctx: &Context, a: DisconnectArgs) -> Result<i32> {
    let net = records::load(ctx, &a.network)?;
    container::network::disconnect(ctx, &a.container, &net, a.force)?;
    Ok(0)
}

/// `skiff port`: the published ports of containers.
pub fn port(ctx: &Context, a: PortArgs) -> Result<i32> {
    let store = container::store(ctx);
    let all = store.list()?;
    let list: Vec<Container> = match (&a.container, a.all) {
        (_, true) => all.clone(),
        (Some(n), false) => vec![store.lookup(n)?],
        (None, false) => {
            return Err(Error::msg(
                "give a container name or id, or --all for every container",
            ))
        }
    };
    let filter = a.port.as_ref().map(|p| {
        if p.contains('/') {
            p.clone()
        } else {
            format!("{p}/tcp")
        }
    });
    for c in list {
        if container::effective_status(&c) != Status::Running {
            continue;
        }
        // A pod's member publishes what its infra container does (Podman).
        let owner = container::network::ports_owner(&c, &all);
        for p in &owner.state.network.ports {
            let key = format!("{}/{}", p.container_port, p.protocol);
            match &filter {
                Some(f) if *f != key => continue,
                Some(_) => {
                    let ip = if p.host_ip.is_empty() {
                        "0.0.0.0"
                    } else {
                        &p.host_ip
                    };
                    println!("{ip}:{}", p.host_port);
                }
                None if a.all => println!("{}\t{}", &c.id[..12], p.describe()),
                None => println!("{}", p.describe()),
            }
        }
    }
    Ok(0)
}
