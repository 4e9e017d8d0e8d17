//! A token that never prints.

use std::fmt;

/// A secret string (agent token, user token, tenant): `Debug` and `Display` print
/// `[redacted]`, never the value, and it has no `Serialize`.
///
/// ```
/// use agent_proto::Secret;
///
/// let token = Secret::new("hunter2");
/// assert_eq!(format!("{token:?}"), "Secret([redacted])");
/// assert_eq!(token.to_string(), "[redacted]");
/// assert_eq!(token.expose(), "hunter2");
/// ```
#[derive(Clone)]
pub struct Secret(Box<str>);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into().into_boxed_str())
    }

    /// The value itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Compares with `other` in time that depends only on the lengths, so that a
    /// server checking a token does not tell an attacker how much of it matched.
    ///
    /// ```
    /// let s = agent_proto::Secret::new("abc");
    /// assert!(s.matches("abc"));
    /// assert!(!s.matches("abd"));
    /// ```
    pub fn matches(&self, other: &str) -> bool {
        let a = self.0.as_bytes();
        let b = other.as_bytes();
        if a.len() != b.len() {
            return false;
        }
        a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Secret::new(s)
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Secret::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_its_value() {
        let s = Secret::new("tok-123456");
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Holder {
            token: Secret,
        }
        let h = Holder { token: s.clone() };
        for text in [
            format!("{s}"),
            format!("{s:?}"),
            format!("{h:?}"),
            format!("{h:#?}"),
        ] {
            assert!(!text.contains("tok-123456"), "{text}");
        }
        assert!(s.matches("tok-123456"));
        assert!(!s.matches("tok-12345"));
    }
}
