//! Buffered stdout and the progress bar.

use std::io::{self, BufWriter, IsTerminal, Stdout};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Buffered standard output.
pub fn stdout() -> BufWriter<Stdout> {
    BufWriter::with_capacity(1 << 16, io::stdout())
}

/// Inputs at least this large get a progress bar (when stderr is a terminal).
const PROGRESS_MIN_BYTES: u64 = 64 << 20;

/// A progress bar on stderr, or a hidden one when stderr is not a terminal, progress is
/// disabled, or the input is known to be small.
pub fn progress(len: Option<u64>, disabled: bool) -> ProgressBar {
    let wanted =
        !disabled && io::stderr().is_terminal() && len.is_none_or(|l| l >= PROGRESS_MIN_BYTES);
    if !wanted {
        return ProgressBar::hidden();
    }
    match len {
        Some(l) => ProgressBar::with_draw_target(Some(l), ProgressDrawTarget::stderr()).with_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] [{wide_bar}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
            )
            .expect("valid template"),
        ),
        None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()).with_style(
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bytes} ({bytes_per_sec})")
                .expect("valid template"),
        ),
    }
}
