//! agent-stream: filled by a later issue.
