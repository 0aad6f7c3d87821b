//! Errors with Go's exact message formats.

use std::fmt;

/// What went wrong, for callers that want to branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The template text does not parse (`template: NAME:LINE: ...`).
    Parse,
    /// Execution failed (`template: NAME:LINE:COL: executing "NAME" at <...>: ...`).
    Exec,
    /// No template of that name (`template: no template "x" associated with template "y"`).
    NoTemplate,
}

/// A template error. `Display` gives the exact Go message, e.g.
/// `template: chart/templates/x.yaml:12:20: executing "chart/templates/x.yaml" at <.Values.x>:
/// nil pointer evaluating interface {}.y`, or for parse errors
/// `template: chart/templates/x.yaml:3: unexpected {{end}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    /// The file/parse name the location refers to (Go's `ParseName`).
    file: String,
    line: usize,
    col: Option<usize>,
    /// The error text after the location prefix (e.g. `error calling fail: boom`).
    detail: String,
}

impl Error {
    pub(crate) fn parse(parse_name: &str, line: usize, msg: String) -> Error {
        Error {
            kind: ErrorKind::Parse,
            message: format!("template: {parse_name}:{line}: {msg}"),
            file: parse_name.to_string(),
            line,
            col: None,
            detail: msg,
        }
    }

    pub(crate) fn exec(
        parse_name: &str,
        line: usize,
        col: usize,
        template: &str,
        context: &str,
        msg: String,
    ) -> Error {
        Error {
            kind: ErrorKind::Exec,
            message: format!(
                "template: {parse_name}:{line}:{col}: executing {} at <{context}>: {msg}",
                crate::fmt::quote_go(template)
            ),
            file: parse_name.to_string(),
            line,
            col: Some(col),
            detail: msg,
        }
    }

    /// An execution error without a node position (`template: NAME: msg`).
    pub(crate) fn exec_plain(template: &str, msg: String) -> Error {
        Error {
            kind: ErrorKind::Exec,
            message: format!("template: {template}: {msg}"),
            file: template.to_string(),
            line: 0,
            col: None,
            detail: msg,
        }
    }

    pub(crate) fn no_template(name: &str, set_name: &str) -> Error {
        let msg = format!(
            "template: no template {} associated with template {}",
            crate::fmt::quote_go(name),
            crate::fmt::quote_go(set_name)
        );
        Error {
            kind: ErrorKind::NoTemplate,
            detail: msg.clone(),
            message: msg,
            file: String::new(),
            line: 0,
            col: None,
        }
    }

    /// The kind of error.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
    /// The file (parse name) the error is located in; empty when unknown.
    pub fn file(&self) -> &str {
        &self.file
    }
    /// 1-based line, 0 when unknown.
    pub fn line(&self) -> usize {
        self.line
    }
    /// 0-based byte column as Go reports it (execution errors only).
    pub fn column(&self) -> Option<usize> {
        self.col
    }
    /// The message after the location prefix.
    pub fn detail(&self) -> &str {
        &self.detail
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// The error a template function returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FuncError {
    /// The function failed: reported as `error calling NAME: <message>` (Go wraps every error a
    /// function returns this way).
    Call(String),
    /// An argument problem the Go executor itself would have reported before calling (e.g.
    /// `wrong type for value; expected int; got float64`, `wrong number of args for X: want 2
    /// got 1`): reported as-is, without the `error calling` prefix.
    Exec(String),
    /// Argument `.0` (0-based, counting a piped value as the last argument) has the wrong type
    /// for the function's Go parameter: reported as-is at that argument's position, e.g.
    /// `at <.n>: wrong type for value; expected string; got int`.
    Arg(usize, String),
}

impl From<String> for FuncError {
    fn from(s: String) -> Self {
        FuncError::Call(s)
    }
}

impl From<&str> for FuncError {
    fn from(s: &str) -> Self {
        FuncError::Call(s.to_string())
    }
}

impl From<Error> for FuncError {
    fn from(e: Error) -> Self {
        FuncError::Call(e.to_string())
    }
}

impl fmt::Display for FuncError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FuncError::Call(s) | FuncError::Exec(s) | FuncError::Arg(_, s) => f.write_str(s),
        }
    }
}
