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

    /// Compares with `other` without telling an attacker, by the time it takes,
    /// how much of it matched or how long the secret is: both are hashed (SHA-256)
    /// and the fixed-size digests compared in full, so the time depends only on
    /// the length of `other`, which the caller chose.
    ///
    /// ```
    /// let s = agent_proto::Secret::new("abc");
    /// assert!(s.matches("abc"));
    /// assert!(!s.matches("abd"));
    /// assert!(!s.matches("abcd"));
    /// ```
    pub fn matches(&self, other: &str) -> bool {
        use sha2::{Digest, Sha256};
        let a = Sha256::digest(self.0.as_bytes());
        let b = Sha256::digest(other.as_bytes());
        a.iter()
            .zip(b.iter())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
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

    proptest::proptest! {
        /// The digest comparison is equality: any two strings (equal, one a prefix
        /// of the other, or apart) match exactly when they are equal.
        #[test]
        fn matches_is_equality(a in ".{0,40}", b in ".{0,40}", same in proptest::prelude::any::<bool>()) {
            let b = if same { a.clone() } else { b };
            proptest::prop_assert_eq!(Secret::new(a.as_str()).matches(&b), a == b);
            let longer = format!("{a}x");
            proptest::prop_assert!(!Secret::new(a.as_str()).matches(&longer));
            proptest::prop_assert!(!Secret::new(longer.as_str()).matches(&a));
        }
    }
}
