//! Applies the optional timers and limits of the command line to a [`Config`]: each parsed,
//! range-checked, and named (flag and variable) when it is refused. Every flag here has the
//! variable `MOLECULE_<FLAG>`, so one table row per setting is enough.

use std::time::Duration;

use super::args::ConnectArgs;
use molecule_host::connect::{Config, ConfigError};

use super::config::{BATCH_MAX, check_heartbeat, duration, number};

/// Sets every timer and limit given on the command line; the others keep their defaults.
pub(super) fn apply(args: &ConnectArgs, c: &mut Config) -> Result<(), ConfigError> {
    durations(args, c)?;
    check_heartbeat(&args.heartbeat_interval, c.settings.timers.heartbeat)?;
    if let Some(d) = duration(&args.backend_idle_timeout, "--backend-idle-timeout")? {
        c.backend.timeouts.idle = (!d.is_zero()).then_some(d);
    }
    numbers(args, c)?;
    c.settings.poll.ack = args.ack;
    let (timers, stream) = (&c.settings.timers, &mut c.settings.poll.stream);
    stream.enabled = !args.no_event_stream;
    stream.reconnect_base = timers.retry_base;
    stream.reconnect_max = timers.retry_max;
    c.platform.timeouts.request = c.settings.timers.http_timeout;
    c.platform.timeouts.a2a = c.settings.timers.reply_timeout;
    Ok(())
}

fn durations(args: &ConnectArgs, c: &mut Config) -> Result<(), ConfigError> {
    let (t, s, b) = (&args.tuning, &mut c.settings, &mut c.backend);
    #[rustfmt::skip]
    let table: [(&Option<String>, &'static str, &mut Duration); 30] = [
        (&args.poll_interval, "--poll-interval", &mut s.poll.interval),
        (&args.safety_poll_interval, "--safety-poll-interval", &mut s.poll.stream.safety_interval),
        (&t.event_stream_idle_timeout, "--event-stream-idle-timeout", &mut s.poll.stream.idle_timeout),
        (&t.event_stream_retry, "--event-stream-retry", &mut s.poll.stream.unsupported_retry),
        (&args.heartbeat_interval, "--heartbeat-interval", &mut s.timers.heartbeat),
        (&args.since, "--since", &mut s.poll.since),
        (&args.request_timeout, "--request-timeout", &mut b.timeouts.request),
        (&args.drain_timeout, "--drain-timeout", &mut b.timeouts.drain),
        (&args.backend_startup_timeout, "--backend-startup-timeout", &mut b.timeouts.startup),
        (&t.backend_cancel_grace, "--backend-cancel-grace", &mut b.timeouts.cancel_grace),
        (&t.backend_eof_wait, "--backend-eof-wait", &mut b.timeouts.eof_wait),
        (&t.backend_term_wait, "--backend-term-wait", &mut b.timeouts.term_wait),
        (&t.backend_restart_base, "--backend-restart-base", &mut b.restart.backoff_base),
        (&t.backend_restart_max, "--backend-restart-max", &mut b.restart.backoff_max),
        (&t.backend_breaker_window, "--backend-breaker-window", &mut b.restart.breaker_window),
        (&t.backend_breaker_cooldown, "--backend-breaker-cooldown", &mut b.restart.breaker_cooldown),
        (&t.overlap_interval, "--overlap-interval", &mut s.poll.overlap_interval),
        (&t.overlap_window, "--overlap-window", &mut s.poll.overlap_window),
        (&t.cursor_skew, "--cursor-skew", &mut s.poll.cursor_skew),
        (&t.retry_base, "--retry-base", &mut s.timers.retry_base),
        (&t.retry_max, "--retry-max", &mut s.timers.retry_max),
        (&t.reregister_interval, "--reregister-interval", &mut s.timers.reregister),
        (&t.flush_interval, "--flush-interval", &mut s.timers.flush),
        (&t.summary_interval, "--summary-interval", &mut s.timers.summary),
        (&t.upload_retention, "--upload-retention", &mut s.timers.upload_retention),
        (&t.error_window, "--error-window", &mut s.timers.error_window),
        (&t.http_timeout, "--http-timeout", &mut s.timers.http_timeout),
        (&t.reply_timeout, "--reply-timeout", &mut s.timers.reply_timeout),
        (&t.max_wait, "--max-wait", &mut c.platform.rate_limit.max_wait),
        (&t.foreign_reply_cooldown, "--foreign-reply-cooldown", &mut s.delivery.foreign_cooldown),
    ];
    for (value, flag, field) in table {
        if let Some(d) = duration(value, flag)? {
            *field = d;
        }
    }
    Ok(())
}

fn numbers(args: &ConnectArgs, c: &mut Config) -> Result<(), ConfigError> {
    let (t, s) = (&args.tuning, &mut c.settings);
    #[rustfmt::skip]
    let small: [(&Option<String>, &'static str, u64, u64, &mut u32); 6] = [
        (&args.batch_size, "--batch-size", 1, BATCH_MAX, &mut s.poll.batch_size),
        (&args.concurrency, "--concurrency", 1, 1024, &mut s.delivery.concurrency),
        (&args.hop_limit, "--hop-limit", 0, 1000, &mut s.delivery.hop_limit),
        (&args.foreign_reply_limit, "--foreign-reply-limit", 0, 100_000, &mut s.delivery.foreign_limit),
        (&args.max_attempts, "--max-attempts", 1, 1000, &mut s.delivery.max_attempts),
        (&t.backend_breaker_crashes, "--backend-breaker-crashes", 1, 1000, &mut c.backend.restart.breaker_crashes),
    ];
    for (value, flag, min, max, field) in small {
        if let Some(n) = number(value, flag, min, max)? {
            *field = n as u32;
        }
    }
    #[rustfmt::skip]
    let large: [(&Option<String>, &'static str, u64, u64, &mut usize); 3] = [
        (&t.window, "--window", 1, 1_000_000, &mut s.poll.window),
        (&t.since_max_rows, "--since-max-rows", 1, 10_000_000, &mut s.poll.since_max_rows),
        (&t.reply_concurrency, "--reply-concurrency", 1, 1024, &mut s.timers.reply_concurrency),
    ];
    for (value, flag, min, max, field) in large {
        if let Some(n) = number(value, flag, min, max)? {
            *field = n as usize;
        }
    }
    let flag = "--max-response-bytes";
    if let Some(n) = number(&t.max_response_bytes, flag, 1024, 1 << 40)? {
        c.platform.limits.max_response_bytes = n;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::args::ConnectArgs;
    use super::super::config::from_args;
    use molecule_host::connect::{ConnectError, TokenSetting};
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
        match from_args(&args(extra), |_| None) {
            Ok(_) => panic!("accepted"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn values_are_parsed_and_defaults_kept() {
        let c = from_args(
            &args(|a| {
                a.poll_interval = Some("250ms".into());
                a.safety_poll_interval = Some("2m".into());
                a.tuning.retry_base = Some("10ms".into());
                a.batch_size = Some("500".into());
                a.tuning.window = Some("7".into());
            }),
            |_| None,
        )
        .unwrap();
        assert_eq!(c.settings.poll.interval, Duration::from_millis(250));
        let stream = &c.settings.poll.stream;
        assert!(stream.enabled);
        assert_eq!(stream.safety_interval, Duration::from_secs(120));
        assert_eq!(stream.reconnect_base, Duration::from_millis(10));
        assert_eq!(stream.idle_timeout, Duration::from_secs(300));
        let off = from_args(&args(|a| a.no_event_stream = true), |_| None).unwrap();
        assert!(!off.settings.poll.stream.enabled);
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
        let c = from_args(&args(|a| a.token_file = None), |k| {
            (k == "MOLECULE_WORKSPACE_TOKEN").then(|| "t".to_owned())
        })
        .unwrap();
        assert!(
            matches!(c.token, TokenSetting::Value { ref origin, .. } if origin == "MOLECULE_WORKSPACE_TOKEN")
        );
        let both = from_args(&args(|a| a.token = Some("x".into())), |_| None);
        assert!(matches!(both, Err(ConnectError::Config(_))));
    }
}
