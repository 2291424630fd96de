//! The library's typed error. Every variant maps to one documented exit code, so the
//! scheduler can react to the kind of failure (retry, alert, fix the config) without parsing text.

use std::path::PathBuf;

/// One problem found in a pipeline config: where (file and key path) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    pub key: String,
    pub message: String,
}

impl std::fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Exit 1: a data-quality gate failed; nothing was published.
    #[error("data-quality gate failed: {0}")]
    QualityGate(String),
    /// Exit 2: the command line itself is wrong.
    #[error("usage: {0}")]
    Usage(String),
    /// Exit 65: input data that quarantine cannot absorb (schema drift, corrupt file, missing column).
    #[error("input data error in {file}: {message}")]
    InputData { file: String, message: String },
    /// Exit 66: an input file or folder does not exist.
    #[error("input missing: {0}")]
    MissingInput(String),
    /// Exit 70: a bug in portrait.
    #[error("internal error (this is a bug in portrait; please report it with the log): {0}")]
    Internal(String),
    /// Exit 74: writing the output failed.
    #[error("I/O error while writing {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Exit 75: another run holds the output root's lock.
    #[error("another run holds the lock {path} ({holder}); retry when it has finished")]
    Locked { path: PathBuf, holder: String },
    /// Exit 78: the pipeline config is invalid; every problem found is listed.
    #[error("invalid pipeline config {file}:\n{}", .issues.iter().map(|i| format!("  - {i}")).collect::<Vec<_>>().join("\n"))]
    Config { file: String, issues: Vec<ConfigIssue> },
}

impl Error {
    /// The process exit code documented in README.md ("Exit codes").
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::QualityGate(_) => 1,
            Error::Usage(_) => 2,
            Error::InputData { .. } => 65,
            Error::MissingInput(_) => 66,
            Error::Internal(_) => 70,
            Error::Io { .. } => 74,
            Error::Locked { .. } => 75,
            Error::Config { .. } => 78,
        }
    }

    pub fn internal(context: &str, err: impl std::fmt::Display) -> Self {
        Error::Internal(format!("{context}: {err}"))
    }

    pub fn input(file: impl std::fmt::Display, message: impl Into<String>) -> Self {
        Error::InputData { file: file.to_string(), message: message.into() }
    }

    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }
}

pub type Result<T> = std::result::Result<T, Error>;
