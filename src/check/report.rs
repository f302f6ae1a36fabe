//! The results of a run, for people (a summary on stdout) and for programs (`--json`: one
//! object), and the exit code they imply.

use std::fmt::Write as _;
use std::time::Duration;

use molecule_protocol::InitializeResult;
use serde_json::{Value, json};

use super::catalog::{CheckId, Tier};
use super::outcome::{Pass, Verdict};
use super::session::human;
use molecule_host::exit;

/// The result of one check.
#[derive(Debug)]
pub struct CheckResult {
    /// Which check.
    pub id: CheckId,
    /// What it concluded.
    pub verdict: Verdict,
    /// How long it took, process start to teardown.
    pub duration: Duration,
    /// For a failure: the backend's last stderr lines.
    pub stderr: Vec<String>,
    /// For a failure: the last lines exchanged.
    pub transcript: Vec<String>,
}

impl CheckResult {
    fn outcome(&self) -> &'static str {
        match &self.verdict {
            Ok(Pass::Passed(_)) => "pass",
            Ok(Pass::Skipped(_)) => "skip",
            Ok(Pass::Unchecked(_)) => "unchecked",
            Err(_) => "fail",
        }
    }

    fn message(&self) -> &str {
        match &self.verdict {
            Ok(Pass::Passed(m) | Pass::Skipped(m) | Pass::Unchecked(m)) => m,
            Err(p) => &p.message,
        }
    }

    /// Whether it failed in a tier that fails the run.
    fn fails_run(&self) -> bool {
        self.verdict.is_err() && self.id.tier().counts()
    }
}

/// The results of a run.
#[derive(Debug)]
pub struct Report {
    /// The backend command as given.
    pub command: String,
    /// What the backend said about itself in the handshake.
    pub backend: Option<InitializeResult>,
    /// One result per check run.
    pub results: Vec<CheckResult>,
    /// How long the run took.
    pub duration: Duration,
}

impl Report {
    /// 0 when every mandatory check (and every check of an advertised capability) passed, 9
    /// when one failed, 3 when the backend could not be started at all.
    pub fn exit_code(&self) -> u8 {
        let failed = |r: &CheckResult| r.verdict.as_ref().err().cloned();
        if self
            .results
            .iter()
            .filter_map(failed)
            .any(|p| p.cannot_start)
        {
            exit::BACKEND_START
        } else if self.results.iter().any(CheckResult::fails_run) {
            exit::CHECK_FAILED
        } else {
            exit::OK
        }
    }

    fn count(&self, outcome: &str) -> usize {
        self.results
            .iter()
            .filter(|r| r.outcome() == outcome)
            .count()
    }

    /// The machine report: one JSON object.
    pub fn to_json(&self) -> Value {
        let checks: Vec<Value> = self
            .results
            .iter()
            .map(|r| {
                let mut c = json!({
                    "id": r.id.name(),
                    "tier": r.id.tier(),
                    "title": r.id.title(),
                    "outcome": r.outcome(),
                    "message": r.message(),
                    "durationMs": r.duration.as_millis() as u64,
                });
                if let Err(p) = &r.verdict {
                    c["hint"] = json!(p.hint);
                    c["stderr"] = json!(r.stderr);
                    c["transcript"] = json!(r.transcript);
                }
                c
            })
            .collect();
        json!({
            "command": self.command,
            "backend": self.backend.as_ref().map(backend_json),
            "checks": checks,
            "summary": {
                "passed": self.count("pass"),
                "failed": self.count("fail"),
                "skipped": self.count("skip"),
                "unchecked": self.count("unchecked"),
                "failedRequired": self.results.iter().filter(|r| r.fails_run()).count(),
            },
            "durationMs": self.duration.as_millis() as u64,
            "exitCode": self.exit_code(),
        })
    }

    /// The human summary.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "molecule backend-check: {}", self.command);
        if let Some(b) = &self.backend {
            let _ = writeln!(out, "backend: {}", backend_line(b));
        }
        let width = self
            .results
            .iter()
            .map(|r| r.id.name().len())
            .max()
            .unwrap_or(0);
        for tier in [Tier::Mandatory, Tier::Capability, Tier::Advisory] {
            let rows: Vec<&CheckResult> = self
                .results
                .iter()
                .filter(|r| r.id.tier() == tier)
                .collect();
            if rows.is_empty() {
                continue;
            }
            let _ = writeln!(out, "\n{}", tier_heading(tier));
            for r in rows {
                write_row(&mut out, r, width);
            }
        }
        let _ = writeln!(
            out,
            "\n{} checks in {}: {} passed, {} failed, {} skipped, {} unchecked",
            self.results.len(),
            human(self.duration),
            self.count("pass"),
            self.count("fail"),
            self.count("skip"),
            self.count("unchecked")
        );
        let required = self.results.iter().filter(|r| r.fails_run()).count();
        let unchecked = self.count("unchecked");
        let _ = match self.exit_code() {
            exit::OK if unchecked > 0 => writeln!(
                out,
                "result: INCOMPLETE (no required check failed; {unchecked} advertised {} not checked)",
                if unchecked == 1 {
                    "capability was"
                } else {
                    "capabilities were"
                }
            ),
            exit::OK => writeln!(out, "result: PASS (every required check passed)"),
            exit::BACKEND_START => writeln!(out, "result: the backend could not be started"),
            code => writeln!(
                out,
                "result: FAIL ({required} required check{} failed; exit {code})",
                if required == 1 { "" } else { "s" }
            ),
        };
        out
    }
}

fn tier_heading(tier: Tier) -> &'static str {
    match tier {
        Tier::Mandatory => "mandatory",
        Tier::Capability => "capabilities (required when advertised)",
        Tier::Advisory => "advisory (never fail the run)",
    }
}

fn write_row(out: &mut String, r: &CheckResult, width: usize) {
    let tag = match r.outcome() {
        "pass" => "PASS",
        "skip" => "SKIP",
        "unchecked" => "UNCHECKED",
        _ => "FAIL",
    };
    let _ = writeln!(out, "  {tag}  {:<width$}  {}", r.id.name(), r.message());
    let indent = " ".repeat(width + 10);
    if let Err(p) = &r.verdict {
        let _ = writeln!(out, "{indent}fix: {}", p.hint);
        for line in &r.stderr {
            let _ = writeln!(out, "{indent}stderr | {line}");
        }
    }
}

/// What the backend said about itself, flattened: name, version, description,
/// protocolVersion, capabilities, agentCard.
fn backend_json(b: &InitializeResult) -> Value {
    let mut out = json!({
        "name": b.backend.name,
        "version": b.backend.version,
        "protocolVersion": b.protocol_version,
        "capabilities": b.capabilities,
    });
    if let Some(d) = &b.backend.description {
        out["description"] = json!(d);
    }
    if let Some(card) = &b.agent_card {
        out["agentCard"] = json!(card);
    }
    out
}

/// "molecule-echo 0.1.0, protocol 1 (maxConcurrency 64, cancel)".
pub fn backend_line(b: &InitializeResult) -> String {
    let c = &b.capabilities;
    let mut caps = vec![format!("maxConcurrency {}", c.concurrency())];
    if c.cancel {
        caps.push("cancel".into());
    }
    if c.progress {
        caps.push("progress".into());
    }
    if c.workspaces() > 1 {
        caps.push(format!("maxWorkspaces {}", c.workspaces()));
    }
    format!(
        "{} {}, protocol {} ({})",
        b.backend.name,
        b.backend.version,
        b.protocol_version,
        caps.join(", ")
    )
}
