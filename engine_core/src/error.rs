//! The one error type of the core. Every fallible call returns it; the bindings map each
//! variant to a typed Python exception (`tradecore.errors`).

use std::fmt;

/// Result alias used across the core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the core, with enough context to name the culprit.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A caller passed a value the core cannot accept (NaN, off-grid price, unknown side...).
    #[error("invalid {field}: {value} ({reason})")]
    InvalidInput {
        /// Name of the offending argument or field.
        field: &'static str,
        /// The offending value, rendered for the message.
        value: String,
        /// Why it is rejected.
        reason: String,
    },
    /// Recorded or received data that cannot be understood.
    #[error("{location}: {message}")]
    Data {
        /// Where: `file:line`, or a description of the source.
        location: Location,
        /// What is wrong, naming the field and value.
        message: String,
    },
    /// A feature set that is not the one a model was trained on.
    #[error("the features do not match the model {model}: {difference}")]
    FeatureMismatch {
        /// The model's source (its file).
        model: String,
        /// The first difference, in words.
        difference: String,
    },
    /// An I/O failure, with the path it concerns.
    #[error("{path}: {source}")]
    Io {
        /// The file that failed.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// Where a piece of data came from: a file and a 1-based line, or a free-form source name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// File path or source name.
    pub source: String,
    /// 1-based line number; 0 when not line-oriented.
    pub line: u64,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.source)
        } else {
            write!(f, "{}:{}", self.source, self.line)
        }
    }
}

impl Error {
    /// Shorthand for [`Error::InvalidInput`].
    pub fn invalid(
        field: &'static str,
        value: impl fmt::Display,
        reason: impl Into<String>,
    ) -> Self {
        Error::InvalidInput {
            field,
            value: value.to_string(),
            reason: reason.into(),
        }
    }
}
