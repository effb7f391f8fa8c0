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

/// /etc/hosts once the container's addresses are known: its own names point
/// at the first instead of 127.0.1.1, and one more line names them at each
/// other address (Podman writes a line per network address).
pub fn hosts_with_ips(
    hostname: &str,
    name: &str,
    ips: &[&str],
    extra: &[(String, String)],
) -> String {
    let base = hosts(hostname, name, extra);
    match ips.split_first() {
        Some((ip, rest)) => hosts_add(
            &base.replace("127.0.1.1\t", &format!("{ip}\t")),
            &own_entries(hostname, name, rest),
        ),
        None => base,
    }
}

/// A container's own /etc/hosts entries, one per address, as `(names, ip)`
/// pairs like `hosts`' extras: its hostname and name (once when they are
/// the same), Podman's `GetNetworkHostEntries` for each network address.
pub fn own_entries(hostname: &str, name: &str, ips: &[&str]) -> Vec<(String, String)> {
    let names = if hostname == name {
        hostname.to_string()
    } else {
        format!("{hostname} {name}")
    };
    ips.iter()
        .map(|ip| (names.clone(), ip.to_string()))
        .collect()
}

/// Whether the /etc/hosts `line` is the entry `(names, ip)`: the same
/// address and the same names in the same order, whatever the spacing.
fn is_entry(line: &str, (names, ip): &(String, String)) -> bool {
    let mut words = line.split_whitespace();
    words.next() == Some(ip.as_str()) && words.eq(names.split_whitespace())
}

/// `text` with the `new` entries it lacks appended, each as `IP\tNAMES`;
/// the rest of the file (the user's own edits too) unchanged.
pub fn hosts_add(text: &str, new: &[(String, String)]) -> String {
    let mut out = text.to_string();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    for e in new {
        if !text.lines().any(|l| is_entry(l, e)) {
            out.push_str(&format!("{}\t{}\n", e.1, e.0));
        }
    }
    out
}

/// Podman's `etchosts.AddIfExists` for `network connect`: the `new`
/// entries are appended only when one of `existing` is still in `text`
/// (the user may have taken the container's own names out; then they stay
/// out).
pub fn hosts_add_if_exists(
    text: &str,
    existing: &[(String, String)],
    new: &[(String, String)],
) -> String {
    if text
        .lines()
        .any(|l| existing.iter().any(|e| is_entry(l, e)))
    {
        hosts_add(text, new)
    } else {
        text.to_string()
    }
}

/// `text` without the lines that are one of the `gone` entries (Podman's
/// `etchosts.Remove`).
pub fn hosts_remove(text: &str, gone: &[(String, String)]) -> String {
    text.lines()
        .filter(|l| !gone.iter().any(|e| is_entry(l, e)))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// `text` with the `servers` it lacks as `nameserver` lines in front of its
/// own ones (Podman's `resolvconf.Add` on `network connect`).
pub fn resolv_add(text: &str, servers: &[String]) -> String {
    let present = nameservers(text, false);
    let new: String = servers
        .iter()
        .filter(|s| !present.contains(s))
        .map(|s| format!("nameserver {s}\n"))
        .collect();
    let mut out = String::new();
    let mut placed = false;
    for l in text.lines() {
        if !placed && l.trim().starts_with("nameserver") {
            out.push_str(&new);
            placed = true;
        }
        out.push_str(l);
        out.push('\n');
    }
    if !placed {
        out.push_str(&new);
    }
    out
}

/// `text` without the `nameserver` lines of `servers` (Podman's
/// `resolvconf.Remove` on `network disconnect`).
pub fn resolv_remove(text: &str, servers: &[String]) -> String {
    text.lines()
        .filter(|l| {
            l.trim()
                .strip_prefix("nameserver")
                .is_none_or(|a| !servers.iter().any(|s| s == a.trim()))
        })
        .map(|l| format!("{l}\n"))
        .collect()
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

/// The file that lists the host's real servers when its resolv.conf names
/// only a local stub resolver, unreachable from a namespace of the
/// container's own: systemd-resolved's 127.0.0.53 (its
/// /run/systemd/resolve/resolv.conf) or NetworkManager's 127.0.0.1 (its
/// no-stub-resolv.conf). Podman's `getDefaultResolvConf` reads that file
/// instead for the servers, the search list and the options.
pub fn stub_resolver_file(host: &str) -> Option<&'static str> {
    match nameservers(host, false).as_slice() {
        [one] if one == "127.0.0.53" => Some("/run/systemd/resolve/resolv.conf"),
        [one] if one == "127.0.0.1" => Some("/run/NetworkManager/no-stub-resolv.conf"),
        _ => None,
    }
}

/// The servers of a container whose network helper forwards DNS itself
/// (pasta's `--dns-forward` address, slirp4netns's 10.0.2.3): that
/// address first, then the host's servers a namespace can reach, as
/// Podman 5 writes them (`addSpecialDNS` with `KeepHostServers`).
pub fn forwarder_then_host(forwarders: &[String], host: &str) -> Vec<String> {
    let mut v = forwarders.to_vec();
    for s in nameservers(host, true) {
        if !v.contains(&s) {
            v.push(s);
        }
    }
    v
}

/// /etc/resolv.conf from explicit servers, `--dns-search` and `--dns-option`;
/// without `--dns-search`, the search list is the networks' own domains
/// (`network_search`) then the host's, as Podman keeps the host's; options
/// fall back to the host's.
pub fn resolv_conf_from(
    host: &str,
    servers: &[String],
    search: &[String],
    network_search: &[String],
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
        let host = host_line("search");
        network_search
            .iter()
            .map(String::as_str)
            .chain((!host.is_empty()).then_some(host.as_str()))
            .collect::<Vec<_>>()
            .join(" ")
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
    fn connect_and_disconnect_edit_hosts_in_place() {
        let own = own_entries("h", "n", &["10.0.0.2"]);
        let text = "127.0.0.1\tlocalhost\n# mine\n10.0.0.2\th n\n";
        let new = own_entries("h", "n", &["10.0.1.2"]);
        let added = hosts_add_if_exists(text, &own, &new);
        assert_eq!(added, format!("{text}10.0.1.2\th n\n"));
        assert_eq!(hosts_add_if_exists(&added, &own, &new), added);
        assert_eq!(
            hosts_add_if_exists("127.0.0.1\tlocalhost\n", &own, &new),
            "127.0.0.1\tlocalhost\n"
        );
        assert_eq!(hosts_remove(&added, &new), text);
        assert_eq!(
            hosts_remove("10.0.1.2  h   n\n10.0.1.2 n\n", &new),
            "10.0.1.2 n\n"
        );
        assert_eq!(
            own_entries("a", "a", &["1.2.3.4"]),
            vec![("a".to_string(), "1.2.3.4".to_string())]
        );
    }

    #[test]
    fn nameservers_are_added_in_front_and_removed() {
        let text = "search x\nnameserver 10.0.0.1\noptions ndots:1\n";
        let added = resolv_add(text, &["10.0.1.1".into(), "10.0.0.1".into()]);
        assert_eq!(
            added,
            "search x\nnameserver 10.0.1.1\nnameserver 10.0.0.1\noptions ndots:1\n"
        );
        assert_eq!(resolv_remove(&added, &["10.0.1.1".into()]), text);
        assert_eq!(
            resolv_add("search x\n", &["10.0.1.1".into()]),
            "search x\nnameserver 10.0.1.1\n"
        );
    }

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
            resolv_conf_from(host, &["10.0.2.3".into()], &[], &[], &[]),
            "search example\nnameserver 10.0.2.3\noptions edns0\n"
        );
        assert_eq!(
            resolv_conf_from(
                host,
                &["9.9.9.9".into()],
                &["x".into()],
                &["dns.skiff".into()],
                &["ndots:2".into()]
            ),
            "search x\nnameserver 9.9.9.9\noptions ndots:2\n"
        );
        assert_eq!(
            resolv_conf_from(host, &["10.89.0.1".into()], &[], &["dns.skiff".into()], &[]),
            "search dns.skiff example\nnameserver 10.89.0.1\noptions edns0\n"
        );
        assert!(nameservers(host, true).is_empty());
        let h = hosts_with_ips("h", "n", &["10.0.2.100"], &[]);
        assert!(h.ends_with("10.0.2.100\th n\n"), "{h}");
        let h = hosts_with_ips("h", "n", &["10.0.2.100", "10.0.3.100"], &[]);
        assert!(h.ends_with("10.0.2.100\th n\n10.0.3.100\th n\n"), "{h}");
    }

    #[test]
    fn stub_resolvers_point_at_the_real_servers() {
        assert_eq!(
            stub_resolver_file("nameserver 127.0.0.53\noptions edns0\n"),
            Some("/run/systemd/resolve/resolv.conf")
        );
        assert_eq!(
            stub_resolver_file("nameserver 127.0.0.1\n"),
            Some("/run/NetworkManager/no-stub-resolv.conf")
        );
        assert_eq!(
            stub_resolver_file("nameserver 127.0.0.53\nnameserver 10.0.0.1\n"),
            None
        );
        assert_eq!(stub_resolver_file("nameserver 10.0.0.1\n"), None);
        let host = "nameserver 127.0.0.53\nnameserver 192.0.2.1\nnameserver 192.0.2.2\n";
        assert_eq!(
            forwarder_then_host(&["169.254.1.1".into()], host),
            ["169.254.1.1", "192.0.2.1", "192.0.2.2"]
        );
        assert_eq!(
            forwarder_then_host(&["10.0.2.3".into()], "nameserver 127.0.0.1\n"),
            ["10.0.2.3"]
        );
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
