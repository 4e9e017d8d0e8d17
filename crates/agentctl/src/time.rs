//! Times for people: epoch milliseconds as zoned times (`2026-11-23 23:47:11 UTC`,
//! the same in every table; `--utc` forces UTC), and durations.
//!
//! Local time comes from jiff, which reads `TZ` and the system's time-zone database
//! without unsafe code (the workspace forbids `unsafe`, so `localtime_r` is out).

use jiff::tz::TimeZone;
use jiff::Timestamp;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

static ZONE: OnceLock<TimeZone> = OnceLock::new();

/// Shows every time in UTC (`--utc`); call before the first time is shown.
pub fn use_utc() {
    let _ = ZONE.set(TimeZone::UTC);
}

fn zone() -> &'static TimeZone {
    ZONE.get_or_init(|| TimeZone::try_system().unwrap_or(TimeZone::UTC))
}

/// `2026-11-23 23:47:11 UTC` in the local time zone (or UTC with `--utc`), from
/// milliseconds since the epoch.
pub fn local_ms(ms: u64) -> String {
    local_in(ms, zone())
}

fn local_in(ms: u64, tz: &TimeZone) -> String {
    match i64::try_from(ms)
        .ok()
        .and_then(|m| Timestamp::from_millisecond(m).ok())
    {
        Some(ts) => ts
            .to_zoned(tz.clone())
            .strftime("%Y-%m-%d %H:%M:%S %Z")
            .to_string(),
        None => format!("{ms} ms"),
    }
}

/// Now, in milliseconds since the epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A duration for people: `850ms`, `4.6s`, `3m12s`, `2h05m`, `3d04h`.
pub fn duration(d: Duration) -> String {
    let ms = d.as_millis();
    let s = d.as_secs();
    if ms < 1_000 {
        format!("{ms}ms")
    } else if s < 60 {
        format!("{:.1}s", d.as_secs_f64())
    } else if s < 3_600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else if s < 86_400 {
        format!("{}h{:02}m", s / 3_600, (s % 3_600) / 60)
    } else {
        format!("{}d{:02}h", s / 86_400, (s % 86_400) / 3_600)
    }
}

/// The time between two epoch-millisecond instants (zero when `end` is earlier).
pub fn between_ms(start: u64, end: u64) -> Duration {
    Duration::from_millis(end.saturating_sub(start))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_times_follow_the_zone() {
        assert_eq!(
            local_in(1_795_477_631_229, &TimeZone::UTC),
            "2026-11-23 23:47:11 UTC"
        );
        let paris = TimeZone::get("Europe/Paris");
        if let Ok(paris) = paris {
            assert_eq!(
                local_in(1_795_477_631_229, &paris),
                "2026-11-24 00:47:11 CET"
            );
        }
        assert_eq!(
            local_in(u64::MAX, &TimeZone::UTC),
            format!("{} ms", u64::MAX)
        );
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(duration(Duration::from_millis(850)), "850ms");
        assert_eq!(duration(Duration::from_millis(4_587)), "4.6s");
        assert_eq!(duration(Duration::from_secs(192)), "3m12s");
        assert_eq!(duration(Duration::from_secs(2 * 3600 + 5 * 60)), "2h05m");
        assert_eq!(
            duration(Duration::from_secs(3 * 86_400 + 4 * 3600)),
            "3d04h"
        );
        assert_eq!(between_ms(10, 5), Duration::ZERO);
    }
}
