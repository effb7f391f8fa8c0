//! `--uidmap`, `--gidmap`, `--subuidname` and `--subgidname` as rootless
//! Podman 5 reads them (`pkg/util.ParseIDMapping`): the maps of a user
//! namespace of the container's own, nested in skiff's rootless one.
//!
//! A value is `[FLAGS]CONTAINER_ID:FROM_ID[:AMOUNT]` (AMOUNT 1 when left
//! out; several triples may follow each other in one value). FROM_ID is an
//! id of skiff's rootless namespace, the "intermediate" one (0 is the
//! user, 1.. the subordinate ids), or with `@` an id of the host, looked
//! up in that namespace's map. FLAGS: `u` (uids only), `g` (gids only), `+`
//! (break the ranges before it so that this one fits; given first, the
//! rest of the namespace's ids fill the container's ids around it).
//! `--uidmap` alone serves for gids too (and `--gidmap` alone for uids);
//! a kind left without a range gets all the namespace's ids, from 0.
//!
//! Podman leaves what the kernel refuses to the OCI runtime, at start;
//! skiff refuses it here, before anything is made: ids outside the
//! namespace, ranges that overlap, more ranges than the kernel takes.

use super::idmap::IdMap;

/// Which ids a map is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Uid,
    Gid,
}

impl Kind {
    fn word(self) -> &'static str {
        match self {
            Kind::Uid => "uid",
            Kind::Gid => "gid",
        }
    }

    fn subid_file(self) -> &'static str {
        match self {
            Kind::Uid => "/etc/subuid",
            Kind::Gid => "/etc/subgid",
        }
    }
}

/// The most lines a uid_map or gid_map may have (Linux 4.15 and later).
pub const MAX_RANGES: usize = 340;

/// The largest id a map may reach: (uid_t)-1 is never an id.
const LAST_ID: u64 = u32::MAX as u64 - 1;

/// One value as the user gave it, with the flag that gave it (for errors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Given {
    pub flag: String,
    pub value: String,
}

impl Given {
    pub fn new(flag: &str, value: &str) -> Given {
        Given {
            flag: flag.to_string(),
            value: value.to_string(),
        }
    }

    fn err(&self, why: impl std::fmt::Display) -> String {
        format!("{} {}: {why}", self.flag, self.value)
    }
}

/// What skiff's rootless namespace has, as the CLI reads it in that
/// namespace: its /proc/self/uid_map (or gid_map), `inside` the
/// intermediate ids, `outside` the host's.
#[derive(Debug, Clone, Copy)]
pub struct Parent<'a> {
    pub map: &'a [IdMap],
}

impl Parent<'_> {
    /// How many ids the namespace has: 0 to this minus one.
    fn available(&self) -> u64 {
        self.map.iter().map(|m| u64::from(m.count)).sum()
    }

    /// The intermediate id of host id `host` (the `@` form).
    fn of_host(&self, host: u64) -> Option<u64> {
        self.map.iter().find_map(|m| {
            let (out, n) = (u64::from(m.outside), u64::from(m.count));
            (host >= out && host - out < n).then(|| u64::from(m.inside) + host - out)
        })
    }

    /// `first`-`last`, the namespace's ids, for errors.
    fn span(&self) -> String {
        match self.available() {
            0 => "no ids".into(),
            n => format!("ids 0-{}", n - 1),
        }
    }
}

/// A range before it is checked: ids may be past u32 here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Range {
    cid: u64,
    hid: u64,
    size: u64,
}

#[derive(Debug, Clone, Copy, Default)]
struct Flags {
    extends: bool,
    user: bool,
    group: bool,
}

/// The uid and gid maps that the given `--uidmap`s, `--gidmap`s and
/// `--subuidname`/`--subgidname` ranges (already read from /etc/subuid and
/// /etc/subgid: `(NAME, [(start, count)])`) ask for, checked against
/// skiff's namespace (`uid_parent`, `gid_parent`). Errors (one line, naming
/// the flag and value): a malformed value, a host id the namespace does
/// not have, ids outside the namespace, overlapping ranges, too many.
pub fn parse(
    uidmap: &[Given],
    gidmap: &[Given],
    subuid: Option<(&str, &[(u32, u32)])>,
    subgid: Option<(&str, &[(u32, u32)])>,
    uid_parent: Parent<'_>,
    gid_parent: Parent<'_>,
) -> Result<(Vec<IdMap>, Vec<IdMap>), String> {
    // One kind's values serve for the other when it has none (Podman).
    let uid_specs = if uidmap.is_empty() { gidmap } else { uidmap };
    let gid_specs = if gidmap.is_empty() { uidmap } else { gidmap };
    let mut uids = parse_kind(uid_specs, Kind::Uid, uid_parent)?;
    let mut gids = parse_kind(gid_specs, Kind::Gid, gid_parent)?;
    // Rootless: a kind that got no range gets the namespace's ids.
    if !uids.is_empty() && gids.is_empty() {
        gids = fill(&[], &available(&[], gid_parent));
    } else if uids.is_empty() && !gids.is_empty() {
        uids = fill(&[], &available(&[], uid_parent));
    }
    // The /etc/subuid ranges come first, the flags' after (Podman).
    let mut uid_all = subid_ranges(subuid, Kind::Uid, uid_parent)?;
    uid_all.extend(uids);
    let mut gid_all = subid_ranges(subgid, Kind::Gid, gid_parent)?;
    gid_all.extend(gids);
    let flags = |specs: &[Given], sub: Option<(&str, &[(u32, u32)])>, sub_flag: &str| {
        let mut words: Vec<String> = specs
            .iter()
            .map(|g| format!("{} {}", g.flag, g.value))
            .collect();
        if let Some((name, _)) = sub {
            words.insert(0, format!("{sub_flag} {name}"));
        }
        words.join(" ")
    };
    let uids = finish(
        uid_all,
        Kind::Uid,
        &flags(uid_specs, subuid, "--subuidname"),
        uid_parent,
    )?;
    let gids = finish(
        gid_all,
        Kind::Gid,
        &flags(gid_specs, subgid, "--subgidname"),
        gid_parent,
    )?;
    Ok((uids, gids))
}

/// Podman's `ParseIDMap` for one kind: each value's triples, `+` ranges
/// broken in, the gaps filled when the first range extends.
fn parse_kind(specs: &[Given], kind: Kind, parent: Parent<'_>) -> Result<Vec<Range>, String> {
    let mut map: Vec<Range> = Vec::new();
    let mut fill_gaps = false;
    for g in specs {
        if g.value.is_empty() {
            continue;
        }
        let mut parts: Vec<&str> = g.value.split(':').collect();
        if parts.len() == 2 {
            parts.push("1");
        }
        if !parts.len().is_multiple_of(3) {
            return Err(g.err("invalid mapping: expected [+ug]CONTAINER_ID:[@]FROM_ID[:AMOUNT]"));
        }
        for triple in parts.chunks(3) {
            let (ranges, flags) = parse_triple(g, triple, kind, parent)?;
            let applies = match kind {
                Kind::Uid => flags.user,
                Kind::Gid => flags.group,
            };
            for r in ranges.into_iter().filter(|r| applies && r.size > 0) {
                if flags.extends {
                    fill_gaps |= map.is_empty();
                    map = break_insert(&map, r);
                } else {
                    map.push(r);
                }
            }
        }
    }
    if fill_gaps {
        map = fill(&map, &available(&map, parent));
    }
    Ok(map)
}

/// One `[FLAGS]CID:[@]HID:SIZE` triple: its ranges (one, or one per id
/// for `@`, each looked up) and flags.
fn parse_triple(
    g: &Given,
    t: &[&str],
    kind: Kind,
    parent: Parent<'_>,
) -> Result<(Vec<Range>, Flags), String> {
    let mut flags = Flags::default();
    let digits = t[0]
        .find(|c: char| c.is_ascii_digit())
        .unwrap_or(t[0].len());
    for c in t[0][..digits].chars() {
        match c {
            '+' => flags.extends = true,
            'u' => flags.user = true,
            'g' => flags.group = true,
            _ => return Err(g.err(format!("unknown flag {c:?}: use +, u or g"))),
        }
    }
    if !flags.user && !flags.group {
        flags.user = true;
        flags.group = true;
    }
    let number = |what: &str, s: &str| -> Result<u64, String> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(g.err(format!("invalid {what} {s:?}: expected a number")));
        }
        s.parse::<u32>()
            .map(u64::from)
            .map_err(|_| g.err(format!("invalid {what} {s:?}: larger than 4294967295")))
    };
    let cid = number("container id", &t[0][digits..])?;
    let (host, hid) = match t[1].strip_prefix('@') {
        Some(h) => (true, number("host id", h)?),
        None => (false, number("from id", t[1])?),
    };
    let size = number("amount", t[2])?;
    if cid + size > LAST_ID + 1 {
        return Err(g.err(format!(
            "container ids {cid}-{} go past the largest id, {LAST_ID}",
            cid + size - 1
        )));
    }
    let applies = match kind {
        Kind::Uid => flags.user,
        Kind::Gid => flags.group,
    };
    if !host {
        let end = hid + size;
        if size > 0 && end > parent.available() {
            return Err(g.err(format!(
                "from ids {hid}-{} are not all in skiff's rootless user namespace, which has {} ({} is your {}, the rest your {} ranges)",
                end - 1,
                parent.span(),
                0,
                kind.word(),
                kind.subid_file()
            )));
        }
        return Ok((vec![Range { cid, hid, size }], flags));
    }
    if !applies {
        return Ok((Vec::new(), flags));
    }
    let mut out = Vec::new();
    for i in 0..size {
        let Some(mid) = parent.of_host(hid + i) else {
            return Err(g.err(format!(
                "host {} {} is not mapped in skiff's rootless user namespace: only your own {} and your {} ranges are",
                kind.word(),
                hid + i,
                kind.word(),
                kind.subid_file()
            )));
        };
        out.push(Range {
            cid: cid + i,
            hid: mid,
            size: 1,
        });
    }
    Ok((out, flags))
}

/// `map` with the parts that overlap `ext` (in container or in from ids)
/// cut out, then `ext` appended (Podman's `breakInsert`).
fn break_insert(map: &[Range], ext: Range) -> Vec<Range> {
    let mut out = Vec::new();
    for p in map {
        // The ids of `p` (as offsets 0..p.size) that `ext` takes, on
        // either side.
        let cut = |start: u64, ext_start: u64| -> Option<(u64, u64)> {
            let lo = ext_start.max(start);
            let hi = (ext_start + ext.size).min(start + p.size);
            (lo < hi).then(|| (lo - start, hi - start))
        };
        let mut cuts: Vec<(u64, u64)> = [cut(p.cid, ext.cid), cut(p.hid, ext.hid)]
            .into_iter()
            .flatten()
            .collect();
        cuts.sort_unstable();
        let mut at = 0;
        for (lo, hi) in cuts {
            if lo > at {
                out.push(Range {
                    cid: p.cid + at,
                    hid: p.hid + at,
                    size: lo - at,
                });
            }
            at = at.max(hi);
        }
        if at < p.size {
            out.push(Range {
                cid: p.cid + at,
                hid: p.hid + at,
                size: p.size - at,
            });
        }
    }
    out.push(ext);
    out
}

/// The namespace's ids that `map` does not use, as [start, end) ranges in
/// order (Podman's `getAvailableIDRangesFromMappings`).
fn available(map: &[Range], parent: Parent<'_>) -> Vec<(u64, u64)> {
    let mut free: Vec<(u64, u64)> = parent
        .map
        .iter()
        .map(|m| {
            (
                u64::from(m.inside),
                u64::from(m.inside) + u64::from(m.count),
            )
        })
        .filter(|(a, b)| a < b)
        .collect();
    free.sort_unstable();
    for r in map {
        let (lo, hi) = (r.hid, r.hid + r.size);
        free = free
            .into_iter()
            .flat_map(|(a, b)| {
                let mut keep = Vec::new();
                if a < lo.min(b) {
                    keep.push((a, lo.min(b)));
                }
                if hi.max(a) < b {
                    keep.push((hi.max(a), b));
                }
                keep
            })
            .collect();
    }
    free
}

/// `map` with the container ids it leaves out, from 0 up, given the ids
/// in `free` in order, and after its last range the rest of `free`
/// (Podman's `fillIDMap`).
fn fill(map: &[Range], free: &[(u64, u64)]) -> Vec<Range> {
    let mut sorted = map.to_vec();
    sorted.sort_by_key(|r| r.cid);
    let mut free = free.iter().copied();
    let mut cur = free.next();
    let mut next_cid = 0u64;
    let mut out = Vec::new();
    let mut take = |want: Option<u64>, next_cid: &mut u64, out: &mut Vec<Range>| {
        while let Some((a, b)) = cur {
            let room = want.map_or(u64::MAX, |w| w.saturating_sub(*next_cid));
            if room == 0 {
                break;
            }
            let size = room.min(b - a).min(LAST_ID + 1 - *next_cid);
            if size == 0 {
                cur = None;
                break;
            }
            out.push(Range {
                cid: *next_cid,
                hid: a,
                size,
            });
            *next_cid += size;
            cur = (a + size < b)
                .then_some((a + size, b))
                .or_else(|| free.next());
        }
    };
    for r in sorted {
        take(Some(r.cid), &mut next_cid, &mut out);
        out.push(r);
        next_cid = next_cid.max(r.cid + r.size);
    }
    take(None, &mut next_cid, &mut out);
    out
}

/// The ranges of a `--subuidname`/`--subgidname` user, as Podman makes
/// them (`idtools.createIDMap`): sorted by start, on container ids from 0.
/// Rootless, Podman passes a range's start on as an id of the rootless
/// namespace, not of the host: a range outside it is refused here.
fn subid_ranges(
    sub: Option<(&str, &[(u32, u32)])>,
    kind: Kind,
    parent: Parent<'_>,
) -> Result<Vec<Range>, String> {
    let Some((name, ranges)) = sub else {
        return Ok(Vec::new());
    };
    let flag = match kind {
        Kind::Uid => "--subuidname",
        Kind::Gid => "--subgidname",
    };
    if ranges.is_empty() {
        return Err(format!(
            "no sub{} ranges found for {} {name:?} in {}",
            kind.word(),
            match kind {
                Kind::Uid => "user",
                Kind::Gid => "group",
            },
            kind.subid_file()
        ));
    }
    let mut sorted = ranges.to_vec();
    sorted.sort_unstable();
    let mut cid = 0u64;
    let mut out = Vec::new();
    for (start, count) in sorted {
        let (hid, size) = (u64::from(start), u64::from(count));
        if hid + size > parent.available() {
            return Err(format!(
                "{flag} {name}: its {} range {start}-{} is not in skiff's rootless user namespace, which has {}: rootless, Podman takes the range's ids as ids of that namespace, not of the host, so the ranges of {} cannot be mapped as they are; map ids of the namespace with --{}map (@ID for a host id)",
                kind.subid_file(),
                hid + size - 1,
                parent.span(),
                kind.subid_file(),
                kind.word()
            ));
        }
        out.push(Range { cid, hid, size });
        cid += size;
    }
    Ok(out)
}

/// The checked map: sorted by container id, consecutive ranges merged
/// (Podman's `sortAndMergeConsecutiveMappings`); refused when empty, when
/// two ranges overlap on either side, or longer than the kernel takes
/// (counted as written: cut where `parent`'s lines meet). `flags` names
/// what gave it, for errors.
fn finish(
    map: Vec<Range>,
    kind: Kind,
    flags: &str,
    parent: Parent<'_>,
) -> Result<Vec<IdMap>, String> {
    let mut sorted = map;
    sorted.sort_by_key(|r| (r.cid, r.hid));
    let mut merged: Vec<Range> = Vec::new();
    for r in sorted {
        match merged.last_mut() {
            Some(l) if l.cid + l.size == r.cid && l.hid + l.size == r.hid => l.size += r.size,
            _ => merged.push(r),
        }
    }
    if merged.is_empty() {
        return Err(format!("{flags}: no {}s to map", kind.word()));
    }
    for w in merged.windows(2) {
        if w[0].cid + w[0].size > w[1].cid {
            return Err(format!(
                "{flags}: container {} {} is mapped twice",
                kind.word(),
                w[1].cid
            ));
        }
    }
    let mut by_hid = merged.clone();
    by_hid.sort_by_key(|r| r.hid);
    for w in by_hid.windows(2) {
        if w[0].hid + w[0].size > w[1].hid {
            return Err(format!(
                "{flags}: {} {} of skiff's rootless user namespace is mapped twice",
                kind.word(),
                w[1].hid
            ));
        }
    }
    let map: Vec<IdMap> = merged
        .into_iter()
        .map(|r| IdMap {
            inside: r.cid as u32,
            outside: r.hid as u32,
            count: r.size as u32,
        })
        .collect();
    let lines = super::idmap::split_at_parent(&map, parent.map).len();
    if lines > MAX_RANGES {
        return Err(format!(
            "{flags}: {lines} {} ranges, more than the kernel takes ({MAX_RANGES})",
            kind.word()
        ));
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// skiff's namespace for a user 1000 with 100000:65536.
    const NS: [IdMap; 2] = [
        IdMap {
            inside: 0,
            outside: 1000,
            count: 1,
        },
        IdMap {
            inside: 1,
            outside: 100000,
            count: 65536,
        },
    ];

    fn ns() -> Parent<'static> {
        Parent { map: &NS }
    }

    fn text(m: &[IdMap]) -> String {
        super::super::idmap::map_text(m)
    }

    fn maps(uid: &[&str], gid: &[&str]) -> Result<(String, String), String> {
        let u: Vec<Given> = uid.iter().map(|v| Given::new("--uidmap", v)).collect();
        let g: Vec<Given> = gid.iter().map(|v| Given::new("--gidmap", v)).collect();
        parse(&u, &g, None, None, ns(), ns()).map(|(u, g)| (text(&u), text(&g)))
    }

    #[test]
    fn plain_ranges_and_the_other_kind() {
        // --uidmap alone serves for gids; AMOUNT defaults to 1.
        let (u, g) = maps(&["0:1:65536"], &[]).unwrap();
        assert_eq!(u, "0 1 65536\n");
        assert_eq!(g, u);
        let (u, g) = maps(&["1000:0"], &[]).unwrap();
        assert_eq!((u.as_str(), g.as_str()), ("1000 0 1\n", "1000 0 1\n"));
        // Two triples in one value, merged when consecutive.
        let (u, _) = maps(&["0:1:10:10:11:5"], &[]).unwrap();
        assert_eq!(u, "0 1 15\n");
        // Each kind its own.
        let (u, g) = maps(&["0:1:10"], &["0:20:5"]).unwrap();
        assert_eq!((u.as_str(), g.as_str()), ("0 1 10\n", "0 20 5\n"));
    }

    #[test]
    fn flags_u_g_and_extend() {
        // `g` ranges are not copied to uids; uids then get every id.
        let (u, g) = maps(&[], &["0:0:1000", "g2000:2000:1"]).unwrap();
        assert_eq!(u, "0 0 1000\n");
        assert_eq!(g, "0 0 1000\n2000 2000 1\n");
        // The man page's `+`: container 100000 on intermediate 1,
        // container 1 left out.
        let (u, _) = maps(&["0:0:65000", "+100000:1:1"], &[]).unwrap();
        assert_eq!(u, "0 0 1\n2 2 64998\n100000 1 1\n");
        // `+` first: the rest of the namespace fills the container's ids.
        let (u, g) = maps(&[], &["+g100000:@1000"]).unwrap();
        assert_eq!(g, "0 1 65536\n100000 0 1\n");
        assert_eq!(u, "0 0 65537\n");
    }

    #[test]
    fn host_ids_with_at() {
        let (u, _) = maps(&["0:@100000:2"], &[]).unwrap();
        assert_eq!(u, "0 1 2\n");
        let (u, _) = maps(&["5:@1000"], &[]).unwrap();
        assert_eq!(u, "5 0 1\n");
        let e = maps(&["0:@5000:1"], &[]).unwrap_err();
        assert_eq!(
            e,
            "--uidmap 0:@5000:1: host uid 5000 is not mapped in skiff's rootless user namespace: only your own uid and your /etc/subuid ranges are"
        );
        // The gid side of a --uidmap reports the flag the user gave.
        let e = maps(&["0:@165536:1"], &["0:1:1"]).unwrap_err();
        assert!(
            e.starts_with("--uidmap 0:@165536:1: host uid 165536"),
            "{e}"
        );
    }

    #[test]
    fn what_the_kernel_would_refuse_is_refused() {
        for (given, says) in [
            (
                &["0:1:70000"][..],
                "--uidmap 0:1:70000: from ids 1-70000 are not all in skiff's rootless user namespace, which has ids 0-65536 (0 is your uid, the rest your /etc/subuid ranges)",
            ),
            (
                &["0:1:10", "5:20:10"],
                "--uidmap 0:1:10 --uidmap 5:20:10: container uid 5 is mapped twice",
            ),
            (
                &["0:1:10", "20:5:10"],
                "--uidmap 0:1:10 --uidmap 20:5:10: uid 5 of skiff's rootless user namespace is mapped twice",
            ),
            (&["0:1:0"], "--uidmap 0:1:0: no uids to map"),
            (
                &["4294967290:1:10"],
                "--uidmap 4294967290:1:10: container ids 4294967290-4294967299 go past the largest id, 4294967294",
            ),
            (
                &["0:1:2:3"],
                "--uidmap 0:1:2:3: invalid mapping: expected [+ug]CONTAINER_ID:[@]FROM_ID[:AMOUNT]",
            ),
            (&["x0:1:1"], "--uidmap x0:1:1: unknown flag 'x': use +, u or g"),
            (
                &["0:-1:1"],
                "--uidmap 0:-1:1: invalid from id \"-1\": expected a number",
            ),
            (&["u:1:1"], "--uidmap u:1:1: invalid container id \"\": expected a number"),
            (
                &["0:1:99999999999"],
                "--uidmap 0:1:99999999999: invalid amount \"99999999999\": larger than 4294967295",
            ),
        ] {
            assert_eq!(maps(given, &[]).unwrap_err(), says, "{given:?}");
        }
        // One id a line: 341 lines.
        let many: Vec<String> = (0..341).map(|i| format!("{}:{}:1", i * 2, i + 1)).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert!(maps(&many, &[])
            .unwrap_err()
            .ends_with("341 uid ranges, more than the kernel takes (340)"));
    }

    #[test]
    fn subid_names_as_podman_reads_them() {
        let small = [(50u32, 10u32), (1, 5)];
        let (u, g) = parse(
            &[],
            &[],
            Some(("alice", &small)),
            Some(("alice", &small)),
            ns(),
            ns(),
        )
        .unwrap();
        assert_eq!(text(&u), "0 1 5\n5 50 10\n");
        assert_eq!(u, g);
        let big = [(100000u32, 65536u32)];
        let e = parse(&[], &[], Some(("bob", &big)), None, ns(), ns()).unwrap_err();
        assert!(
            e.starts_with("--subuidname bob: its /etc/subuid range 100000-165535 is not in skiff's rootless user namespace, which has ids 0-65536"),
            "{e}"
        );
        let e = parse(&[], &[], Some(("carol", &[])), None, ns(), ns()).unwrap_err();
        assert_eq!(
            e,
            "no subuid ranges found for user \"carol\" in /etc/subuid"
        );
    }

    #[test]
    fn break_insert_cuts_both_sides() {
        let r = |cid, hid, size| Range { cid, hid, size };
        let out = break_insert(&[r(0, 0, 100)], r(200, 10, 5));
        assert_eq!(out, vec![r(0, 0, 10), r(15, 15, 85), r(200, 10, 5)]);
        let out = break_insert(&[r(0, 0, 100)], r(10, 50, 5));
        assert_eq!(
            out,
            vec![r(0, 0, 10), r(15, 15, 35), r(55, 55, 45), r(10, 50, 5)]
        );
    }
}
