//! A job's final status: `jobs wait`, `jobs stop --wait`, and the status a tail reads
//! once the log is complete, turned into the exit codes 0, 7 and 8.

use crate::exit::{Failure, JOB_FAILED, JOB_STOPPED, OTHER, UNREACHABLE};
use crate::spinner::Spinner;
use crate::time::duration;
use agent_client_async::AsyncAgentClient;
use agent_proto::{api, ClientError, Job, JobId, JobStatus};
use serde::Deserialize;
use serde_json::Value;
use std::time::{Duration, Instant};

/// How long `jobs wait` may wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wait {
    /// Give up after this long; `None`: wait until the job ends or Ctrl-C.
    pub timeout: Option<Duration>,
}

/// The first pause between two status reads; it doubles up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(200);
/// The longest pause between two status reads.
const MAX_PAUSE: Duration = Duration::from_secs(2);
/// How many times a tail reads the status of a job whose log is complete but whose
/// status is not final yet (Ray writes the status just after the last line).
const AFTER_LOG_READS: u32 = 8;

/// The job's answer, as the agent sent it and as the typed model.
pub struct Final {
    /// The agent's JSON.
    pub json: Value,
    /// The typed job.
    pub job: Job,
}

/// The job as it is now.
pub(crate) async fn read(client: &AsyncAgentClient, id: &JobId) -> Result<Final, ClientError> {
    // the job as the agent sent it, and typed below
    let get = api::Call::<(), api::JsonOrText>::new(api::Operation::GetJob(id.clone()));
    let json = client.call(get).await?.0;
    let job = Job::deserialize(&json).map_err(|e| ClientError::Decode {
        message: format!("unexpected answer shape for a job: {e}"),
    })?;
    tracing::debug!(job = %id, status = %job.status, "job status");
    Ok(Final { json, job })
}

/// Polls the job until its status is final (Ctrl-C: [`Failure::Interrupted`]; past
/// the time-out: exit 6).
pub async fn until_final(
    client: &AsyncAgentClient,
    id: &JobId,
    wait: Wait,
) -> Result<Final, Failure> {
    poll_until_final(client, id, wait, true).await
}

/// [`until_final`], with a spinner on a terminal's stderr only when `spin` (one of
/// several waits has none: their spinners would overwrite each other).
pub async fn poll_until_final(
    client: &AsyncAgentClient,
    id: &JobId,
    wait: Wait,
    spin: bool,
) -> Result<Final, Failure> {
    let start = Instant::now();
    let mut pause = FIRST_PAUSE;
    let mut spinner = Spinner::new(format!("waiting for job {id} to end"));
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        let read = read(client, id);
        let now = tokio::select! {
            biased;
            _ = &mut ctrl_c => return Err(Failure::Interrupted),
            r = read => r?,
        };
        if now.job.status.is_terminal() {
            return Ok(now);
        }
        let mut sleep = pause;
        if let Some(limit) = wait.timeout {
            let waited = start.elapsed();
            if waited >= limit {
                return Err(Failure::Local {
                    code: UNREACHABLE,
                    message: format!(
                        "job {id} is still {} after {} (--timeout)",
                        now.job.status,
                        duration(limit)
                    ),
                });
            }
            sleep = sleep.min(limit - waited);
        }
        if spin {
            spinner.set_label(format!("waiting for job {id} to end ({})", now.job.status));
            spinner.tick();
        }
        tokio::select! {
            biased;
            _ = &mut ctrl_c => return Err(Failure::Interrupted),
            _ = tokio::time::sleep(sleep) => {}
        }
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

/// The status of a job whose log is complete: read a few times until it is final;
/// exit 1 when it cannot be read or never becomes final.
pub async fn after_log(client: &AsyncAgentClient, id: &JobId) -> Result<Final, Failure> {
    let mut pause = FIRST_PAUSE;
    let mut last = None;
    for attempt in 0..AFTER_LOG_READS {
        if attempt > 0 {
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(MAX_PAUSE);
        }
        let now = read(client, id).await.map_err(|e| Failure::Local {
            code: OTHER,
            message: format!(
                "the log of job {id} is complete, but its status could not be read: {}",
                crate::exit::describe(&e)
            ),
        })?;
        if now.job.status.is_terminal() {
            return Ok(now);
        }
        last = Some(now.job.status);
    }
    Err(Failure::Local {
        code: OTHER,
        message: format!(
            "the log of job {id} is complete, but the job is still {}",
            last.map(|s| s.to_string()).unwrap_or_default()
        ),
    })
}

/// How one of several jobs ended, for the exit rule of a command that follows or
/// waits for many ([`combined`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Ended {
    /// The job's final status was read.
    Status(JobStatus),
    /// The tail or the wait itself failed: its exit code (1-6) and why.
    Failed {
        /// The exit code of the failure.
        code: u8,
        /// What failed, in words.
        message: String,
    },
}

impl Ended {
    /// The tail's or the wait's own failure, as an exit code and words.
    pub fn from_failure(f: &Failure) -> Ended {
        let (code, message) = match f {
            Failure::Client(e) => (crate::exit::code_of(e), crate::exit::describe(e)),
            Failure::Local { code, message }
            | Failure::Job {
                code,
                note: message,
            } => (*code, message.clone()),
            Failure::Io(e) => (OTHER, e.to_string()),
            Failure::Interrupted => (crate::exit::INTERRUPTED, "interrupted".to_owned()),
        };
        Ended::Failed { code, message }
    }
}

/// The exit code of several jobs: 0 when every one SUCCEEDED; else the first code
/// (by the exit table's order, 1 to 6) of a tail or wait that itself failed; else 7
/// when a job FAILED; else 8 when one was STOPPED. A status that is not final (which
/// a caller should never pass) counts as a failure of its own (1).
pub fn combined<'a>(ends: impl IntoIterator<Item = &'a Ended>) -> u8 {
    let mut failed_tail: Option<u8> = None;
    let (mut failed, mut stopped) = (false, false);
    for end in ends {
        match end {
            Ended::Status(JobStatus::Succeeded) => {}
            Ended::Status(JobStatus::Failed) => failed = true,
            Ended::Status(JobStatus::Stopped) => stopped = true,
            Ended::Status(_) => failed_tail = Some(failed_tail.map_or(OTHER, |c| c.min(OTHER))),
            Ended::Failed { code, .. } => {
                failed_tail = Some(failed_tail.map_or(*code, |c| c.min(*code)))
            }
        }
    }
    match (failed_tail, failed, stopped) {
        (Some(code), _, _) => code,
        (None, true, _) => JOB_FAILED,
        (None, false, true) => JOB_STOPPED,
        (None, false, false) => crate::exit::OK,
    }
}

/// The closing note of a command whose jobs did not all succeed:
/// `3 of 20 jobs did not succeed: 1 with an error of agentctl's own, 1 FAILED, 1 STOPPED`.
pub fn verdict(ends: &[Ended]) -> String {
    let count = |f: &dyn Fn(&Ended) -> bool| ends.iter().filter(|e| f(e)).count();
    let failed = count(&|e| *e == Ended::Status(JobStatus::Failed));
    let stopped = count(&|e| *e == Ended::Status(JobStatus::Stopped));
    let broken = count(&|e| matches!(e, Ended::Failed { .. }));
    let mut parts = Vec::new();
    if broken > 0 {
        parts.push(format!("{broken} with an error of agentctl's own"));
    }
    if failed > 0 {
        parts.push(format!("{failed} FAILED"));
    }
    if stopped > 0 {
        parts.push(format!("{stopped} STOPPED"));
    }
    format!(
        "{} of {} jobs did not succeed: {}",
        broken + failed + stopped,
        ends.len(),
        parts.join(", ")
    )
}

/// The first line of Ray's failure message, without the log excerpt it announces
/// (`..., last available logs (truncated to 20,000 chars):`): the log was printed.
fn failure_reason(message: &str) -> String {
    let first = message
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    let first = match first.find(", last available logs") {
        Some(at) => &first[..at],
        None => first,
    };
    first.trim_end_matches(':').trim_end().to_owned()
}

/// Exit 0 for SUCCEEDED, 7 for FAILED (with Ray's message), 8 for STOPPED.
pub fn outcome(id: &JobId, job: &Job) -> Result<(), Failure> {
    match &job.status {
        JobStatus::Succeeded => Ok(()),
        JobStatus::Failed => {
            let why = job
                .message
                .as_deref()
                .map(failure_reason)
                .filter(|m| !m.is_empty())
                .map(|m| format!(": {m}"))
                .unwrap_or_default();
            Err(Failure::Job {
                code: JOB_FAILED,
                note: format!("job {id} FAILED{why}"),
            })
        }
        JobStatus::Stopped => Err(Failure::Job {
            code: JOB_STOPPED,
            note: format!("job {id} was STOPPED"),
        }),
        other => Err(Failure::Local {
            code: OTHER,
            message: format!("job {id} has no final status ({other})"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exit_rule_of_many_jobs() {
        use proptest::prelude::*;
        let fail = |code: u8| Ended::Failed {
            code,
            message: String::new(),
        };
        let st = Ended::Status;
        assert_eq!(combined(&[]), 0);
        assert_eq!(combined(&[st(JobStatus::Succeeded)]), 0);
        assert_eq!(
            combined(&[st(JobStatus::Stopped), st(JobStatus::Succeeded)]),
            8
        );
        assert_eq!(
            combined(&[st(JobStatus::Stopped), st(JobStatus::Failed)]),
            7
        );
        assert_eq!(combined(&[st(JobStatus::Failed), fail(6), fail(3)]), 3);
        assert_eq!(combined(&[fail(5), st(JobStatus::Running)]), 1);
        // Generated: the code is a function of the set of ends, not of their order,
        // and it is 0 exactly when every job SUCCEEDED.
        let end = prop_oneof![
            Just(st(JobStatus::Succeeded)),
            Just(st(JobStatus::Failed)),
            Just(st(JobStatus::Stopped)),
            (1u8..=6).prop_map(fail),
        ];
        proptest!(ProptestConfig::with_cases(128), |(mut ends in proptest::collection::vec(end, 0..12))| {
            let code = combined(&ends);
            let all_ok = ends.iter().all(|e| *e == st(JobStatus::Succeeded));
            prop_assert_eq!(code == 0, all_ok);
            let tails: Vec<u8> = ends.iter().filter_map(|e| match e { Ended::Failed { code, .. } => Some(*code), _ => None }).collect();
            if let Some(first) = tails.iter().min() {
                prop_assert_eq!(code, *first);
            } else if ends.contains(&st(JobStatus::Failed)) {
                prop_assert_eq!(code, 7);
            } else if ends.contains(&st(JobStatus::Stopped)) {
                prop_assert_eq!(code, 8);
            }
            ends.reverse();
            prop_assert_eq!(combined(&ends), code);
        });
    }

    #[test]
    fn rays_failure_message_is_cut_to_its_reason() {
        assert_eq!(
            failure_reason("Job entrypoint command failed with exit code 1, last available logs (truncated to 20,000 chars):\nTraceback"),
            "Job entrypoint command failed with exit code 1"
        );
        assert_eq!(failure_reason("\n  boom  \n"), "boom");
        assert_eq!(failure_reason(""), "");
    }
}
