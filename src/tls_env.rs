//! `SSL_CERT_FILE` and `SSL_CERT_DIR`, checked before any HTTP client is built. When either
//! is set, the TLS verifier trusts only the certificates they name, not the system's store;
//! one that names nothing usable leaves it with no CA at all, and the HTTP client then fails
//! with a bare "builder error", even for a plain http:// URL. Said here instead, with the
//! variable, its value and the fix, as a configuration error.

use std::path::{Path, PathBuf};

use molecule_host::exit::{self, HasExitCode};

/// A CA variable that cannot work.
#[derive(Debug, thiserror::Error)]
pub enum TlsEnvError {
    /// `SSL_CERT_FILE` cannot be read.
    #[error(
        "SSL_CERT_FILE={path}: cannot read it: {reason}; name a PEM file of CA certificates, or \
         unset it to use the system's"
    )]
    Unreadable {
        /// The value.
        path: PathBuf,
        /// The OS error.
        reason: String,
    },
    /// `SSL_CERT_FILE` holds no PEM certificate.
    #[error(
        "SSL_CERT_FILE={path}: no certificate in it (no -----BEGIN CERTIFICATE----- line); \
         name a PEM file of CA certificates, or unset it to use the system's"
    )]
    NoCertificate {
        /// The value.
        path: PathBuf,
    },
    /// No entry of `SSL_CERT_DIR` is a directory, and `SSL_CERT_FILE` is not set.
    #[error(
        "SSL_CERT_DIR={value}: none of its entries is a directory; name directories of PEM CA \
         certificates (separated by :), or unset it to use the system's"
    )]
    NoDirectory {
        /// The value.
        value: String,
    },
}

impl HasExitCode for TlsEnvError {
    fn exit_code(&self) -> u8 {
        exit::CONFIG
    }
}

/// Checks the variables as `env` gives them.
pub fn check(env: impl Fn(&str) -> Option<String>) -> Result<(), TlsEnvError> {
    let file = env("SSL_CERT_FILE").filter(|v| !v.is_empty());
    if let Some(file) = &file {
        check_file(Path::new(file))?;
    }
    if let Some(dirs) = env("SSL_CERT_DIR").filter(|v| !v.is_empty()) {
        // A missing entry among good ones is skipped by the loader, as OpenSSL does; only a
        // value that can give nothing (and no file to fall back on) is an error.
        let any = std::env::split_paths(&dirs).any(|d| d.is_dir());
        if !any && file.is_none() {
            return Err(TlsEnvError::NoDirectory { value: dirs });
        }
    }
    Ok(())
}

fn check_file(path: &Path) -> Result<(), TlsEnvError> {
    let bytes = std::fs::read(path).map_err(|e| TlsEnvError::Unreadable {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    let marker = b"-----BEGIN CERTIFICATE-----";
    if bytes.windows(marker.len()).any(|w| w == marker) {
        Ok(())
    } else {
        Err(TlsEnvError::NoCertificate {
            path: path.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars<'a>(pairs: &'a [(&'a str, String)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
    }

    #[test]
    fn unset_or_empty_is_fine() {
        assert!(check(vars(&[])).is_ok());
        let empty = [
            ("SSL_CERT_FILE", String::new()),
            ("SSL_CERT_DIR", String::new()),
        ];
        assert!(check(vars(&empty)).is_ok());
    }

    #[test]
    fn a_file_must_be_readable_and_hold_a_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem").display().to_string();
        let e = check(vars(&[("SSL_CERT_FILE", missing.clone())])).unwrap_err();
        assert!(matches!(e, TlsEnvError::Unreadable { .. }), "{e}");
        assert!(e.to_string().contains(&missing), "{e}");

        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let e = check(vars(&[("SSL_CERT_FILE", empty.display().to_string())])).unwrap_err();
        assert!(matches!(e, TlsEnvError::NoCertificate { .. }), "{e}");

        let good = dir.path().join("ca.pem");
        std::fs::write(
            &good,
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        assert!(check(vars(&[("SSL_CERT_FILE", good.display().to_string())])).is_ok());
    }

    #[test]
    fn a_directory_list_needs_one_directory_unless_a_file_is_given() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().display().to_string();
        let one_good = format!("/nonexistent/certs:{real}");
        assert!(check(vars(&[("SSL_CERT_DIR", one_good)])).is_ok());
        let none = "/nonexistent/a:/nonexistent/b".to_owned();
        let e = check(vars(&[("SSL_CERT_DIR", none.clone())])).unwrap_err();
        assert!(
            e.to_string().starts_with("SSL_CERT_DIR=/nonexistent/a"),
            "{e}"
        );

        let good = dir.path().join("ca.pem");
        std::fs::write(&good, "-----BEGIN CERTIFICATE-----\n").unwrap();
        let both = [
            ("SSL_CERT_DIR", none),
            ("SSL_CERT_FILE", good.display().to_string()),
        ];
        assert!(check(vars(&both)).is_ok());
    }
}
