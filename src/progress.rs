//! Progress on stderr for long jobs (large captures read or written, long
//! captures, big send-and-receive runs): a bar when the total is known, a
//! spinner otherwise, with counts and rates. Shown only when stderr is a
//! terminal, and only once a job has run for a moment, so short jobs and
//! pipelines stay quiet.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

const DELAY: Duration = Duration::from_millis(400);

pub struct Progress {
    what: &'static str,
    total: Option<u64>,
    n: u64,
    start: Instant,
    enabled: bool,
    bar: Option<ProgressBar>,
}

impl Progress {
    /// A job counting `what` ("packets"), `total` of them if known.
    pub fn new(what: &'static str, total: Option<u64>) -> Progress {
        Progress {
            what,
            total,
            n: 0,
            start: Instant::now(),
            enabled: std::io::stderr().is_terminal()
                && std::env::var_os("PKTSCRIPT_NO_PROGRESS").is_none(),
            bar: None,
        }
    }

    /// Counts `k` more; cheap enough to call per packet.
    pub fn inc(&mut self, k: u64) {
        self.n += k;
        if !self.enabled {
            return;
        }
        match &self.bar {
            Some(b) => {
                if self.n.is_multiple_of(64) || self.total.is_some_and(|t| self.n >= t) {
                    b.set_position(self.n);
                }
            }
            None => {
                if self.n.is_multiple_of(1024) || self.total.is_some() || self.n < 1024 {
                    self.maybe_start();
                }
            }
        }
    }

    /// Shows the spinner or bar now if the job has been running a while
    /// (for jobs that wait rather than count, such as a capture).
    pub fn tick(&mut self) {
        if self.enabled && self.bar.is_none() {
            self.maybe_start();
        }
    }

    fn maybe_start(&mut self) {
        if self.start.elapsed() < DELAY {
            return;
        }
        let what = self.what;
        let bar = match self.total {
            Some(t) => ProgressBar::with_draw_target(Some(t), ProgressDrawTarget::stderr()).with_style(
                ProgressStyle::with_template(&format!(
                    "{{spinner}} [{{bar:30}}] {{human_pos}}/{{human_len}} {what} ({{rate}}, {{eta}} left)"
                ))
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .with_key("rate", rate),
            ),
            None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()).with_style(
                ProgressStyle::with_template(&format!("{{spinner}} {{human_pos}} {what} ({{rate}}, {{elapsed}})"))
                    .unwrap_or_else(|_| ProgressStyle::default_spinner())
                    .with_key("rate", rate),
            ),
        };
        bar.enable_steady_tick(Duration::from_millis(120));
        bar.set_position(self.n);
        self.bar = Some(bar);
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(b) = self.bar.take() {
            b.set_position(self.n);
            b.finish_and_clear();
        }
    }
}

fn rate(state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write) {
    let _ = write!(w, "{:.0}/s", state.per_sec());
}
