//! Reading container records of every version: the current one (3) as is,
//! and older ones upgraded once, in memory, when read: version 1 (no
//! `version` field; flags kept as strings, as skiff wrote them before the
//! typed record) goes through the v1 -> v2 step and then the v2 -> v3 one;
//! version 2 (`--network` and `-p` kept as strings) through v2 -> v3. The
//! next change of the container writes it back as the current version.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::config::{Capabilities, Mount, MountKind, RestartPolicy, Rlimit, SdNotify, UserSpec};
use super::container::{Config, Container, SeccompChoice, State, RECORD_VERSION};
use super::{Error, Result};
use crate::network::mode::NetworkChoice;
use crate::network::ports::PortSpec;

/// Decodes the record at `path` (for errors) from its bytes, whatever its
/// version. Errors: `corrupt record PATH: ...` for JSON that does not
/// match its version, or a version newer than this skiff knows.
pub fn decode(path: &Path, data: &[u8]) -> Result<Container> {
    #[derive(Deserialize)]
    struct Probe {
        #[serde(default)]
        version: u32,
    }
    let corrupt = |source| Error::Corrupt {
        path: path.to_path_buf(),
        source,
    };
    // A current record (all but a few) in one pass over its text; anything
    // else is probed for its version first.
    if let Ok(c) = serde_json::from_slice::<Container>(data) {
        if c.version == RECORD_VERSION {
            return Ok(c);
        }
    }
    match serde_json::from_slice::<Probe>(data).map_err(corrupt)?.version {
        RECORD_VERSION => serde_json::from_slice(data).map_err(corrupt),
        2 => {
            let mut v: serde_json::Value = serde_json::from_slice(data).map_err(corrupt)?;
            let old: V2Network = serde_json::from_value(v["config"].clone()).map_err(corrupt)?;
            let (network, publish) = v2_to_v3(&old).map_err(cannot_upgrade(path))?;
            let cfg = &mut v["config"];
            cfg["network"] = serde_json::to_value(network).map_err(corrupt)?;
            cfg["publish"] = serde_json::to_value(publish).map_err(corrupt)?;
            v["version"] = RECORD_VERSION.into();
            serde_json::from_value(v).map_err(corrupt)
        }
        0 | 1 => {
            let old: V1 = serde_json::from_slice(data).map_err(corrupt)?;
            upgrade(old).map_err(cannot_upgrade(path))
        }
        v => Err(Error::Msg(format!(
            "container record {} has version {v}, newer than this skiff reads ({RECORD_VERSION}): use a newer skiff",
            path.display()
        ))),
    }
}

fn cannot_upgrade(path: &Path) -> impl Fn(Error) -> Error + '_ {
    move |e| {
        Error::Msg(format!(
            "cannot upgrade container record {}: {e}",
            path.display()
        ))
    }
}

/// The fields of a version 2 (and 1) config that version 3 types.
#[derive(Deserialize)]
struct V2Network {
    #[serde(default)]
    network: String,
    #[serde(default)]
    publish: Vec<String>,
}

/// The v2 -> v3 step: parses `--network` and the `-p` values, kept as
/// strings until version 2, as `create` now does (they were validated by
/// the `create` that wrote them; an error names the value).
fn v2_to_v3(old: &V2Network) -> Result<(NetworkChoice, Vec<PortSpec>)> {
    let msg = |e: crate::Error| Error::Msg(e.to_string());
    Ok((
        NetworkChoice::parse(&old.network).map_err(msg)?,
        crate::network::ports::parse_all(&old.publish).map_err(msg)?,
    ))
}

/// A version 1 record (fields as skiff wrote them then).
#[derive(Deserialize)]
struct V1 {
    id: String,
    name: String,
    created: DateTime<Utc>,
    config: V1Config,
    state: State,
}

#[derive(Deserialize)]
struct V1Mount {
    kind: String,
    source: String,
    destination: String,
    options: Vec<String>,
}

#[derive(Deserialize)]
struct V1Config {
    image_id: String,
    image_name: String,
    args: Vec<String>,
    entrypoint: Vec<String>,
    cmd: Vec<String>,
    env: Vec<String>,
    workdir: String,
    user: String,
    hostname: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    stop_signal: String,
    tty: bool,
    interactive: bool,
    #[serde(default)]
    mounts: Vec<V1Mount>,
    read_only: bool,
    privileged: bool,
    #[serde(default)]
    cap_add: Vec<String>,
    #[serde(default)]
    cap_drop: Vec<String>,
    network: String,
    #[serde(default)]
    publish: Vec<String>,
    #[serde(default)]
    publish_all: bool,
    #[serde(default)]
    expose: Vec<String>,
    #[serde(default)]
    network_aliases: Vec<String>,
    #[serde(default)]
    add_hosts: Vec<String>,
    #[serde(default)]
    dns: Vec<String>,
    #[serde(default)]
    dns_search: Vec<String>,
    #[serde(default)]
    dns_options: Vec<String>,
    #[serde(default)]
    links: Vec<String>,
    #[serde(default)]
    auto_remove: bool,
    #[serde(default)]
    sdnotify: String,
    #[serde(default)]
    restart_policy: String,
    #[serde(default)]
    ulimits: Vec<String>,
    #[serde(default)]
    no_new_privileges: bool,
    #[serde(default)]
    seccomp: SeccompChoice,
    driver: String,
    layers: Vec<PathBuf>,
}

/// Parses the strings of a version 1 record into the typed values (they
/// were validated by the `create` that wrote them): the v1 -> v2 step, then
/// the v2 -> v3 one.
fn upgrade(old: V1) -> Result<Container> {
    let o = old.config;
    let (network, publish) = v2_to_v3(&V2Network {
        network: o.network,
        publish: o.publish,
    })?;
    let mounts = o
        .mounts
        .into_iter()
        .map(|m| {
            let kind = match m.kind.as_str() {
                "bind" => MountKind::Bind,
                "volume" => MountKind::Volume,
                "tmpfs" => MountKind::Tmpfs,
                "devpts" => MountKind::Devpts,
                k => return Err(Error::Msg(format!("unknown mount type \"{k}\""))),
            };
            Ok(Mount::new(kind, m.source, m.destination, m.options))
        })
        .collect::<Result<_>>()?;
    let stop_signal = match o.stop_signal.as_str() {
        "" => None,
        s => Some(
            s.parse()
                .map_err(|_| Error::Msg(format!("unknown stop signal \"{s}\"")))?,
        ),
    };
    // Leaf, pure module of capability sets: the same resolution `create` does.
    let effective = crate::runtime::caps::resolve(o.privileged, &o.cap_add, &o.cap_drop)
        .map_err(|e| Error::Msg(e.to_string()))?;
    let config = Config {
        healthcheck: None,
        health_on_failure: Default::default(),
        image_id: o.image_id,
        image_name: o.image_name,
        raw_image_name: String::new(),
        args: o.args,
        entrypoint: o.entrypoint,
        cmd: o.cmd,
        env: o.env,
        workdir: o.workdir,
        user: UserSpec::parse(&o.user)?,
        hostname: o.hostname,
        labels: o.labels,
        stop_signal,
        tty: o.tty,
        interactive: o.interactive,
        mounts,
        secrets: Vec::new(),
        read_only: o.read_only,
        privileged: o.privileged,
        capabilities: Capabilities {
            add: o.cap_add,
            drop: o.cap_drop,
            effective,
        },
        network,
        publish,
        publish_all: o.publish_all,
        expose: o.expose,
        network_aliases: o.network_aliases,
        add_hosts: o.add_hosts,
        dns: o.dns,
        dns_search: o.dns_search,
        dns_options: o.dns_options,
        links: o.links,
        auto_remove: o.auto_remove,
        sdnotify: match o.sdnotify.as_str() {
            "" => SdNotify::default(),
            m => SdNotify::parse(m)?,
        },
        restart_policy: match o.restart_policy.as_str() {
            "" => RestartPolicy::No,
            r => RestartPolicy::parse(r)?,
        },
        resources: Default::default(),
        cgroup_parent: String::new(),
        cgroups: Default::default(),
        cgroup_manager: Default::default(),
        rlimits: o
            .ulimits
            .iter()
            .map(|u| Rlimit::parse(u))
            .collect::<Result<_>>()?,
        no_new_privileges: o.no_new_privileges,
        seccomp: o.seccomp,
        pod: String::new(),
        infra: false,
        requires: Vec::new(),
        builder: None,
        // Settings that records of this version did not have.
        stop_timeout: None,
        timeout: None,
        oom_score_adj: None,
        cgroupns_host: false,
        extras: Default::default(),
        log: Default::default(),
        attach: None,
        create_command: Vec::new(),
        pidfile: None,
        conmon_pidfile: None,
        driver: o.driver,
        layers: o.layers,
    };
    Ok(Container {
        version: RECORD_VERSION,
        id: old.id,
        name: old.name,
        created: old.created,
        config,
        state: old.state,
    })
}

#[cfg(test)]
mod tests {
    use super::super::container::Containers;
    use super::*;
    use caps::Capability;
    use nix::sys::signal::Signal;
    use oci_spec::runtime::PosixRlimitType;

    /// A record as skiff wrote it before version 2 (trimmed of nothing:
    /// every field as the old `create` filled it).
    const V1_RECORD: &str = r#"{
  "id": "aaaa000000000000000000000000000000000000000000000000000000000000",
  "name": "old",
  "created": "2024-05-01T10:00:00Z",
  "config": {
    "image_id": "1111",
    "image_name": "localhost/busybox:latest",
    "args": ["/bin/sh"],
    "entrypoint": [],
    "cmd": ["/bin/sh"],
    "env": ["PATH=/bin"],
    "workdir": "/",
    "user": "1000:staff",
    "hostname": "aaaa00000000",
    "labels": {},
    "stop_signal": "SIGUSR1",
    "tty": false,
    "interactive": false,
    "mounts": [
      {"kind": "bind", "source": "/srv", "destination": "/data", "options": ["ro", "z"]},
      {"kind": "tmpfs", "source": "", "destination": "/t", "options": ["rw", "size=1m"]}
    ],
    "read_only": false,
    "privileged": false,
    "cap_add": ["net_admin"],
    "cap_drop": ["CAP_KILL"],
    "network": "none",
    "publish": [],
    "publish_all": false,
    "expose": [],
    "network_aliases": [],
    "add_hosts": [],
    "dns": [],
    "dns_search": [],
    "dns_options": [],
    "links": [],
    "auto_remove": false,
    "sdnotify": "container",
    "restart_policy": "on-failure:2",
    "ulimits": ["nofile=100:200", "core=-1"],
    "no_new_privileges": true,
    "seccomp": {"kind": "unconfined"},
    "driver": "overlay",
    "layers": ["/l/1"]
  },
  "state": {"status": "exited", "exit_code": 3, "restart_count": 1}
}"#;

    #[test]
    fn a_version_1_record_is_upgraded_when_read_and_written_back_as_the_current_version() {
        let d = tempfile::tempdir().unwrap();
        let id = "aaaa000000000000000000000000000000000000000000000000000000000000";
        std::fs::create_dir(d.path().join(id)).unwrap();
        std::fs::write(d.path().join(id).join("container.json"), V1_RECORD).unwrap();
        let s = Containers::new(d.path());
        let c = s.get(id).unwrap();
        assert_eq!(c.version, RECORD_VERSION);
        assert_eq!((c.name.as_str(), c.state.exit_code), ("old", 3));
        let cfg = &c.config;
        assert_eq!(cfg.user.user, "1000");
        assert_eq!(cfg.user.group.as_deref(), Some("staff"));
        assert_eq!(cfg.stop_signal, Some(Signal::SIGUSR1));
        assert_eq!(
            cfg.restart_policy,
            RestartPolicy::OnFailure { max_retries: 2 }
        );
        assert_eq!(cfg.rlimits[0].resource, PosixRlimitType::RlimitNofile);
        assert_eq!((cfg.rlimits[0].soft, cfg.rlimits[0].hard), (100, 200));
        assert_eq!(cfg.rlimits[1].hard, u64::MAX);
        assert_eq!(cfg.mounts[0].kind, MountKind::Bind);
        assert!(cfg.mounts[0].readonly);
        assert_eq!(cfg.mounts[0].bind_spec(), "/srv:/data:ro,z");
        assert_eq!(cfg.mounts[1].kind, MountKind::Tmpfs);
        let caps = &cfg.capabilities;
        assert_eq!(caps.add, vec!["net_admin"]);
        assert!(caps.effective.contains(&Capability::CAP_NET_ADMIN));
        assert!(!caps.effective.contains(&Capability::CAP_KILL));
        assert!(caps.effective.contains(&Capability::CAP_CHOWN));
        assert_eq!(cfg.seccomp, SeccompChoice::Unconfined);
        assert!(cfg.no_new_privileges);
        assert_eq!(cfg.sdnotify, SdNotify::Container);
        assert_eq!(
            cfg.network,
            NetworkChoice::Explicit(crate::network::Mode::None)
        );
        assert!(cfg.publish.is_empty());
        // Listing sees it too, and the next change writes the current version.
        assert_eq!(s.list().unwrap().len(), 1);
        s.update::<_, Error>(id, |c| {
            c.state.restart_count += 1;
            Ok(())
        })
        .unwrap();
        let text = std::fs::read_to_string(d.path().join(id).join("container.json")).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["version"], RECORD_VERSION);
        assert_eq!(v["config"]["network"]["explicit"]["kind"], "none");
        assert_eq!(v["config"]["restart_policy"]["name"], "on-failure");
        assert_eq!(v["config"]["stop_signal"], "SIGUSR1");
        let again = s.get(id).unwrap();
        assert_eq!(again.config.rlimits, c.config.rlimits);
        assert_eq!(again.config.mounts, c.config.mounts);
        assert_eq!(again.config.capabilities, c.config.capabilities);
        assert_eq!(again.state.restart_count, 2);
    }

    /// `V1_RECORD` with `--network` and `-p` strings, as version `version`
    /// (a version 2 record is the typed version 1 one with these two strings).
    fn with_network(version: u32, network: &str, publish: &[&str]) -> Vec<u8> {
        let v1 = V1_RECORD.replace(r#""network": "none""#, &format!("\"network\": {network:?}"));
        let v1 = v1.replace(
            r#""publish": []"#,
            &format!("\"publish\": {}", serde_json::to_string(publish).unwrap()),
        );
        if version == 1 {
            return v1.into_bytes();
        }
        let c = upgrade(serde_json::from_str(V1_RECORD).unwrap()).unwrap();
        let mut v = serde_json::to_value(&c).unwrap();
        v["version"] = version.into();
        v["config"]["network"] = network.into();
        v["config"]["publish"] = serde_json::to_value(publish).unwrap();
        serde_json::to_vec(&v).unwrap()
    }

    #[test]
    fn network_and_ports_of_versions_1_and_2_are_parsed_once_on_upgrade() {
        use crate::network::Mode;
        let p = Path::new("/x/container.json");
        let publish = ["127.0.0.1:8080-8081:80-81/udp", "[::1]::53", "9090"];
        for version in [1, 2] {
            let cases = [
                ("", NetworkChoice::Default),
                (
                    "slirp4netns:allow_host_loopback=false",
                    NetworkChoice::Explicit(Mode::Slirp(crate::network::slirp4netns::Options {
                        allow_host_loopback: false,
                        ..Default::default()
                    })),
                ),
                (
                    "a,b",
                    NetworkChoice::Explicit(Mode::Bridge(vec!["a".into(), "b".into()])),
                ),
                (
                    "container:web",
                    NetworkChoice::Explicit(Mode::Container("web".into())),
                ),
            ];
            for (net, want) in cases {
                let c = decode(p, &with_network(version, net, &publish)).unwrap();
                assert_eq!(c.version, RECORD_VERSION);
                assert_eq!(c.config.network, want, "v{version} {net:?}");
                let ports = &c.config.publish;
                assert_eq!(ports.len(), 3, "v{version}");
                assert_eq!(
                    (
                        ports[0].host_ip.as_str(),
                        ports[0].host_port,
                        ports[0].count
                    ),
                    ("127.0.0.1", 8080, 2)
                );
                assert_eq!(ports[0].protocol, "udp");
                assert_eq!((ports[1].host_ip.as_str(), ports[1].host_port), ("::1", 0));
                assert_eq!(
                    (ports[2].container_port, ports[2].protocol.as_str()),
                    (9090, "tcp")
                );
                // Written back as version 3, it reads back the same.
                let again = decode(p, &serde_json::to_vec(&c).unwrap()).unwrap();
                assert_eq!(again.config.network, c.config.network);
                assert_eq!(again.config.publish, c.config.publish);
            }
            let e = decode(p, &with_network(version, "", &["80/sctp"]))
                .unwrap_err()
                .to_string();
            assert!(
                e.starts_with(
                    "cannot upgrade container record /x/container.json: parsing port \"80/sctp\""
                ),
                "v{version}: {e}"
            );
            assert!(!e.contains('\n'), "{e}");
            let e = decode(p, &with_network(version, "weird:thing", &[]))
                .unwrap_err()
                .to_string();
            assert!(
                e.starts_with("cannot upgrade container record /x/container.json: invalid network \"weird:thing\""),
                "v{version}: {e}"
            );
        }
    }

    #[test]
    fn records_of_a_newer_version_or_bad_strings_are_refused_by_name() {
        let p = Path::new("/x/container.json");
        let newer = V1_RECORD.replacen('{', "{\"version\": 9,", 1);
        let e = decode(p, newer.as_bytes()).unwrap_err().to_string();
        assert!(e.contains("/x/container.json has version 9"), "{e}");
        let bad = V1_RECORD.replace("on-failure:2", "sometimes");
        let e = decode(p, bad.as_bytes()).unwrap_err().to_string();
        assert!(
            e.starts_with(
                "cannot upgrade container record /x/container.json: invalid restart policy"
            ),
            "{e}"
        );
        let e = decode(p, b"{").unwrap_err().to_string();
        assert!(e.starts_with("corrupt record /x/container.json"), "{e}");
    }
}
