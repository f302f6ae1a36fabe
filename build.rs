//! Records what `molecule --version` prints besides the version: the git commit the binary is
//! built from (`build/git_commit.rs`) and the target triple.

#[path = "build/git_commit.rs"]
mod git_commit;

use std::path::PathBuf;

/// The paths built into the `molecule` binary: a change to one of them makes the tree dirty.
const SOURCES: &[&str] = &[
    "build.rs",
    "build",
    "Cargo.toml",
    "Cargo.lock",
    "src",
    "crates",
    "protocol",
    "plugins/sdk/rust",
    "plugins/echo/rust",
];

fn main() {
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".to_owned());
    println!("cargo:rustc-env=MOLECULE_TARGET={target}");
    // A packager building from a tarball can say which commit it is.
    println!("cargo:rerun-if-env-changed=MOLECULE_BUILD_COMMIT");
    let given = std::env::var("MOLECULE_BUILD_COMMIT")
        .ok()
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty());
    let commit = match given {
        Some(c) => c,
        None => {
            let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
            let found = git_commit::describe(&root, SOURCES);
            for path in &found.watch {
                println!("cargo:rerun-if-changed={}", path.display());
            }
            found.commit
        }
    };
    println!("cargo:rustc-env=MOLECULE_COMMIT={commit}");
}
