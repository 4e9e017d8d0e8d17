//! The blocking client as a synchronous program uses it (no tokio anywhere in the
//! test), its refusal inside an async runtime (a 500 `Usage` error, never a panic or
//! a deadlock), its clones across threads, and `close()`.

mod common;

use agent_client_async::{AsyncAgentClient, LogTail};
use agent_client_blocking::{
    AgentClient, ClientError, CreatePluginRelease, JobStatus, LogTailIter, Protocol,
    RunPluginRelease, TailOptions,
};
use agent_testkit::sample::{GPU_NODE, RUNNING_JOB, SERVE_APP, SUCCEEDED_JOB};
use agent_testkit::{AgentTestServer, BlockingTestServer, JobSpec, RouteKind};
use common::drain_blocking;
use http::Method;
use std::sync::mpsc;
use std::time::Duration;

fn sample() -> BlockingTestServer {
    AgentTestServer::sample().start_blocking().unwrap()
}

fn is_usage(e: &ClientError) -> bool {
    matches!(e, ClientError::Usage { .. }) && e.status_code() == 500
}

/// Runs `f` on a thread of its own and fails (instead of hanging the suite) if it
/// does not finish within 30 s: a deadlock shows as a failure.
fn without_deadlock<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
    });
    match rx.recv_timeout(common::HANG) {
        Ok(Ok(v)) => v,
        Ok(Err(panic)) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            panic!("{what} panicked: {msg}")
        }
        Err(_) => panic!("{what} deadlocked (no answer in {:?})", common::HANG),
    }
}

#[test]
fn the_whole_surface_from_a_plain_program() {
    let server = sample();
    let c = AgentClient::builder(server.url(), server.token())
        .user_token("u")
        .tenant("t")
        .build()
        .unwrap();
    assert_eq!(c.health_check().unwrap().status.as_deref(), Some("ok"));
    let jobs = c.list_jobs().unwrap();
    assert_eq!(jobs.len(), 6);
    assert_eq!(
        c.get_job(SUCCEEDED_JOB).unwrap().status,
        JobStatus::Succeeded
    );
    let logs = c.get_job_logs(SUCCEEDED_JOB).unwrap();
    assert_eq!(logs, server.job_log(SUCCEEDED_JOB).unwrap());
    assert!(c.stop_job(RUNNING_JOB).unwrap().stopped);
    assert_eq!(c.list_nodes().unwrap().len(), 2);
    assert_eq!(c.get_node(GPU_NODE).unwrap().node_id, GPU_NODE);
    let tasks = c.list_tasks().unwrap();
    assert_eq!(
        c.get_task(&tasks[0].task_id).unwrap().task_id,
        tasks[0].task_id
    );
    assert_eq!(c.list_serve_applications().unwrap().len(), 1);
    assert_eq!(c.get_serve_application(SERVE_APP).unwrap().name, SERVE_APP);
    c.delete_serve_application(SERVE_APP).unwrap();
    assert_eq!(
        c.list_plugin_releases::<&str, &str>(&[]).unwrap().count,
        Some(1)
    );
    assert!(c.get_plugin_release("demo@1.0.0").is_ok());
    let created = c
        .create_plugin_release(&CreatePluginRelease::new("p", "0.1.0"))
        .unwrap();
    assert_eq!(created.version.as_deref(), Some("0.1.0"));
    c.delete_plugin_release("p@0.1.0").unwrap();
    let run = c
        .run_plugin_release("demo@1.0.0", &RunPluginRelease::new("test"))
        .unwrap();
    let run_job = run["job_id"].as_str().unwrap().to_owned();
    let debug = c
        .run_debug_plugin_release(&agent_client_blocking::RunDebugPluginRelease::new("test"))
        .unwrap();
    assert!(debug["job_id"].is_string());
    assert_eq!(c.get_gpu_status().unwrap().total_gpus, 1.0);
    assert_eq!(
        c.raw_request(Method::GET, "nodes/", &[] as &[(&str, &str)], None)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // tails as iterators, with their counters and protocol
    for p in [Protocol::WebSocket, Protocol::Http, Protocol::Auto] {
        let mut tail = c
            .tail_job_logs(&run_job, TailOptions::new().protocol(p))
            .unwrap();
        let (lines, err) = drain_blocking(&mut tail);
        assert!(err.is_none(), "{err:?}");
        assert_eq!(lines.len(), 5);
        assert_eq!(tail.counters().delivered, 5);
        assert_ne!(tail.protocol_used(), Protocol::Auto);
        // a finished iterator stays finished
        assert!(tail.next().is_none());
    }
    // the user document's loop
    let mut n = 0;
    for line in c.tail_job_logs(SUCCEEDED_JOB, TailOptions::new()).unwrap() {
        line.unwrap();
        n += 1;
    }
    assert_eq!(n as u64, server.job_log_len(SUCCEEDED_JOB).unwrap());
    assert_eq!(
        c.stream_limits(),
        agent_client_blocking::StreamLimits::default()
    );
    assert_eq!(c.base_url(), server.url());
    assert!(server
        .journal()
        .iter()
        .all(|e| e.header("synapse-tenant") == Some("Token t")));

    c.close();
    assert!(c.is_closed());
    assert!(is_usage(&c.list_jobs().unwrap_err()));
    assert!(is_usage(
        &c.tail_job_logs(SUCCEEDED_JOB, TailOptions::new())
            .unwrap_err()
    ));
}

/// Inside an async runtime every call is refused with a clear 500, on a current-
/// thread runtime that also serves the test server (where blocking would deadlock)
/// and on a multi-threaded one.
#[test]
fn inside_a_runtime_calls_are_refused_not_panicking_or_deadlocking() {
    // a tail opened outside any runtime, to be polled inside one below
    let outside = sample();
    let outside_client = AgentClient::new(outside.url(), outside.token()).unwrap();
    let early_tail = outside_client
        .tail_job_logs(SUCCEEDED_JOB, TailOptions::new())
        .unwrap();

    for multi in [false, true] {
        without_deadlock("a blocking call inside a runtime", move || {
            let rt = if multi {
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .unwrap()
            } else {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap()
            };
            rt.block_on(async {
                let server = AgentTestServer::sample().build().await.unwrap();
                // building inside a runtime is allowed; calling is not
                let c = AgentClient::new(server.url(), server.token()).unwrap();
                let errors = [
                    c.health_check().map(drop).unwrap_err(),
                    c.list_jobs().map(drop).unwrap_err(),
                    c.get_job(SUCCEEDED_JOB).map(drop).unwrap_err(),
                    c.stop_job(RUNNING_JOB).map(drop).unwrap_err(),
                    c.tail_job_logs(SUCCEEDED_JOB, TailOptions::new())
                        .map(drop)
                        .unwrap_err(),
                    c.raw_request(Method::GET, "health/", &[] as &[(&str, &str)], None)
                        .map(drop)
                        .unwrap_err(),
                ];
                for e in &errors {
                    assert!(is_usage(e), "{e:?}");
                    assert!(e.to_string().contains("AsyncAgentClient"), "{e}");
                }
                // nothing reached the server
                assert!(server.journal().is_empty());
                // closing and dropping inside a runtime are fine too
                c.close();
                drop(c);
            });
        });
    }

    // an iterator made outside, advanced inside a runtime: an error, then the end
    let mut tail = early_tail;
    let first = without_deadlock("a tail advanced inside a runtime", move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let first = rt.block_on(async { tail.next() });
        let second = rt.block_on(async { tail.next() });
        (first, second.is_none())
    });
    match first {
        (Some(Err(e)), true) => assert!(is_usage(&e), "{e:?}"),
        other => panic!("{other:?}"),
    }
    drop(outside_client);
}

/// Building with bad settings inside a runtime is the same 400 as outside, not a
/// panic (the private runtime must not be dropped in the async context).
#[test]
fn building_with_bad_settings_inside_a_runtime_is_an_error_not_a_panic() {
    let code = without_deadlock("a failing build inside a runtime", || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            AgentClient::builder("not a url", "token")
                .build()
                .map(drop)
                .unwrap_err()
                .status_code()
        })
    });
    assert_eq!(code, 400);
}

#[test]
fn clients_and_tails_are_send_and_sync() {
    fn send_sync<T: Send + Sync + Clone + 'static>() {}
    fn send<T: Send + 'static>() {}
    fn sync<T: Sync>() {}
    send_sync::<AgentClient>();
    send_sync::<AsyncAgentClient>();
    send::<LogTailIter>();
    send::<LogTail>();
    sync::<LogTail>();
    send_sync::<ClientError>();
}

/// Clones share one client across threads, all at once.
#[test]
fn clones_work_from_many_threads_at_once() {
    let server = sample();
    let c = AgentClient::new(server.url(), server.token()).unwrap();
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let c = c.clone();
            std::thread::spawn(move || {
                for _ in 0..5 {
                    assert_eq!(c.list_jobs().unwrap().len(), 6);
                }
                let p = if i % 2 == 0 {
                    Protocol::WebSocket
                } else {
                    Protocol::Http
                };
                let (lines, err) = drain_blocking(
                    &mut c
                        .tail_job_logs(SUCCEEDED_JOB, TailOptions::new().protocol(p))
                        .unwrap(),
                );
                assert!(err.is_none(), "{err:?}");
                lines
            })
        })
        .collect();
    let results: Vec<Vec<String>> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(results.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(server.requests(RouteKind::ListJobs).len(), 20);
}

/// `close()` on one clone closes them all, ends open tails with an error (never a
/// silent end), and later calls are refused.
#[test]
fn close_ends_open_tails_and_refuses_later_calls() {
    let server = AgentTestServer::builder()
        .job(JobSpec::new("raysubmit_endless").endless(20).rate(100.0))
        .job(JobSpec::new("raysubmit_done").lines(["a", "b"]))
        .start_blocking()
        .unwrap();
    let c = AgentClient::new(server.url(), server.token()).unwrap();
    let other = c.clone();
    let mut tail = c
        .tail_job_logs("raysubmit_endless", TailOptions::new())
        .unwrap();
    tail.next().unwrap().unwrap();
    other.close();
    assert!(c.is_closed());
    let (_, err) = drain_blocking(&mut tail);
    let err = err.expect("a closed client's tail ended silently");
    assert!(is_usage(&err), "{err:?}");
    assert!(is_usage(&c.get_job("raysubmit_done").unwrap_err()));
    // closing twice is harmless
    c.close();
}

/// A tail outlives the client it came from: dropping every clone of the client does
/// not cut it.
#[test]
fn a_tail_outlives_its_client() {
    let server = AgentTestServer::builder()
        .job(JobSpec::new("raysubmit_1").lines(common::lines("l", 50)))
        .start_blocking()
        .unwrap();
    let c = AgentClient::new(server.url(), server.token()).unwrap();
    let mut tail = c
        .tail_job_logs(
            "raysubmit_1",
            TailOptions::new()
                .protocol(Protocol::Http)
                .timeout(Duration::from_secs(5)),
        )
        .unwrap();
    drop(c);
    let (lines, err) = drain_blocking(&mut tail);
    assert!(err.is_none(), "{err:?}");
    assert_eq!(lines, common::lines("l", 50));
}
