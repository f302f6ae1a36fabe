//! `molecule completions` and `molecule man` through the real binary: the bash script is
//! sourced by a real bash and asked to complete, the pages are rendered by `man` with groff's
//! warnings on.

use std::path::Path;
use std::process::{Command, Output};

use super::dev_support::{have, molecule, stderr, stdout};

fn run(args: &[&str]) -> Output {
    let o = molecule().args(args).output().expect("ran");
    assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
    o
}

/// What bash's completion offers for the words of `line` (the last one being completed),
/// with the script of `molecule completions bash` sourced.
fn bash_completes(script: &Path, line: &str) -> Vec<String> {
    let words: Vec<&str> = line.split(' ').collect();
    let program = format!(
        r#"source {script} || exit 9
complete -p molecule || exit 8
COMP_WORDS=({words}); COMP_CWORD={cword}; COMP_LINE="{line}"; COMP_POINT=${{#COMP_LINE}}
_molecule molecule "{cur}" "{prev}"
printf '%s\n' "${{COMPREPLY[@]}}""#,
        script = script.display(),
        words = words
            .iter()
            .map(|w| format!("'{w}'"))
            .collect::<Vec<_>>()
            .join(" "),
        cword = words.len() - 1,
        cur = words[words.len() - 1],
        prev = words[words.len() - 2],
    );
    let o = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &program])
        .output()
        .expect("bash runs");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    let mut lines = out.lines();
    let registered = lines.next().unwrap_or_default();
    assert!(
        registered.ends_with(" molecule"),
        "complete -p: {registered}"
    );
    lines.map(str::to_owned).collect()
}

#[test]
fn the_bash_script_sources_and_completes_commands_and_flags() {
    if !have("bash", "bash") {
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let script = dir.path().join("molecule.bash");
    std::fs::write(&script, run(&["completions", "bash"]).stdout).expect("write");

    let commands = bash_completes(&script, "molecule co");
    assert!(commands.contains(&"connect".to_owned()), "{commands:?}");
    assert!(commands.contains(&"completions".to_owned()), "{commands:?}");
    assert!(
        !commands.iter().any(|c| c == "echo-backend"),
        "hidden: {commands:?}"
    );
    let shells = bash_completes(&script, "molecule completions ");
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        assert!(shells.contains(&shell.to_owned()), "{shells:?}");
    }
    let flags = bash_completes(&script, "molecule connect --log-");
    assert!(
        flags.contains(&"--log-level".to_owned()),
        "global flags too: {flags:?}"
    );
}

#[test]
fn every_shell_gets_its_own_script_and_an_unknown_one_is_a_usage_error() {
    for (shell, mark) in [
        ("zsh", "#compdef molecule"),
        ("fish", "complete -c molecule"),
        ("elvish", "edit:completion:arg-completer[molecule]"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let text = stdout(&run(&["completions", shell]));
        assert!(text.contains(mark), "{shell}: {text}");
        assert!(text.contains("connect"), "{shell}");
    }
    let o = molecule()
        .args(["completions", "tcsh"])
        .output()
        .expect("ran");
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("possible values"), "{}", stderr(&o));
}

/// `man -l` on `page` with groff's warnings on: the rendered text, which must come without a
/// warning.
fn render(page: &Path) -> String {
    let o = Command::new("man")
        .args(["--warnings=w", "-P", "cat", "-l"])
        .arg(page)
        .env("MANWIDTH", "100")
        .output()
        .expect("man runs");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stderr(&o),
        "",
        "{} renders without warnings",
        page.display()
    );
    stdout(&o)
}

#[test]
fn the_manual_page_renders_with_every_command_and_flag() {
    let page = run(&["man"]).stdout;
    let roff = String::from_utf8_lossy(&page);
    assert!(
        roff.lines().any(|l| l.starts_with(".TH molecule 1 ")),
        "{roff}"
    );
    if !have("man", "man-db") {
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("molecule.1");
    std::fs::write(&file, page).expect("write");
    let text = render(&file);
    for heading in [
        "NAME",
        "SYNOPSIS",
        "OPTIONS",
        "SUBCOMMANDS",
        "EXTRA",
        "VERSION",
    ] {
        assert!(text.lines().any(|l| l == heading), "{heading}: {text}");
    }
    for word in [
        "--log-level",
        "molecule-connect(1)",
        "RUST_LOG",
        "Exit codes",
    ] {
        assert!(text.contains(word), "{word}: {text}");
    }
}

#[test]
fn man_dir_writes_one_page_per_visible_command() {
    let dir = tempfile::tempdir().expect("dir");
    let out = dir.path().join("man1");
    let o = run(&["man", "--dir", &out.display().to_string()]);
    let written: Vec<String> = stdout(&o).lines().map(str::to_owned).collect();
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .expect("created")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let visible = [
        "backend-check",
        "completions",
        "connect",
        "dev",
        "doctor",
        "man",
        "mcp",
        "new",
        "new-backend",
        "run",
        "send",
        "service",
        "service-print-unit",
        "status",
    ];
    let mut expected: Vec<String> = visible.iter().map(|c| format!("molecule-{c}.1")).collect();
    expected.push("molecule.1".to_owned());
    expected.sort();
    assert_eq!(names, expected, "no page for the hidden commands");
    assert_eq!(written.len(), names.len(), "{written:?}");
    assert!(written.iter().all(|p| Path::new(p).exists()), "{written:?}");
    if !have("man", "man-db") {
        return;
    }
    let connect = render(&out.join("molecule-connect.1"));
    assert!(connect.contains("--backend-cmd") && connect.contains("--log-level"));

    // A file where the directory should be.
    let file = dir.path().join("file");
    std::fs::write(&file, "").expect("write");
    let o = molecule()
        .args(["man", "--dir", &file.display().to_string()])
        .output()
        .expect("ran");
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--dir"), "{}", stderr(&o));
}
