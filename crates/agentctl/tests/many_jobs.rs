//! Issue 23 ("agentctl for many jobs at once") through the built `agentctl` binary,
//! against the test agent's scripted jobs: several ids, selectors, the status
//! filter, `--max-log-requests`, prefixes and colours, whole lines in the log's
//! order (generated), filters and their counts, the exit rule of many jobs, `jobs
//! wait` of many, `--tail N` / `--from-line K`, and `--watch`.

use agent_proto::JobStatus;
use agent_testkit::{AgentTestServer, BlockingTestServer, JobSpec, TailFault};
use proptest::prelude::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

mod support;
use support::*;

fn server(jobs: Vec<JobSpec>) -> BlockingTestServer {
    let mut b = AgentTestServer::builder();
    for j in jobs {
        b = b.job(j);
    }
    b.start_blocking().expect("test agent starts")
}

/// `n` lines `id line i`.
fn lines_of(id: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{id} line {i}")).collect()
}

fn job(id: &str, n: usize) -> JobSpec {
    JobSpec::new(id).lines(lines_of(id, n))
}

/// stdout's lines of job `id` (without its `[id] ` prefix).
fn lines_for<'a>(stdout: &'a str, id: &str) -> Vec<&'a str> {
    let tag = format!("[{id}] ");
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix(tag.as_str()))
        .collect()
}

/// The `-o jsonl` objects of stdout.
fn objects(out: &Output) -> Vec<Value> {
    out.stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}\n{out:?}")))
        .collect()
}

/// The end object of job `id`.
fn end_of(out: &Output, id: &str) -> Value {
    objects(out)
        .into_iter()
        .find(|o| o["job"] == id && o.get("end").is_some())
        .unwrap_or_else(|| panic!("no end object of {id}: {out:?}"))
}

#[test]
fn several_ids_are_followed_at_once_each_line_prefixed_with_its_job() {
    let s = server(vec![job("raysubmit_a", 50), job("raysubmit_b", 70)]);
    let out = agentctl(&s, &["jobs", "tail", "raysubmit_a", "raysubmit_b"]);
    ok(&out);
    for (id, n) in [("raysubmit_a", 50), ("raysubmit_b", 70)] {
        assert_eq!(lines_for(&out.stdout, id), lines_of(id, n), "{out:?}");
    }
    assert_eq!(out.stdout.lines().count(), 120, "{out:?}");
    // One summary line per job on stderr: id, status, lines.
    assert!(
        out.stderr.lines().any(|l| l.contains("raysubmit_a")
            && l.contains("SUCCEEDED")
            && l.contains("50 lines")),
        "{out:?}"
    );
    assert!(
        out.stderr.lines().any(|l| l.contains("raysubmit_b")
            && l.contains("SUCCEEDED")
            && l.contains("70 lines")),
        "{out:?}"
    );
    // A job named twice is followed once.
    let out = agentctl(
        &s,
        &["jobs", "tail", "raysubmit_a", "raysubmit_b", "raysubmit_a"],
    );
    ok(&out);
    assert_eq!(out.stdout.lines().count(), 120, "{out:?}");
}

#[test]
fn prefixes_can_be_forced_either_way() {
    let s = server(vec![job("raysubmit_a", 3), job("raysubmit_b", 2)]);
    let out = agentctl(
        &s,
        &["jobs", "tail", "raysubmit_a", "raysubmit_b", "--no-prefix"],
    );
    ok(&out);
    assert_eq!(out.stdout.lines().count(), 5, "{out:?}");
    assert!(!out.stdout.contains('['), "{out:?}");
    let out = agentctl(&s, &["jobs", "tail", "raysubmit_a", "--prefix"]);
    ok(&out);
    assert_eq!(
        out.stdout,
        "[raysubmit_a] raysubmit_a line 0\n[raysubmit_a] raysubmit_a line 1\n[raysubmit_a] raysubmit_a line 2\n"
    );
    // One id and none of the flags of many: the single-job tail, unchanged.
    let out = agentctl(&s, &["jobs", "tail", "raysubmit_a"]);
    ok(&out);
    assert_eq!(
        out.stdout,
        "raysubmit_a line 0\nraysubmit_a line 1\nraysubmit_a line 2\n"
    );
    assert!(!out.stderr.contains("lines"), "{out:?}");
}

#[test]
fn selectors_and_the_status_filter_pick_the_jobs() {
    let s = server(vec![
        job("raysubmit_lr1", 2).metadata(json!({"sweep": "lr", "team": "vision"})),
        job("raysubmit_lr2", 3)
            .metadata(json!({"sweep": "lr", "team": "nlp"}))
            .fails(Some("boom")),
        job("raysubmit_bs1", 4).metadata(json!({"sweep": "bs", "team": "vision"})),
        job("raysubmit_plain", 1),
    ]);
    let out = agentctl(&s, &["jobs", "tail", "-l", "sweep=lr"]);
    assert_eq!(out.code, 7, "{out:?}");
    assert_eq!(lines_for(&out.stdout, "raysubmit_lr1").len(), 2, "{out:?}");
    assert_eq!(lines_for(&out.stdout, "raysubmit_lr2").len(), 3, "{out:?}");
    assert_eq!(out.stdout.lines().count(), 5, "{out:?}");

    let out = agentctl(&s, &["jobs", "tail", "--selector", "sweep=lr,team=vision"]);
    ok(&out);
    assert_eq!(out.stdout.lines().count(), 2, "{out:?}");
    // Repeated -l: all must hold.
    let out = agentctl(&s, &["jobs", "tail", "-l", "team=vision", "-l", "sweep=bs"]);
    ok(&out);
    assert_eq!(lines_for(&out.stdout, "raysubmit_bs1").len(), 4, "{out:?}");
    assert_eq!(out.stdout.lines().count(), 4, "{out:?}");

    let out = agentctl(&s, &["jobs", "tail", "--status", "failed"]);
    assert_eq!(out.code, 7, "{out:?}");
    assert_eq!(lines_for(&out.stdout, "raysubmit_lr2").len(), 3, "{out:?}");
    assert_eq!(out.stdout.lines().count(), 3, "{out:?}");

    // Nothing matches: not found (exit 3), never a silent success.
    let out = agentctl(&s, &["jobs", "tail", "-l", "sweep=none"]);
    assert_eq!(out.code, 3, "{out:?}");
    // A malformed selector, ids with a selector, --watch with ids: usage (exit 2).
    for args in [
        &["jobs", "tail", "-l", "sweep"][..],
        &["jobs", "tail", "raysubmit_lr1", "-l", "sweep=lr"],
        &["jobs", "tail", "raysubmit_lr1", "raysubmit_lr2", "--watch"],
        &["jobs", "tail", "raysubmit_lr1", "--include", "("],
        &[
            "jobs",
            "tail",
            "raysubmit_lr1",
            "--tail",
            "3",
            "--from-line",
            "2",
        ],
        &["jobs", "tail"],
    ] {
        let out = agentctl(&s, args);
        assert_eq!(out.code, 2, "{args:?}: {out:?}");
    }
}

#[test]
fn more_jobs_than_max_log_requests_is_a_usage_error_that_says_how_many() {
    let s = server(
        (0..12)
            .map(|i| job(&format!("raysubmit_{i}"), 1).metadata(json!({"sweep": "x"})))
            .collect(),
    );
    let out = agentctl(&s, &["jobs", "tail", "-l", "sweep=x"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("12 jobs matched"), "{out:?}");
    assert!(out.stderr.contains("--max-log-requests"), "{out:?}");
    assert_eq!(out.stdout, "", "{out:?}");
    let ids: Vec<String> = (0..3).map(|i| format!("raysubmit_{i}")).collect();
    let mut args = vec!["jobs", "tail", "--max-log-requests", "2"];
    args.extend(ids.iter().map(String::as_str));
    let out = agentctl(&s, &args);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("3 jobs matched"), "{out:?}");
    // Raised, all twelve are followed.
    let out = agentctl(
        &s,
        &["jobs", "tail", "-l", "sweep=x", "--max-log-requests", "12"],
    );
    ok(&out);
    assert_eq!(out.stdout.lines().count(), 12, "{out:?}");
}

#[test]
fn jsonl_objects_carry_the_job_and_each_end_comes_when_its_job_ends() {
    let s = server(vec![
        job("raysubmit_a", 4),
        job("raysubmit_b", 2).fails(None),
    ]);
    let out = agentctl(
        &s,
        &["-o", "jsonl", "jobs", "tail", "raysubmit_a", "raysubmit_b"],
    );
    assert_eq!(out.code, 7, "{out:?}");
    let objs = objects(&out);
    for id in ["raysubmit_a", "raysubmit_b"] {
        let mine: Vec<&Value> = objs.iter().filter(|o| o["job"] == id).collect();
        let end = mine.last().unwrap_or_else(|| panic!("{out:?}"));
        // The job's end object is its last one, after every line of it.
        assert!(end.get("end").is_some(), "{out:?}");
        let lines: Vec<&str> = mine.iter().filter_map(|o| o["line"].as_str()).collect();
        assert_eq!(
            lines.len() as u64,
            end["delivered"].as_u64().unwrap(),
            "{out:?}"
        );
    }
    assert_eq!(end_of(&out, "raysubmit_a")["status"], "SUCCEEDED");
    assert_eq!(end_of(&out, "raysubmit_b")["status"], "FAILED");
    assert_eq!(end_of(&out, "raysubmit_a")["end"], "complete");
}

#[test]
fn include_and_exclude_filter_lines_and_the_end_counts_what_they_left_out() {
    let lines = [
        "INFO start",
        "ERROR disk",
        "DEBUG x",
        "ERROR net DEBUG",
        "Traceback",
        "INFO end",
    ];
    let s = server(vec![
        JobSpec::new("raysubmit_a").lines(lines),
        JobSpec::new("raysubmit_b").lines(lines),
    ]);
    let out = agentctl(
        &s,
        &[
            "-o",
            "jsonl",
            "jobs",
            "tail",
            "raysubmit_a",
            "raysubmit_b",
            "--include",
            "ERROR",
            "--include",
            "^Trace",
            "--exclude",
            "DEBUG",
        ],
    );
    ok(&out);
    for id in ["raysubmit_a", "raysubmit_b"] {
        let kept: Vec<String> = objects(&out)
            .iter()
            .filter(|o| o["job"] == id)
            .filter_map(|o| o["line"].as_str().map(str::to_owned))
            .collect();
        assert_eq!(kept, ["ERROR disk", "Traceback"], "{out:?}");
        let end = end_of(&out, id);
        assert_eq!(end["delivered"], 2, "{out:?}");
        assert_eq!(end["filtered"], 4, "{out:?}");
    }
    // The summary says it too.
    let out = agentctl(&s, &["jobs", "tail", "raysubmit_a", "--exclude", "INFO"]);
    ok(&out);
    assert_eq!(
        out.stdout, "ERROR disk\nDEBUG x\nERROR net DEBUG\nTraceback\n",
        "{out:?}"
    );
    assert!(out.stderr.contains("4 lines (2 filtered)"), "{out:?}");
}

#[test]
fn the_exit_code_of_many_jobs_follows_the_rule() {
    let s = server(vec![
        job("raysubmit_ok1", 2),
        job("raysubmit_ok2", 2),
        job("raysubmit_failed", 2).fails(Some("boom")),
        job("raysubmit_stopped", 2).status(JobStatus::Stopped),
        job("raysubmit_broken", 5).tail_fault(TailFault::error_after(2, "the agent broke")),
    ]);
    let tail = |ids: &[&str]| {
        let mut args = vec!["jobs", "tail"];
        args.extend_from_slice(ids);
        agentctl(&s, &args)
    };
    assert_eq!(tail(&["raysubmit_ok1", "raysubmit_ok2"]).code, 0);
    assert_eq!(tail(&["raysubmit_ok1", "raysubmit_stopped"]).code, 8);
    assert_eq!(
        tail(&["raysubmit_stopped", "raysubmit_failed", "raysubmit_ok1"]).code,
        7
    );
    // A failed tail wins over the jobs' outcomes: its own code (1: the agent's error event).
    let out = tail(&["raysubmit_failed", "raysubmit_broken", "raysubmit_ok1"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("the agent broke"), "{out:?}");
    // ... and the first code by the table's order: 1 before 3 (a job that does not exist).
    let out = tail(&["raysubmit_nope", "raysubmit_broken"]);
    assert_eq!(out.code, 1, "{out:?}");
    let out = tail(&["raysubmit_nope", "raysubmit_failed"]);
    assert_eq!(out.code, 3, "{out:?}");
    // Every job has its summary line, the other tails were followed to their end.
    assert_eq!(
        lines_for(&out.stdout, "raysubmit_failed").len(),
        2,
        "{out:?}"
    );
    assert!(out.stderr.contains("raysubmit_nope"), "{out:?}");
    assert!(
        out.stderr
            .lines()
            .any(|l| l.contains("raysubmit_failed") && l.contains("FAILED")),
        "{out:?}"
    );
}

#[test]
fn jobs_wait_takes_several_ids_and_selectors_with_the_same_rule() {
    let s = server(vec![
        job("raysubmit_ok1", 1).metadata(json!({"sweep": "a"})),
        job("raysubmit_ok2", 1).metadata(json!({"sweep": "a"})),
        job("raysubmit_failed", 1)
            .fails(None)
            .metadata(json!({"sweep": "b"})),
        job("raysubmit_stopped", 1)
            .status(JobStatus::Stopped)
            .metadata(json!({"sweep": "b"})),
    ]);
    let out = agentctl(&s, &["jobs", "wait", "raysubmit_ok1", "raysubmit_ok2"]);
    ok(&out);
    let mut got: Vec<&str> = out.stdout.lines().collect();
    got.sort();
    assert_eq!(
        got,
        ["job raysubmit_ok1 SUCCEEDED", "job raysubmit_ok2 SUCCEEDED"]
    );
    assert_eq!(agentctl(&s, &["jobs", "wait", "-l", "sweep=a"]).code, 0);
    assert_eq!(agentctl(&s, &["jobs", "wait", "-l", "sweep=b"]).code, 7);
    assert_eq!(
        agentctl(&s, &["jobs", "wait", "raysubmit_ok1", "raysubmit_stopped"]).code,
        8
    );
    assert_eq!(
        agentctl(&s, &["jobs", "wait", "--status", "stopped"]).code,
        8
    );
    let out = agentctl(&s, &["jobs", "wait", "raysubmit_failed", "raysubmit_nope"]);
    assert_eq!(out.code, 3, "{out:?}");
    assert!(
        out.stdout.contains("job raysubmit_failed FAILED"),
        "{out:?}"
    );
    let out = agentctl(
        &s,
        &[
            "-o",
            "json",
            "jobs",
            "wait",
            "raysubmit_ok1",
            "raysubmit_failed",
        ],
    );
    assert_eq!(out.code, 7, "{out:?}");
    assert_eq!(out.stdout.lines().count(), 2, "{out:?}");
    // One id: as always.
    let out = agentctl(&s, &["jobs", "wait", "raysubmit_stopped"]);
    assert_eq!(out.code, 8, "{out:?}");
    assert_eq!(out.stdout, "job raysubmit_stopped STOPPED\n");
}

#[test]
fn tail_n_and_from_line_k_start_where_asked() {
    let s = server(vec![job("raysubmit_a", 40), job("raysubmit_b", 5)]);
    let out = agentctl(&s, &["jobs", "tail", "raysubmit_a", "--tail", "3"]);
    ok(&out);
    assert_eq!(
        out.stdout,
        "raysubmit_a line 37\nraysubmit_a line 38\nraysubmit_a line 39\n"
    );
    let out = agentctl(
        &s,
        &["jobs", "tail", "raysubmit_a", "raysubmit_b", "--tail", "10"],
    );
    ok(&out);
    assert_eq!(
        lines_for(&out.stdout, "raysubmit_a"),
        lines_of("raysubmit_a", 40)[30..].to_vec()
    );
    assert_eq!(
        lines_for(&out.stdout, "raysubmit_b"),
        lines_of("raysubmit_b", 5)
    );
    let out = agentctl(&s, &["jobs", "tail", "raysubmit_a", "--tail", "0"]);
    ok(&out);
    assert_eq!(out.stdout, "");
    let out = agentctl(
        &s,
        &[
            "jobs",
            "tail",
            "raysubmit_a",
            "raysubmit_b",
            "--from-line",
            "4",
        ],
    );
    ok(&out);
    assert_eq!(
        lines_for(&out.stdout, "raysubmit_a"),
        lines_of("raysubmit_a", 40)[3..].to_vec()
    );
    assert_eq!(
        lines_for(&out.stdout, "raysubmit_b"),
        lines_of("raysubmit_b", 5)[3..].to_vec()
    );
    // jobs logs --tail N asks the agent for ?tail=N (and trims when it is ignored).
    s.clear_journal();
    let out = agentctl(&s, &["jobs", "logs", "raysubmit_a", "--tail", "2"]);
    ok(&out);
    assert_eq!(out.stdout, "raysubmit_a line 38\nraysubmit_a line 39\n");
    assert!(
        s.journal().iter().any(|e| e.path.contains("logs/?tail=2")),
        "{:?}",
        s.journal()
    );
}

#[test]
fn on_a_terminal_each_job_has_its_own_colour_and_no_color_turns_it_off() {
    let s = server(vec![job("raysubmit_a", 1), job("raysubmit_b", 1)]);
    let Some(out) = on_a_terminal_with(
        &s,
        &[("NO_COLOR", "")],
        &["jobs", "tail", "raysubmit_a", "raysubmit_b"],
    ) else {
        return;
    };
    assert!(
        out.stdout
            .contains("\x1b[36m[raysubmit_a]\x1b[0m raysubmit_a line 0"),
        "{out:?}"
    );
    assert!(
        out.stdout
            .contains("\x1b[32m[raysubmit_b]\x1b[0m raysubmit_b line 0"),
        "{out:?}"
    );
    let Some(out) = on_a_terminal_with(&s, &[], &["jobs", "tail", "raysubmit_a", "raysubmit_b"])
    else {
        return;
    };
    assert!(!out.stdout.contains('\x1b'), "{out:?}");
    // In a pipe: none.
    let out = agentctl(&s, &["jobs", "tail", "raysubmit_a", "raysubmit_b"]);
    assert!(!out.stdout.contains('\x1b'), "{out:?}");
}

#[test]
fn watch_follows_jobs_that_start_later_until_ctrl_c() {
    let s = server(vec![job("raysubmit_w1", 2).metadata(json!({"sweep": "w"}))]);
    let (child, rx) = spawn(&s, &["jobs", "tail", "-l", "sweep=w", "--watch"]);
    wait_for(&rx, "[raysubmit_w1] raysubmit_w1 line 1");
    s.add_job(job("raysubmit_w2", 3).metadata(json!({"sweep": "w"})))
        .expect("job added");
    s.add_job(job("raysubmit_other", 3).metadata(json!({"sweep": "z"})))
        .expect("job added");
    wait_for(&rx, "[raysubmit_w2] raysubmit_w2 line 2");
    // Ctrl-C ends the watch: exit 130, with the summary of both jobs.
    ctrl_c(&child);
    let out = finish(child, std::thread::spawn(String::new));
    assert_eq!(out.code, 130, "{out:?}");
    assert!(out.stderr.contains("raysubmit_w1"), "{out:?}");
    assert!(out.stderr.contains("raysubmit_w2"), "{out:?}");
    assert!(!out.stderr.contains("raysubmit_other"), "{out:?}");
}

/// Runs `agentctl args` against `s` in the background: the child and a channel of its
/// stdout lines.
fn spawn(s: &BlockingTestServer, args: &[&str]) -> (std::process::Child, mpsc::Receiver<String>) {
    let mut cmd = command();
    cmd.env("AGENT_URL", s.url())
        .env("AGENT_TOKEN", s.token())
        .args(args);
    let mut child = cmd.spawn().expect("agentctl starts");
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (child, rx)
}

/// Waits (up to the deadline) for the line `want` on `rx`; the lines before it.
fn wait_for(rx: &mpsc::Receiver<String>, want: &str) -> Vec<String> {
    let start = Instant::now();
    let mut before = Vec::new();
    while start.elapsed() < DEADLINE {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
            if line == want {
                return before;
            }
            before.push(line);
        }
    }
    panic!("never saw {want:?} (saw {before:?})");
}

fn ctrl_c(child: &std::process::Child) {
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
}

#[test]
fn under_watch_a_job_past_max_log_requests_waits_for_a_free_slot() {
    let s = server(vec![job("raysubmit_q1", 2)
        .metadata(json!({"sweep": "q"}))
        .keeps_running()]);
    let (child, rx) = spawn(
        &s,
        &[
            "jobs",
            "tail",
            "-l",
            "sweep=q",
            "--watch",
            "--max-log-requests",
            "1",
        ],
    );
    wait_for(&rx, "[raysubmit_q1] raysubmit_q1 line 1");
    s.add_job(job("raysubmit_q2", 2).metadata(json!({"sweep": "q"})))
        .expect("job added");
    // Not followed while the first one holds the only slot ...
    std::thread::sleep(Duration::from_secs(3));
    assert!(rx.try_iter().all(|l| !l.contains("raysubmit_q2")));
    // ... and followed once it ends.
    assert!(s.finish_job("raysubmit_q1"));
    wait_for(&rx, "[raysubmit_q2] raysubmit_q2 line 1");
    ctrl_c(&child);
    let out = finish(child, std::thread::spawn(String::new));
    assert_eq!(out.code, 130, "{out:?}");
    assert!(out.stderr.contains("raysubmit_q2 waits"), "{out:?}");
    assert!(
        out.stderr
            .lines()
            .any(|l| l.contains("raysubmit_q1") && l.contains("SUCCEEDED")),
        "{out:?}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(6))]
    /// Many jobs with many lines of many lengths, in a pipe and in `-o jsonl`: every
    /// output line is one whole line of one job, and per job the lines come in the
    /// log's order, all of them.
    #[test]
    fn lines_of_different_jobs_never_interleave(
        jobs in 2usize..7,
        lines in 200usize..1500,
        widths in proptest::collection::vec(1usize..3000, 1..8),
    ) {
        let logs: BTreeMap<String, Vec<String>> = (0..jobs)
            .map(|j| {
                let id = format!("raysubmit_gen{j}");
                let log = (0..lines)
                    .map(|i| {
                        let w = widths[(i + j) % widths.len()];
                        format!("{id} {i} {}", "x".repeat(w))
                    })
                    .collect();
                (id, log)
            })
            .collect();
        let s = server(
            logs.iter()
                .map(|(id, log)| JobSpec::new(id.as_str()).lines(log.clone()).tail_batch(3))
                .collect(),
        );
        let ids: Vec<&str> = logs.keys().map(String::as_str).collect();
        let mut args = vec!["jobs", "tail"];
        args.extend(ids.iter().copied());
        let out = agentctl(&s, &args);
        prop_assert_eq!(out.code, 0, "{:?}", out.stderr);
        let mut seen: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for line in out.stdout.lines() {
            let (tag, rest) = line.split_once("] ").unwrap_or_else(|| panic!("not a whole line: {line:.80}"));
            let id = tag.strip_prefix('[').unwrap_or_else(|| panic!("not a whole line: {line:.80}"));
            seen.entry(id).or_default().push(rest);
        }
        for (id, log) in &logs {
            let got = seen.get(id.as_str()).cloned().unwrap_or_default();
            prop_assert!(got.iter().copied().eq(log.iter().map(String::as_str)), "job {} out of order or incomplete", id);
        }
        let mut args = vec!["-o", "jsonl", "jobs", "tail"];
        args.extend(ids.iter().copied());
        let out = agentctl(&s, &args);
        prop_assert_eq!(out.code, 0);
        let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for o in objects(&out) {
            if let Some(line) = o["line"].as_str() {
                seen.entry(o["job"].as_str().unwrap_or_default().to_owned()).or_default().push(line.to_owned());
            }
        }
        for (id, log) in &logs {
            prop_assert_eq!(seen.get(id), Some(log));
        }
    }
}

/// Issue 22, item 3: `--tail N` and `--from-line K` are asked of the agent
/// (`?tail=N`, `?from_line=K`); an agent that ignores them (here one that sends
/// unnumbered lines from the first, as the SDK's agent does) gets the same output,
/// trimmed client-side.
#[test]
fn tail_n_and_from_line_k_are_asked_of_the_agent_and_kept_when_ignored() {
    let s = server(vec![
        job("raysubmit_a", 40),
        job("raysubmit_plain", 40).tail_fault(TailFault::not_json()),
    ]);
    for id in ["raysubmit_a", "raysubmit_plain"] {
        s.clear_journal();
        let out = agentctl(&s, &["jobs", "tail", id, "--tail", "3"]);
        ok(&out);
        assert_eq!(
            out.stdout.lines().collect::<Vec<_>>(),
            lines_of(id, 40)[37..].to_vec()
        );
        assert!(
            s.journal().iter().any(|e| e.path.ends_with("logs/?tail=3")),
            "{:?}",
            s.journal()
        );
        s.clear_journal();
        let out = agentctl(&s, &["jobs", "tail", id, "--from-line", "38"]);
        ok(&out);
        assert_eq!(
            out.stdout.lines().collect::<Vec<_>>(),
            lines_of(id, 40)[37..].to_vec()
        );
        assert!(
            s.journal()
                .iter()
                .any(|e| e.path.ends_with("logs/?from_line=38")),
            "{:?}",
            s.journal()
        );
    }
}
