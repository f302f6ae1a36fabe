//! `initialize`, the backend's half: who the backend is, what it supports, and what the host
//! may publish in the workspace's agent card.

use crate::version::PROTOCOL_VERSION;
use serde::{Deserialize, Serialize};

/// The backend's half of the handshake.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct InitializeResult {
    /// The protocol major the backend will speak.
    pub protocol_version: u32,
    /// Who the backend is.
    pub backend: BackendInfo,
    /// What the host may publish in the workspace's agent card.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_card: Option<AgentCard>,
    /// What the backend supports.
    #[serde(default)]
    pub capabilities: BackendCapabilities,
}

impl InitializeResult {
    /// The answer of `backend`, speaking this crate's [`PROTOCOL_VERSION`], with default
    /// capabilities and no agent card.
    pub fn new(backend: BackendInfo) -> Self {
        InitializeResult {
            protocol_version: PROTOCOL_VERSION,
            backend,
            agent_card: None,
            capabilities: BackendCapabilities::default(),
        }
    }
}

setters!(InitializeResult {
    with_protocol_version => protocol_version: val u32,
    with_agent_card => agent_card: opt AgentCard,
    with_capabilities => capabilities: val BackendCapabilities,
});

/// Identifies the backend.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct BackendInfo {
    /// A short name, such as `echo`.
    pub name: String,
    /// The backend's version.
    pub version: String,
    /// One sentence on what it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl BackendInfo {
    /// A backend called `name`, at `version`, without a description.
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        BackendInfo {
            name: name.into(),
            version: version.into(),
            description: None,
        }
    }
}

setters!(BackendInfo {
    with_description => description: text String,
});

/// Agent-card fields a backend may supply.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct AgentCard {
    /// What the agent does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Its skills.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skills: Option<Vec<Skill>>,
}

setters!(AgentCard {
    with_description => description: text String,
    with_skills => skills: opt Vec<Skill>,
});

/// One skill of an agent card.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Skill {
    /// A stable id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// A display name.
    pub name: String,
    /// What it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Search tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// Example prompts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub examples: Option<Vec<String>>,
}

impl Skill {
    /// A skill called `name`, with nothing else said about it.
    pub fn new(name: impl Into<String>) -> Self {
        Skill {
            id: None,
            name: name.into(),
            description: None,
            tags: None,
            examples: None,
        }
    }
}

setters!(Skill {
    with_id => id: text String,
    with_description => description: text String,
    with_tags => tags: opt Vec<String>,
    with_examples => examples: opt Vec<String>,
});

/// What a backend supports. An absent capability means unsupported; unknown keys are ignored.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct BackendCapabilities {
    /// How many requests it handles at once; absent means 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<u32>,
    /// It honours `$/cancelRequest` (stops work early).
    #[serde(default)]
    pub cancel: bool,
    /// It sends `$/progress` while working.
    #[serde(default)]
    pub progress: bool,
    /// How many workspaces it serves at once in one process (SPEC §17); absent means 1. Above
    /// 1, the host may add workspaces with `workspace/open`, and `handle_a2a` names its
    /// workspace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_workspaces: Option<u32>,
}

impl BackendCapabilities {
    /// The concurrency the host may use: the advertised value, at least 1; 1 when absent.
    pub fn concurrency(&self) -> u32 {
        self.max_concurrency.unwrap_or(1).max(1)
    }

    /// How many workspaces one process may serve: the advertised value, at least 1; 1 when
    /// absent.
    pub fn workspaces(&self) -> u32 {
        self.max_workspaces.unwrap_or(1).max(1)
    }
}

setters!(BackendCapabilities {
    with_max_workspaces => max_workspaces: opt u32,
    with_max_concurrency => max_concurrency: opt u32,
    with_cancel => cancel: val bool,
    with_progress => progress: val bool,
});

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn absent_capabilities_mean_unsupported_and_unknown_keys_are_ignored() {
        let r: InitializeResult = serde_json::from_value(json!({
            "protocolVersion": 1, "backend": {"name":"x","version":"1"},
            "capabilities": {"futureThing": true}, "extra": 1
        }))
        .unwrap();
        assert_eq!(r.capabilities.concurrency(), 1);
        assert!(!r.capabilities.cancel && !r.capabilities.progress);
        let r: InitializeResult = serde_json::from_value(
            json!({"protocolVersion":1,"backend":{"name":"x","version":"1"}}),
        )
        .unwrap();
        assert_eq!(r.capabilities, BackendCapabilities::default());
    }

    #[test]
    fn the_builders_write_what_a_literal_would() {
        let result = InitializeResult::new(BackendInfo::new("echo", "1.0").with_description("d"))
            .with_capabilities(
                BackendCapabilities::default()
                    .with_max_concurrency(4)
                    .with_cancel(true),
            )
            .with_agent_card(AgentCard::default().with_skills(vec![
                Skill::new("Echo").with_id("echo").with_tags(vec!["t".into()]),
            ]));
        assert_eq!(
            serde_json::to_value(&result).unwrap(),
            json!({"protocolVersion": 1,
                   "backend": {"name": "echo", "version": "1.0", "description": "d"},
                   "agentCard": {"skills": [{"id": "echo", "name": "Echo", "tags": ["t"]}]},
                   "capabilities": {"maxConcurrency": 4, "cancel": true, "progress": false}})
        );
    }
}
