//! Buffered stdout, the progress bar, and how untrusted names are shown.
//!
//! Names that come from data (NAR entries, symlink targets, file names) are shown with
//! [`escape`] in text: control characters, Unicode line separators and bidirectional
//! or zero-width formatting characters, the backslash and bytes that are not UTF-8 are
//! written as escapes, so a hostile name can neither drive the terminal nor forge a row.
//! In JSON a name is a string when it is valid UTF-8 and otherwise a `<key>_bytes` array
//! of its byte values ([`json_name`]), so that no two names print alike.

use std::io::{self, BufWriter, IsTerminal, Stdout};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{Map, Value};

/// Buffered standard output.
pub fn stdout() -> BufWriter<Stdout> {
    BufWriter::with_capacity(1 << 16, io::stdout())
}

/// Characters that do not print as themselves: C0/C1 controls and DEL, the Unicode line
/// and paragraph separators, and the zero-width and bidirectional formatting characters
/// that can reorder or hide what a line shows.
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

/// Writes `bytes` with escapes. With `backslash`, `\` is written as `\\` too, which makes
/// the result injective (two different inputs never give the same text).
fn escape_with(bytes: &[u8], backslash: bool) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len());
    for piece in bytes.utf8_chunks() {
        for c in piece.valid().chars() {
            match c {
                '\\' if backslash => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                c if c.is_ascii_control() => {
                    let _ = write!(out, "\\x{:02x}", c as u32);
                }
                c if is_unsafe(c) => {
                    let _ = write!(out, "\\u{{{:x}}}", c as u32);
                }
                c => out.push(c),
            }
        }
        // Not UTF-8: always >= 0x80, so distinct from the `\x00`..`\x7f` of controls.
        for b in piece.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

/// An untrusted name (a path, a NAR entry, a symlink target) for text and CSV output, in
/// the style of `ls -b`: `\\`, `\n`, `\t`, `\r`, `\xNN` for other ASCII controls and for
/// bytes that are not UTF-8, `\u{NNNN}` for other unsafe characters. Printable text,
/// quotes and spaces included, is kept as it is. Different names give different text.
pub fn escape(bytes: &[u8]) -> String {
    escape_with(bytes, true)
}

/// A message for stderr on one line and with nothing that drives the terminal: as
/// [`escape`], but a backslash is kept (messages quote names already escaped).
pub fn escape_message(message: &str) -> String {
    escape_with(message.as_bytes(), false)
}

/// Sets `key` to the name as a string when it is UTF-8, else `<key>_bytes` to the array
/// of its byte values (lossless; `a\xff` and `a\xfe` stay different).
pub fn json_name(obj: &mut Map<String, Value>, key: &str, bytes: &[u8]) {
    match std::str::from_utf8(bytes) {
        Ok(s) => obj.insert(key.to_string(), Value::from(s)),
        Err(_) => obj.insert(format!("{key}_bytes"), Value::from(bytes.to_vec())),
    };
}

/// Inputs at least this large get a progress bar (when stderr is a terminal).
const PROGRESS_MIN_BYTES: u64 = 64 << 20;

/// Whether to draw a progress bar: on a terminal stderr, never when stdout is a terminal
/// too (the bar would mix with the rows), only for large or unknown-size inputs.
fn progress_wanted(disabled: bool, stderr_tty: bool, stdout_tty: bool, len: Option<u64>) -> bool {
    !disabled && stderr_tty && !stdout_tty && len.is_none_or(|l| l >= PROGRESS_MIN_BYTES)
}

/// A progress bar on stderr, or a hidden one (see [`progress_wanted`]).
pub fn progress(len: Option<u64>, disabled: bool) -> ProgressBar {
    let wanted = progress_wanted(
        disabled,
        io::stderr().is_terminal(),
        io::stdout().is_terminal(),
        len,
    );
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_controls_and_invalid_bytes() {
        assert_eq!(escape(b"plain name.txt"), "plain name.txt");
        assert_eq!(escape("ä \"q\" 'q'".as_bytes()), "ä \"q\" 'q'");
        assert_eq!(escape(b"a\nb\tc\rd"), "a\\nb\\tc\\rd");
        assert_eq!(escape(b"\x1b]0;title\x07"), "\\x1b]0;title\\x07");
        assert_eq!(escape(b"a\xff"), "a\\xff");
        assert_eq!(escape(b"a\xfe"), "a\\xfe");
        assert_eq!(escape(b"\\xff"), "\\\\xff");
        assert_eq!(escape(b"\x7f\0"), "\\x7f\\x00");
        assert_eq!(
            escape("\u{85}x\u{202e}y\u{2028}".as_bytes()),
            "\\u{85}x\\u{202e}y\\u{2028}"
        );
        // A truncated multi-byte character.
        assert_eq!(escape(b"\xc3"), "\\xc3");
        // Injective on a set of look-alikes.
        let names: [&[u8]; 6] = [
            b"a\xff",
            b"a\\xff",
            b"a\\\xff",
            b"a\xc3",
            "a\u{ff}".as_bytes(),
            b"a\x1b",
        ];
        let shown: std::collections::HashSet<String> = names.iter().map(|n| escape(n)).collect();
        assert_eq!(shown.len(), names.len());
        // The result never holds a control character.
        let all: Vec<u8> = (0..=255).collect();
        assert!(!escape(&all).chars().any(char::is_control));
    }

    #[test]
    fn messages_keep_backslashes_but_not_controls() {
        assert_eq!(
            escape_message("entry \"a\\n\"\nnext"),
            "entry \"a\\n\"\\nnext"
        );
    }

    #[test]
    fn json_names_are_lossless() {
        let mut a = Map::new();
        json_name(&mut a, "path", b"a\xff");
        let mut b = Map::new();
        json_name(&mut b, "path", b"a\xfe");
        assert_ne!(a, b);
        assert_eq!(Value::Object(a)["path_bytes"], serde_json::json!([97, 255]));
        let mut c = Map::new();
        json_name(&mut c, "path", b"a\nb");
        assert_eq!(Value::Object(c)["path"], "a\nb");
    }

    #[test]
    fn progress_only_when_it_cannot_mix_with_rows() {
        let big = Some(PROGRESS_MIN_BYTES);
        assert!(progress_wanted(false, true, false, big));
        assert!(progress_wanted(false, true, false, None));
        // stdout on the terminal too: rows and bar would interleave.
        assert!(!progress_wanted(false, true, true, big));
        assert!(!progress_wanted(false, false, false, big));
        assert!(!progress_wanted(true, true, false, big));
        assert!(!progress_wanted(
            false,
            true,
            false,
            Some(PROGRESS_MIN_BYTES - 1)
        ));
    }
}
