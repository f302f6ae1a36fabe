//! What reqwest hands back, in the platform client's terms: a failed exchange as a transient
//! [`PlatformError`] (connect, timeout or I/O, with the OS error named), and a body read with
//! a cap.

use super::error::{Call, PlatformError, Transport};

/// The error for an exchange that failed below HTTP.
pub(super) fn transport_error(call: Call, e: &reqwest::Error) -> PlatformError {
    // A connect timeout is a connection failure: nothing was sent (callers that must not
    // repeat a request that may have been processed rely on the difference).
    let cause = if e.is_connect() {
        Transport::Connect
    } else if e.is_timeout() {
        Transport::Timeout
    } else {
        Transport::Io
    };
    // The URL in reqwest's message carries no secret; the chain names the OS error.
    PlatformError::Transient {
        call,
        cause,
        retry_after: None,
        excerpt: with_causes(e),
    }
}

/// `e`'s message followed by those of its sources, `: `-separated.
pub(super) fn with_causes(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    crate::logsafe::clean(&text, 300)
}

/// Reads the whole body, refusing one over `max` bytes.
pub(super) async fn read_capped(
    call: Call,
    mut resp: reqwest::Response,
    max: u64,
) -> Result<Vec<u8>, PlatformError> {
    if resp.content_length().is_some_and(|n| n > max) {
        return Err(PlatformError::TooLarge { call, limit: max });
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| transport_error(call, &e))? {
        if body.len() as u64 + chunk.len() as u64 > max {
            return Err(PlatformError::TooLarge { call, limit: max });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
