//! The installed `claude` CLI, asked once at start-up: its version, checked against the range
//! this backend supports, and whether it has the flags that differ between supported versions.
//!
//! Supported: Claude Code 2.1.197 (the newest release that installs on Node.js 18–21) up to,
//! not including, 3.0; tested with 2.1.197 and 2.1.332.

use crate::process::output_within;
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The oldest supported version.
pub const OLDEST: Version = Version(2, 1, 197);
/// The first major version that is not supported.
pub const NEXT_MAJOR: u32 = 3;
/// The newest version tested.
pub const NEWEST_TESTED: Version = Version(2, 1, 332);

/// How long `claude --version` or `claude --help` may take.
const PROBE_LIMIT: Duration = Duration::from_secs(20);

/// A `major.minor.patch` version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u32, pub u32, pub u32);

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

impl Version {
    /// Reads the first word of `claude --version` (`2.1.197 (Claude Code)`).
    pub fn parse(output: &str) -> Option<Version> {
        let word = output.split_whitespace().next()?;
        let mut parts = word.split('.').map(|p| {
            let digits: String = p.chars().take_while(char::is_ascii_digit).collect();
            digits.parse::<u32>().ok()
        });
        Some(Version(parts.next()??, parts.next()??, parts.next()??))
    }
}

/// What the installed CLI is and can do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Installed {
    /// Its version.
    pub version: Version,
    /// It has `--system-prompt-snapshot` (2.1.332 has it, 2.1.197 does not), whose default
    /// `on` keeps the first turn's system prompt on every resume.
    pub system_prompt_snapshot: bool,
}

impl Installed {
    /// What a test or an embedder assumes when it does not ask: the oldest supported version.
    pub fn assumed() -> Installed {
        Installed {
            version: OLDEST,
            system_prompt_snapshot: false,
        }
    }
}

/// Why the CLI cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum InstalledError {
    /// `--version` or `--help` failed.
    #[error("cannot run {path:?} --{what}: {source}")]
    Probe {
        /// The CLI.
        path: PathBuf,
        /// `version` or `help`.
        what: &'static str,
        /// Why.
        source: std::io::Error,
    },
    /// `--version` printed no version.
    #[error(
        "{path:?} --version printed {output:?}, not a Claude Code version: is --claude-bin the \
         Claude Code CLI?"
    )]
    NoVersion {
        /// The CLI.
        path: PathBuf,
        /// What it printed.
        output: String,
    },
    /// The version is outside the supported range.
    #[error(
        "{path:?} is Claude Code {found}; this backend supports {OLDEST} or later before \
         {NEXT_MAJOR}.0 (tested with {OLDEST} and {NEWEST_TESTED}). Install a supported one: \
         `npm install -g @anthropic-ai/claude-code@{NEWEST_TESTED}` (needs Node.js 22 or later) \
         or `npm install -g @anthropic-ai/claude-code@{OLDEST}` (Node.js 18 or later)"
    )]
    Unsupported {
        /// The CLI.
        path: PathBuf,
        /// Its version.
        found: Version,
    },
}

/// Asks the CLI at `path`, run with `env`, for its version and flags.
pub fn probe(path: &Path, env: &[(OsString, OsString)]) -> Result<Installed, InstalledError> {
    let run = |what: &'static str| {
        output_within(path, &[&format!("--{what}")], env, PROBE_LIMIT).map_err(|source| {
            InstalledError::Probe {
                path: path.to_owned(),
                what,
                source,
            }
        })
    };
    let output = run("version")?;
    let version = Version::parse(&output).ok_or_else(|| InstalledError::NoVersion {
        path: path.to_owned(),
        output: output.trim().chars().take(200).collect(),
    })?;
    if version < OLDEST || version.0 >= NEXT_MAJOR {
        return Err(InstalledError::Unsupported {
            path: path.to_owned(),
            found: version,
        });
    }
    let help = run("help")?;
    Ok(Installed {
        version,
        system_prompt_snapshot: help.contains("--system-prompt-snapshot"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_and_compared() {
        assert_eq!(
            Version::parse("2.1.197 (Claude Code)\n"),
            Some(Version(2, 1, 197))
        );
        assert_eq!(Version::parse("2.1.332-beta.1"), Some(Version(2, 1, 332)));
        assert_eq!(Version::parse("Claude Code"), None);
        assert_eq!(Version::parse(""), None);
        assert!(Version(2, 1, 196) < OLDEST && OLDEST < Version(2, 2, 0));
    }
}
