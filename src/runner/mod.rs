//! All Postgres I/O: servers (behind the [`Backend`] trait), scratch databases, and applying SQL.
//!
//! A backend only has to say how to reach a server as a role that may create databases; the
//! scratch-database lifecycle and statement execution are shared by every backend.

#[cfg(feature = "container")]
pub mod container;
pub mod doctor;
pub mod embedded;
pub(crate) mod limits;
pub mod majors;
pub mod owner;
pub mod roles;
pub(crate) mod scripts;
pub(crate) mod session;
pub(crate) mod url;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgDatabaseError, PgErrorPosition, PgSeverity, PgSslMode};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection};

use crate::migration::{Script, Statement};

pub use embedded::EmbeddedCluster;
pub(crate) use limits::SessionLimits;
pub use roles::RunRoles;
pub use url::ExistingServer;

/// What the runner could not do: start or reach a server, run a program, touch a file. Never a
/// verdict about migrations. Its [`kind`](RunnerError::kind) is the machine's (infrastructure),
/// except for a server choice that cannot work as given (input) and an interruption.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunnerError {
    /// No `initdb`/`postgres` binaries were found for an embedded cluster.
    #[error("no PostgreSQL server binaries found ({searched}); install PostgreSQL or set PGCONVERGE_PG_BIN")]
    NoServerBinaries {
        /// Where pgconverge looked.
        searched: String,
    },
    /// `auto` found nothing to run on: no server binaries, no Docker engine, no URL.
    #[error("no PostgreSQL to run on: no server binaries found ({searched}) and no Docker engine answers; install PostgreSQL's server binaries (Debian: apt-get install postgresql) or set PGCONVERGE_PG_BIN, start a Docker engine (DOCKER_HOST), or give --database-url")]
    NoBackend {
        /// Where pgconverge looked for server binaries.
        searched: String,
    },
    /// A program (initdb, postgres, docker, a script, a `runner = "command"` command) could not
    /// be started or waited for.
    #[error("cannot run {program}: {source}")]
    Spawn {
        /// The program, as the message names it.
        program: String,
        /// Why it could not be started or waited for.
        #[source]
        source: std::io::Error,
    },
    /// A program ran and exited unsuccessfully.
    #[error("{program} failed ({status}): {output}")]
    ProgramFailed {
        /// The program, as the message names it.
        program: String,
        /// How it exited.
        status: String,
        /// What it printed (its tail, when long).
        output: String,
    },
    /// The project's own code around its migrations failed (Alembic's env.py): the user's to
    /// fix, at the file and line the framework names; not a migration's failure.
    #[error("{location}: {message}")]
    ProjectCode {
        /// Where the framework says it failed.
        location: crate::migration::Location,
        /// What it raised.
        message: String,
    },
    /// A program exited successfully without doing what it is run for.
    #[error("{program} succeeded, but {problem}")]
    ProgramIneffective {
        /// The program, as the message names it.
        program: String,
        /// What it should have done and did not.
        problem: String,
    },
    /// A file, directory or socket the harness owns.
    #[error("cannot {action} {}: {source}", .path.display())]
    File {
        /// What the harness tried to do with it (`create`, `remove`, ...).
        action: &'static str,
        /// The file, directory or socket.
        path: std::path::PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A line of a saved-counterexamples file that is neither a comment nor a saved case.
    #[error("{}:{line}:1: {message}", .path.display())]
    SavedCase {
        /// The regressions file.
        path: std::path::PathBuf,
        /// The line, from 1.
        line: usize,
        /// What is wrong with it.
        message: String,
    },
    /// There is nothing to run: `replay` with no saved case, or `--cases 0`.
    #[error("{0}")]
    NothingToRun(String),
    /// An async runtime could not be built.
    #[error("cannot start {purpose}: {source}")]
    Runtime {
        /// What the runtime was for.
        purpose: &'static str,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A thread the harness needs could not be started.
    #[error("cannot start the {name} thread: {source}")]
    Thread {
        /// What the thread was for.
        name: &'static str,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// Blocking work handed to another thread (a docker call, initdb) died before it answered.
    #[error("{task} did not finish: {message}")]
    Task {
        /// The work, in words.
        task: String,
        /// Why it did not finish (a panic's message, a cancellation).
        message: String,
    },
    /// The user the server runs as when pgconverge runs as root.
    #[error("cannot run PostgreSQL as user `{user}`: {problem}")]
    ServerUser {
        /// The unprivileged user the server was to run as.
        user: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The Docker engine refused or failed a request.
    #[error("Docker: cannot {action}: {message}")]
    Docker {
        /// The request, in words.
        action: String,
        /// The engine's answer.
        message: String,
    },
    /// The server did not accept connections in time: the time waited, and the tail of its log.
    /// The server exited, or did not accept connections in time: why (with what the harness
    /// knows of the cause, such as a full disk), and the tail of its log.
    #[error("the server did not become ready: {0}; log tail:\n{1}")]
    NotReady(String, String),
    /// A connection or a statement of the harness's own failed (not one of the project's).
    #[error("{context}: {}", server_message(.source))]
    Database {
        /// What the harness was doing.
        context: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// A migration, the reference or `extensions` needs an extension this server does not
    /// ship: a setup problem of the machine, never a counterexample.
    #[error(
        "extension \"{extension}\" is not available on this server ({detail}); that is the machine's setup, not a finding: \
         use a server that has it (Debian/Ubuntu: install the server's contrib package), another major with --pg N, or \
         --database-url; `pgconverge doctor` lists each usable server's extensions"
    )]
    ExtensionUnavailable {
        /// The extension's name.
        extension: String,
        /// The server's message.
        detail: String,
    },
    /// An `extensions` entry of pgconverge.toml names an extension this server does not have: a
    /// typo, or a server chosen without it. Input.
    #[error(
        "{}: `extensions` names \"{extension}\", which this server does not have ({detail}): fix the name, or use a server \
         that has it (`pgconverge doctor` lists each usable server's extensions)",
        .config.display()
    )]
    ConfiguredExtensionUnavailable {
        /// The pgconverge.toml.
        config: std::path::PathBuf,
        /// The extension's name.
        extension: String,
        /// The server's message.
        detail: String,
    },
    /// `CREATE EXTENSION` of an `extensions` entry failed otherwise (a role without the right).
    #[error("CREATE EXTENSION {extension} (`extensions` in pgconverge.toml) failed: {error}")]
    ExtensionFailed {
        /// The extension's name.
        extension: String,
        /// The server's error.
        error: PgError,
    },
    /// The project's SQL asked for a right that the run's sandbox role does not have
    /// (`trust = "sandbox"`, the default): the server's configuration, other roles or
    /// databases, files, programs, untrusted languages or extensions. Input: the project must
    /// opt in, or not ask.
    #[error("{}", needs_trust_message(.location.as_ref(), .statement, .reason))]
    NeedsTrust {
        /// The statement's file, line and column (known once the statement is).
        location: Option<crate::migration::Location>,
        /// The statement, capped.
        statement: String,
        /// The server's refusal.
        reason: String,
    },
    /// The project's SQL creates roles or databases that a URL server already has: the run
    /// would drop them after every case, and never drops what it did not create. Input.
    #[error(
        "the migrations create {}, which this server already has: pgconverge drops what the migrations create after every case, \
         and never what it did not create; use the embedded or container backend, or a server without them",
        .existing.join(", ")
    )]
    ClusterObjectsExist {
        /// `role x`, `database y`.
        existing: Vec<String>,
    },
    /// A step that succeeded earlier in the same run failed when repeated.
    #[error("{what} failed although it succeeded earlier in this run: {detail}")]
    NotRepeatable {
        /// The step, in words.
        what: String,
        /// How it failed the second time.
        detail: String,
    },
    /// A generated property gave up (too many start states could not be built).
    #[error("the {property} property aborted: {reason} (the generated start states could not be built)")]
    PropertyAborted {
        /// The property's name.
        property: String,
        /// Why it gave up.
        reason: String,
    },
    /// `--database-url` (or `PGCONVERGE_DATABASE_URL`) is not a PostgreSQL URL. Input.
    #[error("invalid database URL {url}: {reason}")]
    InvalidDatabaseUrl {
        /// The URL, without its password.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The URL backend was chosen without a URL. Input.
    #[error("--backend url needs a database URL: pass --database-url or set PGCONVERGE_DATABASE_URL")]
    MissingDatabaseUrl,
    /// The container backend was chosen from a pgconverge built without it. Input.
    #[error("the container backend is not built into this pgconverge (it was compiled without the `container` feature): use --backend embedded or url, or build pgconverge with `--features container`")]
    ContainerBackendNotBuilt,
    /// `--image` (or `PGCONVERGE_IMAGE`) is not an image reference pgconverge can run. Input.
    #[error("invalid container image `{image}`: {reason}")]
    InvalidImage {
        /// The image reference as given.
        image: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A project whose own migrator runs the migrations (`runner = "command"`, `"rails"`,
    /// `"alembic"`) with a backend whose password the migrator would need. Input.
    #[error("runner = \"{runner}\" in pgconverge.toml needs the embedded backend (the {backend} backend's password is not passed to the migrator): use --backend embedded")]
    CommandRunnerNeedsEmbedded {
        /// The project's runner (`command`, `rails`, `alembic`).
        runner: &'static str,
        /// The backend that was chosen (`url`, `container`).
        backend: String,
    },
    /// A program or a wait took longer than its limit: the limit, and what was waited for.
    #[error("timed out after {0:?}: {1}")]
    Timeout(Duration, String),
    /// A statement ran longer than the statement timeout the harness runs every session under;
    /// the server or pgconverge's watchdog cancelled it.
    #[error(
        "{location}: the statement runs longer than {} (--statement-timeout), so pgconverge cancelled it; if it must take this \
         long, raise --statement-timeout or statement_timeout in pgconverge.toml",
        limits::duration_text(*.limit)
    )]
    StatementTimeout {
        /// The statement's place in its file.
        location: crate::migration::Location,
        /// The limit it ran into.
        limit: Duration,
    },
    /// A statement waited for a lock longer than the lock timeout the harness runs every
    /// session under.
    #[error(
        "{location}: the statement waited longer than {} for a lock (--lock-timeout), so the server cancelled it; if it \
         must wait this long, raise --lock-timeout or lock_timeout in pgconverge.toml",
        limits::duration_text(*.limit)
    )]
    LockTimeout {
        /// The statement's place in its file.
        location: crate::migration::Location,
        /// The limit it ran into.
        limit: Duration,
    },
    /// The run was cancelled (Ctrl-C, SIGTERM, SIGHUP, or the caller's token).
    #[error("interrupted")]
    Interrupted,
    /// The catalog query's rows were not what the dump expects (a harness fault).
    #[error("dump the catalog: {0}")]
    Catalog(String),
}

fn needs_trust_message(location: Option<&crate::migration::Location>, statement: &str, reason: &str) -> String {
    let place = location.map_or(String::new(), |l| format!("{l}: "));
    let statement = if statement.is_empty() { String::new() } else { format!("`{}` ", crate::migration::capped(statement)) };
    format!(
        "{place}{statement}was refused ({reason}). pgconverge runs the project's SQL as an unprivileged role of its own, which \
         cannot reach the server's configuration, other databases or roles, files or programs, so a refusal is not a verdict \
         about the migrations; for code you trust, set trust = \"superuser\" in pgconverge.toml (an extension can also be \
         listed in `extensions`, which pgconverge creates before the project's SQL runs)"
    )
}

impl RunnerError {
    /// This error, located at `statement` of `script` when it is a sandbox refusal that does
    /// not yet say where.
    pub(crate) fn at_statement(self, script: &Script, statement: &Statement) -> RunnerError {
        match self {
            RunnerError::NeedsTrust { location: None, reason, .. } => RunnerError::NeedsTrust {
                location: Some(script.location_of(statement)),
                statement: statement.sql.trim().to_string(),
                reason,
            },
            other => other,
        }
    }

    pub(crate) fn db(context: impl Into<String>, source: sqlx::Error) -> Self {
        RunnerError::Database { context: context.into(), source }
    }
}

/// A PostgreSQL server the harness may create scratch databases on.
pub trait Backend: Send + Sync {
    /// How to connect to the server's maintenance database as a role that may create databases.
    fn admin_options(&self) -> PgConnectOptions;
    /// A one-line description for reports (never contains a password).
    fn describe(&self) -> String;
    /// `embedded`, `url`, `container`.
    fn kind(&self) -> &'static str;
    /// What the report should say about the server's setup (leftovers the reaper left alone).
    fn notes(&self) -> Vec<String> {
        Vec::new()
    }
    /// The roles of the run this server serves: the role the project's SQL runs as, and the
    /// roles its setup files created. `None` for a bare server (the project's SQL then runs as
    /// [`admin_options`](Backend::admin_options)' role).
    fn run_roles(&self) -> Option<std::sync::Arc<RunRoles>> {
        None
    }
    /// Ends the server the harness started (nothing for a server it did not start), without
    /// blocking the async runtime; dropping the backend does the same as a last resort.
    fn shutdown(self: Box<Self>) -> futures_util::future::BoxFuture<'static, ()>
    where
        Self: 'static,
    {
        Box::pin(async move { drop(self) })
    }
}

/// How to reach a backend's server, owned: what work off the async runtime (the case runners)
/// takes with it. The server itself stays owned, and stopped, by whoever started it.
#[derive(Clone)]
pub(crate) struct ServerHandle {
    admin: PgConnectOptions,
    description: String,
    kind: &'static str,
    roles: Option<std::sync::Arc<RunRoles>>,
}

impl ServerHandle {
    pub(crate) fn of(backend: &dyn Backend) -> ServerHandle {
        ServerHandle { admin: backend.admin_options(), description: backend.describe(), kind: backend.kind(), roles: backend.run_roles() }
    }

    /// The same server, its project SQL run as `roles` says.
    pub(crate) fn with_roles(backend: &dyn Backend, roles: std::sync::Arc<RunRoles>) -> ServerHandle {
        ServerHandle { roles: Some(roles), ..ServerHandle::of(backend) }
    }
}

impl Backend for ServerHandle {
    fn admin_options(&self) -> PgConnectOptions {
        self.admin.clone()
    }
    fn describe(&self) -> String {
        self.description.clone()
    }
    fn kind(&self) -> &'static str {
        self.kind
    }
    fn run_roles(&self) -> Option<std::sync::Arc<RunRoles>> {
        self.roles.clone()
    }
}

/// How the project's SQL connects to `backend`'s server (as the run's sandbox role, when
/// there is one); `database` is left to the caller.
pub(crate) fn project_options(backend: &dyn Backend) -> PgConnectOptions {
    backend.run_roles().map_or_else(|| backend.admin_options(), |roles| roles.project_options())
}

/// A server's version, read from `server_version_num`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ServerVersion {
    /// The major version: `15` for 15.18.
    pub major: u32,
    /// The minor version: `18` for 15.18.
    pub minor: u32,
}

impl std::fmt::Display for ServerVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// The version of the server behind `backend`.
pub async fn server_version(backend: &dyn Backend) -> Result<ServerVersion, RunnerError> {
    let mut conn = connect(&backend.admin_options(), "connect to the server").await?;
    let num: String = sqlx::query_scalar("SELECT current_setting('server_version_num')")
        .fetch_one(&mut conn)
        .await
        .map_err(|e| RunnerError::db("read server_version_num", e))?;
    let _ = conn.close().await;
    let num: u32 = num.parse().unwrap_or(0);
    Ok(ServerVersion { major: num / 10000, minor: num % 10000 })
}

pub(crate) async fn connect(options: &PgConnectOptions, context: &str) -> Result<PgConnection, RunnerError> {
    options.connect().await.map_err(|e| match tls_asked(options, &e) {
        Some(tls) => RunnerError::db(format!("{context} over TLS ({tls})"), e),
        None => RunnerError::db(context, e),
    })
}

/// What a failed connection asked of TLS, when it did: the driver's own words for a refused
/// certificate ("invalid peer certificate: UnknownIssuer") do not say TLS, nor which check.
fn tls_asked(options: &PgConnectOptions, error: &sqlx::Error) -> Option<&'static str> {
    match options.get_ssl_mode() {
        PgSslMode::Require => Some("sslmode=require"),
        PgSslMode::VerifyCa => Some("sslmode=verify-ca: the server's certificate must be signed by sslrootcert's CA or a public one"),
        PgSslMode::VerifyFull => Some(
            "sslmode=verify-full: the server's certificate must be signed by sslrootcert's CA or a public one, for the URL's host name",
        ),
        PgSslMode::Prefer if matches!(error, sqlx::Error::Tls(_)) => Some("sslmode=prefer"),
        _ => None,
    }
}

static DATABASE_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A database the harness created. Dropped (with `WITH (FORCE)`) by [`ScratchDatabase::drop_now`],
/// or, if that was never called (an error, a panic, a cancelled task), when the guard drops.
pub struct ScratchDatabase {
    name: String,
    admin: PgConnectOptions,
    roles: Option<std::sync::Arc<RunRoles>>,
    dropped: bool,
}

/// Every database the harness creates has this prefix; it never drops any other.
pub(crate) const DATABASE_PREFIX: &str = "pgconverge_";

impl ScratchDatabase {
    /// Creates a new, empty database (from `template0`, UTF8, C collation) on `backend`'s
    /// server, named `pgconverge_<pid>_<random>_<n>`, owned by the run's sandbox role when
    /// there is one.
    pub async fn create(backend: &dyn Backend) -> Result<ScratchDatabase, RunnerError> {
        let admin = backend.admin_options();
        let roles = backend.run_roles();
        let n = DATABASE_COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("{DATABASE_PREFIX}{}_{}_{n}", std::process::id(), random_suffix());
        let mut conn = connect(&admin, "connect to the server").await?;
        let owner = match roles.as_ref().and_then(|r| r.sandbox_role()) {
            Some(role) => format!(" OWNER {}", roles::quote_ident(role)),
            None => String::new(),
        };
        // template0: a URL backend's template1 may carry the user's own objects.
        let sql = format!("CREATE DATABASE {name}{owner} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'");
        let created = sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut conn).await;
        let created = owner::comment_owner(&mut conn, &name, created).await;
        let _ = conn.close().await;
        created.map_err(|e| RunnerError::db(format!("create database {name}"), e))?;
        Ok(ScratchDatabase { name, admin, roles, dropped: false })
    }

    /// The run's roles, when the database belongs to a run (see [`Backend::run_roles`]).
    pub(crate) fn run_roles(&self) -> Option<&RunRoles> {
        self.roles.as_deref()
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How the project's SQL connects to the database: as the run's sandbox role, when there is one.
    pub(crate) fn options(&self) -> PgConnectOptions {
        let options = self.roles.as_ref().map_or_else(|| self.admin.clone(), |r| r.project_options());
        session::with_default_search_path(options.database(&self.name))
    }

    /// A connection for the project's SQL (see [`ScratchDatabase::options`]).
    pub(crate) async fn connect(&self) -> Result<PgConnection, RunnerError> {
        connect(&self.options(), &format!("connect to database {}", self.name)).await
    }

    /// A connection as the backend's own role, for what the harness does on the project's
    /// behalf (`extensions`).
    pub(crate) async fn connect_admin(&self) -> Result<PgConnection, RunnerError> {
        connect(&self.admin.clone().database(&self.name), &format!("connect to database {}", self.name)).await
    }

    /// Drops the database now, waiting for it (the normal path; dropping the guard is the last
    /// resort).
    pub async fn drop_now(mut self) -> Result<(), RunnerError> {
        self.dropped = true;
        let dropped = drop_database(&self.admin, &self.name).await;
        if let Some(roles) = &self.roles {
            roles.reset_cluster_objects().await;
        }
        dropped
    }
}

async fn drop_database(admin: &PgConnectOptions, name: &str) -> Result<(), RunnerError> {
    debug_assert!(name.starts_with(DATABASE_PREFIX));
    let mut conn = connect(admin, "connect to the server").await?;
    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
    let result = sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut conn).await;
    let _ = conn.close().await;
    result.map(|_| ()).map_err(|e| RunnerError::db(format!("drop database {name}"), e))
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        // Drop is synchronous and may run inside a runtime: do the async drop on a thread of its own.
        let admin = self.admin.clone();
        let name = std::mem::take(&mut self.name);
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
            if let Ok(runtime) = runtime {
                let _ = runtime.block_on(async { tokio::time::timeout(Duration::from_secs(10), drop_database(&admin, &name)).await });
            }
        })
        .join();
    }
}

/// `bytes` random bytes from the kernel, in hex: passwords the harness makes (a container's,
/// the sandbox role's).
pub(crate) fn random_hex(bytes: usize) -> Result<String, RunnerError> {
    use std::io::Read;
    let mut buffer = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut buffer)).map_err(|source| RunnerError::File {
        action: "read",
        path: "/dev/urandom".into(),
        source,
    })?;
    Ok(buffer.iter().map(|b| format!("{b:02x}")).collect())
}

pub(crate) fn random_suffix() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos());
    format!("{:08x}", hasher.finish() as u32)
}

/// An error the server raised for a statement: material for a verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PgError {
    /// SQLSTATE, e.g. `42P07`.
    pub code: String,
    /// The server's primary message.
    pub message: String,
    /// The server's `DETAIL`, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The server's `HINT`, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// The error context (`PL/pgSQL function inline_code_block line 4 at SQL statement`).
    #[serde(rename = "where", skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// 0-based character position in the statement, when the server gives one.
    #[serde(skip)]
    pub position: Option<usize>,
}

impl std::fmt::Display for PgError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ERROR {}: {}", self.code, crate::migration::capped(&self.message))?;
        if let Some(detail) = &self.detail {
            write!(f, "\nDETAIL: {detail}")?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\nHINT: {hint}")?;
        }
        if let Some(context) = &self.context {
            write!(f, "\nCONTEXT: {context}")?;
        }
        Ok(())
    }
}

/// SQLSTATEs that mean the server or the session failed, not the statement: classes 08
/// connection exception, 53 insufficient resources, 57 operator intervention (shutdown, a
/// backend terminated, a query cancelled by someone else or by a timeout the migration set
/// itself; the harness's own timeouts are told apart first, by [`SessionLimits::exceeded`]), 58
/// system error, XX internal error; and the server ending an idle transaction or a transaction
/// that ran too long (25P03 idle_in_transaction_session_timeout, 25P04 transaction_timeout).
pub(crate) fn is_infrastructure_sqlstate(code: &str) -> bool {
    ["08", "53", "57", "58", "XX"].iter().any(|class| code.starts_with(class)) || ["25P03", "25P04"].contains(&code)
}

/// A FATAL or PANIC error ends the session (or the server) whatever its SQLSTATE: never a
/// statement's failure.
fn is_infrastructure_error(pg: &PgDatabaseError) -> bool {
    matches!(pg.severity(), PgSeverity::Fatal | PgSeverity::Panic) || is_infrastructure_sqlstate(pg.code())
}

/// A server error as the user needs it: its message and SQLSTATE, without the driver's "error
/// returned from database" and the server's own source line.
fn server_message(error: &sqlx::Error) -> String {
    match error {
        sqlx::Error::Database(db) => match db.try_downcast_ref::<PgDatabaseError>() {
            Some(pg) => match pg.severity() {
                // The session (or the server) is gone: say so, the message alone may not.
                PgSeverity::Fatal => format!("{} (SQLSTATE {}, FATAL: the server ended the session)", pg.message(), pg.code()),
                PgSeverity::Panic => format!("{} (SQLSTATE {}, PANIC: the server crashed)", pg.message(), pg.code()),
                _ => format!("{} (SQLSTATE {})", pg.message(), pg.code()),
            },
            None => db.message().to_string(),
        },
        // sqlx fails writing to a socket the server closed before it reads the server's last
        // words (a FATAL error): name what happened, as the OS error alone does not.
        sqlx::Error::Io(io)
            if matches!(
                io.kind(),
                std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::UnexpectedEof
            ) =>
        {
            format!("the connection to the server was lost ({io}): the server ended the session or stopped")
        }
        other => other.to_string(),
    }
}

/// Whether an error is a refusal (SQLSTATE 42501, insufficient_privilege). The project's SQL
/// runs as an unprivileged sandbox role by default, and what it is refused there (another
/// role's rights, the server's files, a new owner's missing CREATE on a schema) a superuser
/// would be granted: never a verdict about the migrations, whichever right it was. (Under
/// `trust = "superuser"` only the migrations' own `SET ROLE` meets one.)
fn needs_trust(pg: &PgDatabaseError) -> bool {
    is_sandbox_refusal(pg.code())
}

/// [`needs_trust`] for an error's SQLSTATE (a framework driver reports it).
pub(crate) fn is_sandbox_refusal(code: &str) -> bool {
    code == "42501"
}

/// The extension a server error says is missing: `extension "x" is not available` (0A000,
/// PostgreSQL 15 and later) or `could not open extension control file ".../x.control"` (58P01).
fn unavailable_extension(pg: &PgDatabaseError) -> Option<String> {
    let quoted = |text: &str, before: &str, after: &str| -> Option<String> {
        let start = text.find(before)? + before.len();
        let end = start + text[start..].find(after)?;
        Some(text[start..end].to_string())
    };
    match pg.code() {
        "0A000" => quoted(pg.message(), "extension \"", "\" is not available"),
        "58P01" if pg.message().contains("extension control file") => {
            let path = quoted(pg.message(), "file \"", "\"")?;
            Some(path.rsplit('/').next()?.trim_end_matches(".control").to_string())
        }
        _ => None,
    }
}

/// Splits a driver error into "the statement failed" (a verdict) and "the harness failed".
/// A missing extension is the machine's setup, so it is the harness's failure too.
fn classify(error: sqlx::Error, context: &str) -> Result<PgError, RunnerError> {
    match &error {
        sqlx::Error::Database(db) => match db.try_downcast_ref::<PgDatabaseError>().map(|pg| (pg, unavailable_extension(pg))) {
            Some((pg, Some(extension))) => {
                let detail = pg.detail().unwrap_or(pg.message()).trim_end_matches('.').to_string();
                Err(RunnerError::ExtensionUnavailable { extension, detail })
            }
            Some((pg, None)) if needs_trust(pg) => {
                let reason = match pg.hint() {
                    Some(hint) => format!("{}; {}", pg.message(), hint.trim_end_matches('.')),
                    None => pg.message().to_string(),
                };
                Err(RunnerError::NeedsTrust { location: None, statement: String::new(), reason })
            }
            Some((pg, None)) if !is_infrastructure_error(pg) => Ok(PgError {
                code: pg.code().to_string(),
                message: pg.message().to_string(),
                detail: pg.detail().map(str::to_string),
                hint: pg.hint().map(str::to_string),
                context: pg.r#where().map(str::to_string),
                position: match pg.position() {
                    Some(PgErrorPosition::Original(p)) if p > 0 => Some(p - 1),
                    _ => None,
                },
            }),
            _ => Err(RunnerError::db(context, error)),
        },
        _ => Err(RunnerError::db(context, error)),
    }
}

/// [`classify`] for an error on `conn`, which must still be usable afterwards: an error after
/// which the connection is dead (the server closed it with or after the error) is the harness's
/// failure, never the statement's.
pub(crate) async fn classify_on(conn: &mut PgConnection, error: sqlx::Error, context: &str) -> Result<PgError, RunnerError> {
    let error = classify(error, context)?;
    // A Sync round trip: answers even in an aborted transaction, fails on a closed connection.
    if let Err(dead) = conn.ping().await {
        return Err(RunnerError::db(format!("{context}: the connection died after the statement failed ({error})"), dead));
    }
    Ok(error)
}

/// A statement of a script that the server rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StatementFailure {
    pub(crate) statement_index: usize,
    pub(crate) error: PgError,
}

/// What applying a script did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ApplyOutcome {
    Applied,
    Failed(StatementFailure),
}

/// How to run a script's statements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TransactionMode {
    /// `BEGIN`, the statements, `COMMIT`; `ROLLBACK` on failure.
    Transaction,
    /// Each statement on its own (autocommit), as non-transactional migrations run.
    Autocommit,
}

/// Runs a script statement by statement (so a failure names its statement), the first
/// `limit` statements only when `limit` is given. A statement that runs into one of the
/// harness's `limits` is the harness's error, naming the statement.
pub(crate) async fn apply_script(
    conn: &mut PgConnection,
    script: &Script,
    mode: TransactionMode,
    limit: Option<usize>,
    limits: &SessionLimits,
) -> Result<ApplyOutcome, RunnerError> {
    let context = format!("apply {}", script.path.display());
    let statements = &script.statements[..limit.unwrap_or(usize::MAX).min(script.statements.len())];
    if mode == TransactionMode::Transaction {
        execute_control(conn, "BEGIN", &context).await?;
    }
    let over_limit = async |conn: &mut PgConnection, exceeded: limits::Exceeded, statement: &Statement| {
        if mode == TransactionMode::Transaction {
            // Only tidiness: the caller gives the database up after an error.
            let _ = execute_control(conn, "ROLLBACK", &context).await;
        }
        exceeded.at(script.location_of(statement))
    };
    for (statement_index, statement) in statements.iter().enumerate() {
        let started = std::time::Instant::now();
        if let Err(error) = execute_statement(conn, statement).await {
            if let Some(exceeded) = limits.exceeded(&error, started.elapsed()) {
                return Err(over_limit(conn, exceeded, statement).await);
            }
            let error = classify_on(conn, error, &context).await.map_err(|e| e.at_statement(script, statement))?;
            if mode == TransactionMode::Transaction {
                execute_control(conn, "ROLLBACK", &context).await?;
            }
            return Ok(ApplyOutcome::Failed(StatementFailure { statement_index, error }));
        }
    }
    if mode == TransactionMode::Transaction {
        let started = std::time::Instant::now();
        if let Err(error) = sqlx::raw_sql("COMMIT").execute(&mut *conn).await {
            // A deferred constraint can fail at COMMIT (or its trigger run long): that is the
            // last statement's doing.
            let statement_index = statements.len().saturating_sub(1);
            if let (Some(exceeded), Some(last)) = (limits.exceeded(&error, started.elapsed()), statements.last()) {
                return Err(over_limit(conn, exceeded, last).await);
            }
            let error = classify_on(conn, error, &context).await?;
            return Ok(ApplyOutcome::Failed(StatementFailure { statement_index, error }));
        }
    }
    Ok(ApplyOutcome::Applied)
}

async fn execute_statement(conn: &mut PgConnection, statement: &Statement) -> Result<(), sqlx::Error> {
    // The simple query protocol: DDL needs no prepared statement, and nothing is cached.
    sqlx::raw_sql(AssertSqlSafe(statement.sql.clone())).execute(conn).await.map(|_| ())
}

async fn execute_control(conn: &mut PgConnection, sql: &'static str, context: &str) -> Result<(), RunnerError> {
    sqlx::raw_sql(sql).execute(conn).await.map(|_| ()).map_err(|e| RunnerError::db(format!("{context}: {sql}"), e))
}

/// The bytes an unprivileged user may still write on the file system of `dir`.
pub(crate) fn free_bytes(dir: &std::path::Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut stats = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `path` is a NUL-terminated string and `stats` is written by statvfs before it is read.
    let stats = unsafe {
        if libc::statvfs(path.as_ptr(), stats.as_mut_ptr()) != 0 {
            return None;
        }
        stats.assume_init()
    };
    Some(stats.f_bavail.saturating_mul(stats.f_frsize))
}

/// "No space left on device: the file system of DIR has 12 KiB free" when less than 1 MiB is
/// free there: a server that fails for a full disk may not be able to write its log to say so.
pub(crate) fn disk_full_note(dir: &std::path::Path) -> Option<String> {
    let free = free_bytes(dir)?;
    (free < 1 << 20).then(|| format!("No space left on device: the file system of {} has {} KiB free", dir.display(), free / 1024))
}
