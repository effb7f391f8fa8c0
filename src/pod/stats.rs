//! `pod stats`: the resource use of each running container of a pod, as
//! Podman's `pod stats` shows it (one row per container, its pod's id
//! first). Every number is read by the container `stats` code
//! (`container::stats`); this file only reshapes its view into Podman's
//! `PodStatsReport`.

use serde_json::{json, Value};

use crate::container::stats::Reading;
use crate::state::container::{Container, Status};

use super::Pod;

/// The columns of Podman's default `pod stats` table: a field of its
/// `PodStatsReport` and its header (the `MEM USAGE/ LIMIT` spacing
/// included).
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

/// The headers Podman's `pod stats` gives the fields of a `table` template
/// that are not the field's name split into words (its overrides; `Mem`
/// is left `MEM` there, unlike the default table's `MEM %`).
pub const TEMPLATE_HEADERS: [(&str, &str); 3] = [
    ("CPU", "CPU %"),
    ("MemUsage", "MEM USAGE/ LIMIT"),
    ("MemUsageBytes", "MEM USAGE/ LIMIT"),
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

/// One `PodStatsReport` (Podman's field names, all strings, in the order
/// of Podman's struct, which `--format json` keeps) for the reading `r` of
/// a container of pod `pod_id`: CPU % over the time since `prev` (the last
/// reading, when streaming) or since the container started. Ids are cut to
/// 12 characters, as Podman's.
pub fn report(pod_id: &str, r: &Reading, prev: Option<&Reading>) -> Value {
    let v = r.view(prev, false);
    let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
    json!({
        "CPU": s("CPUPerc"),
        "MemUsage": s("MemUsage"),
        "MemUsageBytes": s("MemUsageBytes"),
        "Mem": s("MemPerc"),
        "NetIO": s("NetIO"),
        "BlockIO": s("BlockIO"),
        "PIDS": s("PIDs"),
        "Pod": pod_id.chars().take(12).collect::<String>(),
        "CID": s("ID"),
        "Name": s("Name"),
    })
}

/// `pod stats --format json`: the reports as Podman's `json.MarshalIndent`
/// writes them (five spaces of indent), `[]` when no container runs.
pub fn json_text(reports: &[Value]) -> String {
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"     ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    serde::Serialize::serialize(reports, &mut ser).expect("serialising JSON values cannot fail");
    String::from_utf8(buf).expect("serde_json writes UTF-8") + "\n"
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

    /// A reading of container "web" (id a...a), 10 s up, 1 s of CPU.
    fn reading(mem_usage: u64, mem_limit: u64, pids: u64) -> Reading {
        Reading {
            id: "a".repeat(64),
            name: "web".into(),
            running: true,
            cpu_usec: Some(1_000_000),
            uptime_secs: 10.0,
            mem_usage: Some(mem_usage),
            mem_limit,
            net: Some((100, 200)),
            block: None,
            pids,
            at: std::time::Instant::now(),
        }
    }

    #[test]
    fn a_report_has_podmans_fields_in_table_order() {
        let r = reading(1024 * 1024, 4 * 1024 * 1024, 3);
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

    #[test]
    fn json_keeps_podmans_key_order_and_indent() {
        let r = reading(64 << 20, 256 << 20, 1);
        let text = json_text(&[report(&"b".repeat(64), &r, None)]);
        let keys: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("          \""))
            .filter_map(|l| l.split('"').next())
            .collect();
        assert_eq!(
            keys,
            [
                "CPU",
                "MemUsage",
                "MemUsageBytes",
                "Mem",
                "NetIO",
                "BlockIO",
                "PIDS",
                "Pod",
                "CID",
                "Name"
            ],
            "{text}"
        );
        assert!(
            text.contains("\"MemUsageBytes\": \"64MiB / 256MiB\""),
            "{text}"
        );
        assert_eq!(json_text(&[]), "[]\n");
    }
}
