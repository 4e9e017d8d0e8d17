//! Plugin releases: what the gateway can run, from a TOML registry file.
//!
//! ```toml
//! [[releases]]
//! code = "hello"                 # the plugin's short name
//! version = "1.0.0"
//! # id = "7"                     # optional; default: its position in the file (1, 2, ...)
//! entrypoint = "python -u /srv/plugins/hello/main.py {action} {params}"
//! [releases.runtime_env]         # optional: Ray's runtime_env, passed as is
//! env_vars = { GREETING = "hi" }
//! ```
//!
//! Running an action submits a Ray job whose entrypoint is the template with
//! `{action}` and `{params}` replaced by the action's name and its parameters as
//! JSON, each as one single-quoted shell word (Ray runs the entrypoint through a
//! shell; quoting makes any parameter text inert). A placeholder must therefore
//! stand as a bare word: one inside the template's own quotes (`'{params}'`,
//! `sh -c "echo {params}"`), after a backslash or `$`, or after `$(`, `${`, a
//! backquote or `<<` is refused when the registry loads ([`crate::shell`]).
//! `{{` and `}}` are literal braces. The job also gets the environment variables
//! `AGENT_ACTION`, `AGENT_PARAMS` (JSON), `AGENT_PLUGIN` (`code@version`) and, when
//! asked, `AGENT_LANGUAGE`, for plugins that would rather read those.
//!
//! Every field a caller sends is bounded ([`MAX_PARAMS_BYTES`], the action's and
//! language's lengths, [`crate::requirement`]); `requirements` are plain PEP 508
//! specifiers only (no URL, option or path reaches pip). Answers showing a release
//! hide its `env_vars` values and any credential in its URLs and pip options: the
//! backend's boundary does that for every answer ([`crate::redact::answer`]).

use crate::shell::WordContext;
use agent_proto::{JobId, PluginLookup};

use crate::GatewayError;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::path::Path;

/// The largest `params` a run accepts, as JSON (a command-line word and an
/// environment variable are each limited to 128 KiB on Linux).
pub const MAX_PARAMS_BYTES: usize = 64 * 1024;

/// The longest entrypoint template accepted, in bytes.
pub const MAX_ENTRYPOINT_BYTES: usize = 8 * 1024;

/// The largest `runtime_env` a release created through the API may carry, as JSON.
pub const MAX_RUNTIME_ENV_BYTES: usize = 64 * 1024;

/// The longest `language` a run accepts (a BCP 47 tag is at most 35 characters).
pub const MAX_LANGUAGE_LEN: usize = 35;

/// The longest `name` or `description` of a release created through the API.
pub const MAX_TEXT_FIELD_BYTES: usize = 1024;

/// One piece of an entrypoint template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Action,
    Params,
}

/// A parsed entrypoint template (`python main.py {action} {params}`).
///
/// ```
/// use agent_gateway::plugins::EntrypointTemplate;
/// use serde_json::json;
///
/// let t = EntrypointTemplate::parse("python main.py {action} {params} # {{literal}}")?;
/// assert_eq!(
///     t.render("train", &json!({"msg": "it's $(rm -rf /)"})),
///     r#"python main.py 'train' '{"msg":"it'\''s $(rm -rf /)"}' # {literal}"#,
/// );
/// # Ok::<(), String>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntrypointTemplate {
    source: String,
    pieces: Vec<Piece>,
}

impl EntrypointTemplate {
    /// Parses a template; an unknown `{name}`, an unmatched brace, or a placeholder
    /// that is not a bare shell word ([`crate::shell`]) is an error naming it.
    pub fn parse(source: &str) -> Result<Self, String> {
        if source.len() > MAX_ENTRYPOINT_BYTES {
            return Err(format!(
                "the entrypoint is {} bytes; at most {MAX_ENTRYPOINT_BYTES} are accepted",
                source.len()
            ));
        }
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut chars = source.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    text.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    text.push('}');
                }
                '{' => {
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some(c) => name.push(c),
                            None => return Err(format!("unclosed '{{' in {source:?}")),
                        }
                    }
                    let piece = match name.trim() {
                        "action" => Piece::Action,
                        "params" => Piece::Params,
                        other => {
                            return Err(format!(
                                "unknown placeholder {{{other}}} in {source:?}: use {{action}} and {{params}}, or {{{{ and }}}} for braces"
                            ))
                        }
                    };
                    if !text.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut text)));
                    }
                    pieces.push(piece);
                }
                '}' => {
                    return Err(format!(
                        "unmatched '}}' in {source:?} (write }}}} for a brace)"
                    ))
                }
                c => text.push(c),
            }
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        if source.trim().is_empty() {
            return Err("the entrypoint is empty".into());
        }
        let mut context = WordContext::new();
        for piece in &pieces {
            match piece {
                Piece::Text(t) => context.text(t),
                Piece::Action | Piece::Params => {
                    let name = if *piece == Piece::Action {
                        "action"
                    } else {
                        "params"
                    };
                    context.check().map_err(|why| {
                        format!("the placeholder {{{name}}} in the entrypoint {source:?} is refused: {why}")
                    })?;
                    context.placeholder();
                }
            }
        }
        Ok(EntrypointTemplate {
            source: source.to_owned(),
            pieces,
        })
    }

    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The entrypoint for one run: each placeholder becomes one shell word.
    pub fn render(&self, action: &str, params: &Value) -> String {
        let params = params.to_string();
        let mut out = String::with_capacity(self.source.len() + params.len() + action.len());
        for piece in &self.pieces {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Action => out.push_str(&shell_quote(action)),
                Piece::Params => out.push_str(&shell_quote(&params)),
            }
        }
        out
    }
}

/// One POSIX shell word holding `s` exactly: single quotes, with each `'` written
/// as `'\''`.
///
/// ```
/// assert_eq!(agent_gateway::plugins::shell_quote("a b"), "'a b'");
/// assert_eq!(agent_gateway::plugins::shell_quote("it's"), r"'it'\''s'");
/// ```
pub fn shell_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// A registered release.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginRelease {
    /// Its id (a lookup matches it, as does `code@version`).
    pub id: String,
    /// The plugin's code.
    pub code: String,
    /// The release's version.
    pub version: String,
    /// The entrypoint template.
    pub entrypoint: EntrypointTemplate,
    /// Ray's runtime_env for its jobs.
    pub runtime_env: Map<String, Value>,
    /// Anything else the file said about it (name, description, ...), shown as is.
    pub extra: Map<String, Value>,
}

impl PluginRelease {
    /// `code@version`.
    pub fn lookup(&self) -> String {
        format!("{}@{}", self.code, self.version)
    }

    /// True when `lookup` names this release (its id or `code@version`).
    pub fn matches(&self, lookup: &PluginLookup) -> bool {
        let l = lookup.as_str();
        l == self.id || l == self.lookup()
    }

    /// The release as the agent protocol shows it, credentials included: an answer
    /// hides them on its way out, as every answer does ([`crate::redact::answer`]).
    pub fn to_json(&self) -> Value {
        let runtime_env = Value::Object(self.runtime_env.clone());
        let mut out = self.extra.clone();
        let id = match self.id.parse::<u64>() {
            Ok(n) => json!(n),
            Err(_) => json!(self.id),
        };
        out.insert("id".into(), id);
        out.insert("plugin".into(), json!(self.code));
        out.insert("code".into(), json!(self.code));
        out.insert("version".into(), json!(self.version));
        out.insert("lookup".into(), json!(self.lookup()));
        out.insert("entrypoint".into(), json!(self.entrypoint.as_str()));
        out.insert("runtime_env".into(), runtime_env);
        Value::Object(out)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegistryFile {
    #[serde(default)]
    releases: Vec<ReleaseEntry>,
}

#[derive(Deserialize)]
struct ReleaseEntry {
    #[serde(default)]
    id: Option<toml::Value>,
    code: String,
    version: String,
    entrypoint: String,
    #[serde(default)]
    runtime_env: Option<toml::Table>,
    #[serde(flatten)]
    extra: toml::Table,
}

/// The releases the gateway can run: loaded from a file, changed through the API
/// (in memory only).
#[derive(Debug, Clone, Default)]
pub struct PluginRegistry {
    releases: Vec<PluginRelease>,
    next_id: u64,
}

fn toml_to_json(v: toml::Value) -> Result<Value, String> {
    serde_json::to_value(v).map_err(|e| e.to_string())
}

fn check_release(code: &str, version: &str) -> Result<(), String> {
    PluginLookup::new(format!("{code}@{version}"))
        .map(drop)
        .map_err(|e| format!("release {code}@{version}: {e}"))
}

impl PluginRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        PluginRegistry {
            releases: Vec::new(),
            next_id: 1,
        }
    }

    /// Parses a registry file's text.
    ///
    /// ```
    /// let r = agent_gateway::plugins::PluginRegistry::from_toml(r#"
    /// [[releases]]
    /// code = "hello"
    /// version = "1.0.0"
    /// entrypoint = "python -u hello.py {action} {params}"
    /// runtime_env = { env_vars = { GREETING = "hi" } }
    /// "#)?;
    /// assert_eq!(r.len(), 1);
    /// # Ok::<(), String>(())
    /// ```
    pub fn from_toml(text: &str) -> Result<Self, String> {
        let file: RegistryFile = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut registry = PluginRegistry::new();
        for (index, entry) in file.releases.into_iter().enumerate() {
            let id = match entry.id {
                None => (index as u64 + 1).to_string(),
                Some(toml::Value::Integer(n)) => n.to_string(),
                Some(toml::Value::String(s)) => s,
                Some(other) => {
                    return Err(format!(
                        "release {}: id is a {}, neither a number nor a string",
                        index + 1,
                        other.type_str()
                    ))
                }
            };
            agent_proto::PluginLookup::new(id.as_str())
                .map_err(|e| format!("release {}: id {id:?}: {e}", index + 1))?;
            check_release(&entry.code, &entry.version)?;
            let entrypoint = EntrypointTemplate::parse(&entry.entrypoint)
                .map_err(|e| format!("release {}@{}: {e}", entry.code, entry.version))?;
            let runtime_env = match entry.runtime_env {
                Some(t) => match toml_to_json(toml::Value::Table(t))? {
                    Value::Object(m) => m,
                    _ => Map::new(),
                },
                None => Map::new(),
            };
            let extra = match toml_to_json(toml::Value::Table(entry.extra))? {
                Value::Object(m) => m,
                _ => Map::new(),
            };
            registry.insert(PluginRelease {
                id,
                code: entry.code,
                version: entry.version,
                entrypoint,
                runtime_env,
                extra,
            })?;
        }
        Ok(registry)
    }

    /// Reads a registry file.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::from_toml(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    fn insert(&mut self, release: PluginRelease) -> Result<(), String> {
        if self
            .releases
            .iter()
            .any(|r| r.id == release.id || r.lookup() == release.lookup())
        {
            return Err(format!(
                "release {} (id {}) is registered twice",
                release.lookup(),
                release.id
            ));
        }
        if let Ok(n) = release.id.parse::<u64>() {
            self.next_id = self.next_id.max(n + 1);
        }
        self.releases.push(release);
        Ok(())
    }

    /// How many releases there are.
    pub fn len(&self) -> usize {
        self.releases.len()
    }

    /// True when there is none.
    pub fn is_empty(&self) -> bool {
        self.releases.is_empty()
    }

    /// Every release, in registration order.
    pub fn releases(&self) -> &[PluginRelease] {
        &self.releases
    }

    /// The release `lookup` names, or a 404.
    pub fn get(&self, lookup: &PluginLookup) -> Result<&PluginRelease, GatewayError> {
        self.releases
            .iter()
            .find(|r| r.matches(lookup))
            .ok_or_else(|| GatewayError::NotFound {
                message: format!("plugin release {lookup} is not registered"),
            })
    }

    /// Registers a release from an API body: `{"plugin", "version", "entrypoint",
    /// "runtime_env"?}` (a 422 when the entrypoint is missing or bad, a 400 when the
    /// release exists). Returns the new release.
    pub fn create(&mut self, body: &Value) -> Result<&PluginRelease, GatewayError> {
        let field = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_owned);
        let code = field("plugin")
            .or_else(|| field("code"))
            .ok_or_else(|| validation("plugin", "field required", "missing"))?;
        let version =
            field("version").ok_or_else(|| validation("version", "field required", "missing"))?;
        check_release(&code, &version).map_err(|e| validation("plugin", &e, "value_error"))?;
        let entrypoint = field("entrypoint").ok_or_else(|| {
            validation(
                "entrypoint",
                "field required: agent-gateway runs a release through its entrypoint template",
                "missing",
            )
        })?;
        let entrypoint = EntrypointTemplate::parse(&entrypoint)
            .map_err(|e| validation("entrypoint", &e, "value_error"))?;
        let runtime_env = match body.get("runtime_env") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(_) => return Err(validation("runtime_env", "must be an object", "type_error")),
        };
        let env_len = Value::Object(runtime_env.clone()).to_string().len();
        if env_len > MAX_RUNTIME_ENV_BYTES {
            return Err(validation(
                "runtime_env",
                &format!(
                    "runtime_env is {env_len} bytes as JSON; at most {MAX_RUNTIME_ENV_BYTES} are accepted"
                ),
                "value_error",
            ));
        }
        let mut extra = Map::new();
        for key in ["name", "description"] {
            match body.get(key) {
                None | Some(Value::Null) => {}
                Some(Value::String(v)) if v.len() <= MAX_TEXT_FIELD_BYTES => {
                    extra.insert(key.into(), json!(v));
                }
                Some(_) => {
                    return Err(validation(
                        key,
                        &format!("must be a string of at most {MAX_TEXT_FIELD_BYTES} bytes"),
                        "value_error",
                    ))
                }
            }
        }
        let release = PluginRelease {
            id: self.next_id.to_string(),
            code,
            version,
            entrypoint,
            runtime_env,
            extra,
        };
        self.insert(release)
            .map_err(|message| GatewayError::BadRequest { message })?;
        Ok(&self.releases[self.releases.len() - 1])
    }

    /// Removes the release `lookup` names, or a 404.
    pub fn delete(&mut self, lookup: &PluginLookup) -> Result<(), GatewayError> {
        let before = self.releases.len();
        self.releases.retain(|r| !r.matches(lookup));
        if self.releases.len() == before {
            return Err(GatewayError::NotFound {
                message: format!("plugin release {lookup} is not registered"),
            });
        }
        Ok(())
    }
}

fn validation(field: &str, msg: &str, kind: &str) -> GatewayError {
    GatewayError::Validation {
        details: vec![agent_proto::ValidationDetail {
            loc: vec![json!("body"), json!(field)],
            msg: msg.to_owned(),
            kind: kind.to_owned(),
        }],
        message: msg.to_owned(),
    }
}

/// Checks an action name: 1 to 100 characters of `[A-Za-z0-9_.:-]`, not starting
/// with `-` (the plugin's program would read it as an option).
fn check_action(action: &str) -> Result<(), GatewayError> {
    let ok = !action.is_empty()
        && action.len() <= 100
        && !action.starts_with('-')
        && action
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'));
    if ok {
        Ok(())
    } else {
        Err(validation(
            "action",
            "an action is 1 to 100 characters of A-Z, a-z, 0-9, '_', '-', '.', ':', not starting with '-'",
            "value_error",
        ))
    }
}

/// The run's `language`: 1 to [`MAX_LANGUAGE_LEN`] characters of `A-Z a-z 0-9 - _`
/// (a language tag such as `ko` or `pt-BR`).
fn language(body: &Value) -> Result<Option<&str>, GatewayError> {
    match body.get("language") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(lang))
            if !lang.is_empty()
                && lang.len() <= MAX_LANGUAGE_LEN
                && lang
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            Ok(Some(lang))
        }
        Some(_) => Err(validation(
            "language",
            &format!(
                "a language is a tag of 1 to {MAX_LANGUAGE_LEN} characters of A-Z, a-z, 0-9, '-', '_'"
            ),
            "value_error",
        )),
    }
}

/// Every requirement a plain PEP 508 specifier ([`crate::requirement`]), at most
/// [`MAX_REQUIREMENTS`](crate::requirement::MAX_REQUIREMENTS) of them.
fn check_requirements(reqs: &[Value]) -> Result<(), GatewayError> {
    use crate::requirement::MAX_REQUIREMENTS;
    if reqs.len() > MAX_REQUIREMENTS {
        return Err(validation(
            "requirements",
            &format!(
                "{} requirements; at most {MAX_REQUIREMENTS} are accepted",
                reqs.len()
            ),
            "value_error",
        ));
    }
    for (index, req) in reqs.iter().enumerate() {
        let text = req.as_str().unwrap_or_default();
        crate::requirement::check(text).map_err(|why| {
            // The refused text is not echoed: it may be a URL with a credential.
            validation(
                "requirements",
                &format!(
                    "requirement {index} is not a plain package specifier \
                     (name, extras, versions, markers): {why}"
                ),
                "value_error",
            )
        })?;
    }
    Ok(())
}

/// Builds Ray's job submission body for running `body` (`{"action", "params"?,
/// "requirements"?, "job_id"?, "language"?}`) of `release`.
///
/// ```
/// use agent_gateway::plugins::{submission, PluginRegistry};
/// use serde_json::json;
///
/// let reg = PluginRegistry::from_toml(r#"
/// [[releases]]
/// code = "hello"
/// version = "1.0.0"
/// entrypoint = "python hello.py {action} {params}"
/// "#).unwrap();
/// let release = &reg.releases()[0];
/// let sub = submission(release, &json!({"action": "greet", "params": {"n": 3}})).unwrap();
/// assert_eq!(sub["entrypoint"], r#"python hello.py 'greet' '{"n":3}'"#);
/// assert_eq!(sub["runtime_env"]["env_vars"]["AGENT_PARAMS"], r#"{"n":3}"#);
/// assert_eq!(sub["metadata"]["plugin"], "hello@1.0.0");
/// ```
pub fn submission(release: &PluginRelease, body: &Value) -> Result<Value, GatewayError> {
    let action = body
        .get("action")
        .and_then(Value::as_str)
        .ok_or_else(|| validation("action", "field required", "missing"))?;
    check_action(action)?;
    let params = match body.get("params") {
        None | Some(Value::Null) => json!({}),
        Some(p) => p.clone(),
    };
    let params_json = params.to_string();
    if params_json.starts_with('-') {
        return Err(validation(
            "params",
            "params that are a negative number would read as an option; send an object",
            "value_error",
        ));
    }
    if params_json.len() > MAX_PARAMS_BYTES {
        return Err(validation(
            "params",
            &format!(
                "params are {} bytes as JSON; at most {MAX_PARAMS_BYTES} are accepted",
                params_json.len()
            ),
            "value_error",
        ));
    }
    let mut runtime_env = release.runtime_env.clone();
    let mut env_vars = match runtime_env.remove("env_vars") {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    env_vars.insert("AGENT_ACTION".into(), json!(action));
    env_vars.insert("AGENT_PARAMS".into(), json!(params_json));
    env_vars.insert("AGENT_PLUGIN".into(), json!(release.lookup()));
    if let Some(lang) = language(body)? {
        env_vars.insert("AGENT_LANGUAGE".into(), json!(lang));
    }
    runtime_env.insert("env_vars".into(), Value::Object(env_vars));
    match body.get("requirements") {
        None | Some(Value::Null) => {}
        Some(Value::Array(reqs)) if reqs.iter().all(Value::is_string) => {
            check_requirements(reqs)?;
            if !reqs.is_empty() {
                let mut pip: Vec<Value> = match runtime_env.remove("pip") {
                    Some(Value::Array(p)) => p,
                    _ => Vec::new(),
                };
                pip.extend(reqs.iter().cloned());
                runtime_env.insert("pip".into(), Value::Array(pip));
            }
        }
        Some(_) => {
            return Err(validation(
                "requirements",
                "must be a list of strings",
                "type_error",
            ))
        }
    }
    let mut out = Map::new();
    out.insert(
        "entrypoint".into(),
        json!(release.entrypoint.render(action, &params)),
    );
    out.insert("runtime_env".into(), Value::Object(runtime_env));
    out.insert(
        "metadata".into(),
        json!({
            "plugin": release.lookup(),
            "plugin_release_id": release.id,
            "action": action,
            "submitted_by": "agent-gateway",
        }),
    );
    match body.get("job_id") {
        None | Some(Value::Null) => {}
        Some(Value::String(id)) => {
            let id = JobId::new(id.as_str()).map_err(|e| {
                validation(
                    "job_id",
                    &super::mapping::client_error_message(&GatewayError::from(e)),
                    "value_error",
                )
            })?;
            out.insert("submission_id".into(), json!(id.as_str()));
        }
        Some(_) => return Err(validation("job_id", "must be a string", "type_error")),
    }
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
[[releases]]
code = "hello"
version = "1.0.0"
name = "Hello"
entrypoint = "python -u hello.py {action} {params}"
runtime_env = { env_vars = { TOKEN = "s3cr3t" }, pip = ["rich"] }

[[releases]]
id = "custom-7"
code = "hello"
version = "2.0.0"
entrypoint = "echo {{not a placeholder}} {action}"
"#;

    fn lookup(s: &str) -> PluginLookup {
        PluginLookup::new(s).unwrap()
    }

    #[test]
    fn the_file_loads_with_ids_and_lookups() {
        let r = PluginRegistry::from_toml(FILE).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r.get(&lookup("1")).unwrap().version, "1.0.0");
        assert_eq!(r.get(&lookup("hello@2.0.0")).unwrap().id, "custom-7");
        assert_eq!(r.get(&lookup("custom-7")).unwrap().version, "2.0.0");
        assert_eq!(r.get(&lookup("hello@3")).unwrap_err().status_code(), 404);
        let mut shown = r.get(&lookup("1")).unwrap().to_json();
        crate::redact::answer(&mut shown);
        assert_eq!(shown["id"], 1);
        assert_eq!(shown["name"], "Hello");
        assert_eq!(shown["runtime_env"]["env_vars"]["TOKEN"], "[hidden]");
        let typed: agent_proto::PluginRelease = serde_json::from_value(shown).unwrap();
        assert_eq!(typed.lookup().as_deref(), Some("hello@1.0.0"));
    }

    #[test]
    fn bad_files_are_refused_with_a_reason() {
        for (text, why) in [
            ("[[releases]]\ncode='a'\nversion='1'\nentrypoint='run {nope}'", "unknown placeholder"),
            ("[[releases]]\ncode='a'\nversion='1'\nentrypoint='run {action'", "unclosed"),
            ("[[releases]]\ncode='a/b'\nversion='1'\nentrypoint='x'", "a/b"),
            ("[[releases]]\ncode='a'\nversion='1'\n", "entrypoint"),
            ("[[releases]]\ncode='a'\nversion='1'\nentrypoint='x'\n[[releases]]\ncode='a'\nversion='1'\nentrypoint='y'", "twice"),
            ("releasez = 1", "releasez"),
        ] {
            let e = PluginRegistry::from_toml(text).unwrap_err();
            assert!(e.contains(why), "{text:?}: {e}");
        }
    }

    #[test]
    fn params_cannot_escape_their_shell_word() {
        let t = EntrypointTemplate::parse("python x.py {action} {params}").unwrap();
        let hostile = json!({"a": "'; rm -rf / #", "b": "$(id)", "c": "`id`", "d": "\n"});
        let cmd = t.render("act", &hostile);
        // The rendered command, run by sh, hands the script exactly the JSON.
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(cmd.replace("python x.py", "printf '%s\\n'"))
            .output()
            .unwrap();
        let printed = String::from_utf8(out.stdout).unwrap();
        let mut lines = printed.lines();
        assert_eq!(lines.next(), Some("act"));
        let back: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
        assert_eq!(back, hostile);
    }

    #[test]
    fn runs_become_ray_submissions() {
        let r = PluginRegistry::from_toml(FILE).unwrap();
        let rel = r.get(&lookup("hello@1.0.0")).unwrap();
        let sub = submission(
            rel,
            &json!({"action": "greet", "params": {"who": "x"}, "requirements": ["numpy"], "job_id": "my-job-1", "language": "ko"}),
        )
        .unwrap();
        assert_eq!(
            sub["entrypoint"],
            r#"python -u hello.py 'greet' '{"who":"x"}'"#
        );
        assert_eq!(sub["submission_id"], "my-job-1");
        assert_eq!(sub["runtime_env"]["pip"], json!(["rich", "numpy"]));
        assert_eq!(sub["runtime_env"]["env_vars"]["TOKEN"], "s3cr3t");
        assert_eq!(sub["runtime_env"]["env_vars"]["AGENT_LANGUAGE"], "ko");
        assert_eq!(sub["metadata"]["action"], "greet");

        for bad in [
            json!({}),
            json!({"action": "a b"}),
            json!({"action": "x", "job_id": "../x"}),
            json!({"action": "x", "requirements": "numpy"}),
            json!({"action": "x", "params": "y".repeat(MAX_PARAMS_BYTES)}),
        ] {
            assert_eq!(
                submission(rel, &bad).unwrap_err().status_code(),
                422,
                "{bad}"
            );
        }
        let literal = r.get(&lookup("custom-7")).unwrap();
        assert_eq!(
            submission(literal, &json!({"action": "go"})).unwrap()["entrypoint"],
            "echo {not a placeholder} 'go'"
        );
    }

    #[test]
    fn create_and_delete_through_the_api() {
        let mut r = PluginRegistry::from_toml(FILE).unwrap();
        let body = json!({"plugin": "new", "version": "0.1", "entrypoint": "python n.py {action}"});
        let created = r.create(&body).unwrap().to_json();
        assert_eq!(created["id"], 2);
        assert_eq!(r.create(&body).unwrap_err().status_code(), 400);
        assert_eq!(
            r.create(&json!({"plugin": "x", "version": "1"}))
                .unwrap_err()
                .status_code(),
            422
        );
        r.delete(&lookup("new@0.1")).unwrap();
        assert_eq!(r.delete(&lookup("new@0.1")).unwrap_err().status_code(), 404);
    }

    #[test]
    fn placeholders_inside_quotes_are_refused_naming_the_release_and_placeholder() {
        for (entrypoint, placeholder, why) in [
            (
                r#"python x.py --params '{params}'"#,
                "{params}",
                "single quotes",
            ),
            (r#"sh -c "echo {params}""#, "{params}", "double quotes"),
            (r#"run "{action}" {params}"#, "{action}", "double quotes"),
            (r#"echo \{params}"#, "{params}", "backslash"),
            (r#"echo ${params}"#, "{params}", "`$`"),
            (r#"echo `echo {params}`"#, "{params}", "backquote"),
            (r#"echo $(echo {params})"#, "{params}", "`$(`"),
            ("echo # {params}", "{params}", "comment"),
            ("cat <<E\nit's\nE\n'{params}'", "{params}", "here-document"),
        ] {
            let file = format!(
                "[[releases]]\ncode = 'evil'\nversion = '6.6'\nentrypoint = {}\n",
                serde_json::to_string(entrypoint).unwrap()
            );
            let e = PluginRegistry::from_toml(&file).unwrap_err();
            assert!(
                e.contains("release evil@6.6") && e.contains(placeholder) && e.contains(why),
                "{entrypoint:?}: {e}"
            );
        }
        // Through the API too, as a 422.
        let mut r = PluginRegistry::new();
        let e = r
            .create(&json!({"plugin": "p", "version": "1", "entrypoint": "sh -c 'x {params}'"}))
            .unwrap_err();
        assert_eq!(e.status_code(), 422);
        let e = r
            .create(&json!({"plugin": "p", "version": "1", "entrypoint": "x".repeat(MAX_ENTRYPOINT_BYTES + 1)}))
            .unwrap_err();
        assert_eq!(e.status_code(), 422);
    }

    #[test]
    fn hostile_run_fields_are_refused() {
        let r = PluginRegistry::from_toml(FILE).unwrap();
        let rel = r.get(&lookup("hello@1.0.0")).unwrap();
        let long = "x".repeat(MAX_LANGUAGE_LEN + 1);
        for bad in [
            json!({"action": "$(touch x)"}),
            json!({"action": "`id`"}),
            json!({"action": "a'b"}),
            json!({"action": "a\nb"}),
            json!({"action": "a\u{0}b"}),
            json!({"action": "--exec=sh"}),
            json!({"action": "x".repeat(101)}),
            json!({"action": "go", "params": -1}),
            json!({"action": "go", "language": long}),
            json!({"action": "go", "language": "ko\n--index-url"}),
            json!({"action": "go", "language": "ko\u{0}"}),
            json!({"action": "go", "language": "$(id)"}),
            json!({"action": "go", "language": 7}),
            json!({"action": "go", "requirements": ["--index-url http://evil/simple"]}),
            json!({"action": "go", "requirements": ["-e", "/etc"]}),
            json!({"action": "go", "requirements": ["git+https://u:tok@evil/x"]}),
            json!({"action": "go", "requirements": ["x @ https://u:tok@evil/x.whl"]}),
            json!({"action": "go", "requirements": ["numpy\n-i http://evil"]}),
            json!({"action": "go", "requirements": ["numpy\u{0}"]}),
            json!({"action": "go", "requirements": ["numpy $(touch x)"]}),
            json!({"action": "go", "requirements": vec!["numpy"; 51]}),
        ] {
            let e = submission(rel, &bad).unwrap_err();
            assert_eq!(e.status_code(), 422, "{bad}");
            // A refusal never repeats a credential the caller sent.
            assert!(!e.to_string().contains("tok@"), "{e}");
        }
        let ok = submission(
            rel,
            &json!({"action": "go", "language": "pt-BR",
                    "requirements": ["numpy>=1.26", "requests[socks]; python_version >= '3.9'"]}),
        )
        .unwrap();
        assert_eq!(
            ok["runtime_env"]["pip"],
            json!([
                "rich",
                "numpy>=1.26",
                "requests[socks]; python_version >= '3.9'"
            ])
        );
    }

    #[test]
    fn answers_hide_credentials_in_urls_and_pip_options() {
        let file = r#"
[[releases]]
code = "private"
version = "1"
entrypoint = "python main.py {action} {params} --from https://deploy:pw1@git.example/x"
runtime_env = { working_dir = "https://user:pass@store.example/app.zip", pip = ["--index-url https://u:tok@pypi.example/simple", "--extra-index-url=https://pypi2.example/t0ken/simple", "-i", "https://k:v@p3/simple", "numpy"], env_vars = { TOKEN = "s3cr3t" } }
"#;
        let r = PluginRegistry::from_toml(file).unwrap();
        let mut shown = r.releases()[0].to_json();
        crate::redact::answer(&mut shown);
        let shown = shown.to_string();
        for secret in ["user:pass", "u:tok", "t0ken", "k:v", "s3cr3t", "deploy:pw1"] {
            assert!(!shown.contains(secret), "{secret} shown in {shown}");
        }
        assert!(
            shown.contains("store.example/app.zip") && shown.contains("numpy"),
            "{shown}"
        );
        // The job Ray runs still gets them.
        let sub = submission(&r.releases()[0], &json!({"action": "go"})).unwrap();
        assert!(sub.to_string().contains("u:tok@pypi.example"));
    }

    /// Runs `command` with `sh -c` in a fresh directory; returns its output and
    /// whether a file named `pwned` appeared there.
    fn run_sh(command: &str) -> (Vec<u8>, bool) {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "agent-gateway-sh-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(command)
            .current_dir(&dir)
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output()
            .unwrap();
        let pwned = dir.join("pwned").exists();
        std::fs::remove_dir_all(&dir).unwrap();
        (out.stdout, pwned)
    }

    #[test]
    fn the_canary_fires_when_quoting_is_broken() {
        // The oracle of the property below: the template shape the registry
        // refuses does run the caller's text.
        let params = json!({"x": "$(touch pwned)"}).to_string();
        let (_, pwned) = run_sh(&format!("echo '{}'", shell_quote(&params)));
        assert!(pwned);
    }

    mod generated {
        use super::*;
        use proptest::prelude::*;

        fn hostile_text() -> impl Strategy<Value = String> {
            let pieces = prop::sample::select(vec![
                "'",
                "\"",
                "\\",
                "$",
                "`",
                "$(touch pwned)",
                "`touch pwned`",
                "; touch pwned;",
                "'; touch pwned #",
                "\n",
                " ",
                "{",
                "}",
                "é",
                "\u{0}",
                "--index-url=x",
                "$'\\x27'",
            ]);
            prop::collection::vec(pieces, 0..12).prop_map(|v| v.concat())
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

            /// Whatever the caller sends, `sh` hands the program exactly the action
            /// and the params' JSON, byte for byte.
            #[test]
            fn rendering_never_lets_caller_text_out_of_its_word(
                action in "[A-Za-z0-9_.:][A-Za-z0-9_.:-]{0,20}",
                text in prop_oneof![hostile_text(), any::<String>()],
            ) {
                let t = EntrypointTemplate::parse(r"printf '%s\0' {action} {params}").unwrap();
                let params = json!({"text": text});
                let (out, pwned) = run_sh(&t.render(&action, &params));
                prop_assert!(!pwned);
                let expected = format!("{action}\0{params}\0");
                prop_assert_eq!(out, expected.into_bytes());
            }

            /// Any template the registry accepts, rendered with hostile params, never
            /// runs the caller's text. Templates are made of balanced filler and of
            /// placeholders wrapped in every shell context (so that a wrongly
            /// accepted one is valid shell that runs the caller's `$(touch pwned)`).
            #[test]
            fn accepted_templates_never_run_caller_text(
                segments in prop::collection::vec(
                    (
                        prop::sample::select(vec![
                            ("", ""), ("'", "'"), ("\"", "\""), ("\\", "'"), ("$", ""),
                            ("`echo ", "`"), ("$(echo ", ")"), ("${{x:-", "}}"),
                            ("# ", "\n"), ("\"$(echo ", ")\""), ("$'", "'"),
                            ("cat <<E\n", "\nE\n"), ("(", ")"), ("x=", " "),
                            ("\"${{x:-", "}}\""), ("'\"'", ""), ("\"'\"", ""),
                            ("#'\n'", "'"), ("echo \\\"", "\\\""),
                        ]),
                        prop::sample::select(vec!["{params}", "{params}", "{action}", "a", "'a'"]),
                    ),
                    1..4,
                ),
                text in prop::sample::select(vec![
                    "$(touch pwned)", "; touch pwned; ", "`touch pwned`", "'; touch pwned; '",
                    "\"; touch pwned; \"", "\n touch pwned \n", "; touch pwned #",
                ]),
                shape in 0..3u8,
            ) {
                // A JSON string, an object or an array: each breaks out of a
                // wrongly accepted context differently.
                let params = match shape {
                    0 => json!(text),
                    1 => json!({"x": text}),
                    _ => json!([text, 1]),
                };
                let mut template = String::from("true ");
                for ((open, close), middle) in &segments {
                    template.push_str(open);
                    template.push_str(middle);
                    template.push_str(close);
                    template.push(' ');
                }
                if let Ok(t) = EntrypointTemplate::parse(&template) {
                    let (_, pwned) = run_sh(&t.render("go", &params));
                    prop_assert!(!pwned, "{:?} ran the caller's text {}", template, params);
                }
            }

            /// No URL userinfo survives an answer.
            #[test]
            fn userinfo_never_survives(
                user in "[A-Za-z0-9._~-]{1,12}",
                pass in "[A-Za-z0-9._~!$&'()*+,;=%-]{1,12}",
                before in "[ a-z/=]{0,8}",
                after in "[/a-z?=#]{0,8}",
            ) {
                let secret = format!("{user}:{pass}");
                let raw = format!("{before}https://{secret}@host.example{after}");
                let shown = crate::redact::text(&raw);
                prop_assert!(!shown.contains(&secret), "{}", shown);
                prop_assert!(shown.contains("host.example"));
            }
        }
    }
}
