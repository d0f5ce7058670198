//! A project whose migrations a framework runs through a pgconverge driver (`runner = "rails"`):
//! the versions come from the migration files' names (`db/migrate/<version>_<name>.rb`) and the
//! reference is the framework's own schema file (`db/schema.rb`), loaded by the driver.

use std::path::{Path, PathBuf};

use crate::migration::{Format, MigrationSet, Script, Span};
use crate::project::config::{Config, FrameworkKind};
use crate::project::{paths, ProjectError};

/// The framework, and where its migrations and schema file are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FrameworkProject {
    /// Which framework's driver runs the migrations.
    pub(crate) kind: FrameworkKind,
    /// The migrations directory.
    pub(crate) migrations_dir: PathBuf,
    /// The framework's schema file, the reference (`None` when it does not exist).
    pub(crate) schema: Option<PathBuf>,
}

impl FrameworkProject {
    /// Where `config` puts a `kind` project's files in `dir` (Rails: `db/migrate`, `db/schema.rb`).
    pub(crate) fn locate(dir: &Path, config: &Config, kind: FrameworkKind) -> Result<FrameworkProject, ProjectError> {
        let (migrations, schema) = match kind {
            FrameworkKind::Rails => ("db/migrate", "db/schema.rb"),
        };
        let migrations_dir = paths::join(dir, config.migrations.as_deref().unwrap_or(Path::new(migrations)));
        let schema = match &config.reference {
            Some(path) => {
                let path = paths::join(dir, path);
                if !path.is_file() {
                    return Err(ProjectError::MissingReference { path });
                }
                Some(path)
            }
            None => Some(paths::join(dir, Path::new(schema))).filter(|p| p.is_file()),
        };
        Ok(FrameworkProject { kind, migrations_dir, schema })
    }

    /// The migrations, by file name: versions in numeric order, names from the file stems. Their
    /// code is the framework's to run: the scripts are empty, naming the file.
    pub(crate) fn migrations(&self) -> Result<MigrationSet, ProjectError> {
        let files = super::command::versions_from_files(&self.migrations_dir)?;
        let migrations = files
            .into_iter()
            .map(|(version, file)| {
                let file = file.expect("read from a directory");
                let stem = file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
                let name = stem.strip_prefix(&format!("{version}_")).unwrap_or("").to_string();
                crate::migration::Migration {
                    up: Script { path: file, file_text: String::new(), section: Span { start: 0, end: 0 }, statements: vec![] },
                    version,
                    name,
                    down: None,
                    no_transaction: None,
                    repeatable: false,
                }
            })
            .collect();
        Ok(MigrationSet { dir: self.migrations_dir.clone(), format: Format::Plain, migrations, unlisted: vec![], stray: vec![] })
    }
}
