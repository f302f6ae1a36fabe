//! What survives a restart: the settled state of the feed ([`Ledger`]), its file
//! ([`file`]: versioned, validated on load, written atomically) and the task that writes it
//! ([`StateWriter`]).

pub mod file;
mod key;
mod ledger;
mod writer;

pub use file::{StateError, StateFile, UploadRecord};
pub use key::{KeyRecord, RowKey};
pub use ledger::{Admit, Ledger};
pub use writer::StateWriter;
