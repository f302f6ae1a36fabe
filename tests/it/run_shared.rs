//! The workspaces of one platform share one rate limiter in `molecule run`, through the real
//! binary against an emulator of the older generation (one budget per client address, as on
//! such a tenant) with a low limit: eight workspaces polling every 20 ms spend it in well
//! under a second, yet no request earns a 429, and every workspace reports the same budget
//! (each reads the one shared limiter; limiters of their own would each hold the remainder of
//! their own last answer).

#![allow(clippy::unwrap_used, reason = "a test fails where it unwraps")]

use molecule_emulator::{Compat, EmulatorConfig};

use super::connect_host::Host;
use super::metrics_status::{get, value};
use super::run_support::{Fleet, logged};
use super::support::wait::until_some;

const N: usize = 8;

/// `N` workspaces of `molecule run` (with `top` keys) on an emulator of `compat` allowing 240
/// requests a minute, and the address of its metrics.
async fn fleet(compat: Compat, top: &str) -> (Fleet, Host, String) {
    let config = EmulatorConfig {
        rate_limit_per_minute: Some(240),
        ..EmulatorConfig::for_compat(compat)
    };
    let f = Fleet::start_with(N, config).await;
    let entries: Vec<String> = (0..N).map(|i| f.entry(i, "")).collect();
    f.write(top, &entries);
    let host = f.run(&["--metrics-addr", "127.0.0.1:0"]);
    let line = host.wait_log("serving /metrics", |_| true).await;
    let addr = line["addr"].as_str().unwrap().to_owned();
    (f, host, addr)
}

/// The metrics lines counting 429s.
fn rate_limited(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| l.contains("class=\"rate_limited\""))
        .collect()
}

#[tokio::test]
async fn many_workspaces_spend_one_budget_without_a_429() {
    let top = "no_event_stream = true\nheartbeat_interval = \"20s\"\n";
    let (f, host, addr) = fleet(Compat::Old, top).await;
    let ids: Vec<String> = (0..N).map(|i| f.id(i).to_string()).collect();
    // Once the budget is down to the reserve the polls wait for the window: every workspace
    // then shows the same remainder.
    let (text, left) = until_some("every workspace to show one shared budget", async || {
        let (_, _, text) = get(&addr, "/metrics", "text/plain");
        let left: Vec<f64> = ids
            .iter()
            .map(|id| {
                value(
                    &text,
                    &format!("molecule_rate_limit_remaining{{workspace=\"{id}\"}}"),
                )
            })
            .collect::<Option<_>>()?;
        // Polls stop with the reserve (the fleet's heartbeats) and a step left.
        let paused = left[0] < 60.0;
        (paused && left.iter().all(|l| *l == left[0])).then_some((text, left[0]))
    })
    .await;
    assert!(f.emu.stats().requests_total() >= 180, "{left}: {text}");
    for id in &ids {
        let limit = format!("molecule_rate_limit_limit{{workspace=\"{id}\"}}");
        assert_eq!(value(&text, &limit), Some(240.0), "{text}");
    }
    let limited = rate_limited(&text);
    assert!(limited.is_empty(), "429s: {limited:?}");
    host.stop().await;
}

/// On a newer platform without an org id the budget is per token: each workspace takes a
/// limiter of its own once a heartbeat answer says which platform it is (its `generation`), and
/// the others' polls no longer hold its own back.
#[tokio::test]
async fn where_the_platform_counts_per_token_each_workspace_spends_its_own_budget() {
    let (f, host, addr) = fleet(Compat::New, "no_event_stream = true\n").await;
    for i in 0..N {
        logged(&host, f.id(i), "spends a rate-limit budget of its own").await;
    }
    // Each polls every 20 ms against its own 240 a minute: each is paced by its own limiter,
    // and none earns a 429.
    let (_, _, text) = get(&addr, "/metrics", "text/plain");
    let limited = rate_limited(&text);
    assert!(limited.is_empty(), "429s: {limited:?}");
    host.stop().await;
}
