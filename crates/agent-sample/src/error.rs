//! What can go wrong when starting or changing a sample server.

/// An error of the sample server itself (not of a request it serves).
#[derive(Debug, thiserror::Error)]
pub enum SampleError {
    /// The listening socket could not be opened.
    #[error("could not listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// A job id (or another id) breaks the agent API's id rule.
    #[error(transparent)]
    InvalidId(#[from] agent_proto::ClientError),
    /// The token is empty or only whitespace: it would let anyone in.
    #[error("invalid token: {0}")]
    InvalidToken(String),
    /// The server could not start serving on its socket (e.g. its TLS files cannot
    /// be read or do not make a valid configuration).
    #[error("could not start serving: {0}")]
    Serve(std::io::Error),
    /// A job with this id already exists.
    #[error("job {0} already exists")]
    DuplicateJob(String),
    /// The thread of a [`crate::BlockingSampleServer`] could not start its server.
    #[error("the test server thread failed: {0}")]
    Thread(String),
}
