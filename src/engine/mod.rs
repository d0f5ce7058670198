//! The properties, run against a backend: what pgconverge proves about a project.
//!
//! [`Checker`] (check.rs) orchestrates; each property is written once, in `properties/`, over an
//! [`executor::Executor`] (pgconverge's own SQL runner, or the project's migrator); the
//! generated properties (partial, order, interrupt) live in `explore.rs`. A property that does
//! not hold yields a [`Verdict`] with a [`Failure`] (a counterexample); `Err` means the check
//! could not decide (bad input, or the server failed).

mod check;
pub mod executor;
pub mod explore;
pub mod prepare;
mod properties;
pub mod repro;

pub use check::Checker;
pub use executor::{apply_migration, apply_reference, failure_location, run_migration_script};

use crate::migration::Location;
use crate::project::ProjectError;
use crate::runner::{PgError, RunnerError};

/// Why a check could not decide.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    Project(#[from] ProjectError),
    #[error("{location}: the reference schema does not apply: {error}")]
    Reference { location: Location, error: PgError },
    #[error("{location}: a setup file does not apply: {error}")]
    Setup { location: Location, error: PgError },
    #[error("{location}: migration {migration} fails on an empty database after the migrations before it: {error}")]
    Migration { migration: String, location: Location, error: PgError },
    #[error("{0}")]
    Infrastructure(#[from] RunnerError),
}

impl CheckError {
    /// True for errors in the user's input (exit 2); false for the harness's own failures (exit 3).
    pub fn is_input_error(&self) -> bool {
        matches!(self, CheckError::Project(_) | CheckError::Reference { .. } | CheckError::Setup { .. } | CheckError::Migration { .. })
    }
}

