//! What a platform call gets back once its body is read ([`Reply`]), and how the client turns
//! it into an error or a value: the wait it asks for, the classification of a reply no
//! call-specific rule claimed, the decoding of its body; and the reading of a page of rows.

use super::client::PlatformClient;
use super::error::{Call, PlatformError, Transport, parse_retry_after};
use super::rowscan::{Flow, NotAnArray, PageScanner, ScannedPage};
use super::transport::transport_error;
use crate::logsafe::{QUOTE_MAX, clean, clean_bytes};
use reqwest::header::{self, HeaderMap};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::time::{Duration, SystemTime};

/// A response whose body has been read.
pub(super) struct Reply {
    pub call: Call,
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// The wait the platform asked for, cut to the longest wait (see [`Reply::asked_wait`]).
    pub retry_after: Option<Duration>,
    /// The scanned page of a request with `rows` that was answered 2xx (`body` is empty).
    pub page: Option<Result<ScannedPage, NotAnArray>>,
}

impl PlatformClient {
    /// The error for a reply no call-specific rule claimed.
    pub(super) fn classify(&self, reply: &Reply) -> PlatformError {
        let (call, status) = (reply.call, reply.status);
        let mut excerpt = self.excerpt(&reply.body);
        match status {
            429 => PlatformError::RateLimited {
                call,
                retry_after: reply.retry_after,
                excerpt,
            },
            500..=599 => PlatformError::Transient {
                call,
                cause: Transport::Status(status),
                retry_after: reply.retry_after,
                excerpt,
            },
            _ => {
                if let Some(loc) = reply.headers.get(header::LOCATION) {
                    let location = clean_bytes(loc.as_bytes(), QUOTE_MAX);
                    if (300..400).contains(&status) {
                        return PlatformError::Redirected {
                            call,
                            status,
                            location,
                        };
                    }
                    excerpt = format!("redirected to {location}; check --api-url");
                }
                PlatformError::Permanent {
                    call,
                    status,
                    excerpt,
                }
            }
        }
    }

    /// The body as `T`, or a decode error with an excerpt (none when `secret_body`).
    pub(super) fn decode<T: DeserializeOwned>(
        &self,
        reply: &Reply,
        secret_body: bool,
    ) -> Result<T, PlatformError> {
        serde_json::from_slice(&reply.body).map_err(|e| PlatformError::Decode {
            call: reply.call,
            status: reply.status,
            reason: clean(&e.to_string(), 200),
            excerpt: if secret_body {
                String::new()
            } else {
                self.excerpt(&reply.body)
            },
        })
    }
}

impl Reply {
    /// The wait the answer asks for, uncut, and where it was named: `Retry-After` (seconds or
    /// a date), else a numeric `retry_after` in a JSON body. Only answers that can carry one
    /// (429, 5xx) are read.
    pub(super) fn asked_wait(&self) -> Option<(Duration, &'static str)> {
        if self.status != 429 && self.status < 500 {
            return None;
        }
        let header = self
            .headers
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        if let Some(d) = header {
            return Some((d, "Retry-After"));
        }
        let body: Value = serde_json::from_slice(&self.body).ok()?;
        let secs = body.get("retry_after")?.as_f64()?;
        (secs.is_finite() && secs >= 0.0)
            .then(|| (Duration::from_secs_f64(secs.min(86_400.0)), "retry_after"))
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Reads a page of rows through the scanner, stopping as soon as it has its page.
pub(super) async fn read_rows(
    call: Call,
    mut resp: reqwest::Response,
    mut scanner: PageScanner,
) -> Result<Result<ScannedPage, NotAnArray>, PlatformError> {
    while let Some(chunk) = resp.chunk().await.map_err(|e| transport_error(call, &e))? {
        if scanner.push(&chunk) == Flow::Stop {
            break;
        }
    }
    Ok(scanner.finish())
}
