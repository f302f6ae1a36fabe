//! Reading a `molecule.toml`: its structure (top-level defaults, `[[workspace]]` entries), each
//! key looked up in the one table ([`super::keys`]) and placed by its span, so every refusal
//! names the file, line, column and key. The values themselves are checked by connect's
//! validation, in [`super::entry`].

use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use molecule_host::exit::{CONFIG, HasExitCode};

use super::entry::{self, Entry};
use super::keys::{self, ID, Kind, Scope, TOKEN, TOKEN_ENV, WORKSPACE};

/// Why a run file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Something at a place in the file.
    #[error("{}:{line}:{column}: {message}", path.display())]
    At {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong, naming the key.
        message: String,
    },
}

impl HasExitCode for FileError {
    fn exit_code(&self) -> u8 {
        CONFIG
    }
}

/// One key and its value, as written, with where it was written.
#[derive(Clone, Debug)]
pub struct Item<'a> {
    /// The key.
    pub key: &'a str,
    /// Its span (for errors).
    pub span: Range<usize>,
    /// Its value.
    pub value: &'a Spanned<DeValue<'a>>,
}

/// The run file, checked.
#[derive(Debug)]
pub struct RunFile {
    /// The file read.
    pub path: PathBuf,
    /// Its workspaces, in file order.
    pub workspaces: Vec<Entry>,
}

/// Where errors are placed: the file's text and name.
pub struct Source<'a> {
    /// The file.
    pub path: &'a Path,
    /// Its text.
    pub text: &'a str,
}

impl Source<'_> {
    /// The error `message` at the start of `span`.
    pub fn at(&self, span: &Range<usize>, message: impl Into<String>) -> FileError {
        let before = &self.text[..span.start.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        FileError::At {
            path: self.path.to_owned(),
            line,
            column,
            message: message.into(),
        }
    }
}

/// Reads and checks `path`; `env` reads the token variables named in it.
pub fn load(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<RunFile, FileError> {
    let text = std::fs::read_to_string(path).map_err(|source| FileError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(path, &text, env)
}

/// Checks the text of a run file read from `path`.
pub fn parse(
    path: &Path,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<RunFile, FileError> {
    let src = Source { path, text };
    let table = DeTable::parse(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        src.at(&span, format!("not valid TOML: {}", e.message()))
    })?;
    let mut defaults = Vec::new();
    let mut tables = Vec::new();
    for (key, value) in table.get_ref() {
        if key.get_ref() == WORKSPACE {
            tables = workspace_tables(&src, value)?;
        } else {
            defaults.push(item(&src, key, value, false)?);
        }
    }
    if tables.is_empty() {
        return Err(src.at(&(0..0), "no workspace: add a [[workspace]] with its id"));
    }
    let base = path.parent().unwrap_or(Path::new("."));
    let mut workspaces: Vec<Entry> = Vec::with_capacity(tables.len());
    for (span, table) in tables {
        let mut own = Vec::new();
        for (key, value) in table {
            own.push(item(&src, key, value, true)?);
        }
        let e = entry::build(&src, base, &span, &defaults, &own, env)?;
        if workspaces.iter().any(|w| w.id == e.id) {
            return Err(src.at(&span, format!("workspace {} is listed twice", e.id)));
        }
        workspaces.push(e);
    }
    Ok(RunFile {
        path: path.to_owned(),
        workspaces,
    })
}

type Tables<'a> = Vec<(Range<usize>, &'a DeTable<'a>)>;

/// The `[[workspace]]` tables, each with its span.
fn workspace_tables<'a>(
    src: &Source<'_>,
    value: &'a Spanned<DeValue<'a>>,
) -> Result<Tables<'a>, FileError> {
    let not = || src.at(&value.span(), "workspace: expected [[workspace]] tables");
    let DeValue::Array(list) = value.get_ref() else {
        return Err(not());
    };
    list.iter()
        .map(|v| match v.get_ref() {
            DeValue::Table(t) => Ok((v.span(), t)),
            _ => Err(not()),
        })
        .collect()
}

/// One key, refused when unknown, out of place, or a token written inline.
fn item<'a>(
    src: &Source<'_>,
    key: &'a Spanned<toml::de::DeString<'a>>,
    value: &'a Spanned<DeValue<'a>>,
    in_workspace: bool,
) -> Result<Item<'a>, FileError> {
    let name: &str = key.get_ref();
    let span = key.span();
    let known = match name {
        TOKEN => {
            return Err(src.at(
                &span,
                "key token: a token is never written in the file; use token_file (a path) \
                 or token_env (a variable's name)",
            ));
        }
        ID | TOKEN_ENV => Some(Scope::Workspace),
        WORKSPACE => None,
        _ => keys::find(name).map(|k| k.scope),
    };
    match known {
        None => Err(src.at(&span, format!("unknown key {name}"))),
        Some(Scope::Workspace) if !in_workspace => Err(src.at(
            &span,
            format!("key {name} belongs in a [[workspace]] (it names one workspace's own)"),
        )),
        Some(_) => Ok(Item {
            key: name,
            span,
            value,
        }),
    }
}

/// The value of `item` as the text connect reads, refused when its type is wrong.
pub fn text_of(src: &Source<'_>, item: &Item<'_>, kind: Kind) -> Result<String, FileError> {
    let wrong = |expected: &str| {
        let key = item.key;
        let found = item.value.get_ref().type_str();
        src.at(
            &item.value.span(),
            format!("key {key}: expected {expected}, found {found}"),
        )
    };
    match (kind, item.value.get_ref()) {
        (Kind::Text | Kind::Path | Kind::Duration, DeValue::String(s)) => Ok(s.to_string()),
        (Kind::Number, DeValue::Integer(i)) => Ok(i.as_str().replace('_', "")),
        (Kind::Number, DeValue::String(s)) => Ok(s.to_string()),
        (Kind::Number, _) => Err(wrong("a whole number")),
        (Kind::Duration, _) => Err(wrong("a duration string such as \"30s\"")),
        (Kind::Flag, DeValue::Boolean(b)) => Ok(b.to_string()),
        (Kind::Flag, _) => Err(wrong("true or false")),
        (Kind::Env, _) => Err(wrong("a table")),
        (_, _) => Err(wrong("a string")),
    }
}
