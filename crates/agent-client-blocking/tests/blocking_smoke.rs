//! Smoke tests of the blocking client against the project's test server. The full
//! matrix lives in the workspace `tests/` crate.

use agent_client_blocking::{AgentClient, ClientError, Protocol, TailOptions};
use agent_testkit::sample::SUCCEEDED_JOB;
use agent_testkit::AgentTestServer;

#[test]
fn a_tail_reads_the_whole_log_over_both_protocols() {
    let server = AgentTestServer::sample().start_blocking().unwrap();
    let client = AgentClient::new(server.url(), server.token()).unwrap();
    assert!(client.health_check().is_ok());
    assert!(!client.list_jobs().unwrap().is_empty());
    let mut seen = Vec::new();
    for protocol in [Protocol::WebSocket, Protocol::Http] {
        let mut tail = client
            .tail_job_logs(SUCCEEDED_JOB, TailOptions::new().protocol(protocol))
            .unwrap();
        let lines: Vec<String> = tail.by_ref().collect::<Result<_, _>>().unwrap();
        assert_eq!(
            lines.last().map(String::as_str),
            Some("last line"),
            "{protocol}"
        );
        assert_eq!(tail.protocol_used(), protocol);
        assert_eq!(tail.counters().delivered, lines.len() as u64);
        seen.push(lines);
    }
    assert_eq!(seen[0], seen[1]);
    client.close();
    assert_eq!(client.list_jobs().unwrap_err().status_code(), 500);
}

// Multi-threaded: the test server runs on this runtime while this thread waits for
// the one that calls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inside_a_runtime_it_refuses_instead_of_panicking() {
    let server = AgentTestServer::sample().build().await.unwrap();
    // Building inside a runtime is fine; calling is refused.
    let client = AgentClient::new(server.url(), server.token()).unwrap();
    let err = client.health_check().unwrap_err();
    assert!(matches!(err, ClientError::Usage { .. }), "{err:?}");
    assert!(err.to_string().contains("use AsyncAgentClient"), "{err}");
    let err = client
        .tail_job_logs(SUCCEEDED_JOB, TailOptions::new())
        .unwrap_err();
    assert_eq!(err.status_code(), 500);
    // From a thread of its own the same client works.
    let answer = std::thread::spawn(move || client.get_job(SUCCEEDED_JOB).map(|j| j.status))
        .join()
        .unwrap();
    assert!(answer.unwrap().is_terminal());
}
