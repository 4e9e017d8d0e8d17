//! A job's final status: `jobs wait`, `jobs stop --wait`, and the status a tail reads
//! once the log is complete, turned into the exit codes 0, 7 and 8.

use crate::exit::{Failure, JOB_FAILED, JOB_STOPPED, OTHER, UNREACHABLE};
use crate::spinner::Spinner;
use crate::time::duration;
use agent_client_async::AsyncAgentClient;
use agent_proto::{ClientError, Job, JobId, JobStatus};
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

async fn read(client: &AsyncAgentClient, id: &JobId) -> Result<Final, ClientError> {
    let json = client
        .raw_request(
            http::Method::GET,
            &format!("jobs/{id}/"),
            &[] as &[(&str, &str)],
            None,
        )
        .await?;
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
        spinner.set_label(format!("waiting for job {id} to end ({})", now.job.status));
        spinner.tick();
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
    fn rays_failure_message_is_cut_to_its_reason() {
        assert_eq!(
            failure_reason("Job entrypoint command failed with exit code 1, last available logs (truncated to 20,000 chars):\nTraceback"),
            "Job entrypoint command failed with exit code 1"
        );
        assert_eq!(failure_reason("\n  boom  \n"), "boom");
        assert_eq!(failure_reason(""), "");
    }
}
