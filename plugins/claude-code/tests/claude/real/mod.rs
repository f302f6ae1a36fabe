//! The backend over the real Claude Code CLI (`@anthropic-ai/claude-code`, every version in
//! [`support::VERSIONS`], installed by `tests/install-real-claude.sh`), with the local Messages
//! API of [`crate::messages_api`] behind `ANTHROPIC_BASE_URL`. Each test runs once per
//! installed version; without them the tests skip loudly, and with `CI` set they fail.

mod conversations;
mod errors;
pub mod support;
mod tools;
mod transcripts;
