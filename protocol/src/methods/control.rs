//! `ping`, `$/cancelRequest` and `$/progress`: the methods about the connection and the
//! requests on it rather than their content, and the empty object and `_meta` they share with
//! the other methods.

use super::{Method, name};
use crate::jsonrpc::RequestId;
use serde::{Deserialize, Serialize};

/// `ping`: liveness in either direction.
pub struct Ping;
impl Method for Ping {
    const NAME: &'static str = name::PING;
    type Params = Empty;
    type Result = Empty;
}

/// An object with no members of its own: the params of `ping`, `peers/list` and
/// `workspace/info`, and the result of `ping`. Like any params or result it may carry `_meta`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct Empty {
    /// Data outside the method's definition.
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<CallMeta>,
}

setters!(Empty {
    with_meta => meta: opt CallMeta,
});

/// The `_meta` members this protocol defines (SPEC §16); receivers ignore the others.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct CallMeta {
    /// On a backend → host call: the id of the `handle_a2a` request this call is made for,
    /// exactly as the host sent it; the call then shares that request's deadline and ends with
    /// it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<RequestId>,
    /// On a backend → host call from a backend that serves several workspaces: the workspace
    /// the call is for (SPEC §17). Required on calls made outside any request; with
    /// `requestId` it must name that request's workspace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schemars", schemars(extend("format" = "uuid")))]
    pub workspace_id: Option<String>,
}

setters!(CallMeta {
    with_request_id => request_id: opt RequestId,
    with_workspace_id => workspace_id: text String,
});

/// `$/cancelRequest`: stop work on a request and still answer it exactly once.
pub struct CancelRequest;
impl Method for CancelRequest {
    const NAME: &'static str = name::CANCEL_REQUEST;
    type Params = CancelParams;
    type Result = ();
}

/// The params of `$/cancelRequest`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct CancelParams {
    /// The request to cancel.
    pub id: RequestId,
    /// Why; a missing or unknown reason is treated like `other`.
    #[serde(default)]
    pub reason: CancelReason,
}

impl CancelParams {
    /// Cancels request `id` for `reason`.
    pub fn new(id: impl Into<RequestId>, reason: CancelReason) -> Self {
        CancelParams {
            id: id.into(),
            reason,
        }
    }
}

/// Why the host cancels a request. New reasons may come in a minor release, hence
/// `non_exhaustive`. (Its JSON Schema is written by hand in `schema/mod.rs`: the derive cannot
/// express that unknown reasons are accepted.)
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CancelReason {
    /// The request's hard timeout passed.
    Deadline,
    /// No progress arrived within the idle timeout.
    IdleTimeout,
    /// The host is shutting down.
    HostShutdown,
    /// A newer message replaced this one.
    Superseded,
    /// A reason this version does not know.
    #[default]
    #[serde(other)]
    Other,
}

impl CancelReason {
    /// Every reason this version knows.
    pub const ALL: &[CancelReason] = &[
        CancelReason::Deadline,
        CancelReason::IdleTimeout,
        CancelReason::HostShutdown,
        CancelReason::Superseded,
        CancelReason::Other,
    ];

    /// The wire name (`deadline`, `host_shutdown`…).
    pub fn as_str(self) -> &'static str {
        match self {
            CancelReason::Deadline => "deadline",
            CancelReason::IdleTimeout => "idle_timeout",
            CancelReason::HostShutdown => "host_shutdown",
            CancelReason::Superseded => "superseded",
            CancelReason::Other => "other",
        }
    }
}

impl std::fmt::Display for CancelReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `$/progress`: the backend is still working on a request (resets its idle timer).
pub struct Progress;
impl Method for Progress {
    const NAME: &'static str = name::PROGRESS;
    type Params = ProgressParams;
    type Result = ();
}

/// The params of `$/progress`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ProgressParams {
    /// The request being worked on.
    pub id: RequestId,
    /// A short status line (logged at debug; never sent to the sender).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Completion, 0–100, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<f64>,
}

impl ProgressParams {
    /// Progress on request `id`, without a status line or a percentage.
    pub fn new(id: impl Into<RequestId>) -> Self {
        ProgressParams {
            id: id.into(),
            message: None,
            percent: None,
        }
    }
}

setters!(ProgressParams {
    with_message => message: text String,
    with_percent => percent: opt f64,
});

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_cancel_reasons_are_tolerated() {
        let p: CancelParams =
            serde_json::from_value(json!({"id":1,"reason":"solar_flare"})).unwrap();
        assert_eq!(p.reason, CancelReason::Other);
        let p: CancelParams =
            serde_json::from_value(json!({"id":"a","reason":"deadline"})).unwrap();
        assert_eq!(p.reason, CancelReason::Deadline);
    }

    #[test]
    fn a_cancel_reason_is_named_as_on_the_wire() {
        for &reason in CancelReason::ALL {
            assert_eq!(
                serde_json::to_value(reason).unwrap(),
                json!(reason.as_str())
            );
        }
    }

    #[test]
    fn an_empty_object_is_empty_on_the_wire_and_reads_meta() {
        assert_eq!(serde_json::to_string(&Empty::default()).unwrap(), "{}");
        let read: Empty = serde_json::from_value(json!({"_meta": {"requestId": 4}})).unwrap();
        assert_eq!(
            read.meta.and_then(|m| m.request_id),
            Some(RequestId::Number(4))
        );
    }
}
