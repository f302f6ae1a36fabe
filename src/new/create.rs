//! Creating a project: the name checked, the SDK dependency decided, the directory made (it must
//! not exist: nothing is ever overwritten), the template's files written, and the directory
//! removed again if a write fails.

use std::fmt;
use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use molecule_host::exit::{self, HasExitCode};

use super::name::{self, NameError};
use super::template;
use super::{BackendArgs, Lang};

/// The SDK version the templates ask for: the SDKs share the host's version.
pub const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Why a project was not created.
#[derive(Debug, thiserror::Error)]
pub enum NewError {
    /// The name cannot be used.
    #[error(transparent)]
    Name(#[from] NameError),
    /// Something is already there.
    #[error("{} already exists: choose another name, or move it away (nothing was written)", .0.display())]
    Exists(PathBuf),
    /// `--sdk-path` given for a language installed with a package manager.
    #[error(
        "--sdk-path is for --lang rust: the {0} SDK is installed with its package manager \
         (the generated README.md says how)"
    )]
    SdkPathLang(&'static str),
    /// `--sdk-path` is not the Rust SDK.
    #[error(
        "--sdk-path {}: {reason} (give plugins/sdk/rust in a clone of the molecule repository)",
        path.display()
    )]
    SdkPath {
        /// The path given.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A file could not be written.
    #[error("cannot create {}: {source}", path.display())]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
}

impl HasExitCode for NewError {
    fn exit_code(&self) -> u8 {
        exit::CONFIG
    }
}

/// A project just created.
#[derive(Debug)]
pub struct Created {
    /// Its directory.
    pub dir: PathBuf,
    /// Its language.
    pub lang: Lang,
    /// The file of its handler.
    pub handler: String,
    /// What to do next.
    pub next: String,
}

impl fmt::Display for Created {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dir = self.dir.display();
        writeln!(
            f,
            "Created {dir}/, a {} backend that echoes what it is sent; your agent's logic goes \
             at the TODO in {dir}/{}.",
            self.lang.label(),
            self.handler
        )?;
        write!(f, "Next (README.md says more):\n{}", self.next)
    }
}

/// Creates the project `args` describe in `parent`.
pub fn create(args: &BackendArgs, parent: &Path) -> Result<Created, NewError> {
    name::check(&args.name, args.lang)?;
    let (dependency, source) = sdk_dependency(args)?;
    let module = name::module(&args.name);
    let vars = [
        ("name", args.name.as_str()),
        ("module", module.as_str()),
        ("sdk_version", SDK_VERSION),
        ("sdk_dependency", dependency.as_str()),
        ("sdk_source", source.as_str()),
    ];
    let dir = parent.join(&args.name);
    // create_dir, not create_dir_all: an existing directory, even empty, is refused, and
    // two runs racing cannot both think they made it.
    fs::create_dir(&dir).map_err(|source| match source.kind() {
        io::ErrorKind::AlreadyExists => NewError::Exists(dir.clone()),
        _ => NewError::Write {
            path: dir.clone(),
            source,
        },
    })?;
    if let Err(e) = write_files(&dir, args.lang, &vars) {
        let _ = fs::remove_dir_all(&dir);
        return Err(e);
    }
    Ok(Created {
        dir,
        lang: args.lang,
        handler: template::fill(template::handler(args.lang), &vars),
        next: template::fill(template::next_steps(args.lang), &vars),
    })
}

fn write_files(dir: &Path, lang: Lang, vars: &[(&str, &str)]) -> Result<(), NewError> {
    for file in template::files(lang) {
        let path = dir.join(template::fill(file.path, vars));
        let written = (|| {
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent)?;
            }
            fs::write(&path, template::fill(file.text, vars))?;
            if file.executable {
                fs::set_permissions(&path, fs::Permissions::from_mode(0o755))?;
            }
            Ok(())
        })();
        written.map_err(|source| NewError::Write { path, source })?;
    }
    Ok(())
}

/// The `molecule-plugin` line of a Rust project's Cargo.toml, and how its README describes it.
fn sdk_dependency(args: &BackendArgs) -> Result<(String, String), NewError> {
    match (&args.sdk_path, args.lang) {
        (None, _) => Ok((
            format!(
                "# molecule-plugin is not on crates.io yet: until it is, point at a clone of the\n\
                 # molecule repository,\n\
                 #   molecule-plugin = {{ path = \"<clone>/plugins/sdk/rust\" }}\n\
                 # which `molecule new backend --sdk-path <clone>/plugins/sdk/rust` writes for you.\n\
                 molecule-plugin = \"{SDK_VERSION}\""
            ),
            "by version, which cannot be found until it is published: point it at a clone of \
             the molecule repository,\n\n    molecule-plugin = { path = \"<clone>/plugins/sdk/rust\" }\n\n\
             (`molecule new backend --sdk-path <clone>/plugins/sdk/rust` writes that line)."
                .to_owned(),
        )),
        (Some(path), Lang::Rust) => {
            let path = rust_sdk(path)?;
            Ok((
                format!("molecule-plugin = {{ path = {} }}", toml_string(&path)),
                format!("by path, `{path}`: a clone of the molecule repository."),
            ))
        }
        (Some(_), lang) => Err(NewError::SdkPathLang(lang.label())),
    }
}

/// `path` as an absolute path to the Rust SDK crate, checked.
fn rust_sdk(path: &Path) -> Result<String, NewError> {
    let refuse = |reason: String| NewError::SdkPath {
        path: path.to_owned(),
        reason,
    };
    let dir = fs::canonicalize(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => refuse("no such directory".into()),
        _ => refuse(e.to_string()),
    })?;
    let manifest = fs::read_to_string(dir.join("Cargo.toml"))
        .map_err(|_| refuse("it has no Cargo.toml".into()))?;
    if !manifest
        .lines()
        .any(|l| l.replace(' ', "") == "name=\"molecule-plugin\"")
    {
        return Err(refuse(
            "its Cargo.toml is not the molecule-plugin crate's".into(),
        ));
    }
    dir.to_str()
        .filter(|d| !d.contains(char::is_control))
        .map(str::to_owned)
        .ok_or_else(|| {
            refuse("Cargo.toml cannot hold this path (not UTF-8, or a control character)".into())
        })
}

/// `text` as a TOML basic string.
fn toml_string(text: &str) -> String {
    let escaped = text.replace('\\', "\\\\").replace('"', "\\\"");
    format!("\"{escaped}\"")
}
