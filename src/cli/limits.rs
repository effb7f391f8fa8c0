//! The resource limit flags of `run`, `create` and `update` (Podman's names
//! and parsing), parsed once by clap into `cgroups::Resources`.

use clap::Args;

use crate::cgroups::limits::{self, DeviceRate};
use crate::cgroups::Resources;

/// Limit flags shared by `run`, `create` and `update`.
#[derive(Debug, Args, Clone, Default)]
pub struct LimitArgs {
    /// Memory limit (format: <number>[<unit>], where unit = b, k, m or g)
    #[arg(short = 'm', long, value_name = "NUMBER", value_parser = limits::parse_memory)]
    pub memory: Option<u64>,
    /// Swap limit equal to memory plus swap: '-1' to enable unlimited swap
    #[arg(long, value_name = "NUMBER", value_parser = limits::parse_swap, allow_hyphen_values = true)]
    pub memory_swap: Option<i64>,
    /// Memory soft limit (format: <number>[<unit>], where unit = b, k, m or g)
    #[arg(long, value_name = "NUMBER", value_parser = limits::parse_bytes)]
    pub memory_reservation: Option<u64>,
    /// Number of CPUs. The default is 0.000 which means no limit
    #[arg(long, value_name = "NUMBER", value_parser = limits::parse_cpus, allow_hyphen_values = true)]
    pub cpus: Option<u64>,
    /// Limit the CPU CFS (Completely Fair Scheduler) period
    #[arg(long, value_name = "LIMIT")]
    pub cpu_period: Option<u64>,
    /// Limit the CPU CFS (Completely Fair Scheduler) quota
    #[arg(long, value_name = "LIMIT", allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long, value_name = "SHARES")]
    pub cpu_shares: Option<u64>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long, value_name = "CPUS", value_parser = limits::parse_cpuset_cpus)]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes (MEMs) in which to allow execution (0-3, 0,1). Only effective on NUMA systems
    #[arg(long, value_name = "NODES", value_parser = limits::parse_cpuset_mems)]
    pub cpuset_mems: Option<String>,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long, value_name = "LIMIT", value_parser = limits::parse_pids, allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Block IO weight (relative weight) accepts a weight value between 10 and 1000
    #[arg(long, value_name = "WEIGHT", value_parser = limits::parse_blkio_weight)]
    pub blkio_weight: Option<u16>,
    /// Limit read rate (bytes per second) from a device (e.g. --device-read-bps=/dev/sda:1mb)
    #[arg(long, value_name = "PATH:RATE", value_parser = limits::parse_device_bps)]
    pub device_read_bps: Vec<DeviceRate>,
    /// Limit write rate (bytes per second) to a device (e.g. --device-write-bps=/dev/sda:1mb)
    #[arg(long, value_name = "PATH:RATE", value_parser = limits::parse_device_bps)]
    pub device_write_bps: Vec<DeviceRate>,
    /// Limit read rate (IO per second) from a device (e.g. --device-read-iops=/dev/sda:1000)
    #[arg(long, value_name = "PATH:RATE", value_parser = limits::parse_device_iops)]
    pub device_read_iops: Vec<DeviceRate>,
    /// Limit write rate (IO per second) to a device (e.g. --device-write-iops=/dev/sda:1000)
    #[arg(long, value_name = "PATH:RATE", value_parser = limits::parse_device_iops)]
    pub device_write_iops: Vec<DeviceRate>,
}

impl LimitArgs {
    /// The limits these flags give (their combination is checked where
    /// they are applied: `create`, or `update` over the limits in force).
    pub fn resources(&self) -> Resources {
        Resources {
            memory: self.memory,
            memory_swap: self.memory_swap,
            memory_reservation: self.memory_reservation,
            nano_cpus: self.cpus,
            cpu_period: self.cpu_period,
            cpu_quota: self.cpu_quota,
            cpu_shares: self.cpu_shares,
            cpuset_cpus: self.cpuset_cpus.clone(),
            cpuset_mems: self.cpuset_mems.clone(),
            pids_limit: self.pids_limit,
            blkio_weight: self.blkio_weight,
            device_read_bps: self.device_read_bps.clone(),
            device_write_bps: self.device_write_bps.clone(),
            device_read_iops: self.device_read_iops.clone(),
            device_write_iops: self.device_write_iops.clone(),
        }
    }
}
