//! Query strings, both ways: percent-encoding what goes into one
//! ([`encode_component`], [`with_query`]), decoding what comes in one ([`pairs`],
//! [`param`]), and the link to a page of a paged answer ([`page_link`]).
//!
//! One home for the rule, used by the clients (their request paths), the servers
//! (what a caller's query asks; their `next`/`previous` links) and the gateway
//! (the URLs it sends Ray).
//!
//! ```
//! use agent_proto::query;
//!
//! let path = query::with_query("plugin_releases/", &[("plugin", "a b&c"), ("page", "2")]);
//! assert_eq!(path, "plugin_releases/?plugin=a%20b%26c&page=2");
//! assert_eq!(query::param(Some("plugin=a%20b%26c&page=2"), "plugin").as_deref(), Some("a b&c"));
//! ```

/// Percent-encodes a query key or value: every byte but RFC 3986's unreserved
/// characters (`A-Z a-z 0-9 - . _ ~`), so nothing in it can end the value, add a
/// parameter or change the path.
///
/// ```
/// assert_eq!(agent_proto::query::encode_component("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
/// ```
pub fn encode_component(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            push_escaped(&mut out, b);
        }
    }
    out
}

/// `path` with `?k=v&...` appended, every key and value encoded
/// ([`encode_component`]); `path` alone when `query` is empty.
pub fn with_query<K: AsRef<str>, V: AsRef<str>>(path: &str, query: &[(K, V)]) -> String {
    let mut out = path.to_owned();
    for (i, (k, v)) in query.iter().enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        out.push_str(&encode_component(k.as_ref()));
        out.push('=');
        out.push_str(&encode_component(v.as_ref()));
    }
    out
}

/// Decodes one key or value of a query: `+` is a space, `%XX` a byte; a `%` not
/// followed by two hex digits stays as it is; bytes that are not UTF-8 become
/// U+FFFD.
///
/// ```
/// use agent_proto::query::decode_component;
///
/// assert_eq!(decode_component("a+b%20c%26"), "a b c&");
/// assert_eq!(decode_component("100%"), "100%");
/// assert_eq!(decode_component("%4"), "%4");
/// assert_eq!(decode_component("%+1%zz"), "% 1%zz"); // a sign is no hex digit
/// ```
pub fn decode_component(s: &str) -> String {
    percent_decode(s, true)
}

/// Decodes one segment of a URL path: `%XX` is a byte, and `+` stays a `+` (only
/// a query reads it as a space); otherwise as [`decode_component`]. The routers
/// decode each segment with it before validating it, so a client that encodes
/// more than it must (`demo%401.0`) reaches the same operation.
///
/// ```
/// use agent_proto::query::decode_path_segment;
///
/// assert_eq!(decode_path_segment("demo%401.0+build"), "demo@1.0+build");
/// assert_eq!(decode_path_segment("a%2Fb"), "a/b");
/// ```
pub fn decode_path_segment(s: &str) -> String {
    percent_decode(s, false)
}

/// Percent-encodes one segment of a URL path: every byte but RFC 3986's `pchar`
/// (unreserved, `@`, `:`, and the sub-delimiters `!$&'()*+,;=`) is `%XX`, so the
/// value can neither add a segment (`/`), nor start a query (`?`) or fragment (`#`).
/// Ids the agent API allows come out as they are (`demo@1.0.0+build`).
///
/// ```
/// use agent_proto::query::encode_path_segment;
///
/// assert_eq!(encode_path_segment("demo@1.0.0+b"), "demo@1.0.0+b");
/// assert_eq!(encode_path_segment("a/b?c#d %"), "a%2Fb%3Fc%23d%20%25");
/// ```
pub fn encode_path_segment(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        let pchar = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'@'
                    | b':'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
            );
        if pchar {
            out.push(char::from(b));
        } else {
            push_escaped(&mut out, b);
        }
    }
    out
}

/// `%XX` for one byte (upper-case hex, as RFC 3986 recommends).
fn push_escaped(out: &mut String, b: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push('%');
    out.push(char::from(HEX[usize::from(b >> 4)]));
    out.push(char::from(HEX[usize::from(b & 0xf)]));
}

/// The one percent-decoder: `%XX` is a byte, a `%` not followed by two hex digits
/// stays as it is, `+` is a space when `plus_is_space` (queries), and bytes that
/// are not UTF-8 become U+FFFD.
fn percent_decode(s: &str, plus_is_space: bool) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' if plus_is_space => out.push(b' '),
            b'%' => match bytes.get(i + 1..i + 3).and_then(hex_byte) {
                Some(b) => {
                    out.push(b);
                    i += 2;
                }
                None => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Two hex digits as a byte (`u8::from_str_radix` alone would take a sign).
fn hex_byte(digits: &[u8]) -> Option<u8> {
    let [hi, lo] = digits else { return None };
    let digit = |d: &u8| char::from(*d).to_digit(16);
    u8::try_from(digit(hi)? * 16 + digit(lo)?).ok()
}

/// The decoded `(key, value)` pairs of a raw query string, in order (a pair
/// without `=` has an empty value; empty pairs are skipped).
///
/// ```
/// let pairs: Vec<_> = agent_proto::query::pairs(Some("plugin=my%20plugin&&x")).collect();
/// assert_eq!(pairs, [("plugin".into(), "my plugin".into()), ("x".into(), String::new())]);
/// ```
pub fn pairs(query: Option<&str>) -> impl Iterator<Item = (String, String)> + '_ {
    query
        .unwrap_or("")
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode_component(k), decode_component(v))
        })
}

/// The decoded value of the first parameter named `name`, if any.
pub fn param(query: Option<&str>, name: &str) -> Option<String> {
    pairs(query).find_map(|(k, v)| (k == name).then_some(v))
}

/// The `next` / `previous` link of a paged answer: page `page` of `route` (such
/// as `plugin_releases/`), `size` items a page, keeping the caller's `filters`.
///
/// The link is `base` followed by the route: with `base` empty (the default of
/// both servers) it is relative to the API's base URL, never built from anything
/// the caller sent (a `Host` header); a configured public URL (ending in `/`)
/// makes it absolute. Relative to the API's base, not to the request (`?page=2`):
/// the SDK's `list_all` requests `next` as it is when it starts with its base URL
/// and joins it onto its base URL otherwise (`os.path.join(base_url, next)`), so
/// the base-relative form is the one both read alike.
///
/// ```
/// use agent_proto::query::page_link;
///
/// assert_eq!(
///     page_link("", "plugin_releases/", &[("plugin", "a b")], 2, 10),
///     "plugin_releases/?plugin=a%20b&page=2&page_size=10"
/// );
/// assert_eq!(
///     page_link("https://agent.example/api/", "plugin_releases/", &[] as &[(&str, &str)], 3, 5),
///     "https://agent.example/api/plugin_releases/?page=3&page_size=5"
/// );
/// ```
pub fn page_link<K: AsRef<str>, V: AsRef<str>>(
    base: &str,
    route: &str,
    filters: &[(K, V)],
    page: usize,
    size: usize,
) -> String {
    let (page, size) = (page.to_string(), size.to_string());
    let mut query: Vec<(&str, &str)> = filters
        .iter()
        .map(|(k, v)| (k.as_ref(), v.as_ref()))
        .collect();
    query.push(("page", &page));
    query.push(("page_size", &size));
    with_query(&format!("{base}{route}"), &query)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn params_decode() {
        let q = Some("job_id=raysubmit_1&plugin=a%20b&x&page=2+3&plugin=second");
        assert_eq!(param(q, "job_id").as_deref(), Some("raysubmit_1"));
        assert_eq!(param(q, "plugin").as_deref(), Some("a b"));
        assert_eq!(param(q, "x").as_deref(), Some(""));
        assert_eq!(param(q, "page").as_deref(), Some("2 3"));
        assert_eq!(param(q, "nope"), None);
        assert_eq!(param(None, "x"), None);
        assert_eq!(param(Some("a%3Db=1"), "a=b").as_deref(), Some("1"));
        assert_eq!(decode_component("%41%zz%"), "A%zz%");
        assert_eq!(decode_component("%C3%A9%FF"), "é\u{FFFD}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Whatever a key or value holds, encoding then decoding gives it back, and
        /// the encoded form holds nothing that could end a parameter or the query.
        #[test]
        fn what_is_encoded_decodes_back_and_cannot_add_a_parameter(
            key in "\\PC{0,12}",
            value in "(\\PC|[&=+%#?/ ]){0,24}",
        ) {
            let query = with_query("", &[(key.as_str(), value.as_str()), ("page", "2")]);
            let query = query.strip_prefix('?').unwrap_or(&query);
            prop_assert!(!query.contains(['#', ' ', '+']), "{query}");
            prop_assert_eq!(query.matches('&').count(), 1, "{}", query);
            let back: Vec<_> = pairs(Some(query)).collect();
            prop_assert_eq!(back, vec![(key, value), ("page".to_owned(), "2".to_owned())]);
        }
    }
}
