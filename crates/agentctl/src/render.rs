//! Output for people: aligned tables, key/value views, colour on a terminal only.

use serde_json::Value;
use std::io::{self, IsTerminal, Write};

/// Whether to colour what goes to stdout.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    /// ANSI colours on.
    pub color: bool,
    /// Standard output is a terminal: log lines go through [`crate::safe::neutralize`].
    pub tty: bool,
    /// `-o wide`: every cell whole.
    pub wide: bool,
    /// The terminal's width, which tables fit (none in a pipe).
    pub width: Option<usize>,
}

impl Style {
    /// Colours when stdout is a terminal, `NO_COLOR` is unset or empty and `TERM`
    /// is not `dumb` (<https://no-color.org>).
    ///
    /// On a terminal, tables fit its width: `COLUMNS` when set, else the terminal's
    /// own size; in a pipe they are not cut to a width.
    pub fn detect(wide: bool) -> Style {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
        let tty = io::stdout().is_terminal();
        let width = if tty {
            std::env::var("COLUMNS")
                .ok()
                .and_then(|c| c.trim().parse::<usize>().ok())
                .filter(|w| *w > 0)
                .or_else(|| terminal_size::terminal_size().map(|(w, _)| usize::from(w.0)))
        } else {
            None
        };
        Style {
            color: !no_color && !dumb && tty,
            tty,
            wide,
            width,
        }
    }

    /// No colours, no width.
    #[cfg(test)]
    pub fn plain() -> Style {
        Style {
            color: false,
            tty: false,
            wide: false,
            width: None,
        }
    }

    /// A log line as it is printed: neutralized on a terminal, as it is in a pipe.
    pub fn log_line<'a>(&self, line: &'a str) -> std::borrow::Cow<'a, str> {
        if self.tty {
            crate::safe::neutralize(line)
        } else {
            std::borrow::Cow::Borrowed(line)
        }
    }

    /// One cell's text, coloured as the cell says.
    pub fn cell(&self, cell: &Cell) -> String {
        self.paint(&cell.text, cell.color)
    }

    fn paint(&self, text: &str, color: Option<Color>) -> String {
        match (self.color, color) {
            (true, Some(c)) => sgr(c.sgr(), text),
            _ => text.to_owned(),
        }
    }

    /// `text` in the colour of source `i` (a job among several that one command
    /// follows: stern's colour per source), when colours are on.
    pub fn source(&self, text: &str, i: usize) -> String {
        // Cyan, green, yellow, magenta, blue, then their bright forms: red is left
        // to failures.
        const PALETTE: [&str; 10] = ["36", "32", "33", "35", "34", "96", "92", "93", "95", "94"];
        if self.color {
            sgr(PALETTE[i % PALETTE.len()], text)
        } else {
            text.to_owned()
        }
    }
}

/// `text` between an SGR escape and the reset.
fn sgr(code: &str, text: &str) -> String {
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// The few colours agentctl uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Color {
    /// Done well.
    Green,
    /// Failed.
    Red,
    /// Under way.
    Yellow,
    /// Stopped, dead.
    Dim,
    /// Headers.
    Bold,
}

impl Color {
    fn sgr(self) -> &'static str {
        match self {
            Color::Green => "32",
            Color::Red => "31",
            Color::Yellow => "33",
            Color::Dim => "2",
            Color::Bold => "1",
        }
    }
}

/// The colour of a job, task, node or application status.
pub fn status_color(status: &str) -> Option<Color> {
    match status.to_ascii_uppercase().as_str() {
        "SUCCEEDED" | "FINISHED" | "RUNNING_HEALTHY" | "HEALTHY" | "ALIVE" | "OK" => {
            Some(Color::Green)
        }
        "FAILED" | "DEPLOY_FAILED" | "UNHEALTHY" | "ERROR" => Some(Color::Red),
        "PENDING"
        | "RUNNING"
        | "DEPLOYING"
        | "PENDING_ARGS_AVAIL"
        | "PENDING_NODE_ASSIGNMENT"
        | "SUBMITTED_TO_WORKER"
        | "DELETING" => Some(Color::Yellow),
        "STOPPED" | "DEAD" => Some(Color::Dim),
        _ => None,
    }
}

/// One cell: its text and perhaps a colour.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    text: String,
    color: Option<Color>,
    /// The most characters shown outside `-o wide`.
    limit: Option<usize>,
}

impl Cell {
    /// A plain cell; control characters become spaces.
    pub fn new(text: impl Into<String>) -> Cell {
        Cell {
            text: clean(&text.into()),
            color: None,
            limit: None,
        }
    }

    /// A status cell, coloured by [`status_color`].
    pub fn status(text: impl Into<String>) -> Cell {
        let text = text.into();
        let color = status_color(&text);
        Cell {
            text: clean(&text),
            color,
            limit: None,
        }
    }

    /// A cell for an optional value: `-` when absent.
    pub fn opt(text: Option<impl Into<String>>) -> Cell {
        match text {
            Some(t) => Cell::new(t),
            None => Cell::new("-"),
        }
    }

    /// A cell for text that may span lines (an entrypoint): its first line and ` …`
    /// when there are more, except with `-o wide`, which shows it whole, each line
    /// break escaped as `\\n`.
    pub fn lines(text: &str, wide: bool) -> Cell {
        if wide {
            let joined = text
                .trim_end_matches('\n')
                .replace('\r', "")
                .replace('\n', "\\n");
            return Cell::new(joined);
        }
        let first = text.lines().next().unwrap_or("");
        if text.trim_end_matches('\n').contains('\n') {
            Cell::new(format!("{first} …"))
        } else {
            Cell::new(first)
        }
    }

    /// Shows at most `max` characters (ending with `…`), except with `-o wide`.
    pub fn cut(mut self, max: usize) -> Cell {
        self.limit = Some(max);
        self
    }

    /// The cell as shown: cut to its limit unless `wide`.
    fn shown(&self, wide: bool) -> Cell {
        match self.limit {
            Some(max) if !wide => Cell {
                text: cut_text(&self.text, max),
                color: self.color,
                limit: None,
            },
            _ => self.clone(),
        }
    }

    fn width(&self) -> usize {
        self.text.chars().count()
    }
}

/// `text` cut to `max` characters, the last one `…` when something was cut.
fn cut_text(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// How a column gives up width to fit the terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    /// Never cut: ids a user copies into the next command.
    Id,
    /// Free text (an entrypoint, a message, a name): shrinks first, down to 12.
    Text,
    /// Anything else: shrinks last, down to its header or 6.
    Other,
}

/// Column widths that fit `total` characters (two spaces between columns): the
/// [`Fit::Text`] columns give up characters first, widest first, down to 12; then the
/// [`Fit::Other`] ones, none below its header or 6. [`Fit::Id`] columns keep their
/// width, so a table of long ids stays wider than the terminal rather than cut one.
fn fit(widths: &mut [usize], headers: &[usize], kinds: &[Fit], total: usize) {
    let gaps = 2 * widths.len().saturating_sub(1);
    for (pass, floor_of) in [(Fit::Text, 12usize), (Fit::Other, 6usize)] {
        if pass == Fit::Other {
            // When the ids alone keep the table wider than the terminal, cutting
            // the other values would lose them for nothing.
            let least: usize = widths
                .iter()
                .zip(kinds)
                .zip(headers)
                .map(|((w, k), h)| match k {
                    Fit::Other => (*w).min((*h).max(floor_of)),
                    _ => *w,
                })
                .sum::<usize>()
                + gaps;
            if least > total {
                return;
            }
        }
        loop {
            let sum: usize = widths.iter().sum::<usize>() + gaps;
            if sum <= total {
                return;
            }
            let floor = |i: usize| headers[i].max(floor_of);
            let Some((i, _)) = widths
                .iter()
                .enumerate()
                .filter(|(i, w)| kinds.get(*i) == Some(&pass) && **w > floor(*i))
                .max_by_key(|(_, w)| **w)
            else {
                break; // this kind has nothing more to give
            };
            let second = widths
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i && kinds.get(*j) == Some(&pass))
                .map(|(_, w)| *w)
                .max()
                .unwrap_or(0);
            let excess = sum - total;
            // Down to the next widest column of its kind at most per step, so the
            // cut spreads.
            let give = excess
                .min(widths[i] - floor(i))
                .min(widths[i].saturating_sub(second).max(1));
            widths[i] -= give;
        }
    }
}

/// A cell's text: line breaks and tabs become spaces, every other control character
/// is shown escaped (see [`crate::safe::escape_all`]).
fn clean(s: &str) -> String {
    crate::safe::escape_all(s).into_owned()
}

/// A table with a header line.
#[derive(Debug, Default)]
pub struct Table {
    headers: Vec<&'static str>,
    kinds: Vec<Fit>,
    rows: Vec<Vec<Cell>>,
}

impl Table {
    /// A table with these column headers; the last column is free text (it shrinks
    /// first), the others [`Fit::Other`] until [`Table::fit`] says otherwise.
    pub fn new(headers: &[&'static str]) -> Table {
        let mut kinds = vec![Fit::Other; headers.len()];
        if let Some(last) = kinds.last_mut() {
            *last = Fit::Text;
        }
        Table {
            headers: headers.to_vec(),
            kinds,
            rows: Vec::new(),
        }
    }

    /// How each column fits the terminal (one per header).
    pub fn fit(mut self, kinds: &[Fit]) -> Table {
        self.kinds = kinds.to_vec();
        self.kinds.resize(self.headers.len(), Fit::Other);
        self
    }

    /// Adds a row (one cell per header).
    pub fn row(&mut self, cells: Vec<Cell>) {
        self.rows.push(cells);
    }

    /// Writes the table; an empty one says `(none)` under its headers.
    pub fn write(&self, style: &Style, out: &mut dyn Write) -> io::Result<()> {
        let n = self.headers.len();
        let header_widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        let mut widths = header_widths.clone();
        // An id column is never cut, whatever limit a cell carries.
        let mut rows: Vec<Vec<Cell>> = self
            .rows
            .iter()
            .map(|r| {
                r.iter()
                    .enumerate()
                    .map(|(i, c)| c.shown(style.wide || self.kinds.get(i) == Some(&Fit::Id)))
                    .collect()
            })
            .collect();
        for row in &rows {
            for (i, cell) in row.iter().enumerate().take(n) {
                widths[i] = widths[i].max(cell.width());
            }
        }
        if let (Some(total), false) = (style.width, style.wide) {
            fit(&mut widths, &header_widths, &self.kinds, total);
            for row in &mut rows {
                for (i, cell) in row.iter_mut().enumerate().take(n) {
                    if cell.width() > widths[i] {
                        cell.text = cut_text(&cell.text, widths[i]);
                    }
                }
            }
        }
        let headers: Vec<Cell> = self
            .headers
            .iter()
            .map(|h| Cell {
                text: (*h).to_owned(),
                color: Some(Color::Bold),
                limit: None,
            })
            .collect();
        write_row(&headers, &widths, style, out)?;
        for row in &rows {
            write_row(row, &widths, style, out)?;
        }
        if self.rows.is_empty() {
            writeln!(out, "(none)")?;
        }
        Ok(())
    }
}

fn write_row(
    cells: &[Cell],
    widths: &[usize],
    style: &Style,
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut line = String::new();
    let last = cells.len().min(widths.len());
    for (i, cell) in cells.iter().enumerate().take(last) {
        line.push_str(&style.paint(&cell.text, cell.color));
        if i + 1 < last {
            let pad = widths[i].saturating_sub(cell.width()) + 2;
            line.extend(std::iter::repeat_n(' ', pad));
        }
    }
    writeln!(out, "{}", line.trim_end())
}

/// The longest value a key/value view shows on its line.
const MAX_VALUE: usize = 160;

/// A key/value view of one object: `key: value` lines, keys aligned, multi-line
/// values indented under their key.
#[derive(Debug, Default)]
pub struct Details {
    rows: Vec<(String, Cell, bool)>,
}

impl Details {
    /// An empty view.
    pub fn new() -> Details {
        Details::default()
    }

    /// Adds a one-line value.
    pub fn add(&mut self, key: impl Into<String>, value: Cell) {
        self.rows.push((key.into(), value, false));
    }

    /// Adds a value that may span lines (an entrypoint, a log).
    pub fn add_text(&mut self, key: impl Into<String>, text: &str) {
        self.rows.push((
            key.into(),
            Cell {
                text: text.trim_end().to_owned(),
                color: None,
                limit: None,
            },
            true,
        ));
    }

    /// Adds every field of `obj` not named in `skip`, in the object's order; nested
    /// objects become `parent.child` keys, lists of plain values one comma-separated
    /// line, lists of objects `key[i].field` keys.
    pub fn add_rest(&mut self, obj: &serde_json::Map<String, Value>, skip: &[&str]) {
        for (k, v) in obj {
            if skip.contains(&k.as_str()) {
                continue;
            }
            self.add_flat(k.clone(), v, 0);
        }
    }

    fn add_flat(&mut self, key: String, v: &Value, depth: usize) {
        // Deeper than this, the rest of a value stays compact JSON (`-o json` has it all).
        const MAX_DEPTH: usize = 4;
        match v {
            Value::String(s) if s.contains('\n') => self.add_text(key, s),
            Value::String(s) if key.ends_with("status") || key.ends_with("state") => {
                self.add(key, Cell::status(s))
            }
            Value::Object(m) if !m.is_empty() && depth < MAX_DEPTH => {
                for (k, inner) in m {
                    self.add_flat(format!("{key}.{k}"), inner, depth + 1);
                }
            }
            Value::Array(items)
                if !items.is_empty()
                    && items
                        .iter()
                        .all(|i| !matches!(i, Value::Object(_) | Value::Array(_))) =>
            {
                let text = items.iter().map(value_text).collect::<Vec<_>>().join(", ");
                self.add(key, Cell::new(text).cut(MAX_VALUE));
            }
            Value::Array(items) if !items.is_empty() && depth < MAX_DEPTH => {
                for (i, inner) in items.iter().enumerate() {
                    self.add_flat(format!("{key}[{i}]"), inner, depth + 1);
                }
            }
            // Cut outside `-o wide`: `-o json` shows it whole.
            other => self.add(key, Cell::new(value_text(other)).cut(MAX_VALUE)),
        }
    }

    /// Writes the view.
    pub fn write(&self, style: &Style, out: &mut dyn Write) -> io::Result<()> {
        let width = self
            .rows
            .iter()
            .map(|(k, _, _)| k.chars().count())
            .max()
            .unwrap_or(0);
        for (key, cell, multi) in &self.rows {
            let pad = width - key.chars().count();
            let label = style.paint(&format!("{key}:"), Some(Color::Bold));
            if *multi && cell.text.contains('\n') {
                writeln!(out, "{label}")?;
                for line in cell.text.lines() {
                    writeln!(out, "    {}", clean(line))?;
                }
            } else {
                let text = clean(&cell.shown(style.wide).text);
                let pad = " ".repeat(pad + 1);
                let line = format!("{label}{pad}{}", style.paint(&text, cell.color));
                writeln!(out, "{}", line.trim_end())?;
            }
        }
        Ok(())
    }
}

/// A JSON value as one line of text: strings as they are, `null` as `-`, the rest as
/// compact JSON.
pub fn value_text(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Bytes for people: `1.9 GiB`.
pub fn bytes(n: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{v:.0} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// A resource count: `2`, `0.5`.
pub fn amount(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(f: impl FnOnce(&mut Vec<u8>) -> io::Result<()>) -> String {
        let mut buf = Vec::new();
        f(&mut buf).unwrap();
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn tables_align_and_strip_control_characters() {
        let mut t = Table::new(&["ID", "STATUS", "WHAT"]);
        t.row(vec![
            Cell::new("a"),
            Cell::status("RUNNING"),
            Cell::new("x\ny"),
        ]);
        t.row(vec![
            Cell::new("long-id"),
            Cell::status("FAILED"),
            Cell::new("z").cut(5),
        ]);
        let out = text(|b| t.write(&Style::plain(), b));
        assert_eq!(
            out,
            "ID       STATUS   WHAT\na        RUNNING  x y\nlong-id  FAILED   z\n"
        );
        let empty = text(|b| Table::new(&["ID"]).write(&Style::plain(), b));
        assert_eq!(empty, "ID\n(none)\n");
    }

    #[test]
    fn tables_fit_the_width_unless_wide() {
        let mut t = Table::new(&["ID", "ENTRYPOINT"]);
        t.row(vec![
            Cell::new("job-1"),
            Cell::new("python a-very-long-entrypoint.py --with --many --flags"),
        ]);
        let narrow = Style {
            width: Some(30),
            ..Style::plain()
        };
        let out = text(|b| t.write(&narrow, b));
        for line in out.lines() {
            assert!(line.chars().count() <= 30, "{line:?}");
        }
        assert!(out.contains("python a-very-long-ent…"), "{out}");
        let wide = Style {
            wide: true,
            ..narrow
        };
        let out = text(|b| t.write(&wide, b));
        assert!(out.contains("--many --flags"), "{out}");
        let mut t = Table::new(&["X"]);
        t.row(vec![Cell::new("abcdefgh").cut(4)]);
        assert_eq!(text(|b| t.write(&Style::plain(), b)), "X\nabc…\n");
        assert_eq!(text(|b| t.write(&wide, b)), "X\nabcdefgh\n");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Whatever the width and the cells, an id column is shown whole, however
        /// long, even with a cut limit on its cells.
        #[test]
        fn ids_are_never_cut(
            ids in proptest::collection::vec("[a-z0-9_]{1,60}", 1..5),
            other in "[A-Z]{1,20}",
            free in "[ -~]{0,120}",
            width in 10usize..140,
        ) {
            let mut t = Table::new(&["ID", "STATUS", "TEXT"]).fit(&[Fit::Id, Fit::Other, Fit::Text]);
            for id in &ids {
                t.row(vec![Cell::new(id.as_str()).cut(4), Cell::new(other.as_str()), Cell::new(free.as_str())]);
            }
            let style = Style { width: Some(width), ..Style::plain() };
            let out = text(|b| t.write(&style, b));
            for (line, id) in out.lines().skip(1).zip(&ids) {
                proptest::prop_assert!(line.starts_with(&format!("{id} ")) || line == id, "{id} cut in {line:?}");
            }
        }

        /// Free text gives way first: an ordinary column loses width only once
        /// every free-text column is down to its floor; ids never do.
        #[test]
        fn free_text_shrinks_first(
            cols in proptest::collection::vec((1usize..80, 0u8..3), 1..7),
            total in 10usize..200,
        ) {
            let kinds: Vec<Fit> = cols.iter().map(|(_, k)| match k {
                0 => Fit::Id,
                1 => Fit::Other,
                _ => Fit::Text,
            }).collect();
            let before: Vec<usize> = cols.iter().map(|(w, _)| *w).collect();
            let headers = vec![2usize; before.len()];
            let mut widths = before.clone();
            fit(&mut widths, &headers, &kinds, total);
            let other_cut = kinds.iter().zip(before.iter().zip(&widths))
                .any(|(k, (b, w))| *k == Fit::Other && w < b);
            for (k, (b, w)) in kinds.iter().zip(before.iter().zip(&widths)) {
                match k {
                    Fit::Id => proptest::prop_assert_eq!(w, b),
                    Fit::Text if other_cut => proptest::prop_assert!(*w <= 12.min(*b)),
                    _ => {}
                }
                proptest::prop_assert!(w <= b);
            }
        }
    }

    #[test]
    fn colour_only_when_asked() {
        let mut t = Table::new(&["S"]);
        t.row(vec![Cell::status("SUCCEEDED")]);
        let out = text(|b| {
            t.write(
                &Style {
                    color: true,
                    tty: true,
                    wide: false,
                    width: None,
                },
                b,
            )
        });
        assert!(out.contains("\x1b[32mSUCCEEDED\x1b[0m"), "{out:?}");
    }

    #[test]
    fn details_indent_multi_line_values() {
        let mut d = Details::new();
        d.add("id", Cell::new("j1"));
        d.add_text("entrypoint", "python -c\nprint(1)");
        let out = text(|b| d.write(&Style::plain(), b));
        assert_eq!(
            out,
            "id:         j1\nentrypoint:\n    python -c\n    print(1)\n"
        );
    }

    #[test]
    fn numbers_for_people() {
        assert_eq!(bytes(24_606_080_512.0), "22.9 GiB");
        assert_eq!(bytes(512.0), "512 B");
        assert_eq!(amount(2.0), "2");
        assert_eq!(amount(0.5), "0.5");
        assert_eq!(Cell::new("abcdef").cut(4).shown(false).text, "abc…");
        assert_eq!(Cell::new("abcdef").cut(4).shown(true).text, "abcdef");
    }
}
