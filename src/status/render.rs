//! `molecule status`'s human lines: one block per workspace.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use molecule_host::observe::Snapshot;
use molecule_host::observe::vitals::unix_ms;

use super::Report;

/// Every report, a blank line between.
pub fn all(reports: &[Report], now: SystemTime) -> String {
    let blocks: Vec<String> = reports.iter().map(|r| one(r, unix_ms(now))).collect();
    blocks.join("\n")
}

fn one(r: &Report, now: u64) -> String {
    let mut out = String::new();
    let Some(s) = &r.status else {
        let _ = writeln!(
            out,
            "{}: {}",
            r.state_dir.display(),
            r.liveness.replace('_', " ")
        );
        if let Some(e) = &r.error {
            let _ = writeln!(out, "  {e}");
        }
        return out;
    };
    let head = match r.liveness {
        "running" => format!("running (pid {}, up {})", s.pid, ago(now, s.started_ms)),
        "stale" => format!(
            "stale: pid {} has not written its status for {}",
            s.pid,
            ago(now, s.written_ms)
        ),
        _ => format!(
            "not running (pid {} last wrote {} ago)",
            s.pid,
            ago(now, s.written_ms)
        ),
    };
    let _ = writeln!(out, "workspace {}  {head}", s.workspace);
    for (name, value) in lines(s, now) {
        let _ = writeln!(out, "  {name:<13} {value}");
    }
    let _ = writeln!(out, "  {:<13} {}", "state dir", r.state_dir.display());
    out
}

fn lines(s: &Snapshot, now: u64) -> Vec<(&'static str, String)> {
    let when =
        |t: Option<u64>| t.map_or_else(|| "never".into(), |t| format!("{} ago", ago(now, t)));
    let b = &s.backend;
    let mut v = vec![
        ("state", s.state.clone()),
        (
            "ready",
            s.not_ready
                .as_ref()
                .map_or("yes".into(), |w| format!("no: {w}")),
        ),
        ("platform", s.platform_url.clone()),
        ("registered", if s.registered { "yes" } else { "no" }.into()),
        ("heartbeat", when(s.last_heartbeat_ms)),
        ("last poll", when(s.last_poll_ms)),
        (
            "rows",
            format!(
                "{} received, {} answered, {} failed; backlog {}, in flight {}, cursor lag {}",
                s.rows_received,
                s.rows_answered,
                s.rows_failed,
                s.backlog,
                s.in_flight,
                s.cursor_lag_rows
            ),
        ),
        (
            "backend",
            format!(
                "{}, pid {}, {} restart{}",
                b.state.replace('_', " "),
                b.pid.map_or("-".into(), |p| p.to_string()),
                b.restarts,
                if b.restarts == 1 { "" } else { "s" }
            ),
        ),
        ("event stream", s.stream.clone()),
    ];
    if let Some(rl) = s.rate_limit {
        v.push((
            "rate limit",
            format!("{} of {} left", rl.remaining, rl.limit),
        ));
    }
    if let Some(addr) = &s.metrics_addr {
        v.push(("metrics", format!("http://{addr}/metrics")));
    }
    if let Some(e) = &s.last_error {
        v.push((
            "last error",
            format!("{} ago: {}", ago(now, e.at_ms), e.text),
        ));
    }
    v
}

/// `now - then` in a few characters: `3s`, `5m 2s`, `2h 5m`, `3d 4h`.
fn ago(now: u64, then: u64) -> String {
    let s = Duration::from_millis(now.saturating_sub(then)).as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {}s", s / 60, s % 60),
        3600..86400 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d {}h", s / 86400, s % 86400 / 3600),
    }
}
