//! The `molecule` binary: everything lives in the library so that it can be tested.

fn main() -> std::process::ExitCode {
    // SAFETY: the first thing `main` does, while the process has its only thread.
    unsafe { molecule::startup::harden() };
    molecule::run(std::env::args_os())
}
