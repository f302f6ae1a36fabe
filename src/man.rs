//! `molecule man`: the manual pages, generated from the same clap definition as the parser.
//! `molecule(1)` goes to stdout; `--dir` writes it and one page per command
//! (`molecule-connect(1)` and so on) into a directory, for packagers and `MANPATH`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::CommandFactory;
use molecule_host::exit;

/// What `molecule man --help` prints after the options.
pub const AFTER_HELP: &str = "\
Read it now:      molecule man | man -l -
Install them all: molecule man --dir ~/.local/share/man/man1   (then `man molecule-connect`)";

/// `molecule man [--dir DIR]`.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct ManArgs {
    /// Write molecule.1 and a page for each command (molecule-connect.1 and so on) into this
    /// directory, created if missing, instead of printing molecule(1) on stdout.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Prints or writes the pages.
pub fn run(args: &ManArgs) -> ExitCode {
    let result = match &args.dir {
        Some(dir) => write_all(dir),
        None => print_main(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("molecule: error: {e}");
            ExitCode::from(exit::CONFIG)
        }
    }
}

fn print_main() -> Result<(), String> {
    let mut page = Vec::new();
    clap_mangen::Man::new(crate::cli::Cli::command())
        .render(&mut page)
        .map_err(|e| format!("cannot render the manual page: {e}"))?;
    let mut out = std::io::stdout().lock();
    out.write_all(&page)
        .and_then(|()| out.flush())
        .map_err(|e| format!("cannot write the manual page: {e}"))
}

fn write_all(dir: &Path) -> Result<(), String> {
    let shown = dir.display();
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create --dir {shown}: {e}"))?;
    let mut cmd = crate::cli::Cli::command().disable_help_subcommand(true);
    // Building names each subcommand `molecule-<name>`, the page's name.
    cmd.build();
    let mut pages = Vec::new();
    collect(cmd, &mut pages);
    for man in pages {
        let path = man.generate_to(dir).map_err(|e| {
            format!(
                "cannot write {} into --dir {shown}: {e}",
                man.get_filename()
            )
        })?;
        println!("{}", path.display());
    }
    Ok(())
}

/// The page of `cmd`, then those of its visible subcommands.
fn collect(cmd: clap::Command, pages: &mut Vec<clap_mangen::Man>) {
    let subs: Vec<_> = cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .cloned()
        .collect();
    pages.push(clap_mangen::Man::new(cmd));
    for sub in subs {
        collect(sub, pages);
    }
}
