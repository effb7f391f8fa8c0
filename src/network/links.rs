//! `--link NAME[:ALIAS]`, Docker's legacy links: where a container may have
//! them, the /etc/hosts line that names the linked container at its own
//! address, and Docker's `ALIAS_PORT*`, `ALIAS_NAME` and `ALIAS_ENV_*`
//! variables (moby's `daemon/links`).
//!
//! Docker links containers on its default bridge, where every container has
//! an address the others reach. skiff's default rootless network (pasta, or
//! slirp4netns) gives each container a namespace of its own behind a
//! user-mode helper: no address another container can reach, so an alias
//! there could only point at the host, where just the published ports are.
//! Podman refuses `--link` altogether. skiff takes links on user-defined
//! (bridge) networks, where the linked container is reached at its own
//! address on a network both share, and refuses them elsewhere.

use crate::network::mode::NetworkChoice;
use crate::network::{mode_of, Mode};
use crate::state::container::{Config, Container};
use crate::{Context, Error, Result};

/// `NAME[:ALIAS]` as `(name, alias)`; the alias is the name when absent.
pub fn parse(link: &str) -> (&str, &str) {
    match link.split_once(':') {
        Some((name, alias)) if !alias.is_empty() => (name, alias),
        Some((name, _)) => (name, name),
        None => (link, link),
    }
}

/// The user-defined networks a container is on by its configuration
/// (`--network NAME,...` and `network connect`); none for other modes.
pub fn networks_of(cfg: &Config) -> Vec<String> {
    match &cfg.network {
        NetworkChoice::Explicit(Mode::Bridge(names)) => names.clone(),
        _ => Vec::new(),
    }
}

/// Checks the `--link`s of a container being created: each names an
/// existing container, and both are on a user-defined network they share.
/// Errors (one line, naming the link): a missing container; a container not
/// on a user-defined network (the default network, pasta, slirp4netns,
/// host, none, another container's namespace: no address the link could
/// name); no network in common.
pub fn validate(ctx: &Context, cfg: &Config) -> Result<()> {
    if cfg.links.is_empty() {
        return Ok(());
    }
    let mine = networks_of(cfg);
    let store = crate::container::store(ctx);
    for l in &cfg.links {
        let (name, _) = parse(l);
        if name.is_empty() {
            return Err(Error::msg(format!(
                "invalid --link {l:?}: use NAME[:ALIAS]"
            )));
        }
        let target = store.lookup(name)?;
        if mine.is_empty() {
            let on = match &cfg.network {
                NetworkChoice::Default => format!("the default network ({})", mode_of(cfg).name()),
                NetworkChoice::Explicit(m) => format!("--network {}", m.name()),
            };
            return Err(Error::msg(format!(
                "--link {l}: links need a user-defined network, and this container is on {on}, \
                 where no container has an address another can reach; \
                 create one with 'skiff network create NAME' and run both containers with --network NAME"
            )));
        }
        let theirs = networks_of(&target.config);
        if !mine.iter().any(|n| theirs.contains(n)) {
            return Err(Error::msg(format!(
                "--link {l}: container {} is on no network of this container ({}); connect it with 'skiff network connect {} {name}'",
                target.name,
                mine.join(", "),
                mine[0]
            )));
        }
    }
    Ok(())
}

/// The address of running container `target` on the first of `networks`
/// it is attached to: where a link to it leads.
pub fn address_of<'a>(
    networks: impl IntoIterator<Item = &'a String>,
    target: &Container,
) -> Option<String> {
    networks
        .into_iter()
        .find_map(|n| target.state.network.networks.get(n))
        .map(|e| e.ip_address.clone())
        .filter(|ip| !ip.is_empty())
}

/// Docker's link variables of container `c` for each of its links whose
/// container runs with an address on a network `c` is on (`c` itself need
/// not be attached yet: its networks come from its configuration).
pub fn env(ctx: &Context, c: &Container) -> Vec<String> {
    let store = crate::container::store(ctx);
    let mine = networks_of(&c.config);
    let mut out = Vec::new();
    for l in &c.config.links {
        let (name, alias) = parse(l);
        let Ok(t) = store.lookup(name) else {
            continue;
        };
        let Some(ip) = address_of(&mine, &t) else {
            continue;
        };
        let link_name = format!("/{}/{alias}", c.name);
        // `create` records HOSTNAME in the environment; Docker sets it only
        // in the process's, so its link variables do not carry it.
        let own_hostname = format!("HOSTNAME={}", t.config.hostname);
        let child_env: Vec<String> = t
            .config
            .env
            .iter()
            .filter(|e| **e != own_hostname)
            .cloned()
            .collect();
        out.extend(env_vars(
            &link_name,
            &ip,
            &exposed_ports(&t.config),
            &child_env,
        ));
    }
    out
}

/// The ports container `cfg` exposes as Docker counts them for links: the
/// image's EXPOSE and `--expose` (`PORT[-END][/PROTO]`), and the container
/// ports of `-p`; each once, as `(port, protocol)`.
pub fn exposed_ports(cfg: &Config) -> Vec<(u16, String)> {
    let mut out: Vec<(u16, String)> = Vec::new();
    let mut add = |port: u16, proto: &str| {
        let p = (port, proto.to_ascii_lowercase());
        if !out.contains(&p) {
            out.push(p);
        }
    };
    for e in &cfg.expose {
        let (range, proto) = e.split_once('/').unwrap_or((e.as_str(), "tcp"));
        let (first, last) = range.split_once('-').unwrap_or((range, range));
        if let (Ok(a), Ok(b)) = (first.parse::<u16>(), last.parse::<u16>()) {
            for p in a..=b.max(a) {
                add(p, proto);
            }
        }
    }
    for s in &cfg.publish {
        for i in 0..s.count.max(1) {
            add(s.container_port.saturating_add(i), &s.protocol);
        }
    }
    out
}

/// Docker's variables for one link, as moby's `Link.ToEnv` writes them:
/// `link_name` is `/CONTAINER/ALIAS`, whose last part, upper-cased with
/// `-` as `_`, prefixes every name; `ip` is the linked container's address;
/// `ports` its exposed ports; `child_env` its environment (`HOME` and
/// `PATH` left out, as Docker does). Ports go TCP first, then by protocol
/// and number; the first is `ALIAS_PORT`, each gets `ALIAS_PORT_N_PROTO`
/// with `_ADDR`, `_PORT`, `_PROTO`, and runs of consecutive ports also get
/// `_START`, `_PORT_START`, `_END`, `_PORT_END` on their first port.
pub fn env_vars(
    link_name: &str,
    ip: &str,
    ports: &[(u16, String)],
    child_env: &[String],
) -> Vec<String> {
    let last = link_name.rsplit('/').next().unwrap_or(link_name);
    let alias = last.to_uppercase().replace('-', "_");
    let mut ports = ports.to_vec();
    ports.sort_by(|(an, ap), (bn, bp)| match (ap.as_str(), bp.as_str()) {
        (a, b) if a == b => an.cmp(bn),
        ("tcp", _) => std::cmp::Ordering::Less,
        (_, "tcp") => std::cmp::Ordering::Greater,
        (a, b) => a.cmp(b),
    });
    ports.dedup();
    let mut env = Vec::new();
    let key = |(n, p): &(u16, String)| format!("{alias}_PORT_{n}_{}", p.to_uppercase());
    let mut start = 0;
    for i in 0..ports.len() {
        let (n, proto) = &ports[i];
        if i == 0 {
            env.push(format!("{alias}_PORT={proto}://{ip}:{n}"));
        }
        let k = key(&ports[i]);
        env.push(format!("{k}={proto}://{ip}:{n}"));
        env.push(format!("{k}_ADDR={ip}"));
        env.push(format!("{k}_PORT={n}"));
        env.push(format!("{k}_PROTO={proto}"));
        let end = i.saturating_sub(1).max(start);
        let follows = i > 0 && ports[end].0.checked_add(1) == Some(*n) && ports[end].1 == *proto;
        if follows && i + 1 < ports.len() {
            continue;
        }
        // The run that ends here: up to this port when it follows, else
        // up to the one before it.
        let run_end = if follows { i } else { end };
        if run_end != start {
            let (sn, sp) = &ports[start];
            let (en, ep) = &ports[run_end];
            let k = key(&ports[start]);
            env.push(format!("{k}_START={sp}://{ip}:{sn}"));
            env.push(format!("{k}_PORT_START={sn}"));
            env.push(format!("{k}_END={ep}://{ip}:{en}"));
            env.push(format!("{k}_PORT_END={en}"));
        }
        start = i;
    }
    env.push(format!("{alias}_NAME={link_name}"));
    for v in child_env {
        let Some((name, val)) = v.split_once('=') else {
            continue;
        };
        if name == "HOME" || name == "PATH" {
            continue;
        }
        env.push(format!("{alias}_ENV_{name}={val}"));
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(list: &[(u16, &str)]) -> Vec<(u16, String)> {
        list.iter().map(|(n, s)| (*n, s.to_string())).collect()
    }

    #[test]
    fn names_and_aliases() {
        assert_eq!(parse("db:database"), ("db", "database"));
        assert_eq!(parse("db"), ("db", "db"));
        assert_eq!(parse("db:"), ("db", "db"));
    }

    #[test]
    fn one_port_and_the_environment_as_docker_writes_them() {
        let env = env_vars(
            "/web/my-db",
            "10.88.0.5",
            &p(&[(5432, "tcp")]),
            &[
                "PATH=/bin".into(),
                "HOME=/root".into(),
                "PGDATA=/var/lib/pg".into(),
                "EMPTY=".into(),
            ],
        );
        assert_eq!(
            env,
            [
                "MY_DB_PORT=tcp://10.88.0.5:5432",
                "MY_DB_PORT_5432_TCP=tcp://10.88.0.5:5432",
                "MY_DB_PORT_5432_TCP_ADDR=10.88.0.5",
                "MY_DB_PORT_5432_TCP_PORT=5432",
                "MY_DB_PORT_5432_TCP_PROTO=tcp",
                "MY_DB_NAME=/web/my-db",
                "MY_DB_ENV_PGDATA=/var/lib/pg",
                "MY_DB_ENV_EMPTY=",
            ]
        );
    }

    #[test]
    fn tcp_first_and_runs_of_consecutive_ports() {
        let env = env_vars(
            "/a/db",
            "1.2.3.4",
            &p(&[(53, "udp"), (6380, "tcp"), (6379, "tcp"), (80, "tcp")]),
            &[],
        );
        let heads: Vec<&str> = env
            .iter()
            .filter(|e| !e.contains("_ADDR=") && !e.contains("_PROTO=") && !e.contains("_PORT="))
            .map(String::as_str)
            .collect();
        assert_eq!(env[0], "DB_PORT=tcp://1.2.3.4:80");
        // A run is written once the port after it is (moby's loop).
        assert_eq!(
            heads,
            [
                "DB_PORT_80_TCP=tcp://1.2.3.4:80",
                "DB_PORT_6379_TCP=tcp://1.2.3.4:6379",
                "DB_PORT_6380_TCP=tcp://1.2.3.4:6380",
                "DB_PORT_53_UDP=udp://1.2.3.4:53",
                "DB_PORT_6379_TCP_START=tcp://1.2.3.4:6379",
                "DB_PORT_6379_TCP_PORT_START=6379",
                "DB_PORT_6379_TCP_END=tcp://1.2.3.4:6380",
                "DB_PORT_6379_TCP_PORT_END=6380",
                "DB_NAME=/a/db",
            ]
        );
        // A run that ends the list is written with its last port.
        let env = env_vars("/a/db", "1.2.3.4", &p(&[(1, "tcp"), (2, "tcp")]), &[]);
        assert!(
            env.contains(&"DB_PORT_1_TCP_PORT_END=2".to_string()),
            "{env:?}"
        );
        // No ports: only the name.
        assert_eq!(env_vars("/a/db", "1.2.3.4", &[], &[]), ["DB_NAME=/a/db"]);
    }
}
