//! The `next` / `previous` links of `plugin_releases/` (issue 27, item 5): relative
//! to the API's base, as the gateway's (one rule, `agent_proto::query::page_link`),
//! never built from the caller's `Host` header; and followed the way synapse-sdk's
//! `list_all` follows them, they list every matching release once.

mod common;

use std::net::SocketAddr;

use agent_testkit::AgentTestServer;
use common::Http;
use proptest::prelude::*;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TOKEN: &str = "tok";

/// One GET with exactly these headers (a hostile `Host` among them); the status
/// and the body.
async fn raw_get(addr: SocketAddr, path: &str, host: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "GET {path} HTTP/1.1\r\nhost: {host}\r\nauthorization: {TOKEN}\r\nconnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, answer)
}

/// The JSON body of a whole (`connection: close`, not chunked) answer.
fn body(answer: &str) -> Value {
    let (_, body) = answer.split_once("\r\n\r\n").unwrap();
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {answer}"))
}

/// A test server under `/agent/` holding these releases (`code`, `version`).
async fn server<V: AsRef<str>>(releases: &[(&str, V)]) -> AgentTestServer {
    let s = AgentTestServer::builder()
        .token(TOKEN)
        .prefix("/agent/")
        .build()
        .await
        .unwrap();
    for (plugin, version) in releases {
        s.add_plugin_release(plugin, version.as_ref());
    }
    s
}

#[tokio::test]
async fn paged_links_ignore_a_hostile_host_header() {
    let s = server(&[("a b&c", "1"), ("a b&c", "2"), ("a b&c", "3"), ("x", "1")]).await;
    let (status, answer) = raw_get(
        s.local_addr(),
        "/agent/plugin_releases/?plugin=a+b%26c&page=2&page_size=1",
        "evil.example",
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert!(!answer.contains("evil"), "{answer}");
    let page = body(&answer);
    assert_eq!(page["count"], 3);
    // the filter kept (encoded once), the prefix left to the client's base URL
    assert_eq!(
        page["next"],
        "plugin_releases/?plugin=a%20b%26c&page=3&page_size=1"
    );
    assert_eq!(
        page["previous"],
        "plugin_releases/?plugin=a%20b%26c&page=1&page_size=1"
    );
}

/// Lists `plugin_releases/` from `first` as synapse-sdk's `_list_all` does: a
/// `next` starting with the base URL is requested as it is, any other is joined
/// onto the base URL (`os.path.join(base_url, next)`). Every request goes out with
/// a hostile `Host`. The `code@version`s seen, in order.
async fn list_all_as_the_sdk(s: &AgentTestServer, first: &str) -> Vec<String> {
    let base = s.url();
    let origin = format!("http://{}", s.local_addr());
    let mut url = format!("{base}{first}");
    let mut seen = Vec::new();
    // bounded: a link that loops fails the test instead of hanging it
    for _ in 0..256 {
        let path = url.strip_prefix(&origin).unwrap_or_else(|| panic!("{url}"));
        let (status, answer) = raw_get(s.local_addr(), path, "evil.example").await;
        assert_eq!(status, 200, "{answer}");
        assert!(!answer.contains("evil"), "{answer}");
        let page = body(&answer);
        for r in page["results"].as_array().unwrap() {
            let field = |k: &str| r[k].as_str().unwrap().to_owned();
            seen.push(format!("{}@{}", field("code"), field("version")));
        }
        match page["next"].as_str() {
            None => return seen,
            Some(next) if next.starts_with(&base) => url = next.to_owned(),
            Some(next) => url = format!("{}/{next}", base.trim_end_matches('/')),
        }
    }
    panic!("`next` never ended: {seen:?}");
}

#[tokio::test]
async fn following_next_as_the_sdk_does_lists_every_release() {
    let s = server(&[("p", "1"), ("q", "1"), ("p", "2"), ("p", "3")]).await;
    let all = list_all_as_the_sdk(&s, "plugin_releases/?page_size=1").await;
    assert_eq!(all, ["p@1", "q@1", "p@2", "p@3"]);
    let filtered = list_all_as_the_sdk(&s, "plugin_releases/?plugin=p&page_size=2").await;
    assert_eq!(filtered, ["p@1", "p@2", "p@3"]);
    // the links are relative: a plain client joins them onto its base URL too
    let http = Http::new(s.url(), Some(TOKEN));
    let p1 = http
        .get("plugin_releases/?plugin=p&page_size=2")
        .await
        .json();
    let p2 = http.get(p1["next"].as_str().unwrap()).await.json();
    assert_eq!(p2["results"][0]["version"], "3");
}

/// Release codes a query must encode (blanks, `&`, `=`, `%`, `+`, `#`, `/`, `?`,
/// non-ASCII); few, so that a filter matches several releases.
const CODES: &[&str] = &["a b", "x&y=1", "é#/?%+"];

proptest! {
    // a failing case is saved beside this file and its seed printed, so the next
    // run replays it (the workspace's rule for integration tests)
    #![proptest_config(ProptestConfig {
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::WithSource("proptest-regressions"),
        )),
        ..ProptestConfig::with_cases(24)
    })]

    /// Whatever the releases (codes with blanks, `&`, `=`, `%`, `+`, `#`, `/`,
    /// non-ASCII), the filter and the page size, following `next` from page 1 as
    /// the SDK does lists exactly the matching releases, each once, in order.
    #[test]
    fn following_next_lists_every_matching_release_exactly_once(
        releases in prop::collection::vec((prop::sample::select(CODES), 0u8..4), 0..16),
        filter in prop::option::weighted(0.75, prop::sample::select(CODES)),
        page_size in 1usize..5,
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let (seen, expected) = runtime.block_on(async {
            // versions unique per release: a repeat is a listing error, not data
            let releases: Vec<(&str, String)> =
                releases.iter().enumerate().map(|(i, (code, v))| (*code, format!("{v}.{i}"))).collect();
            let s = server(&releases).await;
            let expected: Vec<String> = releases
                .iter()
                .filter(|(code, _)| filter.is_none_or(|f| f == *code))
                .map(|(code, version)| format!("{code}@{version}"))
                .collect();
            let mut first = String::from("plugin_releases/?");
            if let Some(f) = filter {
                first.push_str(&agent_proto::query::with_query("", &[("plugin", f)])[1..]);
                first.push('&');
            }
            first.push_str(&format!("page_size={page_size}"));
            (list_all_as_the_sdk(&s, &first).await, expected)
        });
        prop_assert_eq!(seen, expected);
    }
}
