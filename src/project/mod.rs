//! A project directory: its config, its migration set and its reference schema, all read and
//! checked before any database is involved.

mod command;
pub mod config;
mod confined;
pub(crate) mod framework;
pub mod init;
pub(crate) mod paths;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::migration::{read_text, with_substitutions, MigrationError, MigrationSet, Script, Span};
use crate::project::config::{Config, ConfigError, Idempotent};

pub(crate) const DEFAULT_MIGRATIONS_DIR: &str = "migrations";
pub(crate) const DEFAULT_REFERENCE: &str = "schema.sql";
pub(crate) const DEFAULT_REGRESSIONS_DIR: &str = "proptest-regressions";

/// Why a project directory cannot be read as given: the user's input to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProjectError {
    /// The project path is not a directory.
    #[error("{path}: not a directory")]
    NotADirectory {
        /// The path.
        path: PathBuf,
    },
    /// `pgconverge.toml` cannot be used.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A migration, setup file or the reference cannot be read.
    #[error(transparent)]
    Migration(#[from] MigrationError),
    /// `idempotent` names a version that is not a migration.
    #[error("{config}: `idempotent` names version {version}, which is not a migration in {dir}")]
    UnknownVersion {
        /// The config file.
        config: PathBuf,
        /// The version it names.
        version: String,
        /// The migrations directory.
        dir: PathBuf,
    },
    /// The configured (or, for `dump`, the required) reference schema is not there.
    #[error("{path}: the reference schema does not exist")]
    MissingReference {
        /// Where it should be.
        path: PathBuf,
    },
}

/// A project, read and checked: its config, its migrations and its reference schema.
#[derive(Debug, Clone)]
pub struct Project {
    /// The project directory.
    pub dir: PathBuf,
    /// Its `pgconverge.toml` (the default config when there is none).
    pub config: Config,
    /// Its migrations, in canonical order.
    pub migrations: MigrationSet,
    /// The reference schema; `None` means the canonical fresh run is the reference.
    pub reference: Option<Script>,
    /// Indices (into `migrations.migrations`) of the migrations that claim to be re-entrant.
    pub(crate) reentrant: BTreeSet<usize>,
    /// The project's own migrator (`runner = "command"`), which runs the migrations instead of
    /// pgconverge; their SQL is then unknown (empty scripts).
    pub(crate) command: Option<config::CommandConfig>,
    /// The framework whose driver runs the migrations (`runner = "rails"` or `"alembic"`).
    /// Rails' schema file is the reference, which only the framework can load (`reference` is
    /// then `None`); Alembic's reference is SQL, in `reference`.
    pub(crate) framework: Option<framework::FrameworkProject>,
}

impl Project {
    /// Reads the project in `dir`: the config, the migrations and the reference. Touches no
    /// database; an error here is the user's input to fix.
    pub fn load(dir: &Path) -> Result<Project, ProjectError> {
        // `dir/.` and `./dir` read as `dir`: every path below (and in the report) is built from it.
        let dir = &paths::normalize(dir);
        if !dir.is_dir() {
            return Err(ProjectError::NotADirectory { path: dir.to_path_buf() });
        }
        let config = Config::load(dir)?;
        if let Some(kind) = config.runner.and_then(config::RunnerKind::framework) {
            let mut framework = framework::FrameworkProject::locate(dir, &config, kind)?;
            let migrations = framework.migrations()?;
            let reentrant = reentrant_indices(dir, &config, &migrations)?;
            // Alembic has no schema file of its own, and Rails' structure.sql is SQL: pgconverge
            // runs a SQL reference itself; the driver loads db/schema.rb.
            let reference = match (kind, &framework.sql_schema) {
                (config::FrameworkKind::Alembic, _) => sql_reference(dir, &config)?,
                (config::FrameworkKind::Rails, Some(path)) => Some(with_substitutions(&config.substitutions, || read_reference(path))?),
                (config::FrameworkKind::Rails, None) => None,
            };
            return Ok(Project {
                dir: dir.to_path_buf(),
                config,
                migrations,
                reference,
                reentrant,
                command: None,
                framework: Some(framework),
            });
        }
        let command = match config.runner {
            Some(config::RunnerKind::Command) => Some(command::command_config(dir, &config)?),
            _ => None,
        };
        let migrations_dir = paths::join(dir, config.migrations.as_deref().unwrap_or(Path::new(DEFAULT_MIGRATIONS_DIR)));
        let layout = config.layout().with_config_file(dir.join(config::CONFIG_FILE));
        let migrations = match &command {
            // A migrator whose migrations are SQL files pgconverge can read: their SQL names the
            // migrations and is analysed; the migrator still runs them. Otherwise (Ruby,
            // Python) only their versions are known.
            Some(command) => match MigrationSet::load_layout(&migrations_dir, &layout) {
                Ok(set) => set,
                Err(_) => command::command_migrations(dir, &config, command)?,
            },
            None => MigrationSet::load_layout(&migrations_dir, &layout)?,
        };
        let reference = sql_reference(dir, &config)?;
        let reentrant = reentrant_indices(dir, &config, &migrations)?;
        Ok(Project { dir: dir.to_path_buf(), config, migrations, reference, reentrant, command, framework: None })
    }

    /// Whether the project's migrator runs a pending migration older than one already applied
    /// (`out_of_order`; by default not for golang-migrate and Flyway, by format or ledger).
    pub(crate) fn runs_out_of_order(&self) -> bool {
        use crate::migration::Format;
        use crate::project::config::Ledger;
        self.config.out_of_order.unwrap_or(
            !matches!(self.migrations.format, Format::GolangMigrate | Format::Flyway)
                && !matches!(self.config.ledger, Some(Ledger::GolangMigrate | Ledger::Flyway)),
        )
    }

    /// The reference schema's file, when there is one.
    pub fn reference_path(&self) -> Option<&Path> {
        match self.framework.as_ref().and_then(|f| f.schema.as_deref()) {
            Some(schema) => Some(schema),
            None => self.reference.as_ref().map(|r| r.path.as_path()),
        }
    }

    /// Whether the project's own migrator (a command or a framework driver) runs the
    /// migrations, connecting to the scratch databases on its own.
    pub(crate) fn runs_own_migrator(&self) -> bool {
        self.command.is_some() || self.framework.is_some()
    }

    /// The `runner` the project's config names, for messages: `rails`, `alembic`, `command`, `sql`.
    pub(crate) fn runner_name(&self) -> &'static str {
        match (&self.framework, &self.command) {
            (Some(framework), _) => framework.kind.runner_name(),
            (None, Some(_)) => "command",
            (None, None) => "sql",
        }
    }
}

/// The SQL reference: `reference`, else `schema.sql` when it exists. `[substitutions]` apply to
/// it too.
fn sql_reference(dir: &Path, config: &Config) -> Result<Option<Script>, ProjectError> {
    let read = |path: &Path| with_substitutions(&config.substitutions, || read_reference(path));
    Ok(match &config.reference {
        Some(path) => {
            let path = paths::join(dir, path);
            if !path.is_file() {
                return Err(ProjectError::MissingReference { path });
            }
            Some(read(&path)?)
        }
        None => {
            let path = paths::join(dir, Path::new(DEFAULT_REFERENCE));
            path.is_file().then(|| read(&path)).transpose()?
        }
    })
}

/// A reference schema. psql meta-commands (`\restrict` in pg_dump >= 15.14 output, `\connect`)
/// are blanked out, keeping every other byte where it was so positions still match the file.
pub fn read_reference(path: &Path) -> Result<Script, MigrationError> {
    let text = read_text(path)?;
    let blanked: String = text
        .split_inclusive('\n')
        .map(|line| {
            if line.trim_start().starts_with('\\') {
                line.chars().map(|c| if c == '\n' { '\n' } else { ' ' }).collect()
            } else {
                line.to_string()
            }
        })
        .collect();
    let section = Span { start: 0, end: blanked.len() };
    let mut script = Script::parse(path, blanked, section)?;
    script.file_text = text;
    Ok(script)
}

fn reentrant_indices(dir: &Path, config: &Config, set: &MigrationSet) -> Result<BTreeSet<usize>, ProjectError> {
    let repeatables = set.migrations.iter().enumerate().filter(|(_, m)| m.repeatable).map(|(i, _)| i);
    let mut indices: BTreeSet<usize> = repeatables.collect();
    match &config.idempotent {
        Idempotent::All(true) => indices.extend(0..set.migrations.len()),
        Idempotent::All(false) => {}
        Idempotent::Versions(versions) => {
            for version in versions {
                let index = set.migrations.iter().position(|m| &m.version == version || m.id() == *version);
                match index {
                    Some(i) => {
                        indices.insert(i);
                    }
                    None => {
                        return Err(ProjectError::UnknownVersion {
                            config: dir.join(crate::project::config::CONFIG_FILE),
                            version: version.clone(),
                            dir: set.dir.clone(),
                        })
                    }
                }
            }
        }
    }
    Ok(indices)
}
