//! How skiff's `tracing` events reach the user: one line each on stderr,
//! in the form Podman's logrus text formatter gives them,
//! `LEVL[NNNN] message key=value ...`, where LEVL is `TRAC`, `DEBU`,
//! `INFO`, `WARN` or `ERRO` and NNNN counts the whole seconds since the
//! process started (logrus counts from its own start). Every warning skiff
//! prints goes through here: `tracing::warn!`, never a hand-made prefix.
//!
//! Podman colours the level on a terminal and, when stderr is not one,
//! prints `time="..." level=warning msg="..."` instead; skiff prints the
//! terminal form, uncoloured, everywhere, so that one pattern
//! (`^WARN\[\d{4}\] `) finds its warnings in scripts and logs alike.

use std::fmt;
use std::sync::OnceLock;
use std::time::Instant;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

static START: OnceLock<Instant> = OnceLock::new();

/// Marks now as the start the NNNN of log lines counts from (the first
/// call wins; a process that never calls it counts from its first line).
pub fn mark_start() {
    START.get_or_init(Instant::now);
}

/// logrus's four-letter name of a level.
fn level_name(level: Level) -> &'static str {
    match level {
        Level::TRACE => "TRAC",
        Level::DEBUG => "DEBU",
        Level::INFO => "INFO",
        Level::WARN => "WARN",
        Level::ERROR => "ERRO",
    }
}

/// The `LEVL[NNNN]` that starts a log line of `level` now.
pub fn prefix(level: Level) -> String {
    let secs = START.get_or_init(Instant::now).elapsed().as_secs();
    format!("{}[{secs:04}]", level_name(level))
}

/// The event formatter: `LEVL[NNNN] message key=value ...` (the fields as
/// `tracing`'s default field formatter writes them, message first).
pub struct Logrus;

impl<S, N> FormatEvent<S, N> for Logrus
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        write!(w, "{} ", prefix(*event.metadata().level()))?;
        ctx.field_format().format_fields(w.by_ref(), event)?;
        writeln!(w)
    }
}

/// Sends the events of skiff's own code at `level` and above to stderr in
/// [`Logrus`] form; a second call in the same process changes nothing.
pub fn init(level: tracing::level_filters::LevelFilter) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    mark_start();
    let _ = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .event_format(Logrus),
        )
        .with(tracing_subscriber::filter::Targets::new().with_target("skiff", level))
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_have_logrus_level_names_and_seconds() {
        mark_start();
        let p = prefix(Level::WARN);
        assert!(
            p.starts_with("WARN[") && p.ends_with(']') && p.len() == 10,
            "{p}"
        );
        assert!(p[5..9].bytes().all(|b| b.is_ascii_digit()), "{p}");
        assert_eq!(&prefix(Level::ERROR)[..5], "ERRO[");
        assert_eq!(&prefix(Level::DEBUG)[..5], "DEBU[");
    }
}
