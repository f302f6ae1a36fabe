//! The echo backend: it answers every message with the same content, text prefixed `echo: `.
//!
//! It is the backend `molecule dev` runs when none is given (the host embeds it as the hidden
//! `molecule echo-backend` subcommand), the reference the conformance checker is tried on, and
//! the smallest example of the Rust SDK. The Python and Node echoes behave identically:
//!
//! - a text part comes back as the same text prefixed `echo: `;
//! - data and file parts come back unchanged;
//! - a message that is itself an automatic reply (`context.inReplyTo` set) gets no reply, so two
//!   echo workspaces never ping-pong;
//! - one process serves up to [`MAX_WORKSPACES`] workspaces (SPEC §17).

use molecule_plugin::protocol::a2a::Part;
use molecule_plugin::protocol::methods::{AgentCard, BackendInfo, Skill};
use molecule_plugin::protocol::{BackendCapabilities, HandleA2aParams, HandleA2aResult, RpcError};
use molecule_plugin::{Backend, RequestContext, Threads};
use std::process::ExitCode;

/// The prefix put before echoed text.
pub const PREFIX: &str = "echo: ";

/// How many requests the echo advertises it handles at once: answering costs microseconds,
/// so the limit only bounds the memory of a burst.
pub const MAX_CONCURRENCY: u32 = 64;

/// How many workspaces one echo process serves (SPEC §17): it keeps nothing per workspace, so
/// a fleet of echo workspaces shares a process.
pub const MAX_WORKSPACES: u32 = 1024;

/// The echo backend.
#[derive(Clone, Copy, Debug, Default)]
pub struct Echo;

impl Backend for Echo {
    fn info(&self) -> BackendInfo {
        molecule_plugin::package_info!()
    }

    fn capabilities(&self) -> BackendCapabilities {
        BackendCapabilities::default()
            .with_max_concurrency(MAX_CONCURRENCY)
            .with_max_workspaces(MAX_WORKSPACES)
            .with_cancel(true)
    }

    fn agent_card(&self) -> Option<AgentCard> {
        let skill = Skill::new("Echo")
            .with_id("echo")
            .with_description(
                "Repeats text back prefixed \"echo: \"; returns data and file parts unchanged.",
            )
            .with_tags(vec!["echo".into(), "test".into()])
            .with_examples(vec!["hello".into()]);
        let card = AgentCard::default()
            .with_description("Replies with whatever it is sent, text prefixed \"echo: \".")
            .with_skills(vec![skill]);
        Some(card)
    }

    async fn handle_a2a(
        &self,
        params: HandleA2aParams,
        _cx: RequestContext,
    ) -> Result<HandleA2aResult, RpcError> {
        Ok(answer(params))
    }
}

/// The echo's answer to one message.
pub fn answer(params: HandleA2aParams) -> HandleA2aResult {
    if params.context.in_reply_to.is_some() {
        return HandleA2aResult::default();
    }
    HandleA2aResult::new(params.message.parts.into_iter().map(echo_part).collect())
}

/// One part, echoed: text gets the prefix, anything else is returned as it came.
pub fn echo_part(part: Part) -> Part {
    match part {
        Part::Text { mut text, metadata } => {
            text.insert_str(0, PREFIX);
            Part::Text { text, metadata }
        }
        other => other,
    }
}

/// Serves the echo on stdin/stdout until stdin closes; the whole of `main`. The echo never
/// blocks, so it runs on one thread, which saves the hand-offs between threads on every request.
pub fn run() -> ExitCode {
    molecule_plugin::run_with(Echo, Threads::Current)
}

#[cfg(test)]
mod tests {
    use super::*;
    use molecule_plugin::protocol::a2a::Object;
    use molecule_plugin::testing::params;

    #[test]
    fn text_is_prefixed_and_everything_else_is_unchanged() {
        let data = Part::data(Object::from_iter([("k".to_owned(), 1.into())]));
        let file = Part::file_uri("https://x/a.png", Some("a.png".into()), None);
        let result = answer(params(vec![Part::text("hi"), data.clone(), file.clone()]));
        assert_eq!(result.parts, vec![Part::text("echo: hi"), data, file]);
    }

    #[test]
    fn automatic_replies_are_not_answered() {
        let mut p = params(vec![Part::text("echo: hi")]);
        p.context.in_reply_to = Some("m-1".into());
        p.context.hops = 1;
        assert!(answer(p).parts.is_empty());
    }
}
