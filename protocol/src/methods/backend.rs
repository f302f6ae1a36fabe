//! `initialize`, the backend's half: who the backend is, what it supports, and what the host
//! may publish in the workspace's agent card.

use serde::{Deserialize, Serialize};

/// The backend's half of the handshake.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
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

/// Identifies the backend.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct BackendInfo {
    /// A short name, such as `echo`.
    pub name: String,
    /// The backend's version.
    pub version: String,
    /// One sentence on what it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// Agent-card fields a backend may supply.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct AgentCard {
    /// What the agent does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Its skills.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skills: Option<Vec<Skill>>,
}

/// One skill of an agent card.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
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

/// What a backend supports. An absent capability means unsupported; unknown keys are ignored.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
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
}

impl BackendCapabilities {
    /// The concurrency the host may use: the advertised value, at least 1; 1 when absent.
    pub fn concurrency(&self) -> u32 {
        self.max_concurrency.unwrap_or(1).max(1)
    }
}

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
}
