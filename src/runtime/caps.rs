//! Capability sets: Podman's defaults, `--cap-add`, `--cap-drop`, `--privileged`.

use std::str::FromStr;

use caps::Capability;

use super::{Error, Result};

/// Podman's default capabilities for a container (Podman 4.x).
pub const DEFAULT: &[Capability] = &[
    Capability::CAP_CHOWN,
    Capability::CAP_DAC_OVERRIDE,
    Capability::CAP_FOWNER,
    Capability::CAP_FSETID,
    Capability::CAP_KILL,
    Capability::CAP_NET_BIND_SERVICE,
    Capability::CAP_SETFCAP,
    Capability::CAP_SETGID,
    Capability::CAP_SETPCAP,
    Capability::CAP_SETUID,
    Capability::CAP_SYS_CHROOT,
];

/// Parses `net_admin`, `NET_ADMIN` or `CAP_NET_ADMIN`.
pub fn parse(name: &str) -> Result<Capability> {
    let upper = name.trim().to_ascii_uppercase();
    let full = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    Capability::from_str(&full).map_err(|_| Error::Msg(format!("unknown capability \"{name}\"")))
}

/// The effective set for a container: the defaults (containers.conf's
/// `default_capabilities`, else [`DEFAULT`]; all when privileged), then
/// drops, then adds, as Docker orders them; `ALL` works in both.
pub fn resolve(privileged: bool, add: &[String], drop: &[String]) -> Result<Vec<Capability>> {
    let defaults = crate::config::get()
        .containers
        .default_capabilities
        .as_deref();
    resolve_from(defaults.unwrap_or(DEFAULT), privileged, add, drop)
}

/// [`resolve`] from the given default set.
fn resolve_from(
    defaults: &[Capability],
    privileged: bool,
    add: &[String],
    drop: &[String],
) -> Result<Vec<Capability>> {
    let all: Vec<Capability> = caps::all().into_iter().collect();
    let mut set: Vec<Capability> = if privileged {
        all.clone()
    } else {
        defaults.to_vec()
    };
    for d in drop {
        if d.eq_ignore_ascii_case("all") {
            set.clear();
        } else {
            let c = parse(d)?;
            set.retain(|x| *x != c);
        }
    }
    for a in add {
        if a.eq_ignore_ascii_case("all") {
            set = all.clone();
        } else {
            let c = parse(a)?;
            if !set.contains(&c) {
                set.push(c);
            }
        }
    }
    set.sort_by_key(|c| c.index());
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_add_drop() {
        let s = resolve(false, &["net_admin".into()], &["CAP_KILL".into()]).unwrap();
        assert!(s.contains(&Capability::CAP_NET_ADMIN));
        assert!(!s.contains(&Capability::CAP_KILL));
        assert!(s.contains(&Capability::CAP_CHOWN));
    }

    #[test]
    fn drop_all_then_add() {
        let s = resolve(false, &["chown".into()], &["all".into()]).unwrap();
        assert_eq!(s, vec![Capability::CAP_CHOWN]);
    }

    #[test]
    fn privileged_has_all() {
        let s = resolve(true, &[], &[]).unwrap();
        assert!(s.contains(&Capability::CAP_SYS_ADMIN));
    }

    #[test]
    fn unknown_is_an_error() {
        let e = resolve(false, &["FOO".into()], &[]).unwrap_err();
        assert_eq!(e.to_string(), "unknown capability \"FOO\"");
    }
}
