//! `workspace/info` and `user/notify`: the serving workspace's own record, and messages to the
//! person in its canvas.

use crate::a2a::Object;
use crate::methods::{CallMeta, Empty, Method, name};
use serde::{Deserialize, Serialize};

/// `workspace/info`.
pub struct WorkspaceInfo;
impl Method for WorkspaceInfo {
    const NAME: &'static str = name::WORKSPACE_INFO;
    type Params = Empty;
    type Result = WorkspaceInfoResult;
}

/// The serving workspace's record.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct WorkspaceInfoResult {
    /// The platform's record, as it returned it.
    pub workspace: Object,
}

impl WorkspaceInfoResult {
    /// The platform's record `workspace`.
    pub fn new(workspace: Object) -> Self {
        WorkspaceInfoResult { workspace }
    }
}

/// `user/notify`.
pub struct UserNotify;
impl Method for UserNotify {
    const NAME: &'static str = name::USER_NOTIFY;
    type Params = NotifyParams;
    type Result = NotifyResult;
}

/// A message to the person in the canvas.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct NotifyParams {
    /// The text (markdown); must not be empty.
    pub text: String,
    /// Files to show with it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<NotifyFile>,
    /// The call's metadata.
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<CallMeta>,
}

impl NotifyParams {
    /// The message `text`, without attachments.
    pub fn new(text: impl Into<String>) -> Self {
        NotifyParams {
            text: text.into(),
            attachments: Vec::new(),
            meta: None,
        }
    }
}

setters!(NotifyParams {
    with_attachments => attachments: val Vec<NotifyFile>,
    with_meta => meta: opt CallMeta,
});

/// A file shown with a canvas message: an http(s) URI.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct NotifyFile {
    /// Where the file is.
    #[cfg_attr(feature = "schemars", schemars(extend("format" = "uri")))]
    pub uri: String,
    /// Its name; the last segment of the URI's path when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its MIME type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
}

impl NotifyFile {
    /// The file at `uri`, named by the URI.
    pub fn new(uri: impl Into<String>) -> Self {
        NotifyFile {
            uri: uri.into(),
            name: None,
            mime_type: None,
        }
    }
}

setters!(NotifyFile {
    with_name => name: text String,
    with_mime_type => mime_type: text String,
});

/// The canvas message was accepted.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct NotifyResult {
    /// Always true.
    pub delivered: bool,
}

impl NotifyResult {
    /// The message was delivered.
    pub fn delivered() -> Self {
        NotifyResult { delivered: true }
    }
}
