//! The key of one `molecule dev` run, which every request to its `/_dev` admin path carries
//! (`X-Molecule-Dev`, see `molecule_emulator::dev_guard`). `molecule dev` makes a fresh one at
//! start and writes it, 0600, to `dev-<port>.key` in the user's private runtime directory (the
//! one that holds the host sockets: `$XDG_RUNTIME_DIR/molecule`, else `<temp>/molecule-<uid>`),
//! where `molecule send` finds it from the port of `--api-url`. Other users can read neither
//! the file nor the directory; the chat page gets the key from the URL `molecule dev` prints.

use std::io::Write;
use std::path::{Path, PathBuf};

use molecule_host::peers::path::directories;
use molecule_host::private_dir;

/// The header name, as `molecule send` sends it.
pub use molecule_emulator::dev_guard::HEADER;

/// A fresh key: 32 bytes from the operating system's generator, 43 URL-safe characters (it
/// goes in the chat page URL as is); minted like a platform token.
pub fn generate() -> String {
    molecule_emulator::tokens::mint_token()
}

/// The key file of a running `molecule dev`, removed when this is dropped.
#[derive(Debug)]
pub struct KeyFile(PathBuf);

impl Drop for KeyFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Writes `key` for `port`. Replaces a file left by an earlier run.
pub fn write(port: u16, key: &str) -> std::io::Result<KeyFile> {
    let mut last = std::io::Error::other("no private directory for the key");
    for dir in directories(std::env::var_os("XDG_RUNTIME_DIR")) {
        if let Err(e) = private_dir::ensure(&dir) {
            last = e;
            continue;
        }
        sweep(&dir);
        let path = dir.join(file_name(port));
        let tmp = dir.join(format!(".{}.{}", file_name(port), std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        let written = private_dir::create_new(&tmp)
            .and_then(|mut f| f.write_all(key.as_bytes()).and_then(|()| f.sync_all()))
            .and_then(|()| std::fs::rename(&tmp, &path));
        match written {
            Ok(()) => return Ok(KeyFile(path)),
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                last = e;
            }
        }
    }
    Err(last)
}

/// The key `molecule dev` wrote for `port`, if this user has one.
pub fn read(port: u16) -> Option<String> {
    directories(std::env::var_os("XDG_RUNTIME_DIR"))
        .iter()
        .map(|dir| dir.join(file_name(port)))
        .find_map(|path| read_private(&path))
}

fn file_name(port: u16) -> String {
    format!("dev-{port}.key")
}

/// Removes the key files of runs that were killed (nothing listens on their port any more), so
/// that they do not pile up.
fn sweep(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let port = name.to_str().and_then(|n| {
            n.strip_prefix("dev-")?
                .strip_suffix(".key")?
                .parse::<u16>()
                .ok()
        });
        let Some(port) = port else { continue };
        let refused = matches!(
            std::net::TcpStream::connect(("127.0.0.1", port)),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused
        );
        if refused {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// The file's content when it is a regular file of this user's (a link is not followed).
fn read_private(path: &Path) -> Option<String> {
    use std::io::Read;
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)
        .ok()?;
    let meta = f.metadata().ok()?;
    if !meta.is_file() || meta.uid() != nix::unistd::getuid().as_raw() {
        return None;
    }
    let mut key = String::new();
    f.read_to_string(&mut key).ok()?;
    Some(key.trim().to_owned()).filter(|k| !k.is_empty())
}
