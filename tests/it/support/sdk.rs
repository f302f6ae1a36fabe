//! How the Python and Node examples find their SDK when the tests start them: the hosts get
//! `PYTHONPATH` and `NODE_PATH` naming the SDK sources in this repository and pass them on to
//! the backends, so `import molecule_plugin` and `require('molecule-plugin')` resolve as if the
//! packages were installed, without a pip or npm install step inside `cargo test`.

use std::ffi::OsString;
use std::path::PathBuf;

/// The variables to set on a `molecule` process whose backend is a Python or Node example.
pub fn sdk_env() -> [(&'static str, OsString); 2] {
    let sdk = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("plugins/sdk");
    [
        ("PYTHONPATH", prepended("PYTHONPATH", sdk.join("python"))),
        ("NODE_PATH", prepended("NODE_PATH", sdk.join("node"))),
    ]
}

/// `dir` followed by what `var` already holds, so a caller's own path keeps working.
fn prepended(var: &str, dir: PathBuf) -> OsString {
    let rest = std::env::var_os(var).unwrap_or_default();
    let paths = std::iter::once(dir).chain(std::env::split_paths(&rest));
    std::env::join_paths(paths).unwrap_or_else(|e| panic!("{var}: {e}"))
}
