//! Container networking. For now: the generated /etc/hosts, /etc/hostname and
//! /etc/resolv.conf; slirp4netns/pasta and user networks come with the
//! networking issue.

pub mod etc_files;
