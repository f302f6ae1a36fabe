//! Hostile answers: what a broken proxy, a misconfigured edge or a hostile platform might send
//! in place of the real answer (any status, headers and body), or on top of it (extra headers
//! such as an absurd `X-RateLimit-Reset`). Unlike the probabilistic faults of
//! [`super::faults`], these are deterministic: each rule serves a given number of requests, in
//! order, and is then spent. They are set with the fault settings (`hostile` in `--faults` or
//! `PUT /_dev/faults`).
//!
//! ```json
//! {"hostile": [
//!   {"endpoint": "activity", "times": 1, "status": 429,
//!    "headers": {"Retry-After": "18446744073709551615"}},
//!   {"endpoint": "notify", "times": 2, "status": 200, "content_type": "text/html",
//!    "body": "<html>portal</html>"}
//! ]}
//! ```

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::faults::Endpoint;

/// One hostile answer and how many requests get it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HostileRule {
    /// The endpoint; `None` for every endpoint.
    pub endpoint: Option<Endpoint>,
    /// How many requests it still serves; `None` for every request.
    pub times: Option<u32>,
    /// Answer with this status and `body` instead of the real answer; `None` keeps the real
    /// answer and only adds `headers`.
    pub status: Option<u16>,
    /// Headers set on the answer (replacing the real ones of the same name).
    pub headers: BTreeMap<String, String>,
    /// The body of a canned answer, sent as is.
    pub body: String,
    /// The `Content-Type` of `body` [default: `application/json`].
    pub content_type: Option<String>,
    /// Process the request first (it takes effect), then answer with `status`: a proxy that
    /// swallowed the real answer.
    pub after_processing: bool,
}

impl HostileRule {
    fn applies_to(&self, endpoint: Endpoint) -> bool {
        self.endpoint.is_none_or(|e| e == endpoint) && self.times != Some(0)
    }
}

/// Takes the first live rule for `endpoint` out of `rules`, counting the request against it;
/// spent rules are removed.
pub fn take(rules: &mut Vec<HostileRule>, endpoint: Endpoint) -> Option<HostileRule> {
    let i = rules.iter().position(|r| r.applies_to(endpoint))?;
    let rule = rules[i].clone();
    if let Some(n) = &mut rules[i].times {
        *n -= 1;
        if *n == 0 {
            rules.remove(i);
        }
    }
    Some(rule)
}

/// Answers `req` as `rule` says.
pub async fn answer(rule: HostileRule, req: Request, next: Next) -> Response {
    let mut resp = match rule.status {
        None => next.run(req).await,
        Some(status) => {
            if rule.after_processing {
                let _ = next.run(req).await;
            }
            canned(status, &rule)
        }
    };
    for (name, value) in &rule.headers {
        match (
            HeaderName::try_from(name.as_str()),
            HeaderValue::from_str(value),
        ) {
            (Ok(n), Ok(v)) => {
                resp.headers_mut().insert(n, v);
            }
            _ => {
                tracing::warn!(header = %name, "emulator: a hostile header cannot be sent; left out")
            }
        }
    }
    resp
}

fn canned(status: u16, rule: &HostileRule) -> Response {
    let mut resp = Response::new(Body::from(rule.body.clone()));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let content_type = rule.content_type.as_deref().unwrap_or("application/json");
    if let Ok(v) = HeaderValue::from_str(content_type) {
        resp.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_count_down_in_order_and_are_spent() {
        let rule = |endpoint, times, status| HostileRule {
            endpoint,
            times,
            status: Some(status),
            ..HostileRule::default()
        };
        let mut rules = vec![
            rule(Some(Endpoint::Activity), Some(2), 429),
            rule(None, Some(1), 503),
            rule(Some(Endpoint::Notify), None, 200),
        ];
        let status = |rules: &mut Vec<HostileRule>, e| take(rules, e).and_then(|r| r.status);
        assert_eq!(status(&mut rules, Endpoint::Activity), Some(429));
        assert_eq!(status(&mut rules, Endpoint::Activity), Some(429));
        assert_eq!(status(&mut rules, Endpoint::Activity), Some(503));
        assert_eq!(status(&mut rules, Endpoint::Activity), None);
        for _ in 0..3 {
            assert_eq!(status(&mut rules, Endpoint::Notify), Some(200));
        }
        assert_eq!(rules.len(), 1);
    }
}
