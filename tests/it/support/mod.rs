//! Helpers shared by the integration tests. Keep them generic: every area adds to them and
//! uses a different subset.
#![allow(dead_code)]

pub mod backend;
pub mod logs;
pub mod sdk;
pub mod wait;
