//! sd_notify: tell systemd the container runs (`--sdnotify=conmon`), that
//! its first healthcheck passed (`healthy`), or let the container say so
//! (`container`, the default), with the supervisor as the unit's main
//! process; `STOPPING=1` once it is down.

use std::os::unix::net::UnixDatagram;

use crate::state::config::SdNotify;

/// Sends `MAINPID` when systemd asked for notifications (the container
/// process runs), and `READY=1` with it under `conmon`: the container
/// sends its own under `container`, the first passing healthcheck under
/// `healthy` ([`on_first_healthy`]).
pub fn ready_if_asked(mode: SdNotify) {
    if mode == SdNotify::Ignore {
        return;
    }
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let msg = if mode == SdNotify::Conmon {
        format!("MAINPID={}\nREADY=1\n", std::process::id())
    } else {
        format!("MAINPID={}\n", std::process::id())
    };
    send(&path.to_string_lossy(), msg.as_bytes());
}

/// Sends `STOPPING=1` when systemd asked for notifications: the container
/// is down for good (no restart follows).
pub fn stopping_if_asked(mode: SdNotify) {
    if mode == SdNotify::Ignore {
        return;
    }
    if let Some(path) = std::env::var_os("NOTIFY_SOCKET") {
        send(&path.to_string_lossy(), b"STOPPING=1\n");
    }
}

/// Sends one datagram to a notify socket path (`@name` is abstract).
pub fn send(path: &str, msg: &[u8]) {
    let Ok(sock) = UnixDatagram::unbound() else {
        return;
    };
    if let Some(name) = path.strip_prefix('@') {
        use std::os::linux::net::SocketAddrExt;
        if let Ok(addr) = std::os::unix::net::SocketAddr::from_abstract_name(name) {
            let _ = sock.send_to_addr(msg, &addr);
        }
    } else {
        let _ = sock.send_to(msg, path);
    }
}

/// Called once per run of the container, when its first healthcheck
/// passes: sends `READY=1` under `--sdnotify=healthy` (as Podman's
/// `healthy` mode), when systemd asked for notifications.
pub fn on_first_healthy(c: &crate::state::container::Container) {
    if c.config.sdnotify != SdNotify::Healthy {
        return;
    }
    if let Some(path) = std::env::var_os("NOTIFY_SOCKET") {
        send(&path.to_string_lossy(), b"READY=1\n");
    }
}
