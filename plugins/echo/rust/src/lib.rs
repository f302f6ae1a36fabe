//! The echo backend.
