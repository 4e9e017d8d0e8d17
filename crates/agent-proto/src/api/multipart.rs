//! multipart/form-data (RFC 7578), both ways and without I/O: [`Multipart`] writes
//! a form with a random boundary (the clients' plugin uploads), [`parse`] reads
//! one with bounds (the servers).
//!
//! ```
//! use agent_proto::api::multipart::{parse, Multipart, ParseLimits};
//!
//! let mut form = Multipart::new();
//! form.text("plugin_release", "demo@1.0");
//! form.file("plugin_file", "demo.zip", "application/zip", b"PK\x03\x04...");
//! let body = form.finish();
//! let parts = parse(&body.content_type, &body.bytes, ParseLimits::default()).unwrap();
//! assert_eq!(parts[0].name, "plugin_release");
//! assert_eq!(parts[0].data, b"demo@1.0");
//! assert_eq!(parts[1].filename.as_deref(), Some("demo.zip"));
//! assert_eq!(parts[1].data, b"PK\x03\x04...");
//! ```

use super::Encoded;
use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};

/// A form being written. The boundary is random and checked against every part's
/// bytes when the form is finished, so no content can end a part early.
#[derive(Default)]
pub struct Multipart {
    parts: Vec<Part>,
}

impl fmt::Debug for Multipart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Multipart")
            .field("parts", &self.parts.len())
            .finish()
    }
}

/// 32 random hex digits (std's per-process random SipHash keys; no entropy crate).
fn random_hex() -> String {
    let mut out = String::with_capacity(32);
    for i in 0..2u8 {
        let mut h = RandomState::new().build_hasher();
        h.write_u8(i);
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out
}

/// A header parameter's value in quotes, with what would end it escaped as
/// browsers do (WHATWG's form encoding: `"` as `%22`, CR and LF as `%0D`/`%0A`).
fn quoted(value: &str) -> String {
    let escaped = value
        .replace('"', "%22")
        .replace('\r', "%0D")
        .replace('\n', "%0A");
    format!("\"{escaped}\"")
}

impl Multipart {
    /// An empty form.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a text field.
    pub fn text(&mut self, name: &str, value: &str) -> &mut Self {
        self.parts.push(Part {
            name: name.to_owned(),
            filename: None,
            content_type: None,
            data: value.as_bytes().to_vec(),
        });
        self
    }

    /// Adds a file.
    pub fn file(
        &mut self,
        name: &str,
        filename: &str,
        content_type: &str,
        bytes: &[u8],
    ) -> &mut Self {
        self.parts.push(Part {
            name: name.to_owned(),
            filename: Some(filename.to_owned()),
            content_type: Some(content_type.to_owned()),
            data: bytes.to_vec(),
        });
        self
    }

    /// The encoded form and its `Content-Type` (with the boundary).
    pub fn finish(&self) -> Encoded {
        let boundary = loop {
            let candidate = format!("agent-boundary-{}", random_hex());
            let needle = candidate.as_bytes();
            let clash = self.parts.iter().any(|p| {
                contains(&p.data, needle)
                    || contains(p.name.as_bytes(), needle)
                    || [&p.filename, &p.content_type]
                        .into_iter()
                        .flatten()
                        .any(|s| contains(s.as_bytes(), needle))
            });
            if !clash {
                break candidate;
            }
        };
        let mut out = Vec::new();
        for part in &self.parts {
            out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
            let mut disposition = format!(
                "Content-Disposition: form-data; name={}",
                quoted(&part.name)
            );
            if let Some(filename) = &part.filename {
                disposition.push_str(&format!("; filename={}", quoted(filename)));
            }
            out.extend_from_slice(disposition.as_bytes());
            out.extend_from_slice(b"\r\n");
            if let Some(content_type) = &part.content_type {
                let ct: String = content_type.chars().filter(|c| !c.is_control()).collect();
                out.extend_from_slice(format!("Content-Type: {ct}\r\n").as_bytes());
            }
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(&part.data);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        Encoded {
            content_type: format!("multipart/form-data; boundary={boundary}"),
            bytes: out,
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

/// One part of a parsed form.
#[derive(Clone, PartialEq, Eq)]
pub struct Part {
    /// The field's name.
    pub name: String,
    /// The file's name, for a file.
    pub filename: Option<String>,
    /// The part's `Content-Type`, if it has one.
    pub content_type: Option<String>,
    /// The part's bytes.
    pub data: Vec<u8>,
}

impl fmt::Debug for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Part")
            .field("name", &self.name)
            .field("filename", &self.filename)
            .field("content_type", &self.content_type)
            .field("len", &self.data.len())
            .finish()
    }
}

/// Bounds on what [`parse`] accepts (the body's own size is the server's body cap).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseLimits {
    /// Most parts.
    pub max_parts: usize,
    /// Largest part's headers, in bytes.
    pub max_header_bytes: usize,
}

impl Default for ParseLimits {
    fn default() -> Self {
        ParseLimits {
            max_parts: 64,
            max_header_bytes: 4096,
        }
    }
}

/// Why a form could not be read (the server answers 400, or 413 for too many parts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad multipart/form-data body: {}", self.0)
    }
}

impl std::error::Error for ParseError {}

/// The boundary of a `multipart/form-data` content type, if it is one.
///
/// ```
/// use agent_proto::api::multipart::boundary;
/// assert_eq!(boundary("multipart/form-data; boundary=\"x y\""), Some("x y".into()));
/// assert_eq!(boundary("application/json"), None);
/// ```
pub fn boundary(content_type: &str) -> Option<String> {
    let mut params = content_type.split(';');
    let essence = params.next()?.trim();
    if !essence.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.find_map(|p| {
        let (k, v) = p.split_once('=')?;
        if !k.trim().eq_ignore_ascii_case("boundary") {
            return None;
        }
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(v);
        (!v.is_empty() && v.len() <= 70).then(|| v.to_owned())
    })
}

/// A header parameter (`name="..."`) of a `Content-Disposition` value; a quoted
/// value may hold `;` and `=`; `%22`, `%0D` and `%0A` are read back as the writer
/// (and browsers) escape them.
fn param(header: &str, key: &str) -> Option<String> {
    let mut rest = header.split_once(';')?.1;
    loop {
        let (k, after) = rest.split_once('=')?;
        let after = after.trim_start();
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            let mut value = String::new();
            let mut end = None;
            for (i, c) in quoted.char_indices() {
                if c == '"' {
                    end = Some(i + 1);
                    break;
                }
                value.push(c);
            }
            let end = end?;
            let next = quoted[end..].split_once(';').map(|(_, n)| n);
            (value, next)
        } else {
            match after.split_once(';') {
                Some((v, n)) => (v.trim().to_owned(), Some(n)),
                None => (after.trim().to_owned(), None),
            }
        };
        if k.trim().eq_ignore_ascii_case(key) {
            return Some(
                value
                    .replace("%22", "\"")
                    .replace("%0D", "\r")
                    .replace("%0A", "\n"),
            );
        }
        rest = next?;
    }
}

/// Reads a `multipart/form-data` body whose `Content-Type` is `content_type`.
pub fn parse(
    content_type: &str,
    body: &[u8],
    limits: ParseLimits,
) -> Result<Vec<Part>, ParseError> {
    let bad = |m: &str| ParseError(m.to_owned());
    let boundary = boundary(content_type).ok_or_else(|| bad("no boundary"))?;
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let mut at = find(body, delimiter, 0).ok_or_else(|| bad("no opening boundary"))?;
    let mut parts = Vec::new();
    loop {
        at += delimiter.len();
        if body.get(at..at + 2) == Some(b"--") {
            return Ok(parts);
        }
        if body.get(at..at + 2) != Some(b"\r\n") {
            return Err(bad("a boundary is not followed by CRLF"));
        }
        at += 2;
        if parts.len() == limits.max_parts {
            return Err(bad(&format!("more than {} parts", limits.max_parts)));
        }
        let head_end =
            find(body, b"\r\n\r\n", at).ok_or_else(|| bad("a part has no headers' end"))?;
        if head_end - at > limits.max_header_bytes {
            return Err(bad("a part's headers are too large"));
        }
        let head = std::str::from_utf8(&body[at..head_end])
            .map_err(|_| bad("a part's headers are not UTF-8"))?;
        let (mut name, mut filename, mut ctype) = (None, None, None);
        for line in head.split("\r\n") {
            let Some((k, v)) = line.split_once(':') else {
                return Err(bad("a part's header has no ':'"));
            };
            if k.trim().eq_ignore_ascii_case("content-disposition") {
                name = param(v, "name");
                filename = param(v, "filename");
            } else if k.trim().eq_ignore_ascii_case("content-type") {
                ctype = Some(v.trim().to_owned());
            }
        }
        let data_start = head_end + 4;
        let mut closing = b"\r\n".to_vec();
        closing.extend_from_slice(delimiter);
        let data_end =
            find(body, &closing, data_start).ok_or_else(|| bad("a part is not closed"))?;
        parts.push(Part {
            name: name.ok_or_else(|| bad("a part has no name"))?,
            filename,
            content_type: ctype,
            data: body[data_start..data_end].to_vec(),
        });
        at = data_end + 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Whatever the fields and the file hold (boundaries, CRLFs, quotes), the
        /// form reads back exactly.
        #[test]
        fn what_is_written_reads_back(
            name in "[a-z_]{1,12}",
            value in "(\\PC|\r|\n|\"|-){0,40}",
            // `%` aside: `%22` is how a quote is written (WHATWG), so a literal one is ambiguous
            filename in "[^\r\n%]{1,20}",
            data in proptest::collection::vec(any::<u8>(), 0..300),
        ) {
            let mut form = Multipart::new();
            form.text(&name, &value);
            form.file("plugin_file", &filename, "application/zip", &data);
            let body = form.finish();
            let parts = parse(&body.content_type, &body.bytes, ParseLimits::default()).unwrap();
            prop_assert_eq!(parts.len(), 2);
            prop_assert_eq!(&parts[0].name, &name);
            prop_assert_eq!(&parts[0].data, value.as_bytes());
            prop_assert_eq!(parts[1].filename.as_deref(), Some(filename.as_str()));
            prop_assert_eq!(&parts[1].data, &data);
        }
    }

    #[test]
    fn boundaries_differ_and_never_occur_in_content() {
        let a = Multipart::new().finish();
        let b = Multipart::new().finish();
        assert_ne!(a.content_type, b.content_type);
        let mut form = Multipart::new();
        let content = format!("{}\r\n--agent-boundary-", a.content_type);
        form.text("x", &content);
        let body = form.finish();
        let parts = parse(&body.content_type, &body.bytes, ParseLimits::default()).unwrap();
        assert_eq!(parts[0].data, content.as_bytes());
    }

    #[test]
    fn bounds_and_garbage_are_refused() {
        let mut form = Multipart::new();
        for i in 0..3 {
            form.text(&format!("f{i}"), "v");
        }
        let body = form.finish();
        let few = ParseLimits {
            max_parts: 2,
            ..ParseLimits::default()
        };
        assert!(parse(&body.content_type, &body.bytes, few).is_err());
        for garbage in [&b""[..], b"--x", b"nothing here"] {
            assert!(parse(
                "multipart/form-data; boundary=x",
                garbage,
                ParseLimits::default()
            )
            .is_err());
        }
        assert!(parse("application/json", &body.bytes, ParseLimits::default()).is_err());
    }
}
