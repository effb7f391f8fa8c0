//! Resource limits: the typed values of Podman's limit flags (`--memory`,
//! `--cpus`, `--pids-limit`, ...), their parsers (clap value parsers, so a
//! bad value is refused before anything is written) and the cgroup v2 files
//! and values they become, with crun's conversions.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// The smallest `--memory` Podman accepts: 6 MiB.
pub const MIN_MEMORY: u64 = 6 * 1024 * 1024;
/// The CFS period `--cpus` uses, in microseconds (Podman's and the kernel's default).
pub const DEFAULT_CPU_PERIOD: u64 = 100_000;

/// `--cgroups`: how the container's cgroup is made (Podman's modes).
/// `enabled` and `no-conmon`: a cgroup of its own beside the caller's, in
/// the delegated subtree; the supervisor stays in the caller's cgroup (unlike
/// conmon under `enabled`, it never gets one of its own: a systemd unit that
/// runs `skiff run` keeps its main process). `split`: the container and the
/// supervisor in sub-cgroups of the caller's cgroup
/// ([`crate::cgroups::split`]). `disabled`: no cgroup at all, no limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum CgroupsMode {
    #[default]
    Enabled,
    Disabled,
    NoConmon,
    Split,
}

impl CgroupsMode {
    /// The name inspect's HostConfig.Cgroups shows (Podman: "default" or "disabled").
    pub fn inspect_name(self) -> &'static str {
        match self {
            CgroupsMode::Disabled => "disabled",
            _ => "default",
        }
    }
}

/// One `--device-{read,write}-{bps,iops}` entry: a block device and a rate
/// (bytes or operations per second).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRate {
    /// The path given (`/dev/sda`), shown by inspect.
    pub path: String,
    pub major: u64,
    pub minor: u64,
    pub rate: u64,
}

/// The resource limits of one container, as given on `run`/`create`/`update`
/// (or filled by another front end, such as kube `resources`). `None` or an
/// empty list means "not set". Units: bytes for memory, microseconds for the
/// CFS period and quota, billionths of a CPU for `nano_cpus`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Resources {
    /// `--memory`: memory.max.
    pub memory: Option<u64>,
    /// `--memory-swap`: memory plus swap (Docker's meaning), -1 for no swap limit.
    pub memory_swap: Option<i64>,
    /// `--memory-reservation`: memory.low.
    pub memory_reservation: Option<u64>,
    /// `--cpus` as billionths of a CPU (inspect's NanoCpus).
    pub nano_cpus: Option<u64>,
    /// `--cpu-period`, microseconds.
    pub cpu_period: Option<u64>,
    /// `--cpu-quota`, microseconds; -1 for none.
    pub cpu_quota: Option<i64>,
    /// `--cpu-shares` (cgroup v1 shares, 2-262144), converted to cpu.weight.
    pub cpu_shares: Option<u64>,
    /// `--cpuset-cpus`, a list such as `0-2,4`.
    pub cpuset_cpus: Option<String>,
    /// `--cpuset-mems`, a list of memory nodes.
    pub cpuset_mems: Option<String>,
    /// `--pids-limit`; 0 or -1 for no limit.
    pub pids_limit: Option<i64>,
    /// `--blkio-weight` (10-1000), converted to io.weight.
    pub blkio_weight: Option<u16>,
    pub device_read_bps: Vec<DeviceRate>,
    pub device_write_bps: Vec<DeviceRate>,
    pub device_read_iops: Vec<DeviceRate>,
    pub device_write_iops: Vec<DeviceRate>,
}

impl Resources {
    /// Whether no limit at all is set.
    pub fn is_empty(&self) -> bool {
        self.files().is_empty()
    }

    /// Sets every limit `other` sets (as `update` applies its flags to the
    /// limits a container already has).
    pub fn merge(&mut self, other: &Resources) {
        macro_rules! take {
            ($($f:ident),*) => {$( if other.$f.is_some() { self.$f = other.$f.clone(); } )*};
        }
        take!(
            memory,
            memory_swap,
            memory_reservation,
            nano_cpus,
            cpu_period,
            cpu_quota,
            cpu_shares,
            cpuset_cpus,
            cpuset_mems,
            pids_limit,
            blkio_weight
        );
        if other.nano_cpus.is_some() {
            // --cpus replaces an earlier period and quota (Podman: they are one limit).
            self.cpu_period = other.cpu_period;
            self.cpu_quota = other.cpu_quota;
        } else if other.cpu_period.is_some() || other.cpu_quota.is_some() {
            self.nano_cpus = None;
        }
        for (mine, theirs) in [
            (&mut self.device_read_bps, &other.device_read_bps),
            (&mut self.device_write_bps, &other.device_write_bps),
            (&mut self.device_read_iops, &other.device_read_iops),
            (&mut self.device_write_iops, &other.device_write_iops),
        ] {
            for d in theirs {
                mine.retain(|m| (m.major, m.minor) != (d.major, d.minor));
                mine.push(d.clone());
            }
        }
    }

    /// Checks the combinations Podman refuses; one line naming the flags.
    pub fn validate(&self) -> Result<(), String> {
        if self.nano_cpus.is_some() && (self.cpu_period.is_some() || self.cpu_quota.is_some()) {
            return Err("--cpus and --cpu-period/--cpu-quota cannot be set together".into());
        }
        if let (Some(m), Some(s)) = (self.memory, self.memory_swap) {
            if s >= 0 && (s as u64) < m {
                return Err(
                    "minimum memoryswap limit should be larger than memory limit, see usage".into(),
                );
            }
        }
        if let (Some(m), Some(r)) = (self.memory, self.memory_reservation) {
            if r > m {
                return Err(
                    "minimum memory limit cannot be less than memory reservation limit, see usage"
                        .into(),
                );
            }
        }
        if self.memory_swap.is_some_and(|s| s != -1) && self.memory.is_none() {
            return Err(
                "you must provide a memory limit when specifying a memory swap limit".into(),
            );
        }
        Ok(())
    }

    /// The memory-plus-swap limit in force: the one given, else twice the
    /// memory limit (Podman's default), else none.
    pub fn effective_swap(&self) -> Option<i64> {
        self.memory_swap
            .or_else(|| self.memory.map(|m| 2 * m as i64))
    }

    /// The CFS (quota, period) in force, `--cpus` turned into both.
    pub fn cfs(&self) -> Option<(Option<i64>, u64)> {
        if let Some(n) = self.nano_cpus {
            let quota = (n as u128 * DEFAULT_CPU_PERIOD as u128 / 1_000_000_000) as i64;
            return Some((Some(quota.max(1000)), DEFAULT_CPU_PERIOD));
        }
        if self.cpu_period.is_none() && self.cpu_quota.is_none() {
            return None;
        }
        let quota = self.cpu_quota.filter(|q| *q > 0);
        Some((quota, self.cpu_period.unwrap_or(DEFAULT_CPU_PERIOD)))
    }

    /// The cgroup v2 files these limits write, with their values, in the
    /// order they are written.
    pub fn files(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if let Some(c) = &self.cpuset_cpus {
            out.push(("cpuset.cpus", c.clone()));
        }
        if let Some(m) = &self.cpuset_mems {
            out.push(("cpuset.mems", m.clone()));
        }
        if let Some(r) = self.memory_reservation {
            out.push(("memory.low", r.to_string()));
        }
        if let Some(m) = self.memory {
            out.push(("memory.max", m.to_string()));
        }
        if let Some(total) = self.effective_swap() {
            let swap = match (total, self.memory) {
                (t, Some(m)) if t >= 0 => (t as u64).saturating_sub(m).to_string(),
                _ => "max".to_string(),
            };
            out.push(("memory.swap.max", swap));
        }
        if let Some((quota, period)) = self.cfs() {
            let q = quota.map_or("max".to_string(), |q| q.to_string());
            out.push(("cpu.max", format!("{q} {period}")));
        }
        if let Some(s) = self.cpu_shares {
            out.push(("cpu.weight", shares_to_weight(s).to_string()));
        }
        if let Some(p) = self.pids_limit {
            let v = if p > 0 { p.to_string() } else { "max".into() };
            out.push(("pids.max", v));
        }
        if let Some(w) = self.blkio_weight {
            out.push(("io.weight", format!("default {}", blkio_to_io_weight(w))));
        }
        for line in self.io_max_lines() {
            out.push(("io.max", line));
        }
        out
    }

    /// One io.max line per device: `MAJ:MIN rbps=N wbps=N riops=N wiops=N`
    /// with the keys that are set.
    fn io_max_lines(&self) -> Vec<String> {
        let mut devs: Vec<(u64, u64)> = Vec::new();
        let lists = [
            ("rbps", &self.device_read_bps),
            ("wbps", &self.device_write_bps),
            ("riops", &self.device_read_iops),
            ("wiops", &self.device_write_iops),
        ];
        for (_, l) in &lists {
            for d in l.iter() {
                if !devs.contains(&(d.major, d.minor)) {
                    devs.push((d.major, d.minor));
                }
            }
        }
        devs.iter()
            .map(|&(ma, mi)| {
                let mut line = format!("{ma}:{mi}");
                for (key, l) in &lists {
                    if let Some(d) = l.iter().find(|d| (d.major, d.minor) == (ma, mi)) {
                        line.push_str(&format!(" {key}={}", d.rate));
                    }
                }
                line
            })
            .collect()
    }

    /// The controllers the limits need, in cgroup.subtree_control's words.
    pub fn controllers(&self) -> Vec<&'static str> {
        let mut c: Vec<&'static str> = Vec::new();
        for (file, _) in self.files() {
            let name = match file.split('.').next() {
                Some("cpuset") => "cpuset",
                Some("cpu") => "cpu",
                Some("memory") => "memory",
                Some("pids") => "pids",
                _ => "io",
            };
            if !c.contains(&name) {
                c.push(name);
            }
        }
        c
    }
}

/// crun's conversion of cgroup v1 cpu shares (2-262144) to a v2 cpu.weight
/// (1-10000): 1024 shares, the default, become 39.
pub fn shares_to_weight(shares: u64) -> u64 {
    let s = shares.clamp(2, 262_144);
    1 + ((s - 2) * 9999) / 262_142
}

/// crun's conversion of a blkio weight (10-1000) to io.weight (1-10000).
pub fn blkio_to_io_weight(w: u16) -> u64 {
    let w = u64::from(w.clamp(10, 1000));
    1 + ((w - 10) * 9999) / 990
}

/// Parses a size as Podman's `units.RAMInBytes` does: a number with an
/// optional b, k, m, g, t or p suffix (binary multiples, case-insensitive,
/// an optional trailing b or ib).
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim().to_ascii_lowercase();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().map_err(|_| format!("invalid size: '{s}'"))?;
    let mult: u64 = match unit {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        "p" | "pb" | "pib" => 1 << 50,
        _ => return Err(format!("invalid suffix: '{unit}'")),
    };
    Ok((n * mult as f64) as u64)
}

/// `--memory`: a size of at least 6 MiB (Podman's minimum and message).
pub fn parse_memory(s: &str) -> Result<u64, String> {
    let b = parse_bytes(s)?;
    if b < MIN_MEMORY {
        return Err("minimum memory limit allowed is 6MB".into());
    }
    Ok(b)
}

/// `--memory-swap`: a size, or -1 for unlimited swap.
pub fn parse_swap(s: &str) -> Result<i64, String> {
    if s.trim() == "-1" {
        return Ok(-1);
    }
    Ok(parse_bytes(s)? as i64)
}

/// `--cpus`: a positive decimal number of CPUs, kept as billionths.
pub fn parse_cpus(s: &str) -> Result<u64, String> {
    let n: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("invalid number of CPUs: '{s}'"))?;
    if !n.is_finite() || n <= 0.0 {
        return Err(format!(
            "invalid number of CPUs: '{s}' (must be greater than 0)"
        ));
    }
    let online = online_cpus(&read_online());
    if online > 0 && n > online as f64 {
        return Err(format!(
            "range of CPUs is from 0.01 to {online}.00, as there are only {online} CPUs available"
        ));
    }
    Ok((n * 1e9).round() as u64)
}

/// `--pids-limit`: an integer; 0 or -1 mean no limit.
pub fn parse_pids(s: &str) -> Result<i64, String> {
    s.trim()
        .parse::<i64>()
        .map_err(|_| format!("invalid pids limit: '{s}': not an integer"))
}

/// `--blkio-weight`: 10 to 1000 (0 means none, as in Podman).
pub fn parse_blkio_weight(s: &str) -> Result<u16, String> {
    let w: u16 = s
        .trim()
        .parse()
        .map_err(|_| format!("invalid blkio weight: '{s}'"))?;
    if !(10..=1000).contains(&w) {
        return Err(format!(
            "invalid blkio weight: '{s}': it should be in the range from 10 to 1000"
        ));
    }
    Ok(w)
}

/// `--cpuset-cpus`: a CPU list whose CPUs this host has online.
pub fn parse_cpuset_cpus(s: &str) -> Result<String, String> {
    let want = parse_list(s).ok_or_else(|| format!("invalid value for cpuset cpus: '{s}'"))?;
    let online = read_online();
    if let Some(have) = parse_list(online.trim()) {
        if want.iter().any(|c| !have.contains(c)) {
            return Err(format!(
                "requested CPUs are not available - requested {s}, available: {}",
                online.trim()
            ));
        }
    }
    Ok(s.trim().to_string())
}

/// `--cpuset-mems`: a memory node list.
pub fn parse_cpuset_mems(s: &str) -> Result<String, String> {
    parse_list(s).ok_or_else(|| format!("invalid value for cpuset mems: '{s}'"))?;
    Ok(s.trim().to_string())
}

/// `--device-read-bps` and `--device-write-bps`: `PATH:RATE`, a size per second.
pub fn parse_device_bps(s: &str) -> Result<DeviceRate, String> {
    parse_device_rate(s, parse_bytes)
}

/// `--device-read-iops` and `--device-write-iops`: `PATH:RATE`, operations per second.
pub fn parse_device_iops(s: &str) -> Result<DeviceRate, String> {
    parse_device_rate(s, |r| {
        r.parse::<u64>().map_err(|_| format!("invalid rate: '{r}'"))
    })
}

fn parse_device_rate(
    s: &str,
    rate: impl Fn(&str) -> Result<u64, String>,
) -> Result<DeviceRate, String> {
    let (path, r) = s
        .rsplit_once(':')
        .ok_or_else(|| format!("bad format: '{s}': expected PATH:RATE"))?;
    let rate = rate(r)?;
    let (major, minor) = block_device(Path::new(path))?;
    Ok(DeviceRate {
        path: path.to_string(),
        major,
        minor,
        rate,
    })
}

/// The major and minor number of a block device node.
fn block_device(p: &Path) -> Result<(u64, u64), String> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let m = std::fs::metadata(p).map_err(|e| format!("{}: {e}", p.display()))?;
    if !m.file_type().is_block_device() {
        return Err(format!("{} is not a block device", p.display()));
    }
    let rdev = m.rdev();
    Ok((nix::sys::stat::major(rdev), nix::sys::stat::minor(rdev)))
}

fn read_online() -> String {
    std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap_or_default()
}

fn online_cpus(list: &str) -> usize {
    parse_list(list.trim()).map_or(0, |l| l.len())
}

/// A kernel list (`0-3,5`) as its members; None when malformed.
pub fn parse_list(s: &str) -> Option<Vec<u32>> {
    let mut out = Vec::new();
    for part in s.trim().split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (a.parse().ok()?, b.parse().ok()?);
                if a > b || b - a > 4096 {
                    return None;
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().ok()?),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_as_podman() {
        assert_eq!(parse_bytes("64m").unwrap(), 64 << 20);
        assert_eq!(parse_bytes("1.5g").unwrap(), 3 << 29);
        assert_eq!(parse_bytes("512").unwrap(), 512);
        assert_eq!(parse_bytes("10KiB").unwrap(), 10240);
        assert!(parse_bytes("abc").is_err());
        assert_eq!(
            parse_memory("10k").unwrap_err(),
            "minimum memory limit allowed is 6MB"
        );
        assert_eq!(parse_swap("-1").unwrap(), -1);
    }

    #[test]
    fn cpus_and_pids_are_checked() {
        assert!(parse_cpus("-1").is_err());
        assert!(parse_cpus("0").is_err());
        assert_eq!(parse_cpus("0.5").unwrap(), 500_000_000);
        assert!(parse_pids("abc").is_err());
        assert_eq!(parse_pids("-1").unwrap(), -1);
        assert!(parse_cpuset_cpus("99999").is_err());
        assert!(parse_cpuset_cpus("0").is_ok());
        assert!(parse_cpuset_cpus("x").is_err());
        assert!(parse_blkio_weight("5").is_err());
    }

    #[test]
    fn limits_become_cgroup_v2_files() {
        let r = Resources {
            memory: Some(128 << 20),
            memory_swap: Some(128 << 20),
            nano_cpus: Some(500_000_000),
            cpu_shares: Some(512),
            cpuset_cpus: Some("0".into()),
            pids_limit: Some(10),
            blkio_weight: Some(500),
            device_read_bps: vec![DeviceRate {
                path: "/dev/vda".into(),
                major: 254,
                minor: 0,
                rate: 1 << 20,
            }],
            device_write_iops: vec![DeviceRate {
                path: "/dev/vda".into(),
                major: 254,
                minor: 0,
                rate: 100,
            }],
            ..Default::default()
        };
        let f = r.files();
        let get = |k: &str| f.iter().find(|(n, _)| *n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("memory.max"), Some("134217728"));
        assert_eq!(get("memory.swap.max"), Some("0"));
        assert_eq!(get("cpu.max"), Some("50000 100000"));
        assert_eq!(get("cpu.weight"), Some("20"));
        assert_eq!(get("cpuset.cpus"), Some("0"));
        assert_eq!(get("pids.max"), Some("10"));
        assert_eq!(get("io.weight"), Some("default 4950"));
        assert_eq!(get("io.max"), Some("254:0 rbps=1048576 wiops=100"));
        assert_eq!(
            r.controllers(),
            vec!["cpuset", "memory", "cpu", "pids", "io"]
        );
        assert_eq!(shares_to_weight(1024), 39);
    }

    #[test]
    fn swap_defaults_to_twice_the_memory() {
        let r = Resources {
            memory: Some(64 << 20),
            ..Default::default()
        };
        assert_eq!(r.effective_swap(), Some(128 << 20));
        let f = r.files();
        assert!(f.contains(&("memory.swap.max", (64u64 << 20).to_string())));
        assert!(Resources::default().is_empty());
    }

    #[test]
    fn bad_combinations_are_refused() {
        let r = Resources {
            nano_cpus: Some(1),
            cpu_quota: Some(1000),
            ..Default::default()
        };
        assert!(r.validate().is_err());
        let r = Resources {
            memory: Some(64 << 20),
            memory_swap: Some(32 << 20),
            ..Default::default()
        };
        assert!(r.validate().is_err());
    }

    #[test]
    fn update_merges_over_existing_limits() {
        let mut r = Resources {
            memory: Some(64 << 20),
            cpu_quota: Some(20_000),
            ..Default::default()
        };
        r.merge(&Resources {
            memory: Some(256 << 20),
            nano_cpus: Some(1_000_000_000),
            ..Default::default()
        });
        assert_eq!(r.memory, Some(256 << 20));
        assert_eq!(r.cpu_quota, None);
        assert_eq!(r.cfs(), Some((Some(100_000), 100_000)));
    }
}
