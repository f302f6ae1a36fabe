//! The SDK's own diagnostics, written to stderr (the host drains it into its log).

use std::fmt::Display;

/// How much of an ignored line is quoted.
const PREVIEW_BYTES: usize = 160;

/// Writes one warning line to stderr.
pub(crate) fn warn(message: impl Display) {
    eprintln!("molecule-plugin: warning: {message}");
}

/// The start of `line`, lossily decoded, for quoting in a warning.
pub(crate) fn preview(line: &[u8]) -> String {
    let cut = &line[..line.len().min(PREVIEW_BYTES)];
    let mut text = String::from_utf8_lossy(cut).into_owned();
    if line.len() > PREVIEW_BYTES {
        text.push('…');
    }
    format!("{text:?}")
}
