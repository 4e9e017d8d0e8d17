//! The gateway's use of its [`Archive`]: keeping a finished job's log as it is
//! streamed from Ray ([`logs_kept`]), and answering from an entry ([`lookup`],
//! [`log_body`], [`with_archived`]). Everything blocking (checking, compressing,
//! decompressing) runs on `spawn_blocking`, never on the async threads.

use std::collections::HashSet;
use std::io::{BufWriter, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use agent_proto::{Job, JobId};
use agent_server::{BackendError, LogBody, LogStart};
use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::Value;
use tokio::sync::mpsc::OwnedPermit;

use crate::archive::{report, Archive, Claim, Entry};
use crate::ray::RayClient;
use crate::GatewayError;

/// The header that says an answer came from the archive: `X-Agent-Source: archive`.
pub const SOURCE_HEADER: &str = "x-agent-source";

/// How many pieces of a log being kept may wait for the disk (16 KiB each: 1 MiB);
/// past that the answer waits for the disk (the copy is never given up for speed).
pub const KEEP_QUEUE: usize = 64;

/// The entry of submission id `id`, checked to be served from `start`, if any
/// ([`Archive::get`]).
pub async fn lookup(archive: &Arc<Archive>, id: &JobId, start: LogStart) -> Option<Entry> {
    let archive = Arc::clone(archive);
    let id = id.as_str().to_owned();
    tokio::task::spawn_blocking(move || archive.get(&id, start))
        .await
        .ok()
        .flatten()
}

/// Ray's job list, with the archived jobs it does not list added after it.
pub fn with_archived(mut jobs: Vec<Value>, archive: &Archive) -> Vec<Value> {
    let listed: HashSet<String> = jobs
        .iter()
        .filter_map(|j| j.get("submission_id").and_then(Value::as_str))
        .map(str::to_owned)
        .collect();
    jobs.extend(
        archive
            .infos()
            .into_iter()
            .filter(|(id, _)| !listed.contains(id))
            .map(|(_, info)| info),
    );
    jobs
}

/// An archived log from its first line on, as the answer of `jobs/{id}/logs/`.
pub fn log_body(entry: Entry) -> LogBody {
    LogBody::wrap_stream(
        entry
            .log()
            .map(|piece| piece.map_err(|e| BackendError::detail(500, e.to_string()))),
    )
}

/// `jobs/{id}/logs/` from Ray, and, for a finished job, a copy into the archive
/// as it streams: the copy is archived only when the answer was streamed whole
/// (a caller gone, Ray breaking off, or the disk failing: discarded; a slow disk slows the answer, bounded by [`KEEP_QUEUE`] pieces).
/// One copy per job at a time.
pub async fn logs_kept(
    archive: &Arc<Archive>,
    ray: &RayClient,
    job: &JobId,
    max_fallback_bytes: usize,
    chunk_timeout: Duration,
) -> Result<LogBody, GatewayError> {
    let info = ray.get_job(job).await?;
    let body = crate::joblog::stream_all(ray, job, max_fallback_bytes, chunk_timeout).await?;
    if !info.status.is_terminal() {
        return Ok(body);
    }
    let Some(claim) = info
        .submission_id
        .as_deref()
        .and_then(|id| archive.claim(id))
    else {
        return Ok(body);
    };
    Ok(kept(Arc::clone(archive), claim, info, body))
}

/// `body`, passed on as it is, its pieces copied to a temporary file on a blocking
/// thread, archived at the end.
fn kept(archive: Arc<Archive>, claim: Claim, info: Job, body: LogBody) -> LogBody {
    let (tmp, file) = match archive.temp_log() {
        Ok(tmp) => tmp,
        Err(e) => {
            report(&format!("the log is not kept: {e}"));
            return body;
        }
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(KEEP_QUEUE);
    let whole = Arc::new(AtomicBool::new(false));
    let ended = Arc::clone(&whole);
    tokio::task::spawn_blocking(move || {
        let keep = || -> Result<(), String> {
            let mut out = BufWriter::new(file);
            while let Some(piece) = rx.blocking_recv() {
                out.write_all(&piece).map_err(|e| e.to_string())?;
            }
            // The sender is gone: the answer ended whole, or not (then dropped).
            if !ended.load(Ordering::Acquire) {
                return Ok(());
            }
            out.flush().map_err(|e| e.to_string())?;
            drop(out);
            archive
                .put_file(&info, tmp.path(), None)
                .map_err(|e| e.to_string())
        };
        if let Err(why) = keep() {
            report(&format!(
                "the log of job {:?} is not kept: {why}",
                info.submission_id
            ));
        }
        // The claim goes first: once the temporary file is gone, the job may be
        // kept again.
        drop(claim);
        drop(tmp);
    });
    let mut pieces = body.into_pieces();
    // Each piece waits for room in the queue before it goes on to the caller: the
    // answer runs at the disk's pace at worst (the queue bounds the memory), and
    // the copy is never given up for speed. One permit is held at a time.
    let mut tx = Some(tx);
    let mut reserving: Option<Reserving> = None;
    let mut permit: Option<OwnedPermit<Bytes>> = None;
    LogBody::wrap_stream(futures_util::stream::poll_fn(move |cx| {
        if permit.is_none() {
            if let Some(sender) = &tx {
                let fut = reserving.get_or_insert_with(|| Box::pin(sender.clone().reserve_owned()));
                match fut.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Ok(p)) => permit = Some(p),
                    // the writer stopped (a disk error, said in its report)
                    Poll::Ready(Err(_)) => tx = None,
                }
                reserving = None;
            }
        }
        let item = match pieces.poll_next_unpin(cx) {
            Poll::Ready(item) => item,
            Poll::Pending => return Poll::Pending,
        };
        match &item {
            Some(Ok(piece)) => {
                if let Some(p) = permit.take() {
                    p.send(piece.clone());
                }
            }
            Some(Err(_)) => {
                tx = None;
                permit = None;
            }
            None => {
                permit = None;
                // Said whole before the sender goes: the writer reads it after.
                if let Some(sender) = tx.take() {
                    whole.store(true, Ordering::Release);
                    drop(sender);
                }
            }
        }
        Poll::Ready(item)
    }))
}

/// A wait for room in the queue to the archive's writer.
type Reserving = std::pin::Pin<
    Box<
        dyn std::future::Future<
                Output = Result<OwnedPermit<Bytes>, tokio::sync::mpsc::error::SendError<()>>,
            > + Send,
    >,
>;

/// The hub's hook into the archive ([`crate::hub::FinishedLogs`]): a tailed job's
/// final log, as the hub read it from Ray, goes into the archive (called from
/// `spawn_blocking`, once per upstream). A job already archived, or being archived
/// from a `jobs/{id}/logs/` stream, is left as it is: a finished log never changes.
#[derive(Debug, Clone)]
pub struct KeepTailed(pub Arc<Archive>);

impl crate::hub::FinishedLogs for KeepTailed {
    fn finished(&self, log: &crate::hub::FinishedLog) {
        // keyed by submission id, whichever id the tail named the job by
        let id = log
            .info
            .submission_id
            .as_deref()
            .unwrap_or(log.job.as_str());
        if self.0.contains(id) {
            return;
        }
        let Some(_claim) = self.0.claim(id) else {
            return;
        };
        if let Err(e) = self.0.put_file(&log.info, &log.log, Some(log.lines)) {
            report(&format!("job {id}: its final log was not archived: {e}"));
        }
    }
}
