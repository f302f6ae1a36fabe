//! `molecule-claude-code`: see the crate docs and the README.

fn main() -> std::process::ExitCode {
    molecule_claude_code::program::main()
}
