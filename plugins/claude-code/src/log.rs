//! Log lines on stderr, as JSON objects with `level` and `msg`, which the host logs at that
//! level (SPEC §3). Message content stays out of these lines.

use serde_json::json;

fn emit(level: &str, msg: &str) {
    eprintln!("{}", json!({"level": level, "msg": msg}));
}

/// Something the operator should know.
pub fn info(msg: &str) {
    emit("info", msg);
}

/// Something that went wrong but did not stop the backend.
pub fn warn(msg: &str) {
    emit("warn", msg);
}

/// Something that failed.
pub fn error(msg: &str) {
    emit("error", msg);
}
