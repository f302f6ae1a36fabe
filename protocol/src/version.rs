//! Protocol version negotiation.

/// The protocol major version this crate implements.
pub const PROTOCOL_VERSION: u32 = 1;

/// The oldest protocol major version a host built from this crate still speaks.
pub const OLDEST_SUPPORTED: u32 = 1;

/// A backend speaks a protocol version the host does not.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum VersionError {
    /// The backend is newer than the host.
    #[error(
        "backend {backend} speaks protocol {theirs}; this molecule ({host_version}) speaks \
         {supported}: upgrade molecule, or use a release of {backend} that speaks protocol \
         {PROTOCOL_VERSION}",
        supported = supported_versions()
    )]
    BackendTooNew {
        /// The backend's name and version.
        backend: String,
        /// The version it answered with.
        theirs: u32,
        /// The host's version string.
        host_version: String,
    },
    /// The backend is older than the host supports.
    #[error(
        "backend {backend} speaks protocol {theirs}; this molecule ({host_version}) needs at least \
         protocol {OLDEST_SUPPORTED}: upgrade the backend (or its SDK)"
    )]
    BackendTooOld {
        /// The backend's name and version.
        backend: String,
        /// The version it answered with.
        theirs: u32,
        /// The host's version string.
        host_version: String,
    },
}

/// The versions this host speaks, for messages: `protocol 1`, or `protocols 1 to 2`.
pub fn supported_versions() -> String {
    if OLDEST_SUPPORTED == PROTOCOL_VERSION {
        format!("protocol {PROTOCOL_VERSION}")
    } else {
        format!("protocols {OLDEST_SUPPORTED} to {PROTOCOL_VERSION}")
    }
}

/// Checks the version a backend answered `initialize` with.
pub fn check_backend_version(
    backend: &str,
    theirs: u32,
    host_version: &str,
) -> Result<(), VersionError> {
    if theirs > PROTOCOL_VERSION {
        Err(VersionError::BackendTooNew {
            backend: backend.to_owned(),
            theirs,
            host_version: host_version.to_owned(),
        })
    } else if theirs < OLDEST_SUPPORTED {
        Err(VersionError::BackendTooOld {
            backend: backend.to_owned(),
            theirs,
            host_version: host_version.to_owned(),
        })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_say_which_side_to_upgrade() {
        let new = check_backend_version("my-agent 2.0", 2, "0.1.0")
            .unwrap_err()
            .to_string();
        assert_eq!(
            new,
            "backend my-agent 2.0 speaks protocol 2; this molecule (0.1.0) speaks protocol 1: \
             upgrade molecule, or use a release of my-agent 2.0 that speaks protocol 1"
        );
        let old = check_backend_version("my-agent 0.1", 0, "0.1.0")
            .unwrap_err()
            .to_string();
        assert!(old.contains("upgrade the backend"), "{old}");
        assert!(check_backend_version("x", 1, "0.1.0").is_ok());
    }
}
