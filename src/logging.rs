//! Log set-up: everything goes to stderr, as text or JSON lines. How much is logged comes from
//! the command line (`-v`, `-q`, `--log-level`), else from `RUST_LOG`, else `info`: the flag
//! an operator types now beats the variable a unit file or a shell profile set long ago.

use clap::{ArgAction, Args, ValueEnum};
use tracing_subscriber::EnvFilter;

/// The log line format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// What `--help` says about the log flags, after the options.
pub const HELP: &str = "\
Logging (stderr):
  -v debug for molecule, -vv also the libraries' debug lines and molecule's trace, -vvv trace
  for everything; -q warnings and errors only, -qq errors only. --log-level takes a level or
  tracing filter directives (info,molecule_host::connect=debug). These flags beat RUST_LOG,
  which applies when none is given; the default is info. connect and dev always log; the
  other commands only when asked (-v, --log-level or RUST_LOG).";

/// The TLS verifier's target, and the directive that silences it.
const QUIET_VERIFIER: (&str, &str) = ("rustls_platform_verifier", "rustls_platform_verifier=off");

/// The logging flags, global to every subcommand.
#[derive(Clone, Debug, Default, Args)]
pub struct LogArgs {
    /// Log line format on stderr.
    #[arg(
        long,
        global = true,
        env = "MOLECULE_LOG_FORMAT",
        value_enum,
        default_value_t
    )]
    pub log_format: LogFormat,

    /// More log detail: -v debug, -vv trace (beats RUST_LOG).
    #[arg(short, long, global = true, action = ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Less log detail: -q warnings, -qq errors only (beats RUST_LOG).
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub quiet: u8,

    /// Log level (error, warn, info, debug, trace, off) or tracing filter directives such as
    /// `info,molecule_host::connect=debug` (beats RUST_LOG).
    #[arg(
        long,
        global = true,
        value_name = "LEVEL|FILTER",
        value_parser = parse_filter,
        conflicts_with_all = ["verbose", "quiet"]
    )]
    pub log_level: Option<String>,
}

/// Checks `--log-level` when the command line is parsed, so that a typo is a usage error.
fn parse_filter(s: &str) -> Result<String, String> {
    EnvFilter::builder()
        .parse(s)
        .map(|_| s.to_owned())
        .map_err(|e| {
            format!(
                "{e} (give a level such as debug, or directives such as info,molecule_host=debug)"
            )
        })
}

impl LogArgs {
    /// The conflict between flags given at different levels (`molecule -v send … -q`), which
    /// clap checks only within one level.
    pub fn conflict(&self) -> Option<&'static str> {
        match (self.verbose > 0, self.quiet > 0, self.log_level.is_some()) {
            (true, true, _) => Some("-v/--verbose cannot be used with -q/--quiet"),
            (true, _, true) | (_, true, true) => {
                Some("--log-level cannot be used with -v/--verbose or -q/--quiet")
            }
            _ => None,
        }
    }

    /// Whether logging was asked for: a `-v`, a `--log-level` or `RUST_LOG`. Commands whose
    /// output is their stdout log only then.
    pub fn asked(&self, rust_log: Option<&str>) -> bool {
        self.verbose > 0 || self.log_level.is_some() || rust_log.is_some_and(|v| !v.is_empty())
    }

    /// The filter directives, and why `RUST_LOG` was ignored when it could not be parsed.
    pub fn directives(&self, rust_log: Option<&str>) -> (String, Option<String>) {
        // Every crate of molecule is named molecule*, and a directive's target is a prefix.
        let flags = match (&self.log_level, self.verbose, self.quiet) {
            (Some(l), _, _) => Some(l.clone()),
            (None, 1, _) => Some("info,molecule=debug".to_owned()),
            (None, 2, _) => Some("debug,molecule=trace".to_owned()),
            (None, 3.., _) => Some("trace".to_owned()),
            (None, 0, 1) => Some("warn".to_owned()),
            (None, 0, 2..) => Some("error".to_owned()),
            (None, 0, 0) => None,
        };
        if let Some(f) = flags {
            return (f, None);
        }
        match rust_log.filter(|v| !v.is_empty()) {
            Some(v) => match EnvFilter::builder().parse(v) {
                Ok(_) => (v.to_owned(), None),
                Err(e) => ("info".to_owned(), Some(format!("RUST_LOG ignored: {e}"))),
            },
            None => ("info".to_owned(), None),
        }
    }

    /// Installs the global subscriber. Calling it twice is harmless (the second call does
    /// nothing).
    pub fn init(&self) {
        let rust_log = std::env::var("RUST_LOG").ok();
        let (directives, ignored) = self.directives(rust_log.as_deref());
        let mut filter = EnvFilter::builder()
            .parse(&directives)
            .unwrap_or_else(|_| EnvFilter::new("info"));
        // The TLS verifier logs an error at every failed handshake; the host says the cause once,
        // with the remedy (`molecule_host::connect::contact`), unless asked for the verifier's.
        if !directives.contains(QUIET_VERIFIER.0)
            && let Ok(d) = QUIET_VERIFIER.1.parse()
        {
            filter = filter.add_directive(d);
        }
        let builder = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr);
        let installed = match self.log_format {
            LogFormat::Text => builder.with_ansi(false).try_init(),
            LogFormat::Json => builder.json().flatten_event(true).try_init(),
        };
        if let (Ok(()), Some(why)) = (installed, ignored) {
            tracing::warn!("{why}; logging at info");
        }
    }

    /// Installs the subscriber if logging was [asked](Self::asked) for.
    pub fn init_if_asked(&self) {
        if self.asked(std::env::var("RUST_LOG").ok().as_deref()) {
            self.init();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(verbose: u8, quiet: u8, level: Option<&str>) -> LogArgs {
        LogArgs {
            log_format: LogFormat::Text,
            verbose,
            quiet,
            log_level: level.map(str::to_owned),
        }
    }

    #[test]
    fn the_command_line_beats_rust_log() {
        let env = Some("error");
        assert_eq!(args(1, 0, None).directives(env).0, "info,molecule=debug");
        assert_eq!(args(2, 0, None).directives(env).0, "debug,molecule=trace");
        assert_eq!(args(5, 0, None).directives(env).0, "trace");
        assert_eq!(args(0, 1, None).directives(Some("debug")).0, "warn");
        assert_eq!(args(0, 3, None).directives(Some("debug")).0, "error");
        let level = args(0, 0, Some("molecule_host=trace"));
        assert_eq!(level.directives(env).0, "molecule_host=trace");
    }

    #[test]
    fn rust_log_applies_without_flags_and_a_bad_one_is_reported() {
        assert_eq!(args(0, 0, None).directives(None), ("info".into(), None));
        assert_eq!(args(0, 0, None).directives(Some("")), ("info".into(), None));
        let (d, why) = args(0, 0, None).directives(Some("debug"));
        assert_eq!((d.as_str(), why), ("debug", None));
        let (d, why) = args(0, 0, None).directives(Some("molecule=notalevel"));
        assert_eq!(d, "info");
        assert!(why.is_some_and(|w| w.starts_with("RUST_LOG ignored")));
    }

    #[test]
    fn flags_that_contradict_each_other_conflict() {
        assert!(args(1, 1, None).conflict().is_some());
        assert!(args(1, 0, Some("info")).conflict().is_some());
        assert!(args(0, 2, Some("info")).conflict().is_some());
        assert!(args(2, 0, None).conflict().is_none());
        assert!(args(0, 0, Some("info")).conflict().is_none());
    }

    #[test]
    fn quiet_alone_does_not_ask_for_logs() {
        assert!(!args(0, 2, None).asked(None));
        assert!(!args(0, 0, None).asked(Some("")));
        assert!(args(1, 0, None).asked(None));
        assert!(args(0, 0, Some("warn")).asked(None));
        assert!(args(0, 0, None).asked(Some("warn")));
    }

    #[test]
    fn a_bad_log_level_is_refused_with_a_hint() {
        let e = parse_filter("molecule=loud").unwrap_err();
        assert!(e.contains("give a level"), "{e}");
        assert!(parse_filter("debug").is_ok());
        assert!(parse_filter("info,molecule_host::connect=debug").is_ok());
    }
}
