//! The claude-code backend's tests: the real `molecule-claude-code` binary, driven over its
//! stdin/stdout like the host drives it, with `fake-claude` standing in for the `claude` CLI.
//! No network, no real Claude (except `real_claude`, skipped by default).

mod conformance;
mod end_to_end;
mod errors;
mod hygiene;
mod lifecycle;
mod messages_api;
mod peer_tools;
mod progress;
mod real;
mod real_claude;
mod sessions;
mod support;
mod transcripts;
mod workspaces;
