//! The backend command line: split with shell-word rules, `~`/`$HOME` expanded, the program
//! resolved to an executable file, with a distinct error for each way that can fail.
//!
//! The command is executed directly, never through `sh -c`, so the backend itself leads its
//! process group and receives the host's signals.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// A parsed and resolved backend command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackendCommand {
    /// The program, resolved to an absolute path of an executable file.
    pub program: PathBuf,
    /// Its arguments, after `~`/`$HOME` expansion.
    pub args: Vec<OsString>,
    /// The command line as the user wrote it, for messages.
    pub display: String,
}

/// Why a backend command cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CommandError {
    /// The command line is empty or only blanks.
    #[error("the backend command is empty: give the program to run, e.g. --backend-cmd ./my-agent")]
    Empty,
    /// The command line has unbalanced quotes or a trailing backslash.
    #[error(
        "cannot split the backend command {command:?}: unbalanced quotes or a trailing backslash"
    )]
    BadQuoting {
        /// The command line.
        command: String,
    },
    /// The program does not exist where it was looked for.
    #[error("backend program {program:?} not found (searched {searched})")]
    NotFound {
        /// The program as written.
        program: String,
        /// Where it was looked for: a path, or the directories of `PATH`.
        searched: String,
    },
    /// The program exists but cannot be executed.
    #[error("backend program {} is not executable ({reason}); try chmod +x", path.display())]
    NotExecutable {
        /// The file found.
        path: PathBuf,
        /// Why it cannot run: a directory, or no execute permission.
        reason: &'static str,
    },
}

impl crate::exit::HasExitCode for CommandError {
    fn exit_code(&self) -> u8 {
        match self {
            CommandError::Empty | CommandError::BadQuoting { .. } => crate::exit::CONFIG,
            CommandError::NotFound { .. } | CommandError::NotExecutable { .. } => {
                crate::exit::BACKEND_START
            }
        }
    }
}

/// Where a command is resolved: the home directory, the working directory and `PATH`.
#[derive(Clone, Debug, Default)]
pub struct Lookup {
    /// Replaces a leading `~` or `$HOME`.
    pub home: Option<PathBuf>,
    /// Relative program paths (`./my-agent`) are resolved against it.
    pub cwd: PathBuf,
    /// The search path for bare program names.
    pub path: Option<OsString>,
}

impl Lookup {
    /// The host process's own home directory, working directory and `PATH`.
    pub fn from_process() -> Self {
        Lookup {
            home: std::env::var_os("HOME")
                .filter(|h| !h.is_empty())
                .map(PathBuf::from)
                .or_else(dirs::home_dir),
            cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")),
            path: std::env::var_os("PATH"),
        }
    }
}

impl BackendCommand {
    /// Splits and resolves a command line such as `--backend-cmd` gives, against the host
    /// process's environment.
    pub fn parse(cmdline: &str) -> Result<Self, CommandError> {
        Self::parse_in(cmdline, &Lookup::from_process())
    }

    /// Splits and resolves `cmdline` against `lookup`.
    pub fn parse_in(cmdline: &str, lookup: &Lookup) -> Result<Self, CommandError> {
        let words = shell_words::split(cmdline).map_err(|_| CommandError::BadQuoting {
            command: cmdline.to_owned(),
        })?;
        let argv = words.into_iter().map(OsString::from).collect();
        Self::from_argv_in(argv, cmdline.to_owned(), lookup)
    }

    /// Resolves an already split command (`backend-check -- <cmd…>`), against the host
    /// process's environment.
    pub fn from_argv(argv: Vec<OsString>) -> Result<Self, CommandError> {
        let display = shell_words::join(argv.iter().map(|a| a.to_string_lossy()));
        Self::from_argv_in(argv, display, &Lookup::from_process())
    }

    fn from_argv_in(
        argv: Vec<OsString>,
        display: String,
        lookup: &Lookup,
    ) -> Result<Self, CommandError> {
        let mut words = argv
            .into_iter()
            .map(|w| expand_home(w, lookup.home.as_deref()));
        let program = words
            .next()
            .filter(|p| !p.is_empty())
            .ok_or(CommandError::Empty)?;
        Ok(BackendCommand {
            program: resolve(&program, lookup)?,
            args: words.collect(),
            display,
        })
    }

    /// A short name for logs: the program's file name.
    pub fn name(&self) -> String {
        self.program
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.program.display().to_string())
    }
}

/// Expands `~`, `~/…`, `$HOME`, `$HOME/…` and `${HOME}…` at the start of a word.
fn expand_home(word: OsString, home: Option<&Path>) -> OsString {
    let Some(home) = home else { return word };
    let bytes = word.as_bytes();
    let rest = if bytes == b"~" || bytes.starts_with(b"~/") {
        &bytes[1..]
    } else if let Some(rest) = bytes.strip_prefix(b"${HOME}") {
        rest
    } else if let Some(rest) = bytes.strip_prefix(b"$HOME") {
        // `$HOMER` is another variable; only a word end or a slash ends the name.
        if !(rest.is_empty() || rest.starts_with(b"/")) {
            return word;
        }
        rest
    } else {
        return word;
    };
    let mut out = home.as_os_str().to_owned();
    out.push(OsStr::from_bytes(rest));
    out
}

fn resolve(program: &OsStr, lookup: &Lookup) -> Result<PathBuf, CommandError> {
    let shown = program.to_string_lossy().into_owned();
    if program.as_bytes().contains(&b'/') {
        // `./x` reads better in messages as `<cwd>/x`.
        let path: PathBuf = lookup
            .cwd
            .join(program)
            .components()
            .filter(|c| !matches!(c, std::path::Component::CurDir))
            .collect();
        return match check_executable(&path) {
            Check::Ok => Ok(path),
            Check::Missing => Err(CommandError::NotFound {
                program: shown,
                searched: path.display().to_string(),
            }),
            Check::NotExecutable(reason) => Err(CommandError::NotExecutable { path, reason }),
        };
    }
    if let Ok(found) = which::which_in(program, lookup.path.as_ref(), &lookup.cwd) {
        return Ok(found);
    }
    // `which` reports "not found" for a file that exists without execute permission too;
    // look for one so the user learns which of the two it is.
    let dirs: Vec<PathBuf> = lookup
        .path
        .as_ref()
        .map(|p| std::env::split_paths(p).collect())
        .unwrap_or_default();
    for dir in &dirs {
        let candidate = lookup.cwd.join(dir).join(program);
        if let Check::NotExecutable(reason) = check_executable(&candidate) {
            return Err(CommandError::NotExecutable {
                path: candidate,
                reason,
            });
        }
    }
    let searched = if dirs.is_empty() {
        "PATH, which is empty".to_owned()
    } else {
        let list: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
        format!("PATH: {}", list.join(":"))
    };
    Err(CommandError::NotFound {
        program: shown,
        searched,
    })
}

enum Check {
    Ok,
    Missing,
    NotExecutable(&'static str),
}

fn check_executable(path: &Path) -> Check {
    let Ok(meta) = std::fs::metadata(path) else {
        return Check::Missing;
    };
    if meta.is_dir() {
        return Check::NotExecutable("it is a directory");
    }
    if meta.permissions().mode() & 0o111 == 0 {
        return Check::NotExecutable("no execute permission");
    }
    if nix::unistd::access(path, nix::unistd::AccessFlags::X_OK).is_err() {
        return Check::NotExecutable("no execute permission for this user");
    }
    Check::Ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(home: &str) -> Lookup {
        Lookup {
            home: Some(PathBuf::from(home)),
            cwd: PathBuf::from("/"),
            path: Some(OsString::from("/usr/bin:/bin")),
        }
    }

    #[test]
    fn expands_home_only_at_the_start_of_a_word() {
        let home = Some(Path::new("/home/ann"));
        let cases = [
            ("~", "/home/ann"),
            ("~/bin/a", "/home/ann/bin/a"),
            ("$HOME/x", "/home/ann/x"),
            ("${HOME}/x", "/home/ann/x"),
            ("$HOME", "/home/ann"),
            ("$HOMER/x", "$HOMER/x"),
            ("~bob/x", "~bob/x"),
            ("a/~/b", "a/~/b"),
            ("--dir=~/x", "--dir=~/x"),
        ];
        for (input, want) in cases {
            assert_eq!(
                expand_home(input.into(), home),
                OsString::from(want),
                "{input}"
            );
        }
    }

    #[test]
    fn splits_with_shell_rules() {
        let cmd = BackendCommand::parse_in(r#"sh -c 'echo "a b"' x\ y"#, &lookup("/h")).unwrap();
        assert!(cmd.program.ends_with("sh"));
        assert_eq!(cmd.args, ["-c", "echo \"a b\"", "x y"]);
        let cmd = BackendCommand::parse_in("sh ~/conf", &lookup("/h")).unwrap();
        assert_eq!(cmd.args, ["/h/conf"]);
    }

    #[test]
    fn distinguishes_each_failure() {
        let l = lookup("/h");
        assert_eq!(BackendCommand::parse_in("  ", &l), Err(CommandError::Empty));
        assert!(matches!(
            BackendCommand::parse_in("sh 'oops", &l),
            Err(CommandError::BadQuoting { .. })
        ));
        let err = BackendCommand::parse_in("no-such-program-xyz", &l).unwrap_err();
        assert_eq!(
            err.to_string(),
            "backend program \"no-such-program-xyz\" not found (searched PATH: /usr/bin:/bin)"
        );
        assert!(matches!(
            BackendCommand::parse_in("/etc", &l),
            Err(CommandError::NotExecutable {
                reason: "it is a directory",
                ..
            })
        ));
    }
}
