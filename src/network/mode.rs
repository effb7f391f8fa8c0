//! The `--network` value of a container: which namespace it gets and what
//! connects it. Pure parsing; the rest of the module acts on it.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::slirp4netns;
use crate::{Error, Result};

/// Name of the built-in bridge network (Podman's `podman`).
pub const DEFAULT_NETWORK: &str = "podman";

/// A resolved network mode. Stored in the container record (version 3) as
/// `{"kind": "pasta", "value": [...]}` (`kind` alone for `none` and `host`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Mode {
    /// Only loopback.
    None,
    /// The host's network namespace.
    Host,
    /// A new namespace connected by pasta, with extra pasta arguments.
    Pasta(Vec<String>),
    /// A new namespace connected by slirp4netns.
    Slirp(slirp4netns::Options),
    /// Another container's namespace (`container:NAME|ID`).
    Container(String),
    /// A namespace given by path (`ns:PATH`).
    Ns(PathBuf),
    /// One or more user-defined (bridge) networks, by name.
    Bridge(Vec<String>),
}

impl Mode {
    /// Whether the container gets its own namespace that attach connects.
    pub fn owns_namespace(&self) -> bool {
        matches!(self, Mode::Pasta(_) | Mode::Slirp(_) | Mode::Bridge(_))
    }

    /// Podman's `NetworkMode` word for inspect.
    pub fn name(&self) -> String {
        match self {
            Mode::None => "none".into(),
            Mode::Host => "host".into(),
            Mode::Pasta(_) => "pasta".into(),
            Mode::Slirp(_) => "slirp4netns".into(),
            Mode::Container(c) => format!("container:{c}"),
            Mode::Ns(p) => format!("ns:{}", p.display()),
            Mode::Bridge(_) => "bridge".into(),
        }
    }
}

/// The `--network` of a container as `create` parsed it. The default mode is
/// kept unresolved: it becomes pasta or slirp4netns depending on which
/// helper is installed when the container starts (and `detach` relies on
/// that). Stored as `"default"` or `{"explicit": MODE}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NetworkChoice {
    /// No `--network` (or `private`, `default`): pasta when installed, else slirp4netns.
    #[default]
    Default,
    /// A mode given explicitly.
    Explicit(Mode),
}

impl NetworkChoice {
    /// Parses `--network` ("" is the default). Errors: one line naming the value.
    pub fn parse(s: &str) -> Result<NetworkChoice> {
        match s {
            "" | "private" | "default" => Ok(NetworkChoice::Default),
            _ => parse(s, true).map(NetworkChoice::Explicit),
        }
    }

    /// The mode to use now, given whether pasta is installed.
    pub fn resolve(&self, pasta_installed: bool) -> Mode {
        match self {
            NetworkChoice::Default => default_mode(pasta_installed),
            NetworkChoice::Explicit(m) => m.clone(),
        }
    }
}

/// The default for a rootless container: pasta when installed, else slirp4netns.
pub fn default_mode(pasta_installed: bool) -> Mode {
    if pasta_installed {
        Mode::Pasta(Vec::new())
    } else {
        Mode::Slirp(slirp4netns::Options::default())
    }
}

/// Parses `--network` ("" is the default).
pub fn parse(s: &str, pasta_installed: bool) -> Result<Mode> {
    let (kind, opts) = match s.split_once(':') {
        Some((k, o)) => (k, Some(o)),
        None => (s, None),
    };
    Ok(match (kind, opts) {
        ("", None) | ("private", None) | ("default", None) => default_mode(pasta_installed),
        ("none", None) => Mode::None,
        ("host", None) => Mode::Host,
        ("pasta", o) => Mode::Pasta(
            o.unwrap_or("")
                .split(',')
                .filter(|a| !a.is_empty())
                .map(String::from)
                .collect(),
        ),
        ("slirp4netns", o) => Mode::Slirp(slirp4netns::parse_options(o.unwrap_or(""))?),
        ("container", Some(c)) if !c.is_empty() => Mode::Container(c.to_string()),
        ("ns", Some(p)) if p.starts_with('/') => Mode::Ns(PathBuf::from(p)),
        ("ns", _) => {
            return Err(Error::msg(format!(
                "invalid network {s:?}: ns: needs an absolute path to a network namespace"
            )))
        }
        ("container", _) => {
            return Err(Error::msg(format!(
                "invalid network {s:?}: container: needs a container name or id"
            )))
        }
        ("bridge", None) => Mode::Bridge(vec![DEFAULT_NETWORK.into()]),
        _ if opts.is_none() => Mode::Bridge(
            s.split(',')
                .filter(|n| !n.is_empty())
                .map(String::from)
                .collect(),
        ),
        _ => {
            return Err(Error::msg(format!(
                "invalid network {s:?}: use none, host, private, pasta, slirp4netns[:OPTIONS], container:NAME, ns:PATH or a network name"
            )))
        }
    })
}

/// Takes Podman 4's per-network options off `--network` values
/// (`NAME:alias=x,alias=y`, as podman-compose writes them): returns the
/// values without them and the aliases. Mode values (`pasta:...`,
/// `container:...`) are left as they are. Options skiff cannot honour
/// (`ip=`, `ip6=`, `mac=`, `interface_name=`) are refused, never ignored.
/// The aliases apply to every network of the container (skiff keeps one
/// list), where Podman keeps them per network.
pub fn take_network_options(values: &[String]) -> Result<(Vec<String>, Vec<String>)> {
    const MODES: [&str; 9] = [
        "pasta",
        "slirp4netns",
        "container",
        "ns",
        "none",
        "host",
        "private",
        "default",
        "bridge",
    ];
    let mut plain = Vec::new();
    let mut aliases = Vec::new();
    for v in values {
        let Some((name, opts)) = v.split_once(':').filter(|(n, _)| !MODES.contains(n)) else {
            plain.push(v.clone());
            continue;
        };
        for opt in opts.split(',').filter(|o| !o.is_empty()) {
            match opt.split_once('=') {
                Some(("alias", a)) if !a.is_empty() => aliases.push(a.to_string()),
                Some((key @ ("ip" | "ip6" | "mac" | "interface_name"), _)) => {
                    return Err(Error::msg(format!(
                        "invalid network {v:?}: the {key}= option is not supported"
                    )))
                }
                _ => {
                    return Err(Error::msg(format!(
                        "invalid network {v:?}: unknown option {opt:?}; use alias=NAME"
                    )))
                }
            }
        }
        plain.push(name.to_string());
    }
    Ok((plain, aliases))
}

/// Joins the values of a repeated `--network` flag into the one value the
/// container record keeps: `--network a --network b` is `a,b` (the container
/// is attached to both, as Podman does). Only network names combine; a mode
/// such as `host`, `none`, `pasta` or `container:NAME` must come alone.
/// `None` when the flag was not given; a name given twice counts once.
pub fn join_flags(values: &[String]) -> Result<Option<String>> {
    match values {
        [] => return Ok(None),
        [one] => return Ok(Some(one.clone())),
        _ => {}
    }
    let mut names: Vec<String> = Vec::new();
    for v in values {
        match parse(v, true)? {
            Mode::Bridge(ns) => {
                for n in ns {
                    if !names.contains(&n) {
                        names.push(n);
                    }
                }
            }
            m => {
                return Err(Error::msg(format!(
                    "invalid network {v:?}: --network {} cannot be combined with other networks; only network names can be given more than once",
                    m.name()
                )))
            }
        }
    }
    Ok(Some(names.join(",")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_network_options_of_podman_4() {
        let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let (plain, aliases) =
            take_network_options(&v(&["web:alias=a,alias=b", "db", "pasta:-I,x"])).unwrap();
        assert_eq!(plain, v(&["web", "db", "pasta:-I,x"]));
        assert_eq!(aliases, v(&["a", "b"]));
        let e = take_network_options(&v(&["web:ip=10.0.0.2"]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("ip= option is not supported"), "{e}");
        assert!(take_network_options(&v(&["web:bogus"])).is_err());
    }

    #[test]
    fn repeated_network_flags_join() {
        let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(join_flags(&[]).unwrap(), None);
        assert_eq!(join_flags(&v(&["host"])).unwrap().as_deref(), Some("host"));
        assert_eq!(
            join_flags(&v(&["a", "b", "a"])).unwrap().as_deref(),
            Some("a,b")
        );
        assert_eq!(
            join_flags(&v(&["a,b", "c"])).unwrap().as_deref(),
            Some("a,b,c")
        );
        assert_eq!(
            parse(&join_flags(&v(&["a", "b"])).unwrap().unwrap(), true).unwrap(),
            Mode::Bridge(vec!["a".into(), "b".into()])
        );
        for bad in [
            &["a", "host"][..],
            &["none", "a"],
            &["a", "container:web"],
            &["pasta", "b"],
        ] {
            let e = join_flags(&v(bad)).unwrap_err().to_string();
            assert!(e.contains("cannot be combined"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn modes() {
        assert_eq!(parse("", true).unwrap(), Mode::Pasta(vec![]));
        assert!(matches!(parse("", false).unwrap(), Mode::Slirp(_)));
        assert_eq!(parse("none", true).unwrap(), Mode::None);
        assert_eq!(parse("host", true).unwrap(), Mode::Host);
        assert_eq!(
            parse("container:web", true).unwrap(),
            Mode::Container("web".into())
        );
        assert_eq!(
            parse("ns:/run/netns/x", true).unwrap(),
            Mode::Ns("/run/netns/x".into())
        );
        assert!(parse("ns:rel", true).is_err());
        assert!(parse("container:", true).is_err());
        assert_eq!(
            parse("a,b", true).unwrap(),
            Mode::Bridge(vec!["a".into(), "b".into()])
        );
        let Mode::Slirp(o) = parse("slirp4netns:allow_host_loopback=false", true).unwrap() else {
            panic!()
        };
        assert!(!o.allow_host_loopback);
        assert!(parse("weird:thing", true).is_err());
    }

    #[test]
    fn choices_keep_the_default_unresolved_and_round_trip() {
        for d in ["", "private", "default"] {
            let c = NetworkChoice::parse(d).unwrap();
            assert_eq!(c, NetworkChoice::Default);
            assert_eq!(c.resolve(true), Mode::Pasta(vec![]));
            assert!(matches!(c.resolve(false), Mode::Slirp(_)));
        }
        for s in [
            "none",
            "host",
            "pasta:-T,8080",
            "slirp4netns:allow_host_loopback=false,mtu=1500",
            "container:web",
            "ns:/run/netns/x",
            "a,b",
        ] {
            let c = NetworkChoice::parse(s).unwrap();
            assert_eq!(c.resolve(false), parse(s, true).unwrap(), "{s}");
            let json = serde_json::to_string(&c).unwrap();
            let back: NetworkChoice = serde_json::from_str(&json).unwrap();
            assert_eq!(back, c, "{s}: {json}");
        }
        assert_eq!(
            serde_json::to_string(&NetworkChoice::parse("none").unwrap()).unwrap(),
            r#"{"explicit":{"kind":"none"}}"#
        );
        assert!(NetworkChoice::parse("weird:thing").is_err());
    }
}
