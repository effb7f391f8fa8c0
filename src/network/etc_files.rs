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
    fn hosts_has_loopback_and_names() {
        let h = hosts("box", "t1", &[("foo".into(), "10.1.2.3".into())]);
        assert!(h.starts_with("127.0.0.1\tlocalhost"));
        assert!(h.contains("10.1.2.3\tfoo\n"));
        assert!(h.ends_with("127.0.1.1\tbox t1\n"));
        assert!(hosts("abc", "abc", &[]).ends_with("127.0.1.1\tabc\n"));
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
