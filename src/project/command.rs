//! The migrations of a project whose own migrator runs them (`runner = "command"`): their
//! versions, from the `list` command or the migrations directory's file names. pgconverge does
//! not read their SQL; the executor hands each version to the migrator.

use std::path::{Path, PathBuf};

use crate::migration::{Format, Location, Migration, MigrationError, MigrationSet, Script, Span};
use crate::project::config::{CommandConfig, Config, ConfigError, CONFIG_FILE};
use crate::project::{ProjectError, DEFAULT_MIGRATIONS_DIR};

/// How long the `list` command may run.
const LIST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// The `[command]` table, or an error naming the config file when it is missing.
pub(crate) fn command_config(dir: &Path, config: &Config) -> Result<CommandConfig, ProjectError> {
    config.command.clone().ok_or_else(|| {
        ProjectError::Config(ConfigError::Invalid {
            location: Location { file: dir.join(CONFIG_FILE), line: 1, column: 1 },
            message: "runner = \"command\" needs a [command] table with at least `up`".into(),
        })
    })
}

/// The versions the migrator runs, in its order, as migrations whose SQL pgconverge does not
/// know (an empty script named after the file, when there is one).
pub(crate) fn command_migrations(dir: &Path, config: &Config, command: &CommandConfig) -> Result<MigrationSet, ProjectError> {
    let migrations_dir = super::paths::join(dir, config.migrations.as_deref().unwrap_or(Path::new(DEFAULT_MIGRATIONS_DIR)));
    let versions = match &command.list {
        Some(list) => list_versions(dir, command, list)?,
        None => versions_from_files(&migrations_dir)?,
    };
    let migrations = versions
        .into_iter()
        .map(|(version, file)| Migration {
            up: Script {
                path: file.unwrap_or_else(|| dir.join(CONFIG_FILE)),
                file_text: String::new(),
                section: Span { start: 0, end: 0 },
                statements: vec![],
            },
            version,
            name: String::new(),
            down: None,
            no_transaction: None,
            repeatable: false,
        })
        .collect();
    Ok(MigrationSet::of_migrator(migrations_dir, migrations))
}

/// `<version>_<name>.<any extension>` files, versions in numeric order.
pub(super) fn versions_from_files(dir: &Path) -> Result<Vec<(String, Option<PathBuf>)>, ProjectError> {
    let entries = std::fs::read_dir(dir).map_err(|source| MigrationError::Io { path: dir.to_path_buf(), source })?;
    let pattern = regex::Regex::new(r"^(\d+)_[^/]+$").expect("valid regex");
    let mut found: Vec<(String, Option<PathBuf>)> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let version = pattern.captures(&name)?.get(1)?.as_str().to_string();
            Some((version, Some(e.path())))
        })
        .collect();
    found.sort_by_key(|a| crate::migration::version::integer_key(&a.0));
    found.dedup_by(|a, b| a.0 == b.0);
    if found.is_empty() {
        return Err(MigrationError::Empty { path: dir.to_path_buf(), format: Format::Plain }.into());
    }
    Ok(found)
}

fn list_versions(dir: &Path, command: &CommandConfig, list: &str) -> Result<Vec<(String, Option<PathBuf>)>, ProjectError> {
    let workdir = dir.join(command.workdir.as_deref().unwrap_or(Path::new(".")));
    let mut command = std::process::Command::new("sh");
    command.arg("-c").arg(list).current_dir(&workdir);
    let output = crate::process::output_within(command, LIST_TIMEOUT);
    let invalid = |message: String| {
        ProjectError::Config(ConfigError::Invalid { location: Location { file: dir.join(CONFIG_FILE), line: 1, column: 1 }, message })
    };
    let output = output.map_err(|e| invalid(format!("the `list` command `{list}` did not run: {e}")))?;
    if !output.status.success() {
        return Err(invalid(format!(
            "the `list` command `{list}` failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    let versions: Vec<(String, Option<PathBuf>)> =
        String::from_utf8_lossy(&output.stdout).lines().map(str::trim).filter(|l| !l.is_empty()).map(|v| (v.to_string(), None)).collect();
    if versions.is_empty() {
        return Err(invalid(format!("the `list` command `{list}` printed no versions")));
    }
    Ok(versions)
}
