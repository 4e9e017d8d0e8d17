//! Credentials kept out of answers.
//!
//! Operators put credentials where Ray needs them: a `working_dir` or `py_modules`
//! URL with a user and password (`https://user:pass@host/app.zip`), a pip option
//! naming a private index (`--index-url https://u:token@host/simple`), secrets in
//! `env_vars`. Ray hands them back wherever it shows a runtime environment: a job's
//! `runtime_env`, a Serve application's `deployed_app_config.runtime_env`, a task's
//! `runtime_env_info.serialized_runtime_env` (a JSON string inside the JSON).
//!
//! The rule goes by what a value is, not by which route returned it: every JSON
//! answer of the gateway, and every error message, passes through [`answer`] once,
//! at the backend's boundary ([`crate::backend`]).

use serde_json::Value;
use std::borrow::Cow;

/// What a hidden credential reads as.
pub const REDACTED: &str = "[redacted]";

/// What a hidden `env_vars` value reads as.
pub const HIDDEN: &str = "[hidden]";

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

/// How many JSON strings inside JSON strings are opened; a string holding JSON
/// nested deeper is hidden whole.
const MAX_NESTED_JSON: usize = 4;

/// Hides every credential in one answer, wherever it sits:
///
/// - the values of every `env_vars` object, except the `AGENT_*` ones the gateway
///   sets from the caller's own run;
/// - in every string, the userinfo of every URL and the value of every
///   credential-bearing pip option ([`text`]);
/// - in an array, the element after a bare credential-bearing option
///   (`["--index-url", "https://u:t@host/simple"]`);
/// - a string that holds a JSON object or array (Ray's `serialized_runtime_env`) is
///   read, cleaned by these same rules, and written back; one that mentions
///   `env_vars` but cannot be read is hidden whole.
///
/// Object keys are kept.
///
/// ```
/// use serde_json::json;
///
/// let mut task = json!({"runtime_env_info": {"serialized_runtime_env":
///     "{\"env_vars\": {\"TOKEN\": \"s3cr3t\"}, \"working_dir\": \"https://me:pw@host/app.zip\"}"}});
/// agent_gateway::redact::answer(&mut task);
/// let env: serde_json::Value = serde_json::from_str(
///     task["runtime_env_info"]["serialized_runtime_env"].as_str().unwrap()).unwrap();
/// assert_eq!(env, json!({"env_vars": {"TOKEN": "[hidden]"},
///                        "working_dir": "https://[redacted]@host/app.zip"}));
///
/// let mut env = json!({"pip": ["--index-url", "https://u:t@host/simple", "numpy"],
///                      "env_vars": {"AGENT_ACTION": "greet"}});
/// agent_gateway::redact::answer(&mut env);
/// assert_eq!(env, json!({"pip": ["--index-url", "[redacted]", "numpy"],
///                        "env_vars": {"AGENT_ACTION": "greet"}}));
/// ```
pub fn answer(value: &mut Value) {
    clean(value, 0);
}

fn clean(value: &mut Value, depth: usize) {
    match value {
        Value::String(s) => clean_string(s, depth),
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
                clean(item, depth);
            }
        }
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                if key == "env_vars" {
                    hide_env_vars(item, depth);
                } else {
                    clean(item, depth);
                }
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// The value of an `env_vars` key: an object's values hidden (but the gateway's
/// own variables, cleaned), a string holding a JSON object opened, anything else
/// hidden whole.
fn hide_env_vars(vars: &mut Value, depth: usize) {
    match vars {
        Value::Object(vars) => {
            for (name, v) in vars.iter_mut() {
                if is_gateway_variable(name) {
                    clean(v, depth);
                } else {
                    *v = Value::String(HIDDEN.into());
                }
            }
        }
        Value::String(s) => {
            if depth < MAX_NESTED_JSON {
                if let Ok(mut parsed @ Value::Object(_)) = serde_json::from_str::<Value>(s) {
                    hide_env_vars(&mut parsed, depth + 1);
                    *s = parsed.to_string();
                    return;
                }
            }
            *s = HIDDEN.into();
        }
        Value::Null => {}
        other => *other = Value::String(HIDDEN.into()),
    }
}

/// A string: a JSON object or array inside it is opened and cleaned; other text
/// goes through [`text`].
fn clean_string(s: &mut String, depth: usize) {
    let trimmed = s.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        if let Ok(mut parsed) = serde_json::from_str::<Value>(s) {
            if depth >= MAX_NESTED_JSON {
                *s = REDACTED.into();
                return;
            }
            let before = parsed.clone();
            clean(&mut parsed, depth + 1);
            if parsed != before {
                // Written back only when something was hidden: an answer without
                // a credential keeps Ray's own spelling.
                *s = parsed.to_string();
            }
            return;
        }
    }
    if s.contains("env_vars") {
        // Cut or malformed JSON that names env_vars: its values cannot be told
        // apart, so none of it is shown.
        *s = REDACTED.into();
        return;
    }
    if let Cow::Owned(clean) = text(s) {
        *s = clean;
    }
}

fn is_gateway_variable(name: &str) -> bool {
    matches!(
        name,
        "AGENT_ACTION" | "AGENT_PARAMS" | "AGENT_PLUGIN" | "AGENT_LANGUAGE"
    )
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
        answer(&mut env);
        let shown = env.to_string();
        for secret in ["me:pw", "AK:SK", "u:t", "h2/t", "s3cr3t"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert_eq!(env["pip"]["packages"][2], "numpy");
        assert_eq!(env["env_vars"]["AGENT_PARAMS"], "{}");
    }

    #[test]
    fn json_inside_strings_is_opened_and_written_back_only_when_changed() {
        let raw = r#"{"pip": ["numpy"], "working_dir": "file:///srv/app"}"#;
        let mut v = json!({ "serialized_runtime_env": raw });
        answer(&mut v);
        assert_eq!(v["serialized_runtime_env"], raw);

        // env_vars serialised on its own
        let mut v = json!({"env_vars": "{\"K\": \"v4lue\"}", "y": {"env_vars": "K=v4lue"}});
        answer(&mut v);
        assert_eq!(v["env_vars"], r#"{"K":"[hidden]"}"#);
        assert_eq!(v["y"]["env_vars"], HIDDEN);

        // JSON inside JSON inside ...: opened up to MAX_NESTED_JSON, then hidden
        let mut nested = json!({"working_dir": "https://me:pw@h/a.zip"});
        for _ in 0..=MAX_NESTED_JSON {
            nested = json!({ "s": nested.to_string() });
        }
        answer(&mut nested);
        assert!(!nested.to_string().contains("me:pw"), "{nested}");

        // cut JSON naming env_vars is hidden whole
        let mut v = json!({ "serialized_runtime_env": "{\"env_vars\": {\"K\": \"v4l" });
        answer(&mut v);
        assert_eq!(v["serialized_runtime_env"], REDACTED);

        // env_vars of any other shape
        let mut v = json!({"env_vars": ["K=v4lue"], "x": {"env_vars": null}});
        answer(&mut v);
        assert_eq!(v, json!({"env_vars": HIDDEN, "x": {"env_vars": null}}));
    }
}
