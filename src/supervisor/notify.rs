//! sd_notify: tell systemd the container runs (`--sdnotify=conmon`) or
//! let the container say so (`container`, the default), with the
//! supervisor as the unit's main process; `STOPPING=1` once it is down.

use std::os::unix::net::UnixDatagram;

use crate::state::config::SdNotify;

/// Sends `MAINPID` (and `READY=1` unless the container sends it itself)
/// when systemd asked for notifications.
pub fn ready_if_asked(mode: SdNotify) {
    if mode == SdNotify::Ignore {
        return;
    }
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let msg = if mode == SdNotify::Container {
        format!("MAINPID={}\n", std::process::id())
    } else {
        format!("MAINPID={}\nREADY=1\n", std::process::id())
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
/// passes: the place for `--sdnotify=healthy` to send `READY=1` (nothing
/// is sent yet).
pub fn on_first_healthy(_c: &crate::state::container::Container) {}
