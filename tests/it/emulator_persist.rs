//! The emulator's data file surviving a restart, and seeded fault injection.
#![expect(clippy::unwrap_used, reason = "test helpers fail the test they serve")]

use crate::emulator_support::{client, env_with, message};
use molecule_emulator::{
    DeliveryMode, Emulator, EmulatorConfig, FaultConfig, FaultRule, WorkspaceSpec,
};
use serde_json::Value;

#[tokio::test]
async fn the_data_file_keeps_rows_tokens_cursors_and_workspaces_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("state").join("dev.sqlite");
    let config = EmulatorConfig {
        data_file: Some(data.clone()),
        ..EmulatorConfig::default()
    };
    let http = client();

    let emu = Emulator::start(config.clone()).await.unwrap();
    let ws = emu
        .create_workspace(WorkspaceSpec {
            name: Some("keeper".into()),
            delivery_mode: Some(DeliveryMode::Poll),
            ..WorkspaceSpec::default()
        })
        .unwrap();
    let admin = emu.admin_token().to_owned();
    let a2a = format!("{}/workspaces/{}/a2a", emu.base_url(), ws.id);
    for (i, mid) in ["m1", "m2"].iter().enumerate() {
        let r = http
            .post(&a2a)
            .bearer_auth(&admin)
            .json(&message(&format!("t{i}"), mid))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let feed = emu.feed(ws.id).unwrap();
    let cursor = feed[0]["id"].as_str().unwrap().to_owned();
    let seq_before = feed[1]["seq"].as_i64().unwrap();
    emu.shutdown().await;

    let mode = std::fs::metadata(&data).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(mode.permissions().mode() & 0o777, 0o600);
    assert_eq!(
        std::fs::metadata(data.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o700
    );

    let emu = Emulator::start(config).await.unwrap();
    assert_eq!(emu.admin_token(), admin, "the admin token is kept too");
    let act = format!(
        "{}/workspaces/{}/activity?since_id={cursor}",
        emu.base_url(),
        ws.id
    );
    let r = http.get(&act).bearer_auth(&ws.token).send().await.unwrap();
    assert_eq!(r.status(), 200, "old token and old cursor still valid");
    let rows: Vec<Value> = r.json().await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0]["request_body"]["params"]["message"]["messageId"],
        "m2"
    );
    // Dedup still knows the old messageIds; new rows continue the seq.
    let a2a = format!("{}/workspaces/{}/a2a", emu.base_url(), ws.id);
    for mid in ["m2", "m3"] {
        let r = http
            .post(&a2a)
            .bearer_auth(&admin)
            .json(&message("again", mid))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let feed = emu.feed(ws.id).unwrap();
    assert_eq!(feed.len(), 3);
    assert!(feed[2]["seq"].as_i64().unwrap() > seq_before);
    assert!(feed[2]["created_at"].as_str() > feed[1]["created_at"].as_str());
    let state = emu.workspace_state(ws.id).unwrap();
    assert_eq!(state["name"], "keeper");
    emu.shutdown().await;
}

/// What a client saw for one request.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Seen {
    Status(u16),
    Dropped,
}

async fn run_sequence(seed: u64) -> (Vec<Seen>, Vec<String>) {
    let rule = FaultRule {
        error_before: 0.2,
        drop_before: 0.1,
        error_after: 0.2,
        drop_after: 0.1,
        ..FaultRule::default()
    };
    let config = EmulatorConfig {
        faults: FaultConfig::everywhere(seed, rule),
        ..EmulatorConfig::default()
    };
    let e = env_with(config).await;
    let mut seen = Vec::new();
    for i in 0..40 {
        let url = e.url(&format!("/workspaces/{}/a2a", e.main.id));
        let body = message(&format!("n{i}"), &format!("mid-{i}"));
        // A fresh client per request, so a dropped connection never spills into the next one.
        let r = client()
            .post(url)
            .bearer_auth(&e.peer.token)
            .json(&body)
            .send()
            .await;
        seen.push(match r {
            Ok(r) => Seen::Status(r.status().as_u16()),
            Err(_) => Seen::Dropped,
        });
    }
    e.emu.set_faults(FaultConfig::default());
    let ids = e
        .emu
        .feed(e.main.id)
        .unwrap()
        .iter()
        .map(|r| {
            r["request_body"]["params"]["message"]["messageId"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    (seen, ids)
}

#[tokio::test]
async fn faults_are_reproducible_with_a_seed_and_split_before_and_after_processing() {
    let (a, rows_a) = run_sequence(42).await;
    let (b, rows_b) = run_sequence(42).await;
    assert_eq!(a, b, "same seed, same faults");
    assert_eq!(rows_a, rows_b);
    let (c, _) = run_sequence(43).await;
    assert_ne!(a, c, "another seed, other faults");
    for kind in [
        Seen::Status(200),
        Seen::Status(503),
        Seen::Status(502),
        Seen::Dropped,
    ] {
        assert!(a.contains(&kind), "{kind:?} never drawn in {a:?}");
    }
    // 200s and "after" faults took effect; 503s did not. Drops are either kind, so the rows are
    // exactly the 200s and 502s plus some of the drops.
    let landed = |want: fn(&Seen) -> bool| {
        a.iter()
            .enumerate()
            .filter(|(_, s)| want(s))
            .map(|(i, _)| format!("mid-{i}"))
            .collect::<Vec<_>>()
    };
    let must: Vec<String> = landed(|s| matches!(s, Seen::Status(200) | Seen::Status(502)));
    let never: Vec<String> = landed(|s| matches!(s, Seen::Status(503)));
    assert!(
        must.iter().all(|m| rows_a.contains(m)),
        "{must:?} vs {rows_a:?}"
    );
    assert!(never.iter().all(|m| !rows_a.contains(m)));
    let dropped = landed(|s| *s == Seen::Dropped);
    let dropped_landed = dropped.iter().filter(|m| rows_a.contains(m)).count();
    assert!(
        dropped_landed > 0 && dropped_landed < dropped.len(),
        "drops split: {dropped_landed}/{}",
        dropped.len()
    );
}
