//! One backend process under test, driven by hand: the checker writes exactly the lines a check
//! needs, reads and records every line the backend writes (answering its calls to the host as
//! the scripted host says), drains its stderr, and at the end closes stdin and watches how the
//! backend goes.

mod answers;
mod calls;
mod ending;
mod error;
mod exchange;
mod streams;

pub use ending::Finished;
pub use error::{BadCause, SessionError, exit_text, human};
pub use exchange::Session;
