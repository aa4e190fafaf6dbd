//! Showing transfers: `indicatif` bars (one per file and one overall) on a terminal, plain
//! lines for logs, or nothing. Results go to stdout through [`Progress::out`], which keeps
//! them from tearing the bars.

use std::io::{self, IsTerminal as _, Write as _};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError};

use clap::ValueEnum;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::human;

/// How to show progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProgressMode {
    /// Bars when stdout and stderr are terminals, else nothing.
    Auto,
    /// Bars on stderr.
    Bars,
    /// A line on stderr every tenth of each file, for logs.
    Plain,
    /// Nothing.
    None,
}

impl ProgressMode {
    /// What `auto` becomes here, with `--quiet` winning over everything.
    pub fn resolve(self, quiet: bool) -> Self {
        match self {
            _ if quiet => Self::None,
            Self::Auto if io::stdout().is_terminal() && io::stderr().is_terminal() => Self::Bars,
            Self::Auto => Self::None,
            other => other,
        }
    }
}

/// The progress of one command.
#[derive(Debug)]
pub struct Progress {
    mode: ProgressMode,
    multi: Option<MultiProgress>,
    overall: Option<ProgressBar>,
    // One writer at a time, so lines from parallel transfers never interleave.
    lines: Mutex<()>,
}

impl Progress {
    /// Progress for `files` files of `total` bytes in all; the overall bar shows only for
    /// more than one file.
    pub fn new(mode: ProgressMode, files: usize, total: u64) -> Self {
        let (multi, overall) = if mode == ProgressMode::Bars {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
            let overall = (files > 1).then(|| {
                let bar = multi.add(ProgressBar::new(total));
                bar.set_style(style(
                    "{prefix:>24.bold} [{bar:30.green/white}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
                ));
                bar.set_prefix(format!("{files} files"));
                bar
            });
            (Some(multi), overall)
        } else {
            (None, None)
        };
        Self {
            mode,
            multi,
            overall,
            lines: Mutex::new(()),
        }
    }

    /// A tracker for one file of `size` bytes named `name`.
    pub fn file(self: &Arc<Self>, name: &str, size: u64) -> FileProgress {
        let bar = self.multi.as_ref().map(|multi| {
            let bar = ProgressBar::new(size);
            let bar = match &self.overall {
                Some(overall) => multi.insert_before(overall, bar),
                None => multi.add(bar),
            };
            bar.set_style(style(
                "{prefix:>24} [{bar:30.cyan/blue}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
            ));
            bar.set_prefix(short_name(name, 24));
            bar
        });
        FileProgress {
            progress: Arc::clone(self),
            bar,
            name: name.to_owned(),
            size,
            sent: AtomicU64::new(0),
            tenths_shown: AtomicU64::new(0),
        }
    }

    /// Prints a result line on stdout, above the bars.
    pub fn out(&self, line: &str) {
        self.print(|| out(line));
    }

    /// Prints a note or an error line on stderr.
    pub fn note(&self, line: &str) {
        self.print(|| {
            let _ = writeln!(io::stderr().lock(), "{line}");
        });
    }

    fn print(&self, write: impl FnOnce()) {
        let _guard = self.lines.lock().unwrap_or_else(PoisonError::into_inner);
        match &self.multi {
            Some(multi) => multi.suspend(write),
            None => write(),
        }
    }

    /// Removes the overall bar at the end.
    pub fn finish(&self) {
        if let Some(overall) = &self.overall {
            overall.finish_and_clear();
        }
    }
}

/// The progress of one file; shared by its parts in flight.
#[derive(Debug)]
pub struct FileProgress {
    progress: Arc<Progress>,
    bar: Option<ProgressBar>,
    name: String,
    size: u64,
    sent: AtomicU64,
    tenths_shown: AtomicU64,
}

impl FileProgress {
    /// `n` more bytes went out (or came in).
    pub fn advance(&self, n: u64) {
        let sent = self.sent.fetch_add(n, Ordering::Relaxed) + n;
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
        if let Some(overall) = &self.progress.overall {
            overall.inc(n);
        }
        if self.progress.mode == ProgressMode::Plain && self.size > 0 {
            let tenths = (u128::from(sent.min(self.size)) * 10 / u128::from(self.size)) as u64;
            let shown = self.tenths_shown.fetch_max(tenths, Ordering::Relaxed);
            if tenths > shown && tenths < 10 {
                self.progress.note(&format!(
                    "{}: {}% ({} of {})",
                    self.name,
                    tenths * 10,
                    human::size(sent),
                    human::size(self.size)
                ));
            }
        }
    }

    /// `n` bytes counted before must be sent again (a transfer is retried).
    pub fn rewind(&self, n: u64) {
        let _ = self
            .sent
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |s| {
                Some(s.saturating_sub(n))
            });
        if let Some(bar) = &self.bar {
            bar.dec(n);
        }
        if let Some(overall) = &self.progress.overall {
            overall.dec(n);
        }
    }

    /// The file is done.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if self.progress.mode == ProgressMode::Plain {
            self.progress
                .note(&format!("{}: 100% ({})", self.name, human::size(self.size)));
        }
    }

    /// The file failed: its bar goes, and its bytes leave the overall count.
    pub fn abandon(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if let Some(overall) = &self.progress.overall {
            overall.dec_length(self.size);
            overall.dec(self.sent.load(Ordering::Relaxed));
        }
    }
}

/// Prints a result line on stdout, when no bars are drawn. A closed stdout (`| head`) is
/// not an error worth a line of its own.
pub fn out(line: &str) {
    let _ = writeln!(io::stdout().lock(), "{line}");
}

fn style(template: &str) -> ProgressStyle {
    // The templates are constants of this file; a broken one falls back to the default
    // style rather than failing a transfer.
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

/// A name cut to `width` characters with an ellipsis in the middle, so both the start and
/// the extension stay visible.
pub fn short_name(name: &str, width: usize) -> String {
    let chars: Vec<char> = name.chars().collect();
    if chars.len() <= width || width < 5 {
        return name.to_owned();
    }
    let tail = (width - 1) / 2;
    let head = width - 1 - tail;
    let mut out: String = chars[..head].iter().collect();
    out.push('…');
    out.extend(&chars[chars.len() - tail..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_keep_their_start_and_extension() {
        assert_eq!(
            short_name("holiday-photos-2024-final.jpg", 12),
            "holida…l.jpg"
        );
        assert_eq!(
            short_name("a-very-long-file-name.tar.gz", 11),
            "a-ver…ar.gz"
        );
        assert_eq!(short_name("short.txt", 24), "short.txt");
    }

    #[test]
    fn quiet_wins_and_explicit_modes_stay() {
        assert_eq!(ProgressMode::Bars.resolve(true), ProgressMode::None);
        assert_eq!(ProgressMode::Plain.resolve(false), ProgressMode::Plain);
        assert_eq!(ProgressMode::None.resolve(false), ProgressMode::None);
    }

    #[test]
    fn rewinding_never_goes_below_zero() {
        let progress = Arc::new(Progress::new(ProgressMode::None, 1, 10));
        let file = progress.file("a", 10);

        file.advance(4);
        file.rewind(10);
        file.advance(3);

        assert_eq!(file.sent.load(Ordering::Relaxed), 3);
    }
}
