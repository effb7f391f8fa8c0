//! Seccomp filters for container processes: a Docker/OCI JSON profile
//! (`profile.rs`, with the built-in default) turned into classic BPF by the
//! `seccompiler` crate, cached in the store, and installed by the container
//! process as its last step before exec (see `process.rs`).
//!
//! A profile mixes actions per rule (allow, errno with several values), while
//! one seccompiler filter has a single on-match action. The profile is
//! therefore first compiled to a short list of filters: the allow-list
//! (match: allow, else the default action) and one filter per other action
//! (match: that action, else allow). Installed as such, the kernel would run
//! every filter and keep the most restrictive verdict, the latest-installed
//! filter winning between equals, which gives the profile's meaning: a call
//! named by an errno rule fails with that errno even when an allow rule also
//! names it. `chain` joins the list into ONE program with that same verdict,
//! so a container process makes one seccomp(2) call (each install costs the
//! kernel a check, a JIT and a pre-run of the filter for every call number).
#![allow(unsafe_code)]

pub mod profile;
#[cfg(target_arch = "x86_64")]
mod x86_64;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use seccompiler::{
    sock_filter, BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition,
    SeccompFilter, SeccompRule, TargetArch,
};
use sha2::{Digest, Sha256};

pub use profile::{default_profile, Profile};

use super::{Error, Result};

/// Bumped whenever compilation changes, so cached programs are rebuilt.
const FORMAT: &[u8] = b"skiff-seccomp-5\n";

/// True when skiff can build filters for this machine's architecture
/// (x86_64) and the kernel has seccomp filters (`Seccomp:` in
/// /proc/self/status).
pub fn supported() -> bool {
    cfg!(target_arch = "x86_64")
        && std::fs::read_to_string("/proc/self/status")
            .map(|s| s.contains("\nSeccomp:"))
            .unwrap_or(false)
}

/// Reads a profile in the Docker/OCI JSON format; the error is one line.
pub fn parse(json: &[u8]) -> std::result::Result<Profile, String> {
    serde_json::from_slice(json).map_err(|e| format!("invalid seccomp profile: {e}"))
}

fn syscall_nr(name: &str) -> Option<i64> {
    #[cfg(target_arch = "x86_64")]
    {
        x86_64::SYSCALLS
            .binary_search_by(|(n, _)| n.cmp(&name))
            .ok()
            .map(|i| x86_64::SYSCALLS[i].1)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = name;
        None
    }
}

fn target_arch() -> std::result::Result<TargetArch, String> {
    TargetArch::try_from(std::env::consts::ARCH).map_err(|e| e.to_string())
}

/// The names `includes.arches` may use for this machine (Go's, libseccomp's, the kernel's).
fn arch_names() -> &'static [&'static str] {
    match std::env::consts::ARCH {
        "x86_64" => &["amd64", "x86_64", "SCMP_ARCH_X86_64"],
        "aarch64" => &["arm64", "aarch64", "SCMP_ARCH_AARCH64"],
        _ => &[],
    }
}

fn kernel_at_least(min: &str) -> bool {
    let parse = |s: &str| -> (u32, u32) {
        let mut it = s.split(|c: char| !c.is_ascii_digit());
        let major = it.next().and_then(|x| x.parse().ok()).unwrap_or(0);
        let minor = it.next().and_then(|x| x.parse().ok()).unwrap_or(0);
        (major, minor)
    };
    let release = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    parse(&release) >= parse(min)
}

fn action(name: &str, errno: Option<u32>) -> std::result::Result<SeccompAction, String> {
    Ok(match name {
        "SCMP_ACT_ALLOW" => SeccompAction::Allow,
        "SCMP_ACT_ERRNO" => SeccompAction::Errno(errno.unwrap_or(libc::EPERM as u32)),
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => SeccompAction::KillThread,
        "SCMP_ACT_KILL_PROCESS" => SeccompAction::KillProcess,
        "SCMP_ACT_TRAP" => SeccompAction::Trap,
        "SCMP_ACT_TRACE" => SeccompAction::Trace(errno.unwrap_or(0)),
        "SCMP_ACT_LOG" => SeccompAction::Log,
        other => return Err(format!("unsupported seccomp action \"{other}\"")),
    })
}

fn condition(a: &profile::Arg) -> std::result::Result<SeccompCondition, String> {
    let (op, value) = match a.op.as_str() {
        "SCMP_CMP_EQ" => (SeccompCmpOp::Eq, a.value),
        "SCMP_CMP_NE" => (SeccompCmpOp::Ne, a.value),
        "SCMP_CMP_LT" => (SeccompCmpOp::Lt, a.value),
        "SCMP_CMP_LE" => (SeccompCmpOp::Le, a.value),
        "SCMP_CMP_GT" => (SeccompCmpOp::Gt, a.value),
        "SCMP_CMP_GE" => (SeccompCmpOp::Ge, a.value),
        "SCMP_CMP_MASKED_EQ" => (SeccompCmpOp::MaskedEq(a.value), a.value_two),
        other => return Err(format!("unsupported seccomp argument operator \"{other}\"")),
    };
    let index = u8::try_from(a.index)
        .ok()
        .filter(|i| *i < 6)
        .ok_or_else(|| format!("seccomp argument index {} out of range 0-5", a.index))?;
    SeccompCondition::new(index, SeccompCmpArgLen::Qword, op, value).map_err(|e| e.to_string())
}

/// Whether a rule applies to a container with these capabilities on this host.
fn applies(r: &profile::Rule, caps: &[String]) -> bool {
    let has = |c: &String| caps.iter().any(|x| x.eq_ignore_ascii_case(c));
    if let Some(inc) = &r.includes {
        if !inc.caps.iter().flatten().all(has) {
            return false;
        }
        if let Some(arches) = &inc.arches {
            if !arches.iter().any(|a| arch_names().contains(&a.as_str())) {
                return false;
            }
        }
        if let Some(k) = inc.min_kernel.as_deref().filter(|k| !k.is_empty()) {
            if !kernel_at_least(k) {
                return false;
            }
        }
    }
    if let Some(exc) = &r.excludes {
        if exc.caps.iter().flatten().any(has) {
            return false;
        }
        if let Some(arches) = &exc.arches {
            if arches.iter().any(|a| arch_names().contains(&a.as_str())) {
                return false;
            }
        }
    }
    true
}

/// Rules of one action: syscall number to its argument rules, `None` when
/// the call matches whatever its arguments.
type Group = BTreeMap<i64, Option<Vec<SeccompRule>>>;

/// A compiled profile: one classic BPF program (at most `BPF_MAXINSNS`
/// instructions), empty when the profile allows every call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    insns: BpfProgram,
}

/// The kernel's limit on the instructions of one filter (BPF_MAXINSNS).
const MAX_INSNS: usize = 4096;

/// Compiles `p` for a container whose bounding capabilities are `caps`
/// (names like `CAP_SYS_ADMIN`), for this machine's architecture. Calls the
/// architecture does not have are skipped, as libseccomp-based runtimes do.
/// Errors (unknown action or operator, a bad argument index, an
/// unsupported architecture) are one line.
pub fn compile(p: &Profile, caps: &[String]) -> std::result::Result<Program, String> {
    Ok(Program {
        insns: chain(filters(p, caps)?)?,
    })
}

/// One filter of the list a profile compiles to: a seccompiler program
/// (architecture check first) that returns `ALLOW` or `verdict`, and
/// `SECCOMP_RET_KILL_PROCESS` for a foreign architecture.
struct Filter {
    verdict: SeccompAction,
    program: BpfProgram,
}

/// The profile as a list of filters in the order they would be installed:
/// the allow-list (unless the default action is allow), then one filter per
/// other action, in the order the profile first names it.
fn filters(p: &Profile, caps: &[String]) -> std::result::Result<Vec<Filter>, String> {
    let arch = target_arch()?;
    if !cfg!(target_arch = "x86_64") {
        return Err("seccomp profiles are supported on x86_64 only".into());
    }
    let default = action(&p.default_action, p.default_errno_ret)?;
    let mut groups: Vec<(SeccompAction, Group)> = vec![(SeccompAction::Allow, Group::new())];
    for r in p.syscalls.iter().flatten() {
        let act = action(&r.action, r.errno_ret)?;
        let args = r.args.as_deref().unwrap_or_default();
        let conds = args
            .iter()
            .map(condition)
            .collect::<std::result::Result<Vec<_>, _>>()?;
        if !applies(r, caps) {
            continue;
        }
        // All comparisons of an entry must hold, except that comparisons of
        // one argument repeated are alternatives (as containers/common reads them).
        let mut indexes: Vec<u32> = args.iter().map(|a| a.index).collect();
        indexes.sort_unstable();
        indexes.dedup();
        let rules: Option<Vec<SeccompRule>> = if conds.is_empty() {
            None
        } else if indexes.len() < args.len() {
            Some(
                conds
                    .into_iter()
                    .map(|c| SeccompRule::new(vec![c]).map_err(|e| e.to_string()))
                    .collect::<std::result::Result<_, _>>()?,
            )
        } else {
            Some(vec![SeccompRule::new(conds).map_err(|e| e.to_string())?])
        };
        let group = match groups.iter().position(|(a, _)| *a == act) {
            Some(i) => &mut groups[i].1,
            None => {
                groups.push((act, Group::new()));
                &mut groups.last_mut().expect("just pushed").1
            }
        };
        let names = r.names.iter().flatten().chain(r.name.iter());
        for nr in names.filter_map(|n| syscall_nr(n)) {
            match (group.get_mut(&nr), &rules) {
                (Some(None), _) => {}
                (Some(slot), None) => *slot = None,
                (Some(Some(v)), Some(more)) => v.extend(more.iter().cloned()),
                (None, r) => {
                    group.insert(nr, r.clone());
                }
            }
        }
    }
    let build = |group: Group, mismatch: SeccompAction, on_match: SeccompAction| {
        // seccompiler spends five instructions on a call matched whatever
        // its arguments; those calls get one compare each here, in front of
        // seccompiler's program for the calls with argument rules. A long
        // filter costs at install (the kernel checks, JITs and pre-runs it
        // for every call number), so this keeps `run` within its budget.
        let (plain, ruled): (Vec<_>, Vec<_>) = group.into_iter().partition(|(_, r)| r.is_none());
        let rules = ruled
            .into_iter()
            .map(|(nr, r)| (nr, r.unwrap_or_default()))
            .collect();
        let tail = SeccompFilter::new(rules, mismatch, on_match.clone(), arch)
            .and_then(BpfProgram::try_from)
            .map_err(|e| format!("compiling the seccomp profile: {e}"))?;
        Ok::<_, String>(prepend_plain(
            tail,
            plain.into_iter().map(|(nr, _)| nr),
            on_match,
        ))
    };
    let mut filters = Vec::new();
    for (act, group) in groups {
        if act == SeccompAction::Allow {
            if default != SeccompAction::Allow {
                let program = build(group, default.clone(), SeccompAction::Allow)?;
                let verdict = default.clone();
                filters.insert(0, Filter { verdict, program });
            }
        } else if !group.is_empty() {
            let program = build(group, SeccompAction::Allow, act.clone())?;
            filters.push(Filter {
                verdict: act,
                program,
            });
        }
    }
    Ok(filters)
}

/// The seccomp(2) precedence of a return value: lower wins (the kernel
/// compares `(s32)(ret & SECCOMP_RET_ACTION_FULL)`, so KILL_PROCESS <
/// KILL_THREAD < TRAP < ERRNO < USER_NOTIF < TRACE < LOG < ALLOW, and two
/// ERRNO values are equals whatever their errno).
fn precedence(ret: u32) -> i32 {
    (ret & 0xffff_0000) as i32
}

/// Joins the list of filters (in install order) into one program that
/// returns what the kernel would return with all of them installed.
///
/// Every filter returns either ALLOW or its one `verdict` (foreign
/// architectures aside: all return KILL_PROCESS, so the architecture check
/// is made once, first). The kernel keeps the verdict of highest
/// precedence, the latest-installed filter winning between equals; so with
/// the filters run in order of precedence, and latest first between equals,
/// the first one that does not allow decides. The join is that order, each
/// filter's body (past its architecture check) with its `RET ALLOW`
/// instructions turned into jumps to the next body (same length, so the
/// body's own jumps keep their targets; `JA` has a 32-bit offset), and a
/// final `RET ALLOW`. Errors when the result passes BPF_MAXINSNS.
fn chain(mut filters: Vec<Filter>) -> std::result::Result<BpfProgram, String> {
    if filters.is_empty() {
        return Ok(Vec::new());
    }
    filters.reverse();
    // Stable: between equal precedence the latest-installed stays first.
    filters.sort_by_key(|f| precedence(u32::from(f.verdict.clone())));
    let allow = libc::SECCOMP_RET_ALLOW;
    let mut out: BpfProgram = filters[0].program[..3].to_vec();
    for f in &filters {
        let body = &f.program[3..];
        let (start, next) = (out.len(), out.len() + body.len());
        out.extend(body.iter().enumerate().map(|(i, ins)| {
            if ins.code == BPF_RET_K && ins.k == allow {
                // To the next body: from `start + i + 1` on to `next`.
                sock_filter {
                    code: BPF_JA,
                    jt: 0,
                    jf: 0,
                    k: (next - start - i - 1) as u32,
                }
            } else {
                ins.clone()
            }
        }));
    }
    out.push(sock_filter {
        code: BPF_RET_K,
        jt: 0,
        jf: 0,
        k: allow,
    });
    if out.len() > MAX_INSNS {
        return Err(format!(
            "compiling the seccomp profile: {} BPF instructions, more than the kernel's {MAX_INSNS}",
            out.len()
        ));
    }
    Ok(out)
}

/// Classic BPF opcodes used by `prepend_plain`.
const BPF_LD_W_ABS: u16 = 0x20;
const BPF_JA: u16 = 0x05;
const BPF_RET_K: u16 = 0x06;
const BPF_JGT_K: u16 = 0x25;
const BPF_JGE_K: u16 = 0x35;
/// How many ranges of call numbers one search tree holds (at most 66
/// instructions with its return, within the 8-bit reach of a conditional
/// jump); a tree is skipped at once when the call number is above its last
/// range.
const CHUNK: usize = 32;

/// Puts, after the architecture check (the first 3 instructions of a
/// seccompiler program), the calls of `plain` as ranges of consecutive
/// numbers in binary search trees (one per `CHUNK` ranges): a call in a
/// range returns `on_match`, any other goes on to the rest of `program`,
/// which decides the calls that did not match. The kernel pre-runs a new
/// filter for every call number at install (the action cache), so the
/// install costs about the sum of the paths: a few compares per call here,
/// where a scan of the numbers costs dozens.
fn prepend_plain(
    program: BpfProgram,
    plain: impl Iterator<Item = i64>,
    on_match: SeccompAction,
) -> BpfProgram {
    let mut plain: Vec<u32> = plain.map(|nr| nr as u32).collect();
    if plain.is_empty() {
        return program;
    }
    plain.sort_unstable();
    plain.dedup();
    let mut ranges: Vec<(u32, u32)> = Vec::new();
    for nr in plain {
        match ranges.last_mut() {
            Some(r) if r.1 + 1 == nr => r.1 = nr,
            _ => ranges.push((nr, nr)),
        }
    }
    let mut out: BpfProgram = program[..3].to_vec();
    // Load the call number (offset 0 of struct seccomp_data).
    out.push(ins(BPF_LD_W_ABS, 0, 0, 0));
    let mut to_tail = Vec::new();
    for chunk in ranges.chunks(CHUNK) {
        // Above this chunk's last number: on to the next chunk (or the tail).
        let skip = out.len();
        out.push(ins(BPF_JGT_K, 0, 0, chunk[chunk.len() - 1].1));
        let mut jumps = Jumps::default();
        search_tree(&mut out, chunk, true, &mut jumps);
        let miss = out.len();
        to_tail.push(miss);
        out.push(ins(BPF_JA, 0, 0, 0));
        let hit = out.len();
        out.push(ins(BPF_RET_K, 0, 0, u32::from(on_match.clone())));
        let reach = |from: usize, to: usize| {
            u8::try_from(to - from - 1).expect("a chunk spans fewer than 256 instructions")
        };
        for at in jumps.leaves {
            out[at].jt = reach(at, miss);
            out[at].jf = reach(at, hit);
        }
        for at in jumps.below {
            out[at].jf = reach(at, miss);
        }
        out[skip].jt = reach(skip, out.len());
    }
    let tail = out.len();
    for at in to_tail {
        out[at].k = (tail - at - 1) as u32;
    }
    out.extend_from_slice(&program[3..]);
    out
}

fn ins(code: u16, jt: u8, jf: u8, k: u32) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

/// The jumps of a search tree still to aim, by instruction index.
#[derive(Default)]
struct Jumps {
    /// `JGT last`: true goes to the miss, false to the match.
    leaves: Vec<usize>,
    /// `JGE first` of the lowest range: false goes to the miss.
    below: Vec<usize>,
}

/// Emits a binary search over sorted, disjoint `ranges` (first, last) of
/// the loaded call number: `JGE first-of-the-middle` splits, and a leaf
/// checks only its range's last number, as the path to it already knows the
/// call is at least its first and below the next range's first (the lowest
/// range, `lowest`, also checks its first).
fn search_tree(out: &mut BpfProgram, ranges: &[(u32, u32)], lowest: bool, jumps: &mut Jumps) {
    if let [(first, last)] = ranges {
        if lowest && *first > 0 {
            jumps.below.push(out.len());
            out.push(ins(BPF_JGE_K, 0, 0, *first));
        }
        jumps.leaves.push(out.len());
        out.push(ins(BPF_JGT_K, 0, 0, *last));
        return;
    }
    let mid = ranges.len() / 2;
    let split = out.len();
    out.push(ins(BPF_JGE_K, 0, 0, ranges[mid].0));
    search_tree(out, &ranges[..mid], lowest, jumps);
    out[split].jt =
        u8::try_from(out.len() - split - 1).expect("a chunk spans fewer than 256 instructions");
    search_tree(out, &ranges[mid..], false, jumps);
}

impl Program {
    /// Number of BPF instructions (0: nothing to install).
    pub fn len(&self) -> usize {
        self.insns.len()
    }

    /// True when the profile allows every call and nothing is installed.
    pub fn is_empty(&self) -> bool {
        self.insns.is_empty()
    }

    /// The cache-file form: a format line, then the instructions (code
    /// u16, jt u8, jf u8, k u32; little-endian).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = FORMAT.to_vec();
        for i in &self.insns {
            out.extend_from_slice(&i.code.to_le_bytes());
            out.push(i.jt);
            out.push(i.jf);
            out.extend_from_slice(&i.k.to_le_bytes());
        }
        out
    }

    /// Reads `to_bytes` output; `None` when it is not well formed (another
    /// FORMAT, a partial instruction, more than BPF_MAXINSNS).
    pub fn from_bytes(b: &[u8]) -> Option<Program> {
        let body = b.strip_prefix(FORMAT)?;
        if !body.len().is_multiple_of(8) || body.len() / 8 > MAX_INSNS {
            return None;
        }
        let insns = body
            .chunks_exact(8)
            .map(|c| sock_filter {
                code: u16::from_le_bytes([c[0], c[1]]),
                jt: c[2],
                jf: c[3],
                k: u32::from_le_bytes([c[4], c[5], c[6], c[7]]),
            })
            .collect();
        Some(Program { insns })
    }

    /// Installs the filter on the calling thread (a container process just
    /// before exec), with one seccomp(2) call; an empty program installs
    /// nothing. Without no_new_privs the caller must hold CAP_SYS_ADMIN in
    /// its user namespace, as seccomp(2) requires; runc installs before
    /// dropping capabilities in that case, and so does `process.rs`.
    pub fn install(&self) -> Result<()> {
        if self.insns.is_empty() {
            return Ok(());
        }
        let prog = libc::sock_fprog {
            // At most MAX_INSNS (compile and from_bytes check).
            len: self.insns.len() as u16,
            filter: self.insns.as_ptr() as *mut libc::sock_filter,
        };
        // SAFETY: seccomp(2) copies the program from `prog`, which points at
        // `self.insns.len()` instructions laid out as the kernel's
        // sock_filter (seccompiler's type is repr(C) with the same fields).
        let rc = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                0,
                &prog as *const libc::sock_fprog,
            )
        };
        if rc != 0 {
            return Err(Error::sys(
                "installing the seccomp filter",
                nix::errno::Errno::last(),
            ));
        }
        Ok(())
    }
}

/// Where a compiled program is cached: `<store>/seccomp/<sha256>.bpf`, keyed
/// by the profile's text (`source`), the capabilities and the architecture.
pub fn cache_path(store: &Path, source: &[u8], caps: &[String]) -> PathBuf {
    let mut h = Sha256::new();
    h.update(FORMAT);
    h.update(std::env::consts::ARCH.as_bytes());
    h.update([0]);
    h.update(source);
    h.update([0]);
    let mut caps: Vec<&str> = caps.iter().map(String::as_str).collect();
    caps.sort_unstable();
    h.update(caps.join(",").as_bytes());
    store
        .join("seccomp")
        .join(format!("{}.bpf", hex::encode(h.finalize())))
}

/// The program for a profile: read from the cache, or compiled by
/// `profile` and cached (best effort: a store that cannot be written only
/// costs the next container a compile). `source` is the profile's text, or
/// a fixed name for the built-in one.
pub fn load_or_compile(
    store: &Path,
    source: &[u8],
    caps: &[String],
    profile: impl FnOnce() -> std::result::Result<Profile, String>,
) -> std::result::Result<Program, String> {
    let path = cache_path(store, source, caps);
    if let Some(p) = std::fs::read(&path)
        .ok()
        .and_then(|b| Program::from_bytes(&b))
    {
        return Ok(p);
    }
    let program = compile(&profile()?, caps)?;
    let _ = write_cache(&path, &program);
    Ok(program)
}

fn write_cache(path: &Path, program: &Program) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    let dir = path.parent().expect("cache path has a directory");
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let tmp = dir.join(format!(".tmp-{}", std::process::id()));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(&program.to_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default_caps() -> Vec<String> {
        ["CAP_CHOWN", "CAP_SETUID", "CAP_SETGID", "CAP_KILL"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    #[test]
    fn table_is_sorted_and_known() {
        assert!(x86_64::SYSCALLS.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(syscall_nr("add_key"), Some(248));
        assert_eq!(syscall_nr("mkdir"), Some(83));
        assert_eq!(syscall_nr("chown32"), None);
    }

    #[test]
    fn default_profile_compiles_into_one_program() {
        // allow-list, EPERM refusals, EINVAL for audit sockets...
        assert_eq!(
            filters(&default_profile(), &default_caps()).unwrap().len(),
            3
        );
        // ... joined into one program.
        let p = compile(&default_profile(), &default_caps()).unwrap();
        assert!(!p.is_empty() && p.len() <= MAX_INSNS);
        let with_admin = compile(
            &default_profile(),
            &[default_caps(), vec!["CAP_SYS_ADMIN".into()]].concat(),
        )
        .unwrap();
        assert_ne!(p, with_admin);
    }

    const X86_64: u32 = 0xc000_003e; // AUDIT_ARCH_X86_64
    const I386: u32 = 0x4000_0003; // AUDIT_ARCH_I386: a foreign architecture

    /// Runs a classic BPF program on struct seccomp_data (nr, arch, args)
    /// as the kernel would, for the instructions seccompiler, `prepend_plain`
    /// and `chain` emit; panics on any other opcode or on running off the end.
    fn run(prog: &[sock_filter], arch: u32, nr: u32, args: [u64; 6]) -> u32 {
        let mut data = [0u8; 64];
        data[0..4].copy_from_slice(&nr.to_le_bytes());
        data[4..8].copy_from_slice(&arch.to_le_bytes());
        for (i, a) in args.iter().enumerate() {
            data[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_le_bytes());
        }
        let (mut acc, mut pc) = (0u32, 0usize);
        loop {
            let i = &prog[pc];
            pc += 1;
            match i.code {
                // LD W ABS
                0x20 => {
                    let o = i.k as usize;
                    assert!(o.is_multiple_of(4) && o + 4 <= 64, "load at {o}");
                    acc = u32::from_le_bytes(data[o..o + 4].try_into().unwrap());
                }
                // ALU AND K
                0x54 => acc &= i.k,
                // JA
                0x05 => pc += i.k as usize,
                // RET K
                0x06 => return i.k,
                code => {
                    let hit = match code {
                        0x15 => acc == i.k,     // JEQ K
                        0x25 => acc > i.k,      // JGT K
                        0x35 => acc >= i.k,     // JGE K
                        0x45 => acc & i.k != 0, // JSET K
                        _ => panic!("opcode {code:#x} not emulated"),
                    };
                    pc += usize::from(if hit { i.jt } else { i.jf });
                }
            }
        }
    }

    /// What the kernel returns with every filter of the list installed in
    /// order (seccomp(2)): it runs them all, latest first, and keeps a
    /// verdict only over one of strictly lower precedence; ALLOW with none.
    fn kernel_verdict(list: &[Filter], arch: u32, nr: u32, args: [u64; 6]) -> u32 {
        let mut best = libc::SECCOMP_RET_ALLOW;
        for f in list.iter().rev() {
            let r = run(&f.program, arch, nr, args);
            if precedence(r) < precedence(best) {
                best = r;
            }
        }
        best
    }

    /// The verdict of a compiled program, ALLOW when it is empty.
    fn verdict(p: &Program, arch: u32, nr: u32, args: [u64; 6]) -> u32 {
        if p.is_empty() {
            return libc::SECCOMP_RET_ALLOW;
        }
        run(&p.insns, arch, nr, args)
    }

    /// Checks that the one program `compile` makes for `profile` decides
    /// like the kernel with the list of filters installed, for call numbers
    /// 0..=450 (and a few past the table), on this and a foreign
    /// architecture, with arguments 0, 1, u64::MAX and the values the
    /// profile's argument rules name: all six alike, one at a time, and as
    /// each rule names them together.
    fn same_as_the_list(profile: &Profile, caps: &[String]) -> Program {
        let list = filters(profile, caps).unwrap();
        let program = compile(profile, caps).unwrap();
        assert!(program.len() <= MAX_INSNS);
        let rules: Vec<&profile::Rule> = profile.syscalls.iter().flatten().collect();
        let mut values = vec![0, 1, u64::MAX];
        for a in rules.iter().flat_map(|r| r.args.iter().flatten()) {
            values.extend([a.value, a.value_two, a.value & a.value_two]);
            values.extend([a.value.wrapping_add(1), a.value.wrapping_sub(1)]);
        }
        values.sort_unstable();
        values.dedup();
        let mut argsets: Vec<[u64; 6]> = values.iter().map(|v| [*v; 6]).collect();
        for i in 0..6 {
            for v in &values {
                let mut args = [0; 6];
                args[i] = *v;
                argsets.push(args);
            }
        }
        for r in &rules {
            let mut args = [0; 6];
            for a in r.args.iter().flatten() {
                args[a.index as usize] = if a.op == "SCMP_CMP_MASKED_EQ" {
                    a.value_two
                } else {
                    a.value
                };
            }
            argsets.push(args);
        }
        let nrs = (0..=450).chain([512, 1000, 0x4000_0000, 0x4000_0001, u32::MAX]);
        let mut checked = 0;
        for nr in nrs {
            for arch in [X86_64, I386] {
                for args in &argsets {
                    let want = kernel_verdict(&list, arch, nr, *args);
                    let got = verdict(&program, arch, nr, *args);
                    assert_eq!(
                        got, want,
                        "{profile:?}: nr {nr}, arch {arch:#x}, args {args:x?}"
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked > 456 * 2);
        program
    }

    #[test]
    fn default_program_decides_every_call_as_the_profile_says() {
        let p = compile(&default_profile(), &default_caps()).unwrap();
        let allowed: Vec<&str> = profile_allowed();
        let errno = |e: i32| libc::SECCOMP_RET_ERRNO | e as u32;
        for (name, nr) in x86_64::SYSCALLS {
            let got = verdict(&p, X86_64, *nr as u32, [0; 6]);
            let want = if ["personality", "socket"].contains(name) {
                continue;
            } else if *name == "setns" {
                // Allowed by the list, refused without CAP_SYS_ADMIN: the
                // refusal wins.
                errno(libc::EPERM)
            } else if allowed.contains(name) || ["arch_prctl", "modify_ldt"].contains(name) {
                libc::SECCOMP_RET_ALLOW
            } else if ["kexec_load", "userfaultfd", "vmsplice", "chroot"].contains(name) {
                // chroot: these test capabilities lack CAP_SYS_CHROOT.
                errno(libc::EPERM)
            } else if ["ptrace", "bpf", "setns", "mount"].contains(name) {
                if *name == "mount" {
                    libc::SECCOMP_RET_ALLOW
                } else {
                    errno(libc::EPERM)
                }
            } else if ["add_key", "keyctl", "request_key"].contains(name) {
                errno(libc::ENOSYS)
            } else {
                continue;
            };
            assert_eq!(got, want, "{name} ({nr})");
        }
        let nr = |n: &str| syscall_nr(n).unwrap() as u32;
        assert_eq!(
            verdict(&p, X86_64, nr("personality"), [0; 6]),
            libc::SECCOMP_RET_ALLOW
        );
        assert_eq!(
            verdict(&p, X86_64, nr("personality"), [0x40000, 0, 0, 0, 0, 0]),
            errno(libc::ENOSYS)
        );
        assert_eq!(
            verdict(&p, X86_64, nr("socket"), [2, 1, 0, 0, 0, 0]),
            libc::SECCOMP_RET_ALLOW
        );
        assert_eq!(
            verdict(&p, X86_64, nr("socket"), [16, 3, 9, 0, 0, 0]),
            errno(libc::EINVAL)
        );
        // x32 calls and numbers past the table fall to the default.
        assert_eq!(
            verdict(&p, X86_64, 0x4000_0000 | nr("read"), [0; 6]),
            errno(libc::ENOSYS)
        );
        assert_eq!(verdict(&p, X86_64, 1000, [0; 6]), errno(libc::ENOSYS));
    }

    fn profile_allowed() -> Vec<&'static str> {
        profile::ALLOWED.split_whitespace().collect()
    }

    #[test]
    fn bytes_round_trip() {
        let p = compile(&default_profile(), &default_caps()).unwrap();
        assert_eq!(Program::from_bytes(&p.to_bytes()), Some(p.clone()));
        let b = p.to_bytes();
        assert_eq!(Program::from_bytes(&b[..b.len() - 3]), None);
        assert_eq!(Program::from_bytes(b"junk"), None);
        // A program cached by the multi-filter format is compiled again.
        let mut old = b"skiff-seccomp-3\n".to_vec();
        old.extend_from_slice(&b[FORMAT.len()..]);
        assert_eq!(Program::from_bytes(&old), None);
    }

    /// The search trees of `prepend_plain` match exactly the numbers given
    /// and send every other to the rest of the program, for one range, a
    /// range from 0, and more ranges than one tree holds.
    #[test]
    fn plain_calls_match_exactly_their_numbers() {
        let tail = |mismatch: u32| -> BpfProgram {
            let mut p = vec![
                ins(BPF_LD_W_ABS, 0, 0, 4),
                ins(0x15, 1, 0, X86_64),
                ins(BPF_RET_K, 0, 0, libc::SECCOMP_RET_KILL_PROCESS),
            ];
            p.push(ins(BPF_RET_K, 0, 0, mismatch));
            p
        };
        let hit = libc::SECCOMP_RET_ERRNO | 1;
        let mut sets: Vec<Vec<i64>> = vec![
            vec![7],
            vec![0, 1, 2, 5],
            (0..450).filter(|n| n % 3 != 0).collect(),
            (10..20).chain(100..300).chain([449, 450, 4000]).collect(),
        ];
        sets.push(sets[2].iter().copied().rev().chain([2, 2]).collect());
        for set in sets {
            let p = prepend_plain(tail(7), set.iter().copied(), SeccompAction::Errno(1));
            for nr in (0..=460).chain([3999, 4000, 4001, u32::MAX]) {
                let want = if set.contains(&i64::from(nr)) { hit } else { 7 };
                assert_eq!(run(&p, X86_64, nr, [0; 6]), want, "{nr} in {set:?}");
            }
            assert_eq!(run(&p, I386, 1, [0; 6]), libc::SECCOMP_RET_KILL_PROCESS);
        }
    }

    #[test]
    fn one_program_decides_as_the_list_of_filters() {
        let caps = default_caps();
        let admin = [caps.clone(), vec!["CAP_SYS_ADMIN".into()]].concat();
        same_as_the_list(&default_profile(), &caps);
        same_as_the_list(&default_profile(), &admin);
        same_as_the_list(&default_profile(), &[]);
    }

    /// A call with rules of several actions: the kernel's precedence
    /// (KILL > TRAP > ERRNO > LOG > ALLOW), and between errno values the
    /// filter of the action the profile names last.
    #[test]
    fn one_program_keeps_precedence_between_actions() {
        let errno = |e: i32| libc::SECCOMP_RET_ERRNO | e as u32;
        let nr = |n: &str| syscall_nr(n).unwrap() as u32;
        // Default ERRNO(EPERM); errno rules of several values, overlapping
        // the allow-list and each other; argument rules of every operator.
        let mixed = parse(
            br#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
              {"names":["read","write","openat","close","mkdir","getpid","ioctl","socket"],"action":"SCMP_ACT_ALLOW"},
              {"names":["mkdir","rmdir","keyctl"],"action":"SCMP_ACT_ERRNO","errnoRet":38},
              {"names":["mkdir","unlink"],"action":"SCMP_ACT_ERRNO","errnoRet":13},
              {"names":["ioctl"],"action":"SCMP_ACT_ERRNO","errnoRet":25,
               "args":[{"index":1,"value":4294967295,"valueTwo":21505,"op":"SCMP_CMP_MASKED_EQ"}]},
              {"names":["socket"],"action":"SCMP_ACT_ERRNO","errnoRet":97,
               "args":[{"index":0,"value":16,"op":"SCMP_CMP_EQ"},{"index":2,"value":9,"op":"SCMP_CMP_EQ"}]},
              {"names":["write"],"action":"SCMP_ACT_ERRNO","errnoRet":28,
               "args":[{"index":2,"value":4096,"op":"SCMP_CMP_GT"}]},
              {"names":["openat"],"action":"SCMP_ACT_ERRNO","errnoRet":13,
               "args":[{"index":2,"value":64,"valueTwo":64,"op":"SCMP_CMP_MASKED_EQ"},
                       {"index":2,"value":512,"valueTwo":512,"op":"SCMP_CMP_MASKED_EQ"}]},
              {"names":["close"],"action":"SCMP_ACT_ERRNO","errnoRet":9,
               "args":[{"index":0,"value":3,"op":"SCMP_CMP_LT"},{"index":1,"value":7,"op":"SCMP_CMP_NE"}]},
              {"names":["getpid"],"action":"SCMP_ACT_LOG",
               "args":[{"index":0,"value":5,"op":"SCMP_CMP_GE"}]},
              {"names":["getpid"],"action":"SCMP_ACT_ERRNO","errnoRet":1,
               "args":[{"index":0,"value":9,"op":"SCMP_CMP_LE"}]}]}"#,
        )
        .unwrap();
        let p = same_as_the_list(&mixed, &[]);
        let x = |n: &str, args: [u64; 6]| verdict(&p, X86_64, nr(n), args);
        // Two errno values for mkdir: the rule named last wins.
        assert_eq!(x("mkdir", [0; 6]), errno(libc::EACCES));
        assert_eq!(x("rmdir", [0; 6]), errno(libc::ENOSYS));
        assert_eq!(x("ioctl", [0, 0x5401, 0, 0, 0, 0]), errno(libc::ENOTTY));
        assert_eq!(x("ioctl", [0, 0x5402, 0, 0, 0, 0]), libc::SECCOMP_RET_ALLOW);
        assert_eq!(x("getpid", [7, 0, 0, 0, 0, 0]), errno(libc::EPERM));
        assert_eq!(x("getpid", [12, 0, 0, 0, 0, 0]), libc::SECCOMP_RET_LOG);
        assert_eq!(x("fork", [0; 6]), errno(libc::EPERM));

        // Default KILL: a call the allow-list misses is killed even when an
        // errno rule names it; KILL_PROCESS, TRAP and TRACE rules too.
        let kill = parse(
            br#"{"defaultAction":"SCMP_ACT_KILL","syscalls":[
              {"names":["read","write","exit_group","ptrace","prctl"],"action":"SCMP_ACT_ALLOW"},
              {"names":["ptrace","unshare"],"action":"SCMP_ACT_ERRNO","errnoRet":1},
              {"names":["prctl"],"action":"SCMP_ACT_KILL_PROCESS",
               "args":[{"index":0,"value":4294967295,"valueTwo":22,"op":"SCMP_CMP_MASKED_EQ"}]},
              {"names":["write"],"action":"SCMP_ACT_TRAP",
               "args":[{"index":0,"value":2,"op":"SCMP_CMP_EQ"}]},
              {"names":["read"],"action":"SCMP_ACT_TRACE","errnoRet":7,
               "args":[{"index":0,"value":100,"op":"SCMP_CMP_GE"}]}]}"#,
        )
        .unwrap();
        let p = same_as_the_list(&kill, &[]);
        let x = |n: &str, args: [u64; 6]| verdict(&p, X86_64, nr(n), args);
        assert_eq!(x("ptrace", [0; 6]), errno(libc::EPERM));
        assert_eq!(x("unshare", [0; 6]), libc::SECCOMP_RET_KILL_THREAD);
        assert_eq!(
            x("prctl", [22, 0, 0, 0, 0, 0]),
            libc::SECCOMP_RET_KILL_PROCESS
        );
        assert_eq!(x("write", [2, 0, 0, 0, 0, 0]), libc::SECCOMP_RET_TRAP);
        assert_eq!(x("read", [100, 0, 0, 0, 0, 0]), libc::SECCOMP_RET_TRACE | 7);
        assert_eq!(x("read", [0; 6]), libc::SECCOMP_RET_ALLOW);
        assert_eq!(
            verdict(&p, I386, nr("read"), [0; 6]),
            libc::SECCOMP_RET_KILL_PROCESS
        );

        // Default ERRNO(ENOSYS) with an ENOSYS rule and a LOG default case.
        let same_errno = parse(
            br#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,"syscalls":[
              {"names":["read"],"action":"SCMP_ACT_ALLOW"},
              {"names":["read","mkdir"],"action":"SCMP_ACT_ERRNO","errnoRet":38,
               "args":[{"index":0,"value":1,"op":"SCMP_CMP_EQ"}]}]}"#,
        )
        .unwrap();
        same_as_the_list(&same_errno, &[]);
        let log = parse(
            br#"{"defaultAction":"SCMP_ACT_LOG","syscalls":[
              {"names":["read","write"],"action":"SCMP_ACT_ALLOW"},
              {"names":["write","mkdir"],"action":"SCMP_ACT_ERRNO","errnoRet":1}]}"#,
        )
        .unwrap();
        same_as_the_list(&log, &[]);
    }

    #[test]
    fn docker_profile_format() {
        let p = parse(
            br#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],
                "syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":1,"args":null},
                            {"name":"personality","action":"SCMP_ACT_ERRNO",
                             "args":[{"index":0,"value":8,"valueTwo":0,"op":"SCMP_CMP_EQ"}]}]}"#,
        )
        .unwrap();
        // Default allow: no allow-list, one EPERM filter.
        assert_eq!(filters(&p, &[]).unwrap().len(), 1);
        let prog = same_as_the_list(&p, &[]);
        let mkdir = syscall_nr("mkdir").unwrap() as u32;
        let eperm = libc::SECCOMP_RET_ERRNO | libc::EPERM as u32;
        assert_eq!(verdict(&prog, X86_64, mkdir, [0; 6]), eperm);
        assert_eq!(verdict(&prog, X86_64, 0, [0; 6]), libc::SECCOMP_RET_ALLOW);
        // Allowing everything installs nothing.
        let all = parse(br#"{"defaultAction":"SCMP_ACT_ALLOW"}"#).unwrap();
        assert!(compile(&all, &[]).unwrap().is_empty());
        let bad = parse(br#"{"defaultAction":"SCMP_ACT_NOPE"}"#).unwrap();
        assert!(compile(&bad, &[]).unwrap_err().contains("SCMP_ACT_NOPE"));
        let bad_op = parse(
            br#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":9,"value":1,"op":"SCMP_CMP_EQ"}]}]}"#,
        )
        .unwrap();
        assert!(compile(&bad_op, &[]).unwrap_err().contains("index 9"));
        assert!(parse(b"{not json").is_err());
    }

    #[test]
    fn capability_rules() {
        let r = profile::Rule {
            includes: Some(profile::Filter {
                caps: Some(vec!["CAP_SYS_ADMIN".into()]),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(!applies(&r, &default_caps()));
        assert!(applies(&r, &["CAP_SYS_ADMIN".into()]));
    }

    #[test]
    fn cache_is_reused() {
        let d = tempfile::tempdir().unwrap();
        let caps = default_caps();
        let a = load_or_compile(d.path(), b"builtin", &caps, || Ok(default_profile())).unwrap();
        let b = load_or_compile(d.path(), b"builtin", &caps, || {
            Err("not compiled again".into())
        })
        .unwrap();
        assert_eq!(a, b);
        assert!(cache_path(d.path(), b"builtin", &caps).exists());
    }
}
