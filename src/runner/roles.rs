//! The roles of a run. Under `trust = "sandbox"` (the default) the project's SQL (migrations,
//! setup files, reference) runs as a role the run creates: it logs in, owns the run's scratch
//! databases, and has no other right (not a superuser, no CREATEROLE, CREATEDB, REPLICATION or
//! BYPASSRLS), so a migration cannot reach other databases, the server's configuration, other
//! roles, files or programs. The setup files' `CREATE ROLE`s run on its behalf, checked, and
//! those roles are granted to it. Every role the run creates is dropped when it ends.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pg_query::NodeEnum;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{AssertSqlSafe, Connection};

use super::{connect, Backend, RunnerError, DATABASE_PREFIX};

/// How dumps spell the run's sandbox role, whose real name is the run's own.
pub(crate) const SANDBOX_ROLE_IN_DUMPS: &str = "pgconverge_sandbox";

const SANDBOX_ROLE_SUFFIX: &str = "_sandbox";

/// Whether `role` is a run's sandbox role (by its name, which only the harness gives).
pub(crate) fn is_sandbox_role(role: &str) -> bool {
    role.starts_with(DATABASE_PREFIX)
        && role.ends_with(SANDBOX_ROLE_SUFFIX)
        && role.len() > DATABASE_PREFIX.len() + SANDBOX_ROLE_SUFFIX.len()
}

/// The roles of one run (see the module's documentation). Shared by the run's backend handles.
pub struct RunRoles {
    admin: PgConnectOptions,
    /// The role project SQL runs as; `None` under `trust = "superuser"`.
    sandbox: Option<SandboxRole>,
    /// Roles this run's setup files created, dropped when the run ends.
    created: Mutex<BTreeSet<String>>,
    /// A server the run did not start (a URL server): a role already there belongs to someone
    /// else and is never handed to the project's SQL.
    shared_server: bool,
    dropped: AtomicBool,
    /// What the report should say about the role the project's SQL ran as.
    note: Option<String>,
    /// Roles and databases the project's SQL creates by name (see [`RunRoles::start`]).
    migration_roles: BTreeSet<String>,
    migration_databases: BTreeSet<String>,
}

struct SandboxRole {
    name: String,
    options: PgConnectOptions,
}

impl RunRoles {
    /// Creates the run's sandbox role on `backend`'s server when `sandboxed` (not under
    /// `trust = "superuser"`).
    ///
    /// `migration_roles` and `migration_databases` are what the project's SQL creates by
    /// name (under `trust = "superuser"`): they must not exist on a URL server, and are dropped
    /// after every scratch database and when the run ends, so each case creates them anew.
    pub(crate) async fn start(
        backend: &dyn Backend,
        sandboxed: bool,
        migration_roles: BTreeSet<String>,
        migration_databases: BTreeSet<String>,
    ) -> Result<Arc<RunRoles>, RunnerError> {
        let admin = backend.admin_options();
        if backend.kind() == "url" && (!migration_roles.is_empty() || !migration_databases.is_empty()) {
            check_no_collision(&admin, &migration_roles, &migration_databases).await?;
        }
        let mut note = None;
        let sandbox = match sandboxed {
            false => None,
            true => match connecting_role(&admin).await? {
                // A role that may not create roles has no superuser's rights either: the
                // project's SQL runs as it, and the report says so.
                (role, false) => {
                    note = Some(format!(
                        "the project's SQL ran as the server's role {role}, which is not a superuser and may not create a sandbox \
                         role: what {role} may do elsewhere on the server (its other databases), a migration under check may do too"
                    ));
                    None
                }
                (_, true) => Some(SandboxRole::create(&admin).await?),
            },
        };
        Ok(Arc::new(RunRoles {
            admin,
            sandbox,
            created: Mutex::new(BTreeSet::new()),
            shared_server: backend.kind() == "url",
            dropped: AtomicBool::new(false),
            note,
            migration_roles,
            migration_databases,
        }))
    }

    /// What the report should say about the role the project's SQL ran as.
    pub(crate) fn note(&self) -> Option<String> {
        self.note.clone()
    }

    /// The sandbox role's name, when there is one.
    pub(crate) fn sandbox_role(&self) -> Option<&str> {
        self.sandbox.as_ref().map(|s| s.name.as_str())
    }

    /// How the project's SQL connects: as the sandbox role, else as the backend's role.
    pub(crate) fn project_options(&self) -> PgConnectOptions {
        self.sandbox.as_ref().map_or_else(|| self.admin.clone(), |s| s.options.clone())
    }

    /// Runs a setup file's `CREATE ROLE` on the sandbox role's behalf: refused when it asks for
    /// a right the sandbox withholds, or names a role the run did not create; the new role is
    /// granted to the sandbox role (so `OWNER TO`, `SET ROLE` and `GRANT` of it work). `Ok(Err)`
    /// is the server's answer to the statement.
    pub(crate) async fn create_setup_role(&self, sql: &str) -> Result<Result<(), super::PgError>, RoleRefusal> {
        let Some(sandbox) = &self.sandbox else { return Err(RoleRefusal::NotSandboxed) };
        let (name, members) = vet_create_role(sql).map_err(RoleRefusal::Refused)?;
        for member in &members {
            if !self.created.lock().expect("not poisoned").contains(member) {
                return Err(RoleRefusal::Refused(format!("it names role \"{member}\", which this run's setup did not create")));
            }
        }
        let mut conn = connect(&self.admin, "connect to the server").await.map_err(RoleRefusal::Runner)?;
        let outcome = self.create_and_grant(&mut conn, sql, &name, &sandbox.name).await;
        let _ = conn.close().await;
        outcome
    }

    /// Notes a role a setup file created as it is (`trust = "superuser"`), so the run drops it.
    pub(crate) fn record_created(&self, sql: &str) {
        if let Some(name) = created_role_name(sql) {
            self.created.lock().expect("not poisoned").insert(name);
        }
    }

    async fn create_and_grant(
        &self,
        conn: &mut PgConnection,
        sql: &str,
        name: &str,
        sandbox: &str,
    ) -> Result<Result<(), super::PgError>, RoleRefusal> {
        match sqlx::raw_sql(AssertSqlSafe(sql.to_string())).execute(&mut *conn).await {
            Ok(_) => {
                self.created.lock().expect("not poisoned").insert(name.to_string());
            }
            Err(error) => {
                let error = super::classify_on(conn, error, "create a setup role").await.map_err(RoleRefusal::Runner)?;
                let duplicate = error.code == "42710" || error.code == "23505";
                if !duplicate {
                    return Ok(Err(error));
                }
                // Made by this run on an earlier scratch database, or the run's own server's.
                if !self.created.lock().expect("not poisoned").contains(name) {
                    self.check_existing(conn, name).await?;
                }
            }
        }
        let grant = format!("GRANT {} TO {} WITH ADMIN OPTION", quote_ident(name), quote_ident(sandbox));
        sqlx::raw_sql(AssertSqlSafe(grant))
            .execute(&mut *conn)
            .await
            .map_err(|e| RoleRefusal::Runner(RunnerError::db(format!("grant role {name} to the sandbox role"), e)))?;
        Ok(Ok(()))
    }

    /// A role that was on the server before the run: handed over only on the run's own server,
    /// and only when it has no right the sandbox withholds.
    async fn check_existing(&self, conn: &mut PgConnection, name: &str) -> Result<(), RoleRefusal> {
        if self.shared_server {
            return Err(RoleRefusal::Refused(format!(
                "role \"{name}\" already exists on this server and this run did not create it: pgconverge never hands a role \
                 it did not create to the project's SQL (use the embedded or container backend, or a server without that role)"
            )));
        }
        let privileged: bool = sqlx::query_scalar(
            "SELECT rolsuper OR rolcreaterole OR rolcreatedb OR rolreplication OR rolbypassrls FROM pg_roles WHERE rolname = $1",
        )
        .bind(name)
        .fetch_optional(&mut *conn)
        .await
        .map_err(|e| RoleRefusal::Runner(RunnerError::db("read a role's attributes", e)))?
        .unwrap_or(false);
        if privileged {
            return Err(RoleRefusal::Refused(format!(
                "role \"{name}\" is the server's own privileged role (superuser, CREATEROLE, CREATEDB, REPLICATION or BYPASSRLS)"
            )));
        }
        Ok(())
    }

    /// Drops the roles and databases the project's SQL created by name, when they are there: a
    /// scratch database's case is over, and the next one creates them anew. A role that an
    /// open scratch database still needs stays (the next call drops it).
    pub(crate) async fn reset_cluster_objects(&self) {
        if self.migration_roles.is_empty() && self.migration_databases.is_empty() {
            return;
        }
        let Ok(mut conn) = connect(&self.admin, "connect to the server").await else { return };
        for database in &self.migration_databases {
            let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote_ident(database));
            let _ = sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut conn).await;
        }
        let setup = self.created.lock().expect("not poisoned").clone();
        for role in self.migration_roles.iter().filter(|r| !setup.contains(*r)) {
            let sql = format!("DROP ROLE IF EXISTS {}", quote_ident(role));
            let _ = sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut conn).await;
        }
        let _ = conn.close().await;
    }

    /// Drops the roles the run created (setup roles, then the sandbox role), after the run's
    /// databases are gone. Failures are left for `pgconverge reap`.
    pub(crate) async fn drop_now(&self) {
        if self.dropped.swap(true, Ordering::SeqCst) {
            return;
        }
        self.reset_cluster_objects().await;
        let roles: Vec<String> = {
            let created = self.created.lock().expect("not poisoned");
            created.iter().cloned().chain(self.sandbox.as_ref().map(|s| s.name.clone())).collect()
        };
        if roles.is_empty() {
            return;
        }
        let Ok(mut conn) = connect(&self.admin, "connect to the server").await else { return };
        for role in roles {
            let sql = format!("DROP ROLE IF EXISTS {}", quote_ident(&role));
            let _ = sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut conn).await;
        }
        let _ = conn.close().await;
    }
}

impl Drop for RunRoles {
    fn drop(&mut self) {
        if self.dropped.swap(true, Ordering::SeqCst) {
            return;
        }
        // Drop is synchronous and may run inside a runtime: the async drop on a thread of its own.
        let roles = RunRoles {
            admin: self.admin.clone(),
            sandbox: self.sandbox.take(),
            created: Mutex::new(std::mem::take(&mut *self.created.lock().unwrap_or_else(|e| e.into_inner()))),
            shared_server: self.shared_server,
            dropped: AtomicBool::new(false),
            note: None,
            migration_roles: std::mem::take(&mut self.migration_roles),
            migration_databases: std::mem::take(&mut self.migration_databases),
        };
        let _ = std::thread::spawn(move || {
            if let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
                runtime.block_on(async { tokio::time::timeout(Duration::from_secs(10), roles.drop_now()).await.ok() });
            }
        })
        .join();
    }
}

/// Why a setup file's `CREATE ROLE` was not run on the sandbox role's behalf.
#[derive(Debug)]
pub(crate) enum RoleRefusal {
    /// The run has no sandbox role (`trust = "superuser"`): run the statement as it is.
    NotSandboxed,
    /// The statement asks for more than the sandbox gives: why.
    Refused(String),
    /// The harness failed.
    Runner(RunnerError),
}

impl SandboxRole {
    async fn create(admin: &PgConnectOptions) -> Result<SandboxRole, RunnerError> {
        let name = format!("{DATABASE_PREFIX}{}_{}{SANDBOX_ROLE_SUFFIX}", std::process::id(), super::random_suffix());
        let password = super::random_hex(24)?;
        let mut conn = connect(admin, "connect to the server").await?;
        let outcome = async {
            let create = format!(
                "CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT PASSWORD '{password}'",
                quote_ident(&name)
            );
            sqlx::raw_sql(AssertSqlSafe(create)).execute(&mut conn).await.map_err(|e| sandbox_refused(&name, e))?;
            super::owner::comment_owner_role(&mut conn, &name).await.map_err(|e| sandbox_refused(&name, e))?;
            // CREATE DATABASE ... OWNER needs the creator to be a member of the owner, which a
            // non-superuser with CREATEROLE (a managed server's admin) is not by itself.
            let superuser: bool = sqlx::query_scalar("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
                .fetch_one(&mut conn)
                .await
                .map_err(|e| RunnerError::db("read the connecting role's attributes", e))?;
            if superuser {
                // The server's messages in reports read the same whatever its language.
                let english = format!("ALTER ROLE {} SET lc_messages = 'C'", quote_ident(&name));
                sqlx::raw_sql(AssertSqlSafe(english)).execute(&mut conn).await.map_err(|e| sandbox_refused(&name, e))?;
            } else {
                let grant = format!("GRANT {} TO CURRENT_USER", quote_ident(&name));
                sqlx::raw_sql(AssertSqlSafe(grant)).execute(&mut conn).await.map_err(|e| sandbox_refused(&name, e))?;
            }
            Ok::<_, RunnerError>(())
        }
        .await;
        if outcome.is_err() {
            // Made, but not as the run needs it: not left behind.
            let _ = sqlx::raw_sql(AssertSqlSafe(format!("DROP ROLE IF EXISTS {}", quote_ident(&name)))).execute(&mut conn).await;
        }
        let _ = conn.close().await;
        outcome?;
        Ok(SandboxRole { options: admin.clone().username(&name).password(&password), name })
    }
}

/// Roles and databases the project's SQL creates must not be on a URL server already: the run
/// drops them after every case, and never what it did not create.
async fn check_no_collision(admin: &PgConnectOptions, roles: &BTreeSet<String>, databases: &BTreeSet<String>) -> Result<(), RunnerError> {
    let mut conn = connect(admin, "connect to the server").await?;
    let roles: Vec<String> = roles.iter().cloned().collect();
    let databases: Vec<String> = databases.iter().cloned().collect();
    let existing: Result<Vec<String>, _> = sqlx::query_scalar(
        "SELECT 'role ' || rolname FROM pg_roles WHERE rolname = ANY($1) UNION ALL \
         SELECT 'database ' || datname FROM pg_database WHERE datname = ANY($2) ORDER BY 1",
    )
    .bind(&roles)
    .bind(&databases)
    .fetch_all(&mut conn)
    .await;
    let _ = conn.close().await;
    let existing = existing.map_err(|e| RunnerError::db("look for the roles and databases the migrations create", e))?;
    if existing.is_empty() {
        return Ok(());
    }
    Err(RunnerError::ClusterObjectsExist { existing })
}

/// The role the backend connects as, and whether it may create roles (a superuser or CREATEROLE).
async fn connecting_role(admin: &PgConnectOptions) -> Result<(String, bool), RunnerError> {
    let mut conn = connect(admin, "connect to the server").await?;
    let role =
        sqlx::query_as::<_, (String, bool)>("SELECT rolname::text, rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user")
            .fetch_one(&mut conn)
            .await
            .map_err(|e| RunnerError::db("read the connecting role's attributes", e));
    let _ = conn.close().await;
    role
}

fn sandbox_refused(name: &str, error: sqlx::Error) -> RunnerError {
    RunnerError::db(
        format!(
            "create the run's sandbox role {name} (the server's role must be a superuser or have CREATEROLE; or set trust = \"superuser\" \
             in pgconverge.toml, only for code you trust)"
        ),
        error,
    )
}

/// `"name"`, quoted as an identifier.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The role a `CREATE ROLE` statement creates, whatever it asks.
fn created_role_name(sql: &str) -> Option<String> {
    let parsed = pg_query::parse(sql, 0).ok()?;
    match parsed.protobuf.stmts.first()?.stmt.as_ref()?.node.as_ref()? {
        NodeEnum::CreateRoleStmt(create) => Some(create.role.clone()),
        _ => None,
    }
}

/// The role a `CREATE ROLE` statement creates and the roles it makes it a member of or gives
/// members; `Err` says what it asks that the sandbox does not give.
fn vet_create_role(sql: &str) -> Result<(String, Vec<String>), String> {
    let parsed = pg_query::parse(sql, 0).map_err(|e| format!("it does not parse: {e}"))?;
    let [raw] = parsed.protobuf.stmts.as_slice() else { return Err("it is not a single statement".into()) };
    let Some(NodeEnum::CreateRoleStmt(create)) = raw.stmt.as_ref().and_then(|n| n.node.as_ref()) else {
        return Err("it is not CREATE ROLE".into());
    };
    let mut members = Vec::new();
    for option in &create.options {
        let Some(NodeEnum::DefElem(def)) = option.node.as_ref() else { continue };
        let arg = def.arg.as_ref().and_then(|a| a.node.as_ref());
        match def.defname.as_str() {
            "superuser" | "createrole" | "createdb" | "isreplication" | "bypassrls" => {
                let granted = match arg {
                    Some(NodeEnum::Boolean(b)) => b.boolval,
                    Some(NodeEnum::Integer(i)) => i.ival != 0,
                    _ => true,
                };
                if granted {
                    let attribute = match def.defname.as_str() {
                        "isreplication" => "REPLICATION".to_string(),
                        other => other.to_uppercase(),
                    };
                    return Err(format!("it gives the role {attribute}"));
                }
            }
            "addroleto" | "rolemembers" | "adminmembers" => {
                let Some(NodeEnum::List(list)) = arg else { continue };
                for item in &list.items {
                    match item.node.as_ref() {
                        Some(NodeEnum::RoleSpec(spec)) if !spec.rolename.is_empty() => members.push(spec.rolename.clone()),
                        _ => return Err("it names a role by a keyword (CURRENT_USER, SESSION_USER, PUBLIC)".into()),
                    }
                }
            }
            "sysid" => return Err("it sets SYSID".into()),
            _ => {}
        }
    }
    Ok((create.role.clone(), members))
}

#[cfg(test)]
mod vetting {
    use super::vet_create_role;

    #[test]
    fn plain_roles_pass_and_privileged_ones_are_refused() {
        assert_eq!(vet_create_role("CREATE ROLE app NOLOGIN").unwrap(), ("app".to_string(), vec![]));
        assert_eq!(vet_create_role("CREATE ROLE app LOGIN PASSWORD 'x' NOSUPERUSER CONNECTION LIMIT 5").unwrap().0, "app");
        assert_eq!(vet_create_role("CREATE ROLE reader IN ROLE app").unwrap(), ("reader".to_string(), vec!["app".to_string()]));
        for (sql, why) in [
            ("CREATE ROLE boss SUPERUSER", "SUPERUSER"),
            ("CREATE ROLE boss CREATEROLE", "CREATEROLE"),
            ("CREATE USER boss CREATEDB", "CREATEDB"),
            ("CREATE ROLE boss REPLICATION", "REPLICATION"),
            ("CREATE ROLE boss BYPASSRLS", "BYPASSRLS"),
            ("CREATE ROLE boss IN ROLE CURRENT_USER", "keyword"),
            ("DROP ROLE postgres", "not CREATE ROLE"),
        ] {
            let refusal = vet_create_role(sql).unwrap_err();
            assert!(refusal.contains(why), "{sql}: {refusal}");
        }
    }
}
