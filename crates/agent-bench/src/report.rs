//! The one JSON line a contender prints: what it did, how long it took, and the
//! peak resident memory the kernel saw for the process.

use std::time::Duration;

use serde_json::{json, Value};

/// The outcome of one contender's workload.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// `gets`, `concurrent`, `tail-websocket`, `tail-http`.
    pub workload: String,
    /// `async`, `blocking`, `floor`, ...
    pub client: String,
    /// Requests made or lines received.
    pub count: u64,
    /// Bytes of line text received (tails) or of bodies (requests).
    pub bytes: u64,
    /// Time of the measured part.
    pub elapsed: Duration,
}

impl Outcome {
    /// The result line: `{"workload", "client", "count", "bytes", "seconds", "rate",
    /// "vmhwm_kb"}` (the keys of the Python scripts' line too).
    pub fn to_json(&self) -> Value {
        let seconds = self.elapsed.as_secs_f64();
        let rate = if seconds > 0.0 {
            self.count as f64 / seconds
        } else {
            0.0
        };
        json!({
            "workload": self.workload,
            "client": self.client,
            "count": self.count,
            "bytes": self.bytes,
            "seconds": seconds,
            "rate": rate,
            "vmhwm_kb": vmhwm_kb(),
        })
    }
}

/// The peak resident set size of this process so far (`VmHWM` of
/// `/proc/self/status`), in KiB; 0 where the kernel does not say.
pub fn vmhwm_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| {
                line.strip_prefix("VmHWM:")
                    .and_then(|rest| rest.split_whitespace().next())
                    .and_then(|kb| kb.parse().ok())
            })
        })
        .unwrap_or(0)
}
