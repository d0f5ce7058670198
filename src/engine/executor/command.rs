//! The command executor (`runner = "command"`): the project's own migrator runs each step
//! (`bin/rails db:migrate:up VERSION={version}`, `alembic upgrade {version}`, ...), with
//! `DATABASE_URL` and `PG*` pointing at the case's scratch database. pgconverge only reads the
//! catalog.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;

use super::{Executor, Target};
use crate::engine::CheckError;
use crate::migration::{Location, Migration};
use crate::model::Failure;
use crate::project::config::{CommandConfig, CONFIG_FILE};
use crate::project::Project;
use crate::runner::{Backend, PgError, RunnerError};

/// How long one command may run before it counts as hung (an infrastructure fault).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(600);

pub(crate) struct CommandExecutor {
    command: CommandConfig,
    workdir: PathBuf,
    config_file: PathBuf,
    admin: PgConnectOptions,
}

impl CommandExecutor {
    pub(crate) fn new(project: &Project, command: CommandConfig, backend: &dyn Backend) -> Result<CommandExecutor, CheckError> {
        if backend.kind() != "embedded" {
            // The URL and container backends authenticate with a password the commands would
            // need; pgconverge never hands it on.
            return Err(RunnerError::CommandRunnerNeedsEmbedded { runner: "command", backend: backend.kind().to_string() }.into());
        }
        let workdir = project.dir.join(command.workdir.as_deref().unwrap_or(std::path::Path::new(".")));
        Ok(CommandExecutor { command, workdir, config_file: project.dir.join(CONFIG_FILE), admin: crate::runner::project_options(backend) })
    }

    /// The environment that points a command at `database`.
    fn database_env(&self, database: &str) -> Vec<(String, String)> {
        let options = &self.admin;
        let user = options.get_username().to_string();
        let port = options.get_port().to_string();
        let (host, url) = match options.get_socket() {
            Some(socket) => {
                (socket.display().to_string(), format!("postgresql://{user}@localhost/{database}?host={}&port={port}", socket.display()))
            }
            None => (options.get_host().to_string(), format!("postgresql://{user}@{}:{port}/{database}", options.get_host())),
        };
        let mut env = vec![
            ("DATABASE_URL".into(), url),
            ("PGHOST".into(), host),
            ("PGPORT".into(), port),
            ("PGUSER".into(), user),
            ("PGDATABASE".into(), database.to_string()),
        ];
        env.extend(crate::runner::session::migrator_env(options).into_iter().map(|(name, value)| (name.to_string(), value)));
        env
    }

    /// Runs one command template, for `migration` when it names one; `Some` failure when it
    /// exits non-zero. `label` follows the version in the failure (`load_schema` stands alone).
    async fn run(
        &self,
        database: &str,
        template: &str,
        migration: Option<&Migration>,
        label: &str,
    ) -> Result<Option<Failure>, RunnerError> {
        let command = match migration {
            Some(migration) => template.replace("{version}", &migration.version),
            None => template.to_string(),
        };
        let child = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(&command)
            .current_dir(&self.workdir)
            .envs(self.database_env(database))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| RunnerError::Spawn { program: format!("`{command}`"), source })?;
        let output = match tokio::time::timeout(COMMAND_TIMEOUT, child.wait_with_output()).await {
            Ok(output) => output.map_err(|source| RunnerError::Spawn { program: format!("`{command}`"), source })?,
            Err(_) => return Err(RunnerError::Timeout(COMMAND_TIMEOUT, format!("`{command}` did not finish"))),
        };
        if output.status.success() {
            return Ok(None);
        }
        let mut text = String::from_utf8_lossy(&output.stderr).into_owned();
        text.push_str(&String::from_utf8_lossy(&output.stdout));
        let tail: Vec<&str> = text.lines().rev().take(12).collect::<Vec<_>>().into_iter().rev().collect();
        let file = migration.map_or_else(|| self.config_file.clone(), |m| m.up.path.clone());
        Ok(Some(Failure::StatementFailed {
            migration: migration.map_or_else(|| label.to_string(), |m| format!("{}{label}", m.version)),
            statement: 1,
            location: Location { file, line: 1, column: 1 },
            sql: command,
            error: PgError {
                code: format!("exit {}", output.status.code().map_or("signal".to_string(), |c| c.to_string())),
                message: tail.join("\n"),
                detail: None,
                hint: None,
                context: None,
                position: None,
            },
        }))
    }
}

#[async_trait::async_trait]
impl Executor for CommandExecutor {
    fn runs_sql(&self) -> bool {
        false
    }

    fn has_down(&self, _migration: &Migration) -> bool {
        self.command.down.is_some()
    }

    fn no_rerun(&self) -> Option<&'static str> {
        Some("not applicable with runner = \"command\": the migrator records what it ran and will not run it again")
    }

    async fn up(&self, target: Target<'_>, migration: &Migration) -> Result<Option<Failure>, RunnerError> {
        self.run(target.database, &self.command.up, Some(migration), "").await
    }

    async fn down(&self, target: Target<'_>, migration: &Migration) -> Result<Option<Failure>, RunnerError> {
        let down = self.command.down.as_deref().expect("called only when a down command is set");
        self.run(target.database, down, Some(migration), " (down)").await
    }

    fn loads_schema(&self) -> bool {
        self.command.load_schema.is_some()
    }

    async fn load_schema(&self, target: Target<'_>) -> Result<Option<Failure>, RunnerError> {
        let load_schema = self.command.load_schema.as_deref().expect("called only when load_schema is set");
        self.run(target.database, load_schema, None, "load_schema").await
    }
}
