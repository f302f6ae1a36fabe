//! A tally of the platform calls that failed, by class, for the metrics and `molecule status`:
//! every exchange that ended in a transport error or a non-2xx answer counts once, whatever
//! the caller then made of it (a retry, a read-back, a fatal exit).

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::error::{PlatformError, Transport};

/// Failed exchanges so far, by class; shared by every clone of a client.
#[derive(Debug, Default)]
pub struct Failures {
    counts: Mutex<BTreeMap<&'static str, u64>>,
}

impl Failures {
    /// Counts one failure of `class`.
    pub fn count(&self, class: &'static str) {
        *self.lock().entry(class).or_default() += 1;
    }

    /// The counts, by class name.
    pub fn snapshot(&self) -> BTreeMap<&'static str, u64> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<&'static str, u64>> {
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The class of an answer with this HTTP status, `None` for a success.
pub fn class_of_status(status: u16) -> Option<&'static str> {
    Some(match status {
        200..=299 => return None,
        300..=399 => "redirect",
        401 => "unauthorized",
        429 => "rate_limited",
        400..=499 => "client_error",
        500..=599 => "server_error",
        _ => "other",
    })
}

/// The class of an exchange that produced no answer, `None` when it was only cancelled.
pub fn class_of_error(e: &PlatformError) -> Option<&'static str> {
    Some(match e {
        PlatformError::Cancelled { .. } => return None,
        PlatformError::Transient { cause, .. } => match cause {
            Transport::Connect => "connect",
            Transport::Timeout => "timeout",
            Transport::Io => "connection_broken",
            Transport::Status(s) => return class_of_status(*s),
        },
        PlatformError::TooLarge { .. } => "too_large",
        PlatformError::Decode { .. } => "decode",
        _ => "other",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_errors_fall_in_their_classes() {
        let f = Failures::default();
        for s in [200, 204, 302, 401, 404, 429, 503] {
            if let Some(c) = class_of_status(s) {
                f.count(c);
            }
        }
        let refused = PlatformError::Transient {
            call: super::super::Call::Activity,
            cause: Transport::Connect,
            retry_after: None,
            excerpt: String::new(),
        };
        f.count(class_of_error(&refused).unwrap());
        let cancelled = PlatformError::Cancelled {
            call: super::super::Call::Activity,
        };
        assert_eq!(class_of_error(&cancelled), None);
        let counts: Vec<_> = f.snapshot().into_iter().collect();
        assert_eq!(
            counts,
            [
                ("client_error", 1),
                ("connect", 1),
                ("rate_limited", 1),
                ("redirect", 1),
                ("server_error", 1),
                ("unauthorized", 1)
            ]
        );
    }
}
