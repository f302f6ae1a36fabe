//! The Rust SDK for Molecule backends.
