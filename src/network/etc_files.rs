//! Contents of the /etc/hosts, /etc/hostname and /etc/resolv.conf files that
//! are bind-mounted into every container. Pure functions of their inputs.

/// /etc/hosts: loopback names, the container's own name and extra hosts.
pub fn hosts(hostname: &str, name: &str, extra: &[(String, String)]) -> String {
    let mut s = String::from(
        "127.0.0.1\tlocalhost localhost.localdomain localhost4 localhost4.localdomain4\n\
         ::1\tlocalhost localhost.localdomain localhost6 localhost6.localdomain6\n",
    );
    for (host, ip) in extra {
        s.push_str(&format!("{ip}\t{host}\n"));
    }
    if hostname == name {
        s.push_str(&format!("127.0.1.1\t{hostname}\n"));
    } else {
        s.push_str(&format!("127.0.1.1\t{hostname} {name}\n"));
    }
    s
}

/// /etc/hosts with the host's network: the host's file, then the
/// generated `host.containers.internal` line (unless the host's file names
/// it), then the container's own name line.
pub fn on_host_network(host: &str, generated: &str) -> String {
    let mut s = host.to_string();
    if !s.is_empty() && !s.ends_with('\n') {
        s.push('\n');
    }
    if !host.contains("host.containers.internal") {
        for l in generated
            .lines()
            .filter(|l| l.contains("host.containers.internal"))
        {
            s.push_str(l);
            s.push('\n');
        }
    }
    s.push_str(generated.lines().last().unwrap_or_default());
    s.push('\n');
    s
}

/// /etc/hosts once the container's address is known: its own names point at
/// that address instead of 127.0.1.1.
pub fn hosts_with_ip(
    hostname: &str,
    name: &str,
    ip: Option<&str>,
    extra: &[(String, String)],
) -> String {
    let base = hosts(hostname, name, extra);
    match ip {
        Some(ip) => base.replace("127.0.1.1\t", &format!("{ip}\t")),
        None => base,
    }
}

/// The nameservers of a resolv.conf, without loopback ones when the container
/// has its own network namespace (they would not answer there).
pub fn nameservers(host: &str, own_netns: bool) -> Vec<String> {
    host.lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .map(|a| a.trim().to_string())
        .filter(|a| !(own_netns && (a.starts_with("127.") || a == "::1")))
        .collect()
}

/// /etc/resolv.conf from explicit servers, `--dns-search` and `--dns-option`;
/// search and options fall back to the host's.
pub fn resolv_conf_from(
    host: &str,
    servers: &[String],
    search: &[String],
    options: &[String],
) -> String {
    let mut out = String::new();
    let host_line = |key: &str| {
        host.lines()
            .map(str::trim)
            .filter(|l| l.starts_with(key))
            .map(|l| l[key.len()..].trim().to_string())
            .collect::<Vec<_>>()
            .join(" ")
    };
    // `--dns-search .` means no search domains at all.
    let search = if search.is_empty() {
        host_line("search")
    } else if search.iter().all(|s| s == ".") {
        String::new()
    } else {
        search.join(" ")
    };
    if !search.is_empty() {
        out.push_str(&format!("search {search}\n"));
    }
    for s in servers {
        out.push_str(&format!("nameserver {s}\n"));
    }
    let options = if options.is_empty() {
        host_line("options")
    } else {
        options.join(" ")
    };
    if !options.is_empty() {
        out.push_str(&format!("options {options}\n"));
    }
    out
}

/// /etc/hostname.
pub fn hostname(hostname: &str) -> String {
    format!("{hostname}\n")
}

/// /etc/resolv.conf from the host's, without loopback resolvers when the
/// container has its own network namespace (they would not answer there).
pub fn resolv_conf(host: &str, own_netns: bool) -> String {
    let mut out = String::new();
    let mut servers = 0;
    for line in host.lines() {
        let t = line.trim();
        if let Some(addr) = t.strip_prefix("nameserver") {
            let addr = addr.trim();
            if own_netns && (addr.starts_with("127.") || addr == "::1") {
                continue;
            }
            servers += 1;
        }
        out.push_str(line);
        out.push('\n');
    }
    let _ = servers;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_network_hosts_name_the_host() {
        let generated = hosts(
            "h",
            "n",
            &[("host.containers.internal".into(), "127.0.0.1".into())],
        );
        assert_eq!(
            on_host_network("10.0.0.1 box", &generated),
            "10.0.0.1 box\n127.0.0.1\thost.containers.internal\n127.0.1.1\th n\n"
        );
        let own = "127.0.0.1 host.containers.internal\n";
        assert_eq!(
            on_host_network(own, &generated),
            format!("{own}127.0.1.1\th n\n")
        );
    }

    #[test]
    fn hosts_has_loopback_and_names() {
        let h = hosts("box", "t1", &[("foo".into(), "10.1.2.3".into())]);
        assert!(h.starts_with("127.0.0.1\tlocalhost"));
        assert!(h.contains("10.1.2.3\tfoo\n"));
        assert!(h.ends_with("127.0.1.1\tbox t1\n"));
        assert!(hosts("abc", "abc", &[]).ends_with("127.0.1.1\tabc\n"));
    }

    #[test]
    fn resolv_from_options() {
        let host = "nameserver 127.0.0.53\nsearch example\noptions edns0\n";
        assert_eq!(
            resolv_conf_from(host, &["10.0.2.3".into()], &[], &[]),
            "search example\nnameserver 10.0.2.3\noptions edns0\n"
        );
        assert_eq!(
            resolv_conf_from(
                host,
                &["9.9.9.9".into()],
                &["x".into()],
                &["ndots:2".into()]
            ),
            "search x\nnameserver 9.9.9.9\noptions ndots:2\n"
        );
        assert!(nameservers(host, true).is_empty());
        let h = hosts_with_ip("h", "n", Some("10.0.2.100"), &[]);
        assert!(h.ends_with("10.0.2.100\th n\n"), "{h}");
    }

    #[test]
    fn resolv_drops_loopback_in_own_netns() {
        let host = "nameserver 127.0.0.53\nnameserver 192.0.2.1\nsearch example\n";
        assert_eq!(
            resolv_conf(host, true),
            "nameserver 192.0.2.1\nsearch example\n"
        );
        assert_eq!(resolv_conf(host, false), host);
    }
}
