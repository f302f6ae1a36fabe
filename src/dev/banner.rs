//! What `molecule dev` prints on stdout once the agent is being served: where the chat page
//! is and a `molecule send` line to paste, which needs no token.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::workspaces::DevWorkspaces;

/// Everything the ready message names.
#[derive(Clone, Debug)]
pub struct Banner {
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    /// The platform generation imitated, as `--compat` spells it.
    pub compat: &'static str,
    /// The two workspaces.
    pub workspaces: DevWorkspaces,
    /// The backend, as the user would recognise it.
    pub backend: String,
    /// The data file, if any.
    pub data: Option<PathBuf>,
    /// This run's key to the admin path; the chat page gets it in its URL's fragment (never
    /// sent to a server, nor in a `Referer`).
    pub key: String,
    /// The agent's host state directory, for the `molecule status` line.
    pub host_state: PathBuf,
}

impl Banner {
    /// The ready message.
    pub fn text(&self) -> String {
        let (url, ws) = (&self.base_url, &self.workspaces);
        let me = own_command();
        let data = match &self.data {
            Some(p) => format!("kept in {} (and {}.state/)", p.display(), p.display()),
            None => "in memory, gone when this stops (--data FILE keeps it)".to_owned(),
        };
        format!(
            "molecule dev: a local Molecule platform ({} generation) is running on {url}\n\
             \x20 agent workspace  {}  served by {}\n\
             \x20 peer workspace   {}  (can talk to the agent)\n\
             \n\
             Chat page:    {url}/?ws={}#key={}\n\
             Send:         {me} send {} \"hello\" --api-url {url} --wait 10\n\
             As the peer:  {me} send {} \"hello\" --as {} --api-url {url} --wait 10\n\
             Status:       {me} status --state-dir {}\n\
             \n\
             State: {data}. Ctrl-C stops.\n",
            self.compat,
            ws.agent,
            self.backend,
            ws.peer,
            ws.agent,
            self.key,
            ws.agent,
            ws.agent,
            ws.peer,
            self.host_state.display(),
        )
    }

    /// Prints the message on stdout in one write.
    pub fn print(&self) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(self.text().as_bytes());
        let _ = out.flush();
    }
}

/// `molecule` when that name on the PATH is this executable, else this executable's path,
/// so the printed line works as pasted (for example after `cargo run`).
fn own_command() -> String {
    let Ok(exe) = std::env::current_exe() else {
        return "molecule".to_owned();
    };
    let same = |p: &Path| p.canonicalize().ok() == exe.canonicalize().ok();
    match which::which("molecule") {
        Ok(p) if same(&p) => "molecule".to_owned(),
        _ => exe.display().to_string(),
    }
}
