//! The checks: their ids, tiers and one-line descriptions, in the order they run.

use clap::builder::PossibleValue;

/// How much a check counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// Every backend must pass it.
    Mandatory,
    /// A backend that advertises the capability must pass it; skipped otherwise.
    Capability,
    /// Recommended behaviour: reported, never fails the run.
    Advisory,
}

impl Tier {
    /// Whether a failure of this tier fails the run.
    pub fn counts(self) -> bool {
        self != Tier::Advisory
    }
}

macro_rules! checks {
    ($($variant:ident = $id:literal, $tier:ident, $title:literal;)*) => {
        /// One check.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum CheckId {
            $(#[doc = $title] $variant,)*
        }

        impl CheckId {
            /// Every check, in the order they run.
            pub const ALL: &'static [CheckId] = &[$(CheckId::$variant,)*];

            /// The id shown in reports and accepted by `--only`.
            pub fn name(self) -> &'static str {
                match self { $(CheckId::$variant => $id,)* }
            }

            /// Its tier.
            pub fn tier(self) -> Tier {
                match self { $(CheckId::$variant => Tier::$tier,)* }
            }

            /// What it checks, in one line.
            pub fn title(self) -> &'static str {
                match self { $(CheckId::$variant => $title,)* }
            }
        }
    };
}

checks! {
    Handshake = "handshake", Mandatory,
        "answers initialize in time with protocolVersion 1 and its name and version";
    VersionNegotiation = "version.negotiation", Mandatory,
        "offered a newer protocol, answers with a version it speaks or an error, and keeps running";
    InitFirst = "init.first", Mandatory,
        "answers requests before initialize with -32002, and works once initialized";
    IdsEcho = "ids.echo", Mandatory,
        "echoes request ids exactly: large integers and strings";
    MethodUnknown = "method.unknown", Mandatory,
        "answers an unknown method with -32601 and keeps working";
    ParamsInvalid = "params.invalid", Mandatory,
        "answers handle_a2a without a message with -32602 and keeps working";
    NotificationUnknown = "notification.unknown", Mandatory,
        "ignores notifications it does not know";
    A2aResult = "a2a.result", Mandatory,
        "answers handle_a2a with valid A2A parts";
    A2aLarge = "a2a.large", Mandatory,
        "answers a message of about 1 MiB";
    A2aUtf8 = "a2a.utf8", Mandatory,
        "answers a message of multi-byte UTF-8 text without mangling it";
    AnswersOnce = "answers.once", Mandatory,
        "answers every request exactly once and never an id it was not sent";
    StdoutClean = "stdout.clean", Mandatory,
        "writes only JSON-RPC lines within the line cap on stdout";
    HostCallsListed = "host-calls.listed", Mandatory,
        "calls only host methods listed in hostMethods";
    HostCallsParams = "host-calls.params", Mandatory,
        "makes its calls to the host with well-formed params";
    HostCallsErrors = "host-calls.errors", Mandatory,
        "answers its request once and keeps working, whatever error the host answers its calls with";
    CancelAfterAnswer = "cancel.after-answer", Mandatory,
        "ignores a cancel that crosses its answer, and keeps working";
    CancelUnknownId = "cancel.unknown-id", Mandatory,
        "ignores a cancel for an id it never got";
    ShutdownEof = "shutdown.eof", Mandatory,
        "exits with status 0 within 5 s of stdin closing";
    ShutdownDescendants = "shutdown.descendants", Mandatory,
        "leaves no process running after it exits";
    ConcurrencyParallel = "concurrency.parallel", Capability,
        "handles maxConcurrency requests at once, each answered once under its own id";
    ConcurrencyPing = "concurrency.ping", Capability,
        "answers ping while a request runs";
    CancelInFlight = "cancel.in-flight", Capability,
        "answers a cancelled request exactly once within the cancel grace, and keeps working";
    ProgressInFlight = "progress.in-flight", Capability,
        "sends $/progress only for requests in flight";
    WorkspacesMany = "workspaces.many", Capability,
        "serves a second workspace it is given, each request under its own, then closes it";
    InitTwice = "init.twice", Advisory,
        "answers a second initialize with -32600";
    ShutdownSigterm = "shutdown.sigterm", Advisory,
        "exits promptly on SIGTERM";
    RunByHand = "run-by-hand", Advisory,
        "run by hand on a terminal without MOLECULE_BACKEND, says how to run it and exits non-zero";
    HostCallsScoped = "host-calls.scoped", Advisory,
        "ties each call to its request, and repeats a delivered message's peers/send messageIds";
    StderrVolume = "stderr.volume", Advisory,
        "logs few enough lines that the host's rate limit keeps them all";
    StartupTime = "startup.time", Advisory,
        "answers initialize quickly";
}

/// The quick tier `molecule doctor` runs: the backend starts, answers initialize, refuses what
/// it does not know and exits when its stdin closes. None of them sends a message the backend
/// would work on (a model call costs money and time).
pub const QUICK: &[CheckId] = &[
    CheckId::Handshake,
    CheckId::MethodUnknown,
    CheckId::ParamsInvalid,
    CheckId::ShutdownEof,
];

impl clap::ValueEnum for CheckId {
    fn value_variants<'a>() -> &'a [Self] {
        CheckId::ALL
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.name()).help(self.title()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_tiers_are_grouped() {
        let mut names: Vec<&str> = CheckId::ALL.iter().map(|c| c.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), CheckId::ALL.len());
        let tiers: Vec<Tier> = CheckId::ALL.iter().map(|c| c.tier()).collect();
        let mut sorted = tiers.clone();
        sorted.sort_by_key(|t| *t as u8);
        assert_eq!(tiers, sorted, "checks run tier by tier");
    }
}
