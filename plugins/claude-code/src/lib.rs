//! `molecule-claude-code`: Claude Code (the `claude` CLI) behind a Molecule workspace.
//!
//! Every message the workspace receives becomes one `claude -p --output-format stream-json
//! --verbose` run, in the Claude session of the message's conversation (the protocol's
//! `conversationKey`), so each agent or person who writes keeps a conversation of their own
//! across messages and restarts. The README next to this crate describes the flags, where
//! Claude keeps its transcripts, and the security model.
//!
//! | module | responsibility |
//! |---|---|
//! | [`cli`], [`config`] | the command line and its validation |
//! | [`backend`] | the [`Backend`](molecule_plugin::Backend): sessions, recovery, limits |
//! | [`turn`] | one `claude` run: events, progress, cancel and timeout |
//! | [`process`] | every process the backend starts, and how each one ends |
//! | [`stream`] | the stream-json events |
//! | [`installed`] | the installed CLI: its version (checked) and flags, asked at start-up |
//! | [`outcome`], [`failure`] | a turn's result → a reply, or an error the host understands |
//! | [`sessions`] | the conversation → session map on disk |
//! | [`prompt`], [`command`] | what Claude is told, and its argv and environment |
//! | [`peer_tools`] | `molecule mcp` as Claude's MCP server, for calls to other workspaces |
//! | [`places`] | what is kept per workspace when one process serves several (`--max-workspaces`) |
//! | [`program`] | `main`: start-up, signals, shutdown |
//! | [`selfcheck`] | `--check`: the CLI found, supported and logged in, for `molecule doctor` |

pub mod backend;
pub mod cli;
pub mod command;
pub mod config;
pub mod failure;
pub mod installed;
pub mod log;
pub mod outcome;
pub mod peer_tools;
pub mod places;
pub mod process;
pub mod program;
pub mod prompt;
pub mod selfcheck;
pub mod sessions;
pub mod stream;
pub mod turn;

pub use backend::ClaudeCode;
pub use config::Config;
