//! What pull, push and load tell the user while they copy blobs: one line
//! per step when stderr is not a terminal (scripts and logs read those), a
//! bar per blob when it is, nothing with `-q`.

use std::io::{IsTerminal, Read};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Quiet,
    Lines,
    Bars,
}

/// The progress output of one command. Cheap to clone and shared by the
/// threads that copy blobs.
#[derive(Clone)]
pub struct Progress {
    mode: Mode,
    multi: Option<MultiProgress>,
}

impl Progress {
    /// Bars when stderr is a terminal, lines otherwise, silence with `quiet`.
    pub fn new(quiet: bool) -> Progress {
        let mode = if quiet {
            Mode::Quiet
        } else if std::io::stderr().is_terminal() {
            Mode::Bars
        } else {
            Mode::Lines
        };
        let multi = (mode == Mode::Bars)
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Progress { mode, multi }
    }

    pub fn quiet() -> Progress {
        Progress {
            mode: Mode::Quiet,
            multi: None,
        }
    }

    /// A step line: `Trying to pull ...`, `Writing manifest to image destination`.
    pub fn line(&self, msg: &str) {
        match (&self.mode, &self.multi) {
            (Mode::Quiet, _) => {}
            (Mode::Bars, Some(m)) => {
                let _ = m.println(msg);
            }
            _ => eprintln!("{msg}"),
        }
    }

    /// Progress of one blob (`kind` is `blob` or `config`), named by the
    /// short form of its digest as Podman prints it.
    pub fn blob(&self, kind: &str, digest: &str, size: Option<u64>) -> BlobProgress {
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        let width = if kind == "config" { 10 } else { 12 };
        let label = format!("Copying {kind} {}", &hex[..width.min(hex.len())]);
        let bar = self.multi.as_ref().map(|m| {
            let bar = m.add(ProgressBar::new(size.unwrap_or(0)));
            let style = ProgressStyle::with_template(bar_template(size))
                .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar.set_message(label.clone());
            bar
        });
        BlobProgress {
            mode: self.mode,
            label,
            bar,
        }
    }
}

/// The bar of a blob: with its total when known, else the bytes copied so
/// far alone (a bogus `0 B` total would be worse than none).
fn bar_template(size: Option<u64>) -> &'static str {
    match size {
        Some(_) => "{msg} {bar:30} {bytes:>10} / {total_bytes:<10} {bytes_per_sec:>12}",
        None => "{msg} {spinner} {bytes:>10} {bytes_per_sec:>12}",
    }
}

/// The progress of one blob copy.
pub struct BlobProgress {
    mode: Mode,
    label: String,
    bar: Option<ProgressBar>,
}

impl BlobProgress {
    pub fn inc(&self, n: u64) {
        if let Some(b) = &self.bar {
            b.inc(n);
        }
    }

    pub fn set_length(&self, n: u64) {
        if let Some(b) = &self.bar {
            b.set_length(n);
        }
    }

    fn end(&self, what: &str) {
        match &self.bar {
            Some(b) => {
                b.set_style(
                    ProgressStyle::with_template("{msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                b.finish_with_message(format!("{} {what}", self.label));
            }
            None if self.mode == Mode::Lines => eprintln!("{} {what}", self.label),
            None => {}
        }
    }

    pub fn done(&self) {
        self.end("done");
    }

    pub fn skipped(&self) {
        self.end("skipped: already exists");
    }

    pub fn failed(&self) {
        if let Some(b) = &self.bar {
            b.abandon();
        }
    }

    /// A reader that advances this progress as `inner` is read.
    pub fn reader<R: Read>(&self, inner: R) -> CountingReader<'_, R> {
        CountingReader {
            inner,
            progress: self,
        }
    }
}

/// Counts bytes read into a [`BlobProgress`].
pub struct CountingReader<'a, R> {
    inner: R,
    progress: &'a BlobProgress,
}

impl<R: Read> Read for CountingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.inc(n as u64);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bar_without_a_total_shows_none() {
        assert!(bar_template(Some(5)).contains("{total_bytes"));
        assert!(!bar_template(None).contains("total"));
        for s in [Some(1), None] {
            assert!(ProgressStyle::with_template(bar_template(s)).is_ok());
        }
    }
}
