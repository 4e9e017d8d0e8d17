//! Runs one checked operation against the agent and prints its result.
//!
//! Every operation but a tail is one request made with the client's `raw_request`
//! on the operation's own path (built from validated ids), so `--output json`
//! prints exactly the JSON the agent sent; the table views read that same JSON into
//! the typed models. Tails go through `tail_job_logs`.

use crate::cli::Output;
use crate::exit::Failure;
use crate::follow::{follow, no_job_in};
use crate::plan::Op;
use crate::render::Style;
use crate::select::Pick;
use crate::views::{self, ViewError};
use crate::wait::{combined, outcome, poll_until_final, until_final, verdict, Ended, Final, Wait};
use agent_client_async::AsyncAgentClient;
use agent_proto::{ClientError, JobId};
use futures_util::stream::{FuturesUnordered, StreamExt};
use serde_json::Value;
use std::io::Write;

/// Where and how to print.
pub struct Printer<'a> {
    /// Table or JSON.
    pub mode: Output,
    /// Colours.
    pub style: Style,
    /// Standard output (buffered).
    pub out: &'a mut dyn Write,
}

impl Printer<'_> {
    /// Prints `v`: as the format asks, or with `view` for a table.
    pub(crate) fn show(
        &mut self,
        v: &Value,
        view: impl FnOnce(&Value, &Style, &mut dyn Write) -> views::ViewResult,
    ) -> Result<(), Failure> {
        let result = match self.mode {
            Output::Json => views::json(v, self.out),
            Output::Jsonl => views::jsonl(v, self.out),
            Output::Yaml => views::yaml(v, self.out),
            Output::Table | Output::Wide => view(v, &self.style, self.out),
        };
        result.map_err(|e| match e {
            ViewError::Decode(e) => Failure::Client(e),
            ViewError::Io(e) => Failure::Io(e),
        })?;
        self.out.flush()?;
        Ok(())
    }

    /// One document of several (the answer before the lines of a followed job):
    /// compact JSON on one line, or a YAML document after `---`.
    pub(crate) fn doc(&mut self, v: &Value) -> Result<(), Failure> {
        if self.mode == Output::Yaml {
            write!(self.out, "---\n{}", crate::yaml::to_yaml(v))?;
        } else {
            writeln!(self.out, "{v}")?;
        }
        self.out.flush()?;
        Ok(())
    }
}

async fn fetch(client: &AsyncAgentClient, op: &Op) -> Result<Value, ClientError> {
    let call = op.call()?.ok_or_else(|| ClientError::Usage {
        message: "a tail has no single answer".into(),
    })?;
    tracing::info!(method = %call.method, path = %call.path, "request");
    let started = std::time::Instant::now();
    // a known operation goes as the description builds it; only `raw` is raw
    let answer = match call.described() {
        Some(described) => client.call(described).await.map(|answer| answer.0),
        None => {
            client
                .raw_request(call.method, &call.path, &call.query, call.body)
                .await
        }
    };
    let took = crate::time::duration(started.elapsed());
    match &answer {
        Ok(_) => tracing::info!(took = %took, "answered"),
        Err(e) => match crate::exit::agent_status(e) {
            Some(status) => tracing::info!(
                took = %took, status, error = %crate::exit::describe(e), "failed"
            ),
            None => tracing::info!(took = %took, error = %crate::exit::describe(e), "failed"),
        },
    }
    answer
}

/// Runs `op` and prints its result.
pub async fn run(client: &AsyncAgentClient, op: Op, p: &mut Printer<'_>) -> Result<(), Failure> {
    match op {
        Op::TailJob(id, opts) => return follow(client, &id, opts, p.mode, p.style, p.out).await,
        Op::TailMany(plan) => {
            return crate::many::tail_many(client, &plan, p.mode, p.style, p.out).await
        }
        Op::WaitJob(id, wait) => return wait_and_show(client, &id, wait, p).await,
        Op::WaitMany(pick, wait) => return wait_many(client, &pick, wait, p).await,
        Op::Platform(op) => return crate::platform::run(client, *op, p).await,
        _ => {}
    }
    let mut answer = fetch(client, &op).await?;
    match &op {
        Op::ListJobs(Some(status)) => views::only_status(&mut answer, status),
        Op::JobLogs(_, Some(n)) => views::last_lines(&mut answer, *n),
        _ => {}
    }
    match &op {
        Op::Health
        | Op::Gpu
        | Op::GetNode(_)
        | Op::GetTask(_)
        | Op::GetPlugin(_)
        | Op::CreatePlugin(_) => p.show(&answer, views::details),
        Op::ListJobs(_) => p.show(&answer, views::jobs),
        Op::GetJob(_) => p.show(&answer, views::job),
        Op::JobLogs(..) => p.show(&answer, views::logs),
        Op::StopJob(id, None) => p.show(&answer, |v, _, out| views::stopped(id.as_str(), v, out)),
        Op::StopJob(id, Some(wait)) => {
            // One document in json and yaml (the job's final state, as `jobs wait`
            // prints it); jsonl, a stream of documents, has the stop answer first.
            match p.mode {
                Output::Table | Output::Wide => {
                    p.show(&answer, |v, _, out| views::stopped(id.as_str(), v, out))?
                }
                Output::Jsonl => p.doc(&answer)?,
                Output::Json | Output::Yaml => {}
            }
            wait_and_show(client, id, *wait, p).await
        }
        Op::ListNodes => p.show(&answer, views::nodes),
        Op::ListTasks => p.show(&answer, views::tasks),
        Op::ListServe => p.show(&answer, views::serve_apps),
        Op::GetServe(_) => p.show(&answer, views::serve_app),
        Op::DeleteServe(name) => p.show(&answer, |_, _, out| {
            writeln!(out, "deleted Ray Serve application {name}")?;
            Ok(())
        }),
        Op::ListPlugins(_) => p.show(&answer, views::plugin_releases),
        Op::DeletePlugin(lookup) => p.show(&answer, |_, _, out| {
            writeln!(out, "deleted plugin release {lookup}")?;
            Ok(())
        }),
        Op::Raw { .. } => p.show(&answer, |v, _, out| views::json(v, out)),
        Op::RunPlugin { follow: None, .. } => p.show(&answer, |v, style, out| {
            views::details(v, style, out)?;
            if let Some(job) = views::started_job(v) {
                writeln!(out, "follow its log with: agentctl jobs tail {job}")?;
            }
            Ok(())
        }),
        Op::RunPlugin {
            follow: Some(opts), ..
        } => {
            let job = views::started_job(&answer).ok_or_else(|| no_job_in(&answer))?;
            let id = JobId::new(job)?;
            if p.mode.is_table() {
                // The log goes to stdout; the note about it to stderr.
                eprintln!("agentctl: started job {id}; following its log");
            } else {
                p.doc(&answer)?
            }
            follow(client, &id, opts.clone(), p.mode, p.style, p.out).await
        }
        Op::TailJob(..)
        | Op::TailMany(_)
        | Op::WaitJob(..)
        | Op::WaitMany(..)
        | Op::Platform(_) => Ok(()),
    }
}

/// Waits for the job's final status, prints it (table: `job ID STATUS`; JSON: the
/// job as the agent sent it, on one line) and exits by it.
async fn wait_and_show(
    client: &AsyncAgentClient,
    id: &JobId,
    wait: Wait,
    p: &mut Printer<'_>,
) -> Result<(), Failure> {
    let end = until_final(client, id, wait).await?;
    show_final(id, &end, p)?;
    outcome(id, &end.job)
}

/// A job's final status: `job ID STATUS` (table), or the job as the agent sent it.
fn show_final(id: &JobId, end: &Final, p: &mut Printer<'_>) -> Result<(), Failure> {
    if p.mode.is_table() {
        let status = crate::render::Cell::status(end.job.status.as_str());
        writeln!(p.out, "job {id} {}", p.style.cell(&status))?;
        p.out.flush()?;
    } else {
        p.doc(&end.json)?
    }
    Ok(())
}

/// `jobs wait` of several jobs: waits for all at once, prints each one's final status
/// as it comes, and exits by [`crate::wait::combined`].
async fn wait_many(
    client: &AsyncAgentClient,
    pick: &Pick,
    wait: Wait,
    p: &mut Printer<'_>,
) -> Result<(), Failure> {
    let ids: Vec<JobId> = match pick {
        Pick::Ids(ids) => ids.clone(),
        Pick::Matching(m) => crate::select::matching(client, m)
            .await?
            .into_iter()
            .map(|(id, _)| id)
            .collect(),
    };
    if ids.is_empty() {
        return Err(Failure::Local {
            code: crate::exit::NOT_FOUND,
            message: "no job matches --selector / --status".into(),
        });
    }
    let mut waits: FuturesUnordered<_> = ids
        .iter()
        .map(|id| async move { (id, poll_until_final(client, id, wait, false).await) })
        .collect();
    let mut ends = Vec::with_capacity(ids.len());
    while let Some((id, end)) = waits.next().await {
        match end {
            Ok(end) => {
                show_final(id, &end, p)?;
                ends.push(Ended::Status(end.job.status));
            }
            Err(Failure::Interrupted) => return Err(Failure::Interrupted),
            Err(f) => {
                let ended = Ended::from_failure(&f);
                if let Ended::Failed { code, message } = &ended {
                    eprintln!(
                        "{}",
                        crate::exit::plain_line(
                            "agentctl: ",
                            &format!("job {id}: error(exit {code}): {message}"),
                            &[]
                        )
                    );
                }
                ends.push(ended);
            }
        }
    }
    match combined(&ends) {
        crate::exit::OK => Ok(()),
        code => Err(Failure::Job {
            code,
            note: verdict(&ends),
        }),
    }
}
