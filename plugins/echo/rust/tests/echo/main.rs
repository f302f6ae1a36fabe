//! The echo backend's tests: the real `molecule-echo` binary through raw NDJSON exchanges, and
//! the library through the SDK's in-process harness.

mod binary;
mod harness;
mod process;
mod terminal;
