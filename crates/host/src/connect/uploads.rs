//! Canvas uploads: a `chat_upload_receive` row announces a file staged on the platform; the
//! host downloads it into `<state>/uploads/` (0600, a sanitised name), acknowledges it, and
//! rewrites the `platform-pending:` URI of the later message that references it into a
//! `file://` URI the backend can read. Downloads are deleted after the retention period.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use molecule_protocol::a2a::{Message, Part};
use tokio_util::sync::CancellationToken;

use crate::platform::{Call, PlatformClient, RetryPolicy, retry};

use super::inbound::Upload;
use super::state::UploadRecord;
use super::statedir::create_private_dir;

/// How many times a download is tried before the host gives up on it (the message then keeps
/// the `platform-pending:` URI, which SPEC.md tells backends about).
const DOWNLOAD_ATTEMPTS: u32 = 5;

/// Downloads, saves and acknowledges one upload.
pub async fn fetch(
    client: &PlatformClient,
    dir: &Path,
    upload: &Upload,
    policy: &RetryPolicy,
    cancel: &CancellationToken,
) -> Result<UploadRecord, String> {
    let policy = RetryPolicy {
        max_attempts: Some(DOWNLOAD_ATTEMPTS),
        ..policy.clone()
    };
    let content = retry(Call::UploadContent, &policy, cancel, || {
        client.pending_upload_content(&upload.file_id)
    })
    .await
    .map_err(|e| e.to_string())?;
    let path = dir.join(file_name(&upload.file_id, upload.name.as_deref()));
    let bytes = content.bytes;
    let target = path.clone();
    let dir = dir.to_owned();
    tokio::task::spawn_blocking(move || save(&dir, &target, &bytes))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("cannot save {}: {e}", path.display()))?;
    if let Err(e) = retry(Call::AckUpload, &policy, cancel, || {
        client.ack_upload(&upload.file_id)
    })
    .await
    {
        tracing::warn!(file_id = %upload.file_id, "the upload was saved but not acknowledged: {e}");
    }
    Ok(UploadRecord {
        path,
        saved_at: now_secs(),
    })
}

/// Points the message's `platform-pending:` file parts at local copies `local` knows of.
pub fn rewrite(message: &mut Message, local: impl Fn(&str) -> Option<PathBuf>) {
    for part in &mut message.parts {
        let Part::File { file, .. } = part else {
            continue;
        };
        let Some(uri) = file
            .uri
            .as_deref()
            .filter(|u| u.starts_with("platform-pending:"))
        else {
            continue;
        };
        if let Some(path) = local(uri).filter(|p| p.exists()) {
            file.uri = Some(file_uri(&path));
        }
    }
}

/// Deletes files in `dir` older than `retention`; returns how many.
pub fn sweep(dir: &Path, retention: Duration) -> usize {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    let cutoff = SystemTime::now()
        .checked_sub(retention)
        .unwrap_or(UNIX_EPOCH);
    entries
        .flatten()
        .filter(|e| {
            e.metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t < cutoff)
        })
        .filter(|e| fs::remove_file(e.path()).is_ok())
        .count()
}

/// Seconds since the epoch, now.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn save(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    create_private_dir(dir)?;
    // A link in the name's place is an error, never a way to write elsewhere.
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// `<file id>-<name>`, both reduced to `[A-Za-z0-9._-]`, so no name can leave the directory.
fn file_name(file_id: &str, name: Option<&str>) -> String {
    let clean = |s: &str, max: usize| -> String {
        let s: String = s
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                    c
                } else {
                    '_'
                }
            })
            .take(max)
            .collect();
        s.trim_start_matches('.').to_owned()
    };
    let id = clean(file_id, 64);
    let id = if id.is_empty() {
        "upload".to_owned()
    } else {
        id
    };
    match name.map(|n| clean(n, 100)).filter(|n| !n.is_empty()) {
        Some(n) => format!("{id}-{n}"),
        None => id,
    }
}

fn file_uri(path: &Path) -> String {
    let mut uri = String::from("file://");
    for b in path.to_string_lossy().bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            uri.push(b as char);
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri
}

#[cfg(test)]
mod tests {
    use super::*;
    use molecule_protocol::a2a::MessageKind;

    #[test]
    fn names_cannot_escape_the_directory() {
        assert_eq!(
            file_name("f-1", Some("../../etc/passwd")),
            "f-1-_.._etc_passwd"
        );
        assert_eq!(file_name("../x", Some("a b.png")), "_x-a_b.png");
        assert_eq!(file_name("..", None), "upload");
    }

    #[test]
    fn pending_uris_become_file_uris_when_the_copy_exists() {
        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join("f1-a b.png");
        std::fs::write(&copy, b"x").unwrap();
        let mut m = Message {
            kind: MessageKind::Message,
            role: molecule_protocol::Role::User,
            message_id: "m".into(),
            context_id: None,
            task_id: None,
            reference_task_ids: None,
            parts: vec![
                Part::file_uri("platform-pending:w/f1", None, None),
                Part::file_uri("platform-pending:w/f2", None, None),
            ],
            metadata: None,
            extensions: None,
        };
        rewrite(&mut m, |u| {
            (u == "platform-pending:w/f1").then(|| copy.clone())
        });
        let uri = |i: usize| match &m.parts[i] {
            Part::File { file, .. } => file.uri.clone().unwrap(),
            _ => unreachable!(),
        };
        assert!(
            uri(0).starts_with("file:///") && uri(0).ends_with("/f1-a%20b.png"),
            "{}",
            uri(0)
        );
        assert_eq!(uri(1), "platform-pending:w/f2");
    }
}
