//! Where a placeholder of an entrypoint template stands, as `sh` reads it.
//!
//! The gateway renders each placeholder as one single-quoted word
//! ([`crate::plugins::shell_quote`]). That word holds any text exactly, but only
//! where the shell reads a bare word: inside the template's own quotes
//! (`--params '{params}'`, `sh -c "echo {params}"`) the gateway's quotes *end*
//! the operator's, and the caller's text is read as shell code. So a template is
//! refused when a placeholder stands anywhere but in a bare word.
//!
//! [`WordContext`] follows the template's text the way POSIX `sh` does for the
//! parts that decide quoting (single and double quotes, backslashes, comments),
//! and gives up (refuses every later placeholder) at the constructs whose quoting
//! it does not follow: `$(...)`, `${...}`, backquotes, `$'...'`, here-documents.
//! It errs only towards refusing: a placeholder it accepts is one the shell
//! reads as a bare word.

/// Why a placeholder cannot stand at some point of a template.
pub type Refusal = String;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Bare,
    Single,
    Double,
    Comment,
}

/// What the last character read was, for the rules that look one back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prev {
    /// The start of the text, a blank, a newline or an operator (`;&|()<>`): a
    /// `#` here starts a comment.
    WordStart,
    /// `$` (a placeholder right after it would become `$'...'`).
    Dollar,
    /// `<` (a second one makes a here-document).
    Less,
    /// Anything else.
    Other,
}

/// The shell's reading state at the end of the text fed so far.
///
/// ```
/// use agent_gateway::shell::WordContext;
///
/// let mut c = WordContext::new();
/// c.text("python main.py --params=");
/// assert!(c.check().is_ok());
/// c.text("'");
/// assert!(c.check().unwrap_err().contains("single quotes"));
/// ```
#[derive(Debug, Clone)]
pub struct WordContext {
    state: State,
    escaped: bool,
    prev: Prev,
    /// The construct after which quoting is no longer followed.
    opaque: Option<&'static str>,
}

impl Default for WordContext {
    fn default() -> Self {
        WordContext {
            state: State::Bare,
            escaped: false,
            prev: Prev::WordStart,
            opaque: None,
        }
    }
}

impl WordContext {
    /// The state at the start of a command.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads literal template text.
    pub fn text(&mut self, text: &str) {
        for c in text.chars() {
            self.char(c);
        }
    }

    /// A placeholder was rendered here: one quoted word, after which the shell
    /// is where it was, mid-word.
    pub fn placeholder(&mut self) {
        self.prev = Prev::Other;
    }

    /// Whether a placeholder may stand here; the refusal says why not.
    pub fn check(&self) -> Result<(), Refusal> {
        if let Some(construct) = self.opaque {
            return Err(format!(
                "it comes after {construct}, whose quoting the gateway does not follow \
                 (put placeholders before it, or read the AGENT_ACTION and AGENT_PARAMS \
                 environment variables instead)"
            ));
        }
        let why = match self.state {
            State::Single => "it is inside single quotes",
            State::Double => "it is inside double quotes",
            State::Comment => "it is inside a comment",
            State::Bare if self.escaped => "it follows a backslash",
            State::Bare if self.prev == Prev::Dollar => "it follows a `$`",
            State::Bare => return Ok(()),
        };
        Err(format!(
            "{why}; write it as a bare word: the gateway quotes it itself"
        ))
    }

    fn char(&mut self, c: char) {
        let prev = std::mem::replace(&mut self.prev, Prev::Other);
        if self.escaped {
            self.escaped = false;
            return;
        }
        match self.state {
            State::Bare => match c {
                '\\' => self.escaped = true,
                '\'' => {
                    if prev == Prev::Dollar {
                        self.give_up("`$'...'` quoting");
                    }
                    self.state = State::Single;
                }
                '"' => {
                    if prev == Prev::Dollar {
                        self.give_up("`$\"...\"` quoting");
                    }
                    self.state = State::Double;
                }
                '`' => self.give_up("a backquote"),
                '$' => self.prev = Prev::Dollar,
                '(' if prev == Prev::Dollar => self.give_up("`$(`"),
                '{' if prev == Prev::Dollar => self.give_up("`${`"),
                '<' if prev == Prev::Less => self.give_up("a here-document (`<<`)"),
                '<' => self.prev = Prev::Less,
                '#' if prev == Prev::WordStart => self.state = State::Comment,
                ' ' | '\t' | '\n' | ';' | '&' | '|' | '(' | ')' | '>' => {
                    self.prev = Prev::WordStart
                }
                _ => {}
            },
            State::Single => {
                if c == '\'' {
                    self.state = State::Bare;
                }
            }
            State::Double => match c {
                '\\' => self.escaped = true,
                '"' => self.state = State::Bare,
                '`' => self.give_up("a backquote"),
                '$' => self.prev = Prev::Dollar,
                '(' if prev == Prev::Dollar => self.give_up("`$(`"),
                '{' if prev == Prev::Dollar => self.give_up("`${`"),
                _ => {}
            },
            State::Comment => {
                if c == '\n' {
                    self.state = State::Bare;
                    self.prev = Prev::WordStart;
                }
            }
        }
    }

    fn give_up(&mut self, construct: &'static str) {
        self.opaque.get_or_insert(construct);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at_end(text: &str) -> Result<(), Refusal> {
        let mut c = WordContext::new();
        c.text(text);
        c.check()
    }

    #[test]
    fn bare_words_are_accepted() {
        for text in [
            "",
            "python x.py ",
            "python x.py --params=",
            "echo 'quoted' \"also\" ",
            "echo it\\'s ",
            "echo \"a\\\"b\" ",
            "echo $HOME ",
            "echo '$(' ",
            "echo a#b ",
            "echo # comment\n",
            "a; b && c | ",
            "echo x<",
        ] {
            assert_eq!(at_end(text), Ok(()), "{text:?}");
        }
    }

    #[test]
    fn quoted_escaped_and_opaque_places_are_refused() {
        for (text, why) in [
            ("echo '", "single quotes"),
            ("sh -c \"echo ", "double quotes"),
            ("echo \"it's ", "double quotes"),
            ("echo \\", "backslash"),
            ("echo $", "`$`"),
            ("echo # ", "comment"),
            ("echo #'\n'", "single quotes"),
            ("echo `", "backquote"),
            ("echo $(date) ", "`$(`"),
            ("echo \"$(date)\" ", "`$(`"),
            ("echo ${X} ", "`${`"),
            ("echo $'a' ", "`$'...'`"),
            ("cat <<EOF\nit's\nEOF\n", "here-document"),
        ] {
            let e = at_end(text).unwrap_err();
            assert!(e.contains(why), "{text:?}: {e}");
        }
    }
}
