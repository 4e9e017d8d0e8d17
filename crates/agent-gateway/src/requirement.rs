//! The pip requirements a caller may ask a plugin run for.
//!
//! Ray writes `runtime_env.pip` into a requirements file and runs `pip install -r`
//! on it, so an entry is a line of that file: `--index-url http://...`, `-e /etc`,
//! `git+https://...` or `pkg @ file:///...` there would make pip fetch and run code
//! from wherever the caller says. Only plain PEP 508 specifiers are accepted: a
//! name, extras, version specifiers and environment markers, with no URL, no
//! option, no path and nothing pip's requirements-file parser treats specially
//! (a word starting with `-`, ` #` comments, `${VAR}`, line continuations).

/// The longest requirement accepted, in bytes.
pub const MAX_REQUIREMENT_BYTES: usize = 200;

/// The most requirements one run may ask for.
pub const MAX_REQUIREMENTS: usize = 50;

/// Names ending like this are taken by pip for archive files on disk.
const ARCHIVE_SUFFIXES: &[&str] = &[
    ".whl", ".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tar.lz",
    ".tlz", ".tar.zst",
];

/// Checks one requirement: `name[extra,...] (op version, ...) ; marker`.
///
/// ```
/// use agent_gateway::requirement::check;
///
/// assert!(check("numpy").is_ok());
/// assert!(check("requests[socks] >=2.31, <3; python_version >= '3.8'").is_ok());
/// assert!(check("--index-url http://evil/").is_err());
/// assert!(check("pkg @ https://evil/pkg.whl").is_err());
/// assert!(check("git+https://evil/pkg").is_err());
/// ```
pub fn check(req: &str) -> Result<(), String> {
    if req.len() > MAX_REQUIREMENT_BYTES {
        return Err(format!(
            "a requirement is at most {MAX_REQUIREMENT_BYTES} bytes (this one is {})",
            req.len()
        ));
    }
    let mut p = Parser {
        s: req.as_bytes(),
        i: 0,
    };
    p.blanks();
    let name = p.name().ok_or_else(|| {
        "a requirement starts with a package name (letters, digits, '.', '_', '-'); \
         options, URLs and paths are not accepted"
            .to_owned()
    })?;
    let lower = name.to_ascii_lowercase();
    if ARCHIVE_SUFFIXES.iter().any(|s| lower.ends_with(s)) {
        return Err(format!(
            "{name:?} names an archive file; only package names are accepted"
        ));
    }
    p.blanks();
    if p.eat(b'[') {
        loop {
            p.blanks();
            p.name().ok_or("an extra is a name")?;
            p.blanks();
            if p.eat(b']') {
                break;
            }
            if !p.eat(b',') {
                return Err("extras are names between '[' and ']', separated by ','".into());
            }
        }
        p.blanks();
    }
    let paren = p.eat(b'(');
    p.blanks();
    if p.peek().is_some_and(|c| b"<>=!~".contains(&c)) {
        loop {
            p.blanks();
            p.operator()
                .ok_or("a version specifier is one of ===, ==, !=, <=, >=, ~=, <, >")?;
            p.blanks();
            p.version()
                .ok_or("a version is letters, digits, '.', '*', '+', '!', '_', '-'")?;
            p.blanks();
            if !p.eat(b',') {
                break;
            }
        }
    }
    if paren && !p.eat(b')') {
        return Err("an unclosed '(' in the version specifiers".into());
    }
    p.blanks();
    if p.eat(b';') {
        p.marker()?;
    }
    p.blanks();
    match p.peek() {
        None => Ok(()),
        Some(b'@') => Err("URL requirements (`name @ url`) are not accepted".into()),
        Some(c) => Err(format!(
            "unexpected {:?} at byte {}: only a name, extras, version specifiers and markers are accepted",
            char::from(c),
            p.i
        )),
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// Spaces and tabs only: a newline would start another line of the file.
    fn blanks(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }

    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a [u8] {
        let start = self.i;
        while self.peek().is_some_and(&f) {
            self.i += 1;
        }
        &self.s[start..self.i]
    }

    /// A PEP 508 name: starts and ends with a letter or digit.
    fn name(&mut self) -> Option<&'a str> {
        let start = self.i;
        let word = self.take_while(|c| c.is_ascii_alphanumeric() || b"._-".contains(&c));
        let ok = word.first().is_some_and(u8::is_ascii_alphanumeric)
            && word.last().is_some_and(u8::is_ascii_alphanumeric);
        if ok {
            std::str::from_utf8(word).ok()
        } else {
            self.i = start;
            None
        }
    }

    fn operator(&mut self) -> Option<()> {
        for op in ["===", "==", "!=", "<=", ">=", "~=", "<", ">"] {
            if self.s[self.i..].starts_with(op.as_bytes()) {
                self.i += op.len();
                return Some(());
            }
        }
        None
    }

    /// A version (or a `==` prefix match): starts with a letter or digit.
    fn version(&mut self) -> Option<()> {
        let word = self.take_while(|c| c.is_ascii_alphanumeric() || b".*+!_-".contains(&c));
        word.first()
            .is_some_and(u8::is_ascii_alphanumeric)
            .then_some(())
    }

    /// Environment markers: names, comparison operators, `and`/`or`/`in`/`not`,
    /// parentheses and quoted values of plain characters (no blank inside a value,
    /// so no word of it starts with `-` for pip's option parser).
    fn marker(&mut self) -> Result<(), String> {
        let mut tokens = 0;
        loop {
            self.blanks();
            match self.peek() {
                None => break,
                Some(b'(' | b')') => self.i += 1,
                Some(q @ (b'\'' | b'"')) => {
                    self.i += 1;
                    self.take_while(|c| c.is_ascii_alphanumeric() || b"._*+!~=<>-".contains(&c));
                    if !self.eat(q) {
                        return Err(
                            "a marker value is quoted letters, digits and '._*+!~=<>-'".into()
                        );
                    }
                }
                Some(c) if c.is_ascii_alphabetic() => {
                    self.take_while(|c| c.is_ascii_alphanumeric() || c == b'_');
                }
                Some(c) if b"<>=!~".contains(&c) => {
                    self.operator().ok_or("an unknown marker operator")?;
                }
                Some(c) => {
                    return Err(format!(
                        "unexpected {:?} in the environment marker",
                        char::from(c)
                    ))
                }
            }
            tokens += 1;
        }
        if tokens == 0 {
            return Err("an empty environment marker after ';'".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_specifiers_pass() {
        for ok in [
            "numpy",
            "NumPy==1.26.*",
            "a",
            "scikit-learn>=1.3,<2",
            "requests [security, socks] (>=2.8.1, ==2.8.*)",
            "torch ~=2.1 ; sys_platform == 'linux' and python_version >= \"3.9\"",
            "pkg===1.0+local.1",
            "zope.interface!=5.0",
            "name; extra == 'test'",
        ] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn options_urls_paths_and_file_tricks_are_refused() {
        for bad in [
            "",
            "--index-url http://evil/simple",
            "-i http://evil/simple",
            "-e /etc",
            "-r /etc/passwd",
            "./local/dir",
            "/abs/path",
            "git+https://github.com/x/y",
            "https://u:p@evil/pkg.whl",
            "pkg @ https://evil/pkg.whl",
            "pkg@file:///etc",
            "numpy --hash=sha256:abc",
            "numpy \\",
            "numpy\n--index-url http://evil",
            "numpy\0",
            "numpy #comment",
            "numpy==${TOKEN}",
            "numpy==1.0 --config-settings x=y",
            "numpy; os_name == 'a --index-url=http://evil'",
            "numpy; os_name == 'a",
            "numpy;",
            "evil.whl",
            "evil.tar.gz",
            "numpy $(touch x)",
            "numpy`id`",
            "'numpy'",
            "-numpy",
        ] {
            assert!(check(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(check(&"a".repeat(MAX_REQUIREMENT_BYTES + 1)).is_err());
    }
}
