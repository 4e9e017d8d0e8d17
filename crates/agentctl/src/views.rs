//! The table output of each operation, from the agent's JSON.
//!
//! Answers are read into the typed models of `agent_proto` (so a table shows what
//! the typed client would give a program), then laid out for people.

use crate::render::{amount, bytes, value_text, Cell, Details, Fit, Style, Table};
use crate::time::{between_ms, duration, local_ms, now_ms};
use agent_proto::{ClientError, Job, Node, Page, PluginRelease, ServeApplication, Task};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::io::{self, Write};

/// `v` read into the typed model `T` (a 500 naming the shape when it is not one).
pub(crate) fn typed<T: DeserializeOwned>(v: &Value) -> Result<T, ClientError> {
    T::deserialize(v).map_err(|e| ClientError::Decode {
        message: format!("unexpected answer shape: {e}"),
    })
}

fn object(v: &Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m.clone(),
        other => {
            let mut m = Map::new();
            m.insert("answer".into(), other.clone());
            m
        }
    }
}

/// What a view failed on: decoding the answer, or writing.
#[derive(Debug)]
pub enum ViewError {
    /// The answer did not have the expected shape.
    Decode(ClientError),
    /// Writing failed.
    Io(io::Error),
}

impl From<ClientError> for ViewError {
    fn from(e: ClientError) -> Self {
        ViewError::Decode(e)
    }
}

impl From<io::Error> for ViewError {
    fn from(e: io::Error) -> Self {
        ViewError::Io(e)
    }
}

/// A view's result.
pub type ViewResult = Result<(), ViewError>;

fn job_times(job: &Job, now: u64) -> (Cell, Cell, Cell) {
    let start = Cell::opt(job.start_time.map(local_ms));
    let end = Cell::opt(job.end_time.map(local_ms));
    let took = match (job.start_time, job.end_time) {
        (Some(s), Some(e)) => Cell::new(duration(between_ms(s, e))),
        (Some(s), None) if !job.status.is_terminal() => {
            Cell::new(format!("{} so far", duration(between_ms(s, now))))
        }
        _ => Cell::new("-"),
    };
    (start, end, took)
}

/// Six columns: an id (never cut), four values, free text (shrinks first): the
/// jobs and Ray Serve tables.
const ID_THEN_TEXT: [Fit; 6] = [
    Fit::Id,
    Fit::Other,
    Fit::Other,
    Fit::Other,
    Fit::Other,
    Fit::Text,
];

/// `jobs list`: id, status, start, end, duration, entrypoint; oldest first.
pub fn jobs(v: &Value, style: &Style, out: &mut dyn Write) -> ViewResult {
    let mut jobs: Vec<Job> = typed(v)?;
    jobs.sort_by_key(|j| j.start_time.unwrap_or(u64::MAX));
    let now = now_ms();
    let mut t = Table::new(&["JOB ID", "STATUS", "START", "END", "DURATION", "ENTRYPOINT"])
        .fit(&ID_THEN_TEXT);
    for job in &jobs {
        let (start, end, took) = job_times(job, now);
        t.row(vec![
            Cell::opt(job.id()),
            Cell::status(job.status.as_str()),
            start,
            end,
            took,
            Cell::lines(&job.entrypoint, style.wide).cut(48),
        ]);
    }
    Ok(t.write(style, out)?)
}

/// `jobs get`: the job's fields, times as local times.
pub fn job(v: &Value, style: &Style, out: &mut dyn Write) -> ViewResult {
    let job: Job = typed(v)?;
    let (start, end, took) = job_times(&job, now_ms());
    let mut d = Details::new();
    d.add("id", Cell::opt(job.id()));
    d.add("status", Cell::status(job.status.as_str()));
    d.add("message", Cell::opt(job.message.as_deref()));
    d.add("start", start);
    d.add("end", end);
    d.add("duration", took);
    d.add_text("entrypoint", &job.entrypoint);
    d.add_rest(
        &object(v),
        &["status", "message", "start_time", "end_time", "entrypoint"],
    );
    Ok(d.write(style, out)?)
}

/// `jobs logs`: the log as text (each line neutralized on a terminal).
pub fn logs(v: &Value, style: &Style, out: &mut dyn Write) -> ViewResult {
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Object(m) => match m.get("logs") {
            Some(Value::String(s)) => s.clone(),
            _ => v.to_string(),
        },
        Value::Null => String::new(),
        other => other.to_string(),
    };
    if style.tty {
        for line in text.lines() {
            out.write_all(style.log_line(line).as_bytes())?;
            out.write_all(b"\n")?;
        }
        return Ok(());
    }
    out.write_all(text.as_bytes())?;
    if !text.is_empty() && !text.ends_with('\n') {
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// `jobs stop`: whether it stopped.
pub fn stopped(id: &str, v: &Value, out: &mut dyn Write) -> ViewResult {
    let r: agent_proto::StopJobResponse = typed(v)?;
    if r.stopped {
        writeln!(out, "stopping job {id}")?;
    } else {
        writeln!(out, "job {id} was not running; nothing to stop")?;
    }
    Ok(())
}

/// `nodes list`.
pub fn nodes(v: &Value, style: &Style, out: &mut dyn Write) -> ViewResult {
    let nodes: Vec<Node> = typed(v)?;
    let mut t = Table::new(&["NODE ID", "IP", "HEAD", "STATE", "CPU", "GPU", "MEMORY"])
        .fit(&[Fit::Id, Fit::Id]);
    for n in &nodes {
        let res = |k: &str| n.resources_total.get(k).copied();
        t.row(vec![
            Cell::new(n.node_id.as_str()),
            Cell::opt(n.node_ip.as_deref()),
            Cell::new(if n.is_head_node { "yes" } else { "no" }),
            Cell::status(n.state.as_deref().unwrap_or("-")),
            Cell::opt(res("CPU").map(amount)),
            Cell::new(res("GPU").map(amount).unwrap_or_else(|| "0".into())),
            Cell::opt(res("memory").map(bytes)),
        ]);
    }
    Ok(t.write(style, out)?)
}

/// `tasks list`.
pub fn tasks(v: &Value, style: &Style, out: &mut dyn Write) -> ViewResult {
    let tasks: Vec<Task> = typed(v)?;
    let mut t = Table::new(&["TASK ID", "NAME", "STATE", "TYPE", "JOB", "NODE"]).fit(&[
        Fit::Id,
        Fit::Text,
        Fit::Other,
        Fit::Other,
        Fit::Id,
        Fit::Id,
    ]);
    for task in &tasks {
        t.row(vec![
            Cell::new(task.task_id.as_str()),
            Cell::opt(task.name.as_deref()).cut(32),
            Cell::status(task.state.as_deref().unwrap_or("-")),
            Cell::opt(task.kind.as_deref()),
            Cell::opt(task.job_id.as_deref()),
            Cell::opt(task.node_id.as_deref()),
        ]);
    }
    Ok(t.write(style, out)?)
}

/// `serve list`.
pub fn serve_apps(v: &Value, style: &Style, out: &mut dyn Write) -> ViewResult {
    let apps: Vec<ServeApplication> = typed(v)?;
    let mut t = Table::new(&[
        "NAME",
        "STATUS",
        "ROUTE",
        "DEPLOYED",
        "DEPLOYMENTS",
        "MESSAGE",
    ])
    .fit(&ID_THEN_TEXT);
    for a in &apps {
        t.row(vec![
            Cell::new(a.name.as_str()),
            Cell::status(a.status.as_deref().unwrap_or("-")),
            Cell::opt(a.route_prefix.as_deref()),
            Cell::opt(
                a.last_deployed_time_s
                    .map(|s| local_ms((s.max(0.0) * 1000.0) as u64)),
            ),
            Cell::new(a.deployments.len().to_string()),
            Cell::opt(a.message.as_deref().filter(|m| !m.is_empty())).cut(40),
        ]);
    }
    Ok(t.write(style, out)?)
}

/// `serve get`.
pub fn serve_app(v: &Value, style: &Style, out: &mut dyn Write) -> ViewResult {
    let a: ServeApplication = typed(v)?;
    let mut d = Details::new();
    d.add("name", Cell::new(a.name.as_str()));
    d.add("status", Cell::status(a.status.as_deref().unwrap_or("-")));
    d.add("route_prefix", Cell::opt(a.route_prefix.as_deref()));
    d.add(
        "deployed",
        Cell::opt(
            a.last_deployed_time_s
                .map(|s| local_ms((s.max(0.0) * 1000.0) as u64)),
        ),
    );
    d.add_rest(
        &object(v),
        &["name", "status", "route_prefix", "last_deployed_time_s"],
    );
    Ok(d.write(style, out)?)
}

/// `plugins list`.
pub fn plugin_releases(v: &Value, style: &Style, out: &mut dyn Write) -> ViewResult {
    let page: Page<PluginRelease> = typed(v)?;
    let mut t = Table::new(&["ID", "LOOKUP", "PLUGIN", "VERSION"]).fit(&[
        Fit::Id,
        Fit::Id,
        Fit::Other,
        Fit::Other,
    ]);
    for r in &page.results {
        t.row(vec![
            Cell::opt(r.id.as_ref().map(value_text)),
            Cell::opt(r.lookup()),
            Cell::opt(r.plugin.as_deref()),
            Cell::opt(r.version.as_deref()),
        ]);
    }
    t.write(style, out)?;
    if let Some(count) = page.count {
        if count > page.results.len() as u64 {
            let more = if page.next.is_some() {
                " (next page: --query page=N)"
            } else {
                ""
            };
            writeln!(out, "{} of {count} releases{more}", page.results.len())?;
        }
    }
    Ok(())
}

/// Any object as `key: value` lines (health, GPU status, a node, a task, a release,
/// the answer of a run).
pub fn details(v: &Value, style: &Style, out: &mut dyn Write) -> ViewResult {
    let mut d = Details::new();
    d.add_rest(&object(v), &[]);
    Ok(d.write(style, out)?)
}

/// `-o jsonl`: a list's items one per line, anything else on one line.
pub fn jsonl(v: &Value, out: &mut dyn Write) -> ViewResult {
    match v {
        Value::Array(items) => {
            for item in items {
                writeln!(out, "{item}")?;
            }
        }
        other => writeln!(out, "{other}")?,
    }
    Ok(())
}

/// `-o yaml`.
pub fn yaml(v: &Value, out: &mut dyn Write) -> ViewResult {
    out.write_all(crate::yaml::to_yaml(v).as_bytes())?;
    Ok(())
}

/// `jobs list --status S`: keeps the jobs of that status (any case) in the answer.
pub fn only_status(v: &mut Value, status: &str) {
    if let Value::Array(items) = v {
        items.retain(|j| {
            j.get("status")
                .and_then(Value::as_str)
                .is_some_and(|s| s.eq_ignore_ascii_case(status))
        });
    }
}

/// `jobs logs --tail N`: keeps the last `n` lines of the log in the answer.
pub fn last_lines(v: &mut Value, n: usize) {
    let text = match v {
        Value::String(s) => s,
        Value::Object(m) => match m.get_mut("logs") {
            Some(Value::String(s)) => s,
            _ => return,
        },
        _ => return,
    };
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(n);
    let mut kept = lines[start..].join("\n");
    if !kept.is_empty() && text.ends_with('\n') {
        kept.push('\n');
    }
    *text = kept;
}

/// The JSON of an answer, pretty-printed.
pub fn json(v: &Value, out: &mut dyn Write) -> ViewResult {
    let text = serde_json::to_string_pretty(v).map_err(|e| ClientError::Decode {
        message: e.to_string(),
    })?;
    writeln!(out, "{text}")?;
    Ok(())
}

/// The job a plugin run started, from its answer: a string, or `job_id`,
/// `submission_id` or `id` of an object.
pub fn started_job(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Object(m) => ["job_id", "submission_id", "id"]
            .iter()
            .find_map(|k| m.get(*k).and_then(Value::as_str).map(str::to_owned)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(f: impl FnOnce(&mut Vec<u8>) -> ViewResult) -> String {
        let mut buf = Vec::new();
        f(&mut buf).unwrap();
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn a_finished_job_shows_its_duration() {
        let v = json!([{"submission_id": "j1", "status": "SUCCEEDED", "entrypoint": "python x.py\nmore",
                        "start_time": 1_000, "end_time": 5_600}]);
        let out = render(|b| jobs(&v, &Style::plain(), b));
        let row = out.lines().nth(1).unwrap();
        assert!(row.starts_with("j1      SUCCEEDED  "), "{out}");
        assert!(row.contains("  4.6s  "), "{out}");
        assert!(row.ends_with("  python x.py …"), "{out}");
    }

    #[test]
    fn logs_accept_every_shape() {
        let s = Style::plain();
        assert_eq!(render(|b| logs(&json!("a\nb"), &s, b)), "a\nb\n");
        assert_eq!(render(|b| logs(&json!({"logs": "x\n"}), &s, b)), "x\n");
        assert_eq!(render(|b| logs(&Value::Null, &s, b)), "");
    }

    #[test]
    fn filters_keep_what_was_asked() {
        let mut v = json!([{"status": "FAILED"}, {"status": "SUCCEEDED"}, {"x": 1}]);
        only_status(&mut v, "failed");
        assert_eq!(v, json!([{"status": "FAILED"}]));
        let mut v = json!("a\nb\nc\n");
        last_lines(&mut v, 2);
        assert_eq!(v, json!("b\nc\n"));
        let mut v = json!({"logs": "a\nb"});
        last_lines(&mut v, 5);
        assert_eq!(v, json!({"logs": "a\nb"}));
        let mut v = json!("a\nb");
        last_lines(&mut v, 0);
        assert_eq!(v, json!(""));
    }

    #[test]
    fn the_started_job_is_found() {
        assert_eq!(started_job(&json!({"job_id": "j9"})).as_deref(), Some("j9"));
        assert_eq!(
            started_job(&json!({"submission_id": "j8", "x": 1})).as_deref(),
            Some("j8")
        );
        assert_eq!(started_job(&json!("j7")).as_deref(), Some("j7"));
        assert_eq!(started_job(&json!({"ok": true})), None);
    }

    #[test]
    fn a_wrong_shape_is_a_decode_error() {
        let mut buf = Vec::new();
        match jobs(&json!({"not": "a list"}), &Style::plain(), &mut buf) {
            Err(ViewError::Decode(e)) => assert_eq!(e.status_code(), 500),
            other => panic!("{other:?}"),
        }
    }
}
