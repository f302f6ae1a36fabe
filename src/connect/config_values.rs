//! Applies the optional numeric settings of the command line to a [`Config`]: each one parsed,
//! range-checked, and named (flag and variable) when it is refused.

use super::args::ConnectArgs;
use super::config::{BATCH_MAX, Config, ConfigError, check_heartbeat, duration, number};

/// Sets every timer and limit given on the command line; the others keep their defaults.
pub(super) fn apply(args: &ConnectArgs, c: &mut Config) -> Result<(), ConfigError> {
    let s = &mut c.settings;
    let t = &args.tuning;
    macro_rules! dur {
        ($field:expr, $value:expr, $flag:literal, $env:literal) => {
            if let Some(d) = duration(&$value, $flag, $env)? {
                $field = d;
            }
        };
    }
    macro_rules! num {
        ($field:expr, $ty:ty, $value:expr, $flag:literal, $env:literal, $min:expr, $max:expr) => {
            if let Some(n) = number(&$value, $flag, $env, $min, $max)? {
                $field = n as $ty;
            }
        };
    }
    dur!(
        s.poll.interval,
        args.poll_interval,
        "--poll-interval",
        "MOLECULE_POLL_INTERVAL"
    );
    dur!(
        s.timers.heartbeat,
        args.heartbeat_interval,
        "--heartbeat-interval",
        "MOLECULE_HEARTBEAT_INTERVAL"
    );
    check_heartbeat(&args.heartbeat_interval, s.timers.heartbeat)?;
    num!(
        s.poll.batch_size,
        u32,
        args.batch_size,
        "--batch-size",
        "MOLECULE_BATCH_SIZE",
        1,
        BATCH_MAX
    );
    dur!(s.poll.since, args.since, "--since", "MOLECULE_SINCE");
    num!(
        s.dispatch.concurrency,
        u32,
        args.concurrency,
        "--concurrency",
        "MOLECULE_CONCURRENCY",
        1,
        1024
    );
    num!(
        s.dispatch.hop_limit,
        u32,
        args.hop_limit,
        "--hop-limit",
        "MOLECULE_HOP_LIMIT",
        0,
        1000
    );
    num!(
        s.dispatch.max_attempts,
        u32,
        args.max_attempts,
        "--max-attempts",
        "MOLECULE_MAX_ATTEMPTS",
        1,
        1000
    );
    s.poll.ack = args.ack;

    let b = &mut c.backend;
    dur!(
        b.timeouts.request,
        args.request_timeout,
        "--request-timeout",
        "MOLECULE_REQUEST_TIMEOUT"
    );
    dur!(
        b.timeouts.drain,
        args.drain_timeout,
        "--drain-timeout",
        "MOLECULE_DRAIN_TIMEOUT"
    );
    dur!(
        b.timeouts.startup,
        args.backend_startup_timeout,
        "--backend-startup-timeout",
        "MOLECULE_BACKEND_STARTUP_TIMEOUT"
    );
    if let Some(d) = duration(
        &args.backend_idle_timeout,
        "--backend-idle-timeout",
        "MOLECULE_BACKEND_IDLE_TIMEOUT",
    )? {
        b.timeouts.idle = (!d.is_zero()).then_some(d);
    }
    dur!(
        b.timeouts.cancel_grace,
        t.backend_cancel_grace,
        "--backend-cancel-grace",
        "MOLECULE_BACKEND_CANCEL_GRACE"
    );
    dur!(
        b.timeouts.eof_wait,
        t.backend_eof_wait,
        "--backend-eof-wait",
        "MOLECULE_BACKEND_EOF_WAIT"
    );
    dur!(
        b.timeouts.term_wait,
        t.backend_term_wait,
        "--backend-term-wait",
        "MOLECULE_BACKEND_TERM_WAIT"
    );
    dur!(
        b.restart.backoff_base,
        t.backend_restart_base,
        "--backend-restart-base",
        "MOLECULE_BACKEND_RESTART_BASE"
    );
    dur!(
        b.restart.backoff_max,
        t.backend_restart_max,
        "--backend-restart-max",
        "MOLECULE_BACKEND_RESTART_MAX"
    );
    num!(
        b.restart.breaker_crashes,
        u32,
        t.backend_breaker_crashes,
        "--backend-breaker-crashes",
        "MOLECULE_BACKEND_BREAKER_CRASHES",
        1,
        1000
    );
    dur!(
        b.restart.breaker_window,
        t.backend_breaker_window,
        "--backend-breaker-window",
        "MOLECULE_BACKEND_BREAKER_WINDOW"
    );
    dur!(
        b.restart.breaker_cooldown,
        t.backend_breaker_cooldown,
        "--backend-breaker-cooldown",
        "MOLECULE_BACKEND_BREAKER_COOLDOWN"
    );

    num!(
        s.poll.window,
        usize,
        t.window,
        "--window",
        "MOLECULE_WINDOW",
        1,
        1_000_000
    );
    num!(
        s.poll.since_max_rows,
        usize,
        t.since_max_rows,
        "--since-max-rows",
        "MOLECULE_SINCE_MAX_ROWS",
        1,
        10_000_000
    );
    dur!(
        s.poll.overlap_interval,
        t.overlap_interval,
        "--overlap-interval",
        "MOLECULE_OVERLAP_INTERVAL"
    );
    dur!(
        s.poll.overlap_window,
        t.overlap_window,
        "--overlap-window",
        "MOLECULE_OVERLAP_WINDOW"
    );
    dur!(
        s.poll.cursor_skew,
        t.cursor_skew,
        "--cursor-skew",
        "MOLECULE_CURSOR_SKEW"
    );
    num!(
        s.timers.reply_concurrency,
        usize,
        t.reply_concurrency,
        "--reply-concurrency",
        "MOLECULE_REPLY_CONCURRENCY",
        1,
        1024
    );
    dur!(
        s.timers.retry_base,
        t.retry_base,
        "--retry-base",
        "MOLECULE_RETRY_BASE"
    );
    dur!(
        s.timers.retry_max,
        t.retry_max,
        "--retry-max",
        "MOLECULE_RETRY_MAX"
    );
    dur!(
        s.timers.reregister,
        t.reregister_interval,
        "--reregister-interval",
        "MOLECULE_REREGISTER_INTERVAL"
    );
    dur!(
        s.timers.flush,
        t.flush_interval,
        "--flush-interval",
        "MOLECULE_FLUSH_INTERVAL"
    );
    dur!(
        s.timers.summary,
        t.summary_interval,
        "--summary-interval",
        "MOLECULE_SUMMARY_INTERVAL"
    );
    dur!(
        s.timers.upload_retention,
        t.upload_retention,
        "--upload-retention",
        "MOLECULE_UPLOAD_RETENTION"
    );
    dur!(
        s.timers.error_window,
        t.error_window,
        "--error-window",
        "MOLECULE_ERROR_WINDOW"
    );
    dur!(
        s.timers.http_timeout,
        t.http_timeout,
        "--http-timeout",
        "MOLECULE_HTTP_TIMEOUT"
    );
    dur!(
        s.timers.reply_timeout,
        t.reply_timeout,
        "--reply-timeout",
        "MOLECULE_REPLY_TIMEOUT"
    );
    c.platform.timeouts.request = s.timers.http_timeout;
    c.platform.timeouts.a2a = s.timers.reply_timeout;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::args::ConnectArgs;
    use super::super::{Config, ConnectError};
    use std::time::Duration;

    fn args(extra: impl FnOnce(&mut ConnectArgs)) -> ConnectArgs {
        let mut a = ConnectArgs {
            workspace_id: Some("11111111-2222-3333-4444-555555555555".into()),
            api_url: Some("http://127.0.0.1:9".into()),
            token_file: Some("/nonexistent/token".into()),
            backend_cmd: Some("/bin/sh".into()),
            ..ConnectArgs::default()
        };
        extra(&mut a);
        a
    }

    fn error(extra: impl FnOnce(&mut ConnectArgs)) -> String {
        match Config::from_args(&args(extra), |_| None) {
            Ok(_) => panic!("accepted"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn values_are_parsed_and_defaults_kept() {
        let c = Config::from_args(
            &args(|a| {
                a.poll_interval = Some("250ms".into());
                a.batch_size = Some("500".into());
                a.tuning.window = Some("7".into());
            }),
            |_| None,
        )
        .unwrap();
        assert_eq!(c.settings.poll.interval, Duration::from_millis(250));
        assert_eq!(c.settings.poll.batch_size, 500);
        assert_eq!(c.settings.poll.window, 7);
        assert_eq!(c.settings.timers.heartbeat, Duration::from_secs(20));
    }

    #[test]
    fn refusals_name_the_flag_and_the_variable() {
        let e = error(|a| a.batch_size = Some("501".into()));
        assert!(e.contains("--batch-size / MOLECULE_BATCH_SIZE"), "{e}");
        let e = error(|a| a.heartbeat_interval = Some("90s".into()));
        assert!(
            e.contains("--heartbeat-interval / MOLECULE_HEARTBEAT_INTERVAL"),
            "{e}"
        );
        let e = error(|a| a.api_url = None);
        assert_eq!(
            e,
            "missing platform API URL: give --api-url or set MOLECULE_API_URL"
        );
        let e = error(|a| a.workspace_id = Some("nope".into()));
        assert!(e.contains("invalid workspace id"), "{e}");
        let e = error(|a| a.since = Some("soon".into()));
        assert!(e.contains("--since / MOLECULE_SINCE"), "{e}");
        let e = error(|a| a.backend_env = vec!["NOEQUALS".into()]);
        assert!(e.contains("--backend-env"), "{e}");
    }

    #[test]
    fn the_token_comes_from_one_place() {
        let c = Config::from_args(&args(|a| a.token_file = None), |k| {
            (k == "MOLECULE_WORKSPACE_TOKEN").then(|| "t".to_owned())
        })
        .unwrap();
        assert!(
            matches!(c.token, super::super::TokenSetting::Value { ref origin, .. } if origin == "MOLECULE_WORKSPACE_TOKEN")
        );
        let both = Config::from_args(&args(|a| a.token = Some("x".into())), |_| None);
        assert!(matches!(both, Err(ConnectError::Config(_))));
    }
}
