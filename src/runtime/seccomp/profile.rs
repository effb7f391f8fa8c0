//! Seccomp profiles in the Docker/OCI JSON format (`defaultAction`,
//! `syscalls[{names, action, errnoRet, args, includes, excludes}]`), and the
//! built-in default, equivalent in effect to containers/common's default
//! profile that Podman applies.

use serde::{Deserialize, Serialize};

/// A seccomp profile as Docker and Podman read it from `--security-opt
/// seccomp=FILE`. Fields skiff does not use (`archMap`, `flags`,
/// `listenerPath`) are accepted and ignored.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    /// `SCMP_ACT_ALLOW`, `SCMP_ACT_ERRNO`, `SCMP_ACT_KILL`, ... for calls no rule names.
    pub default_action: String,
    /// The errno of `defaultAction: SCMP_ACT_ERRNO` (EPERM when absent).
    #[serde(default)]
    pub default_errno_ret: Option<u32>,
    #[serde(default)]
    pub architectures: Option<Vec<String>>,
    #[serde(default)]
    pub syscalls: Option<Vec<Rule>>,
}

/// One entry of `syscalls`: the calls it names get `action` when `args` match.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    #[serde(default)]
    pub names: Option<Vec<String>>,
    /// The older single-name form.
    #[serde(default)]
    pub name: Option<String>,
    pub action: String,
    #[serde(default)]
    pub errno_ret: Option<u32>,
    #[serde(default)]
    pub args: Option<Vec<Arg>>,
    /// The rule applies only when all these hold.
    #[serde(default)]
    pub includes: Option<Filter>,
    /// The rule applies only when none of these holds.
    #[serde(default)]
    pub excludes: Option<Filter>,
}

/// An argument comparison: `op` is `SCMP_CMP_EQ`, `_NE`, `_LT`, `_LE`, `_GT`,
/// `_GE` or `_MASKED_EQ` (then `value` is the mask and `valueTwo` the value).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Arg {
    pub index: u32,
    pub value: u64,
    #[serde(default)]
    pub value_two: u64,
    pub op: String,
}

/// Conditions on the container (its capabilities) and the host (architecture, kernel).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Filter {
    #[serde(default)]
    pub caps: Option<Vec<String>>,
    #[serde(default)]
    pub arches: Option<Vec<String>>,
    #[serde(default)]
    pub min_kernel: Option<String>,
}

const EPERM: u32 = libc::EPERM as u32;

fn rule(names: &[&str], action: &str, errno: Option<u32>) -> Rule {
    Rule {
        names: Some(names.iter().map(|s| s.to_string()).collect()),
        action: action.into(),
        errno_ret: errno,
        ..Default::default()
    }
}

fn with_caps(mut r: Rule, cap: &str, include: bool) -> Rule {
    let f = Some(Filter {
        caps: Some(vec![cap.to_string()]),
        ..Default::default()
    });
    if include {
        r.includes = f;
    } else {
        r.excludes = f;
    }
    r
}

fn with_args(mut r: Rule, args: &[(u32, u64, &str)]) -> Rule {
    r.args = Some(
        args.iter()
            .map(|&(index, value, op)| Arg {
                index,
                value,
                value_two: 0,
                op: op.into(),
            })
            .collect(),
    );
    r
}

/// Calls refused with EPERM whatever the capabilities.
const REFUSED_EPERM: &[&str] = &[
    "bdflush",
    "io_pgetevents",
    "kexec_file_load",
    "kexec_load",
    "membarrier",
    "migrate_pages",
    "move_pages",
    "nfsservctl",
    "nice",
    "oldfstat",
    "oldlstat",
    "oldolduname",
    "oldstat",
    "olduname",
    "pciconfig_iobase",
    "pciconfig_read",
    "pciconfig_write",
    "sgetmask",
    "ssetmask",
    "swapcontext",
    "swapoff",
    "swapon",
    "sysfs",
    "uselib",
    "userfaultfd",
    "ustat",
    "vm86",
    "vm86old",
    "vmsplice",
];

/// Calls every container may make. The kernel keyring calls (`add_key`,
/// `keyctl`, `request_key`) are absent: the keyring is not namespaced, so
/// they fail with the default ENOSYS, as under Podman.
pub(super) const ALLOWED: &str =
    "_llseek _newselect accept accept4 access adjtimex alarm bind brk capget \
capset chdir chmod chown chown32 clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 \
clock_gettime clock_gettime64 clock_nanosleep clock_nanosleep_time64 clone clone3 close \
close_range connect copy_file_range creat dup dup2 dup3 epoll_create epoll_create1 epoll_ctl \
epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old eventfd eventfd2 execve \
execveat exit exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate fanotify_mark \
fchdir fchmod fchmodat fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr flistxattr \
flock fork fremovexattr fsconfig fsetxattr fsmount fsopen fspick fstat fstat64 fstatat64 fstatfs \
fstatfs64 fsync ftruncate ftruncate64 futex futex_time64 futimesat get_robust_list \
get_thread_area getcpu getcwd getdents getdents64 getegid getegid32 geteuid geteuid32 getgid \
getgid32 getgroups getgroups32 getitimer getpeername getpgid getpgrp getpid getppid getpriority \
getrandom getresgid getresgid32 getresuid getresuid32 getrlimit getrusage getsid getsockname \
getsockopt gettid gettimeofday getuid getuid32 getxattr inotify_add_watch inotify_init \
inotify_init1 inotify_rm_watch io_cancel io_destroy io_getevents io_setup io_submit ioctl \
ioprio_get ioprio_set ipc kill lchown lchown32 lgetxattr link linkat listen listxattr \
llistxattr lremovexattr lseek lsetxattr lstat lstat64 madvise memfd_create mincore mkdir mkdirat \
mknod mknodat mlock mlock2 mlockall mmap mmap2 mount move_mount mprotect mq_getsetattr mq_notify \
mq_open mq_timedreceive mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mq_unlink mremap \
msgctl msgget msgrcv msgsnd msync munlock munlockall munmap name_to_handle_at nanosleep \
newfstatat open openat openat2 open_tree pause pidfd_getfd pidfd_open pidfd_send_signal pipe \
pipe2 pivot_root pkey_alloc pkey_free pkey_mprotect poll ppoll ppoll_time64 prctl pread64 preadv \
preadv2 prlimit64 pselect6 pselect6_time64 pwrite64 pwritev pwritev2 read readahead readdir \
readlink readlinkat readv reboot recv recvfrom recvmmsg recvmmsg_time64 recvmsg remap_file_pages \
removexattr rename renameat renameat2 restart_syscall rmdir rseq rt_sigaction rt_sigpending \
rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait rt_sigtimedwait_time64 \
rt_tgsigqueueinfo sched_get_priority_max sched_get_priority_min sched_getaffinity sched_getattr \
sched_getparam sched_getscheduler sched_rr_get_interval sched_rr_get_interval_time64 \
sched_setaffinity sched_setattr sched_setparam sched_setscheduler sched_yield seccomp select \
semctl semget semop semtimedop semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg sendto \
setns set_robust_list set_thread_area set_tid_address setfsgid setfsgid32 setfsuid setfsuid32 \
setgid setgid32 setgroups setgroups32 setitimer setpgid setpriority setregid setregid32 setresgid \
setresgid32 setresuid setresuid32 setreuid setreuid32 setrlimit setsid setsockopt setuid setuid32 \
setxattr shmat shmctl shmdt shmget shutdown sigaltstack signalfd signalfd4 sigreturn socketcall \
socketpair splice stat stat64 statfs statfs64 statx symlink symlinkat sync sync_file_range syncfs \
sysinfo syslog tee tgkill time timer_create timer_delete timer_getoverrun timer_gettime \
timer_gettime64 timer_settime timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64 \
timerfd_settime timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask umount umount2 \
uname unlink unlinkat unshare utime utimensat utimensat_time64 utimes vfork wait4 waitid waitpid \
write writev";

/// Calls allowed only with a capability, refused with EPERM without it.
const BY_CAPABILITY: &[(&str, &[&str])] = &[
    ("CAP_DAC_READ_SEARCH", &["open_by_handle_at"]),
    (
        "CAP_SYS_ADMIN",
        &[
            "bpf",
            "fanotify_init",
            "lookup_dcookie",
            "perf_event_open",
            "quotactl",
            "setdomainname",
            "sethostname",
            "setns",
        ],
    ),
    ("CAP_SYS_CHROOT", &["chroot"]),
    (
        "CAP_SYS_MODULE",
        &[
            "delete_module",
            "init_module",
            "finit_module",
            "query_module",
        ],
    ),
    ("CAP_SYS_NICE", &["get_mempolicy", "mbind", "set_mempolicy"]),
    ("CAP_SYS_PACCT", &["acct"]),
    (
        "CAP_SYS_PTRACE",
        &[
            "kcmp",
            "process_madvise",
            "process_vm_readv",
            "process_vm_writev",
            "ptrace",
        ],
    ),
    ("CAP_SYS_RAWIO", &["iopl", "ioperm"]),
    (
        "CAP_SYS_TIME",
        &["settimeofday", "stime", "clock_settime", "clock_settime64"],
    ),
    ("CAP_SYS_TTY_CONFIG", &["vhangup"]),
];

/// The built-in profile: an allow-list with ENOSYS for everything else (so
/// that programs fall back from calls they do not know to older ones), the
/// same calls allowed for the same capabilities as containers/common's
/// default (Podman's `seccomp.json`), arguments checked for `personality`
/// and for audit sockets.
pub fn default_profile() -> Profile {
    let mut rules = vec![
        rule(REFUSED_EPERM, "SCMP_ACT_ERRNO", Some(EPERM)),
        rule(
            &ALLOWED.split_whitespace().collect::<Vec<_>>(),
            "SCMP_ACT_ALLOW",
            None,
        ),
    ];
    // personality: PER_LINUX, PER_LINUX32, UNAME26, PER_LINUX32|UNAME26 and the
    // query 0xffffffff only.
    for v in [0x0, 0x8, 0x20000, 0x20008, 0xffff_ffff] {
        rules.push(with_args(
            rule(&["personality"], "SCMP_ACT_ALLOW", None),
            &[(0, v, "SCMP_CMP_EQ")],
        ));
    }
    let arch = |names: &[&str], arches: &[&str]| {
        let mut r = rule(names, "SCMP_ACT_ALLOW", None);
        r.includes = Some(Filter {
            arches: Some(arches.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        });
        r
    };
    rules.push(arch(&["arch_prctl"], &["amd64", "x32"]));
    rules.push(arch(&["modify_ldt"], &["amd64", "x32", "x86"]));
    rules.push(arch(
        &[
            "arm_fadvise64_64",
            "arm_sync_file_range",
            "sync_file_range2",
            "breakpoint",
            "cacheflush",
            "set_tls",
        ],
        &["arm", "arm64"],
    ));
    for (cap, names) in BY_CAPABILITY {
        rules.push(with_caps(rule(names, "SCMP_ACT_ALLOW", None), cap, true));
        rules.push(with_caps(
            rule(names, "SCMP_ACT_ERRNO", Some(EPERM)),
            cap,
            false,
        ));
    }
    // socket: an audit netlink socket needs CAP_AUDIT_WRITE (EINVAL without).
    const AF_NETLINK: u64 = libc::AF_NETLINK as u64;
    const NETLINK_AUDIT: u64 = libc::NETLINK_AUDIT as u64;
    rules.push(with_caps(
        with_args(
            rule(&["socket"], "SCMP_ACT_ERRNO", Some(libc::EINVAL as u32)),
            &[
                (0, AF_NETLINK, "SCMP_CMP_EQ"),
                (2, NETLINK_AUDIT, "SCMP_CMP_EQ"),
            ],
        ),
        "CAP_AUDIT_WRITE",
        false,
    ));
    rules.push(with_caps(
        with_args(
            rule(&["socket"], "SCMP_ACT_ALLOW", None),
            &[(2, NETLINK_AUDIT, "SCMP_CMP_NE")],
        ),
        "CAP_AUDIT_WRITE",
        false,
    ));
    rules.push(with_caps(
        with_args(
            rule(&["socket"], "SCMP_ACT_ALLOW", None),
            &[(0, AF_NETLINK, "SCMP_CMP_NE")],
        ),
        "CAP_AUDIT_WRITE",
        false,
    ));
    rules.push(with_caps(
        rule(&["socket"], "SCMP_ACT_ALLOW", None),
        "CAP_AUDIT_WRITE",
        true,
    ));
    Profile {
        default_action: "SCMP_ACT_ERRNO".into(),
        default_errno_ret: Some(libc::ENOSYS as u32),
        architectures: None,
        syscalls: Some(rules),
    }
}
