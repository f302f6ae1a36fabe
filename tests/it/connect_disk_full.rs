//! `molecule connect` with its state directory on a full disk when the platform mints the
//! workspace's token at registration: the token cannot be saved. Once that ended the host
//! with exit 2, which lost the token anyway (the platform mints it once) and stopped the
//! workspace; now the host says so and serves on with the token in memory.

use super::connect_emu::Emu;
use super::connect_host::{Site, echo};
use super::fault_disk::Disk;

#[tokio::test]
async fn a_minted_token_that_cannot_be_saved_does_not_stop_the_host() {
    let emu = Emu::start().await;
    let site = Site::new();
    let Some(disk) = Disk::mount(site.dir.path()) else {
        return;
    };
    disk.fill();
    let state = disk.path().join("state").display().to_string();
    let host = emu.serve(&site, &echo(), &["--state-dir", &state]);
    let said = host.wait_log("the platform minted a token", |_| true).await;
    assert!(
        said["message"]
            .as_str()
            .is_some_and(|m| m.contains("No space left on device")),
        "{said}"
    );
    emu.peer_says("still here?").await;
    emu.peer_got("echo: still here?").await;
    disk.empty();
    host.stop().await;
}
