//! The SDK's tests: a scripted backend driven through the in-process [`TestHost`], one module
//! per area.
//!
//! [`TestHost`]: molecule_plugin::testing::TestHost

mod cancel;
mod concurrency;
mod host_calls;
mod peers;
mod protocol;
mod shutdown;
mod support;
mod workspaces;
