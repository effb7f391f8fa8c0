//! `events`: print the event journal (`crate::events`), filtered and
//! formatted as Podman prints it, and follow it live by default.

use std::os::fd::AsFd;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::Args;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};

use crate::events::{self, Event, Filters, Follower};
use crate::{Context, Error, Result};

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Filter output (container=, event=, image=, label=, network=, pod=, type=, volume=)
    #[arg(short, long, value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Format the output using the given Go template or json
    #[arg(long)]
    pub format: Option<String>,
    /// Show all events created since timestamp
    #[arg(long)]
    pub since: Option<String>,
    /// Show all events created until timestamp
    #[arg(long)]
    pub until: Option<String>,
    /// Stream new events; for testing only
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1,
          default_missing_value = "true", require_equals = true, value_name = "BOOL")]
    pub stream: bool,
    /// Do not truncate the output
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1,
          default_missing_value = "true", require_equals = true, value_name = "BOOL")]
    pub no_trunc: bool,
}

/// How each event is printed, chosen once.
enum Printer {
    Human { no_trunc: bool },
    Json,
    Template(String),
}

impl Printer {
    fn new(format: Option<&str>, no_trunc: bool) -> Result<Printer> {
        Ok(match format.map(str::trim) {
            None | Some("") => Printer::Human { no_trunc },
            Some("json") => Printer::Json,
            Some(t) => {
                let mut sample = Event::new(events::Type::Container, "start");
                sample.attributes.insert("name".into(), String::new());
                let sample = events::template_value(&sample);
                crate::format::validate(t, &crate::format::Shape::new("events.Event", &sample))?;
                Printer::Template(format.unwrap_or_default().to_string())
            }
        })
    }

    fn line(&self, e: &Event) -> Result<String> {
        Ok(match self {
            Printer::Human { no_trunc } => events::human(e, *no_trunc),
            Printer::Json => events::json_line(e),
            Printer::Template(t) => crate::format::render(t, &events::template_value(e))?,
        })
    }
}

fn when(flag: &str, v: &Option<String>, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>> {
    match v {
        None => Ok(None),
        Some(s) => crate::format::units::parse_time(s, now)
            .map(Some)
            .ok_or_else(|| {
                Error::msg(format!(
                    "invalid {flag} value {s:?}: expected a time or a duration"
                ))
            }),
    }
}

pub fn events(ctx: &Context, a: EventsArgs) -> Result<i32> {
    let now = Utc::now();
    let since = when("--since", &a.since, now)?;
    let until = when("--until", &a.until, now)?;
    let filters = Filters::parse(&a.filter).map_err(Error::msg)?;
    let printer = Printer::new(a.format.as_deref(), a.no_trunc)?;
    let wanted = |e: &Event| {
        since.is_none_or(|s| e.utc() >= s)
            && until.is_none_or(|u| e.utc() <= u)
            && filters.matches(e)
    };
    let print = |e: &Event| -> Result<()> {
        if wanted(e) {
            let line = printer.line(e)?;
            println!("{}", line.trim_end_matches('\n'));
        }
        Ok(())
    };
    if !a.stream {
        for e in events::read_all(&ctx.runroot) {
            print(&e)?;
        }
        return Ok(0);
    }
    // Streaming: what is there already (from --since), then what comes.
    let mut follower = Follower::new(&ctx.runroot, since.is_none());
    let dir = follower.dir().to_path_buf();
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::msg(crate::error::io_msg("mkdir", &dir, &e)))?;
    let inotify = Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK)
        .map_err(|e| Error::msg(format!("inotify: {e}")))?;
    inotify
        .add_watch(
            &dir,
            AddWatchFlags::IN_MODIFY | AddWatchFlags::IN_CREATE | AddWatchFlags::IN_MOVED_TO,
        )
        .map_err(|e| Error::msg(format!("watching {}: {e}", dir.display())))?;
    loop {
        for e in follower.poll() {
            print(&e)?;
        }
        let wait = match until {
            Some(u) => {
                let left = (u - Utc::now()).to_std().unwrap_or_default();
                if left.is_zero() {
                    return Ok(0);
                }
                left.min(Duration::from_secs(60))
            }
            // A slow safety net should an inotify event be missed.
            None => Duration::from_secs(1),
        };
        let mut fds = [PollFd::new(inotify.as_fd(), PollFlags::POLLIN)];
        let ms = u16::try_from(wait.as_millis()).unwrap_or(u16::MAX);
        let _ = poll(&mut fds, PollTimeout::from(ms));
        while let Ok(evs) = inotify.read_events() {
            if evs.is_empty() {
                break;
            }
        }
    }
}
