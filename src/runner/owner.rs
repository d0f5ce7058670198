//! Who made a `pgconverge_*` database or role on a server: an owner record in its comment, so
//! that what a run leaves behind when it dies (a server crash, a full disk, `kill -9`) can be
//! found and dropped by a later run on the same host, or by `pgconverge reap --database-url`.
//!
//! The record is one line, `pgconverge owner: run=<id> host=<hostname> pid=<pid>
//! exe=<program> pidns=<pid namespace> started=<unix seconds>`: words of `key=value`, values
//! percent-encoded, unknown keys ignored. `run` and `started` are the process's (one per
//! process); `exe` and `pidns` say which process the pid is (a pid is reused, and a pid of
//! another pid namespace says nothing here).
//!
//! The reaper only ever drops a database or role whose name starts with `pgconverge_`: one whose
//! owner is a process of this host that is gone, and, when asked (`--older-than`), one nobody
//! is connected to that is old enough. Everything else is reported as left alone, with why.

use std::fmt;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, CONTROLS};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgDatabaseError, PgQueryResult};
use sqlx::{AssertSqlSafe, Connection};

use super::{connect, RunnerError, DATABASE_PREFIX};

/// How every owner record starts.
const RECORD_PREFIX: &str = "pgconverge owner:";

/// What a value may not hold unencoded: the separators, the quotes of SQL and shell, `%`.
const VALUE_ESCAPES: &AsciiSet = &CONTROLS.add(b' ').add(b'%').add(b'=').add(b'\'').add(b'"').add(b'\\');

/// The process that made a database or role, as its owner record names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerRecord {
    /// The run: random, one per process.
    pub run: String,
    /// The host name of the owner's machine (empty when it could not be read).
    pub host: String,
    /// The owner's process id on that host.
    pub pid: i32,
    /// The file name of the owner's executable (`pgconverge`, or a program using the library).
    pub exe: String,
    /// The owner's pid namespace (the inode of `/proc/self/ns/pid`), when it could be read.
    pub pidns: Option<u64>,
    /// When the owner wrote its first record (about when its run started), in seconds since the
    /// Unix epoch.
    pub started: u64,
}

impl OwnerRecord {
    /// This process's record.
    pub fn this_process() -> &'static OwnerRecord {
        static RECORD: OnceLock<OwnerRecord> = OnceLock::new();
        RECORD.get_or_init(|| OwnerRecord {
            run: format!("{}{}", super::random_suffix(), super::random_suffix()),
            host: hostname(),
            pid: std::process::id() as i32,
            exe: std::env::current_exe().map(|exe| program_name(&exe.to_string_lossy())).unwrap_or_default(),
            pidns: pid_namespace("self"),
            started: SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs(),
        })
    }

    /// The record `text` holds, if it is one (a comment someone else wrote is not).
    pub fn parse(text: &str) -> Option<OwnerRecord> {
        let words = text.trim().strip_prefix(RECORD_PREFIX)?;
        let (mut run, mut host, mut pid, mut exe, mut pidns, mut started) = (None, None, None, None, None, None);
        for word in words.split_whitespace() {
            let (key, value) = word.split_once('=')?;
            let value = percent_decode_str(value).decode_utf8().ok()?.into_owned();
            match key {
                "run" => run = Some(value),
                "host" => host = Some(value),
                "pid" => pid = Some(value.parse::<i32>().ok().filter(|&pid| pid > 0)?),
                "exe" => exe = Some(value),
                "pidns" => pidns = Some(value.parse::<u64>().ok()?),
                "started" => started = Some(value.parse::<u64>().ok()?),
                _ => {}
            }
        }
        // A record without `exe` names pgconverge itself.
        let exe = exe.filter(|exe| !exe.is_empty()).unwrap_or_else(|| "pgconverge".to_string());
        Some(OwnerRecord { run: run?, host: host?, pid: pid?, exe, pidns, started: started? })
    }

    /// Whether the owner is a process of this host (and of this pid namespace) that no longer
    /// runs: `Some(why)` when it is gone, `None` when it runs, or may, or is elsewhere.
    fn gone_from(&self, here: &OwnerRecord) -> Option<String> {
        if !self.is_local_to(here) {
            return None;
        }
        process_gone(self.pid, &self.exe)
    }

    /// Whether a pid in this record means a process here: the same host name, and the same pid
    /// namespace when the record names one. (An unknown host name is nobody's.)
    fn is_local_to(&self, here: &OwnerRecord) -> bool {
        !self.host.is_empty()
            && self.host == here.host
            && match (self.pidns, here.pidns) {
                (Some(theirs), Some(ours)) => theirs == ours,
                (Some(_), None) => false,
                (None, _) => true,
            }
    }

    /// How long ago the owner started, by this machine's clock.
    fn age(&self) -> Duration {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        Duration::from_secs(now.saturating_sub(self.started))
    }
}

impl fmt::Display for OwnerRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = |text: &str| utf8_percent_encode(text, VALUE_ESCAPES).to_string();
        write!(f, "{RECORD_PREFIX} run={} host={} pid={} exe={}", value(&self.run), value(&self.host), self.pid, value(&self.exe))?;
        if let Some(pidns) = self.pidns {
            write!(f, " pidns={pidns}")?;
        }
        write!(f, " started={}", self.started)
    }
}

/// Whether a comment is an owner record (of any process): what the catalog leaves out.
pub(crate) fn is_owner_record(comment: &str) -> bool {
    comment.trim_start().starts_with(RECORD_PREFIX)
}

/// This process's owner record, for `COMMENT ON DATABASE` and `COMMENT ON ROLE`.
pub(crate) fn owner_record() -> String {
    OwnerRecord::this_process().to_string()
}

/// After `CREATE DATABASE database` on `conn` (its outcome `created`): records this process as
/// the database's owner. When the comment fails, the database is dropped again and the
/// comment's error returned, so that no database is left without a record.
pub(crate) async fn comment_owner(
    conn: &mut PgConnection,
    database: &str,
    created: Result<PgQueryResult, sqlx::Error>,
) -> Result<PgQueryResult, sqlx::Error> {
    let created = created?;
    let sql = format!("COMMENT ON DATABASE {} IS {}", quote_identifier(database), quote_literal(&owner_record()));
    if let Err(error) = sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut *conn).await {
        let _ = sqlx::raw_sql(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {}", quote_identifier(database)))).execute(&mut *conn).await;
        return Err(error);
    }
    Ok(created)
}

/// `COMMENT ON ROLE role IS <this process's record>`, right after the run creates the role.
pub(crate) async fn comment_owner_role(conn: &mut PgConnection, role: &str) -> Result<(), sqlx::Error> {
    let sql = format!("COMMENT ON ROLE {} IS {}", quote_identifier(role), quote_literal(&owner_record()));
    sqlx::raw_sql(AssertSqlSafe(sql)).execute(conn).await.map(|_| ())
}

fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The machine's host name (empty when it cannot be read).
pub(crate) fn hostname() -> String {
    let mut buffer = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it on success.
    let ok = unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len()) } == 0;
    if !ok {
        return String::new();
    }
    let end = buffer.iter().position(|&b| b == 0).unwrap_or(buffer.len());
    String::from_utf8_lossy(&buffer[..end]).into_owned()
}

/// The inode of a process's pid namespace (`/proc/<pid>/ns/pid` reads `pid:[4026531836]`).
fn pid_namespace(pid: &str) -> Option<u64> {
    let link = std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok()?;
    link.to_string_lossy().strip_prefix("pid:[")?.strip_suffix(']')?.parse().ok()
}

/// The file name a program path ends in, without the ` (deleted)` Linux adds to
/// `/proc/<pid>/exe` once the file was replaced (a rebuilt binary still running).
fn program_name(path: &str) -> String {
    let path = path.strip_suffix(" (deleted)").unwrap_or(path);
    path.rsplit('/').next().unwrap_or(path).to_string()
}

/// Why process `pid` of this host is not the owner that ran `exe` any more, if it is not: not
/// running, a zombie, or a reused pid running another program. `None` when it is the owner,
/// or when that cannot be told (then the owner is taken to run).
fn process_gone(pid: i32, exe: &str) -> Option<String> {
    // SAFETY: signal 0 only checks for existence.
    let exists = pid > 0 && (unsafe { libc::kill(pid, 0) } == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM));
    if !exists {
        return Some(format!("its owner, pid {pid} on this host, is not running"));
    }
    // `/proc/<pid>/stat`: "pid (comm) S ...", the state after the last ')'.
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next());
    if matches!(state, Some("Z" | "X")) {
        return Some(format!("its owner, pid {pid} on this host, has exited"));
    }
    let running = match std::fs::read_link(format!("/proc/{pid}/exe")) {
        Ok(path) => Some(program_name(&path.to_string_lossy())),
        // Another user's process: its command line is readable where its executable is not.
        Err(_) => std::fs::read(format!("/proc/{pid}/cmdline"))
            .ok()
            .and_then(|cmdline| cmdline.split(|&b| b == 0).next().filter(|argv0| !argv0.is_empty()).map(<[u8]>::to_vec))
            .map(|argv0| program_name(&String::from_utf8_lossy(&argv0))),
    };
    match running {
        Some(program) if program != exe => {
            Some(format!("its owner, pid {pid} on this host, is gone: that pid now runs {program}, not {exe}"))
        }
        _ => None,
    }
}

/// What is reaped: a database or a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    /// A database (`pg_database`).
    Database,
    /// A role (`pg_authid`).
    Role,
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ObjectKind::Database => "database",
            ObjectKind::Role => "role",
        })
    }
}

/// What the reaper did with one `pgconverge_*` database or role.
#[derive(Debug)]
pub enum Outcome {
    /// Dropped, and why it could be.
    Dropped(String),
    /// Left alone, and why.
    LeftAlone(String),
    /// Meant to be dropped, but the server refused.
    Failed(RunnerError),
}

/// One `pgconverge_*` database or role on the server, and what became of it.
#[derive(Debug)]
pub struct Leftover {
    /// A database or a role.
    pub kind: ObjectKind,
    /// Its name.
    pub name: String,
    /// Its owner record, if its comment is one.
    pub owner: Option<OwnerRecord>,
    /// What the reaper did.
    pub outcome: Outcome,
}

impl fmt::Display for Leftover {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let owner = match &self.owner {
            Some(owner) => format!("[run={} host={} pid={} exe={}]", owner.run, owner.host, owner.pid, owner.exe),
            None => "[no owner record]".to_string(),
        };
        match &self.outcome {
            Outcome::Dropped(why) => write!(f, "dropped {} {} {owner}: {why}", self.kind, self.name),
            Outcome::LeftAlone(why) => write!(f, "left alone: {} {} {owner}: {why}", self.kind, self.name),
            Outcome::Failed(error) => write!(f, "could not drop {} {} {owner}: {error}", self.kind, self.name),
        }
    }
}

/// Which leftovers to drop besides those of owners on this host that are gone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReapPolicy {
    /// Also drop what nobody is connected to and that is at least this old: another host's
    /// leftovers, and databases without an owner record (whose age is their data directory's,
    /// when the server lets it be read, else taken as old enough). `None`: never.
    pub older_than: Option<Duration>,
}

/// What [`reap_server`] found on a server: every `pgconverge_*` database, then every
/// `pgconverge_*` role, with what became of it.
#[derive(Debug, Default)]
pub struct ServerReaped {
    /// The databases, then the roles, each by name.
    pub leftovers: Vec<Leftover>,
}

impl ServerReaped {
    /// How many of `kind` were dropped.
    pub fn dropped(&self, kind: ObjectKind) -> usize {
        self.leftovers.iter().filter(|l| l.kind == kind && matches!(l.outcome, Outcome::Dropped(_))).count()
    }

    /// How many were left alone.
    pub fn left_alone(&self) -> usize {
        self.leftovers.iter().filter(|l| matches!(l.outcome, Outcome::LeftAlone(_))).count()
    }

    /// How many drops the server refused.
    pub fn failed(&self) -> usize {
        self.leftovers.iter().filter(|l| matches!(l.outcome, Outcome::Failed(_))).count()
    }

    /// The first drop the server refused, taken out, if any.
    pub fn take_first_failure(&mut self) -> Option<RunnerError> {
        let leftover = self.leftovers.iter_mut().find(|l| matches!(l.outcome, Outcome::Failed(_)))?;
        let summary = format!("{} {}: could not be dropped", leftover.kind, leftover.name);
        match std::mem::replace(&mut leftover.outcome, Outcome::LeftAlone(summary)) {
            Outcome::Failed(error) => Some(error),
            _ => None,
        }
    }
}

/// Lists the `pgconverge_*` databases and roles on the server `admin` reaches, and drops the
/// databases, then the roles, whose owner record names a process of this host that is gone,
/// and, with `policy.older_than`, those nobody is connected to that are old enough. A database
/// or role without the prefix is never looked at; one without an owner record is dropped only
/// by `older_than` (a role never). An error only when the server cannot be reached or read; a
/// drop it refuses is a [`Outcome::Failed`].
pub async fn reap_server(admin: &PgConnectOptions, policy: ReapPolicy) -> Result<ServerReaped, RunnerError> {
    let mut conn = connect(admin, "connect to the server to look for leftovers").await?;
    let reaped = reap_on(&mut conn, policy).await;
    let _ = conn.close().await;
    reaped
}

/// The notes a run's report gets from reaping its server at the start: what it dropped, and what
/// it could not. Only this host's leftovers whose owner is gone are touched; nothing fails the
/// run (a server that cannot be reached fails the run's own first connection after this).
pub(crate) async fn reap_at_start(admin: &PgConnectOptions) -> Vec<String> {
    match reap_server(admin, ReapPolicy::default()).await {
        Ok(reaped) => reaped
            .leftovers
            .iter()
            .filter(|l| matches!(l.outcome, Outcome::Dropped(_) | Outcome::Failed(_)))
            .map(|l| match &l.outcome {
                Outcome::Dropped(why) => format!("dropped leftover {} {} ({why})", l.kind, l.name),
                _ => format!("{l}"),
            })
            .collect(),
        Err(error) => vec![format!("could not look for what runs that died left on the server: {error}")],
    }
}

/// The catalog's view of one database or role.
struct Found {
    kind: ObjectKind,
    name: String,
    comment: Option<String>,
    /// Sessions connected to the database, or logged in as the role (the reaper's own excepted).
    sessions: i64,
    /// Of those, the sessions that are not pgconverge's (another `application_name`: a
    /// check's sessions name themselves `pgconverge <pid>/<id>`, its others `pgconverge`).
    foreign_sessions: i64,
    /// The age of the database's directory, when the server lets it be read.
    directory_age: Option<Duration>,
}

async fn reap_on(conn: &mut PgConnection, policy: ReapPolicy) -> Result<ServerReaped, RunnerError> {
    let found = list(conn).await?;
    let here = OwnerRecord::this_process();
    let mut reaped = ServerReaped::default();
    for object in found {
        let owner = object.comment.as_deref().and_then(OwnerRecord::parse);
        let outcome = match judge(&object, owner.as_ref(), here, policy) {
            Verdict::Leave(why) => Outcome::LeftAlone(why),
            Verdict::Drop(why) => match drop_object(conn, &object).await {
                Ok(()) => Outcome::Dropped(why),
                Err(DropRefused::InUse(refused)) => Outcome::LeftAlone(format!("{why}, but {refused}")),
                Err(DropRefused::Error(error)) => Outcome::Failed(error),
            },
        };
        reaped.leftovers.push(Leftover { kind: object.kind, name: object.name, owner, outcome });
    }
    Ok(reaped)
}

// `starts_with` would need PostgreSQL 11; `left` works on every major. `{age}` is the age of the
// database's directory, or NULL.
const LIST_DATABASES: &str = "\
SELECT d.datname::text,
       shobj_description(d.oid, 'pg_database'),
       (SELECT count(*) FROM pg_stat_activity a WHERE a.datid = d.oid AND a.pid <> pg_backend_pid()),
       (SELECT count(*) FROM pg_stat_activity a
         WHERE a.datid = d.oid AND a.pid <> pg_backend_pid() AND coalesce(a.application_name NOT LIKE 'pgconverge %' AND a.application_name <> 'pgconverge', true)),
       {age}
  FROM pg_database d
 WHERE left(d.datname, 11) = 'pgconverge_'
 ORDER BY 1";

/// The age of a database's directory (`PG_VERSION` is written when the database is created),
/// for a database in the default tablespace.
const DIRECTORY_AGE: &str = "CASE WHEN d.dattablespace = (SELECT oid FROM pg_tablespace WHERE spcname = 'pg_default') \
     THEN extract(epoch FROM now() - (pg_stat_file('base/' || d.oid || '/PG_VERSION', true)).modification)::float8 END";

const LIST_ROLES: &str = "\
SELECT r.rolname::text,
       shobj_description(r.oid, 'pg_authid'),
       (SELECT count(*) FROM pg_stat_activity a WHERE a.usesysid = r.oid AND a.pid <> pg_backend_pid()),
       (SELECT count(*) FROM pg_stat_activity a
         WHERE a.usesysid = r.oid AND a.pid <> pg_backend_pid() AND coalesce(a.application_name NOT LIKE 'pgconverge %' AND a.application_name <> 'pgconverge', true))
  FROM pg_roles r
 WHERE left(r.rolname, 11) = 'pgconverge_'
 ORDER BY 1";

/// A row of [`LIST_DATABASES`]: name, comment, sessions, sessions of another program, age.
type DatabaseRow = (String, Option<String>, i64, i64, Option<f64>);

async fn list(conn: &mut PgConnection) -> Result<Vec<Found>, RunnerError> {
    // pg_stat_file is for superusers and pg_read_server_files; the executor checks the right
    // even in a CASE branch that is never taken, so ask first.
    let may_stat: bool = sqlx::query_scalar("SELECT has_function_privilege('pg_stat_file(text, boolean)', 'EXECUTE')")
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| RunnerError::db("read the right to pg_stat_file", e))?;
    let age = if may_stat { DIRECTORY_AGE } else { "NULL::float8" };
    let databases: Vec<DatabaseRow> = sqlx::query_as(AssertSqlSafe(LIST_DATABASES.replace("{age}", age)))
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| RunnerError::db("list the pgconverge_ databases", e))?;
    let roles: Vec<(String, Option<String>, i64, i64)> =
        sqlx::query_as(LIST_ROLES).fetch_all(&mut *conn).await.map_err(|e| RunnerError::db("list the pgconverge_ roles", e))?;
    let databases = databases.into_iter().map(|(name, comment, sessions, foreign_sessions, age)| Found {
        kind: ObjectKind::Database,
        name,
        comment,
        sessions,
        foreign_sessions,
        directory_age: age.filter(|s| s.is_finite()).map(|s| Duration::from_secs_f64(s.max(0.0))),
    });
    let roles = roles.into_iter().map(|(name, comment, sessions, foreign_sessions)| Found {
        kind: ObjectKind::Role,
        name,
        comment,
        sessions,
        foreign_sessions,
        directory_age: None,
    });
    // Databases first: a role cannot be dropped while it owns one.
    Ok(databases.chain(roles).filter(|found| found.name.starts_with(DATABASE_PREFIX)).collect())
}

#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Drop(String),
    Leave(String),
}

/// Whether to drop `object`, and why (the rules in [`reap_server`]'s documentation).
fn judge(object: &Found, owner: Option<&OwnerRecord>, here: &OwnerRecord, policy: ReapPolicy) -> Verdict {
    let sessions = |count: i64| if count == 1 { "1 session is".to_string() } else { format!("{count} sessions are") };
    let Some(owner) = owner else {
        if object.kind == ObjectKind::Role {
            return Verdict::Leave("no owner record: a role is dropped only by the record of an owner that is gone".into());
        }
        let Some(limit) = policy.older_than else {
            return Verdict::Leave("no owner record: pass --older-than DURATION to drop it when nobody is connected".into());
        };
        if object.sessions > 0 {
            return Verdict::Leave(format!("no owner record, and {} connected", sessions(object.sessions)));
        }
        return match object.directory_age {
            Some(age) if age < limit => Verdict::Leave(format!("no owner record, and created {} ago, within --older-than", shown(age))),
            Some(age) => Verdict::Drop(format!("no owner record, nobody connected, created {} ago (--older-than)", shown(age))),
            None => Verdict::Drop("no owner record, nobody connected, its age unknown (--older-than)".into()),
        };
    };
    if let Some(gone) = owner.gone_from(here) {
        return match object.foreign_sessions {
            0 => Verdict::Drop(gone),
            n => Verdict::Leave(format!("{gone}, but {} connected by another program", sessions(n))),
        };
    }
    if owner.is_local_to(here) {
        return Verdict::Leave(format!("its owner, {} pid {} on this host, is running", owner.exe, owner.pid));
    }
    let whose = format!("owned by host {} pid {}", owner.host, owner.pid);
    let Some(limit) = policy.older_than else {
        return Verdict::Leave(format!("{whose} (pass --older-than DURATION to drop it when nobody is connected)"));
    };
    let age = owner.age();
    if object.sessions > 0 {
        Verdict::Leave(format!("{whose}, and {} connected", sessions(object.sessions)))
    } else if age < limit {
        Verdict::Leave(format!("{whose}, started {} ago, within --older-than", shown(age)))
    } else {
        Verdict::Drop(format!("{whose}, nobody connected, started {} ago (--older-than)", shown(age)))
    }
}

/// A duration as a person reads it: `45s`, `12m`, `3h`, `2d`.
fn shown(duration: Duration) -> String {
    let seconds = duration.as_secs();
    match seconds {
        0..120 => format!("{seconds}s"),
        120..7200 => format!("{}m", seconds / 60),
        7200..172_800 => format!("{}h", seconds / 3600),
        _ => format!("{}d", seconds / 86_400),
    }
}

enum DropRefused {
    /// In use, or (a role) still owning or granted something: left alone, with the server's words.
    InUse(String),
    Error(RunnerError),
}

async fn drop_object(conn: &mut PgConnection, object: &Found) -> Result<(), DropRefused> {
    let name = quote_identifier(&object.name);
    let sql = match object.kind {
        // The sessions left are the dead owner's own (any other's kept it, in `judge`), or, with
        // --older-than, nobody's: FORCE only ends what pgconverge itself left connected.
        ObjectKind::Database if object.sessions > 0 => format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        ObjectKind::Database => format!("DROP DATABASE IF EXISTS {name}"),
        ObjectKind::Role => format!("DROP ROLE IF EXISTS {name}"),
    };
    match sqlx::raw_sql(AssertSqlSafe(sql)).execute(conn).await {
        Ok(_) => Ok(()),
        Err(error) => {
            let refused = match &error {
                sqlx::Error::Database(db) => db.try_downcast_ref::<PgDatabaseError>().and_then(|pg| {
                    // 55006 object_in_use (someone connected meanwhile); 2BP01 a role that still
                    // owns or is granted something.
                    let detail = pg.detail().map(|d| format!(": {d}")).unwrap_or_default();
                    matches!(pg.code(), "55006" | "2BP01").then(|| format!("the server refused to drop it: {}{detail}", pg.message()))
                }),
                _ => None,
            };
            Err(match refused {
                Some(why) => DropRefused::InUse(why),
                None => DropRefused::Error(RunnerError::db(format!("drop {} {}", object.kind, object.name), error)),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(host: &str, pid: i32) -> OwnerRecord {
        OwnerRecord { run: "r1".into(), host: host.into(), pid, exe: "pgconverge".into(), pidns: None, started: 0 }
    }

    fn database(sessions: i64, foreign_sessions: i64, directory_age: Option<Duration>) -> Found {
        Found { kind: ObjectKind::Database, name: "pgconverge_x".into(), comment: None, sessions, foreign_sessions, directory_age }
    }

    fn dead_pid() -> i32 {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        child.wait().unwrap();
        child.id() as i32
    }

    fn is_drop(verdict: &Verdict) -> bool {
        matches!(verdict, Verdict::Drop(_))
    }

    #[test]
    fn a_record_reads_back_whatever_its_values_hold() {
        let record = OwnerRecord {
            run: "0a1b".into(),
            host: "build host=1 'x'".into(),
            pid: 42,
            exe: "my tool%".into(),
            pidns: Some(4026531836),
            started: 1_700_000_000,
        };
        let text = record.to_string();
        assert!(text.starts_with("pgconverge owner: run=0a1b host=build%20host%3D1%20%27x%27 pid=42 "), "{text}");
        assert!(!text.contains('\''), "{text}");
        assert_eq!(OwnerRecord::parse(&text), Some(record));
        let mine = OwnerRecord::this_process();
        assert_eq!(OwnerRecord::parse(&owner_record()).as_ref(), Some(mine));
        assert_eq!(mine.pid, std::process::id() as i32);
        assert!(!mine.exe.is_empty() && !mine.host.is_empty());
    }

    #[test]
    fn only_a_whole_record_parses() {
        let minimal = OwnerRecord::parse("pgconverge owner: run=a host=h pid=7 started=1 future=x").unwrap();
        assert_eq!((minimal.exe.as_str(), minimal.pidns), ("pgconverge", None));
        for text in [
            "",
            "made by hand",
            "pgconverge owner: host=h pid=7 started=1",
            "pgconverge owner: run=a host=h pid=0 started=1",
            "pgconverge owner: run=a host=h pid=-3 started=1",
            "pgconverge owner: run=a host=h pid=x started=1",
            "pgconverge owner: run=a host=h pid=7",
            "pgconverge owner: run=a host=h pid=7 started=1 junk",
            "owner: run=a host=h pid=7 started=1",
        ] {
            assert_eq!(OwnerRecord::parse(text), None, "{text:?}");
        }
    }

    #[test]
    fn what_a_dead_owner_of_this_host_left_is_dropped() {
        let here = OwnerRecord { pidns: Some(1), ..record("here", 1) };
        let dead = record("here", dead_pid());
        assert!(is_drop(&judge(&database(0, 0, None), Some(&dead), &here, ReapPolicy::default())));
        // Its own sessions lingering (a statement the server still runs): dropped all the same.
        assert!(is_drop(&judge(&database(2, 0, None), Some(&dead), &here, ReapPolicy::default())));
        // Someone else looking at it: left alone.
        assert!(!is_drop(&judge(&database(2, 1, None), Some(&dead), &here, ReapPolicy::default())));
        // The same pid in another pid namespace, or a record from a namespace this one cannot tell.
        let other_namespace = OwnerRecord { pidns: Some(2), ..dead.clone() };
        assert!(!is_drop(&judge(&database(0, 0, None), Some(&other_namespace), &here, ReapPolicy::default())));
        let here_unknown_namespace = OwnerRecord { pidns: None, ..here.clone() };
        assert!(!is_drop(&judge(
            &database(0, 0, None),
            Some(&OwnerRecord { pidns: Some(1), ..dead }),
            &here_unknown_namespace,
            ReapPolicy::default()
        )));
    }

    #[test]
    fn a_live_owner_is_left_alone_unless_its_pid_now_runs_another_program() {
        let me = OwnerRecord::this_process();
        let here = OwnerRecord { host: "here".into(), ..me.clone() };
        let live = here.clone();
        let verdict = judge(&database(0, 0, None), Some(&live), &here, ReapPolicy { older_than: Some(Duration::ZERO) });
        assert!(matches!(&verdict, Verdict::Leave(why) if why.contains("is running")), "{verdict:?}");
        let reused = OwnerRecord { exe: "pgconverge".into(), ..live };
        let verdict = judge(&database(0, 0, None), Some(&reused), &here, ReapPolicy::default());
        assert!(matches!(&verdict, Verdict::Drop(why) if why.contains("now runs")), "{verdict:?}");
    }

    #[test]
    fn another_hosts_leftovers_go_only_by_older_than_and_when_nobody_is_connected() {
        let here = record("here", 1);
        let theirs = record("there", dead_pid());
        let verdict = judge(&database(0, 0, None), Some(&theirs), &here, ReapPolicy::default());
        assert!(matches!(&verdict, Verdict::Leave(why) if why.starts_with("owned by host there pid")), "{verdict:?}");
        let day = ReapPolicy { older_than: Some(Duration::from_secs(86_400)) };
        assert!(is_drop(&judge(&database(0, 0, None), Some(&theirs), &here, day)), "started at the epoch");
        assert!(!is_drop(&judge(&database(1, 0, None), Some(&theirs), &here, day)), "someone is connected");
        let recent = OwnerRecord { started: SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs(), ..theirs };
        assert!(!is_drop(&judge(&database(0, 0, None), Some(&recent), &here, day)), "started just now");
        // An unknown host name is nobody's, not this host's.
        assert!(!is_drop(&judge(&database(0, 0, None), Some(&record("", dead_pid())), &record("", 1), ReapPolicy::default())));
    }

    #[test]
    fn without_a_record_only_older_than_drops_a_database_and_never_a_role() {
        let here = record("here", 1);
        let day = ReapPolicy { older_than: Some(Duration::from_secs(86_400)) };
        assert!(!is_drop(&judge(&database(0, 0, None), None, &here, ReapPolicy::default())));
        assert!(is_drop(&judge(&database(0, 0, None), None, &here, day)), "age unknown");
        assert!(is_drop(&judge(&database(0, 0, Some(Duration::from_secs(90_000))), None, &here, day)));
        assert!(!is_drop(&judge(&database(0, 0, Some(Duration::from_secs(60))), None, &here, day)));
        assert!(!is_drop(&judge(&database(1, 1, None), None, &here, day)));
        let role = Found { kind: ObjectKind::Role, ..database(0, 0, None) };
        assert!(!is_drop(&judge(&role, None, &here, day)));
    }

    #[test]
    fn program_names_ignore_the_directory_and_a_replaced_binary() {
        assert_eq!(program_name("/usr/local/bin/pgconverge (deleted)"), "pgconverge");
        assert_eq!(program_name("pgconverge"), "pgconverge");
        assert_eq!(program_name("target/debug/deps/reap_remote-0a1b"), "reap_remote-0a1b");
    }
}
