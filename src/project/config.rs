//! `pgconverge.toml`: where a project's migrations and reference are, and what to check.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::migration::{location_at, Format, Layout, Location};

pub use crate::migration::layout::{ManifestUnlisted, Order, CONFIG_FILE};

/// Which migrations claim to be re-entrant: all of them, or those versions.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Idempotent {
    /// `idempotent = true`: every migration (`false`: none, the default).
    All(bool),
    /// `idempotent = ["<version>", ...]`: these migrations.
    Versions(Vec<String>),
}

impl Default for Idempotent {
    fn default() -> Self {
        Idempotent::All(false)
    }
}

/// A project's `pgconverge.toml`: every key is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The migrations directory, relative to the project (default `migrations`).
    pub migrations: Option<PathBuf>,
    /// The reference schema, relative to the project (default `schema.sql` when it exists).
    pub reference: Option<PathBuf>,
    /// The migration format (default: detected).
    pub format: Option<Format>,
    /// Which migrations claim to be re-entrant (checked by the idempotent property, and
    /// may pre-exist in generated start states).
    #[serde(default)]
    pub idempotent: Idempotent,
    /// Globs (`*`, `?`) of qualified object names left out of every comparison.
    #[serde(default)]
    pub ignore: Vec<String>,
    /// A column-order difference fails instead of warning.
    #[serde(default)]
    pub strict_column_order: bool,
    /// Owners of schemas, tables, sequences, views, types, functions, collations and
    /// extensions are compared (otherwise left out of dumps).
    #[serde(default)]
    pub compare_owners: bool,
    /// The roles that the migrations (or the reference) create by name are compared: their
    /// attributes, settings, memberships and comments. Needs `trust = "superuser"`.
    #[serde(default)]
    pub compare_roles: bool,
    /// Extensions created in every scratch database before anything else runs.
    #[serde(default)]
    pub extensions: Vec<String>,
    /// Declared dependencies: `"<version>" = ["<version it needs>", ...]`.
    #[serde(default)]
    pub dependencies: std::collections::BTreeMap<String, Vec<String>>,
    /// The properties to check (default: all that apply).
    #[serde(default)]
    pub properties: Vec<crate::model::Property>,
    /// What may pre-exist in generated start states: `migration` (default) or `object`.
    pub granularity: Option<crate::model::Granularity>,
    /// A regex with named groups `version`, `name` and optionally `direction` (`up`/`down`)
    /// matched against file names (relative to the migrations directory), for custom layouts.
    pub pattern: Option<String>,
    /// How versions sort: `numeric` (default), `lexical`, or `manifest` (an ordered file list).
    pub order: Option<Order>,
    /// With `order = "manifest"`: the manifest's file name in each (version) directory.
    pub manifest: Option<String>,
    /// With a JSON manifest: the key that holds the ordered list (default: the top-level array).
    pub manifest_key: Option<String>,
    /// With `order = "manifest"`: what a migration file its manifest does not list means,
    /// `error` (the default) or `ignore` (it is not a migration: left out, and reported).
    pub manifest_unlisted: Option<ManifestUnlisted>,
    /// Whether the migrator runs a pending migration older than one already applied: diesel,
    /// sqlx, dbmate, Rails and Alembic do; golang-migrate (its ledger is one version number)
    /// and Flyway (unless `outOfOrder`) do not. Default: false for golang-migrate and flyway.
    pub out_of_order: Option<bool>,
    /// SQL files run on every fresh database before anything else (roles, schemas, extensions).
    #[serde(default)]
    pub setup: Vec<PathBuf>,
    /// Compare what the setup files create too (default: left out of the compared result).
    #[serde(default)]
    pub setup_in_result: bool,
    /// Literal text replacements applied to migrations and the reference before parsing.
    #[serde(default)]
    pub substitutions: std::collections::BTreeMap<String, String>,
    /// A framework ledger table to create before the first migration runs.
    pub ledger: Option<Ledger>,
    /// How migrations run: `sql` (pgconverge runs the SQL, the default), `command` (the
    /// project's own migrator, see `[command]`), `rails` (ActiveRecord, through a driver) or
    /// `alembic` (Alembic, through a driver).
    pub runner: Option<RunnerKind>,
    /// The project's own migrator's commands (`[command]`, with `runner = "command"`).
    pub command: Option<CommandConfig>,
    /// What the project's SQL may do on the server: `sandbox` (the default: an unprivileged
    /// role of the run's own) or `superuser` (only for code you trust).
    #[serde(default)]
    pub trust: Trust,
    /// The paths above (`migrations`, `reference`, `setup`, `manifest`, `[command] workdir`) may
    /// lead outside the project directory: for monorepos whose shared SQL lives above the
    /// project. Otherwise such a path is an input error.
    #[serde(default)]
    pub allow_paths_outside_project: bool,
    /// How long one statement may run before pgconverge cancels it, an infrastructure error
    /// (default [`DEFAULT_STATEMENT_TIMEOUT`]; `--statement-timeout` wins).
    pub statement_timeout: Option<TimeLimit>,
    /// How long one statement may wait for a lock before pgconverge cancels it, an
    /// infrastructure error (default [`DEFAULT_LOCK_TIMEOUT`]; `--lock-timeout` wins).
    pub lock_timeout: Option<TimeLimit>,
}

/// How much of the server the project's SQL (migrations, setup files, reference) gets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Trust {
    /// A role the run creates, owns its scratch databases, and is not a superuser: no
    /// `COPY ... PROGRAM`, `ALTER SYSTEM`, untrusted languages or extensions, other databases
    /// or other roles. The setup files' `CREATE ROLE`s run on its behalf, checked.
    #[default]
    Sandbox,
    /// The role the backend connects as (a superuser on the embedded and container backends):
    /// whatever the SQL asks for. Only for code you trust.
    Superuser,
}

/// `statement_timeout` when neither pgconverge.toml nor `--statement-timeout` says.
pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// `lock_timeout` when neither pgconverge.toml nor `--lock-timeout` says.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(60);

/// A time limit, written as a whole number and a unit: `250ms`, `30s`, `5min`, `1h` (a space
/// between them is fine). As pgconverge.toml's `statement_timeout` and `lock_timeout`, and the
/// command line's `--statement-timeout` and `--lock-timeout`, take it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TimeLimit(pub Duration);

/// The longest limit PostgreSQL takes (its timeouts are a 32-bit count of milliseconds).
const LONGEST_LIMIT_MS: u64 = i32::MAX as u64;

impl std::str::FromStr for TimeLimit {
    type Err = String;

    fn from_str(text: &str) -> Result<TimeLimit, String> {
        let written = text.trim();
        let digits = written.find(|c: char| !c.is_ascii_digit()).unwrap_or(written.len());
        let (number, unit) = (&written[..digits], written[digits..].trim_start());
        let unit_ms: u64 = match unit {
            "ms" => 1,
            "s" => 1_000,
            "min" => 60_000,
            "h" => 3_600_000,
            _ => {
                return Err(format!(
                    "`{text}` is not a time limit: write a whole number and a unit, ms, s, min or h (e.g. \"30s\", \"5min\")"
                ))
            }
        };
        let number: u64 = number
            .parse()
            .map_err(|_| format!("`{text}` is not a time limit: it needs a whole number before `{unit}` (e.g. \"30s\", \"5min\")"))?;
        match number.checked_mul(unit_ms) {
            Some(0) => Err(format!("`{text}`: a time limit must be longer than 0")),
            Some(ms) if ms <= LONGEST_LIMIT_MS => Ok(TimeLimit(Duration::from_millis(ms))),
            _ => Err(format!("`{text}`: a time limit may be at most 596h (PostgreSQL's longest)")),
        }
    }
}

impl<'de> Deserialize<'de> for TimeLimit {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<TimeLimit, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The migration ledgers pgconverge can create before the first migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Ledger {
    /// `__diesel_schema_migrations`.
    Diesel,
    /// `_sqlx_migrations`.
    Sqlx,
    /// Rails' `schema_migrations` and `ar_internal_metadata`.
    Rails,
    /// `flyway_schema_history`.
    Flyway,
    /// golang-migrate's `schema_migrations` (`version`, `dirty`).
    GolangMigrate,
    /// dbmate's `schema_migrations`.
    Dbmate,
    /// `alembic_version`.
    Alembic,
}

/// What runs the migrations (`runner` in pgconverge.toml).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum RunnerKind {
    /// pgconverge runs the migrations' SQL itself, statement by statement.
    Sql,
    /// The project's own migrator runs them, through the `[command]` templates.
    Command,
    /// ActiveRecord runs them (`db/migrate/*.rb`, reference `db/schema.rb`), through
    /// pgconverge's Ruby driver: one long-lived process, not a Rails boot per step.
    Rails,
    /// Alembic runs them (the `script_location` of `alembic.ini`, reference `schema.sql`),
    /// through pgconverge's Python driver and the project's own `env.py`.
    Alembic,
}

/// The frameworks pgconverge has a driver for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum FrameworkKind {
    /// ActiveRecord (Rails), 6.1 or later.
    Rails,
    /// Alembic (SQLAlchemy), 1.13 or later.
    Alembic,
}

impl FrameworkKind {
    /// The `runner` value that names it.
    pub fn runner_name(self) -> &'static str {
        match self {
            FrameworkKind::Rails => "rails",
            FrameworkKind::Alembic => "alembic",
        }
    }
}

impl RunnerKind {
    /// The framework whose driver runs the migrations, for a driver runner.
    pub fn framework(self) -> Option<FrameworkKind> {
        match self {
            RunnerKind::Rails => Some(FrameworkKind::Rails),
            RunnerKind::Alembic => Some(FrameworkKind::Alembic),
            RunnerKind::Sql | RunnerKind::Command => None,
        }
    }
}

/// The project's own migrator, as shell command templates. `{version}` is replaced by a
/// migration's version; the commands run with `DATABASE_URL` and `PG*` set to the case's database.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandConfig {
    /// Applies one migration, e.g. `bin/rails db:migrate:up VERSION={version}`.
    pub up: String,
    /// Undoes one migration (`None`: the reversible property does not apply).
    pub down: Option<String>,
    /// Loads the reference schema, e.g. `bin/rails db:schema:load`.
    pub load_schema: Option<String>,
    /// Prints the migration versions, one per line, in order (default: the migrations directory listing).
    pub list: Option<String>,
    /// The working directory, relative to the project (default: the project directory).
    pub workdir: Option<PathBuf>,
}

/// Why `pgconverge.toml` cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file exists but cannot be read.
    #[error("{path}: cannot read: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML, has an unknown key, or a value that does not fit.
    #[error("{location}: {}", crate::migration::capped(.message))]
    Invalid {
        /// Where in the file.
        location: Location,
        /// What is wrong.
        message: String,
    },
}

impl Config {
    /// Reads `DIR/pgconverge.toml`; a missing file is the default config. Its paths must stay
    /// inside `DIR` (symlinks followed) unless `allow_paths_outside_project` is set.
    pub fn load(project_dir: &Path) -> Result<Config, ConfigError> {
        let path = project_dir.join(CONFIG_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
            Err(source) => return Err(ConfigError::Io { path, source }),
        };
        let config = Config::parse(&path, &text)?;
        if !config.allow_paths_outside_project {
            super::confined::check(project_dir, &path, &text)?;
        }
        Ok(config)
    }

    /// The keys that say how the migration files are laid out.
    pub fn layout(&self) -> Layout {
        Layout {
            format: self.format,
            pattern: self.pattern.clone(),
            order: self.order,
            manifest: self.manifest.clone(),
            manifest_key: self.manifest_key.clone(),
            manifest_unlisted: self.manifest_unlisted,
            substitutions: self.substitutions.clone(),
            config_file: PathBuf::from(CONFIG_FILE),
        }
    }

    /// Parses `text` as a `pgconverge.toml`; errors name `path` and the line and column.
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            ConfigError::Invalid { location: location_at(path, text, offset), message: e.message().to_string() }
        })?;
        if config.compare_roles && config.trust != Trust::Superuser {
            // Under the sandbox a migration cannot create a role at all: nothing to compare.
            let offset = regex::Regex::new(r"(?m)^[ \t]*compare_roles\b").expect("valid regex").find(text).map_or(0, |m| m.start());
            return Err(ConfigError::Invalid {
                location: location_at(path, text, offset),
                message: "compare_roles = true needs trust = \"superuser\": under the sandbox role migrations cannot create roles".into(),
            });
        }
        Ok(config)
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
compare_owners = true
extensions = ["pgcrypto"]
"#;
        let config = Config::parse(Path::new("pgconverge.toml"), text).unwrap();
        assert_eq!(config.format, Some(Format::GolangMigrate));
        assert_eq!(config.idempotent, Idempotent::Versions(vec!["1".into(), "2".into()]));
        assert!(config.strict_column_order);
        assert!(config.compare_owners);
        assert!(!Config::default().compare_owners);
        let roles = Config::parse(Path::new("p.toml"), "trust = \"superuser\"\ncompare_roles = true\n").unwrap();
        assert!(roles.compare_roles);
        let untrusted = Config::parse(Path::new("p.toml"), "ignore = []\ncompare_roles = true\n").unwrap_err().to_string();
        assert!(untrusted.contains("p.toml:2:1") && untrusted.contains("trust = \"superuser\""), "{untrusted}");
        let all = Config::parse(Path::new("p.toml"), "idempotent = true").unwrap();
        assert_eq!(all.idempotent, Idempotent::All(true));
    }

    #[test]
    fn time_limits_take_a_whole_number_and_a_unit() {
        for (text, ms) in [("250ms", 250), ("30s", 30_000), ("5min", 300_000), ("1h", 3_600_000), (" 2 s ", 2_000), ("596h", 2_145_600_000)]
        {
            assert_eq!(text.parse::<TimeLimit>(), Ok(TimeLimit(Duration::from_millis(ms))), "{text}");
        }
        for text in ["5", "5m", "1.5h", "min", "-1s", "0s", "597h", "99999999999999999999h", ""] {
            assert!(text.parse::<TimeLimit>().is_err(), "{text} parsed");
        }
    }

    #[test]
    fn a_bad_time_limit_names_line_and_column() {
        let text = "format = \"sqlx\"\nlock_timeout = \"1min\"\nstatement_timeout = \"5 minutes\"\n";
        let message = Config::parse(Path::new("pgconverge.toml"), text).unwrap_err().to_string();
        assert!(message.starts_with("pgconverge.toml:3:21: `5 minutes` is not a time limit"), "{message}");
        let config = Config::parse(Path::new("pgconverge.toml"), "statement_timeout = \"30s\"\nlock_timeout = \"2s\"").unwrap();
        assert_eq!(config.statement_timeout, Some(TimeLimit(Duration::from_secs(30))));
        assert_eq!(config.lock_timeout, Some(TimeLimit(Duration::from_secs(2))));
    }

    #[test]
    fn unknown_keys_name_line_and_column() {
        let err = Config::parse(Path::new("pgconverge.toml"), "format = \"sqlx\"\nidempotnt = true\n").unwrap_err();
        let message = err.to_string();
        assert!(message.starts_with("pgconverge.toml:2:1: unknown field `idempotnt`"), "{message}");
    }
}
