//! The language a backend is written in, when the command says so: its interpreter
//! (`python3 agent.py`, `node agent.js`), the script's extension, or the program's `#!` line.
//! Hints name a language only when it is known here; otherwise they stay general.

use std::io::Read;
use std::path::Path;

use molecule_host::backend::BackendCommand;

/// A language some hints have a specific word for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Language {
    /// Python (CPython or PyPy).
    Python,
    /// JavaScript on Node.
    Node,
}

impl Language {
    /// The language of `command`, when its interpreter, its script or its `#!` line names one.
    pub fn of(command: &BackendCommand) -> Option<Language> {
        let program = command.program.file_name()?.to_string_lossy().into_owned();
        let script = command
            .args
            .first()
            .map(|a| a.to_string_lossy().into_owned());
        by_interpreter(&program)
            .or_else(|| by_extension(&program))
            .or_else(|| script.as_deref().and_then(by_extension))
            .or_else(|| by_shebang(&command.program))
    }
}

fn by_interpreter(name: &str) -> Option<Language> {
    let name = name.to_ascii_lowercase();
    if name.starts_with("python") || name.starts_with("pypy") {
        Some(Language::Python)
    } else if name == "node" || name == "nodejs" {
        Some(Language::Node)
    } else {
        None
    }
}

fn by_extension(file: &str) -> Option<Language> {
    let ext = Path::new(file)
        .extension()?
        .to_string_lossy()
        .to_ascii_lowercase();
    match ext.as_str() {
        "py" => Some(Language::Python),
        "js" | "mjs" | "cjs" => Some(Language::Node),
        _ => None,
    }
}

/// `#!/usr/bin/env python3`, `#!/usr/bin/node`: the interpreter's name, after `env` and its
/// flags.
fn by_shebang(program: &Path) -> Option<Language> {
    let mut head = [0u8; 256];
    let n = std::fs::File::open(program).ok()?.read(&mut head).ok()?;
    let first = head[..n].split(|&b| b == b'\n').next()?;
    let line = std::str::from_utf8(first.strip_prefix(b"#!")?).ok()?;
    line.split_whitespace()
        .filter(|w| !w.starts_with('-'))
        .map(|w| w.rsplit('/').next().unwrap_or(w))
        .find(|w| *w != "env")
        .and_then(by_interpreter)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    fn command(program: &str, args: &[&str]) -> BackendCommand {
        BackendCommand {
            program: program.into(),
            args: args.iter().map(OsString::from).collect(),
            display: program.into(),
        }
    }

    #[test]
    fn reads_the_interpreter_the_script_and_the_shebang() {
        assert_eq!(
            Language::of(&command("/usr/bin/python3.12", &["a"])),
            Some(Language::Python)
        );
        assert_eq!(
            Language::of(&command("/usr/bin/node", &["a.js"])),
            Some(Language::Node)
        );
        assert_eq!(Language::of(&command("/opt/uv", &["run", "x"])), None);
        assert_eq!(
            Language::of(&command("/srv/agent.py", &[])),
            Some(Language::Python)
        );
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("agent");
        std::fs::write(&script, "#!/usr/bin/env -S node --no-warnings\n").unwrap();
        assert_eq!(
            Language::of(&command(script.to_str().unwrap(), &[])),
            Some(Language::Node)
        );
        std::fs::write(&script, "\x7fELF binary").unwrap();
        assert_eq!(Language::of(&command(script.to_str().unwrap(), &[])), None);
    }
}
