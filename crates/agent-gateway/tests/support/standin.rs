//! The stand-in Ray dashboard: `agent_testkit::ray`, started the tests' way (a
//! failure to start fails the test).

pub use agent_testkit::ray::*;

use std::sync::Arc;

/// Starts the stand-in; returns its state, its address and its task.
pub async fn start(state: State) -> (Arc<State>, String, tokio::task::JoinHandle<()>) {
    agent_testkit::ray::start(state).await.unwrap()
}

/// A self-signed certificate for 127.0.0.1 (its PEM, to trust) and a TLS acceptor
/// serving it.
pub fn tls_identity() -> (String, tokio_rustls::TlsAcceptor) {
    agent_testkit::ray::tls_identity().unwrap()
}

/// Starts the stand-in, over TLS when `tls` is given (`https://` address).
pub async fn start_with(
    state: State,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> (Arc<State>, String, tokio::task::JoinHandle<()>) {
    agent_testkit::ray::start_with(state, tls).await.unwrap()
}
