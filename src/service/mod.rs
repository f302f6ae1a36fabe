//! `molecule service`: run `molecule connect` under a service manager. `print-unit` prints the
//! systemd unit shipped in `deploy/systemd/` ([`unit`]), as is or filled for one workspace.

pub mod unit;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use molecule_host::exit::{self, HasExitCode};

use unit::{Fill, UnitError};

/// What `molecule service print-unit --help` prints after the options.
const AFTER_HELP: &str = "\
Without options it prints deploy/systemd/molecule@.service (with --user, the user unit) as
shipped: a template whose instance name is the workspace id, reading the token as a systemd
credential from /etc/molecule/<id>.token and the settings from /etc/molecule/<id>.env
(~/.config/molecule/ with --user). The comment at its top says how to install it.

  molecule service print-unit --bin \"$(command -v molecule)\" | sudo tee /etc/systemd/system/molecule@.service
  molecule service print-unit --workspace <id> --api-url https://acme.moleculesai.app \\
      --backend-cmd '/opt/agent/run' | sudo tee /etc/systemd/system/molecule@<id>.service";

/// `molecule service …`.
#[derive(Debug, clap::Args)]
pub struct ServiceArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: ServiceCommand,
}

/// The service subcommands.
#[derive(Debug, Subcommand)]
pub enum ServiceCommand {
    /// Print the systemd unit that runs `molecule connect` for a workspace (instance name: the
    /// workspace id), hardened, restarted on failure but not on a permanent error.
    #[command(name = "print-unit", after_help = AFTER_HELP)]
    PrintUnit(PrintUnitArgs),
}

/// `molecule service print-unit`.
#[derive(Debug, clap::Args)]
pub struct PrintUnitArgs {
    /// The unit for your user's service manager (systemctl --user) instead of the system's.
    #[arg(long)]
    pub user: bool,
    /// The molecule binary the unit runs [default: /usr/local/bin/molecule; with --user,
    /// ~/.cargo/bin/molecule].
    #[arg(long, value_name = "PATH")]
    pub bin: Option<PathBuf>,
    /// Make it the unit of this workspace alone, saved as molecule@<WORKSPACE_ID>.service.
    #[arg(long, value_name = "WORKSPACE_ID")]
    pub workspace: Option<String>,
    /// Write the platform API URL into the unit (MOLECULE_API_URL).
    #[arg(long, value_name = "URL")]
    pub api_url: Option<String>,
    /// Write the backend command into the unit (MOLECULE_BACKEND_CMD).
    #[arg(long, value_name = "COMMAND")]
    pub backend_cmd: Option<String>,
    /// Write any other variable of `molecule connect` into the unit (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
}

impl HasExitCode for UnitError {
    fn exit_code(&self) -> u8 {
        exit::CONFIG
    }
}

/// Runs `molecule service …`.
pub fn main(args: ServiceArgs) -> ExitCode {
    match args.command {
        ServiceCommand::PrintUnit(args) => match print_unit(&args) {
            Ok(unit) => {
                print!("{unit}");
                ExitCode::SUCCESS
            }
            Err(e) => exit::report(&e),
        },
    }
}

/// The unit `args` ask for.
pub fn print_unit(args: &PrintUnitArgs) -> Result<String, UnitError> {
    let mut fill = Fill::default();
    if let Some(bin) = &args.bin {
        fill = fill.bin(bin)?;
    }
    if let Some(id) = &args.workspace {
        fill = fill.workspace(id)?;
    }
    if let Some(url) = &args.api_url {
        fill = fill.setting("MOLECULE_API_URL", url)?;
    }
    if let Some(command) = &args.backend_cmd {
        fill = fill.backend_cmd(command)?;
    }
    for pair in &args.env {
        fill = fill.pair(pair)?;
    }
    let template = if args.user { unit::USER } else { unit::SYSTEM };
    Ok(unit::render(template, &fill, args.user))
}
