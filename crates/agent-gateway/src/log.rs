//! One log line per request: `2026-11-24T13:22:14.123Z #12 GET /jobs/raysubmit_x/ GetJob`.
//!
//! Only the method, path (no query string) and route are written: never a header,
//! so no token reaches the log.

use agent_server::{Intercept, RequestHead, RequestHook};
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

/// A [`RequestHook`] that writes one line per request to standard error.
#[derive(Debug, Default)]
pub struct RequestLog {
    _private: (),
}

impl RequestLog {
    /// Logs to standard error.
    pub fn stderr() -> Self {
        RequestLog { _private: () }
    }
}

/// The line logged for a request.
///
/// ```
/// let line = agent_gateway::log::format_line("2026-11-24T00:00:00.000Z", 3, "GET", "/jobs/", false, Some("ListJobs"));
/// assert_eq!(line, "2026-11-24T00:00:00.000Z #3 GET /jobs/ ListJobs");
/// ```
pub fn format_line(
    time: &str,
    seq: u64,
    method: &str,
    path: &str,
    upgrade: bool,
    route: Option<&str>,
) -> String {
    let mut line = format!("{time} #{seq} {method} {path}");
    if upgrade {
        line.push_str(" (websocket)");
    }
    line.push(' ');
    line.push_str(route.unwrap_or("no-route"));
    line
}

impl RequestHook for RequestLog {
    fn on_request(&self, head: &RequestHead<'_>) -> Intercept {
        let route = head.route.map(|r| format!("{:?}", r.kind()));
        let line = format_line(
            &utc_now(),
            head.seq,
            head.method.as_str(),
            head.uri.path(),
            head.upgrade,
            route.as_deref(),
        );
        let _ = writeln!(std::io::stderr().lock(), "{line}");
        Intercept::default()
    }
}

/// The time now as `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC).
pub fn utc_now() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format_utc(now.as_secs(), now.subsec_millis())
}

/// Formats seconds since the Unix epoch as UTC.
///
/// ```
/// assert_eq!(agent_gateway::log::format_utc(0, 0), "1970-01-01T00:00:00.000Z");
/// assert_eq!(agent_gateway::log::format_utc(1_795_477_631, 229), "2026-11-23T23:47:11.229Z");
/// ```
pub fn format_utc(secs: u64, millis: u32) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
