//! What `molecule -V` and `molecule --version` print: the version, the git commit the binary was
//! built from (`-dirty` when its sources differed, `unknown` for a build outside a git
//! checkout), the protocol version it speaks to backends and the target it was built for. The
//! commit and the target are recorded by `build.rs`.

use std::sync::LazyLock;

/// The short git hash of the build, with `-dirty`, or `unknown`.
pub const COMMIT: &str = env!("MOLECULE_COMMIT");

/// The target triple the binary was built for.
pub const TARGET: &str = env!("MOLECULE_TARGET");

/// `-V`: one line, `0.1.0 (1a2b3c4)`, after the program's name.
pub fn short() -> &'static str {
    static SHORT: LazyLock<String> = LazyLock::new(|| {
        let commit = match COMMIT {
            "unknown" => "commit unknown",
            c => c,
        };
        format!("{} ({commit})", env!("CARGO_PKG_VERSION"))
    });
    SHORT.as_str()
}

/// `--version`: the line of `-V`, then one `key: value` line each, as `rustc -vV` prints them,
/// for bug reports and scripts.
pub fn long() -> &'static str {
    static LONG: LazyLock<String> = LazyLock::new(|| {
        format!(
            "{}\ncommit: {COMMIT}\nprotocol: {}\ntarget: {TARGET}",
            short(),
            molecule_protocol::PROTOCOL_VERSION
        )
    });
    LONG.as_str()
}
