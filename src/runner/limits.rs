//! The time limits of the harness's sessions, and the watchdog that enforces them from outside.
//!
//! Every session of a check starts with `statement_timeout` and `lock_timeout` set as startup
//! options (so `RESET ALL` returns to them, and a URL server's role or database settings do not
//! override them) and with an application name of the check's own. A migration can still
//! `SET statement_timeout = 0`, so a [`Watchdog`] looks at the check's sessions from a
//! connection of its own and cancels a statement that has run past the limit and a grace; once
//! the check is cancelled (Ctrl-C), it cancels every statement of the check in flight, so a
//! blocked case returns at once and its database can be dropped.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgDatabaseError};
use sqlx::Connection;
use tokio_util::sync::CancellationToken;

use super::{Backend, RunnerError, ServerHandle, DATABASE_PREFIX};
use crate::migration::Location;

/// The limits a harness session runs under; `None`: not set by the harness (a caller's own
/// connection), so no error is blamed on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SessionLimits {
    pub(crate) statement: Option<Duration>,
    pub(crate) lock: Option<Duration>,
}

/// Which of the harness's limits a statement ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exceeded {
    Statement(Duration),
    Lock(Duration),
}

impl SessionLimits {
    /// No limit of the harness's: a session pgconverge did not open.
    pub(crate) const NONE: SessionLimits = SessionLimits { statement: None, lock: None };

    /// Which harness limit `error` is, for a statement that failed after `elapsed`.
    ///
    /// The rule: 57014 (query_canceled) is the harness's statement timeout when the statement
    /// ran at least as long as that limit, whether the server's own timeout (set by the harness)
    /// or the watchdog cancelled it; 55P03 (lock_not_available) is the harness's lock timeout
    /// when the statement ran at least as long as that limit. A statement ended sooner met a
    /// limit of its own (its migration's `SET statement_timeout`/`SET lock_timeout`, `NOWAIT`)
    /// or someone else's cancel: that stays what it was (a migration's failure, or the
    /// server's). The elapsed time is measured by the client around the statement, so it is
    /// never shorter than the server's own count.
    pub(crate) fn exceeded(&self, error: &sqlx::Error, elapsed: Duration) -> Option<Exceeded> {
        let code = match error {
            sqlx::Error::Database(db) => db.try_downcast_ref::<PgDatabaseError>()?.code(),
            _ => return None,
        };
        match (code, self.statement, self.lock) {
            (QUERY_CANCELED, Some(limit), _) if elapsed >= limit => Some(Exceeded::Statement(limit)),
            (LOCK_NOT_AVAILABLE, _, Some(limit)) if elapsed >= limit => Some(Exceeded::Lock(limit)),
            _ => None,
        }
    }
}

const QUERY_CANCELED: &str = "57014";
const LOCK_NOT_AVAILABLE: &str = "55P03";

impl Exceeded {
    /// The error for the statement at `location`.
    pub(crate) fn at(self, location: Location) -> RunnerError {
        match self {
            Exceeded::Statement(limit) => RunnerError::StatementTimeout { location, limit },
            Exceeded::Lock(limit) => RunnerError::LockTimeout { location, limit },
        }
    }
}

/// A duration as a limit is written in a message: `5 min`, `30 s`, `1500 ms`.
pub(crate) fn duration_text(duration: Duration) -> String {
    let ms = duration.as_millis();
    match ms {
        ms if ms >= 3_600_000 && ms % 3_600_000 == 0 => format!("{} h", ms / 3_600_000),
        ms if ms >= 60_000 && ms % 60_000 == 0 => format!("{} min", ms / 60_000),
        ms if ms >= 1_000 && ms % 1_000 == 0 => format!("{} s", ms / 1_000),
        ms => format!("{ms} ms"),
    }
}

/// The sessions of one check: how they reach the server (under the limits, with a name of
/// their own) and the limits they run under.
#[derive(Clone)]
pub(crate) struct CheckSessions {
    /// The server as the check's sessions reach it.
    pub(crate) server: ServerHandle,
    pub(crate) limits: SessionLimits,
    /// The application name of every session, which no other check shares (checks in one
    /// process included), so that one check's watchdog never touches another's sessions.
    name: String,
}

impl CheckSessions {
    /// Sessions on `backend`'s server under `limits`, with a new name.
    pub(crate) fn new(backend: &dyn Backend, limits: SessionLimits) -> CheckSessions {
        CheckSessions::named(backend, limits, format!("pgconverge {}/{}", std::process::id(), super::random_suffix()))
    }

    /// The same sessions under other limits (the name stays).
    pub(crate) fn with_limits(&self, backend: &dyn Backend, limits: SessionLimits) -> CheckSessions {
        CheckSessions::named(backend, limits, self.name.clone())
    }

    fn named(backend: &dyn Backend, limits: SessionLimits, name: String) -> CheckSessions {
        // PostgreSQL counts these in whole milliseconds, in 32 bits (0 would mean none).
        let milliseconds = |limit: Duration| limit.as_millis().clamp(1, i32::MAX as u128).to_string();
        let settings = [("statement_timeout", limits.statement), ("lock_timeout", limits.lock)];
        let mut server = ServerHandle::of(backend);
        server.admin = server
            .admin
            .options(settings.into_iter().filter_map(|(setting, limit)| Some((setting, milliseconds(limit?)))))
            .application_name(&name);
        CheckSessions { server, limits, name }
    }

    /// Starts the watchdog of these sessions on the current runtime, looking from a connection
    /// of `backend`'s own: it cancels a statement past the statement timeout, and every
    /// statement in flight once `cancel` is cancelled.
    pub(crate) fn watchdog(&self, backend: &dyn Backend, cancel: CancellationToken) -> Watchdog {
        let stop = CancellationToken::new();
        let overdue = self.limits.statement.map(|limit| limit.saturating_add(GRACE));
        let task = tokio::spawn(watch(backend.admin_options(), self.name.clone(), overdue, cancel, stop.clone()));
        Watchdog { stop, task: Some(task) }
    }
}

/// The environment that gives a migrator's own libpq sessions (a `runner = "command"` command, a
/// framework driver) the startup options and the name of the harness's sessions on `options`:
/// the same limits, and the watchdog watches them too.
pub(crate) fn libpq_env(options: &PgConnectOptions) -> Vec<(&'static str, String)> {
    let options_env = options.get_options().map(|startup| ("PGOPTIONS", startup.to_string()));
    let name_env = options.get_application_name().map(|name| ("PGAPPNAME", name.to_string()));
    options_env.into_iter().chain(name_env).collect()
}

/// How often the watchdog looks for a statement past its limit.
const WATCH_PERIOD: Duration = Duration::from_millis(500);
/// How often it cancels what is in flight once the check is cancelled (a step that started
/// after the last look is cancelled at the next).
const CANCEL_PERIOD: Duration = Duration::from_millis(100);
/// How long past the statement timeout the watchdog waits: the server's own timeout, when it is
/// in force, comes first and says so itself.
const GRACE: Duration = Duration::from_secs(1);

/// Cancels, from a connection of its own, the statements of one check's sessions (its
/// application name, in the harness's databases) that run past the statement timeout, and all
/// of them once the check is cancelled ([`CheckSessions::watchdog`]). Stopped by
/// [`Watchdog::stop`], or when dropped.
pub(crate) struct Watchdog {
    stop: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Watchdog {
    /// Stops watching and closes the watchdog's connection.
    pub(crate) async fn stop(mut self) {
        self.stop.cancel();
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        // The task ends itself at its next turn, closing its connection.
        self.stop.cancel();
    }
}

async fn watch(admin: PgConnectOptions, name: String, overdue: Option<Duration>, cancel: CancellationToken, stop: CancellationToken) {
    let sql = format!(
        "SELECT count(*) FILTER (WHERE pg_cancel_backend(pid)) FROM pg_stat_activity \
         WHERE application_name = $1 AND datname LIKE '{}%' AND state IN ('active', 'fastpath function call') \
         AND pid <> pg_backend_pid() AND ($2 OR query_start < clock_timestamp() - make_interval(secs => $3))",
        DATABASE_PREFIX.replace('_', "\\_")
    );
    // No statement can be overdue before the limit has passed since the watch began: until
    // then (most checks end sooner) the watchdog holds no connection.
    let mut next_look = overdue.map(|overdue| tokio::time::Instant::now() + overdue);
    let mut conn = None;
    loop {
        let cancelling = cancel.is_cancelled();
        let wake = if cancelling { Some(tokio::time::Instant::now() + CANCEL_PERIOD) } else { next_look };
        tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            _ = cancel.cancelled(), if !cancelling => {}
            _ = async { match wake { Some(at) => tokio::time::sleep_until(at).await, None => std::future::pending().await } } => {}
        }
        next_look = overdue.map(|_| tokio::time::Instant::now() + WATCH_PERIOD);
        if conn.is_none() {
            conn = super::connect(&admin, "connect the watchdog").await.ok();
        }
        let Some(side) = conn.as_mut() else { continue };
        let looked = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.clone()))
            .bind(&name)
            .bind(cancel.is_cancelled())
            .bind(overdue.unwrap_or_default().as_secs_f64())
            .fetch_one(&mut *side)
            .await;
        if looked.is_err() {
            // The next turn connects again; the check itself reports a server that is gone.
            conn = None;
        }
    }
    if let Some(conn) = conn {
        let _ = conn.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limit_reads_as_it_is_written() {
        let cases = [(300_000, "5 min"), (30_000, "30 s"), (1_500, "1500 ms"), (250, "250 ms"), (7_200_000, "2 h"), (90_000, "90 s")];
        for (ms, text) in cases {
            assert_eq!(duration_text(Duration::from_millis(ms)), text);
        }
    }
}
