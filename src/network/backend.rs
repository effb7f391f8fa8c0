//! The network backend of a container: the trait each `--network` mode
//! implements (pasta, slirp4netns, user-defined bridges, host, none, another
//! container's or a given namespace), the simple backends, and `Teardown`,
//! which collects every error of a detach.
//!
//! The life cycle, as `network/mod.rs` drives it:
//! `validate` at create; `prepare` before the container process exists (its
//! namespace, and pasta already starting on it); `attach` once the process
//! exists, before its command runs; `detach` after it has exited. The
//! namespace-owning backends live next to their helpers: `pasta::Pasta`,
//! `slirp4netns::Slirp`, `bridge::Bridge`.

use std::path::PathBuf;

use super::{etc_files, Connecting, Early, NetworkState};
use crate::runtime::spec::NetMode;
use crate::state::container::{Config, Container, Status};
use crate::{Context, Error, Result};

/// What connects a container's network namespace, chosen by its mode
/// (`network::backend_of`). Implementations check what they need and keep
/// in `NetworkState` whatever `detach` must undo; the shared parts (the
/// namespace file, the port forwarder, /etc/hosts and resolv.conf) stay in
/// `network/mod.rs`.
pub trait Backend {
    /// Checks a new container's configuration for this backend: its helper
    /// is installed, the container or namespace it joins exists, its
    /// published host ports are free. Errors name the object at fault.
    fn validate(&self, ctx: &Context, cfg: &Config) -> Result<()>;

    /// How the container process gets its network namespace: by default a
    /// new one of its own (which `prepare` makes), else the host's or one it
    /// joins.
    fn namespace(&self, _ctx: &Context) -> Result<NetMode> {
        Ok(NetMode::Private)
    }

    /// Runs before the container process exists, once its new namespace is
    /// made and bound (`early`; only for backends with a namespace of their
    /// own): pasta starts on it here, since its start-up takes tens of
    /// milliseconds that the container's own set-up can overlap. On an
    /// error the caller unbinds the namespace.
    fn prepare(&self, _ctx: &Context, _c: &Container, _early: &mut Early) -> Result<()> {
        Ok(())
    }

    /// Connects the namespace of container process `pid`, finishing what
    /// `prepare` began (`early`, present whenever `prepare` returned one),
    /// and records in `st` what it set up, also when it fails half-way, so
    /// that `detach` can undo it. A `Connecting` is a helper still
    /// configuring the namespace: the command must wait for it.
    fn attach(
        &self,
        _ctx: &Context,
        _c: &Container,
        _pid: i32,
        _early: Option<&mut Early>,
        _st: &mut NetworkState,
    ) -> Result<Option<Connecting>> {
        Ok(None)
    }

    /// Undoes what `st` records of this backend. Idempotent: what is already
    /// gone is no error. Runs every step whatever the earlier ones did and
    /// puts each failure into `t`, never stopping at the first.
    fn detach(&self, _ctx: &Context, _c: &Container, _st: &NetworkState, _t: &mut Teardown) {}

    /// The address that reaches the host from the container (`--add-host
    /// NAME:host-gateway`, and `--link` targets not on a shared network).
    fn host_gateway(&self, _st: &NetworkState) -> Option<String> {
        None
    }

    /// The address `host.containers.internal` resolves to, if any: the
    /// host gateway, except on the host's own network.
    fn host_alias(&self, st: &NetworkState) -> Option<String> {
        self.host_gateway(st)
    }

    /// The container's /etc/hosts, given the generated one.
    fn hosts_file(&self, generated: String) -> String {
        generated
    }

    /// The search domains of the container's networks, ahead of the host's
    /// in resolv.conf (Podman's `networkSearchDomains`).
    fn search_domains(&self) -> Vec<String> {
        Vec::new()
    }

    /// Name servers for resolv.conf when `--dns` is not given, from the
    /// host's resolv.conf text: by default its servers that are reachable
    /// from a namespace of the container's own (no loopback ones).
    fn nameservers(&self, _ctx: &Context, _st: &NetworkState, host_resolv: &str) -> Vec<String> {
        etc_files::nameservers(host_resolv, true)
    }
}

/// `--network none`: a namespace with only loopback.
pub struct NoNetwork;

impl Backend for NoNetwork {
    fn validate(&self, _ctx: &Context, cfg: &Config) -> Result<()> {
        no_published_ports(cfg, "none")
    }

    fn namespace(&self, _ctx: &Context) -> Result<NetMode> {
        Ok(NetMode::None)
    }
}

/// `--network host`: the host's own namespace; nothing to connect or undo.
pub struct Host;

impl Backend for Host {
    /// Published ports need no check: the container binds host ports itself.
    fn validate(&self, _ctx: &Context, _cfg: &Config) -> Result<()> {
        Ok(())
    }

    fn namespace(&self, _ctx: &Context) -> Result<NetMode> {
        Ok(NetMode::Host)
    }

    fn host_gateway(&self, _st: &NetworkState) -> Option<String> {
        Some("127.0.0.1".into())
    }

    /// Podman 5: with the host's network, the host is its loopback.
    fn host_alias(&self, _st: &NetworkState) -> Option<String> {
        Some("127.0.0.1".into())
    }

    /// The host's /etc/hosts, then the generated lines but its localhost
    /// ones (the host's stand): `--add-host` entries (a host-network pod's
    /// hostAliases) and the container's own name line.
    fn hosts_file(&self, generated: String) -> String {
        let host = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
        let own: String = generated
            .lines()
            .filter(|l| {
                !l.starts_with("127.0.0.1\tlocalhost ") && !l.starts_with("::1\tlocalhost ")
            })
            .map(|l| format!("{l}\n"))
            .collect();
        format!("{host}{own}")
    }

    /// All the host's servers, loopback ones included: they are reachable.
    fn nameservers(&self, _ctx: &Context, _st: &NetworkState, host_resolv: &str) -> Vec<String> {
        etc_files::nameservers(host_resolv, false)
    }
}

/// `--network container:NAME`: the namespace of another, running container.
pub struct OtherContainer(pub String);

impl Backend for OtherContainer {
    fn validate(&self, ctx: &Context, cfg: &Config) -> Result<()> {
        no_published_ports(cfg, &format!("container:{}", self.0))?;
        crate::container::store(ctx).lookup(&self.0)?;
        Ok(())
    }

    fn namespace(&self, ctx: &Context) -> Result<NetMode> {
        let name = &self.0;
        let target = crate::container::store(ctx).lookup(name)?;
        let not_running = || {
            Error::msg(format!(
                "cannot join the network of container {name}: it is not running"
            ))
        };
        if crate::container::effective_status(&target) != Status::Running {
            return Err(not_running());
        }
        super::sandbox_of(&target)
            .map(NetMode::Join)
            .ok_or_else(not_running)
    }

    fn detach(&self, ctx: &Context, c: &Container, _st: &NetworkState, _t: &mut Teardown) {
        crate::container::network::leave_shared_hosts(ctx, c);
    }
}

/// `--network ns:PATH`: a namespace bound at a path.
pub struct Namespace(pub PathBuf);

impl Backend for Namespace {
    fn validate(&self, _ctx: &Context, cfg: &Config) -> Result<()> {
        no_published_ports(cfg, &format!("ns:{}", self.0.display()))?;
        if !self.0.exists() {
            return Err(Error::msg(format!(
                "network namespace {}: no such file or directory",
                self.0.display()
            )));
        }
        Ok(())
    }

    fn namespace(&self, _ctx: &Context) -> Result<NetMode> {
        Ok(NetMode::Join(self.0.clone()))
    }
}

/// A container without a network of its own cannot publish ports.
fn no_published_ports(cfg: &Config, mode: &str) -> Result<()> {
    if cfg.publish.is_empty() {
        return Ok(());
    }
    Err(Error::msg(format!(
        "cannot publish ports with --network {mode}: the container has no network of its own to forward to"
    )))
}

/// The outcome of a teardown: every step runs whatever the ones before it
/// did, each failure is kept, and `finish` reports them all in one error
/// (netavark's rule: never only the first).
#[derive(Debug, Default)]
pub struct Teardown {
    errors: Vec<String>,
}

impl Teardown {
    /// Records the outcome of one step.
    pub fn step(&mut self, outcome: Result<()>) {
        if let Err(e) = outcome {
            self.errors.push(e.to_string());
        }
    }

    /// `Ok` when every step worked; otherwise one error, `"{subject}: "`
    /// followed by every failure in the order they happened, `; `-separated.
    pub fn finish(self, subject: &str) -> Result<()> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(Error::msg(format!("{subject}: {}", self.errors.join("; "))))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn teardown_reports_every_failed_step_in_order() {
        let mut t = Teardown::default();
        t.step(Err(Error::msg("first failed")));
        t.step(Ok(()));
        t.step(Err(Error::msg("second failed")));
        let e = t.finish("container web").unwrap_err().to_string();
        assert_eq!(e, "container web: first failed; second failed");
        assert!(Teardown::default().finish("container web").is_ok());
    }
}
