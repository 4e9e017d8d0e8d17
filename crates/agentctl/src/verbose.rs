//! `-v` / `-vv` / `-vvv`: what agentctl does, as `tracing` events on stderr.
//!
//! `-v` shows each request (method, path, how long, the outcome), which agent is
//! used, the protocol a tail opened with and any fallback to another one; `-vv` adds
//! the job statuses a wait reads and a tail's counters; `-vvv` everything. Events of
//! the client library appear at the same levels (their targets are the `agent_*`
//! crates). No event carries a token: agentctl logs no header, and a URL is shown
//! by its host only.

use std::io::IsTerminal;
use tracing::Level;

/// Installs the stderr subscriber for `-v` repeated `count` times (nothing for 0).
pub fn init(count: u8) {
    let level = match count {
        0 => return,
        1 => Level::INFO,
        2 => Level::DEBUG,
        _ => Level::TRACE,
    };
    let _ = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
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
    fn a_url_is_shown_by_its_host() {
        assert_eq!(
            host_of("https://user:s3cret@agent.example:8443/api/?t=x"),
            "https://agent.example:8443"
        );
        assert_eq!(host_of("http://h/"), "http://h");
    }
}
