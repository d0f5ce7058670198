//! pgconverge proves that a PostgreSQL migration set converges: applied to an empty database it
//! ends at exactly the reference schema, and its re-entrant migrations can run again without
//! changing anything.
//!
//! The pipeline: [`migration`] reads the files (never a database), [`runner`] owns every
//! Postgres connection behind the [`runner::Backend`] trait, [`catalog`] dumps `pg_catalog`
//! into a sorted model, [`compare`] diffs two models, [`check`] runs the properties, and
//! [`report`] writes the results. The library never prints and never exits.

pub mod catalog;
pub mod check;
pub mod command;
pub mod compare;
pub mod config;
pub mod deps;
pub mod doctor;
pub mod explore;
pub mod footprint;
pub mod generate;
pub mod init;
pub mod migration;
pub mod prepare;
pub mod project;
pub mod reference_units;
pub mod repro;
pub mod report;
pub mod runner;

mod api;

pub use api::{check, dump_project, dump_url, start_backend, start_backend_for, BackendChoice, Check, DumpSource, Error};
pub use catalog::{Catalog, Object, ObjectKind};
pub use check::{Failure, Property, Report, Status, Verdict, VerdictStatus};
pub use compare::{compare, Difference};
pub use migration::{Format, Migration, MigrationSet};
pub use project::Project;
