//! Counters of what a backend did wrong or a lot of, for logs, tests and the heartbeat.

use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! counters {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {
        /// A snapshot of a supervisor's counters, summed over every backend process it ran.
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct Stats {
            $($(#[$doc])* pub $name: u64,)*
        }

        /// The live counters, shared by the tasks of every backend process.
        #[derive(Debug, Default)]
        pub(crate) struct Counters {
            $($name: AtomicU64,)*
        }

        impl Counters {
            /// The current values.
            pub(crate) fn snapshot(&self) -> Stats {
                Stats { $($name: self.$name.load(Ordering::Relaxed),)* }
            }
        }

        /// Names one counter, for [`Counters::bump`].
        #[derive(Clone, Copy, Debug)]
        #[expect(non_camel_case_types, reason = "the variants are the field names")]
        pub(crate) enum Counter { $($name,)* }

        impl Counters {
            /// Adds `n` to `counter`.
            pub(crate) fn add(&self, counter: Counter, n: u64) {
                let cell = match counter { $(Counter::$name => &self.$name,)* };
                cell.fetch_add(n, Ordering::Relaxed);
            }
        }
    };
}

counters! {
    /// Backend processes started (the handshake succeeded).
    starts,
    /// Backend processes that crashed or failed to start after the first start.
    crashes,
    /// Requests queued for a backend (`initialize` included).
    requests_sent,
    /// Stdout lines that were not JSON objects.
    junk_lines,
    /// Stdout lines that were JSON objects but not valid JSON-RPC messages.
    invalid_messages,
    /// Stdout lines over the size cap.
    oversize_lines,
    /// Responses for an id the host never sent.
    unknown_responses,
    /// Responses for an id already answered, cancelled or timed out.
    duplicate_responses,
    /// Backend → host calls refused because the bound of calls in flight was reached.
    host_calls_refused,
    /// Stderr lines read.
    stderr_lines,
    /// Stderr lines read but not logged because of the rate limit.
    stderr_suppressed,
    /// Stderr lines cut at the line cap.
    stderr_truncated,
}

impl Counters {
    /// Adds one to `counter`.
    pub(crate) fn bump(&self, counter: Counter) {
        self.add(counter, 1);
    }
}
