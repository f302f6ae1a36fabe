//! `molecule new backend <name> --lang rust|python|node`: a ready backend project in a new
//! directory `<name>/`, which passes `molecule backend-check` as generated.
//!
//! - [`name`]: what a project may be called;
//! - [`template`]: the templates embedded from `src/new/templates/`, and their filling;
//! - [`create`]: the directory and its files, never over anything that exists.

pub mod create;
pub mod name;
pub mod template;

pub use create::{NewError, create};

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use molecule_host::exit;

/// `molecule new …`.
#[derive(Debug, clap::Args)]
pub struct NewArgs {
    /// What to create.
    #[command(subcommand)]
    pub what: NewCommand,
}

/// What `molecule new` creates.
#[derive(Debug, Subcommand)]
pub enum NewCommand {
    /// A backend project in a new directory <NAME>/: an echo with a TODO where your agent's
    /// logic goes, a README with the commands to run and check it, and (Rust) a test.
    Backend(BackendArgs),
}

/// `molecule new backend`.
#[derive(Debug, clap::Args)]
pub struct BackendArgs {
    /// The project's name and directory: lowercase letters, digits and hyphens.
    #[arg(value_name = "NAME")]
    pub name: String,
    /// The language.
    #[arg(long, value_enum)]
    pub lang: Lang,
    /// Rust only: depend on the SDK crate in this directory (plugins/sdk/rust in a clone of
    /// the molecule repository) instead of on a crates.io version it does not have yet.
    #[arg(long, value_name = "DIR")]
    pub sdk_path: Option<PathBuf>,
}

/// The languages there is a template for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// A Cargo project on the molecule-plugin crate.
    Rust,
    /// A script on the molecule-plugin pip package (Python 3.9+).
    Python,
    /// A script on the molecule-plugin npm package (Node 18+).
    Node,
}

impl Lang {
    /// The language's name in messages.
    pub fn label(self) -> &'static str {
        match self {
            Lang::Rust => "Rust",
            Lang::Python => "Python",
            Lang::Node => "Node",
        }
    }
}

/// Runs `molecule new …` in the current directory.
pub fn main(args: NewArgs) -> ExitCode {
    let NewCommand::Backend(args) = args.what;
    // An empty parent: paths in messages read `weather-bot/…`, relative to where the user is.
    match create(&args, std::path::Path::new("")) {
        Ok(created) => {
            println!("{created}");
            ExitCode::SUCCESS
        }
        Err(e) => exit::report(&e),
    }
}
