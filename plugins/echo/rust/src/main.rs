//! `molecule-echo`: the echo backend as a program of its own.

fn main() -> std::process::ExitCode {
    molecule_echo::run()
}
