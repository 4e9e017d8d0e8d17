//! `-v` / `-vv` / `-vvv`: what agentctl does, as `tracing` events on stderr.
//!
//! `-v` shows each request (method, path, how long, the outcome), which agent is
//! used, the protocol a tail opened with and any fallback to another one; `-vv` adds
//! the job statuses a wait reads and a tail's counters; `-vvv` everything. Events of
//! the client library (`agent.request` spans, `agent.retry` with its reason and
//! wait, tail fallbacks and resumes) appear at the same levels (their targets are
//! the `agent_*` crates); other crates show only warnings below `-vvv`. No event carries a token: agentctl logs no header, and a URL is shown
//! by its host only.

use std::io::IsTerminal;
use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The crates whose events `-v` and `-vv` show: agentctl's own and the client
/// library's (`agent.request` spans, `agent.retry`, tail fallbacks and resumes).
const OURS: &[&str] = &[
    "agentctl",
    "agent_client_async",
    "agent_transport",
    "agent_stream",
    "agent_proto",
];

/// Which events `-v` repeated `count` times shows: ours at INFO (`-v`), DEBUG
/// (`-vv`) or TRACE (`-vvv`); other crates' (hyper, rustls, ...) only their
/// warnings, and everything at `-vvv`.
fn filter(count: u8) -> Option<Targets> {
    let ours = match count {
        0 => return None,
        1 => Level::INFO,
        2 => Level::DEBUG,
        _ => Level::TRACE,
    };
    let others = if count >= 3 {
        Level::TRACE
    } else {
        Level::WARN
    };
    Some(
        OURS.iter()
            .fold(Targets::new().with_default(others), |t, target| {
                t.with_target(*target, ours)
            }),
    )
}

/// Installs the stderr subscriber for `-v` repeated `count` times (nothing for 0).
pub fn init(count: u8) {
    let Some(filter) = filter(count) else {
        return;
    };
    // From -vv, a span is shown when it closes (the library's `agent.request`, with
    // its status, attempt and latency; `agent.tail`), as the README promises.
    let spans = if count >= 2 {
        FmtSpan::CLOSE
    } else {
        FmtSpan::NONE
    };
    let _ = tracing_subscriber::fmt()
        .with_span_events(spans)
        .with_max_level(Level::TRACE)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .finish()
        .with(filter)
        .try_init();
}

/// An agent's URL for a log line: scheme, host and port only (no user info, no path).
pub fn host_of(url: &str) -> String {
    match url.parse::<http::Uri>() {
        Ok(uri) => {
            let scheme = uri.scheme_str().unwrap_or("?");
            let host = uri.host().unwrap_or("?");
            match uri.port_u16() {
                Some(p) => format!("{scheme}://{host}:{p}"),
                None => format!("{scheme}://{host}"),
            }
        }
        Err(_) => "(an unparsable URL)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_library_is_shown_at_our_level_and_others_only_warn() {
        assert!(filter(0).is_none());
        let v = filter(1).expect("a filter");
        assert!(v.would_enable("agent_transport::retry", &Level::INFO));
        assert!(v.would_enable("agent_client_async::tail", &Level::INFO));
        assert!(v.would_enable("agentctl::run", &Level::INFO));
        assert!(!v.would_enable("agent_transport::retry", &Level::DEBUG));
        assert!(!v.would_enable("hyper::proto", &Level::INFO));
        assert!(v.would_enable("rustls::conn", &Level::WARN));
        let vv = filter(2).expect("a filter");
        assert!(vv.would_enable("agent_transport::trace", &Level::DEBUG));
        assert!(!vv.would_enable("hyper::proto", &Level::DEBUG));
        let vvv = filter(3).expect("a filter");
        assert!(vvv.would_enable("hyper::proto", &Level::TRACE));
    }

    #[test]
    fn a_url_is_shown_by_its_host() {
        assert_eq!(
            host_of("https://user:s3cret@agent.example:8443/api/?t=x"),
            "https://agent.example:8443"
        );
        assert_eq!(host_of("http://h/"), "http://h");
    }
}
