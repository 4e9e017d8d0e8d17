//! agent-testkit: filled by a later issue.
