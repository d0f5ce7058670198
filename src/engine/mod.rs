//! The properties, run against a backend: what pgconverge proves about a project.
//!
//! [`Checker`] (check.rs) orchestrates; each property is written once, in `properties/`, over an
//! [`executor::Executor`] (pgconverge's own SQL runner, or the project's migrator); the
//! generated properties (partial, order, interrupt) live in `explore/`. A property that does
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


/// Why a check could not decide: the crate's error (kept under this name for the engine).
pub(crate) type CheckError = crate::error::Error;

