//! One error type for the core. Each variant names the JavaScript class it
//! becomes (see `lib/errors.ts`) and has a stable code (see [`Error::code`]).

use std::fmt;

pub type Result<T> = std::result::Result<T, Error>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// JS `ExpressionError`, code `ARCFLOW_EXPRESSION`.
    #[error(transparent)]
    Expression(#[from] Box<ExpressionError>),
    /// JS `ContextError`, code `ARCFLOW_CONTEXT`: a malformed path, a bad
    /// context document, a misuse of the context.
    #[error("{message}")]
    Context { message: String, path: Option<String> },
    /// JS `ValueError`, code `ARCFLOW_INVALID_VALUE`: a value that cannot be
    /// held as workflow data (too deep, not JSON).
    #[error("{message}")]
    InvalidValue { message: String },
    /// JS `StoreError`, code `ARCFLOW_STORE`: the database failed;
    /// `transient` when retrying may succeed (busy, locked, disk full).
    #[error("store: {message}")]
    Store { message: String, transient: bool },
    /// JS `StoreHeldError` (a `StoreError`), code `ARCFLOW_STORE_HELD`: the
    /// SQLite file at `path` is locked by another process (one holding it
    /// with the default `locking=exclusive`, or one holding it shared while
    /// this one asked for exclusive), so it cannot be opened here.
    #[error(
        "store: the database file {path} is held by another process: by default (locking=exclusive) one process at a time opens a SQLite file; \
         to share it between processes, open it as sqlite:{path}?locking=shared in every one of them, or stop the other process first"
    )]
    StoreHeld { path: String },
    /// JS `ResumeError`, code `ARCFLOW_RESUME`: a run that cannot be
    /// resumed (unknown, ended, another workflow, a journal that does not
    /// fit the workflow).
    #[error("{0}")]
    Resume(String),
    /// JS `SignalError`, code `ARCFLOW_SIGNAL`: a signal for a run the
    /// store does not have, or one that has ended.
    #[error("{0}")]
    Signal(String),
    /// JS `JoinError`, code `ARCFLOW_JOIN`: the run has nothing left to
    /// run while `join` still waits (`arrived` of `needed` arrivals); the
    /// inbound tasks it waits for are named (`waiting_for`).
    #[error("join '{join}' can never fire: {arrived} of {needed} arrivals, nothing left to run; it still waits for {}", waiting_list(waiting_for))]
    Join { join: String, waiting_for: Vec<String>, arrived: u32, needed: u32 },
    /// JS `RunEndedError`, code `ARCFLOW_RUN_ENDED`: a call on a run that
    /// has ended (its native state is released).
    #[error("{0}")]
    Ended(String),
    /// JS `EngineClosedError`, code `ARCFLOW_ENGINE_CLOSED`: a call on
    /// something the engine closed (its store).
    #[error("{0}")]
    Closed(String),
    /// JS `InternalError`, code `ARCFLOW_INTERNAL`: a bug, never user input.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// The stable code the JavaScript error carries.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Expression(_) => "ARCFLOW_EXPRESSION",
            Error::Context { .. } => "ARCFLOW_CONTEXT",
            Error::InvalidValue { .. } => "ARCFLOW_INVALID_VALUE",
            Error::Store { .. } => "ARCFLOW_STORE",
            Error::StoreHeld { .. } => "ARCFLOW_STORE_HELD",
            Error::Resume(_) => "ARCFLOW_RESUME",
            Error::Signal(_) => "ARCFLOW_SIGNAL",
            Error::Join { .. } => "ARCFLOW_JOIN",
            Error::Ended(_) => "ARCFLOW_RUN_ENDED",
            Error::Closed(_) => "ARCFLOW_ENGINE_CLOSED",
            Error::Internal(_) => "ARCFLOW_INTERNAL",
        }
    }

    pub(crate) fn context(message: impl Into<String>, path: Option<&str>) -> Self {
        Error::Context { message: message.into(), path: path.map(str::to_owned) }
    }

    pub(crate) fn invalid_value(message: impl Into<String>) -> Self {
        Error::InvalidValue { message: message.into() }
    }
}

fn waiting_list(tasks: &[String]) -> String {
    let names: Vec<String> = tasks.iter().map(|t| format!("'{t}'")).collect();
    names.join(", ")
}

/// What went wrong in a template, by category. The names are stable: they
/// are the `kind` property of the JavaScript `ExpressionError`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpressionErrorKind {
    Syntax,
    Undefined,
    Type,
    OutOfFuel,
    Limit,
    Render,
}

impl ExpressionErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Syntax => "syntax",
            Self::Undefined => "undefined",
            Self::Type => "type",
            Self::OutOfFuel => "out_of_fuel",
            Self::Limit => "limit",
            Self::Render => "render",
        }
    }
}

/// A template failed to compile or evaluate. Carries the template text and
/// the position (1-based line and column, byte range) where it is known.
#[derive(Debug)]
pub struct ExpressionError {
    pub kind: ExpressionErrorKind,
    pub detail: String,
    pub template: String,
    /// Where in a structure the template sits (`url`, `headers.auth`), for
    /// `renderJson` and workflow validation.
    pub path: Option<String>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub range: Option<(usize, usize)>,
    pub source: Option<minijinja::Error>,
}

impl ExpressionError {
    pub(crate) fn new(kind: ExpressionErrorKind, detail: impl Into<String>, template: &str) -> Self {
        ExpressionError {
            kind,
            detail: detail.into(),
            template: template.to_owned(),
            path: None,
            line: None,
            column: None,
            range: None,
            source: None,
        }
    }

    /// Builds the error from minijinja's, whose range is relative to the
    /// compiled text; `offset` is where that text starts in `template`.
    pub(crate) fn from_minijinja(err: minijinja::Error, template: &str, offset: usize) -> Self {
        use minijinja::ErrorKind as K;
        let kind = match err.kind() {
            K::SyntaxError | K::UnknownFilter | K::UnknownTest | K::UnknownFunction => {
                ExpressionErrorKind::Syntax
            }
            K::UndefinedError => ExpressionErrorKind::Undefined,
            K::OutOfFuel => ExpressionErrorKind::OutOfFuel,
            K::InvalidOperation | K::MissingArgument | K::TooManyArguments | K::CannotUnpack | K::BadSerialization => {
                ExpressionErrorKind::Type
            }
            _ => ExpressionErrorKind::Render,
        };
        // minijinja's detail omits what its kind says ("unknown filter"),
        // except for plain syntax errors, whose kind our own prefix repeats.
        let detail = match (err.kind(), err.detail()) {
            (K::SyntaxError, Some(detail)) => detail.to_owned(),
            (kind, Some(detail)) => format!("{kind}: {detail}"),
            (kind, None) => kind.to_string(),
        };
        let mut out = ExpressionError::new(kind, detail, template);
        if let Some(r) = err.range() {
            let (start, end) = (r.start + offset, r.end + offset);
            out.range = Some((start, end));
            let (line, column) = line_column(template, start);
            out.line = Some(line);
            out.column = Some(column);
        } else if let Some(line) = err.line() {
            out.line = Some(line);
        }
        out.source = Some(err);
        out
    }

    pub(crate) fn at_path(mut self: Box<Self>, path: &str) -> Box<Self> {
        // `[2]` joins without a dot: `list[2].name`
        self.path = Some(match self.path.take() {
            Some(inner) if inner.starts_with('[') => format!("{path}{inner}"),
            Some(inner) if !inner.is_empty() => format!("{path}.{inner}"),
            _ => path.to_owned(),
        });
        self
    }
}

impl fmt::Display for ExpressionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(path) = &self.path {
            write!(f, "{path}: ")?;
        }
        write!(f, "{} error: {}", self.kind.as_str(), self.detail)?;
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, " (line {l}, column {c})")?,
            (Some(l), None) => write!(f, " (line {l})")?,
            _ => {}
        }
        const SHOWN: usize = 200;
        if self.template.len() <= SHOWN {
            write!(f, " in template {:?}", self.template)
        } else {
            let mut cut = SHOWN;
            while !self.template.is_char_boundary(cut) {
                cut -= 1;
            }
            write!(f, " in template {:?}…", &self.template[..cut])
        }
    }
}

impl std::error::Error for ExpressionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_ref().map(|e| e as _)
    }
}

impl From<ExpressionError> for Error {
    fn from(e: ExpressionError) -> Self {
        Error::Expression(Box::new(e))
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..floor_char_boundary(text, offset)];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_column_counts_characters_not_bytes() {
        assert_eq!(line_column("ab\ncdé f", 0), (1, 1));
        assert_eq!(line_column("ab\ncdé f", 3), (2, 1));
        assert_eq!(line_column("ab\ncdé f", 8), (2, 5));
    }
}
