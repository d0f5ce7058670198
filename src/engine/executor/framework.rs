//! The framework executor (`runner = "rails"`, `runner = "alembic"`): the framework's own
//! migration code runs each step, through a driver script pgconverge embeds (`drivers/rails.rb`,
//! `drivers/alembic.py`). A driver process answers one JSON line per command and lives as long as
//! the executor, so the framework loads once per worker, not once per step as a
//! `runner = "command"` shell command would: each step takes an idle driver (or starts one) and
//! gives it back, so parallel workers never wait on each other's driver.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use serde::Deserialize;
use sqlx::postgres::PgConnectOptions;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout};

use super::{Executor, Ran, Target};
use crate::engine::CheckError;
use crate::migration::{Location, Migration};
use crate::model::Failure;
use crate::project::config::FrameworkKind;
use crate::project::Project;
use crate::runner::scripts::ScriptDir;
use crate::runner::{self, Backend, PgError, RunnerError};

/// The ActiveRecord driver, written to a temporary directory when the executor starts.
const RAILS_DRIVER: &str = include_str!("drivers/rails.rb");

/// The Alembic driver, written the same way.
const ALEMBIC_DRIVER: &str = include_str!("drivers/alembic.py");

/// How long one driver command may take before it counts as hung (an infrastructure fault).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(600);

/// How long listing the migrations (loading each to see whether it has a down) may take.
const LIST_TIMEOUT: Duration = Duration::from_secs(120);

/// How much of the driver's stderr is kept, for the error when it dies.
const STDERR_TAIL: usize = 4000;

pub(crate) struct FrameworkExecutor {
    kind: FrameworkKind,
    /// Alembic's alembic.ini, passed to its driver.
    ini: Option<PathBuf>,
    /// The interpreter (with its arguments before the script) and the driver script: `ruby`, or
    /// `bin/rails runner` inside a Rails app; `python3`.
    program: String,
    program_args: Vec<String>,
    script: PathBuf,
    /// The directory holding the written driver, removed on drop.
    _script_dir: ScriptDir,
    migrations_dir: PathBuf,
    workdir: PathBuf,
    schema: Option<PathBuf>,
    admin: PgConnectOptions,
    /// The versions whose migration can be undone (defines `down` or `change`).
    with_down: BTreeSet<String>,
    /// The drivers no step is using: a step takes one (or starts one) and gives it back.
    idle: StdMutex<Vec<Driver>>,
    /// The runtime the drivers' pipes belong to: the check's, which runs as long as the check,
    /// not a case worker's, which ends with the worker (a driver outlives the worker that started it).
    runtime: tokio::runtime::Handle,
}

struct Driver {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    /// The database the driver is connected to.
    database: Option<String>,
    stderr: Arc<StdMutex<String>>,
}

/// One answer line.
#[derive(Debug, Deserialize)]
struct Answer {
    ok: bool,
    #[serde(default)]
    error: Option<DriverError>,
    #[serde(default)]
    migrations: Vec<Listed>,
    /// What the command sent to the server (up, down and load_schema).
    #[serde(default)]
    sql: Option<Vec<String>>,
}

/// What the framework raised.
#[derive(Debug, Deserialize)]
struct DriverError {
    class: String,
    message: String,
    #[serde(default)]
    file: Option<PathBuf>,
    #[serde(default)]
    line: Option<usize>,
    #[serde(default)]
    sqlstate: Option<String>,
    /// Where the project's code around the migrations failed (Alembic's env.py), when no
    /// migration file is on the way.
    #[serde(default)]
    setup_file: Option<PathBuf>,
    #[serde(default)]
    setup_line: Option<usize>,
}

#[derive(Debug, Deserialize)]
struct Listed {
    version: String,
    down: bool,
}

impl FrameworkExecutor {
    /// Writes the driver and asks it which migrations can be undone. Only an embedded cluster
    /// works: the driver connects without a password, as the command runner's commands do.
    pub(crate) fn new(project: &Project, backend: &dyn Backend) -> Result<FrameworkExecutor, CheckError> {
        let framework = project.framework.as_ref().expect("called for a framework project");
        if backend.kind() != "embedded" {
            return Err(
                RunnerError::CommandRunnerNeedsEmbedded { runner: project.runner_name(), backend: backend.kind().to_string() }.into()
            );
        }
        let (program, program_args, source, file) = match framework.kind {
            // Inside an app, `bin/rails runner` loads its gems and initializers (custom migration
            // helpers, strong_migrations, ...) before the driver; a bare db/ gets plain ActiveRecord.
            FrameworkKind::Rails => match app_runner(&project.dir) {
                Some(bin_rails) => (bin_rails.display().to_string(), vec!["runner".to_string()], RAILS_DRIVER, "rails.rb"),
                None => ("ruby".to_string(), vec![], RAILS_DRIVER, "rails.rb"),
            },
            FrameworkKind::Alembic => ("python3".to_string(), vec![], ALEMBIC_DRIVER, "alembic.py"),
        };
        // A private directory made fresh (never one someone else made), removed with the executor.
        let script_dir = ScriptDir::write_files(&[(file, source)])?;
        let script = script_dir.path(file);
        let mut executor = FrameworkExecutor {
            kind: framework.kind,
            ini: framework.ini.as_deref().map(absolute).transpose()?,
            program,
            program_args,
            script,
            _script_dir: script_dir,
            // The driver runs in the project directory: every path it is given is absolute.
            migrations_dir: absolute(&framework.migrations_dir)?,
            workdir: absolute(&project.dir)?,
            schema: framework.schema.as_deref().map(absolute).transpose()?,
            admin: crate::runner::project_options(backend),
            with_down: BTreeSet::new(),
            idle: StdMutex::new(Vec::new()),
            runtime: tokio::runtime::Handle::try_current()
                .map_err(|e| RunnerError::Task { task: "starting a framework driver".into(), message: format!("no async runtime: {e}") })?,
        };
        let listed = executor.list()?;
        if framework.kind == FrameworkKind::Alembic {
            // pgconverge read the revision ids from the files' assignments; Alembic imports them.
            // A revision only one of them sees would be a migration never checked.
            let read: BTreeSet<&str> = project.migrations.migrations.iter().map(|m| m.version.as_str()).collect();
            let imported: BTreeSet<&str> = listed.iter().map(|m| m.version.as_str()).collect();
            if read != imported {
                let only = |a: &BTreeSet<&str>, b: &BTreeSet<&str>| a.difference(b).copied().collect::<Vec<_>>().join(", ");
                return Err(RunnerError::ProgramIneffective {
                    program: executor.describe(),
                    problem: format!(
                        "its revisions differ from those read in {}: only Alembic has [{}], only pgconverge has [{}]",
                        framework.migrations_dir.display(),
                        only(&imported, &read),
                        only(&read, &imported)
                    ),
                }
                .into());
            }
        }
        executor.with_down = listed.into_iter().filter(|m| m.down).map(|m| m.version).collect();
        Ok(executor)
    }

    fn command(&self) -> std::process::Command {
        let mut command = std::process::Command::new(&self.program);
        command.args(&self.program_args).arg(&self.script).current_dir(&self.workdir).env("PGCONVERGE_MIGRATIONS", &self.migrations_dir);
        // The project's code may read DATABASE_URL (Rails reads it at boot, an env.py may prefer it
        // to the URL the driver passes): it names a database of this run's server that does not
        // exist, never one the environment points at; each command then connects to its own.
        command.env_remove("PGCONVERGE_DATABASE_URL").env("DATABASE_URL", self.url(NO_DATABASE));
        command.envs(crate::runner::session::migrator_env(&self.admin));
        if let Some(ini) = &self.ini {
            command.env("PGCONVERGE_ALEMBIC_INI", ini);
        }
        command
    }

    fn describe(&self) -> String {
        let program =
            std::iter::once(self.program.as_str()).chain(self.program_args.iter().map(String::as_str)).collect::<Vec<_>>().join(" ");
        format!("the {} driver ({program} {})", self.framework_name(), self.script.display())
    }

    fn framework_name(&self) -> &'static str {
        match self.kind {
            FrameworkKind::Rails => "ActiveRecord",
            FrameworkKind::Alembic => "Alembic",
        }
    }

    /// `--list`, run on its own before any case. A migration file that does not load (a syntax
    /// error, an import of code that is not there) is the project's to fix: an input error at
    /// the file and line the framework names. Anything else is the machine's.
    fn list(&self) -> Result<Vec<Listed>, CheckError> {
        let mut command = self.command();
        // An environment variable, not an argument: `bin/rails runner` would read `--list` as its own.
        command.env("PGCONVERGE_LIST", "1");
        let output = crate::process::output_within(command, LIST_TIMEOUT)
            .map_err(|source| RunnerError::Spawn { program: self.describe(), source })?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let answer = parse_answer(stdout.lines().next().unwrap_or(""));
        match answer {
            Some(Answer { ok: true, migrations, .. }) => Ok(migrations),
            Some(Answer { error: Some(DriverError { file: Some(file), line, class, message, .. }), .. }) => {
                let location = Location { file, line: line.unwrap_or(1), column: 1 };
                let message = format!("{} cannot load it: {class}: {message}", self.framework_name());
                Err(crate::project::ProjectError::from(crate::migration::MigrationError::Invalid { location, message }).into())
            }
            Some(Answer { error: Some(error), .. }) => Err(RunnerError::ProgramFailed {
                program: self.describe(),
                status: output.status.to_string(),
                output: format!("{}: {}", error.class, error.message),
            }
            .into()),
            _ => Err(RunnerError::ProgramFailed {
                program: self.describe(),
                status: output.status.to_string(),
                output: String::from_utf8_lossy(&output.stderr).trim().to_string(),
            }
            .into()),
        }
    }

    fn spawn(&self) -> Result<Driver, RunnerError> {
        let _runtime = self.runtime.enter();
        let mut child = tokio::process::Command::from(self.command())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| RunnerError::Spawn { program: self.describe(), source })?;
        let stdin = child.stdin.take().expect("piped");
        let stdout = BufReader::new(child.stdout.take().expect("piped"));
        let stderr = Arc::new(StdMutex::new(String::new()));
        // Keep the tail of what the framework logs, for the error when the driver dies.
        let mut pipe = child.stderr.take().expect("piped");
        let tail = stderr.clone();
        self.runtime.spawn(async move {
            let mut buffer = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buffer).await {
                if n == 0 {
                    break;
                }
                let mut tail = tail.lock().unwrap_or_else(|e| e.into_inner());
                tail.push_str(&String::from_utf8_lossy(&buffer[..n]));
                if tail.len() > STDERR_TAIL {
                    let cut = tail.len() - STDERR_TAIL;
                    let cut = (cut..tail.len()).find(|&i| tail.is_char_boundary(i)).unwrap_or(tail.len());
                    tail.drain(..cut);
                }
            }
        });
        Ok(Driver { child, stdin, stdout, database: None, stderr })
    }

    /// The URL that points the driver at `database` (a socket directory when there is one).
    fn url(&self, database: &str) -> String {
        let options = &self.admin;
        let user = options.get_username();
        let port = options.get_port();
        match options.get_socket() {
            Some(socket) => format!("postgresql://{user}@localhost/{database}?host={}&port={port}", socket.display()),
            None => format!("postgresql://{user}@{}:{port}/{database}", options.get_host()),
        }
    }

    /// Sends `command` against `database` and reads the answer; an `Err` is the driver failing
    /// (it died, hung or answered something else), never the migration.
    async fn exchange(&self, database: &str, command: serde_json::Value) -> Result<Answer, RunnerError> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut driver = match idle {
            Some(driver) => driver,
            None => self.spawn()?,
        };
        let outcome = async {
            let driver = &mut driver;
            if driver.database.as_deref() != Some(database) {
                let connect = serde_json::json!({"cmd": "connect", "url": self.url(database)});
                let answer = self.send(driver, &connect).await?;
                if !answer.ok {
                    return Err(self.driver_failed(driver, "could not connect", answer.error));
                }
                driver.database = Some(database.to_string());
            }
            self.send(driver, &command).await
        }
        .await;
        // A driver that failed to answer is in an unknown state: dropped (killed), never reused.
        if outcome.is_ok() {
            self.idle.lock().unwrap_or_else(|e| e.into_inner()).push(driver);
        }
        outcome
    }

    async fn send(&self, driver: &mut Driver, command: &serde_json::Value) -> Result<Answer, RunnerError> {
        let mut line = command.to_string();
        line.push('\n');
        let io = async {
            driver.stdin.write_all(line.as_bytes()).await?;
            driver.stdin.flush().await?;
            let mut answer = String::new();
            driver.stdout.read_line(&mut answer).await?;
            Ok::<String, std::io::Error>(answer)
        };
        let answer = match tokio::time::timeout(COMMAND_TIMEOUT, io).await {
            Err(_) => return Err(RunnerError::Timeout(COMMAND_TIMEOUT, format!("{} did not answer {command}", self.describe()))),
            Ok(Err(source)) => return Err(RunnerError::Spawn { program: self.describe(), source }),
            Ok(Ok(answer)) => answer,
        };
        match parse_answer(&answer) {
            Some(answer) => Ok(answer),
            None => {
                let status = match driver.child.try_wait() {
                    Ok(Some(status)) => status.to_string(),
                    _ => "running".to_string(),
                };
                let said = if answer.is_empty() { "nothing".to_string() } else { format!("`{}`", answer.trim()) };
                // Give the stderr reader a moment to catch the last words of a dying driver.
                tokio::time::sleep(Duration::from_millis(50)).await;
                let stderr = driver.stderr.lock().unwrap_or_else(|e| e.into_inner()).trim().to_string();
                Err(RunnerError::ProgramFailed {
                    program: self.describe(),
                    status,
                    output: format!("answered {said} to {command}; its stderr: {stderr}"),
                })
            }
        }
    }

    fn driver_failed(&self, driver: &Driver, what: &str, error: Option<DriverError>) -> RunnerError {
        let detail = error.map_or_else(
            || driver.stderr.lock().unwrap_or_else(|e| e.into_inner()).trim().to_string(),
            |e| format!("{}: {}", e.class, e.message),
        );
        RunnerError::ProgramIneffective { program: self.describe(), problem: format!("{what}: {detail}") }
    }

    /// Runs `cmd` for `migration` (or alone); the framework's error as a failure, located in the
    /// migration file (or the schema file) at the line the framework's backtrace names.
    async fn step(&self, database: &str, cmd: &str, migration: Option<&Migration>, label: &str) -> Result<Ran, RunnerError> {
        let mut command = serde_json::json!({ "cmd": cmd });
        if let Some(migration) = migration {
            command["version"] = migration.version.clone().into();
        }
        if cmd == "load_schema" {
            let schema = self.schema.as_deref().expect("called only when a schema file exists");
            command["path"] = schema.display().to_string().into();
        }
        let answer = self.exchange(database, command).await?;
        let recorded = answer.sql;
        if answer.ok {
            return Ok(Ran { failure: None, sql: recorded });
        }
        let error = answer.error.ok_or_else(|| RunnerError::ProgramIneffective {
            program: self.describe(),
            problem: format!("it answered {cmd} with neither ok nor an error"),
        })?;
        // The server or the session failed, not the migration: the harness's failure.
        if error.sqlstate.as_deref().map_or_else(|| lost_connection(&error), runner::is_infrastructure_sqlstate) {
            let code = error.sqlstate.as_deref().map_or(String::new(), |code| format!(" (SQLSTATE {code})"));
            return Err(RunnerError::ProgramIneffective {
                program: self.describe(),
                problem: format!("its connection failed during {cmd}: {}: {}{code}", error.class, error.message),
            });
        }
        if let (None, Some(setup_file)) = (&error.file, &error.setup_file) {
            return Err(RunnerError::ProjectCode {
                location: Location { file: setup_file.clone(), line: error.setup_line.unwrap_or(1), column: 1 },
                message: format!(
                    "{} failed running {cmd} outside the migration: {}: {}",
                    self.framework_name(),
                    error.class,
                    error.message
                ),
            });
        }
        let default_file = migration.map_or_else(|| self.schema.clone().unwrap_or_default(), |m| m.up.path.clone());
        let location = Location { file: error.file.unwrap_or(default_file), line: error.line.unwrap_or(1), column: 1 };
        let framework = self.framework_name();
        let sql = match migration {
            Some(migration) => format!("{framework} {cmd} {}", migration.version),
            None => format!("{framework} {cmd}"),
        };
        if error.sqlstate.as_deref().is_some_and(runner::is_sandbox_refusal) {
            let statement = recorded.as_ref().and_then(|sql| sql.last().cloned()).unwrap_or_else(|| sql.clone());
            return Err(RunnerError::NeedsTrust { location: Some(location), statement, reason: error.message });
        }
        // The failing statement is the last one the driver recorded.
        let statement = recorded.as_ref().map_or(1, |sql| sql.len().max(1));
        let failure = Failure::StatementFailed {
            migration: migration.map_or_else(|| label.to_string(), |m| format!("{}{label}", m.id())),
            statement,
            location,
            sql,
            error: PgError {
                // The class once: as the code when there is no SQLSTATE, else before the message.
                message: match &error.sqlstate {
                    Some(_) => format!("{}: {}", error.class, error.message),
                    None => error.message.clone(),
                },
                code: error.sqlstate.unwrap_or_else(|| error.class.clone()),
                detail: None,
                hint: None,
                context: None,
                position: None,
            },
        };
        Ok(Ran { failure: Some(failure), sql: recorded })
    }
}

/// A framework's exception for a connection that is gone, which carries no SQLSTATE (Rails
/// wraps libpq's in `ActiveRecord::StatementInvalid`, whose message starts with its class).
fn lost_connection(error: &DriverError) -> bool {
    ["PG::ConnectionBad", "PG::UnableToSend", "ActiveRecord::ConnectionNotEstablished", "ActiveRecord::ConnectionFailed"]
        .iter()
        .any(|name| error.class.contains(name) || error.message.starts_with(name))
        || error.class.ends_with("OperationalError")
}

fn parse_answer(line: &str) -> Option<Answer> {
    serde_json::from_str(line.trim()).ok()
}

#[async_trait::async_trait]
impl Executor for FrameworkExecutor {
    fn runs_sql(&self) -> bool {
        false
    }

    fn has_down(&self, migration: &Migration) -> bool {
        self.with_down.contains(&migration.version)
    }

    fn no_rerun(&self) -> Option<&'static str> {
        // The driver deletes the ledger row first (`forget`), so the framework runs it again.
        None
    }

    async fn up(&self, target: Target<'_>, migration: &Migration) -> Result<Option<Failure>, RunnerError> {
        Ok(self.up_recorded(target, migration).await?.failure)
    }

    async fn up_recorded(&self, target: Target<'_>, migration: &Migration) -> Result<Ran, RunnerError> {
        self.step(target.database, "up", Some(migration), "").await
    }

    async fn down(&self, target: Target<'_>, migration: &Migration) -> Result<Option<Failure>, RunnerError> {
        Ok(self.step(target.database, "down", Some(migration), " (down)").await?.failure)
    }

    async fn forget(&self, target: Target<'_>, migration: &Migration) -> Result<(), RunnerError> {
        let answer = self.exchange(target.database, serde_json::json!({"cmd": "forget", "version": migration.version})).await?;
        if answer.ok {
            return Ok(());
        }
        let detail = answer.error.map_or_else(|| "no error given".to_string(), |e| format!("{}: {}", e.class, e.message));
        Err(RunnerError::ProgramIneffective { program: self.describe(), problem: format!("could not forget {}: {detail}", migration.id()) })
    }

    fn loads_schema(&self) -> bool {
        self.schema.is_some()
    }

    async fn load_schema_recorded(&self, target: Target<'_>) -> Result<Ran, RunnerError> {
        let label = self.schema.as_deref().map_or("load_schema".to_string(), file_name);
        self.step(target.database, "load_schema", None, &label).await
    }
}

/// The database name a driver process starts with in DATABASE_URL: none by that name exists.
const NO_DATABASE: &str = "pgconverge_no_database";

/// `bin/rails` of the Rails app in `dir`, when there is an executable one.
fn app_runner(dir: &Path) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let bin_rails = absolute(&dir.join("bin/rails")).ok()?;
    let executable = std::fs::metadata(&bin_rails).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
    executable.then_some(bin_rails)
}

fn absolute(path: &Path) -> Result<PathBuf, RunnerError> {
    std::path::absolute(path).map_err(|source| RunnerError::File { action: "resolve", path: path.to_path_buf(), source })
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
}
