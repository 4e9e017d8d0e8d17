//! The in-memory backend: a small Ray cluster whose jobs move on as time passes.

pub(crate) mod backend;
pub(crate) mod cluster;
pub(crate) mod job;
pub(crate) mod log;
pub(crate) mod platform;
pub(crate) mod tail;
