//! `pod stats`: the resource use of each running container of a pod, as
//! Podman's `pod stats` shows it (one row per container, its pod's id
//! first). Every number is read by the container `stats` code
//! (`container::stats`); this file only reshapes its view into Podman's
//! `PodStatsReport`.

use serde_json::{json, Value};

use crate::container::stats::Reading;
use crate::state::container::{Container, Status};

use super::Pod;

/// The fields of Podman's `PodStatsReport`, in the order of the default
/// table, each with its header there and in a `table` template (Podman 4/5,
/// the `MEM USAGE/ LIMIT` spacing included).
pub const FIELDS: [(&str, &str); 9] = [
    ("Pod", "POD"),
    ("CID", "CID"),
    ("Name", "NAME"),
    ("CPU", "CPU %"),
    ("MemUsage", "MEM USAGE/ LIMIT"),
    ("Mem", "MEM %"),
    ("NetIO", "NET IO"),
    ("BlockIO", "BLOCK IO"),
    ("PIDS", "PIDS"),
];

/// The containers of `pod` among `all` that `pod stats` reports: those that
/// run (or are paused), the infra container included, oldest first. Podman
/// leaves out a container that does not run.
pub fn running_members<'a>(all: &'a [Container], pod: &Pod) -> Vec<&'a Container> {
    super::members_in(all, &pod.id)
        .into_iter()
        .filter(|c| {
            matches!(
                crate::container::effective_status(c),
                Status::Running | Status::Paused
            )
        })
        .collect()
}

/// One `PodStatsReport` (Podman's field names, all strings) for the
/// reading `r` of a container of pod `pod_id`: CPU % over the time since
/// `prev` (the last reading, when streaming) or since the container
/// started. Ids are cut to 12 characters, as Podman's.
pub fn report(pod_id: &str, r: &Reading, prev: Option<&Reading>) -> Value {
    let v = r.view(prev, false);
    let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
    json!({
        "Pod": pod_id.chars().take(12).collect::<String>(),
        "CID": s("ID"),
        "Name": s("Name"),
        "CPU": s("CPUPerc"),
        "MemUsage": s("MemUsage"),
        "MemUsageBytes": s("MemUsageBytes"),
        "Mem": s("MemPerc"),
        "NetIO": s("NetIO"),
        "BlockIO": s("BlockIO"),
        "PIDS": s("PIDs"),
    })
}

/// One row of the default table, from a report.
pub fn row(report: &Value) -> Vec<String> {
    FIELDS
        .iter()
        .map(|(k, _)| report[*k].as_str().unwrap_or_default().to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_has_podmans_fields_in_table_order() {
        let r = Reading {
            id: "a".repeat(64),
            name: "web".into(),
            running: true,
            cpu_usec: Some(1_000_000),
            uptime_secs: 10.0,
            mem_usage: Some(1024 * 1024),
            mem_limit: 4 * 1024 * 1024,
            net: Some((100, 200)),
            block: None,
            pids: 3,
            at: std::time::Instant::now(),
        };
        let rep = report(&"b".repeat(64), &r, None);
        let cells = row(&rep);
        assert_eq!(cells[0], "b".repeat(12));
        assert_eq!(cells[1], "a".repeat(12));
        assert_eq!(cells[2], "web");
        assert_eq!(cells[3], "10.00%");
        assert_eq!(cells[5], "25.00%");
        assert_eq!(cells[7], "--");
        assert_eq!(cells[8], "3");
    }
}
