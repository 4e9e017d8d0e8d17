//! Credentials kept out of answers.
//!
//! Operators put credentials where Ray needs them: a `working_dir` or `py_modules`
//! URL with a user and password (`https://user:pass@host/app.zip`), a pip option
//! naming a private index (`--index-url https://u:token@host/simple`), secrets in
//! `env_vars`. Every answer that shows a release's or a job's `runtime_env` or
//! entrypoint passes through here: the userinfo of every URL and the value of
//! every credential-bearing pip option become [`REDACTED`], wherever they sit in
//! the JSON.

use serde_json::Value;
use std::borrow::Cow;

/// What a hidden credential reads as.
pub const REDACTED: &str = "[redacted]";

/// pip options whose value may carry a credential (an index or proxy URL, whose
/// path or query can hold a token even without userinfo).
const CREDENTIAL_OPTIONS: &[&str] = &[
    "--index-url",
    "--extra-index-url",
    "--find-links",
    "--proxy",
    "-i",
    "-f",
];

/// Hides credentials in every string of `value` (object keys are kept). In an
/// array, an element that is a bare credential-bearing option hides the element
/// after it (`["--index-url", "https://u:t@host/simple"]`).
///
/// ```
/// use serde_json::json;
///
/// let mut env = json!({"working_dir": "https://me:pw@host/app.zip",
///                      "pip": ["--index-url", "https://u:t@host/simple", "numpy"]});
/// agent_gateway::redact::value(&mut env);
/// assert_eq!(env, json!({"working_dir": "https://[redacted]@host/app.zip",
///                        "pip": ["--index-url", "[redacted]", "numpy"]}));
/// ```
pub fn value(value: &mut Value) {
    match value {
        Value::String(s) => {
            if let Cow::Owned(clean) = text(s) {
                *s = clean;
            }
        }
        Value::Array(items) => {
            let mut hide_next = false;
            for item in items {
                if hide_next {
                    *item = Value::String(REDACTED.into());
                    hide_next = false;
                    continue;
                }
                hide_next = item
                    .as_str()
                    .is_some_and(|s| CREDENTIAL_OPTIONS.contains(&s.trim()));
                self::value(item);
            }
        }
        Value::Object(map) => map.values_mut().for_each(self::value),
        _ => {}
    }
}

/// A job or release answer's `runtime_env`: every value of `env_vars` hidden
/// except the `AGENT_*` ones the gateway sets from the caller's own run (a
/// release's variables may hold secrets), then [`value`] on the rest.
///
/// ```
/// use serde_json::json;
///
/// let mut env = json!({"env_vars": {"TOKEN": "s3cr3t", "AGENT_ACTION": "greet"}});
/// agent_gateway::redact::runtime_env(&mut env);
/// assert_eq!(env["env_vars"], json!({"TOKEN": "[hidden]", "AGENT_ACTION": "greet"}));
/// ```
pub fn runtime_env(env: &mut Value) {
    if let Some(Value::Object(vars)) = env.get_mut("env_vars") {
        for (name, v) in vars.iter_mut() {
            if !is_gateway_variable(name) {
                *v = Value::String("[hidden]".into());
            }
        }
    }
    value(env);
}

fn is_gateway_variable(name: &str) -> bool {
    matches!(
        name,
        "AGENT_ACTION" | "AGENT_PARAMS" | "AGENT_PLUGIN" | "AGENT_LANGUAGE"
    )
}

/// A Ray job as answered (`jobs/` and `jobs/{id}/`): its `runtime_env` through
/// [`runtime_env`], its entrypoint through [`text`].
pub fn job(job: &mut Value) {
    if let Some(env) = job.get_mut("runtime_env") {
        runtime_env(env);
    }
    if let Some(Value::String(e)) = job.get_mut("entrypoint") {
        if let Cow::Owned(clean) = text(e) {
            *e = clean;
        }
    }
}

/// Hides the userinfo of every URL in `s` and the value of every
/// credential-bearing pip option (`--index-url X`, `--index-url=X`, `-iX`).
///
/// ```
/// use agent_gateway::redact::text;
///
/// assert_eq!(text("git+https://tok@github.com/o/r"), "git+https://[redacted]@github.com/o/r");
/// assert_eq!(text("--extra-index-url=https://h/t0k/simple numpy"), "--extra-index-url=[redacted] numpy");
/// assert_eq!(text("numpy==1.0"), "numpy==1.0");
/// ```
pub fn text(s: &str) -> Cow<'_, str> {
    let urls = userinfo(s);
    let options = options(&urls);
    match options {
        Cow::Borrowed(_) => urls,
        Cow::Owned(o) => Cow::Owned(o),
    }
}

/// Replaces `user:pass` in every `scheme://user:pass@host`.
fn userinfo(s: &str) -> Cow<'_, str> {
    if !s.contains("://") {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    let mut changed = false;
    while let Some(pos) = rest.find("://") {
        let (head, tail) = rest.split_at(pos + 3);
        out.push_str(head);
        // The authority ends at the path, query, fragment, or the end of the word.
        let end = tail
            .find(|c: char| matches!(c, '/' | '?' | '#') || c.is_whitespace() || c == '"')
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            Some(at) => {
                out.push_str(REDACTED);
                out.push_str(&authority[at..]);
                changed = true;
            }
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    if changed {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(s)
    }
}

/// Replaces the values of credential-bearing options, word by word.
fn options(s: &str) -> Cow<'_, str> {
    if !s.contains('-') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut changed = false;
    let mut hide_next = false;
    let mut rest = s;
    while !rest.is_empty() {
        let blank_end = rest
            .find(|c: char| !c.is_whitespace())
            .unwrap_or(rest.len());
        out.push_str(&rest[..blank_end]);
        rest = &rest[blank_end..];
        let word_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let word = &rest[..word_end];
        rest = &rest[word_end..];
        if word.is_empty() {
            break;
        }
        if hide_next {
            out.push_str(REDACTED);
            changed = true;
            hide_next = false;
            continue;
        }
        if CREDENTIAL_OPTIONS.contains(&word) {
            hide_next = true;
            out.push_str(word);
            continue;
        }
        let attached = CREDENTIAL_OPTIONS.iter().find_map(|opt| {
            let value = word.strip_prefix(opt)?;
            if opt.starts_with("--") {
                value.strip_prefix('=').map(|_| opt.len() + 1)
            } else {
                // `-ihttps://...` or `-i=...`; `-install` is not `-i`.
                (value.contains("://") || value.starts_with('=')).then_some(opt.len())
            }
        });
        match attached {
            Some(keep) if keep < word.len() => {
                out.push_str(&word[..keep]);
                if word[keep..].starts_with('=') {
                    out.push('=');
                }
                out.push_str(REDACTED);
                changed = true;
            }
            _ => out.push_str(word),
        }
    }
    if changed {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn userinfo_is_hidden_in_every_url() {
        for (raw, shown) in [
            (
                "https://user:pass@host/app.zip",
                "https://[redacted]@host/app.zip",
            ),
            ("s3://KEY:SECRET@bucket", "s3://[redacted]@bucket"),
            (
                "a https://x@h b http://y:z@k/p?q=1",
                "a https://[redacted]@h b http://[redacted]@k/p?q=1",
            ),
            ("https://u:p@ss@host/", "https://[redacted]@host/"),
            ("https://host/path@x", "https://host/path@x"),
            ("file:///srv/demo/app.zip", "file:///srv/demo/app.zip"),
        ] {
            assert_eq!(text(raw), shown, "{raw}");
        }
    }

    #[test]
    fn credential_option_values_are_hidden() {
        for (raw, shown) in [
            (
                "--index-url https://u:tok@h/simple",
                "--index-url [redacted]",
            ),
            ("-i https://h/tok/simple numpy", "-i [redacted] numpy"),
            ("-ihttps://h/tok/simple", "-i[redacted]"),
            ("--find-links=/secret/dir", "--find-links=[redacted]"),
            ("--proxy  http://p:w@proxy:3128", "--proxy  [redacted]"),
            ("--install-option x", "--install-option x"),
            ("-e .", "-e ."),
        ] {
            assert_eq!(text(raw), shown, "{raw}");
        }
    }

    #[test]
    fn every_string_of_a_runtime_env_is_cleaned() {
        let mut env = json!({
            "working_dir": "https://me:pw@host/app.zip",
            "py_modules": ["s3://AK:SK@bucket/mod.zip"],
            "pip": {"packages": ["-i", "https://u:t@h/simple", "numpy", "--extra-index-url=https://h2/t"]},
            "env_vars": {"TOKEN": "s3cr3t", "AGENT_PARAMS": "{}"},
        });
        runtime_env(&mut env);
        let shown = env.to_string();
        for secret in ["me:pw", "AK:SK", "u:t", "h2/t", "s3cr3t"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert_eq!(env["pip"]["packages"][2], "numpy");
        assert_eq!(env["env_vars"]["AGENT_PARAMS"], "{}");
    }
}
