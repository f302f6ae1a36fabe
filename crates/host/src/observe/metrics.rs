//! [`Metrics`]: the Prometheus exposition of every workspace served by this process, from one
//! registry. Each series carries a `workspace` label, so the connects of one process (one
//! today, many under a supervisor of several workspaces) share a scrape without colliding.
//!
//! Nothing is recorded twice: on each scrape a collector reads every workspace's [`Vitals`]
//! (counters and gauges from its [`super::Snapshot`], the latency histogram as recorded) and
//! encodes them in the OpenMetrics text format, which Prometheus scrapes natively.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex, Weak};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, MetricEncoder};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use super::snapshot::Snapshot;
use super::vitals::Vitals;

/// The `Content-Type` of [`Metrics::encode`]'s text.
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The `Content-Type` of [`Metrics::encode_classic`]'s text.
pub const CLASSIC: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The event stream's states, each a series of `molecule_event_stream_state` (1 for the
/// current one).
const STREAM_STATES: [&str; 5] = ["off", "connecting", "live", "down", "unsupported"];

/// The registry of one process; cheap to clone.
#[derive(Clone, Debug)]
pub struct Metrics {
    registry: Arc<Registry>,
    workspaces: Arc<Workspaces>,
}

#[derive(Debug, Default)]
struct Workspaces(Mutex<Vec<Weak<Vitals>>>);

impl Workspaces {
    fn live(&self) -> Vec<Arc<Vitals>> {
        let mut list = self.0.lock().unwrap_or_else(|e| e.into_inner());
        list.retain(|w| w.strong_count() > 0);
        list.iter().filter_map(Weak::upgrade).collect()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// An empty registry.
    pub fn new() -> Self {
        let workspaces = Arc::new(Workspaces::default());
        let mut registry = Registry::with_prefix("molecule");
        registry.register_collector(Box::new(WorkspaceCollector(workspaces.clone())));
        Metrics {
            registry: Arc::new(registry),
            workspaces,
        }
    }

    /// Adds a workspace; it leaves the exposition once its record is dropped.
    pub fn add(&self, vitals: &Arc<Vitals>) {
        let mut list = self.workspaces.0.lock().unwrap_or_else(|e| e.into_inner());
        list.push(Arc::downgrade(vitals));
    }

    /// The exposition now.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail; the collectors only write.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }

    /// The exposition in Prometheus's classic text format (0.0.4), for scrapers and tools that
    /// do not ask for OpenMetrics (`promtool`, an older Prometheus, `curl`): a counter's
    /// `# HELP`/`# TYPE` lines name its `_total` series, and there is no `# EOF`.
    pub fn encode_classic(&self) -> String {
        classic(&self.encode())
    }

    /// `Ok` when every workspace is ready (and there is one); else each one's reason.
    pub fn readiness(&self) -> Result<(), String> {
        let live = self.workspaces.live();
        if live.is_empty() {
            return Err("no workspace is being served".into());
        }
        let mut why = String::new();
        for v in live {
            if let Err(e) = v.readiness() {
                let sep = if why.is_empty() { "" } else { "; " };
                let _ = write!(why, "{sep}{}: {e}", v.workspace());
            }
        }
        if why.is_empty() { Ok(()) } else { Err(why) }
    }
}

/// OpenMetrics text → classic text.
fn classic(open: &str) -> String {
    let counters: std::collections::HashSet<&str> = open
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(open.len() + 16 * counters.len());
    for line in open.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let meta = ["# HELP ", "# TYPE "]
            .into_iter()
            .find_map(|p| line.strip_prefix(p).map(|rest| (p, rest)));
        match meta {
            Some((p, rest)) => {
                let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                let total = if counters.contains(name) {
                    "_total"
                } else {
                    ""
                };
                let _ = writeln!(out, "{p}{name}{total} {tail}");
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

/// Encodes every workspace on each scrape.
#[derive(Debug)]
struct WorkspaceCollector(Arc<Workspaces>);

type Labels = Vec<(&'static str, String)>;

/// One series of a family: its labels beyond `workspace`, its value.
enum Value {
    Counter(u64),
    Gauge(i64),
}

impl Collector for WorkspaceCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let live = self.0.live();
        let snaps: Vec<(Labels, Snapshot, Arc<Vitals>)> = live
            .into_iter()
            .map(|v| {
                (
                    vec![("workspace", v.workspace().to_string())],
                    v.snapshot(),
                    v,
                )
            })
            .collect();
        for family in FAMILIES {
            let kind = match family.counter {
                true => MetricType::Counter,
                false => MetricType::Gauge,
            };
            let mut metric = encoder.encode_descriptor(family.name, family.help, None, kind)?;
            for (labels, snap, vitals) in &snaps {
                for (extra, value) in (family.read)(snap, vitals) {
                    let mut set = labels.clone();
                    set.extend(extra);
                    encode_value(&mut metric, &set, value)?;
                }
            }
        }
        let mut metric = encoder.encode_descriptor(
            "reply_latency_seconds",
            "Time from fetching a row to settling it (its reply posted)",
            None,
            MetricType::Histogram,
        )?;
        for (labels, _, vitals) in &snaps {
            vitals.latency().encode(metric.encode_family(labels)?)?;
        }
        Ok(())
    }
}

fn encode_value(
    metric: &mut MetricEncoder<'_>,
    labels: &Labels,
    value: Value,
) -> Result<(), std::fmt::Error> {
    let series = metric.encode_family(labels)?;
    match value {
        Value::Counter(n) => ConstCounter::new(n).encode(series),
        Value::Gauge(n) => ConstGauge::new(n).encode(series),
    }
}

/// A family read off a snapshot.
struct Family {
    name: &'static str,
    help: &'static str,
    counter: bool,
    read: fn(&Snapshot, &Vitals) -> Vec<(Labels, Value)>,
}

fn one(v: Value) -> Vec<(Labels, Value)> {
    vec![(Vec::new(), v)]
}

fn flag(b: bool) -> Value {
    Value::Gauge(i64::from(b))
}

fn gauge(n: usize) -> Value {
    Value::Gauge(i64::try_from(n).unwrap_or(i64::MAX))
}

const FAMILIES: &[Family] = &[
    Family {
        name: "rows_received",
        help: "Rows taken in from the activity feed (duplicates aside)",
        counter: true,
        read: |s, _| one(Value::Counter(s.rows_received)),
    },
    Family {
        name: "rows_handled",
        help: "Rows settled, by outcome; result is answered or failed",
        counter: true,
        read: |_, v| {
            v.outcomes()
                .into_iter()
                .map(|(outcome, failed, n)| {
                    let result = if failed { "failed" } else { "answered" };
                    let labels = vec![("outcome", outcome.to_owned()), ("result", result.into())];
                    (labels, Value::Counter(n))
                })
                .collect()
        },
    },
    Family {
        name: "backlog_rows",
        help: "Rows fetched and not settled",
        counter: false,
        read: |s, _| one(gauge(s.backlog)),
    },
    Family {
        name: "in_flight_rows",
        help: "Rows with the backend",
        counter: false,
        read: |s, _| one(gauge(s.in_flight)),
    },
    Family {
        name: "cursor_lag_rows",
        help: "Rows fetched above the saved cursor: how far a restart would re-read",
        counter: false,
        read: |s, _| one(gauge(s.cursor_lag_rows)),
    },
    Family {
        name: "backend_up",
        help: "1 while a backend process runs and takes requests",
        counter: false,
        read: |s, _| one(flag(s.backend.state == "ready")),
    },
    Family {
        name: "backend_breaker_open",
        help: "1 while the crash-loop breaker holds messages back",
        counter: false,
        read: |s, _| one(flag(s.backend.state == "breaker_open")),
    },
    Family {
        name: "backend_restarts",
        help: "Backend crashes and failed restarts",
        counter: true,
        read: |s, _| one(Value::Counter(s.backend.restarts)),
    },
    Family {
        name: "platform_errors",
        help: "Failed platform exchanges, by class",
        counter: true,
        read: |s, _| {
            let errors = s.platform_errors.iter();
            let series = errors.map(|(c, n)| (vec![("class", c.clone())], Value::Counter(*n)));
            series.collect()
        },
    },
    Family {
        name: "rate_limit_remaining",
        help: "Platform requests left in the rate-limit window (absent until a limit is seen)",
        counter: false,
        read: |s, _| {
            let left = s.rate_limit.map(|r| i64::from(r.remaining));
            left.into_iter()
                .map(|n| (Vec::new(), Value::Gauge(n)))
                .collect()
        },
    },
    Family {
        name: "rate_limit_limit",
        help: "Platform requests per rate-limit window (absent until a limit is seen)",
        counter: false,
        read: |s, _| {
            let limit = s.rate_limit.map(|r| i64::from(r.limit));
            limit
                .into_iter()
                .map(|n| (Vec::new(), Value::Gauge(n)))
                .collect()
        },
    },
    Family {
        name: "event_stream_state",
        help: "1 for the event stream's current state",
        counter: false,
        read: |s, _| {
            let states = STREAM_STATES.iter();
            let series = states.map(|st| (vec![("state", (*st).into())], flag(s.stream == *st)));
            series.collect()
        },
    },
    Family {
        name: "registered",
        help: "1 once the workspace is registered",
        counter: false,
        read: |s, _| one(flag(s.registered)),
    },
    Family {
        name: "ready",
        help: "1 while registered, the backend up and polls succeeding (as /readyz)",
        counter: false,
        read: |s, _| one(flag(s.not_ready.is_none())),
    },
    Family {
        name: "last_poll_age_seconds",
        help: "Seconds since the last successful read of the activity feed",
        counter: false,
        read: |s, _| {
            let age = s
                .last_poll_ms
                .map(|t| s.written_ms.saturating_sub(t) as i64 / 1000);
            age.into_iter()
                .map(|n| (Vec::new(), Value::Gauge(n)))
                .collect()
        },
    },
    Family {
        name: "uptime_seconds",
        help: "Seconds since the connect started",
        counter: false,
        read: |s, _| {
            one(Value::Gauge(
                (s.written_ms.saturating_sub(s.started_ms) / 1000) as i64,
            ))
        },
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn every_series_is_labelled_by_workspace_and_the_histogram_counts_rows() {
        let metrics = Metrics::new();
        let (a, b) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
        let va = Vitals::new(
            a,
            "http://p".into(),
            Duration::from_secs(1),
            Duration::from_secs(2),
        );
        let vb = Vitals::new(
            b,
            "http://p".into(),
            Duration::from_secs(1),
            Duration::from_secs(2),
        );
        metrics.add(&va);
        metrics.add(&vb);
        va.received(2);
        va.handled("replied", None, Duration::from_millis(30));
        va.handled(
            "error_reply",
            Some("the backend crashed"),
            Duration::from_millis(3),
        );
        let text = metrics.encode();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            assert!(line.contains("workspace=\""), "unlabelled series: {line}");
        }
        assert!(text.contains(&format!(
            "molecule_rows_received_total{{workspace=\"{a}\"}} 2"
        )));
        assert!(text.contains(&format!(
            "molecule_rows_received_total{{workspace=\"{b}\"}} 0"
        )));
        assert!(text.contains(&format!(
            "molecule_reply_latency_seconds_count{{workspace=\"{a}\"}} 2"
        )));
        assert!(text.contains("outcome=\"error_reply\",result=\"failed\"} 1"));
        assert!(
            metrics
                .readiness()
                .unwrap_err()
                .contains("not registered yet")
        );
        let classic = metrics.encode_classic();
        assert!(classic.contains("# TYPE molecule_rows_received_total counter\n"));
        assert!(classic.contains("# TYPE molecule_backlog_rows gauge\n"));
        assert!(!classic.contains("# EOF"));
        drop(va);
        drop(vb);
        assert!(!metrics.encode().contains(&a.to_string()));
    }
}
