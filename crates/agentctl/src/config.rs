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

/// Where the config file is (it need not exist).
pub fn path() -> Result<PathBuf, Failure> {
    if let Some(p) = non_empty_var("AGENTCTL_CONFIG") {
        return Ok(PathBuf::from(p));
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
    Ok(base.join("agentctl").join("config.toml"))
}

/// Reads the config file; a missing file is an empty configuration.
pub fn load(path: &Path) -> Result<ConfigFile, Failure> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ConfigFile::default()),
        Err(e) => {
            return Err(usage(format!(
                "cannot read the config file {}: {e}",
                path.display()
            )))
        }
    };
    parse(&text).map_err(|m| usage(format!("the config file {}: {m}", path.display())))
}

/// Parses a config file's text; an inline token is refused.
pub fn parse(text: &str) -> Result<ConfigFile, String> {
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| e.message().to_owned())?;
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
    ConfigFile::deserialize(table).map_err(|e| e.message().to_owned())
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
/// else the file's current context, else none. Returns the context's name too.
pub fn resolve(conn: &Connection) -> Result<(Connection, Option<String>), Failure> {
    let mut out = conn.clone();
    if conn.embedded {
        return Ok((out, None));
    }
    let path = match (&conn.context, path()) {
        (_, Ok(p)) => p,
        (None, Err(_)) => return Ok((out, None)),
        (Some(_), Err(e)) => return Err(e),
    };
    let cfg = load(&path)?;
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
}

/// Runs a `config` subcommand.
pub fn run(
    cmd: &ConfigCmd,
    given: Given,
    mode: Output,
    style: &Style,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let path = path()?;
    let mut cfg = load(&path)?;
    match cmd {
        ConfigCmd::SetContext(args) => {
            let name = args.name.trim();
            if name.is_empty() {
                return Err(usage("set-context: the context needs a name"));
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
