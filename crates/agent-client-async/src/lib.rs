//! agent-client-async: filled by a later issue.
