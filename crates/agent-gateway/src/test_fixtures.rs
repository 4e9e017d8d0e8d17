//! The Ray answers recorded in `../shared/fixtures/ray/` (beside the repository).

use std::path::PathBuf;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/ray")
}

/// A fixture's text.
pub fn read(name: &str) -> String {
    let path = dir().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "fixture {} (is ../shared beside the repository?): {e}",
            path.display()
        )
    })
}

/// A fixture as JSON.
pub fn json(name: &str) -> serde_json::Value {
    serde_json::from_str(&read(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}
