//! `--change` values (`CMD ["/bin/sh"]`, `ENV A=1`, `EXPOSE 80/tcp`, ...):
//! parsing them and applying them to an image configuration.

use std::collections::HashMap;

use oci_spec::image::{Config, ImageConfiguration};

use super::{Error, Result};

/// One parsed `--change` instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Cmd(Vec<String>),
    Entrypoint(Vec<String>),
    Env(Vec<(String, String)>),
    Workdir(String),
    User(String),
    Expose(Vec<String>),
    Label(Vec<(String, String)>),
    Volume(Vec<String>),
    StopSignal(String),
}

fn bad(value: &str, why: &str) -> Error {
    Error::Msg(format!("invalid change {value:?}: {why}"))
}

/// Parses one `--change` value.
pub fn parse(value: &str) -> Result<Change> {
    let trimmed = value.trim();
    let (instr, rest) = match trimmed.split_once(|c: char| c.is_whitespace()) {
        Some((i, r)) => (i, r.trim()),
        None => (trimmed, ""),
    };
    if instr.is_empty() {
        return Err(bad(value, "empty instruction"));
    }
    let upper = instr.to_ascii_uppercase();
    if rest.is_empty() {
        return Err(bad(value, &format!("{upper} needs an argument")));
    }
    let change = match upper.as_str() {
        "CMD" => Change::Cmd(exec_or_shell(rest)),
        "ENTRYPOINT" => Change::Entrypoint(exec_or_shell(rest)),
        "ENV" => Change::Env(pairs(value, rest)?),
        "LABEL" => Change::Label(pairs(value, rest)?),
        "WORKDIR" => Change::Workdir(rest.to_string()),
        "USER" => Change::User(rest.to_string()),
        "STOPSIGNAL" => Change::StopSignal(rest.to_string()),
        "EXPOSE" => {
            let mut ports = Vec::new();
            for w in words(rest).map_err(|e| bad(value, e))? {
                ports.push(port(&w).ok_or_else(|| bad(value, &format!("invalid port {w:?}")))?);
            }
            Change::Expose(ports)
        }
        "VOLUME" => {
            let vols = match serde_json::from_str::<Vec<String>>(rest) {
                Ok(v) if rest.starts_with('[') => v,
                _ => words(rest).map_err(|e| bad(value, e))?,
            };
            if let Some(v) = vols.iter().find(|v| !v.starts_with('/')) {
                return Err(bad(value, &format!("volume {v:?} is not an absolute path")));
            }
            Change::Volume(vols)
        }
        _ => {
            return Err(bad(
                value,
                &format!(
                    "unknown instruction {instr}: use CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME or WORKDIR"
                ),
            ))
        }
    };
    Ok(change)
}

/// `["a","b"]` (exec form) or `a b` (shell form, run by `/bin/sh -c`).
/// Like Docker, text that is not a JSON string array is shell form.
fn exec_or_shell(rest: &str) -> Vec<String> {
    if rest.starts_with('[') {
        if let Ok(v) = serde_json::from_str::<Vec<String>>(rest) {
            return v;
        }
    }
    vec!["/bin/sh".into(), "-c".into(), rest.into()]
}

/// `K=V K2="v 2"` or the legacy single-pair `K V...` form.
fn pairs(value: &str, rest: &str) -> Result<Vec<(String, String)>> {
    let ws = words(rest).map_err(|e| bad(value, e))?;
    let first = ws.first().cloned().unwrap_or_default();
    let mut out = Vec::new();
    if first.contains('=') {
        for w in ws {
            let Some((k, v)) = w.split_once('=') else {
                return Err(bad(value, &format!("{w:?} is not KEY=VALUE")));
            };
            if k.is_empty() {
                return Err(bad(value, "empty key"));
            }
            out.push((k.to_string(), v.to_string()));
        }
    } else {
        // `ENV A 1 2`: the value is the rest of the line as written.
        let (k, v) = rest
            .split_once(|c: char| c.is_whitespace())
            .map(|(k, v)| (k, v.trim()))
            .unwrap_or((rest, ""));
        if v.is_empty() {
            return Err(bad(value, &format!("{k:?} has no value")));
        }
        out.push((k.to_string(), v.to_string()));
    }
    Ok(out)
}

/// Splits on whitespace, honouring "double" and 'single' quotes and
/// backslash escapes, as a Containerfile does.
fn words(s: &str) -> std::result::Result<Vec<String>, &'static str> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(n) => cur.push(n),
                    None => return Err("trailing backslash"),
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(n) => cur.push(n),
                            None => return Err("unterminated quote"),
                        },
                        Some(n) => cur.push(n),
                        None => return Err("unterminated quote"),
                    }
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(n) => cur.push(n),
                        None => return Err("unterminated quote"),
                    }
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

/// `80`, `80/tcp`, `53/udp` -> `80/tcp`, `53/udp`.
fn port(w: &str) -> Option<String> {
    let (num, proto) = match w.split_once('/') {
        Some((n, p)) => (n, p.to_ascii_lowercase()),
        None => (w, "tcp".to_string()),
    };
    let n: u32 = num.parse().ok()?;
    if !(1..=65535).contains(&n) || !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return None;
    }
    Some(format!("{n}/{proto}"))
}

/// Applies parsed changes, in order, to an image configuration.
pub fn apply(config: &mut ImageConfiguration, changes: &[Change]) {
    let mut c: Config = config.config().clone().unwrap_or_default();
    for ch in changes {
        match ch {
            Change::Cmd(v) => {
                c.set_cmd(Some(v.clone()));
            }
            Change::Entrypoint(v) => {
                c.set_entrypoint(Some(v.clone()));
            }
            Change::Env(kvs) => {
                let mut env = c.env().clone().unwrap_or_default();
                for (k, v) in kvs {
                    let prefix = format!("{k}=");
                    env.retain(|e| !e.starts_with(&prefix) && e != k);
                    env.push(format!("{k}={v}"));
                }
                c.set_env(Some(env));
            }
            Change::Workdir(w) => {
                let base = c.working_dir().clone().unwrap_or_else(|| "/".into());
                let dir = if w.starts_with('/') {
                    w.clone()
                } else {
                    format!("{}/{w}", base.trim_end_matches('/'))
                };
                c.set_working_dir(Some(dir));
            }
            Change::User(u) => {
                c.set_user(Some(u.clone()));
            }
            Change::Expose(ports) => {
                let mut all = c.exposed_ports().clone().unwrap_or_default();
                for p in ports {
                    if !all.contains(p) {
                        all.push(p.clone());
                    }
                }
                c.set_exposed_ports(Some(all));
            }
            Change::Label(kvs) => {
                let mut labels: HashMap<String, String> = c.labels().clone().unwrap_or_default();
                for (k, v) in kvs {
                    labels.insert(k.clone(), v.clone());
                }
                c.set_labels(Some(labels));
            }
            Change::Volume(vols) => {
                let mut all = c.volumes().clone().unwrap_or_default();
                for v in vols {
                    if !all.contains(v) {
                        all.push(v.clone());
                    }
                }
                c.set_volumes(Some(all));
            }
            Change::StopSignal(s) => {
                c.set_stop_signal(Some(s.clone()));
            }
        }
    }
    config.set_config(Some(c));
}

/// Parses every value first (so that one bad value changes nothing), then
/// applies them.
pub fn apply_all(config: &mut ImageConfiguration, values: &[String]) -> Result<()> {
    let changes = values
        .iter()
        .map(|v| parse(v))
        .collect::<Result<Vec<_>>>()?;
    apply(config, &changes);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn cmd_and_entrypoint_forms() {
        assert_eq!(
            parse(r#"CMD ["/bin/sh"]"#).unwrap(),
            Change::Cmd(s(&["/bin/sh"]))
        );
        assert_eq!(
            parse("CMD /bin/sh -c x").unwrap(),
            Change::Cmd(s(&["/bin/sh", "-c", "/bin/sh -c x"]))
        );
        assert_eq!(
            parse(r#"entrypoint ["/bin/busybox", "httpd"]"#).unwrap(),
            Change::Entrypoint(s(&["/bin/busybox", "httpd"]))
        );
        // Not a string array: shell form, as Docker does.
        assert_eq!(
            parse("CMD [ -f /x ]").unwrap(),
            Change::Cmd(s(&["/bin/sh", "-c", "[ -f /x ]"]))
        );
    }

    #[test]
    fn env_and_label_forms() {
        assert_eq!(
            parse("ENV A=1 B=2").unwrap(),
            Change::Env(vec![("A".into(), "1".into()), ("B".into(), "2".into())])
        );
        assert_eq!(
            parse("ENV A 1 2").unwrap(),
            Change::Env(vec![("A".into(), "1 2".into())])
        );
        assert_eq!(
            parse(r#"ENV MSG="hello world" X='a b'"#).unwrap(),
            Change::Env(vec![
                ("MSG".into(), "hello world".into()),
                ("X".into(), "a b".into())
            ])
        );
        assert_eq!(
            parse("LABEL k=v").unwrap(),
            Change::Label(vec![("k".into(), "v".into())])
        );
    }

    #[test]
    fn expose_workdir_user() {
        assert_eq!(
            parse("EXPOSE 80/tcp 53/udp 8080").unwrap(),
            Change::Expose(s(&["80/tcp", "53/udp", "8080/tcp"]))
        );
        assert_eq!(
            parse("WORKDIR /srv").unwrap(),
            Change::Workdir("/srv".into())
        );
        assert_eq!(
            parse("USER 1000:1000").unwrap(),
            Change::User("1000:1000".into())
        );
    }

    #[test]
    fn malformed_values_name_themselves() {
        for (v, why) in [
            ("FROB x", "unknown instruction"),
            ("CMD", "needs an argument"),
            ("EXPOSE 99999", "invalid port"),
            ("EXPOSE 80/xyz", "invalid port"),
            ("ENV A=1 B", "is not KEY=VALUE"),
            ("ENV A", "has no value"),
            ("ENV A=\"x", "unterminated quote"),
            ("VOLUME data", "absolute"),
        ] {
            let e = parse(v).unwrap_err().to_string();
            assert!(e.starts_with(&format!("invalid change {v:?}")), "{e}");
            assert!(e.contains(why), "{e}");
            assert!(!e.contains('\n'));
        }
    }

    #[test]
    fn apply_updates_config() {
        let mut cfg = ImageConfiguration::default();
        let mut c = Config::default();
        c.set_env(Some(s(&["PATH=/bin", "A=old"])));
        cfg.set_config(Some(c));
        apply_all(
            &mut cfg,
            &s(&[
                "ENV A=new",
                r#"CMD ["sh"]"#,
                "WORKDIR /srv",
                "WORKDIR www",
                "EXPOSE 80",
                "EXPOSE 80/tcp",
                "LABEL a=b",
                "USER nobody",
            ]),
        )
        .unwrap();
        let c = cfg.config().clone().unwrap();
        assert_eq!(c.env().clone().unwrap(), s(&["PATH=/bin", "A=new"]));
        assert_eq!(c.cmd().clone().unwrap(), s(&["sh"]));
        assert_eq!(c.working_dir().as_deref(), Some("/srv/www"));
        assert_eq!(c.exposed_ports().clone().unwrap(), s(&["80/tcp"]));
        assert_eq!(c.labels().clone().unwrap()["a"], "b");
        assert_eq!(c.user().as_deref(), Some("nobody"));
        // One bad value changes nothing.
        let before = cfg.clone();
        assert!(apply_all(&mut cfg, &s(&["USER x", "NOPE"])).is_err());
        assert_eq!(cfg, before);
    }
}
