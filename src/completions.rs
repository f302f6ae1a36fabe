//! `molecule completions <shell>`: the shell completion script on stdout, generated from the
//! same clap definition as the parser, so that it cannot drift from the flags.

use std::io::Write;
use std::process::ExitCode;

use clap::CommandFactory;
use clap_complete::Shell;
use molecule_host::exit;

/// What `molecule completions --help` prints after the options.
pub const AFTER_HELP: &str = "\
Install (then start a new shell):
  bash        molecule completions bash > ~/.local/share/bash-completion/completions/molecule
  zsh         molecule completions zsh > ~/.zfunc/_molecule   (with fpath+=~/.zfunc before compinit)
  fish        molecule completions fish > ~/.config/fish/completions/molecule.fish
  elvish      molecule completions elvish >> ~/.config/elvish/rc.elv
  powershell  molecule completions powershell >> $PROFILE";

/// `molecule completions <shell>`.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Prints the script.
pub fn run(args: &CompletionsArgs) -> ExitCode {
    let mut cmd = crate::cli::Cli::command();
    // clap_complete panics when its writer fails; a buffer cannot, and a closed stdout
    // (`| head`) is then an ordinary error.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "molecule", &mut script);
    let mut out = std::io::stdout().lock();
    match out.write_all(&script).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("molecule: error: cannot write the completion script: {e}");
            ExitCode::from(exit::INTERNAL)
        }
    }
}
