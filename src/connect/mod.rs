//! `molecule connect`: serve one workspace of the platform with a backend.

pub mod queues;
pub mod settings;
pub mod state;
