//! The Ray answers recorded from Ray 2.60 (`fixtures/ray/` at the repository's root).

use std::path::PathBuf;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/ray")
}

/// A fixture's text.
pub fn read(name: &str) -> String {
    let path = dir().join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("the Ray fixture {}: {e}", path.display()))
}

/// A fixture as JSON.
pub fn json(name: &str) -> serde_json::Value {
    serde_json::from_str(&read(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

/// The text of every frame of the recorded `tail_job_logs` WebSocket, in order
/// (`tail_transcript.json`).
pub fn tail_frames() -> Vec<String> {
    let transcript = json("tail_transcript.json");
    let frames = transcript
        .as_array()
        .expect("tail_transcript.json is a list");
    frames
        .iter()
        .filter_map(|f| f.get("data").and_then(|d| d.as_str()))
        .map(str::to_owned)
        .collect()
}

/// The same job's whole log, as `GET /api/jobs/{id}/logs` gave it (`logs.json`).
pub fn job_log() -> String {
    let logs = json("logs.json");
    logs["logs"]
        .as_str()
        .expect("logs.json has a `logs` string")
        .to_owned()
}
