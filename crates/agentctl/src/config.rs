//! Contexts: named connection settings in a config file, with kubectl's verbs
//! (`config set-context | use-context | get-contexts | current-context |
//! delete-context`) and a global `--context NAME`.
//!
//! The file is `$AGENTCTL_CONFIG`, else `$XDG_CONFIG_HOME/agentctl/config.toml`, else
//! `~/.config/agentctl/config.toml`; agentctl writes it with mode 0600 (its directory
//! 0700), through a temporary file and a rename, so a crash never leaves half a file.
//! Tokens are never stored in it: a context names a token file or an environment
//! variable, read when the context is used. A file with an inline token is refused.
//!
//! Precedence: flags, then environment variables, then the context.
//!
//! ```toml
//! current-context = "prod"
//!
//! [contexts.prod]
//! url = "https://agent.example.com/"
//! token-file = "/home/me/.secrets/agent-token"
//! tenant = "acme"
//! cacert = "/etc/ssl/private-ca.pem"
//! ```

use crate::cli::{ConfigCmd, Connection, Output};
use crate::exit::{Failure, USAGE};
use crate::render::{Cell, Style, Table};
use agent_proto::Secret;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The config file.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ConfigFile {
    /// The context used when no `--context` is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_context: Option<String>,
    /// The contexts, by name.
    #[serde(default)]
    pub contexts: BTreeMap<String, Context>,
}

/// One context: where an agent is and how to authenticate to it.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Context {
    /// The agent's base URL.
    pub url: String,
    /// A file holding the agent token (its whitespace trimmed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_file: Option<PathBuf>,
    /// An environment variable holding the agent token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_env: Option<String>,
    /// A file holding the user token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_token_file: Option<PathBuf>,
    /// The tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// A PEM file of root certificates to trust besides the web's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cacert: Option<PathBuf>,
}

fn usage(message: impl Into<String>) -> Failure {
    Failure::Local {
        code: USAGE,
        message: message.into(),
    }
}

fn non_empty_var(name: &str) -> Option<std::ffi::OsString> {
    std::env::var_os(name).filter(|v| !v.is_empty())
}

/// Where the config file is, and whether it was named explicitly
/// (`$AGENTCTL_CONFIG`): an explicit file must exist, except for `config
/// set-context`, which creates it; the default one need not.
#[derive(Debug, Clone)]
pub struct Location {
    /// The file.
    pub path: PathBuf,
    /// Named by `$AGENTCTL_CONFIG`.
    pub explicit: bool,
}

/// Where the config file is (it need not exist).
pub fn path() -> Result<Location, Failure> {
    if let Some(p) = non_empty_var("AGENTCTL_CONFIG") {
        return Ok(Location {
            path: PathBuf::from(p),
            explicit: true,
        });
    }
    let base = match non_empty_var("XDG_CONFIG_HOME").map(PathBuf::from) {
        Some(p) if p.is_absolute() => p,
        _ => match non_empty_var("HOME") {
            Some(home) => PathBuf::from(home).join(".config"),
            None => {
                return Err(usage(
                    "no config file location: set AGENTCTL_CONFIG, XDG_CONFIG_HOME or HOME",
                ))
            }
        },
    };
    Ok(Location {
        path: base.join("agentctl").join("config.toml"),
        explicit: false,
    })
}

/// Reads the config file. A missing default file is an empty configuration; a
/// missing file that `$AGENTCTL_CONFIG` names is a usage error unless `creating`
/// (a typo in the variable must not fall back to the embedded sample agent).
pub fn load(at: &Location, creating: bool) -> Result<ConfigFile, Failure> {
    let path = &at.path;
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if at.explicit && !creating {
                return Err(usage(format!(
                    "AGENTCTL_CONFIG names {}, which does not exist: fix the path, unset \
                     AGENTCTL_CONFIG for the default file, or create it with \
                     `agentctl config set-context NAME --url URL --token-file FILE`",
                    path.display()
                )));
            }
            return Ok(ConfigFile::default());
        }
        Err(e) => {
            return Err(usage(format!(
                "cannot read the config file {}: {e}",
                path.display()
            )))
        }
    };
    parse(&text).map_err(|m| usage(format!("the config file {}: {m}", path.display())))
}

/// A TOML error as `line L, column C: message` (1-based, as editors count), from
/// the error's span in `text`.
fn toml_error(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim_end();
    let Some(span) = e.span() else {
        return message.to_owned();
    };
    let before = text.get(..span.start).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("line {line}, column {column}: {message}")
}

/// Parses a config file's text; an inline token is refused. Errors carry the line
/// and column.
pub fn parse(text: &str) -> Result<ConfigFile, String> {
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| toml_error(text, &e))?;
    if let Some(toml::Value::Table(contexts)) = table.get("contexts") {
        for (name, ctx) in contexts {
            if let toml::Value::Table(ctx) = ctx {
                if ["token", "user-token", "user_token", "agent-token"]
                    .iter()
                    .any(|k| ctx.contains_key(*k))
                {
                    return Err(format!(
                        "context {name:?} holds a token: tokens are never stored in the config file; \
                         use token-file or token-env (agentctl config set-context {name} --token-file FILE)"
                    ));
                }
            }
        }
    }
    // Typed from the text (not the table) so that a wrong field has its position.
    toml::from_str(text).map_err(|e| toml_error(text, &e))
}

/// Writes the config file with mode 0600 (its directory 0700 when agentctl makes it).
pub fn save(path: &Path, cfg: &ConfigFile) -> Result<(), Failure> {
    let text = toml::to_string(cfg).map_err(|e| Failure::Local {
        code: crate::exit::OTHER,
        message: format!("could not write the config: {e}"),
    })?;
    let fail = |what: &str, e: std::io::Error| Failure::Local {
        code: crate::exit::OTHER,
        message: format!("cannot {what} {}: {e}", path.display()),
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            let mut b = std::fs::DirBuilder::new();
            b.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
            b.create(dir)
                .map_err(|e| fail("create the directory of", e))?;
        }
    }
    let tmp = path.with_extension(format!("toml.tmp-{}", std::process::id()));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let written = opts.open(&tmp).and_then(|mut f| {
        f.write_all(text.as_bytes())?;
        f.sync_all()
    });
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(fail("write", e));
    }
    // A file that existed with a wider mode is replaced by this 0600 one.
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        fail("replace", e)
    })
}

/// Reads a token file (surrounding whitespace trimmed); an empty one is an error.
fn token_from_file(ctx: &str, what: &str, file: &Path) -> Result<Secret, Failure> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        usage(format!(
            "context {ctx}: cannot read the {what} file {}: {e}",
            file.display()
        ))
    })?;
    let t = text.trim();
    if t.is_empty() {
        return Err(usage(format!(
            "context {ctx}: the {what} file {} is empty",
            file.display()
        )));
    }
    Ok(Secret::new(t))
}

/// The connection settings with the context's filled in where neither a flag nor an
/// environment variable gave one. The context is `--context` (or `AGENTCTL_CONTEXT`),
/// else the file's current context, else none. Returns the context's name too (none
/// when no context applies).
///
/// A context's token goes only to the context's own URL: when `--url` or
/// `AGENT_URL` names another agent, nothing of the context is used (token, user
/// token, tenant, CA), and without `--token` or `AGENT_TOKEN` the command is a
/// usage error, as a token without a URL is.
pub fn resolve(conn: &Connection) -> Result<(Connection, Option<String>), Failure> {
    let mut out = conn.clone();
    if conn.embedded {
        return Ok((out, None));
    }
    let at = match (&conn.context, path()) {
        (_, Ok(p)) => p,
        (None, Err(_)) => return Ok((out, None)),
        (Some(_), Err(e)) => return Err(e),
    };
    let cfg = load(&at, false)?;
    let path = &at.path;
    let name = match (&conn.context, &cfg.current_context) {
        (Some(n), _) => n.clone(),
        (None, Some(n)) => n.clone(),
        (None, None) => return Ok((out, None)),
    };
    let Some(ctx) = cfg.contexts.get(&name) else {
        return Err(usage(format!(
            "no context {name:?} in {} (see `agentctl config get-contexts`)",
            path.display()
        )));
    };
    if let Some(url) = out.url.as_deref().filter(|u| !same_agent(u, &ctx.url)) {
        if out.token.is_none() {
            return Err(usage(format!(
                "--url (or AGENT_URL) {} is not the URL of context {name} ({}), and a \
                 context's token goes only to its own URL: pass --token or set AGENT_TOKEN \
                 for this agent, or leave --url out to use context {name}",
                crate::verbose::host_of(url),
                crate::verbose::host_of(&ctx.url),
            )));
        }
        tracing::info!(context = %name, "another URL than the context's: the context is not used");
        return Ok((out, None));
    }
    if out.url.is_none() {
        out.url = Some(ctx.url.clone());
    }
    if out.token.is_none() {
        out.token = match (&ctx.token_file, &ctx.token_env) {
            (Some(f), _) => Some(token_from_file(&name, "token", f)?),
            (None, Some(var)) => match std::env::var(var) {
                Ok(v) if !v.trim().is_empty() => Some(Secret::new(v.trim())),
                _ => {
                    return Err(usage(format!(
                        "context {name}: the token variable {var} is not set"
                    )))
                }
            },
            (None, None) => None,
        };
    }
    if out.user_token.is_none() {
        if let Some(f) = &ctx.user_token_file {
            out.user_token = Some(token_from_file(&name, "user token", f)?);
        }
    }
    if out.tenant.is_none() {
        out.tenant = ctx.tenant.as_deref().map(Secret::new);
    }
    if out.cacert.is_none() {
        out.cacert = ctx.cacert.clone();
    }
    Ok((out, Some(name)))
}

/// True when two base URLs name the same agent: equal but for surrounding
/// whitespace, the scheme's and host's case, and a trailing `/`.
fn same_agent(a: &str, b: &str) -> bool {
    fn norm(u: &str) -> String {
        let u = u.trim().trim_end_matches('/');
        match u.split_once("://") {
            Some((scheme, rest)) => {
                let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
                format!(
                    "{}://{}{path}",
                    scheme.to_ascii_lowercase(),
                    host.to_ascii_lowercase()
                )
            }
            None => u.to_owned(),
        }
    }
    norm(a) == norm(b)
}

/// Connection values given on the command line itself (not from the environment),
/// which `config set-context` stores.
#[derive(Debug, Default)]
pub struct Given {
    /// `--url`.
    pub url: Option<String>,
    /// `--tenant`.
    pub tenant: Option<String>,
    /// `--cacert`.
    pub cacert: Option<PathBuf>,
    /// The token flags given on the command line (`--token`, `--user-token`): never
    /// stored, so `set-context` refuses them rather than drop them.
    pub token_flags: Vec<&'static str>,
}

/// Runs a `config` subcommand.
pub fn run(
    cmd: &ConfigCmd,
    given: Given,
    mode: Output,
    style: &Style,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let at = path()?;
    let mut cfg = load(&at, matches!(cmd, ConfigCmd::SetContext(_)))?;
    let path = at.path;
    match cmd {
        ConfigCmd::SetContext(args) => {
            let name = args.name.trim();
            if name.is_empty() {
                return Err(usage("set-context: the context needs a name"));
            }
            if let Some(flag) = given.token_flags.first() {
                let instead = if *flag == "--user-token" {
                    "--user-token-file FILE"
                } else {
                    "--token-file FILE or --token-env VAR"
                };
                return Err(usage(format!(
                    "set-context: {flag} is not stored (tokens never go into the config \
                     file); name where the token is instead: agentctl config set-context \
                     {name} {instead}"
                )));
            }
            let existing = cfg.contexts.get(name).cloned();
            let mut ctx = match (existing, &given.url) {
                (Some(ctx), _) => ctx,
                (None, Some(_)) => Context::default(),
                (None, None) => {
                    return Err(usage(format!(
                        "set-context: a new context needs --url URL (agentctl config set-context {name} --url URL ...)"
                    )))
                }
            };
            if let Some(url) = &given.url {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(usage(format!(
                        "set-context: the URL must start with http:// or https://, not {url:?}"
                    )));
                }
                ctx.url = url.clone();
            }
            if let Some(f) = &args.token_file {
                ctx.token_file = Some(absolute(f));
                ctx.token_env = None;
            }
            if let Some(v) = &args.token_env {
                ctx.token_env = Some(v.clone());
                ctx.token_file = None;
            }
            if let Some(f) = &args.user_token_file {
                ctx.user_token_file = Some(absolute(f));
            }
            if let Some(t) = &given.tenant {
                ctx.tenant = Some(t.clone());
            }
            if let Some(c) = &given.cacert {
                ctx.cacert = Some(absolute(c));
            }
            let created = !cfg.contexts.contains_key(name);
            cfg.contexts.insert(name.to_owned(), ctx);
            save(&path, &cfg)?;
            let verb = if created { "created" } else { "updated" };
            writeln!(out, "context {name} {verb} in {}", path.display())?;
        }
        ConfigCmd::UseContext { name } => {
            if !cfg.contexts.contains_key(name) {
                return Err(usage(format!(
                    "no context {name:?} in {} (see `agentctl config get-contexts`)",
                    path.display()
                )));
            }
            cfg.current_context = Some(name.clone());
            save(&path, &cfg)?;
            writeln!(out, "switched to context {name}")?;
        }
        ConfigCmd::DeleteContext { name } => {
            if cfg.contexts.remove(name).is_none() {
                return Err(usage(format!("no context {name:?} in {}", path.display())));
            }
            if cfg.current_context.as_deref() == Some(name.as_str()) {
                cfg.current_context = None;
            }
            save(&path, &cfg)?;
            writeln!(out, "deleted context {name}")?;
        }
        ConfigCmd::CurrentContext => match &cfg.current_context {
            Some(name) => writeln!(out, "{name}")?,
            None => {
                return Err(Failure::Local {
                    code: crate::exit::OTHER,
                    message: "no current context is set (agentctl config use-context NAME)".into(),
                })
            }
        },
        ConfigCmd::GetContexts => match mode {
            Output::Json | Output::Jsonl | Output::Yaml => {
                let v = serde_json::to_value(&cfg).map_err(|e| Failure::Local {
                    code: crate::exit::OTHER,
                    message: e.to_string(),
                })?;
                let shown = match mode {
                    Output::Json => crate::views::json(&v, out),
                    Output::Jsonl => crate::views::jsonl(&v, out),
                    _ => crate::views::yaml(&v, out),
                };
                shown.map_err(|e| match e {
                    crate::views::ViewError::Io(e) => Failure::Io(e),
                    crate::views::ViewError::Decode(e) => Failure::Client(e),
                })?;
            }
            Output::Table | Output::Wide => {
                let mut t = Table::new(&["CURRENT", "NAME", "URL", "TOKEN", "TENANT", "CACERT"]);
                for (name, ctx) in &cfg.contexts {
                    let current = cfg.current_context.as_deref() == Some(name.as_str());
                    let token = match (&ctx.token_file, &ctx.token_env) {
                        (Some(f), _) => format!("file {}", f.display()),
                        (None, Some(v)) => format!("env {v}"),
                        (None, None) => "-".into(),
                    };
                    t.row(vec![
                        Cell::new(if current { "*" } else { "" }),
                        Cell::new(name.as_str()),
                        Cell::new(ctx.url.as_str()),
                        Cell::new(token),
                        Cell::opt(ctx.tenant.as_deref()),
                        Cell::opt(ctx.cacert.as_ref().map(|p| p.display().to_string())),
                    ]);
                }
                t.write(style, out)?;
            }
        },
    }
    out.flush()?;
    Ok(())
}

/// A path as given, made absolute against the current directory (a context is used
/// from anywhere).
fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        /// A context's token goes to its own URL only: another host, port, scheme
        /// or path prefix is another agent; case, a trailing `/` and surrounding
        /// space are not.
        #[test]
        fn only_the_contexts_own_url_is_the_same_agent(
            scheme in prop_oneof![Just("http"), Just("https")],
            host in "[a-z][a-z0-9.-]{0,20}",
            other_host in "[a-z][a-z0-9.-]{0,20}",
            port in proptest::option::of(1u16..),
            other_port in proptest::option::of(1u16..),
            prefix in "(/[a-z]{1,6}){0,2}",
            other_prefix in "(/[a-z]{1,6}){0,2}",
        ) {
            let url = |s: &str, h: &str, p: Option<u16>, pre: &str| match p {
                Some(p) => format!("{s}://{h}:{p}{pre}/"),
                None => format!("{s}://{h}{pre}/"),
            };
            let ctx = url(scheme, &host, port, &prefix);
            let same = url(&scheme.to_ascii_uppercase(), &host.to_ascii_uppercase(), port, &prefix);
            let padded = format!(" {} ", same.trim_end_matches('/'));
            prop_assert!(same_agent(&padded, &ctx), "{} vs {}", padded, ctx);
            let given = url(scheme, &other_host, other_port, &other_prefix);
            let differs = other_host != host || other_port != port || other_prefix != prefix;
            prop_assert_eq!(same_agent(&given, &ctx), !differs, "{} vs {}", given, ctx);
            let other_scheme = if scheme == "http" { "https" } else { "http" };
            prop_assert!(!same_agent(&url(other_scheme, &host, port, &prefix), &ctx));
        }
    }

    #[test]
    fn a_config_round_trips_and_inline_tokens_are_refused() {
        let mut cfg = ConfigFile {
            current_context: Some("prod".into()),
            ..ConfigFile::default()
        };
        cfg.contexts.insert(
            "prod".into(),
            Context {
                url: "https://a.example/".into(),
                token_env: Some("PROD_TOKEN".into()),
                ..Context::default()
            },
        );
        let text = toml::to_string(&cfg).unwrap();
        assert!(text.contains("token-env = \"PROD_TOKEN\""), "{text}");
        assert_eq!(parse(&text).unwrap(), cfg);

        let inline = "[contexts.x]\nurl = \"http://h/\"\ntoken = \"s3cret\"\n";
        let e = parse(inline).unwrap_err();
        assert!(e.contains("never stored"), "{e}");
        assert!(!e.contains("s3cret"), "{e}");
        assert!(parse("[contexts.x]\nurl = \"u\"\nbogus = 1\n").is_err());
    }
}
