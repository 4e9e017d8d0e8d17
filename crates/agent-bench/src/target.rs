//! Where the server is: a base URL split into what a bare hyper connection needs.

use agent_proto::api::{Operation, OperationId};
use agent_proto::{ClientError, JobId};
use http::Uri;

/// The API path of a job's tail over WebSocket or HTTP, from the one description
/// of the API: a peer sends it its own way, but never with its own copy of the route.
pub fn tail_path(job: &str, websocket: bool) -> Result<String, ClientError> {
    let id = JobId::new(job)?;
    Ok(if websocket {
        Operation::TailWebSocket(id)
    } else {
        Operation::TailHttp(id)
    }
    .path())
}

/// The API path of `GET jobs/`, from the description.
pub fn list_jobs_path() -> &'static str {
    OperationId::ListJobs.template()
}

/// The server's address and path prefix, from a base URL such as
/// `http://127.0.0.1:4321/` or `http://127.0.0.1:4321/agent/`.
#[derive(Debug, Clone)]
pub struct Target {
    /// `host:port`, to connect to and to send as `Host`.
    pub authority: String,
    /// The path prefix, starting and ending with `/`.
    pub prefix: String,
}

impl Target {
    /// Parses `url` (plain `http://` only: the benchmarks run on loopback).
    pub fn parse(url: &str) -> Result<Self, String> {
        let uri: Uri = url.parse().map_err(|e| format!("bad --url {url}: {e}"))?;
        if uri.scheme_str() != Some("http") {
            return Err(format!("--url must be http:// (got {url})"));
        }
        let authority = uri
            .authority()
            .ok_or_else(|| format!("--url has no host: {url}"))?
            .to_string();
        let inner = uri.path().trim_matches('/');
        let prefix = if inner.is_empty() {
            "/".to_owned()
        } else {
            format!("/{inner}/")
        };
        Ok(Target { authority, prefix })
    }

    /// The absolute path of an API path such as `jobs/`.
    pub fn path(&self, api_path: &str) -> String {
        format!("{}{}", self.prefix, api_path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_authority_and_prefix() {
        let t = Target::parse("http://127.0.0.1:8000").unwrap();
        assert_eq!(t.authority, "127.0.0.1:8000");
        assert_eq!(t.path("jobs/"), "/jobs/");
        let t = Target::parse("http://127.0.0.1:8000/agent").unwrap();
        assert_eq!(t.path("jobs/"), "/agent/jobs/");
        assert!(Target::parse("https://x/").is_err());
    }
}
