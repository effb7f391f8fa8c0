//! Seccomp filters for container processes: a Docker/OCI JSON profile
//! (`profile.rs`, with the built-in default) turned into classic BPF by the
//! `seccompiler` crate, cached in the store, and installed by the container
//! process as its last step before exec (see `process.rs`).
//!
//! A profile mixes actions per rule (allow, errno with several values), while
//! one seccompiler filter has a single on-match action. The program is
//! therefore a short list of filters: the allow-list (match: allow, else the
//! default action) and one filter per other action (match: that action, else
//! allow). The kernel runs every installed filter and keeps the most
//! restrictive verdict, the latest-installed filter winning between equals,
//! which gives the profile's meaning: a call named by an errno rule fails
//! with that errno even when an allow rule also names it.
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
const FORMAT: &[u8] = b"skiff-seccomp-3\n";

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

/// A compiled profile: the BPF filters to install, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    filters: Vec<BpfProgram>,
}

/// Compiles `p` for a container whose bounding capabilities are `caps`
/// (names like `CAP_SYS_ADMIN`), for this machine's architecture. Calls the
/// architecture does not have are skipped, as libseccomp-based runtimes do.
/// Errors (unknown action or operator, a bad argument index, an
/// unsupported architecture) are one line.
pub fn compile(p: &Profile, caps: &[String]) -> std::result::Result<Program, String> {
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
                filters.insert(0, build(group, default.clone(), SeccompAction::Allow)?);
            }
        } else if !group.is_empty() {
            filters.push(build(group, SeccompAction::Allow, act)?);
        }
    }
    Ok(Program { filters })
}

/// Classic BPF opcodes used by `prepend_plain`.
const BPF_LD_W_ABS: u16 = 0x20;
const BPF_JEQ_K: u16 = 0x15;
const BPF_JA: u16 = 0x05;
const BPF_RET_K: u16 = 0x06;
const BPF_JGT_K: u16 = 0x25;
/// How many compares share one return; a chunk is skipped at once when the
/// call number is above its last, so a call costs at most a few range
/// checks and one chunk of compares (also when the kernel pre-runs the
/// filter for every call number at install).
const CHUNK: usize = 32;

/// Puts, after the architecture check (the first 3 instructions of a
/// seccompiler program), the calls of `plain` in sorted chunks: a range
/// check, one `JEQ nr` per call leading to a shared `RET on_match`, and a
/// jump to the rest of `program`, which decides the calls that did not match.
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
    let ins = |code, jt, jf, k| sock_filter { code, jt, jf, k };
    let mut out: BpfProgram = program[..3].to_vec();
    // Load the call number (offset 0 of struct seccomp_data).
    out.push(ins(BPF_LD_W_ABS, 0, 0, 0));
    let mut to_tail = Vec::new();
    for chunk in plain.chunks(CHUNK) {
        let k = chunk.len();
        // Above this chunk's last number: on to the next chunk (or the tail).
        out.push(ins(BPF_JGT_K, (k + 2) as u8, 0, chunk[k - 1]));
        for (i, nr) in chunk.iter().enumerate() {
            // Land on the RET after the JA that ends the chunk.
            out.push(ins(BPF_JEQ_K, (k - i) as u8, 0, *nr));
        }
        to_tail.push(out.len());
        out.push(ins(BPF_JA, 0, 0, 0));
        out.push(ins(BPF_RET_K, 0, 0, u32::from(on_match.clone())));
    }
    let tail = out.len();
    for at in to_tail {
        out[at].k = (tail - at - 1) as u32;
    }
    out.extend_from_slice(&program[3..]);
    out
}

impl Program {
    /// Number of filters and of BPF instructions in all of them.
    pub fn size(&self) -> (usize, usize) {
        (self.filters.len(), self.filters.iter().map(Vec::len).sum())
    }

    /// The cache-file form: a format line, then per filter its instruction
    /// count (u32 LE) and its instructions (code u16, jt u8, jf u8, k u32; LE).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = FORMAT.to_vec();
        for f in &self.filters {
            out.extend_from_slice(&(f.len() as u32).to_le_bytes());
            for i in f {
                out.extend_from_slice(&i.code.to_le_bytes());
                out.push(i.jt);
                out.push(i.jf);
                out.extend_from_slice(&i.k.to_le_bytes());
            }
        }
        out
    }

    /// Reads `to_bytes` output; `None` when it is not well formed.
    pub fn from_bytes(b: &[u8]) -> Option<Program> {
        let mut rest = b.strip_prefix(FORMAT)?;
        let mut filters = Vec::new();
        while !rest.is_empty() {
            let (len, tail) = rest.split_first_chunk::<4>()?;
            let len = Some(u32::from_le_bytes(*len) as usize).filter(|&n| n <= 4096)?; // BPF_MAXINSNS
            let body = tail.get(..len.checked_mul(8)?)?;
            let f = body
                .chunks_exact(8)
                .map(|c| sock_filter {
                    code: u16::from_le_bytes([c[0], c[1]]),
                    jt: c[2],
                    jf: c[3],
                    k: u32::from_le_bytes([c[4], c[5], c[6], c[7]]),
                })
                .collect();
            filters.push(f);
            rest = &tail[len * 8..];
        }
        Some(Program { filters })
    }

    /// Installs the filters on the calling thread (a container process just
    /// before exec). Without no_new_privs the caller must hold CAP_SYS_ADMIN
    /// in its user namespace, as seccomp(2) requires; runc installs before
    /// dropping capabilities in that case, and so does `process.rs`.
    pub fn install(&self) -> Result<()> {
        for f in &self.filters {
            let prog = libc::sock_fprog {
                len: f.len() as u16,
                filter: f.as_ptr() as *mut libc::sock_filter,
            };
            // SAFETY: seccomp(2) copies the program from `prog`, which points
            // at `f.len()` instructions laid out as the kernel's sock_filter
            // (seccompiler's type is repr(C) with the same fields).
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
    fn default_profile_compiles_into_three_filters() {
        let p = compile(&default_profile(), &default_caps()).unwrap();
        // allow-list, EPERM refusals, EINVAL for audit sockets
        assert_eq!(p.size().0, 3);
        assert!(p.size().1 < 4096);
        let with_admin = compile(
            &default_profile(),
            &[default_caps(), vec!["CAP_SYS_ADMIN".into()]].concat(),
        )
        .unwrap();
        assert_ne!(p, with_admin);
    }

    /// Runs a classic BPF program on (arch, nr, args) as the kernel would,
    /// for the instructions seccompiler and `prepend_plain` emit.
    fn run(prog: &[sock_filter], nr: u32, args: [u64; 6]) -> u32 {
        let mut data = [0u8; 64];
        data[0..4].copy_from_slice(&nr.to_le_bytes());
        data[4..8].copy_from_slice(&0xc000_003eu32.to_le_bytes()); // AUDIT_ARCH_X86_64
        for (i, a) in args.iter().enumerate() {
            data[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_le_bytes());
        }
        let (mut acc, mut pc) = (0u32, 0usize);
        loop {
            let i = &prog[pc];
            pc += 1;
            match i.code {
                0x20 => {
                    let o = i.k as usize;
                    acc = u32::from_le_bytes(data[o..o + 4].try_into().unwrap());
                }
                0x54 => acc &= i.k,
                0x05 => pc += i.k as usize,
                0x06 => return i.k,
                code => {
                    let hit = match code {
                        0x15 => acc == i.k,
                        0x25 => acc > i.k,
                        0x35 => acc >= i.k,
                        0x45 => acc & i.k != 0,
                        _ => panic!("opcode {code:#x} not emulated"),
                    };
                    pc += usize::from(if hit { i.jt } else { i.jf });
                }
            }
        }
    }

    /// The kernel's verdict over all filters: the most restrictive action,
    /// the latest filter winning between equals.
    fn verdict(p: &Program, nr: u32, args: [u64; 6]) -> u32 {
        let mut best = libc::SECCOMP_RET_ALLOW;
        for f in p.filters.iter().rev() {
            let r = run(f, nr, args);
            if ((r & 0xffff_0000) as i32) < ((best & 0xffff_0000) as i32) {
                best = r;
            }
        }
        best
    }

    #[test]
    fn default_program_decides_every_call_as_the_profile_says() {
        let p = compile(&default_profile(), &default_caps()).unwrap();
        let allowed: Vec<&str> = profile_allowed();
        let errno = |e: i32| libc::SECCOMP_RET_ERRNO | e as u32;
        for (name, nr) in x86_64::SYSCALLS {
            let got = verdict(&p, *nr as u32, [0; 6]);
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
            verdict(&p, nr("personality"), [0; 6]),
            libc::SECCOMP_RET_ALLOW
        );
        assert_eq!(
            verdict(&p, nr("personality"), [0x40000, 0, 0, 0, 0, 0]),
            errno(libc::ENOSYS)
        );
        assert_eq!(
            verdict(&p, nr("socket"), [2, 1, 0, 0, 0, 0]),
            libc::SECCOMP_RET_ALLOW
        );
        assert_eq!(
            verdict(&p, nr("socket"), [16, 3, 9, 0, 0, 0]),
            errno(libc::EINVAL)
        );
        // x32 calls and numbers past the table fall to the default.
        assert_eq!(
            verdict(&p, 0x4000_0000 | nr("read"), [0; 6]),
            errno(libc::ENOSYS)
        );
        assert_eq!(verdict(&p, 1000, [0; 6]), errno(libc::ENOSYS));
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
        let prog = compile(&p, &[]).unwrap();
        // Default allow: no allow-list, one EPERM filter.
        assert_eq!(prog.size().0, 1);
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
