//! What runs a migration: pgconverge itself ([`SqlExecutor`], which also gives the generated
//! properties statement-level control through its sandbox), the project's own migrator
//! ([`CommandExecutor`], a shell command per step) or a framework's migration code through a
//! driver ([`FrameworkExecutor`], one long-lived process). The properties are written once,
//! over this trait.

mod command;
mod framework;
mod sql;

use std::sync::Arc;

use sqlx::postgres::PgConnection;

use crate::migration::Migration;
use crate::model::Failure;
use crate::project::Project;
use crate::runner::{Backend, RunnerError, SessionLimits};

pub(crate) use command::CommandExecutor;
pub(crate) use framework::FrameworkExecutor;
pub(crate) use sql::SqlExecutor;
pub(crate) use sql::{apply_migration, apply_reference, failure_location, run_migration_script};

/// The database a step runs against: a connection pgconverge holds, and the database's name
/// (what a migrator that connects on its own is pointed at).
pub(crate) struct Target<'t> {
    pub(crate) conn: &'t mut PgConnection,
    pub(crate) database: &'t str,
}

/// A step and, when the migrator can say, the SQL it sent (a framework driver records what
/// the migration code sent, the failing statement last).
pub(crate) struct Ran {
    pub(crate) failure: Option<Failure>,
    pub(crate) sql: Option<Vec<String>>,
}

/// Runs migrations, up and down, against a scratch database.
#[async_trait::async_trait]
pub(crate) trait Executor: Send + Sync {
    /// Whether pgconverge runs the migrations' SQL itself, statement by statement: only then
    /// can a case share a sandboxed transaction, stop a migration part way (interrupt), infer
    /// dependencies from the SQL (order), and write a repro script.
    fn runs_sql(&self) -> bool;

    /// Whether `migration` can be undone.
    fn has_down(&self, migration: &Migration) -> bool;

    /// Why a migration cannot be run a second time on a database where it ran (the migrator
    /// records what it ran and skips it), or `None` when it can.
    fn no_rerun(&self) -> Option<&'static str>;

    /// Deletes what the migrator recorded about `migration`, so that it runs `migration` again
    /// (the idempotent property's re-run). Nothing by default: pgconverge's runner keeps no record.
    async fn forget(&self, _target: Target<'_>, _migration: &Migration) -> Result<(), RunnerError> {
        Ok(())
    }

    /// Applies `migration`; `Some` when it failed (the counterexample's material).
    async fn up(&self, target: Target<'_>, migration: &Migration) -> Result<Option<Failure>, RunnerError>;

    /// [`Executor::up`], with the SQL it sent when the migrator reports it.
    async fn up_recorded(&self, target: Target<'_>, migration: &Migration) -> Result<Ran, RunnerError> {
        Ok(Ran { failure: self.up(target, migration).await?, sql: None })
    }

    /// Undoes `migration` (call only when [`Executor::has_down`]); `Some` when it failed.
    async fn down(&self, target: Target<'_>, migration: &Migration) -> Result<Option<Failure>, RunnerError>;

    /// Whether the migrator loads the whole reference its own way (`load_schema`); otherwise
    /// pgconverge runs the reference's statements.
    fn loads_schema(&self) -> bool {
        false
    }

    /// Loads the whole reference the migrator's way (call only when [`Executor::loads_schema`]).
    async fn load_schema(&self, target: Target<'_>) -> Result<Option<Failure>, RunnerError> {
        Ok(self.load_schema_recorded(target).await?.failure)
    }

    /// [`Executor::load_schema`], with the SQL it sent when the migrator reports it.
    async fn load_schema_recorded(&self, _target: Target<'_>) -> Result<Ran, RunnerError> {
        unreachable!("called only when loads_schema()")
    }
}

/// The executor a project asks for: its own migrator when `runner = "command"`, a framework
/// driver when `runner = "rails"`, else pgconverge, whose statements run into `limits`.
pub(crate) fn for_project(
    project: &Project,
    backend: &dyn Backend,
    limits: SessionLimits,
) -> Result<Arc<dyn Executor>, crate::engine::CheckError> {
    if project.framework.is_some() {
        return Ok(Arc::new(FrameworkExecutor::new(project, backend)?));
    }
    Ok(match &project.command {
        Some(command) => Arc::new(CommandExecutor::new(project, command.clone(), backend)?),
        None => Arc::new(SqlExecutor { limits }),
    })
}
