#![warn(missing_docs)]
//! pgconverge proves that a PostgreSQL migration set converges: applied to an empty database it
//! ends at exactly the reference schema, and its re-entrant migrations can run again without
//! changing anything.
//!
//! The pipeline, one module a stage: [`project`] reads the directory and `pgconverge.toml`,
//! [`migration`] reads the migration files (never a database), `analysis` infers what each
//! statement touches and the dependencies between migrations, `generate` builds the start
//! states and orders, [`engine`] runs the properties, [`runner`] owns every Postgres server and
//! connection, [`catalog`] dumps `pg_catalog` into a sorted model, [`compare`](mod@compare) diffs two
//! models, [`model`] holds the verdicts, and [`report`] writes them. [`error`] is the one error
//! type, whose [`ErrorKind`] decides the exit code. The library never prints and never exits.

pub(crate) mod analysis;
pub mod catalog;
pub mod compare;
pub mod engine;
pub mod error;
pub mod fuzz;
pub(crate) mod generate;
pub mod migration;
pub mod model;
pub mod project;
pub mod report;
pub mod runner;

mod api;
mod process;

pub use api::{
    assert_converges, check, choose_backend, dump_project, dump_url, init, migrate, start_backend, start_backend_for, BackendChoice,
    BackendDecision, CancellationToken, Check, DumpSource,
};
pub use catalog::{Catalog, Object, ObjectKind};
pub use compare::{compare, Difference};
pub use error::{Error, ErrorKind};
pub use migration::{Format, Migration, MigrationSet};
pub use model::{Failure, Granularity, Property, Report, Shard, Status, Verdict, VerdictStatus};
pub use project::Project;
