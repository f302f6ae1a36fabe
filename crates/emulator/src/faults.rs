//! Fault injection: per-endpoint probabilities of errors, added latency and dropped connections,
//! drawn from one seeded generator so a run can be reproduced.
//!
//! Faults come in two families. "Before" faults hit before the request is processed: nothing
//! happened, and a retry is safe. "After" faults hit once the request took effect: the client
//! sees a failure for something that succeeded, so a retry is a duplicate the client must cope
//! with (that is what messageId dedup and settled-id bookkeeping are for).

use super::hostile::{self, HostileRule};
use super::hostile_rows::RowFault;
use fastrand::Rng;
use serde::{Deserialize, Serialize};
use std::sync::Mutex;
use std::time::Duration;

/// The platform endpoints faults can target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    /// `POST /registry/register`
    Register,
    /// `POST /registry/heartbeat`
    Heartbeat,
    /// `GET /workspaces/<id>/activity`
    Activity,
    /// `POST /workspaces/<id>/activity/ack`
    Ack,
    /// `POST /workspaces/<id>/a2a`
    A2a,
    /// `POST /workspaces/<id>/notify`
    Notify,
    /// `GET /workspaces/<id>`
    Workspace,
    /// Chat uploads and pending-upload content/ack.
    Uploads,
    /// `GET /registry/<id>/peers` and `GET /registry/discover/<id>`
    Peers,
    /// `GET /buildinfo`
    Buildinfo,
    /// `GET /workspaces/<id>/events/stream` (the faults of a rule hit the opening request;
    /// [`StreamFaults`] hit the events).
    Events,
}

/// Probabilities (0 to 1) of each fault for one endpoint, or for all of them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FaultRule {
    /// The endpoint this rule applies to; `None` applies it to every endpoint.
    pub endpoint: Option<Endpoint>,
    /// Answer 503 without processing the request.
    pub error_before: f64,
    /// Drop the connection without processing the request.
    pub drop_before: f64,
    /// Process the request, then answer 502 instead of the real response.
    pub error_after: f64,
    /// Process the request, then drop the connection instead of answering.
    pub drop_after: f64,
    /// Probability of adding `latency_ms` before processing.
    pub latency: f64,
    /// The added latency, in milliseconds.
    pub latency_ms: u64,
}

/// Faults of the event streams' events (every stream, every workspace).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StreamFaults {
    /// Probability (0 to 1) that an event is dropped on its way to a stream; 1 drops them all.
    pub drop: f64,
    /// Close each stream once this many events have been written to it.
    pub cut_after: Option<u64>,
    /// Hold each event this many milliseconds before writing it.
    pub delay_ms: u64,
}

/// The fault settings: a seed, a list of rules (the first rule naming an endpoint wins over
/// a catch-all rule), and the event streams' faults.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FaultConfig {
    /// The generator's seed; the same seed and the same sequence of requests give the same faults.
    pub seed: u64,
    /// The rules; empty means no faults.
    pub rules: Vec<FaultRule>,
    /// Deterministic hostile answers ([`super::hostile`]), served before any rule is drawn.
    pub hostile: Vec<HostileRule>,
    /// Faults of the events on the event streams.
    pub stream: StreamFaults,
    /// Rows to corrupt, one per served page that holds a message ([`super::hostile_rows`]).
    pub rows: Vec<RowFault>,
}

impl FaultConfig {
    /// The same probabilities on every endpoint.
    pub fn everywhere(seed: u64, rule: FaultRule) -> Self {
        FaultConfig {
            seed,
            rules: vec![FaultRule {
                endpoint: None,
                ..rule
            }],
            hostile: Vec::new(),
            stream: StreamFaults::default(),
            rows: Vec::new(),
        }
    }
}

/// What happens to one request, decided before it is processed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Added latency before processing.
    pub delay: Option<Duration>,
    /// What to do instead of, or after, processing.
    pub fault: Option<Fault>,
}

/// One injected fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// 503 before processing.
    ErrorBefore,
    /// Connection dropped before processing.
    DropBefore,
    /// 502 after processing.
    ErrorAfter,
    /// Connection dropped after processing.
    DropAfter,
}

impl Fault {
    /// `true` when the request is processed before the fault hits.
    pub fn after_processing(self) -> bool {
        matches!(self, Fault::ErrorAfter | Fault::DropAfter)
    }
}

/// Decides faults per request; shared by all connections.
#[derive(Debug)]
pub struct Injector {
    inner: Mutex<(FaultConfig, Rng)>,
}

impl Injector {
    /// An injector with `config`.
    pub fn new(config: FaultConfig) -> Self {
        let rng = Rng::with_seed(config.seed);
        Injector {
            inner: Mutex::new((config, rng)),
        }
    }

    /// Replaces the settings and reseeds the generator.
    pub fn set(&self, config: FaultConfig) {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        g.1 = Rng::with_seed(config.seed);
        g.0 = config;
    }

    /// The current settings.
    pub fn get(&self) -> FaultConfig {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .0
            .clone()
    }

    /// The hostile answer the next request to `endpoint` gets, if any (counted against its rule).
    pub fn hostile(&self, endpoint: Endpoint) -> Option<HostileRule> {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if g.0.hostile.is_empty() {
            return None;
        }
        hostile::take(&mut g.0.hostile, endpoint)
    }

    /// Corrupts one row of `page` if a row fault is pending (it is then spent). Returns the
    /// page to serve and the id of the row corrupted.
    pub fn corrupt_page(&self, page: Vec<u8>) -> (Vec<u8>, Option<String>) {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let Some(fault) = g.0.rows.first() else {
            return (page, None);
        };
        match super::hostile_rows::corrupt(&page, fault) {
            Some((bad, id)) => {
                g.0.rows.remove(0);
                (bad, Some(id))
            }
            None => (page, None),
        }
    }

    /// The event streams' faults now.
    pub fn stream(&self) -> StreamFaults {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .0
            .stream
            .clone()
    }

    /// Whether the next event is dropped (draws only while a drop rate is set).
    pub fn drop_event(&self) -> bool {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let (config, rng) = &mut *g;
        let p = config.stream.drop;
        p > 0.0 && rng.f64() < p
    }

    /// Draws the plan for one request to `endpoint`. With no matching rule nothing is drawn, so
    /// faults on one endpoint do not shift the sequence of another's only when rules are empty.
    pub fn plan(&self, endpoint: Endpoint) -> Plan {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let (config, rng) = &mut *g;
        let rule = config
            .rules
            .iter()
            .find(|r| r.endpoint == Some(endpoint))
            .or_else(|| config.rules.iter().find(|r| r.endpoint.is_none()));
        let Some(rule) = rule else {
            return Plan::default();
        };
        // Always draw the same number of values per request so the sequence stays aligned.
        let (lat, pick) = (rng.f64(), rng.f64());
        let delay = (rule.latency > 0.0 && lat < rule.latency)
            .then(|| Duration::from_millis(rule.latency_ms));
        let mut edge = 0.0;
        let mut fault = None;
        for (p, f) in [
            (rule.error_before, Fault::ErrorBefore),
            (rule.drop_before, Fault::DropBefore),
            (rule.error_after, Fault::ErrorAfter),
            (rule.drop_after, Fault::DropAfter),
        ] {
            edge += p.max(0.0);
            if fault.is_none() && pick < edge {
                fault = Some(f);
            }
        }
        Plan { delay, fault }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_repeat_with_the_seed_and_follow_the_rates() {
        let rule = FaultRule {
            error_before: 0.3,
            ..FaultRule::default()
        };
        let draw = |seed| {
            let inj = Injector::new(FaultConfig::everywhere(seed, rule.clone()));
            (0..1000)
                .map(|_| inj.plan(Endpoint::A2a).fault)
                .collect::<Vec<_>>()
        };
        let a = draw(7);
        assert_eq!(a, draw(7));
        assert_ne!(a, draw(8));
        let hits = a.iter().filter(|f| f.is_some()).count();
        assert!(
            (200..400).contains(&hits),
            "{hits} faults out of 1000 at 30%"
        );
        assert!(a.iter().flatten().all(|f| *f == Fault::ErrorBefore));
    }

    #[test]
    fn latency_is_added_at_its_rate() {
        let inj = Injector::new(FaultConfig::everywhere(
            3,
            FaultRule {
                latency: 1.0,
                latency_ms: 25,
                ..FaultRule::default()
            },
        ));
        let plan = inj.plan(Endpoint::Activity);
        assert_eq!(plan.delay, Some(Duration::from_millis(25)));
        assert_eq!(plan.fault, None);
    }

    #[test]
    fn endpoint_rules_win_over_catch_all() {
        let inj = Injector::new(FaultConfig {
            seed: 1,
            rules: vec![
                FaultRule {
                    drop_after: 1.0,
                    ..FaultRule::default()
                },
                FaultRule {
                    endpoint: Some(Endpoint::Heartbeat),
                    ..FaultRule::default()
                },
            ],
            ..FaultConfig::default()
        });
        assert_eq!(inj.plan(Endpoint::Heartbeat).fault, None);
        assert_eq!(inj.plan(Endpoint::A2a).fault, Some(Fault::DropAfter));
        inj.set(FaultConfig::default());
        assert_eq!(inj.plan(Endpoint::A2a), Plan::default());
    }

    #[test]
    fn stream_faults_read_from_json_and_drop_at_their_rate() {
        let cfg: FaultConfig =
            serde_json::from_str(r#"{"seed":5,"stream":{"drop":0.5,"cut_after":3}}"#).unwrap();
        assert_eq!(cfg.stream.cut_after, Some(3));
        let inj = Injector::new(cfg);
        let dropped = (0..1000).filter(|_| inj.drop_event()).count();
        assert!((400..600).contains(&dropped), "{dropped} of 1000 at 50%");
        inj.set(serde_json::from_str(r#"{"stream":{"drop":1}}"#).unwrap());
        assert!((0..100).all(|_| inj.drop_event()));
        inj.set(FaultConfig::default());
        assert!(!inj.drop_event() && inj.stream() == StreamFaults::default());
    }
}
