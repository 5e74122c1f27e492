//! Logs: one line per pipeline event, to stderr when `TOKENFORGE_LOG=error|warn|info|debug`
//! is set, or to a callback the program sets (`tokenforge_set_log_callback`). Lines are made
//! from the event's fields and the library's own messages, which never hold a secret.

use crate::error::Error;
use crate::pipeline::{Event, EventKind};
use arc_swap::ArcSwapOption;
use once_cell::sync::Lazy;
use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

/// How much to log; a level logs its own lines and the more severe ones.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// Nothing.
    Off = 0,
    /// Failed fetches and storage failures.
    Error = 1,
    /// Also retries and stale tokens served while a renewal fails.
    Warn = 2,
    /// Also fetches started and succeeded, refreshes, invalidations, tokens from storage.
    Info = 3,
    /// Also cache hits.
    Debug = 4,
}

impl LogLevel {
    /// The level named `name` (any case); None for another word.
    pub fn parse(name: &str) -> Option<LogLevel> {
        Some(match name.trim().to_ascii_lowercase().as_str() {
            "off" | "none" | "" => LogLevel::Off,
            "error" => LogLevel::Error,
            "warn" | "warning" => LogLevel::Warn,
            "info" => LogLevel::Info,
            "debug" | "trace" => LogLevel::Debug,
            _ => return None,
        })
    }

    /// The level whose C value is `raw`; None for another number.
    pub fn from_raw(raw: u32) -> Option<LogLevel> {
        [LogLevel::Off, LogLevel::Error, LogLevel::Warn, LogLevel::Info, LogLevel::Debug]
            .into_iter()
            .find(|l| *l as u32 == raw)
    }

    pub fn name(self) -> &'static str {
        match self {
            LogLevel::Off => "off",
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
        }
    }

    /// The level of an event.
    pub fn of(kind: EventKind) -> LogLevel {
        match kind {
            EventKind::FetchFailed | EventKind::StorageFailed => LogLevel::Error,
            EventKind::Retry | EventKind::StaleServed => LogLevel::Warn,
            EventKind::CacheHit => LogLevel::Debug,
            _ => LogLevel::Info,
        }
    }
}

/// Receives each line at or above its level.
pub type LogSink = Arc<dyn Fn(LogLevel, &str) + Send + Sync>;

struct Logger {
    level: LogLevel,
    sink: LogSink,
}

/// The callback a program set; when none, stderr at the `TOKENFORGE_LOG` level.
static CALLBACK: ArcSwapOption<Logger> = ArcSwapOption::const_empty();

/// The `TOKENFORGE_LOG` level, read once.
static ENV_LEVEL: Lazy<LogLevel> = Lazy::new(|| match std::env::var("TOKENFORGE_LOG") {
    Ok(v) => LogLevel::parse(&v).unwrap_or_else(|| {
        let _ = writeln!(std::io::stderr(), "tokenforge: TOKENFORGE_LOG={v:?} is not error, warn, info or debug");
        LogLevel::Off
    }),
    Err(_) => LogLevel::Off,
});

/// The most detailed level anything logs at now (the callback's, else `TOKENFORGE_LOG`'s);
/// `UNSET` until first needed. Read on every event, so one relaxed load says "off".
static MAX: AtomicU8 = AtomicU8::new(UNSET);
const UNSET: u8 = u8::MAX;

/// Whether a line at `level` would go anywhere.
#[inline]
pub fn enabled(level: LogLevel) -> bool {
    match MAX.load(Ordering::Relaxed) {
        UNSET => {
            update_max();
            enabled(level)
        }
        max => level as u8 <= max,
    }
}

fn update_max() {
    let max = match &*CALLBACK.load() {
        Some(logger) => logger.level,
        None => *ENV_LEVEL,
    };
    MAX.store(max as u8, Ordering::Relaxed);
}

/// Sends lines at `level` and above to `sink` instead of stderr; `None` (or `Off`) goes back
/// to `TOKENFORGE_LOG`.
pub fn set_callback(level: LogLevel, sink: Option<LogSink>) {
    CALLBACK.store(sink.filter(|_| level != LogLevel::Off).map(|sink| Arc::new(Logger { level, sink })));
    update_max();
}

/// Logs `event` of a pipeline if its level is on.
pub fn event(event: &Event<'_>) {
    let level = LogLevel::of(event.kind);
    if !enabled(level) {
        return;
    }
    let callback = CALLBACK.load();
    match &*callback {
        Some(logger) if level <= logger.level => {
            let line = line(event, level);
            let _ = crate::hooks::call("log callback", || {
                (logger.sink)(level, &line);
                Ok(())
            });
        }
        Some(_) => {}
        None if level <= *ENV_LEVEL => {
            let _ = writeln!(std::io::stderr(), "tokenforge: {}", line(event, level));
        }
        None => {}
    }
}

/// The text of an event's line: `LEVEL step=NAME event=KIND` and the fields that apply.
pub fn line(event: &Event<'_>, level: LogLevel) -> String {
    let mut s = format!("{} step={} event={}", level.name(), quoted(event.step.as_str()), kind_name(event.kind));
    let ms = event.duration.as_secs_f64() * 1000.0;
    match event.kind {
        EventKind::Retry => s.push_str(&format!(" attempt={} wait_ms={ms:.0}", event.attempt)),
        EventKind::FetchSucceeded | EventKind::FetchFailed | EventKind::Refreshed => {
            s.push_str(&format!(" took_ms={ms:.1}"));
            if event.attempt > 0 {
                s.push_str(&format!(" attempt={}", event.attempt));
            }
        }
        _ => {}
    }
    if let Some(at) = event.expires_at_ms {
        let left = (at - crate::token::now_ms()) / 1000;
        s.push_str(&format!(" expires_in_s={left}"));
    }
    if event.background {
        s.push_str(" background=true");
    }
    if let Some(e) = event.error {
        s.push_str(&error_fields(e));
    }
    s
}

/// ` code=... status=... oauth_error=... retry_after_ms=... error="..."`.
fn error_fields(e: &Error) -> String {
    let mut s = format!(" code={}", e.code().name());
    if e.status() != 0 {
        s.push_str(&format!(" status={}", e.status()));
    }
    if let Some(o) = e.oauth_error() {
        s.push_str(&format!(" oauth_error={}", quoted(o.as_str())));
    }
    if let Some(ms) = e.retry_after_ms() {
        s.push_str(&format!(" retry_after_ms={ms}"));
    }
    s.push_str(&format!(" error={}", quoted(e.message())));
    s
}

/// A value as is when it is one plain word, else in double quotes with `"` and `\` escaped
/// and control characters dropped: one event is always one line.
fn quoted(v: &str) -> String {
    if !v.is_empty() && v.chars().all(|c| c.is_ascii_alphanumeric() || "-_.:/@".contains(c)) {
        return v.to_string();
    }
    let mut out = String::with_capacity(v.len() + 2);
    out.push('"');
    for c in v.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

pub fn kind_name(kind: EventKind) -> &'static str {
    match kind {
        EventKind::CacheHit => "cache_hit",
        EventKind::FetchStarted => "fetch_started",
        EventKind::FetchSucceeded => "fetch_succeeded",
        EventKind::FetchFailed => "fetch_failed",
        EventKind::Refreshed => "refreshed",
        EventKind::Retry => "retry",
        EventKind::Invalidated => "invalidated",
        EventKind::StaleServed => "stale_served",
        EventKind::LoadedFromStorage => "loaded_from_storage",
        EventKind::StorageFailed => "storage_failed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::CText;
    use parking_lot::Mutex;
    use std::time::Duration;

    #[test]
    fn a_failed_fetch_is_one_line_with_its_fields_and_no_secret() {
        let step = CText::lossy("app");
        let e = Error::oauth(401, "invalid_client", Some("bad \"client\"\nsecret s3cret? no: never here"));
        let ev = Event {
            kind: EventKind::FetchFailed,
            step: &step,
            duration: Duration::from_millis(12),
            expires_at_ms: None,
            attempt: 2,
            error: Some(&e),
            background: true,
        };
        let l = line(&ev, LogLevel::of(ev.kind));
        assert!(l.starts_with("error step=app event=fetch_failed took_ms=12.0 attempt=2 background=true code=OAUTH status=401 oauth_error=invalid_client error=\""), "{l}");
        assert!(!l.contains('\n') && l.contains("bad \\\"client\\\""), "{l}");
    }

    #[test]
    fn the_callback_gets_lines_at_its_level_and_above() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        set_callback(LogLevel::Info, Some(Arc::new(move |level, line: &str| s.lock().push((level, line.to_string())))));
        let step = CText::lossy("my step");
        for kind in [EventKind::CacheHit, EventKind::FetchSucceeded, EventKind::Retry] {
            event(&Event {
                kind,
                step: &step,
                duration: Duration::ZERO,
                expires_at_ms: None,
                attempt: 1,
                error: None,
                background: false,
            });
        }
        set_callback(LogLevel::Off, None);
        let mut seen = seen.lock();
        seen.retain(|(_, l)| l.contains("step=\"my step\"")); // other tests' pipelines may log too
        let kinds: Vec<&str> =
            seen.iter().map(|(_, l)| l.split(" event=").nth(1).unwrap().split(' ').next().unwrap()).collect();
        assert_eq!(kinds, ["fetch_succeeded", "retry"], "{seen:?}");
        assert!(seen[0].1.contains("step=\"my step\""), "{seen:?}");
        assert_eq!(seen[1].0, LogLevel::Warn);
    }

    #[test]
    fn levels_parse() {
        assert_eq!(LogLevel::parse("WARN"), Some(LogLevel::Warn));
        assert_eq!(LogLevel::parse("loud"), None);
    }
}
