//! The SQL executor: pgconverge runs each migration's statements itself, in a transaction
//! unless the migration must run outside one, and names a failing statement by file:line:col.

use sqlx::postgres::PgConnection;

use super::{Executor, Target};
use crate::engine::CheckError;
use crate::migration::{split::char_position_to_byte_offset, Location, Migration, Script, Statement};
use crate::model::Failure;
use crate::runner::{self, ApplyOutcome, PgError, RunnerError, SessionLimits, TransactionMode};

/// pgconverge itself runs the SQL, in sessions under `limits`.
pub(crate) struct SqlExecutor {
    pub(crate) limits: SessionLimits,
}

#[async_trait::async_trait]
impl Executor for SqlExecutor {
    fn runs_sql(&self) -> bool {
        true
    }

    fn has_down(&self, migration: &Migration) -> bool {
        migration.down.is_some()
    }

    fn no_rerun(&self) -> Option<&'static str> {
        None
    }

    async fn up(&self, target: Target<'_>, migration: &Migration) -> Result<Option<Failure>, RunnerError> {
        apply_migration(target.conn, migration, &self.limits).await
    }

    async fn down(&self, target: Target<'_>, migration: &Migration) -> Result<Option<Failure>, RunnerError> {
        let down = migration.down.as_ref().expect("called only for a migration with a down");
        run_migration_script(target.conn, format!("{} (down)", migration.id()), down, migration_mode(migration), &self.limits).await
    }
}

/// Runs one of a migration's scripts in `mode`; `Some` when a statement failed, naming the
/// migration as `id`. A statement that runs into one of `limits` is an error.
pub(crate) async fn run_migration_script(
    conn: &mut PgConnection,
    id: String,
    script: &Script,
    mode: TransactionMode,
    limits: &SessionLimits,
) -> Result<Option<Failure>, RunnerError> {
    match runner::apply_script(conn, script, mode, None, limits).await? {
        ApplyOutcome::Applied => Ok(None),
        ApplyOutcome::Failed(failure) => {
            let statement = &script.statements[failure.statement_index];
            Ok(Some(Failure::StatementFailed {
                migration: id,
                statement: failure.statement_index + 1,
                location: failure_location(script, statement, &failure.error),
                sql: statement.sql.clone(),
                error: failure.error,
            }))
        }
    }
}

/// In a transaction unless the migration must not run in one.
fn migration_mode(migration: &Migration) -> TransactionMode {
    if migration.runs_in_transaction() {
        TransactionMode::Transaction
    } else {
        TransactionMode::Autocommit
    }
}

/// Applies one migration. `Some` when a statement failed.
pub(crate) async fn apply_migration(
    conn: &mut PgConnection,
    migration: &Migration,
    limits: &SessionLimits,
) -> Result<Option<Failure>, RunnerError> {
    run_migration_script(conn, migration.id(), &migration.up, migration_mode(migration), limits).await
}

/// Applies the reference schema statement by statement; a failing statement is an error in the
/// user's input, named by its position.
pub(crate) async fn apply_reference(conn: &mut PgConnection, script: &Script, limits: &SessionLimits) -> Result<(), CheckError> {
    if let ApplyOutcome::Failed(failure) = runner::apply_script(conn, script, TransactionMode::Autocommit, None, limits).await? {
        let statement = &script.statements[failure.statement_index];
        let location = failure_location(script, statement, &failure.error);
        return Err(CheckError::Reference { location, error: failure.error });
    }
    Ok(())
}

/// Where in the file a failed statement went wrong: the server's error position when it gives
/// one, the line inside a `DO` block when PL/pgSQL names it, else the statement's start.
pub(crate) fn failure_location(script: &Script, statement: &Statement, error: &PgError) -> Location {
    if let Some(position) = error.position {
        return script.location_in(statement, char_position_to_byte_offset(&statement.sql, position));
    }
    if let Some(location) = plpgsql_location(script, statement, error) {
        return location;
    }
    script.location_of(statement)
}

/// `PL/pgSQL function inline_code_block line N at ...`: line N counts from the line on which
/// the DO block's dollar-quoted body opens.
fn plpgsql_location(script: &Script, statement: &Statement, error: &PgError) -> Option<Location> {
    let context = error.context.as_deref()?;
    let pattern = regex::Regex::new(r"inline_code_block line (\d+)").expect("valid regex");
    let body_line: usize = pattern.captures(context)?.get(1)?.as_str().parse().ok()?;
    let quote = regex::Regex::new(r"\$[A-Za-z_0-9]*\$").expect("valid regex");
    let opening = quote.find(&statement.sql)?;
    let opening_location = script.location_in(statement, opening.start());
    let line = opening_location.line + body_line.max(1) - 1;
    let line_text = script.file_text.lines().nth(line - 1).unwrap_or("");
    let column = line_text.chars().take_while(|c| c.is_whitespace()).count() + 1;
    Some(Location { file: script.path.clone(), line, column })
}
