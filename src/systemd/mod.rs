//! skiff as a citizen of systemd: the units of `generate systemd`, the
//! Quadlet-style generator that turns unit descriptions into services, and
//! `auto-update`.

pub mod autoupdate;
pub mod quadlet;
pub mod unit;
