//! Validated path segments: the caller-supplied parts of a URL path.
//!
//! The Python client only validated ids in its tail methods, so `get_job("../health")`
//! went out as a path. Here every segment a caller supplies is checked before any
//! request: what the agent API allows passes, anything that could change the path
//! or the query (`/`, `..`, `?`, `#`, `%`, white space, control characters, empty,
//! over-long) is a 400.

use crate::error::ClientError;
use std::fmt;
use std::str::FromStr;

/// The longest id the agent API allows.
pub const MAX_ID_LEN: usize = 100;

fn is_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// Checks the agent API's id rule: 1 to 100 characters of `[A-Za-z0-9_-]`.
fn check_id(what: &'static str, s: &str) -> Result<(), ClientError> {
    if s.is_empty() {
        return Err(ClientError::invalid(what, "must not be empty"));
    }
    if s.len() > MAX_ID_LEN {
        return Err(ClientError::invalid(
            what,
            format!(
                "is {} characters long; at most {MAX_ID_LEN} are allowed",
                s.chars().count()
            ),
        ));
    }
    if let Some(bad) = s.chars().find(|c| !is_id_char(*c)) {
        return Err(ClientError::invalid(
            what,
            format!(
                "{:?} contains {:?}; only A-Z, a-z, 0-9, '_' and '-' are allowed",
                shown(s),
                bad
            ),
        ));
    }
    Ok(())
}

/// A plugin release lookup: an id (the id rule), or `code@version` where the code
/// follows the id rule and the version is 1 to 100 characters of `[A-Za-z0-9_.+-]`
/// that starts with a letter or digit and holds no `..`.
fn check_lookup(s: &str) -> Result<(), ClientError> {
    const WHAT: &str = "plugin release lookup";
    let Some((code, version)) = s.split_once('@') else {
        return check_id(WHAT, s);
    };
    check_id(WHAT, code)?;
    if version.is_empty() || version.len() > MAX_ID_LEN {
        return Err(ClientError::invalid(
            WHAT,
            format!(
                "{:?}: the version after '@' must be 1 to {MAX_ID_LEN} characters",
                shown(s)
            ),
        ));
    }
    let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '+');
    if let Some(bad) = version.chars().find(|c| !ok(*c)) {
        return Err(ClientError::invalid(
            WHAT,
            format!(
                "{:?}: the version contains {:?}; only A-Z, a-z, 0-9, '_', '-', '.' and '+' are allowed",
                shown(s),
                bad
            ),
        ));
    }
    if !version.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(ClientError::invalid(
            WHAT,
            format!(
                "{:?}: the version must start with a letter or digit",
                shown(s)
            ),
        ));
    }
    if version.contains("..") {
        return Err(ClientError::invalid(
            WHAT,
            format!("{:?}: the version must not contain \"..\"", shown(s)),
        ));
    }
    Ok(())
}

/// A caller's input, cut short so that a huge or hostile value does not flood an error.
fn shown(s: &str) -> String {
    let mut out: String = s.chars().take(40).collect();
    if s.chars().count() > 40 {
        out.push_str("...");
    }
    out
}

macro_rules! segment {
    ($(#[$doc:meta])* $name:ident, $what:literal, $check:expr, $example:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            #[doc = concat!("Validates `s` as a ", $what, ".")]
            ///
            /// ```
            #[doc = concat!("use agent_proto::", stringify!($name), ";")]
            #[doc = concat!("assert!(", stringify!($name), "::new(", stringify!($example), ").is_ok());")]
            #[doc = concat!("let err = ", stringify!($name), "::new(\"../health\").unwrap_err();")]
            /// assert_eq!(err.status_code(), 400);
            /// ```
            pub fn new(s: impl Into<String>) -> Result<Self, ClientError> {
                let s = s.into();
                let check: fn(&str) -> Result<(), ClientError> = $check;
                check(&s)?;
                Ok(Self(s))
            }

            /// The segment as text (safe to put in a URL path as is).
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The segment as an owned string.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl FromStr for $name {
            type Err = ClientError;
            fn from_str(s: &str) -> Result<Self, ClientError> {
                Self::new(s)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = ClientError;
            fn try_from(s: &str) -> Result<Self, ClientError> {
                Self::new(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = ClientError;
            fn try_from(s: String) -> Result<Self, ClientError> {
                Self::new(s)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::new(s).map_err(serde::de::Error::custom)
            }
        }
    };
}

segment!(
    /// A Ray job id: a submission id (`raysubmit_...`) or a driver job id (`02000000`).
    JobId, "job id", |s| check_id("job id", s), "raysubmit_abc123"
);
segment!(
    /// A Ray node id (56 hex digits in Ray).
    NodeId, "node id", |s| check_id("node id", s), "fddbb195ce78652168eecbe943514ac95dcf06d80518d4bca140ebed"
);
segment!(
    /// A Ray task id.
    TaskId, "task id", |s| check_id("task id", s), "39088be3736e590affffffffffffffffffffffff02000000"
);
segment!(
    /// The name of a Ray Serve application.
    ServeAppName, "serve application name", |s| check_id("serve application name", s), "my-app"
);
segment!(
    /// A plugin release lookup: its id, or `code@version`.
    PluginLookup, "plugin release lookup", check_lookup, "my-plugin@1.2.0"
);

segment!(
    /// The id of a container build (`builds/{build_id}/`).
    BuildId, "build id", |s| check_id("build id", s), "build-7f3a"
);
segment!(
    /// The id of a plugin container the agent tracks (`containers/{container_id}`),
    /// its database id.
    ContainerId, "container id", |s| check_id("container id", s), "42"
);
segment!(
    /// A Docker container's id or name (`containers/docker/{container_id}`).
    DockerContainerId, "docker container id", |s| check_id("docker container id", s), "3f2a9c1b7d4e"
);

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &[&str] = &[
        "",
        "..",
        ".",
        "../health",
        "a/b",
        "a?b=c",
        "a#frag",
        "a%2Fb",
        "a b",
        "a\tb",
        "a\nb",
        "a\u{0}b",
        "a\u{7f}",
        "é",
        "a\\b",
        "a;b",
    ];

    #[test]
    fn ids_follow_the_rule() {
        for ok in [
            "raysubmit_abc123",
            "02000000",
            "a",
            "A-b_9",
            &"x".repeat(100),
        ] {
            assert!(JobId::new(ok).is_ok(), "{ok}");
            assert!(NodeId::new(ok).is_ok(), "{ok}");
            assert!(TaskId::new(ok).is_ok(), "{ok}");
            assert!(ServeAppName::new(ok).is_ok(), "{ok}");
            assert!(PluginLookup::new(ok).is_ok(), "{ok}");
        }
        for bad in HOSTILE.iter().copied().chain([&*"x".repeat(101)]) {
            for err in [
                JobId::new(bad).err(),
                NodeId::new(bad).err(),
                TaskId::new(bad).err(),
                ServeAppName::new(bad).err(),
                PluginLookup::new(bad).err(),
            ] {
                let err = err.unwrap_or_else(|| panic!("{bad:?} passed"));
                assert_eq!(err.status_code(), 400, "{bad:?}");
            }
        }
    }

    #[test]
    fn lookups_allow_code_at_version() {
        for ok in ["demo@1.0.0", "my-plugin@2024.1.3-rc.1", "p@1+build.5", "42"] {
            assert!(PluginLookup::new(ok).is_ok(), "{ok}");
        }
        for bad in [
            "demo@",
            "@1.0",
            "demo@..",
            "demo@1..2",
            "demo@.",
            "demo@1/2",
            "demo@1?x",
            "de/mo@1",
            "demo@1@2",
            "demo@1%2e",
        ] {
            assert_eq!(
                PluginLookup::new(bad).map_err(|e| e.status_code()),
                Err(400),
                "{bad}"
            );
        }
    }

    #[test]
    fn errors_say_what_and_cut_long_input() {
        let e = JobId::new(format!("{}/", "a".repeat(500))).unwrap_err();
        let s = e.to_string();
        assert!(s.starts_with("invalid job id (400)"), "{s}");
        assert!(s.len() < 200, "{s}");
    }

    #[test]
    fn serde_round_trip_validates() {
        let id: JobId = serde_json::from_str("\"raysubmit_1\"").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"raysubmit_1\"");
        assert!(serde_json::from_str::<JobId>("\"../x\"").is_err());
    }
}
