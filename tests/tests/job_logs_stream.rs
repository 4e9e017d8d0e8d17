//! `jobs/{id}/logs/` of a large log, streamed by the test server a batch of lines
//! at a time, read whole by both clients: every byte arrives, quotes, backslashes,
//! control and multi-byte characters included.

use agent_client_async::AsyncAgentClient;
use agent_client_blocking::AgentClient;
use agent_testkit::{AgentTestServer, BlockingTestServer, JobSpec};

const BIG: &str = "raysubmit_biglog";
const ODD: &str = "raysubmit_oddlog";

#[test]
fn a_large_log_reads_whole_through_both_clients() {
    let odd_lines = [
        "quote \" backslash \\ slash /",
        "tab\tbell\u{7}esc\u{1b}nul\u{0}",
        "é € 𝄞 \u{FFFD}",
        "",
        "last",
    ];
    let server = AgentTestServer::builder()
        // 100,000 lines of 100 bytes: ~10 MB, hundreds of pieces
        .job(JobSpec::new(BIG).generate(100_000, 100))
        .job(JobSpec::new(ODD).lines(odd_lines))
        .start_blocking()
        .unwrap();
    let blocking = AgentClient::builder(server.url(), server.token())
        .build()
        .unwrap();
    // the jobs write their logs at start: wait until both are finished
    for job in [BIG, ODD] {
        let mut tries = 0;
        while !blocking.get_job(job).unwrap().status.is_terminal() {
            tries += 1;
            assert!(tries < 500, "{job} never finished");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
    let big = server.handle().job_log(BIG).unwrap();
    assert!(big.len() > 10_000_000, "{}", big.len());
    let odd = server.handle().job_log(ODD).unwrap();
    assert_eq!(odd, odd_lines.map(|l| format!("{l}\n")).concat());

    let [by_blocking, by_async] = logs_through_both_clients(&server, BIG);
    assert!(by_blocking == big && by_async == big);
    assert_eq!(logs_through_both_clients(&server, ODD), [odd.clone(), odd]);
}

/// `job`'s whole log as the blocking client reads it, then as the async client does.
fn logs_through_both_clients(server: &BlockingTestServer, job: &str) -> [String; 2] {
    let blocking = AgentClient::builder(server.url(), server.token())
        .build()
        .unwrap();
    let by_blocking = blocking.get_job_logs(job).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let by_async = rt.block_on(async {
        let client = AsyncAgentClient::builder(server.url(), server.token())
            .build()
            .unwrap();
        client.get_job_logs(job).await.unwrap()
    });
    [by_blocking, by_async]
}

/// A job that has not printed yet has an empty log: both clients read `""` (the
/// server reads the first piece on its own; issue 27: an empty log used to panic
/// the server's task, and the client got an incomplete answer).
#[test]
fn an_empty_log_reads_as_an_empty_string_through_both_clients() {
    use agent_testkit::sample::PENDING_JOB;

    let server = AgentTestServer::sample().start_blocking().unwrap();
    assert_eq!(server.handle().job_log(PENDING_JOB).unwrap(), "");
    assert_eq!(logs_through_both_clients(&server, PENDING_JOB), ["", ""]);
}
