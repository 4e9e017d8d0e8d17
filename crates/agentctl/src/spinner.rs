//! A spinner on stderr while a tail waits (a pending job, a quiet log).
//!
//! Only on a terminal: piped or redirected, stderr gets nothing from it. It appears
//! after a second without a line, so a busy log never flickers, and it erases itself
//! before the next line is printed.

use std::io::{self, IsTerminal, Write};
use std::time::{Duration, Instant};

const FRAMES: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/// How long a tail stays silent before the spinner shows.
const QUIET: Duration = Duration::from_secs(1);

/// The spinner of one wait.
#[derive(Debug)]
pub struct Spinner {
    enabled: bool,
    shown: bool,
    frame: usize,
    since: Instant,
    label: String,
}

impl Spinner {
    /// A spinner that shows `label` (when stderr is a terminal).
    pub fn new(label: impl Into<String>) -> Spinner {
        Spinner {
            enabled: io::stderr().is_terminal(),
            shown: false,
            frame: 0,
            since: Instant::now(),
            label: label.into(),
        }
    }

    /// True when it can ever show (stderr is a terminal).
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Changes the label.
    pub fn set_label(&mut self, label: impl Into<String>) {
        self.label = label.into();
    }

    /// Draws the next frame if the wait has been long enough.
    pub fn tick(&mut self) {
        if !self.enabled || self.since.elapsed() < QUIET {
            return;
        }
        self.frame = (self.frame + 1) % FRAMES.len();
        let waited = self.since.elapsed().as_secs();
        let mut err = io::stderr().lock();
        let _ = write!(
            err,
            "\r\x1b[2K{} {} ({waited}s)",
            FRAMES[self.frame], self.label
        );
        let _ = err.flush();
        self.shown = true;
    }

    /// Something arrived: erase the spinner, and start counting the quiet again.
    pub fn reset(&mut self) {
        self.clear();
        self.since = Instant::now();
    }

    /// Erases the spinner if it is on screen.
    pub fn clear(&mut self) {
        if self.shown {
            let mut err = io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
            self.shown = false;
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.clear();
    }
}
