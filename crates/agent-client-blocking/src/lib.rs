//! agent-client-blocking: filled by a later issue.
