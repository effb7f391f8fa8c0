//! Subordinate id ranges (/etc/subuid, /etc/subgid) and the uid/gid maps of
//! the user namespace built from them.

use std::path::Path;
use std::process::Command;

use super::{Error, Result};

/// One line of a uid_map/gid_map: `inside outside count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IdMap {
    pub inside: u32,
    pub outside: u32,
    pub count: u32,
}

/// Subordinate ranges of `user` (name or numeric id) in a subuid/subgid file's text.
pub fn parse_subids(text: &str, user: &str, id: u32) -> Vec<(u32, u32)> {
    let id = id.to_string();
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                return None;
            }
            let mut parts = line.split(':');
            let owner = parts.next()?;
            let start = parts.next()?.trim().parse::<u32>().ok()?;
            let count = parts.next()?.trim().parse::<u32>().ok()?;
            (owner == user || owner == id).then_some((start, count))
        })
        .filter(|&(_, count)| count > 0)
        .collect()
}

/// The maps skiff uses: container 0 is the user, 1.. the subordinate ranges in order.
pub fn build_maps(own: u32, ranges: &[(u32, u32)]) -> Vec<IdMap> {
    let mut maps = vec![IdMap {
        inside: 0,
        outside: own,
        count: 1,
    }];
    let mut next = 1u32;
    for &(start, count) in ranges {
        maps.push(IdMap {
            inside: next,
            outside: start,
            count,
        });
        next = next.saturating_add(count);
    }
    maps
}

/// The map of a user namespace nested in skiff's (`--userns keep-id`,
/// `nomap`): container ids on the ids of skiff's namespace (`outside`),
/// which has `available` ids, 0 (the user) to `available - 1`.
///
/// With `keep` = Some(K) (keep-id) container id K is the user (0), the
/// container's 0..K on 1..=K and the rest after, as Podman's keep-id;
/// `size` then limits the container's ids to 0..size (K is always mapped).
/// With `keep` = None (nomap) the container's 0.. is on 1.., the user is
/// not mapped. Fails when nothing but the user could be mapped for nomap.
pub fn nested_maps(keep: Option<u32>, size: Option<u32>, available: u32) -> Result<Vec<IdMap>> {
    let subordinate = available.saturating_sub(1);
    let Some(k) = keep else {
        if subordinate == 0 {
            return Err(Error::Msg(
                "--userns nomap: no subordinate ids to map: add a range to /etc/subuid and /etc/subgid"
                    .into(),
            ));
        }
        return Ok(vec![IdMap {
            inside: 0,
            outside: 1,
            count: size.map_or(subordinate, |s| s.min(subordinate)),
        }]);
    };
    let limit = size.unwrap_or(u32::MAX);
    let mut maps = vec![IdMap {
        inside: k,
        outside: 0,
        count: 1,
    }];
    // Container 0..k on 1..=k, as far as the subordinate ids and size go.
    let below = k.min(subordinate).min(limit);
    if below > 0 {
        maps.push(IdMap {
            inside: 0,
            outside: 1,
            count: below,
        });
    }
    // Container k+1.. on k+1.., the same ids on both sides.
    if let Some(above) = k.checked_add(1).filter(|a| *a <= subordinate && *a < limit) {
        maps.push(IdMap {
            inside: above,
            outside: above,
            count: (subordinate - above + 1).min(limit - above),
        });
    }
    Ok(maps)
}

/// `map` (a nested namespace's, `outside` ids of the namespace whose own
/// map is `parent`) with each range cut where `parent`'s ranges meet: the
/// kernel takes a line only when its outside ids lie in one line of the
/// parent's map (EPERM otherwise), so `0 0 65537` over a parent of `0 U 1`
/// and `1 S 65536` is written `0 0 1` and `1 1 65536`. Ids the parent does
/// not map are left in one piece (the kernel refuses them).
pub fn split_at_parent(map: &[IdMap], parent: &[IdMap]) -> Vec<IdMap> {
    let mut bounds: Vec<u64> = parent
        .iter()
        .flat_map(|p| {
            [
                u64::from(p.inside),
                u64::from(p.inside) + u64::from(p.count),
            ]
        })
        .collect();
    bounds.sort_unstable();
    bounds.dedup();
    let mut out = Vec::new();
    for m in map {
        let (start, end) = (
            u64::from(m.outside),
            u64::from(m.outside) + u64::from(m.count),
        );
        let mut at = start;
        for &b in bounds.iter().filter(|&&b| b > start && b < end) {
            out.push(IdMap {
                inside: m.inside + (at - u64::from(m.outside)) as u32,
                outside: at as u32,
                count: (b - at) as u32,
            });
            at = b;
        }
        out.push(IdMap {
            inside: m.inside + (at - u64::from(m.outside)) as u32,
            outside: at as u32,
            count: (end - at) as u32,
        });
    }
    out
}

/// How many ids the calling process's user namespace maps: the sum of
/// the counts in /proc/self/uid_map (or gid_map, `file`).
pub fn mapped_count(file: &str) -> u32 {
    let text = std::fs::read_to_string(format!("/proc/self/{file}")).unwrap_or_default();
    parse_map_text(&text)
        .iter()
        .fold(0u32, |n, m| n.saturating_add(m.count))
}

/// Where container id `id` lands outside a namespace mapped by `maps`.
pub fn map_id(maps: &[IdMap], id: u32) -> Option<u32> {
    maps.iter()
        .find(|m| id >= m.inside && id - m.inside < m.count)
        .map(|m| m.outside + (id - m.inside))
}

/// Reads the user's subordinate ranges from `file` (missing file = no ranges).
pub fn subids(file: &Path, user: &str, id: u32) -> Vec<(u32, u32)> {
    std::fs::read_to_string(file)
        .map(|t| parse_subids(&t, user, id))
        .unwrap_or_default()
}

/// Writes the maps of process `pid` with the setuid helper (`newuidmap` or
/// `newgidmap`), checking its exit status and reporting its own words on failure.
pub fn apply_with_helper(helper: &str, pid: i32, maps: &[IdMap]) -> Result<()> {
    let mut cmd = Command::new(helper);
    tracing::debug!("running {helper} for process {pid}");
    cmd.arg(pid.to_string());
    for m in maps {
        cmd.args([
            m.inside.to_string(),
            m.outside.to_string(),
            m.count.to_string(),
        ]);
    }
    let out = cmd.output().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::Msg(format!(
                "{helper}: not found: install the uidmap package (apt install uidmap)"
            ))
        } else {
            Error::Msg(format!("{helper}: {e}"))
        }
    })?;
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr);
        let why = why.trim().lines().last().unwrap_or("").trim();
        return Err(Error::Msg(format!(
            "{helper} failed ({}): {why}; check /etc/subuid and /etc/subgid and that {helper} is setuid root",
            out.status
        )));
    }
    Ok(())
}

/// Formats maps as the kernel's uid_map text.
pub fn map_text(maps: &[IdMap]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.inside, m.outside, m.count))
        .collect()
}

/// Parses the kernel's uid_map text.
pub fn parse_map_text(text: &str) -> Vec<IdMap> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace().map(|x| x.parse::<u32>());
            Some(IdMap {
                inside: it.next()?.ok()?,
                outside: it.next()?.ok()?,
                count: it.next()?.ok()?,
            })
        })
        .collect()
}

/// The calling process's effective uid as the host (the initial user
/// namespace) sees it: in skiff's rootless namespace uid 0 is the user, and
/// paths named after the user (`user@UID.service`) need the host's number.
/// Only one level of nesting is translated, which is what skiff makes.
pub fn host_uid() -> u32 {
    host_id("uid_map", nix::unistd::geteuid().as_raw())
}

/// [`host_uid`] for the effective gid.
pub fn host_gid() -> u32 {
    host_id("gid_map", nix::unistd::getegid().as_raw())
}

/// `id` of this process's user namespace as its parent sees it, by
/// /proc/self/`file`; `id` itself when unmapped or unreadable.
fn host_id(file: &str, id: u32) -> u32 {
    let map = std::fs::read_to_string(format!("/proc/self/{file}")).unwrap_or_default();
    map_id(&parse_map_text(&map), id).unwrap_or(id)
}

/// What [`in_initial_userns`] last found: 0 not known, 1 yes, 2 no.
static INITIAL_USERNS: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

/// True when the calling process is in the initial user namespace (the
/// identity map covering every id). Read from /proc/self/uid_map once per
/// process and kept until [`userns_changed`] says it may have changed.
pub fn in_initial_userns() -> bool {
    use std::sync::atomic::Ordering;
    match INITIAL_USERNS.load(Ordering::Relaxed) {
        1 => return true,
        2 => return false,
        _ => {}
    }
    let initial = match std::fs::read_to_string("/proc/self/uid_map") {
        Ok(t) => {
            parse_map_text(&t)
                == vec![IdMap {
                    inside: 0,
                    outside: 0,
                    count: u32::MAX,
                }]
        }
        Err(_) => true,
    };
    INITIAL_USERNS.store(if initial { 1 } else { 2 }, Ordering::Relaxed);
    initial
}

/// Forgets what [`in_initial_userns`] found: every place that moves this
/// process into another user namespace (setns, unshare) calls it.
/// Async-signal-safe (one atomic store), so a forked child may call it.
pub fn userns_changed() {
    INITIAL_USERNS.store(0, std::sync::atomic::Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_by_name_and_id_and_skips_others() {
        let t = "# comment\nalice:100000:65536\nbob:200000:65536\n1001:300000:1000\nalice:bad:1\n";
        assert_eq!(parse_subids(t, "alice", 1000), vec![(100000, 65536)]);
        assert_eq!(parse_subids(t, "carol", 1001), vec![(300000, 1000)]);
        assert!(parse_subids(t, "dave", 1002).is_empty());
    }

    #[test]
    fn ranges_are_cut_where_the_parents_lines_meet() {
        let parent = parse_map_text("0 1000 1\n1 100000 65536\n");
        let m = parse_map_text("0 0 65537\n70000 5 10\n");
        assert_eq!(
            map_text(&split_at_parent(&m, &parent)),
            "0 0 1\n1 1 65536\n70000 5 10\n"
        );
        let m = parse_map_text("100 65530 10\n");
        assert_eq!(
            map_text(&split_at_parent(&m, &parent)),
            "100 65530 7\n107 65537 3\n"
        );
    }

    #[test]
    fn keep_id_puts_the_user_on_its_own_uid() {
        let m = nested_maps(Some(1000), None, 65537).unwrap();
        assert_eq!(
            map_text(&m),
            "1000 0 1\n0 1 1000\n1001 1001 64536\n",
            "{m:?}"
        );
        assert_eq!(map_id(&m, 1000), Some(0));
        assert_eq!(map_id(&m, 0), Some(1));
        assert_eq!(map_id(&m, 999), Some(1000));
        assert_eq!(map_id(&m, 1001), Some(1001));
        assert_eq!(map_id(&m, 65536), Some(65536));
        assert_eq!(map_id(&m, 65537), None);
        // Container 0 is the user: nothing below it.
        assert_eq!(
            map_text(&nested_maps(Some(0), None, 11).unwrap()),
            "0 0 1\n1 1 10\n"
        );
        // A uid beyond the subordinate ids: all of them below it.
        assert_eq!(
            map_text(&nested_maps(Some(100000), None, 11).unwrap()),
            "100000 0 1\n0 1 10\n"
        );
        // size limits the container's ids.
        assert_eq!(
            map_text(&nested_maps(Some(5), Some(8), 65537).unwrap()),
            "5 0 1\n0 1 5\n6 6 2\n"
        );
        // Without subordinate ids only the user is mapped.
        assert_eq!(
            map_text(&nested_maps(Some(1000), None, 1).unwrap()),
            "1000 0 1\n"
        );
    }

    #[test]
    fn nomap_leaves_the_user_out() {
        let m = nested_maps(None, None, 65537).unwrap();
        assert_eq!(map_text(&m), "0 1 65536\n");
        assert_eq!(map_id(&m, 0), Some(1));
        assert!(nested_maps(None, None, 1).is_err());
    }

    #[test]
    fn maps_user_to_root_and_ranges_after() {
        let m = build_maps(1000, &[(100000, 65536), (300000, 10)]);
        assert_eq!(map_text(&m), "0 1000 1\n1 100000 65536\n65537 300000 10\n");
        assert_eq!(parse_map_text(&map_text(&m)), m);
    }
}
