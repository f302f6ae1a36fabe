//! `molecule-delegate`: the delegating example backend as a program of its own.

fn main() -> std::process::ExitCode {
    molecule_plugin::run(molecule_delegate::Delegate::from_env())
}
