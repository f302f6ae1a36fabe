//! The workspace token: where it comes from, how it is kept out of logs, and how a freshly
//! minted one is saved.
//!
//! The token is opaque: it is never checked for shape (workspace and org tokens look alike),
//! only stripped of the line ending a text editor adds. A token file is re-read after a 401 so
//! that a rotation needs no restart.

use std::fmt;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::RwLock;

/// A token file larger than this is surely the wrong file.
const MAX_TOKEN_FILE_BYTES: u64 = 64 * 1024;

/// A secret string whose `Debug` and `Display` print `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

/// Why no usable token could be had.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The token file does not exist.
    #[error("token file {path} does not exist (--token-file)")]
    Missing {
        /// The file.
        path: PathBuf,
    },
    /// The token file could not be read.
    #[error("cannot read token file {path} (--token-file): {source}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The token is empty.
    #[error("the token from {origin} is empty")]
    Empty {
        /// Where it came from.
        origin: String,
    },
    /// The token has bytes an HTTP header cannot carry (it is not shown).
    #[error("the token from {origin} contains characters that cannot be sent in an HTTP header")]
    NotHeaderSafe {
        /// Where it came from.
        origin: String,
    },
    /// The token file is implausibly large.
    #[error("token file {path} is larger than 64 KiB; is it the right file? (--token-file)")]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// A minted token could not be saved.
    #[error("cannot save the token to {path}: {source}")]
    Store {
        /// The target file.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
}

impl crate::exit::HasExitCode for TokenError {
    fn exit_code(&self) -> u8 {
        crate::exit::CONFIG
    }
}

/// Where the token came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenOrigin {
    /// A file, re-read after a 401.
    File(PathBuf),
    /// A value given directly (the environment or a flag); named for messages.
    Value(String),
    /// No token yet: calls go out without `Authorization` until one is adopted.
    None,
}

impl fmt::Display for TokenOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenOrigin::File(p) => write!(f, "token file {}", p.display()),
            TokenOrigin::Value(name) => f.write_str(name),
            TokenOrigin::None => f.write_str("no token"),
        }
    }
}

/// The current token and where to get a fresh one.
#[derive(Debug)]
pub struct TokenSource {
    origin: TokenOrigin,
    current: RwLock<Option<Secret>>,
}

impl TokenSource {
    /// Reads the token from `path` now; [`TokenSource::reload`] reads it again.
    pub fn from_file(path: impl Into<PathBuf>) -> Result<Self, TokenError> {
        let path = path.into();
        let token = read_token_file(&path)?;
        Ok(TokenSource {
            origin: TokenOrigin::File(path),
            current: RwLock::new(Some(token)),
        })
    }

    /// A token given as a value; `origin` names it in messages (`MOLECULE_WORKSPACE_TOKEN`,
    /// `--token`).
    pub fn from_value(value: &str, origin: &str) -> Result<Self, TokenError> {
        let token = clean_token(value, origin)?;
        Ok(TokenSource {
            origin: TokenOrigin::Value(origin.to_owned()),
            current: RwLock::new(Some(token)),
        })
    }

    /// No token: for a first registration, which the platform answers with a minted one.
    pub fn none() -> Self {
        TokenSource {
            origin: TokenOrigin::None,
            current: RwLock::new(None),
        }
    }

    /// Where the token comes from.
    pub fn origin(&self) -> &TokenOrigin {
        &self.origin
    }

    /// The token to send now.
    pub fn current(&self) -> Option<Secret> {
        self.current.read().map(|t| t.clone()).unwrap_or(None)
    }

    /// Re-reads a token file. Returns whether the token changed; a value source never does.
    pub fn reload(&self) -> Result<bool, TokenError> {
        let TokenOrigin::File(path) = &self.origin else {
            return Ok(false);
        };
        let fresh = read_token_file(path)?;
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        let changed = current.as_ref() != Some(&fresh);
        *current = Some(fresh);
        Ok(changed)
    }

    /// Uses `token` from now on when there is no token yet; returns whether it was adopted.
    pub fn adopt_if_unset(&self, token: &Secret) -> bool {
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        if current.is_some() {
            return false;
        }
        *current = Some(token.clone());
        true
    }
}

/// Saves `token` to `path` atomically, mode 0600, creating missing directories with mode
/// 0700: a temporary file in the same directory, fsync, rename, fsync of the directory.
pub fn store_token(path: &Path, token: &Secret) -> Result<(), TokenError> {
    let fail = |source| TokenError::Store {
        path: path.to_owned(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(fail)?;
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(
        ".{}.tmp-{}-{}",
        file_name.as_deref().unwrap_or("token"),
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    let written = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(token.expose().as_bytes())?;
        f.write_all(b"\n")?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        fs::File::open(dir)?.sync_all()
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written.map_err(fail)
}

fn read_token_file(path: &Path) -> Result<Secret, TokenError> {
    let meta = fs::metadata(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => TokenError::Missing {
            path: path.to_owned(),
        },
        _ => TokenError::Unreadable {
            path: path.to_owned(),
            source,
        },
    })?;
    if meta.len() > MAX_TOKEN_FILE_BYTES {
        return Err(TokenError::TooLarge {
            path: path.to_owned(),
        });
    }
    let raw = fs::read_to_string(path).map_err(|source| TokenError::Unreadable {
        path: path.to_owned(),
        source,
    })?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        tracing::warn!(
            path = %path.display(),
            mode = format_args!("{mode:04o}"),
            "the token file is readable by other users; run: chmod 600 {}",
            path.display()
        );
    }
    clean_token(&raw, &format!("token file {}", path.display()))
}

/// Strips the trailing line ending (and nothing else) and checks the token can be sent.
fn clean_token(raw: &str, origin: &str) -> Result<Secret, TokenError> {
    let token = raw.trim_end_matches(['\n', '\r']);
    if token.is_empty() {
        return Err(TokenError::Empty {
            origin: origin.to_owned(),
        });
    }
    if reqwest::header::HeaderValue::from_str(&format!("Bearer {token}")).is_err() {
        return Err(TokenError::NotHeaderSafe {
            origin: origin.to_owned(),
        });
    }
    Ok(Secret(token.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("tok-very-secret");
        assert_eq!(
            format!("{s} {s:?} {:?}", Some(&s)),
            "[redacted] [redacted] Some([redacted])"
        );
        let src = TokenSource::from_value("tok-very-secret", "MOLECULE_WORKSPACE_TOKEN").unwrap();
        assert!(!format!("{src:?}").contains("very-secret"));
    }

    #[test]
    fn only_the_line_ending_is_trimmed() {
        let t = clean_token(" a b\r\n", "x").unwrap();
        assert_eq!(t.expose(), " a b");
        assert!(matches!(
            clean_token("\n", "x"),
            Err(TokenError::Empty { .. })
        ));
        assert!(matches!(
            clean_token("a\nb", "x"),
            Err(TokenError::NotHeaderSafe { .. })
        ));
    }

    #[test]
    fn value_sources_do_not_reload_and_none_adopts_once() {
        let v = TokenSource::from_value("t1", "--token").unwrap();
        assert!(!v.reload().unwrap());
        assert!(!v.adopt_if_unset(&Secret::new("t2")));
        assert_eq!(v.current().unwrap().expose(), "t1");
        let n = TokenSource::none();
        assert!(n.current().is_none());
        assert!(n.adopt_if_unset(&Secret::new("t2")));
        assert_eq!(n.current().unwrap().expose(), "t2");
    }
}
