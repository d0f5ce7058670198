//! idempotent: on the migrated database, every re-entrant migration runs again, succeeds, and
//! changes nothing. Each re-run is judged on its own, so every re-entrant migration that fails
//! or changes the catalog is named, with what it changed.
//!
//! A migration that runs in a transaction re-runs inside one that is rolled back after the
//! catalog is dumped: every such re-run starts from the migrated state. One that cannot be
//! rolled back (it runs outside a transaction, as `CREATE INDEX CONCURRENTLY` must, or commits
//! on its own) re-runs after those, on the migrated database itself, in canonical order, and is
//! compared with the catalog just before its own re-run, so it too is blamed only for what it
//! changed. Rebuilding the migrated state for each of them instead would cost a whole fresh run
//! apiece, for migrations that are rare and usually a single guarded statement.

use sqlx::postgres::PgConnection;

use super::super::check::{diverged, pass, skipped, Checker, Workspace};
use super::super::{failure_location, run_migration_script, CheckError};
use super::{failed, Found};
use crate::analysis::reentrancy::supersessions;
use crate::catalog::Catalog;
use crate::compare::{self, Difference};
use crate::migration::Migration;
use crate::model::{plural, Failure, Property, Verdict};
use crate::runner::{self, RunnerError, TransactionMode};

impl Checker<'_> {
    /// Re-runs each re-entrant migration on `migrated`, the database the fresh run left.
    pub(crate) async fn idempotent(&mut self, migrated: &mut Workspace, catalog: Option<&Catalog>) -> Result<Verdict, CheckError> {
        let executor = self.executor();
        let project = self.project;
        let reentrant: Vec<&Migration> = project.reentrant.iter().map(|&i| &project.migrations.migrations[i]).collect();
        if let Some(why) = executor.no_rerun() {
            return Ok(skipped(Property::Idempotent, why.to_string()));
        }
        if reentrant.is_empty() {
            return Ok(skipped(
                Property::Idempotent,
                "no migration claims to be re-entrant (set `idempotent` in pgconverge.toml)".to_string(),
            ));
        }
        let Some(before) = catalog else {
            return Ok(skipped(
                Property::Idempotent,
                "not run: the fresh run failed, so there is no migrated database to re-run on".to_string(),
            ));
        };
        // Only pgconverge's own runner can hold a migration in a transaction it rolls back.
        let (rolled_back, in_sequence): (Vec<&Migration>, Vec<&Migration>) =
            reentrant.iter().copied().partition(|m| executor.runs_sql() && can_roll_back(m));
        let mut found = Vec::new();
        for migration in rolled_back {
            self.stop_if_cancelled()?;
            found.extend(self.rerun_rolled_back(&mut migrated.conn, migration, before).await?);
        }
        let mut current = before.clone();
        for migration in in_sequence {
            self.stop_if_cancelled()?;
            // A migrator that records what it ran skips it: make it forget first.
            executor.forget(migrated.target(), migration).await?;
            if let Some(failure) = executor.up(migrated.target(), migration).await? {
                found.push(failed_rerun(migration, failure));
                // Outside a transaction a failure may leave part of the work: the next re-run
                // is compared with what is there now.
                current = self.dump(&mut migrated.conn).await?;
                continue;
            }
            let after = self.dump(&mut migrated.conn).await?;
            let mut differences = compare::compare(&current, &after, &self.compare);
            let mut latest = None;
            if !differences.is_empty() {
                // Once more: what differs between the two re-runs froze something like now().
                executor.forget(migrated.target(), migration).await?;
                let again_ok = executor.up(migrated.target(), migration).await?.is_none();
                let again = self.dump(&mut migrated.conn).await?;
                if again_ok {
                    differences = self.stable_differences(differences, &after, &again);
                }
                latest = Some(again);
            }
            if !differences.is_empty() {
                found.push(changed_catalog(migration, &current, &after, differences));
            }
            current = latest.unwrap_or(after);
        }
        // A migration a later one supersedes fails here by design: say so, with what to do.
        let supersessions = if found.is_empty() { Vec::new() } else { supersessions(&project.migrations) };
        for finding in &mut found {
            let index = project.migrations.migrations.iter().position(|m| m.id() == finding.finding.migration);
            if let Some((by, what)) = index.and_then(|i| supersessions[i].as_ref()) {
                finding.finding.summary.push_str(&format!(
                    " ({by}, a later migration, {what}, which a re-run on the migrated database undoes: leave this migration \
                     out of `idempotent` unless it must re-run after that one)"
                ));
            }
        }
        let cases = reentrant.len() as u64;
        if found.is_empty() {
            let summary = format!(
                "{} re-run on the migrated database: all succeeded and the catalog is unchanged",
                plural(reentrant.len(), "re-entrant migration")
            );
            let mut verdict = pass(Property::Idempotent, summary, vec![]);
            verdict.cases = cases;
            return Ok(verdict);
        }
        // Canonical order, whichever way each one re-ran.
        let position = |id: &str| reentrant.iter().position(|m| m.id() == id);
        found.sort_by_key(|f| position(&f.finding.migration));
        let lead = format!("{} of {} fail on a re-run", found.len(), plural(reentrant.len(), "re-entrant migration"));
        Ok(failed(Property::Idempotent, &lead, found, vec![], cases))
    }

    /// Re-runs `migration` in a transaction that is rolled back once the catalog is dumped;
    /// what it did wrong, if anything.
    async fn rerun_rolled_back(
        &mut self,
        conn: &mut PgConnection,
        migration: &Migration,
        before: &Catalog,
    ) -> Result<Option<Found>, CheckError> {
        let after = match self.rerun_and_dump(conn, migration).await? {
            Ok(after) => after,
            Err(failure) => return Ok(Some(failed_rerun(migration, failure))),
        };
        let mut differences = compare::compare(before, &after, &self.compare);
        if !differences.is_empty() {
            // Once more, in a transaction of its own (now() moves on): what differs between the
            // two re-runs froze something like now().
            if let Ok(again) = self.rerun_and_dump(conn, migration).await? {
                differences = self.stable_differences(differences, &after, &again);
            }
        }
        Ok((!differences.is_empty()).then(|| changed_catalog(migration, before, &after, differences)))
    }

    /// `BEGIN`, the migration's statements, the catalog it leaves, `ROLLBACK`: the database is
    /// back at the state it started from, whatever happened.
    async fn rerun_and_dump(&mut self, conn: &mut PgConnection, migration: &Migration) -> Result<Result<Catalog, Failure>, RunnerError> {
        control(conn, "BEGIN").await?;
        let outcome = self.rerun_in_transaction(conn, migration).await;
        let rolled_back = control(conn, "ROLLBACK").await;
        let outcome = outcome?;
        rolled_back?;
        Ok(outcome)
    }

    async fn rerun_in_transaction(
        &mut self,
        conn: &mut PgConnection,
        migration: &Migration,
    ) -> Result<Result<Catalog, Failure>, RunnerError> {
        // Autocommit: every statement runs in the transaction that is already open.
        if let Some(failure) =
            run_migration_script(conn, migration.id(), &migration.up, TransactionMode::Autocommit, &self.sessions.limits).await?
        {
            return Ok(Err(failure));
        }
        // Deferred constraints are checked at COMMIT, which never comes: check them now, and
        // blame the last statement, as a failing COMMIT does.
        if let (Err(error), Some(last)) =
            (sqlx::raw_sql("SET CONSTRAINTS ALL IMMEDIATE").execute(&mut *conn).await, migration.up.statements.last())
        {
            let error = runner::classify_on(conn, error, "check the deferred constraints of a re-run").await?;
            return Ok(Err(Failure::StatementFailed {
                migration: migration.id(),
                statement: migration.up.statements.len(),
                location: failure_location(&migration.up, last, &error),
                sql: last.sql.clone(),
                error,
            }));
        }
        Ok(Ok(self.dump(conn).await?))
    }
}

/// Whether a re-run of `migration` can be rolled back: it runs in a transaction and has no
/// statement of its own that ends one (`COMMIT`) or starts one. SQL that does not parse is
/// not assumed safe.
fn can_roll_back(migration: &Migration) -> bool {
    migration.runs_in_transaction()
        && migration.up.statements.iter().all(|s| {
            pg_query::parse(&s.sql, 0).is_ok_and(|parsed| {
                parsed
                    .protobuf
                    .stmts
                    .iter()
                    .all(|raw| !matches!(raw.stmt.as_ref().and_then(|n| n.node.as_ref()), Some(pg_query::NodeEnum::TransactionStmt(_))))
            })
        })
}

fn failed_rerun(migration: &Migration, failure: Failure) -> Found {
    let summary = format!("re-running {} on the migrated database failed", migration.id());
    Found::new(migration, summary, "the re-run fails", failure)
}

fn changed_catalog(migration: &Migration, before: &Catalog, after: &Catalog, differences: Vec<Difference>) -> Found {
    let count = plural(differences.len(), "difference");
    let summary = format!("re-running {} on the migrated database succeeded but changed the catalog ({count})", migration.id());
    let reason = format!("the re-run changes the catalog: {count}");
    Found::new(migration, summary, reason, diverged(before, after, differences, "the catalog before the re-run"))
}

async fn control(conn: &mut PgConnection, sql: &'static str) -> Result<(), RunnerError> {
    sqlx::raw_sql(sql).execute(conn).await.map(|_| ()).map_err(|e| RunnerError::db(sql, e))
}
