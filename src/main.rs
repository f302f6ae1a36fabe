//! The `molecule` binary: everything lives in the library so that it can be tested.

fn main() -> std::process::ExitCode {
    molecule::run(std::env::args_os())
}
