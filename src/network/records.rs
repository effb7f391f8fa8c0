//! User-defined network records, one JSON file per network in Podman's
//! (netavark's) shape, and the built-in default network.

use std::collections::BTreeMap;
use std::fs;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::mode::DEFAULT_NETWORK;
use crate::{Context, Error, Result};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subnet {
    pub subnet: String,
    pub gateway: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Network {
    pub name: String,
    pub id: String,
    pub driver: String,
    pub network_interface: String,
    pub created: DateTime<Utc>,
    pub subnets: Vec<Subnet>,
    pub ipv6_enabled: bool,
    pub internal: bool,
    pub dns_enabled: bool,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    pub ipam_options: BTreeMap<String, String>,
}

/// An IPv4 subnet: network address and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Result<Cidr> {
        let bad = || {
            Error::msg(format!(
                "invalid subnet {s:?}: use an IPv4 CIDR such as 10.89.5.0/24"
            ))
        };
        let (a, p) = s.split_once('/').ok_or_else(bad)?;
        let addr: Ipv4Addr = a.parse().map_err(|_| bad())?;
        let prefix: u8 = p.parse().map_err(|_| bad())?;
        if !(8..=30).contains(&prefix) {
            return Err(Error::msg(format!(
                "invalid subnet {s:?}: the prefix length must be between 8 and 30"
            )));
        }
        let mask = u32::MAX << (32 - prefix);
        Ok(Cidr {
            addr: Ipv4Addr::from(u32::from(addr) & mask),
            prefix,
        })
    }

    fn mask(&self) -> u32 {
        u32::MAX << (32 - self.prefix)
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.addr)
    }

    pub fn overlaps(&self, o: &Cidr) -> bool {
        // The shorter prefix decides.
        let m = if self.prefix < o.prefix {
            self.mask()
        } else {
            o.mask()
        };
        u32::from(self.addr) & m == u32::from(o.addr) & m
    }

    /// The n-th host address (1 = first usable).
    pub fn host(&self, n: u32) -> Option<Ipv4Addr> {
        let size = 1u32 << (32 - self.prefix);
        (n >= 1 && n < size - 1).then(|| Ipv4Addr::from(u32::from(self.addr) + n))
    }

    pub fn size(&self) -> u32 {
        1u32 << (32 - self.prefix)
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl Network {
    pub fn cidr(&self) -> Cidr {
        self.subnets
            .first()
            .and_then(|s| Cidr::parse(&s.subnet).ok())
            .unwrap_or(Cidr {
                addr: Ipv4Addr::new(10, 88, 0, 0),
                prefix: 16,
            })
    }

    pub fn gateway(&self) -> String {
        self.subnets
            .first()
            .map(|s| s.gateway.clone())
            .unwrap_or_default()
    }
}

fn dir(ctx: &Context) -> PathBuf {
    ctx.root.join("networks")
}

fn record_path(ctx: &Context, name: &str) -> PathBuf {
    dir(ctx).join(format!("{name}.json"))
}

/// The built-in network every rootless engine lists (Podman's `podman`).
pub fn default_network() -> Network {
    Network {
        name: DEFAULT_NETWORK.into(),
        id: {
            use sha2::Digest;
            hex::encode(sha2::Sha256::digest(DEFAULT_NETWORK.as_bytes()))
        },
        driver: "bridge".into(),
        network_interface: "skiff0".into(),
        created: DateTime::<Utc>::from_timestamp(0, 0).unwrap_or_default(),
        subnets: vec![Subnet {
            subnet: "10.88.0.0/16".into(),
            gateway: "10.88.0.1".into(),
        }],
        ipv6_enabled: false,
        internal: false,
        dns_enabled: false,
        labels: BTreeMap::new(),
        options: BTreeMap::new(),
        ipam_options: [("driver".to_string(), "host-local".to_string())].into(),
    }
}

/// Every network, the default first, then by name.
pub fn list(ctx: &Context) -> Result<Vec<Network>> {
    let mut out = vec![default_network()];
    let mut mine = Vec::new();
    if let Ok(rd) = fs::read_dir(dir(ctx)) {
        for e in rd.flatten() {
            let p = e.path();
            if p.extension().and_then(|x| x.to_str()) != Some("json") {
                continue;
            }
            if let Ok(Some(n)) = crate::state::read_json::<Network>(&p) {
                mine.push(n);
            }
        }
    }
    mine.sort_by(|a, b| a.name.cmp(&b.name));
    out.extend(mine);
    Ok(out)
}

/// Finds a network by name, full id or unique id prefix.
pub fn load(ctx: &Context, name_or_id: &str) -> Result<Network> {
    let all = list(ctx)?;
    if let Some(n) = all.iter().find(|n| n.name == name_or_id) {
        return Ok(n.clone());
    }
    let by_id: Vec<&Network> = all
        .iter()
        .filter(|n| name_or_id.len() >= 3 && n.id.starts_with(name_or_id))
        .collect();
    match by_id.len() {
        1 => Ok(by_id[0].clone()),
        0 => Err(Error::msg(format!(
            "unable to find network with name or ID {name_or_id}: network not found"
        ))),
        _ => Err(Error::msg(format!(
            "network id prefix {name_or_id} is ambiguous: give more characters or the name"
        ))),
    }
}

pub fn exists(ctx: &Context, name: &str) -> bool {
    load(ctx, name).is_ok()
}

/// What `network create` asks for.
#[derive(Debug, Default, Clone)]
pub struct CreateOptions {
    pub name: Option<String>,
    pub subnet: Option<String>,
    pub gateway: Option<String>,
    pub internal: bool,
    pub labels: BTreeMap<String, String>,
    pub ignore_existing: bool,
}

/// The names of `--network` modes (Podman 5's list): a network so named
/// could never be chosen, `--network NAME` picking the mode.
const MODE_NAMES: [&str; 9] = [
    "none",
    "host",
    "bridge",
    "private",
    "slirp4netns",
    "pasta",
    "container",
    "ns",
    "default",
];

/// Refuses a name `network create` cannot give: Podman's characters, and
/// not the name of a network mode (Podman's message).
fn check_name(name: &str) -> Result<()> {
    if name.len() > NAME_MAX {
        return Err(Error::msg(format!(
            "invalid network name \"{}…\": longer than {NAME_MAX} characters",
            name.chars().take(16).collect::<String>()
        )));
    }
    if !valid_name(name) {
        return Err(Error::msg(format!(
            "invalid network name {name:?}: use letters, digits, '_', '.' and '-', starting with a letter or digit"
        )));
    }
    if MODE_NAMES.contains(&name) {
        return Err(Error::msg(format!(
            "cannot create network with name {name:?} because it conflicts with a valid network mode"
        )));
    }
    Ok(())
}

/// The longest network name: 200 bytes, so that the record's file
/// (`.NAME.json.tmpPID` while written) fits a file name's 255.
const NAME_MAX: usize = 200;

/// Podman's network name rule, `[a-zA-Z0-9][a-zA-Z0-9_.-]*`, at most
/// [`NAME_MAX`] bytes.
fn valid_name(n: &str) -> bool {
    let mut chars = n.chars();
    n.len() <= NAME_MAX
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

/// Creates a network record, choosing a free 10.89.N.0/24 subnet when none is given.
pub fn create(ctx: &Context, o: &CreateOptions) -> Result<Network> {
    if let Some(n) = &o.name {
        check_name(n)?;
    }
    fs::create_dir_all(dir(ctx))?;
    let _lock = crate::state::Lock::exclusive(&dir(ctx).join(".lock"))?;
    let all = list(ctx)?;
    let name = match &o.name {
        Some(n) => n.clone(),
        // Podman's names for unnamed networks: podman1, podman2, ...
        None => (1..)
            .map(|i| format!("podman{i}"))
            .find(|n| !all.iter().any(|x| &x.name == n))
            .expect("unbounded"),
    };
    check_name(&name)?;
    if let Some(existing) = all.iter().find(|n| n.name == name) {
        if o.ignore_existing {
            return Ok(existing.clone());
        }
        return Err(Error::msg(format!(
            "network name {name} already used: network already exists"
        )));
    }
    let taken: Vec<Cidr> = all.iter().map(|n| n.cidr()).collect();
    let cidr = match &o.subnet {
        Some(s) => {
            let c = Cidr::parse(s)?;
            if let Some(n) = all.iter().find(|n| n.cidr().overlaps(&c)) {
                return Err(Error::msg(format!(
                    "subnet {c} is already used by network {}: pick another with --subnet",
                    n.name
                )));
            }
            c
        }
        None => (0..=255u8)
            .map(|i| Cidr {
                addr: Ipv4Addr::new(10, 89, i, 0),
                prefix: 24,
            })
            .find(|c| !taken.iter().any(|t| t.overlaps(c)))
            .ok_or_else(|| {
                Error::msg("no free subnet left in 10.89.0.0/16: give one with --subnet")
            })?,
    };
    let gateway = match &o.gateway {
        Some(g) => {
            let ip: Ipv4Addr = g
                .parse()
                .map_err(|_| Error::msg(format!("invalid gateway {g:?}: not an IPv4 address")))?;
            if !cidr.contains(ip) {
                return Err(Error::msg(format!("gateway {ip} is not in subnet {cidr}")));
            }
            ip
        }
        None => cidr.host(1).expect("prefix <= 30"),
    };
    let iface = (1..)
        .map(|i| format!("skiff{i}"))
        .find(|i| !all.iter().any(|n| &n.network_interface == i))
        .expect("unbounded");
    let n = Network {
        name: name.clone(),
        id: crate::state::new_id(),
        driver: "bridge".into(),
        network_interface: iface,
        created: Utc::now(),
        subnets: vec![Subnet {
            subnet: cidr.to_string(),
            gateway: gateway.to_string(),
        }],
        ipv6_enabled: false,
        internal: o.internal,
        dns_enabled: true,
        labels: o.labels.clone(),
        options: BTreeMap::new(),
        ipam_options: [("driver".to_string(), "host-local".to_string())].into(),
    };
    crate::state::write_json(&record_path(ctx, &name), &n)?;
    let mut e =
        crate::events::Event::object(crate::events::Type::Network, "create", &n.id, &n.name);
    e.network = n.name.clone();
    e.record(ctx);
    Ok(n)
}

/// The Go field names of Podman's network inspect object (its JSON keys
/// are snake_case, its templates use the fields: `{{.Name}}`,
/// `{{.Containers}}`), added next to the keys of an inspect object.
pub fn add_go_fields(m: &mut serde_json::Map<String, serde_json::Value>) {
    const FIELDS: [(&str, &str); 13] = [
        ("name", "Name"),
        ("id", "ID"),
        ("driver", "Driver"),
        ("network_interface", "NetworkInterface"),
        ("created", "Created"),
        ("subnets", "Subnets"),
        ("ipv6_enabled", "IPv6Enabled"),
        ("internal", "Internal"),
        ("dns_enabled", "DNSEnabled"),
        ("labels", "Labels"),
        ("options", "Options"),
        ("ipam_options", "IPAMOptions"),
        ("containers", "Containers"),
    ];
    for (key, field) in FIELDS {
        if let Some(v) = m.get(key).cloned() {
            m.entry(field).or_insert(v);
        }
    }
    if let Some(serde_json::Value::Array(subnets)) = m.get_mut("Subnets") {
        for s in subnets.iter_mut().filter_map(|s| s.as_object_mut()) {
            for (key, field) in [("subnet", "Subnet"), ("gateway", "Gateway")] {
                if let Some(v) = s.get(key).cloned() {
                    s.entry(field).or_insert(v);
                }
            }
        }
    }
}

/// Removes a network record (the caller has checked that no container uses it).
pub fn remove(ctx: &Context, name: &str) -> Result<()> {
    if name == DEFAULT_NETWORK {
        return Err(Error::msg(format!(
            "default network {name} cannot be removed"
        )));
    }
    let p = record_path(ctx, name);
    fs::remove_file(&p).map_err(|e| Error::msg(crate::error::io_msg("remove", &p, &e)))?;
    let mut e = crate::events::Event::object(crate::events::Type::Network, "remove", "", name);
    e.network = name.to_string();
    e.record(ctx);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_math() {
        let c = Cidr::parse("10.89.3.7/24").unwrap();
        assert_eq!(c.to_string(), "10.89.3.0/24");
        assert!(c.contains("10.89.3.200".parse().unwrap()));
        assert!(!c.contains("10.89.4.1".parse().unwrap()));
        assert_eq!(c.host(1).unwrap().to_string(), "10.89.3.1");
        assert_eq!(c.host(255), None);
        assert!(!Cidr::parse("10.88.0.0/16").unwrap().overlaps(&c));
        assert!(Cidr::parse("10.89.0.0/16").unwrap().overlaps(&c));
        assert!(c.overlaps(&Cidr::parse("10.89.0.0/16").unwrap()));
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        assert!(Cidr::parse("nope").is_err());
    }

    #[test]
    fn names() {
        assert!(valid_name("appnet"));
        assert!(valid_name("a.b-c_1"));
        assert!(!valid_name("-x"));
        assert!(!valid_name("a b"));
        assert!(check_name("appnet").is_ok());
        for mode in ["none", "host", "bridge", "pasta", "slirp4netns", "default"] {
            assert_eq!(
                check_name(mode).unwrap_err().to_string(),
                format!("cannot create network with name \"{mode}\" because it conflicts with a valid network mode")
            );
        }
    }
}
