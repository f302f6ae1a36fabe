//! The engine: moves each fetched row to settled. Its decisions are a pure state machine,
//! [`core`] (inputs in, commands out, the time passed in); [`shell`] is the one task that feeds
//! it and carries out its commands (calls the backend, posts replies, downloads, sets timers,
//! saves the state, publishes the load).
//!
//! A row's life: admitted by the ledger (duplicates dropped) → claimed by a waiting peer call,
//! or classified (skipped rows settle at once; uploads are downloaded before any later message
//! is delivered) → queued on its conversation → delivered to the backend, at most one per
//! conversation and `min(--concurrency, maxConcurrency)` in all → its reply queued in its lane,
//! which keeps each conversation's order → settled when the reply is posted, which moves the
//! ledger's prefix; the state writer saves it within the flush interval, off the row's path.
//!
//! Words, each for one thing:
//! - **row**: an activity row fetched from the platform's feed; **settled** once it need never
//!   be delivered again (answered, failed for good, skipped or claimed); the **cursor** is the
//!   newest row of the contiguous settled prefix.
//! - **delivery**: one `handle_a2a` of a row to the backend; its [`outcome`] says what it came
//!   to. An **attempt** is a delivery that failed (the count is saved); a **retry** delivers
//!   again after a backoff. The **delivery queue** holds rows waiting for their conversation's
//!   turn ([`queues`]).
//! - **suspect**: a row that was in flight when the backend crashed; suspects are delivered
//!   alone. **Parked**: a delivery the backend did not take because its crash-loop breaker was
//!   open; it goes out again when the breaker closes, with no attempt spent.
//! - **reply**: what is posted back to the sender ([`reply_body`]); a **lane** is the canvas'
//!   or the agents' queue of replies.
//! - **upload**: a canvas file, downloaded before later messages are delivered.
//! - **drain**: the shutdown: nothing new is delivered, what is in flight may finish.
//! - **intake**: what the poller may fetch (room in the window; none while the breaker is open).
//!
//! The protocol's `DispatchContext` keeps its name: it is the context of one delivery.
//!
//! Owners: the crash-loop breaker is the supervisor's (it opens and closes it, and the
//! heartbeat reports its status); what an open breaker means for rows is decided once, in the
//! core (nothing delivered, a turned-away delivery parked, the intake closed), and the poller
//! reads that decision. A request's deadline is the supervisor's alone to write: it owns the
//! request timeout and knows when the request is sent.

mod core;
pub mod outcome;
pub mod queues;
pub mod reply_body;
mod shell;

pub use core::{Core, Rules};
pub use shell::{Engine, Inputs, Wiring, backend_of};
