//! The crate's one error: why a check, a dump or a diff could not decide. Every error has a
//! [`ErrorKind`], and the kind alone decides the exit code (see the README's exit code table).
//!
//! A property that does not hold is never an error: it is a [`Verdict`](crate::Verdict) with a
//! counterexample in an `Ok` report.

use std::path::PathBuf;

use crate::migration::Location;
use crate::project::init::InitError;
use crate::project::ProjectError;
use crate::runner::{PgError, RunnerError};

/// Why a check, a dump or a diff could not decide. [`Error::kind`] says whose problem it is.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The project directory, its config or a migration file cannot be read as given.
    #[error(transparent)]
    Project(#[from] ProjectError),
    /// `init` could not guess or write a config.
    #[error(transparent)]
    Init(#[from] InitError),
    /// A statement of the reference schema fails on an empty, prepared database.
    #[error("{location}: the reference schema does not apply: {error}")]
    Reference {
        /// The failing statement's place in the reference file.
        location: Location,
        /// What the server said.
        error: PgError,
    },
    /// A statement of a `setup` file fails on an empty database.
    #[error("{location}: a setup file does not apply: {error}")]
    Setup {
        /// The failing statement's place in the setup file.
        location: Location,
        /// What the server said.
        error: PgError,
    },
    /// A migration fails where it must run: in order, on an empty database (a dump of the
    /// migrations, [`migrate`](crate::migrate)).
    #[error("{location}: migration {migration} fails on an empty database after the migrations before it: {error}")]
    Migration {
        /// The migration's id (`<version>_<name>`).
        migration: String,
        /// The failing statement's place in the migration file.
        location: Location,
        /// What the server said.
        error: PgError,
    },
    /// A catalog file given to `diff` cannot be read.
    #[error("{path}: cannot read: {source}")]
    ReadDump {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A catalog file given to `diff` is not what `dump --format json` writes.
    #[error("{path}: not a pgconverge JSON dump: {source}")]
    InvalidDump {
        /// The file.
        path: PathBuf,
        /// Where and why it does not parse.
        #[source]
        source: serde_json::Error,
    },
    /// An environment variable pgconverge reads (`PGCONVERGE_SEED`, `PGCONVERGE_SHARD`) does not parse.
    #[error("{variable}: {message}")]
    Environment {
        /// The variable.
        variable: &'static str,
        /// What is wrong with its value.
        message: String,
    },
    /// A report file the command was asked to write (`--junit`, `--json`) cannot go there: its
    /// directory does not exist or refuses a new file, or the path is a directory. Found
    /// before the check runs.
    #[error("{}: cannot write a report file there: {problem}", .path.display())]
    ReportPath {
        /// The file asked for.
        path: PathBuf,
        /// Why it cannot be written.
        problem: String,
    },
    /// Writing a report file failed once the check had ended (a full disk, say).
    #[error("{}: could not write the report file: {source}", .path.display())]
    WriteReport {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The server, a program the harness runs, or a server choice that cannot work.
    #[error(transparent)]
    Runner(#[from] RunnerError),
    /// A thread of the check panicked: a bug in pgconverge, never a finding.
    #[error("{task} panicked (a bug in pgconverge)")]
    Panicked {
        /// The work that panicked, in words.
        task: String,
    },
}

/// What kind of failure an [`Error`] is, which decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The user's input: arguments, files, the reference, a backend choice that cannot work.
    Input,
    /// The machine or the server: binaries, Docker, connections, timeouts, missing extensions.
    Infrastructure,
    /// The user interrupted the run (Ctrl-C).
    Interrupted,
    /// A bug in pgconverge (a panic).
    Internal,
}

impl ErrorKind {
    /// The documented exit code (README, "Exit codes").
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorKind::Input => 2,
            ErrorKind::Infrastructure => 3,
            ErrorKind::Interrupted => 130,
            // Rust's own exit code for a panic.
            ErrorKind::Internal => 101,
        }
    }

    /// The `error` field of a JSON error (`{"status": "error", "error": "input", ...}`).
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Input => "input",
            ErrorKind::Infrastructure => "infrastructure",
            ErrorKind::Interrupted => "interrupted",
            ErrorKind::Internal => "internal",
        }
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Error {
    /// Whose problem the error is, which decides the exit code.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Project(_)
            | Error::Init(_)
            | Error::Reference { .. }
            | Error::Setup { .. }
            | Error::Migration { .. }
            | Error::ReadDump { .. }
            | Error::InvalidDump { .. }
            | Error::Environment { .. }
            | Error::ReportPath { .. } => ErrorKind::Input,
            Error::WriteReport { .. } => ErrorKind::Infrastructure,
            Error::Runner(error) => error.kind(),
            Error::Panicked { .. } => ErrorKind::Internal,
        }
    }
}

impl RunnerError {
    /// The runner's errors are the machine's or the server's, except a server choice that cannot
    /// work as given (a malformed URL or image, a missing URL), which is the user's input.
    pub fn kind(&self) -> ErrorKind {
        match self {
            RunnerError::InvalidDatabaseUrl { .. }
            | RunnerError::MissingDatabaseUrl
            | RunnerError::InvalidImage { .. }
            | RunnerError::ContainerBackendNotBuilt
            | RunnerError::CommandRunnerNeedsEmbedded { .. }
            | RunnerError::SavedCase { .. }
            | RunnerError::ProjectCode { .. }
            | RunnerError::ConfiguredExtensionUnavailable { .. }
            | RunnerError::NeedsTrust { .. }
            | RunnerError::ClusterObjectsExist { .. }
            | RunnerError::NothingToRun(_) => ErrorKind::Input,
            RunnerError::Interrupted => ErrorKind::Interrupted,
            RunnerError::NoServerBinaries { .. }
            | RunnerError::NoBackend { .. }
            | RunnerError::Spawn { .. }
            | RunnerError::ProgramFailed { .. }
            | RunnerError::ProgramIneffective { .. }
            | RunnerError::File { .. }
            | RunnerError::Runtime { .. }
            | RunnerError::Thread { .. }
            | RunnerError::Task { .. }
            | RunnerError::ServerUser { .. }
            | RunnerError::Docker { .. }
            | RunnerError::NotReady(..)
            | RunnerError::Database { .. }
            | RunnerError::ExtensionUnavailable { .. }
            | RunnerError::ExtensionFailed { .. }
            | RunnerError::NotRepeatable { .. }
            | RunnerError::PropertyAborted { .. }
            | RunnerError::Timeout(..)
            | RunnerError::StatementTimeout { .. }
            | RunnerError::LockTimeout { .. }
            | RunnerError::Catalog(_) => ErrorKind::Infrastructure,
        }
    }
}
