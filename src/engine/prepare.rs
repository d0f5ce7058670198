//! Preparing a scratch database before the reference or the migrations run: the configured
//! extensions, the `setup` SQL files (roles, schemas), and the framework ledger table.

use sqlx::postgres::PgConnection;
use sqlx::AssertSqlSafe;

use crate::migration::{Location, MigrationError, Script};
use crate::project::config::Ledger;
use crate::project::Project;
use crate::runner::roles::RoleRefusal;
use crate::runner::{self, PgError, RunnerError, ScratchDatabase};

/// What a scratch database is prepared for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// The reference schema runs next (it creates its own ledger tables, if any).
    Reference,
    /// Migrations run next: the ledger table exists first, as the framework would make it.
    Migrations,
}

/// Everything that runs on every scratch database before the real work.
#[derive(Debug, Clone, Default)]
pub(crate) struct Preparation {
    pub(crate) extensions: Vec<String>,
    /// The pgconverge.toml that lists the extensions, for an error that names it.
    pub(crate) config: std::path::PathBuf,
    pub(crate) setup: Vec<Script>,
    pub(crate) ledger: Option<Ledger>,
}

/// A setup statement that failed: the user's input is wrong.
#[derive(Debug, Clone)]
pub(crate) struct SetupFailure {
    pub(crate) location: Location,
    pub(crate) error: PgError,
}

impl Preparation {
    pub(crate) fn load(project: &Project) -> Result<Preparation, MigrationError> {
        // The same placeholders as in the migrations may stand in the setup files.
        let setup = crate::migration::layout::with_substitutions(&project.config.substitutions, || {
            project.config.setup.iter().map(|path| Script::read(&project.dir.join(path))).collect::<Result<Vec<_>, _>>()
        })?;
        Ok(Preparation {
            extensions: project.config.extensions.clone(),
            config: project.dir.join(crate::project::config::CONFIG_FILE),
            setup,
            ledger: project.config.ledger,
        })
    }

    /// Runs the preparation on `conn`, a connection to `database` when it is one of the
    /// harness's; `Some` when a setup statement failed. With a sandbox role, the extensions are
    /// created as the backend's role and the setup's `CREATE ROLE`s run checked on its behalf.
    pub(crate) async fn apply(
        &self,
        conn: &mut PgConnection,
        purpose: Purpose,
        database: Option<&ScratchDatabase>,
    ) -> Result<Option<SetupFailure>, RunnerError> {
        let roles = database.and_then(ScratchDatabase::run_roles);
        match database {
            Some(database) if roles.is_some_and(|r| r.sandbox_role().is_some()) && !self.extensions.is_empty() => {
                let mut admin = database.connect_admin().await?;
                let created = self.create_extensions(&mut admin).await;
                let _ = sqlx::Connection::close(admin).await;
                created?;
            }
            _ => self.create_extensions(conn).await?,
        }
        for script in &self.setup {
            for statement in &script.statements {
                let role_roles = roles.filter(|_| creates_role(&statement.sql));
                if let Some(roles) = role_roles {
                    match roles.create_setup_role(&statement.sql).await {
                        Ok(Ok(_)) => continue,
                        Ok(Err(error)) => {
                            return Ok(Some(SetupFailure { location: crate::engine::failure_location(script, statement, &error), error }))
                        }
                        Err(RoleRefusal::Refused(reason)) => {
                            let refusal = RunnerError::NeedsTrust { location: None, statement: String::new(), reason };
                            return Err(refusal.at_statement(script, statement));
                        }
                        Err(RoleRefusal::Runner(error)) => return Err(error),
                        Err(RoleRefusal::NotSandboxed) => {}
                    }
                }
                let Err(error) = sqlx::raw_sql(AssertSqlSafe(statement.sql.clone())).execute(&mut *conn).await else {
                    // Under trust = "superuser" the setup's roles are dropped when the run ends too.
                    if let Some(roles) = role_roles {
                        roles.record_created(&statement.sql);
                    }
                    continue;
                };
                let error = runner::classify_on(conn, error, &format!("run {}", script.path.display()))
                    .await
                    .map_err(|e| e.at_statement(script, statement))?;
                // Roles belong to the server, not the database: the second scratch database
                // finds the setup's roles already there.
                // Two checks on one server creating the same role at the same moment: the
                // loser gets a unique violation on pg_authid instead.
                if (error.code == DUPLICATE_OBJECT || error.code == UNIQUE_VIOLATION) && creates_role(&statement.sql) {
                    continue;
                }
                return Ok(Some(SetupFailure { location: crate::engine::failure_location(script, statement, &error), error }));
            }
        }
        if let (Some(ledger), Purpose::Migrations) = (self.ledger, purpose) {
            for sql in ledger_ddl(ledger) {
                execute(conn, sql.to_string(), "create the ledger table").await?;
            }
        }
        Ok(None)
    }

    async fn create_extensions(&self, conn: &mut PgConnection) -> Result<(), RunnerError> {
        for extension in &self.extensions {
            if let Err(error) = sqlx::raw_sql(AssertSqlSafe(create_extension_sql(extension))).execute(&mut *conn).await {
                // A missing extension is its own error; any other is the server's.
                let context = format!("create extension {extension} (`extensions` in pgconverge.toml)");
                let error = match runner::classify_on(conn, error, &context).await {
                    Ok(error) => error,
                    // The user's own list names it: a typo, or a server chosen without it.
                    Err(RunnerError::ExtensionUnavailable { extension, detail }) => {
                        return Err(RunnerError::ConfiguredExtensionUnavailable { config: self.config.clone(), extension, detail });
                    }
                    Err(other) => return Err(other),
                };
                return Err(RunnerError::ExtensionFailed { extension: extension.clone(), error });
            }
        }
        Ok(())
    }
}

const DUPLICATE_OBJECT: &str = "42710";
const UNIQUE_VIOLATION: &str = "23505";

/// The statement that installs `extension` (`extensions` in pgconverge.toml); repro scripts
/// replay the same text.
pub(crate) fn create_extension_sql(extension: &str) -> String {
    format!("CREATE EXTENSION IF NOT EXISTS \"{}\"", extension.replace('"', "\"\""))
}

/// Whether a setup statement creates a role: one already on the server is kept, not an error.
pub(crate) fn creates_role(sql: &str) -> bool {
    pg_query::parse(sql, 0).is_ok_and(|parsed| {
        parsed
            .protobuf
            .stmts
            .iter()
            .any(|raw| matches!(raw.stmt.as_ref().and_then(|n| n.node.as_ref()), Some(pg_query::NodeEnum::CreateRoleStmt(_))))
    })
}

async fn execute(conn: &mut PgConnection, sql: String, context: &str) -> Result<(), RunnerError> {
    sqlx::raw_sql(AssertSqlSafe(sql)).execute(conn).await.map(|_| ()).map_err(|e| RunnerError::db(context, e))
}

/// The ledger tables as each framework creates them.
pub(crate) fn ledger_ddl(ledger: Ledger) -> &'static [&'static str] {
    match ledger {
        Ledger::Diesel => &["CREATE TABLE IF NOT EXISTS __diesel_schema_migrations (version VARCHAR(50) PRIMARY KEY NOT NULL, run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)"],
        Ledger::Sqlx => &["CREATE TABLE IF NOT EXISTS _sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL, installed_on TIMESTAMPTZ NOT NULL DEFAULT now(), success BOOLEAN NOT NULL, checksum BYTEA NOT NULL, execution_time BIGINT NOT NULL)"],
        Ledger::Rails => &[
            "CREATE TABLE IF NOT EXISTS schema_migrations (version character varying PRIMARY KEY)",
            "CREATE TABLE IF NOT EXISTS ar_internal_metadata (key character varying PRIMARY KEY, value character varying, created_at timestamp(6) NOT NULL, updated_at timestamp(6) NOT NULL)",
        ],
        Ledger::Flyway => &["CREATE TABLE IF NOT EXISTS flyway_schema_history (installed_rank INT NOT NULL PRIMARY KEY, version VARCHAR(50), description VARCHAR(200) NOT NULL, type VARCHAR(20) NOT NULL, script VARCHAR(1000) NOT NULL, checksum INT, installed_by VARCHAR(100) NOT NULL, installed_on TIMESTAMP NOT NULL DEFAULT now(), execution_time INT NOT NULL, success BOOLEAN NOT NULL)"],
        Ledger::GolangMigrate => &["CREATE TABLE IF NOT EXISTS schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL)"],
        Ledger::Dbmate => &["CREATE TABLE IF NOT EXISTS schema_migrations (version character varying(128) NOT NULL PRIMARY KEY)"],
        Ledger::Alembic => &["CREATE TABLE IF NOT EXISTS alembic_version (version_num VARCHAR(32) NOT NULL, CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"],
    }
}
