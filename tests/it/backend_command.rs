//! The backend command line: splitting, `~`/`$HOME` expansion, resolution, and a distinct,
//! actionable error for each way it fails.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use molecule_host::backend::{BackendCommand, CommandError, Lookup};
use molecule_host::exit::HasExitCode;

fn script(path: &Path, mode: u32) {
    std::fs::write(path, "#!/bin/sh\nexit 0\n").expect("write the script");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .expect("chmod the script");
}

fn lookup(dir: &Path) -> Lookup {
    Lookup {
        home: Some(dir.to_path_buf()),
        cwd: dir.to_path_buf(),
        path: Some(format!("{}/bin:/usr/bin:/bin", dir.display()).into()),
    }
}

#[test]
fn an_empty_command_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = BackendCommand::parse_in(" \t ", &lookup(dir.path())).unwrap_err();
    assert_eq!(err, CommandError::Empty);
    assert_eq!(err.exit_code(), molecule_host::exit::CONFIG);
    assert!(err.to_string().contains("--backend-cmd"), "{err}");
}

#[test]
fn unbalanced_quotes_are_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = BackendCommand::parse_in("python3 'my agent.py", &lookup(dir.path())).unwrap_err();
    assert!(matches!(err, CommandError::BadQuoting { .. }), "{err:?}");
    assert_eq!(err.exit_code(), molecule_host::exit::CONFIG);
    assert!(err.to_string().contains("python3 'my agent.py"), "{err}");
}

#[test]
fn a_missing_program_says_where_it_was_looked_for() {
    let dir = tempfile::tempdir().unwrap();
    let l = lookup(dir.path());
    let err = BackendCommand::parse_in("no-such-agent --flag", &l).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, CommandError::NotFound { .. }), "{err:?}");
    assert!(
        text.contains(&format!("PATH: {}/bin:/usr/bin:/bin", dir.path().display())),
        "{text}"
    );
    assert_eq!(err.exit_code(), molecule_host::exit::BACKEND_START);

    let err = BackendCommand::parse_in("./agents/missing", &l).unwrap_err();
    let want = dir.path().join("agents/missing");
    assert!(
        err.to_string().contains(&want.display().to_string()),
        "{err}"
    );
}

#[test]
fn a_file_without_execute_permission_is_not_executable_wherever_it_is() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("bin")).unwrap();
    script(&dir.path().join("bin/agent"), 0o644);
    script(&dir.path().join("local-agent"), 0o600);
    let l = lookup(dir.path());
    for cmd in ["agent", "./local-agent"] {
        let err = BackendCommand::parse_in(cmd, &l).unwrap_err();
        assert!(
            matches!(
                err,
                CommandError::NotExecutable {
                    reason: "no execute permission",
                    ..
                }
            ),
            "{cmd}: {err:?}"
        );
        assert!(err.to_string().contains("chmod +x"), "{err}");
    }
    let err = BackendCommand::parse_in("./bin", &l).unwrap_err();
    assert!(err.to_string().contains("is a directory"), "{err}");
}

#[test]
fn relative_paths_resolve_against_the_working_directory() {
    let dir = tempfile::tempdir().unwrap();
    script(&dir.path().join("my-agent"), 0o755);
    let cmd =
        BackendCommand::parse_in("./my-agent --model 'big one'", &lookup(dir.path())).unwrap();
    assert_eq!(cmd.program, dir.path().join("./my-agent"));
    assert_eq!(cmd.args, ["--model", "big one"]);
    assert_eq!(cmd.name(), "my-agent");
    assert_eq!(cmd.display, "./my-agent --model 'big one'");
}

#[test]
fn home_is_expanded_at_the_start_of_words() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("bin")).unwrap();
    script(&dir.path().join("bin/agent"), 0o755);
    let l = lookup(dir.path());
    let cmd = BackendCommand::parse_in("~/bin/agent $HOME/conf x=~/y", &l).unwrap();
    assert_eq!(cmd.program, dir.path().join("bin/agent"));
    let conf = dir.path().join("conf");
    assert_eq!(cmd.args, [conf.as_os_str(), "x=~/y".as_ref()]);
    let cmd = BackendCommand::parse_in("$HOME/bin/agent", &l).unwrap();
    assert_eq!(cmd.program, dir.path().join("bin/agent"));
}

#[test]
fn bare_names_are_found_on_the_path() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("bin")).unwrap();
    script(&dir.path().join("bin/agent"), 0o755);
    let cmd = BackendCommand::parse_in("agent", &lookup(dir.path())).unwrap();
    assert_eq!(cmd.program, dir.path().join("bin/agent"));
}
