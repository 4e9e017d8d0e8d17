//! Measuring contenders: one process per run, its wall time and its peak memory
//! seen from outside, its result line read back, medians over alternating runs.
//!
//! # Peak memory
//!
//! The peak resident set of a contender is the kernel's high-water mark `VmHWM`
//! from `/proc/<pid>/status`, read by this process every [`POLL`] while the
//! contender runs (standard library only: no `wait4`, no `/usr/bin/time`).
//! `VmHWM` never goes down, so the last value read before the process exits is
//! its peak up to then; the contender also prints its own `VmHWM` at the very
//! end of its workload (`vmhwm_kb`), and the figure kept is the larger of the
//! two. Both come from the same kernel counter (what `ru_maxrss` reports).
//!
//! # CPU time
//!
//! The CPU time of a contender is the whole process's, from outside, for every
//! contender alike (Rust or Python): user + system time of all its threads, and
//! of any child it reaped, from spawn to exit, start-up included. This process
//! polls `/proc/<pid>/stat` until the contender is a zombie (it has exited but
//! is not reaped yet, so the kernel still holds its totals), reads `utime`,
//! `stime`, `cutime` and `cstime` there, and only then reaps it. The counts are
//! in clock ticks (`getconf CLK_TCK`, 100 on Linux): a resolution of 10 ms per
//! run, which is why the figures are per 10,000 requests or 1,000,000 lines of
//! full-size runs, not of `--quick` ones.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::XtaskError;

/// How often the peak memory of a running contender is read.
pub const POLL: Duration = Duration::from_millis(5);

/// The longest a single contender run may take before it is ended.
pub const RUN_LIMIT: Duration = Duration::from_secs(300);

/// One run of one contender.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    /// Requests made or lines received (the result line's `count`).
    pub count: f64,
    /// The measured part's duration in seconds (the result line's `seconds`).
    pub seconds: f64,
    /// `count / seconds`.
    pub rate: f64,
    /// Peak resident memory of the process in KiB.
    pub peak_kb: u64,
    /// CPU time of the whole process (user + system), seconds; `None` for a
    /// whole-process contender (start-up), which is reaped as soon as it exits.
    pub cpu: Option<f64>,
    /// The whole process, from spawn to exit.
    pub wall: Duration,
    /// The result line as printed.
    pub line: String,
}

/// A contender: a name for the tables and how to start one run of it.
pub struct Contender {
    /// `python-sync`, `ours-async`, `floor`, ...
    pub name: String,
    /// The program and its arguments.
    pub program: PathBuf,
    /// Arguments.
    pub args: Vec<String>,
    /// Whether the process prints a result line (start-up runs do not need one).
    pub reports: bool,
}

impl Contender {
    /// A contender printing a result line.
    pub fn new(name: &str, program: impl Into<PathBuf>, args: &[&str]) -> Self {
        Contender {
            name: name.to_owned(),
            program: program.into(),
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            reports: true,
        }
    }

    /// A contender timed as a whole process (its output is not read for figures).
    pub fn whole_process(name: &str, program: impl Into<PathBuf>, args: &[&str]) -> Self {
        Contender {
            reports: false,
            ..Contender::new(name, program, args)
        }
    }

    /// The command line, for reports.
    pub fn command_line(&self) -> String {
        let mut line = self.program.display().to_string();
        for arg in &self.args {
            line.push(' ');
            if arg.contains(' ') || arg.contains('\n') {
                line.push_str(&format!("{arg:?}"));
            } else {
                line.push_str(arg);
            }
        }
        line
    }

    /// Runs it once: spawn, poll its peak memory until it exits, read its result.
    pub fn run(&self) -> Result<Sample, XtaskError> {
        let started = Instant::now();
        let mut child = Command::new(&self.program)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                XtaskError::Failed(format!("cannot start `{}`: {e}", self.command_line()))
            })?;
        let stdout = read_all(child.stdout.take());
        let stderr = read_all(child.stderr.take());
        let status_path = PathBuf::from(format!("/proc/{}/status", child.id()));
        let stat_path = PathBuf::from(format!("/proc/{}/stat", child.id()));
        let mut polled = 0;
        let mut cpu = None;
        // a whole-process contender is timed to its exit, not to the next poll
        let status = if self.reports {
            None
        } else {
            Some(
                child
                    .wait()
                    .map_err(|e| XtaskError::Failed(format!("waiting for a contender: {e}")))?,
            )
        };
        let status = if let Some(status) = status {
            status
        } else {
            loop {
                // exited but not reaped: its CPU totals are still there to read
                let stat = ProcStat::read(&stat_path);
                if let Some(stat) = stat.filter(|s| s.exited()) {
                    cpu = Some(stat.cpu_seconds());
                    break child.wait().map_err(|e| {
                        XtaskError::Failed(format!("waiting for a contender: {e}"))
                    })?;
                }
                if let Some(kb) = vmhwm_kb(&status_path) {
                    polled = polled.max(kb);
                }
                // with /proc, only the zombie state above reaps it (a reap here
                // could take it between the two reads and lose its CPU time)
                let reaped = if stat.is_some() {
                    Ok(None)
                } else {
                    child.try_wait()
                };
                match reaped {
                    // no /proc/<pid>/stat here: no CPU figure
                    Ok(Some(status)) => break status,
                    Ok(None) if started.elapsed() > RUN_LIMIT => {
                        let _ = child.kill();
                        let _ = child.wait();
                        return Err(XtaskError::Failed(format!(
                            "`{}` ran longer than {}s and was ended",
                            self.command_line(),
                            RUN_LIMIT.as_secs()
                        )));
                    }
                    Ok(None) => thread::sleep(POLL),
                    Err(e) => {
                        return Err(XtaskError::Failed(format!("waiting for a contender: {e}")))
                    }
                }
            }
        };
        let wall = started.elapsed();
        let out = stdout.join().unwrap_or_default();
        let err = stderr.join().unwrap_or_default();
        if !status.success() {
            return Err(XtaskError::Failed(format!(
                "`{}` failed ({status}):\n{}",
                self.command_line(),
                tail_of(&err, 2000)
            )));
        }
        // a whole-process contender may exit before a poll sees its memory
        // grow: its peak is not reported (0)
        let mut sample = Sample {
            peak_kb: if self.reports { polled } else { 0 },
            cpu,
            wall,
            ..Sample::default()
        };
        if self.reports {
            let line = out
                .lines()
                .rev()
                .find(|l| l.trim_start().starts_with('{'))
                .ok_or_else(|| {
                    XtaskError::Failed(format!(
                        "`{}` printed no result line; stdout: {}; stderr: {}",
                        self.command_line(),
                        tail_of(&out, 500),
                        tail_of(&err, 1000)
                    ))
                })?
                .trim()
                .to_owned();
            let field = |key: &str| {
                json_number(&line, key).ok_or_else(|| {
                    XtaskError::Failed(format!("result line without `{key}`: {line}"))
                })
            };
            sample.count = field("count")?;
            sample.seconds = field("seconds")?;
            sample.rate = field("rate")?;
            sample.peak_kb = sample.peak_kb.max(field("vmhwm_kb")? as u64);
            sample.line = line;
        }
        Ok(sample)
    }
}

fn read_all<R: Read + Send + 'static>(pipe: Option<R>) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_string(&mut text);
        }
        text
    })
}

fn tail_of(text: &str, max: usize) -> &str {
    let start = text.len().saturating_sub(max);
    let start = (start..=text.len())
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(text.len());
    &text[start..]
}

/// What this module reads of a `/proc/<pid>/stat` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// The state letter (`R`, `S`, `Z` for a zombie, `X` for dead, ...).
    pub state: char,
    /// `utime + stime + cutime + cstime`, in clock ticks.
    pub ticks: u64,
}

impl ProcStat {
    /// Parses a stat line (the command name, in parentheses, may hold spaces
    /// and parentheses itself: fields are counted after its last `)`).
    pub fn parse(line: &str) -> Option<Self> {
        let rest = &line[line.rfind(')')? + 1..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // fields 3.. of proc(5): state is field 3, utime..cstime fields 14..17
        let state = fields.first()?.chars().next()?;
        let mut ticks = 0u64;
        for field in fields.get(11..15)? {
            ticks += field.parse::<u64>().ok()?;
        }
        Some(ProcStat { state, ticks })
    }

    /// Reads `/proc/<pid>/stat`.
    pub fn read(path: &Path) -> Option<Self> {
        Self::parse(&std::fs::read_to_string(path).ok()?)
    }

    /// Whether the process has exited (a zombie, not reaped yet).
    pub fn exited(&self) -> bool {
        matches!(self.state, 'Z' | 'X')
    }

    /// The CPU time in seconds.
    pub fn cpu_seconds(&self) -> f64 {
        self.ticks as f64 / clock_ticks() as f64
    }
}

/// Clock ticks per second of `/proc/<pid>/stat` (`getconf CLK_TCK`; 100, the
/// value of every Linux architecture's USER_HZ, when getconf cannot say).
pub fn clock_ticks() -> u64 {
    static TICKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .filter(|&t: &u64| t > 0)
            .unwrap_or(100)
    })
}

/// `VmHWM` of a `/proc/<pid>/status` file, in KiB.
fn vmhwm_kb(path: &Path) -> Option<u64> {
    let status = std::fs::read_to_string(path).ok()?;
    status.lines().find_map(|line| {
        line.strip_prefix("VmHWM:")
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kb| kb.parse().ok())
    })
}

/// The number after `"key":` in a flat JSON object line (`"key": 12.5` or
/// `"key":12`).
pub fn json_number(line: &str, key: &str) -> Option<f64> {
    let quoted = format!("\"{key}\"");
    let at = line.find(&quoted)? + quoted.len();
    let rest = line[at..].trim_start().strip_prefix(':')?.trim_start();
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E')))
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// The string after `"key":` in a flat JSON object line (no escapes inside).
pub fn json_string(line: &str, key: &str) -> Option<String> {
    let quoted = format!("\"{key}\"");
    let at = line.find(&quoted)? + quoted.len();
    let rest = line[at..].trim_start().strip_prefix(':')?.trim_start();
    let rest = rest.strip_prefix('"')?;
    Some(rest[..rest.find('"')?].to_owned())
}

/// The median of `values` (the mean of the middle two for an even count).
pub fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    }
}

/// Medians of one contender over its runs.
#[derive(Debug, Clone)]
pub struct Summary {
    /// The contender's name.
    pub name: String,
    /// Median of `rate`.
    pub rate: f64,
    /// Median of `count`.
    pub count: f64,
    /// Median peak memory, MiB.
    pub peak_mib: f64,
    /// Smallest and largest peak memory, MiB.
    pub peak_range: (f64, f64),
    /// Median whole-process wall time, ms.
    pub wall_ms: f64,
    /// Smallest and largest rate (the spread).
    pub rate_range: (f64, f64),
    /// Median CPU seconds (user + system) of the whole process per counted
    /// operation (request or line); NaN when not measured.
    pub cpu_per_op: f64,
    /// The command line of one run.
    pub command: String,
}

impl Summary {
    /// The summary of contender `name` among `summaries`, if it ran.
    pub fn find<'a>(summaries: &'a [Summary], name: &str) -> Option<&'a Summary> {
        summaries.iter().find(|s| s.name == name)
    }
}

/// Runs `contenders` alternately (A B C A B C ...) `runs` times each, printing
/// each result as it comes, and returns their medians in the same order.
pub fn alternate(
    workload: &str,
    contenders: &[Contender],
    runs: usize,
    log: &mut RunLog,
) -> Result<Vec<Summary>, XtaskError> {
    let mut samples: Vec<Vec<Sample>> = contenders.iter().map(|_| Vec::new()).collect();
    for run in 1..=runs {
        for (contender, kept) in contenders.iter().zip(samples.iter_mut()) {
            let sample = contender.run().map_err(|e| {
                XtaskError::Failed(format!("{workload}, {} run {run}: {e}", contender.name))
            })?;
            if contender.reports {
                println!(
                    "    {workload:<16} {:<16} run {run}/{runs}: {:>12.0} /s  peak {:>7.1} MiB  wall {:>8.1} ms  cpu {:>8.1} ms",
                    contender.name,
                    sample.rate,
                    sample.peak_kb as f64 / 1024.0,
                    sample.wall.as_secs_f64() * 1e3,
                    sample.cpu.map_or(f64::NAN, |c| c * 1e3)
                );
            } else {
                println!(
                    "    {workload:<16} {:<16} run {run}/{runs}: wall {:>8.1} ms",
                    contender.name,
                    sample.wall.as_secs_f64() * 1e3
                );
            }
            log.record(workload, &contender.name, run, &sample);
            kept.push(sample);
        }
    }
    Ok(contenders
        .iter()
        .zip(samples)
        .map(|(contender, runs_of)| {
            let rates: Vec<f64> = runs_of.iter().map(|s| s.rate).collect();
            Summary {
                name: contender.name.clone(),
                rate: median(&rates),
                count: median(&runs_of.iter().map(|s| s.count).collect::<Vec<_>>()),
                peak_mib: median(
                    &runs_of
                        .iter()
                        .map(|s| s.peak_kb as f64 / 1024.0)
                        .collect::<Vec<_>>(),
                ),
                peak_range: {
                    let peaks = runs_of.iter().map(|s| s.peak_kb as f64 / 1024.0);
                    (
                        peaks.clone().fold(f64::INFINITY, f64::min),
                        peaks.fold(f64::NEG_INFINITY, f64::max),
                    )
                },
                wall_ms: median(
                    &runs_of
                        .iter()
                        .map(|s| s.wall.as_secs_f64() * 1e3)
                        .collect::<Vec<_>>(),
                ),
                rate_range: (
                    rates.iter().copied().fold(f64::INFINITY, f64::min),
                    rates.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                ),
                cpu_per_op: median(
                    &runs_of
                        .iter()
                        .filter_map(|s| s.cpu.map(|cpu| cpu / s.count))
                        .collect::<Vec<_>>(),
                ),
                command: contender.command_line(),
            }
        })
        .collect())
}

/// Every run's result line, kept in a file beside the report.
#[derive(Debug, Default)]
pub struct RunLog {
    lines: Vec<String>,
}

impl RunLog {
    fn record(&mut self, workload: &str, contender: &str, run: usize, sample: &Sample) {
        self.lines.push(format!(
            "{{\"workload\":\"{workload}\",\"contender\":\"{contender}\",\"run\":{run},\"peak_kb\":{},\"wall_ms\":{:.3},\"cpu_s\":{},\"result\":{}}}",
            sample.peak_kb,
            sample.wall.as_secs_f64() * 1e3,
            sample.cpu.map_or("null".to_owned(), |c| format!("{c:.3}")),
            if sample.line.is_empty() { "null" } else { &sample.line }
        ));
    }

    /// The lines, one JSON object each.
    pub fn text(&self) -> String {
        let mut text = self.lines.join("\n");
        text.push('\n');
        text
    }
}

/// The test server (`agent-bench server`) the contenders run against; it stops
/// when this is dropped (its stdin closes).
pub struct BenchServer {
    child: Child,
    stdin: Option<ChildStdin>,
    /// Its base URL.
    pub url: String,
    /// Its agent token.
    pub token: String,
}

impl BenchServer {
    /// Starts `agent-bench server` with tail jobs of `lines` lines of 100 bytes.
    pub fn start(agent_bench: &Path, lines: &[u64]) -> Result<Self, XtaskError> {
        let list: Vec<String> = lines.iter().map(u64::to_string).collect();
        let mut child = Command::new(agent_bench)
            .args(["server", "--bytes", "100", "--token", "bench-token"])
            .args(["--lines", &list.join(",")])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| {
                XtaskError::Failed(format!(
                    "cannot start the test server `{}`: {e}",
                    agent_bench.display()
                ))
            })?;
        let stdin = child.stdin.take();
        let mut first = String::new();
        if let Some(stdout) = child.stdout.take() {
            let _ = BufReader::new(stdout).read_line(&mut first);
        }
        let url = json_string(&first, "url");
        let token = json_string(&first, "token");
        match (url, token) {
            (Some(url), Some(token)) => Ok(BenchServer {
                child,
                stdin,
                url,
                token,
            }),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                Err(XtaskError::Failed(format!(
                    "the test server did not say where it listens (it printed `{}`)",
                    first.trim()
                )))
            }
        }
    }
}

impl BenchServer {
    /// The server process's CPU time so far (user + system of all its threads),
    /// seconds; `None` where `/proc` cannot say.
    pub fn cpu_seconds(&self) -> Option<f64> {
        ProcStat::read(Path::new(&format!("/proc/{}/stat", self.child.id())))
            .map(|stat| stat.cpu_seconds())
    }
}

impl Drop for BenchServer {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where `cargo build --release` puts binaries: `$CARGO_TARGET_DIR/release` or
/// `<root>/target/release`.
pub fn release_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|dir| {
            if dir.is_absolute() {
                dir
            } else {
                root.join(dir)
            }
        })
        .unwrap_or_else(|| root.join("target"))
        .join("release")
}

/// Where the reports go: `<root>/target/bench/`.
pub fn report_dir(root: &Path) -> Result<PathBuf, XtaskError> {
    let dir = root.join("target").join("bench");
    std::fs::create_dir_all(&dir)
        .map_err(|e| XtaskError::Failed(format!("cannot create {}: {e}", dir.display())))?;
    Ok(dir)
}

/// Writes a report file and says where it is.
pub fn write_report(path: &Path, text: &str) -> Result<(), XtaskError> {
    std::fs::write(path, text)
        .map_err(|e| XtaskError::Failed(format!("cannot write {}: {e}", path.display())))?;
    println!("==> report written to {}", path.display());
    Ok(())
}

/// Today's date (UTC) as `YYYY-MM-DD`.
pub fn today() -> String {
    let days = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() / 86_400)
        .unwrap_or(0) as i64;
    // Howard Hinnant's civil_from_days
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The machine, one line: CPU model, cores, memory, kernel, rustc.
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown CPU", |(_, m)| m.trim())
        .to_owned();
    let cores = thread::available_parallelism().map_or(0, usize::from);
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_gib = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0 / 1024.0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap_or_default()
        .trim()
        .to_owned();
    let rustc = Command::new("rustc")
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    format!("{model}, {cores} cores, {mem_gib:.0} GiB, Linux {kernel}, {rustc}")
}

/// `12345.6` as `12,346`.
pub fn thousands(value: f64) -> String {
    if !value.is_finite() {
        return "-".to_owned();
    }
    let digits = format!("{:.0}", value.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if value < 0.0 {
        out.insert(0, '-');
    }
    out
}

/// A ratio as `12.3x`.
pub fn ratio(value: f64) -> String {
    if !value.is_finite() {
        return "-".to_owned();
    }
    if value >= 10.0 {
        format!("{value:.1}x")
    } else {
        format!("{value:.2}x")
    }
}

/// CPU seconds for a table: `0.123` (three decimals under 10 s), `-` when unknown.
pub fn cpu_figure(seconds: f64) -> String {
    if !seconds.is_finite() {
        "-".to_owned()
    } else if seconds >= 10.0 {
        format!("{seconds:.1}")
    } else {
        format!("{seconds:.3}")
    }
}

/// `met` or `MISSED`.
pub fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "**missed**"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_numbers_and_strings_of_flat_json() {
        let serde = r#"{"count":5000,"rate":12654.3,"seconds":0.39,"url":"http://x/"}"#;
        assert_eq!(json_number(serde, "count"), Some(5000.0));
        assert_eq!(json_number(serde, "rate"), Some(12654.3));
        assert_eq!(json_string(serde, "url").as_deref(), Some("http://x/"));
        let python = r#"{"count": 5000, "seconds": 1e-05, "vmhwm_kb": 41000}"#;
        assert_eq!(json_number(python, "seconds"), Some(1e-5));
        assert_eq!(json_number(python, "vmhwm_kb"), Some(41000.0));
        assert_eq!(json_number(python, "nope"), None);
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn formats_figures() {
        assert_eq!(thousands(1_234_567.4), "1,234,567");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(ratio(12.345), "12.3x");
        assert_eq!(ratio(0.8), "0.80x");
        assert_eq!(cpu_figure(0.1234), "0.123");
        assert_eq!(cpu_figure(12.34), "12.3");
        assert_eq!(cpu_figure(f64::NAN), "-");
        assert!(today().len() == 10 && today().starts_with("20"));
    }

    #[test]
    fn reads_state_and_cpu_ticks_of_a_stat_line() {
        // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt
        // majflt cmajflt utime stime cutime cstime ...
        let line = "4242 (a (b) c) Z 1 4242 4242 0 -1 4194560 100 0 0 0 250 31 7 2 20 0 3 0";
        let stat = ProcStat::parse(line).unwrap();
        assert_eq!(stat.state, 'Z');
        assert_eq!(stat.ticks, 250 + 31 + 7 + 2);
        assert!(stat.exited());
        let running = ProcStat::parse("1 (sh) S 0 1 1 0 -1 0 0 0 0 0 5 6 0 0").unwrap();
        assert!(!running.exited());
        assert_eq!(running.ticks, 11);
        assert_eq!(ProcStat::parse("1 (sh) S 0 1"), None);
        assert_eq!(ProcStat::parse("no parenthesis"), None);
    }

    #[test]
    fn a_reporting_contender_gets_its_cpu_time_read_before_it_is_reaped() {
        let line = r#"{"count": 1, "seconds": 1, "rate": 1, "vmhwm_kb": 0}"#;
        let script = format!("echo '{line}'");
        let sample = Contender::new("sh", "sh", &["-c", &script]).run().unwrap();
        assert_eq!(sample.count, 1.0);
        let cpu = sample.cpu.expect("the CPU time of an exited contender");
        assert!(cpu >= 0.0 && cpu.is_finite());
        let whole = Contender::whole_process("true", "true", &[]).run().unwrap();
        assert_eq!(whole.cpu, None);
    }

    #[test]
    fn a_contender_is_timed_and_its_peak_read() {
        let sample = Contender::whole_process("true", "true", &[]).run().unwrap();
        assert!(sample.wall > Duration::ZERO);
        let missing = Contender::new("nope", "/nonexistent/program", &[]).run();
        assert!(missing.is_err());
    }
}
