//! The properties, run against a backend: what pgconverge proves about a project.
//!
//! [`Checker`] (check.rs) orchestrates; each property is written once, in `properties/`, over an
//! executor (pgconverge's own SQL runner, or the project's migrator); the
//! generated properties (partial, order, interrupt) live in `explore/`. A property that does
//! not hold yields a [`Verdict`](crate::Verdict) with a [`Failure`](crate::Failure) (a counterexample); `Err` means the check
//! could not decide (bad input, or the server failed).

mod check;
pub(crate) mod executor;
pub mod explore;
mod origins;
pub(crate) mod prepare;
mod properties;
pub(crate) mod repro;

pub use check::Checker;
pub(crate) use executor::{failure_location, run_migration_script};

/// Why a check could not decide: the crate's error (kept under this name for the engine).
pub(crate) type CheckError = crate::error::Error;
