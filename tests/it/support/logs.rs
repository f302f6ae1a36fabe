//! Capturing tracing events in a test. The capture is the thread's default subscriber, so use
//! it from a current-thread runtime (the `#[tokio::test]` default): every task then runs on
//! the test's thread.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex, OnceLock};

use tracing::field::{Field, Visit};
use tracing::subscriber::{DefaultGuard, NoSubscriber};
use tracing::{Dispatch, Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// One captured event.
#[derive(Clone, Debug)]
pub struct Captured {
    pub level: Level,
    pub target: String,
    pub message: String,
    pub fields: BTreeMap<String, String>,
}

/// The events recorded since [`Capture::install`].
#[derive(Clone, Default)]
pub struct Capture(Arc<Mutex<Vec<Captured>>>);

impl Capture {
    /// Records every event of this thread until the guard is dropped.
    pub fn install() -> (Capture, DefaultGuard) {
        // tracing caches each callsite's interest. With a single registered dispatcher it
        // computes that interest from the *registering thread's* default, so a callsite first
        // hit by another test's thread would be cached "never" for this one too. A second,
        // permanent dispatcher makes it ask every registered dispatcher instead.
        static SECOND: OnceLock<Dispatch> = OnceLock::new();
        SECOND.get_or_init(|| Dispatch::new(NoSubscriber::default()));
        let capture = Capture::default();
        let subscriber = tracing_subscriber::registry().with(capture.clone());
        let guard = tracing::subscriber::set_default(subscriber);
        // Callsites cached "never" before this capture existed are asked again.
        tracing::callsite::rebuild_interest_cache();
        (capture, guard)
    }

    /// A copy of the events so far.
    pub fn events(&self) -> Vec<Captured> {
        self.0.lock().expect("not poisoned").clone()
    }

    /// The first event whose message contains `text`.
    pub fn find(&self, text: &str) -> Option<Captured> {
        self.events().into_iter().find(|e| e.message.contains(text))
    }
}

impl<S: Subscriber> Layer<S> for Capture {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        struct Fields(BTreeMap<String, String>);
        impl Visit for Fields {
            fn record_str(&mut self, field: &Field, value: &str) {
                self.0.insert(field.name().into(), value.into());
            }
            fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
                self.0.insert(field.name().into(), format!("{value:?}"));
            }
        }
        let mut fields = Fields(BTreeMap::new());
        event.record(&mut fields);
        let mut fields = fields.0;
        let message = fields.remove("message").unwrap_or_default();
        self.0.lock().expect("not poisoned").push(Captured {
            level: *event.metadata().level(),
            target: event.metadata().target().into(),
            message,
            fields,
        });
    }
}
