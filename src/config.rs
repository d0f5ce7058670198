//! `pgconverge.toml`: where a project's migrations and reference are, and what to check.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::migration::{location_at, Format, Location};

pub const CONFIG_FILE: &str = "pgconverge.toml";

/// Which migrations claim to be re-entrant: all of them, or those versions.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Idempotent {
    All(bool),
    Versions(Vec<String>),
}

impl Default for Idempotent {
    fn default() -> Self {
        Idempotent::All(false)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The migrations directory, relative to the project (default `migrations`).
    pub migrations: Option<PathBuf>,
    /// The reference schema, relative to the project (default `schema.sql` when it exists).
    pub reference: Option<PathBuf>,
    /// The migration format (default: detected).
    pub format: Option<Format>,
    #[serde(default)]
    pub idempotent: Idempotent,
    /// Globs (`*`, `?`) of qualified object names left out of every comparison.
    #[serde(default)]
    pub ignore: Vec<String>,
    /// A column-order difference fails instead of warning.
    #[serde(default)]
    pub strict_column_order: bool,
    /// Extensions created in every scratch database before anything else runs.
    #[serde(default)]
    pub extensions: Vec<String>,
    /// Declared dependencies: `"<version>" = ["<version it needs>", ...]`.
    #[serde(default)]
    pub dependencies: std::collections::BTreeMap<String, Vec<String>>,
    /// The properties to check (default: all that apply).
    #[serde(default)]
    pub properties: Vec<crate::check::Property>,
    /// What may pre-exist in generated start states: `migration` (default) or `object`.
    pub granularity: Option<crate::generate::Granularity>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read: {source}")]
    Io { path: PathBuf, #[source] source: std::io::Error },
    #[error("{location}: {message}")]
    Invalid { location: Location, message: String },
}

impl Config {
    /// Reads `DIR/pgconverge.toml`; a missing file is the default config.
    pub fn load(project_dir: &Path) -> Result<Config, ConfigError> {
        let path = project_dir.join(CONFIG_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
            Err(source) => return Err(ConfigError::Io { path, source }),
        };
        Config::parse(&path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            ConfigError::Invalid { location: location_at(path, text, offset), message: e.message().to_string() }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_key() {
        let text = r#"
migrations = "db/migrate"
reference = "db/structure.sql"
format = "golang-migrate"
idempotent = ["1", "2"]
ignore = ["public.tmp_*"]
strict_column_order = true
extensions = ["pgcrypto"]
"#;
        let config = Config::parse(Path::new("pgconverge.toml"), text).unwrap();
        assert_eq!(config.format, Some(Format::GolangMigrate));
        assert_eq!(config.idempotent, Idempotent::Versions(vec!["1".into(), "2".into()]));
        assert!(config.strict_column_order);
        let all = Config::parse(Path::new("p.toml"), "idempotent = true").unwrap();
        assert_eq!(all.idempotent, Idempotent::All(true));
    }

    #[test]
    fn unknown_keys_name_line_and_column() {
        let err = Config::parse(Path::new("pgconverge.toml"), "format = \"sqlx\"\nidempotnt = true\n").unwrap_err();
        let message = err.to_string();
        assert!(message.starts_with("pgconverge.toml:2:1: unknown field `idempotnt`"), "{message}");
    }
}
