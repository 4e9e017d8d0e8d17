//! Which jobs a command acts on: ids given on the command line, or the jobs of
//! `GET jobs/` whose status and metadata match (`--status`, `-l/--selector`), as
//! kubectl's label selectors pick pods.

use crate::cli::Select;
use agent_client_async::AsyncAgentClient;
use agent_proto::{api, ClientError, Job, JobId};
use serde::Deserialize;
use serde_json::Value;

/// The jobs to act on.
#[derive(Debug, Clone, PartialEq)]
pub enum Pick {
    /// These ids, in the command line's order, each once.
    Ids(Vec<JobId>),
    /// The jobs that match.
    Matching(Matcher),
}

/// A status (upper case) and `key=value` pairs of metadata that must all hold.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Matcher {
    /// `--status`, upper case.
    pub status: Option<String>,
    /// `-l key=value,...`: every pair must be in the job's metadata.
    pub labels: Vec<(String, String)>,
}

impl Matcher {
    /// True when `job` has the status and every label.
    pub fn matches(&self, job: &Job) -> bool {
        if let Some(s) = &self.status {
            if !job.status.as_str().eq_ignore_ascii_case(s) {
                return false;
            }
        }
        self.labels.iter().all(|(k, want)| {
            job.metadata
                .as_ref()
                .and_then(|m| m.get(k))
                .is_some_and(|v| label_value(v) == *want)
        })
    }
}

/// A metadata value as a selector compares it: a string as it is, anything else as
/// compact JSON (`3`, `true`).
fn label_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The pick of a command line: its ids (each once), else its `--status` and
/// `--selector` (checked: a 400 for a malformed pair or status).
pub fn pick(ids: &[String], select: &Select) -> Result<Pick, ClientError> {
    if select.status.is_none() && select.selector.is_empty() {
        let mut out: Vec<JobId> = Vec::with_capacity(ids.len());
        for id in ids {
            let id = JobId::new(id.as_str())?;
            // A job named twice is followed once: two tails would print each line twice.
            if !out.contains(&id) {
                out.push(id);
            }
        }
        if out.is_empty() {
            return Err(ClientError::invalid(
                "job selection",
                "name at least one job id, or pick jobs with --selector / --status",
            ));
        }
        return Ok(Pick::Ids(out));
    }
    let status = select.status.map(|s| s.as_str().to_owned());
    let mut labels = Vec::new();
    for text in &select.selector {
        labels.extend(parse_selector(text)?);
    }
    Ok(Pick::Matching(Matcher { status, labels }))
}

/// `key=value[,key=value]`: a 400 for an empty key or a pair without `=`.
pub fn parse_selector(text: &str) -> Result<Vec<(String, String)>, ClientError> {
    text.split(',')
        .map(|pair| {
            let (k, v) = pair.split_once('=').ok_or_else(|| {
                ClientError::invalid(
                    "selector",
                    format!("{pair:?}: expected KEY=VALUE[,KEY=VALUE]"),
                )
            })?;
            // `k==v` is accepted as kubectl accepts it.
            let v = v.strip_prefix('=').unwrap_or(v);
            let k = k.trim();
            if k.is_empty() {
                return Err(ClientError::invalid(
                    "selector",
                    format!("{pair:?}: the key is empty"),
                ));
            }
            Ok((k.to_owned(), v.trim().to_owned()))
        })
        .collect()
}

/// The jobs of `GET jobs/` that `matcher` picks, in the agent's order, with their
/// typed model (a job without an id, or of an unknown shape, is left out).
pub async fn matching(
    client: &AsyncAgentClient,
    matcher: &Matcher,
) -> Result<Vec<(JobId, Job)>, ClientError> {
    // the list as the agent sent it (each item is then read on its own)
    let list = api::Call::<(), api::JsonOrText>::new(api::Operation::ListJobs);
    let answer = client.call(list).await?.0;
    let Value::Array(items) = answer else {
        return Err(ClientError::Decode {
            message: "unexpected answer shape for the job list: not a list".into(),
        });
    };
    let mut out = Vec::new();
    for item in items {
        let Ok(job) = Job::deserialize(&item) else {
            continue;
        };
        if !matcher.matches(&job) {
            continue;
        }
        let Some(id) = job.id().and_then(|id| JobId::new(id).ok()) else {
            continue;
        };
        if !out.iter().any(|(seen, _): &(JobId, Job)| *seen == id) {
            out.push((id, job));
        }
    }
    Ok(out)
}

/// The usage error of a selection larger than `--max-log-requests`, as kubectl says it.
pub fn too_many(matched: usize, max: usize) -> ClientError {
    ClientError::invalid(
        "job selection",
        format!(
            "{matched} jobs matched, but at most {max} logs are followed at once: \
             raise --max-log-requests or pick fewer jobs"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn job(status: &str, metadata: Value) -> Job {
        serde_json::from_value(serde_json::json!({
            "submission_id": "raysubmit_1", "status": status, "entrypoint": "x",
            "metadata": metadata,
        }))
        .unwrap()
    }

    #[test]
    fn selectors_parse_and_refuse_bad_pairs() {
        assert_eq!(
            parse_selector("a=1,b==two").unwrap(),
            vec![("a".into(), "1".into()), ("b".into(), "two".into())]
        );
        assert_eq!(parse_selector("a=").unwrap(), vec![("a".into(), "".into())]);
        for bad in ["a", "=1", "a=1,", ",a=1"] {
            let e = parse_selector(bad).unwrap_err();
            assert_eq!(e.status_code(), 400, "{bad}");
        }
    }

    #[test]
    fn every_label_and_the_status_must_hold() {
        let j = job("RUNNING", serde_json::json!({"sweep": "lr", "n": 3}));
        let m = |status: Option<&str>, labels: &[(&str, &str)]| Matcher {
            status: status.map(str::to_owned),
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        };
        assert!(m(None, &[("sweep", "lr")]).matches(&j));
        assert!(m(Some("RUNNING"), &[("sweep", "lr"), ("n", "3")]).matches(&j));
        assert!(!m(Some("FAILED"), &[("sweep", "lr")]).matches(&j));
        assert!(!m(None, &[("sweep", "lr"), ("team", "x")]).matches(&j));
        assert!(!m(None, &[("sweep", "LR")]).matches(&j));
        assert!(!m(None, &[("x", "")]).matches(&job("RUNNING", Value::Null)));
    }

    #[test]
    fn ids_are_followed_once_each_in_order() {
        let ids = ["b", "a", "b"].map(String::from);
        let Pick::Ids(got) = pick(&ids, &Select::default()).unwrap() else {
            panic!("not ids");
        };
        let got: Vec<&str> = got.iter().map(|i| i.as_str()).collect();
        assert_eq!(got, ["b", "a"]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// A selector built from a job's own metadata matches it; one more pair with a
        /// value it does not have never does.
        #[test]
        fn a_job_matches_its_own_labels(
            labels in proptest::collection::btree_map("[a-z]{1,6}", "[a-z0-9]{0,6}", 1..5),
        ) {
            let meta: serde_json::Map<String, Value> =
                labels.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
            let j = job("SUCCEEDED", Value::Object(meta));
            let text = labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",");
            let mut m = Matcher { status: None, labels: parse_selector(&text).unwrap() };
            prop_assert!(m.matches(&j));
            m.labels.push((labels.keys().next().unwrap().clone(), "not-a-value!".into()));
            prop_assert!(!m.matches(&j));
        }
    }
}
