//! Every process the backend starts, and how each one ends. **All process handling of this
//! crate lives here.**
//!
//! A Claude turn costs money while it runs, so no `claude` process may outlive the turn that
//! started it, nor the backend:
//!
//! - each turn runs in a process group of its own ([`spawn`]), with `PR_SET_PDEATHSIG(SIGKILL)`
//!   so the kernel kills it if the backend dies, set on a dedicated spawner thread because the
//!   signal fires when the *thread* that forked the child ends;
//! - a turn is ended by the ladder SIGTERM → grace → SIGKILL sent to its group and to every
//!   descendant seen in `/proc`, even one that moved to a group of its own, and is always reaped
//!   ([`TurnProcess`]);
//! - the backend is a child subreaper, so what a turn leaves behind is reparented to it and
//!   swept when the turn ends ([`sweep_orphans`]);
//! - a small watchdog process ([`Reaper`]) outside the backend's group kills every live turn's
//!   group when the backend dies without cleaning up (SIGKILL), where PDEATHSIG alone reaches
//!   only the `claude` process itself and not its children;
//! - the [`Registry`] knows every live turn, so stdin EOF and SIGTERM end them all before the
//!   backend exits;
//! - the start-up probes of the CLI (`--version`, `--help`) run under a time limit
//!   ([`output_within`]).

mod probe;
mod reaper;
mod registry;
mod spawn;
mod turn_process;

pub use probe::output_within;
pub use reaper::{REAPER_FLAG, Reaper, run_reaper};
pub use registry::Registry;
pub use spawn::{TurnCommand, become_subreaper};
pub use turn_process::{Exit, TurnProcess, sweep_orphans};
