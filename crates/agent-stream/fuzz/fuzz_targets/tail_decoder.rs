//! Fuzzes the tail decoding: the input's first 8 bytes choose the limits, a resume
//! count and the chunk sizes; the rest is an HTTP body, and its lines are also sent
//! as WebSocket messages. Checks (in `tests/support/invariants.rs`, shared with
//! `cargo test`): no panic, the decoding does not depend on the chunking, lines match
//! a naive splitter, and WebSocket messages decode like the same SSE `data:` lines.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/support/invariants.rs"]
mod invariants;

fuzz_target!(|data: &[u8]| invariants::fuzz_one(data));
