//! Reading migration sets and SQL scripts from files. Never touches a database.
//!
//! A [`MigrationSet`] is the ordered list of [`Migration`]s of one directory, read in one of the
//! supported [`Format`]s. Every SQL text is split into [`Statement`]s with pg_query, so each
//! statement knows where it stands in its file and errors can name `file:line:col`.

pub(crate) mod dbmate;
pub(crate) mod detect;
pub(crate) mod diesel;
mod files;
pub(crate) mod flyway;
pub(crate) mod golang_migrate;
pub mod layout;
pub(crate) mod manifest;
pub(crate) mod pattern;
pub(crate) mod plain;
pub(crate) mod plpgsql;
pub(crate) mod split;
pub(crate) mod sqlx;
pub(crate) mod transaction;
pub(crate) mod version;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

pub use detect::{detect_format, Detection};
pub(crate) use files::is_skipped_dir;
pub use layout::Layout;
pub(crate) use layout::{substitute, with_substitutions};
pub(crate) use split::{line_col, Span};

/// A position in a file, 1-based line and column (column in characters).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    /// The file.
    pub file: PathBuf,
    /// The line, from 1.
    pub line: usize,
    /// The column, from 1, in characters.
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// Why a migration set or script could not be read. Each names the file, and where there is one,
/// the line and column.
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    /// A file or directory cannot be read.
    #[error("{path}: cannot read: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A file is not UTF-8.
    #[error("{location}: not valid UTF-8")]
    NotUtf8 {
        /// Where the first invalid byte is.
        location: Location,
    },
    /// A statement cannot be parsed (or split from the next).
    #[error("{location}: {}", capped(.message))]
    Syntax {
        /// Where the parser stopped.
        location: Location,
        /// The parser's message.
        message: String,
    },
    /// A migrations directory holds no migration of its format.
    #[error("{path}: no migrations found (format {format})")]
    Empty {
        /// The directory.
        path: PathBuf,
        /// The format it was read as.
        format: Format,
    },
    /// The migrations path is not a directory.
    #[error("{path}: not a directory")]
    NotADirectory {
        /// The path.
        path: PathBuf,
    },
    /// Two migrations have the same version.
    #[error("{path}: duplicate migration version {version} (also {other})")]
    DuplicateVersion {
        /// One of the two files.
        path: PathBuf,
        /// The other.
        other: PathBuf,
        /// The version they share.
        version: String,
    },
    /// A down migration has no up migration of the same version.
    #[error("{path}: down migration without an up migration for version {version}")]
    DownWithoutUp {
        /// The down migration's file.
        path: PathBuf,
        /// Its version.
        version: String,
    },
    /// A file's content breaks the format's rules (a dbmate file without `-- migrate:up`, a bad
    /// manifest entry, a config key that does not fit the layout).
    #[error("{location}: {}", capped(.message))]
    Invalid {
        /// Where in the file.
        location: Location,
        /// What is wrong.
        message: String,
    },
    /// No format fits the directory, or several do.
    #[error("{path}: cannot tell the migration format ({reason}); set `format` in pgconverge.toml")]
    UnknownFormat {
        /// The migrations directory.
        path: PathBuf,
        /// Why no single format fits.
        reason: String,
    },
    /// A file that looks like a migration (a `.sql` file) but does not fit the format's layout.
    #[error("{path}: {message}")]
    Unrecognized {
        /// The file.
        path: PathBuf,
        /// How it does not fit.
        message: String,
    },
}

/// The migration file layouts pgconverge reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// `<version>_<desc>.sql`, or `.up.sql` / `.down.sql`; first line `-- no-transaction`.
    Sqlx,
    /// `<version>_<name>/up.sql` and `down.sql`.
    Diesel,
    /// `<version>_<title>.up.sql` / `.down.sql`.
    GolangMigrate,
    /// `-- migrate:up` / `-- migrate:down` sections, `transaction:false`.
    Dbmate,
    /// `V<version>__<desc>.sql`, `U<version>__<desc>.sql`, `R__<desc>.sql`.
    Flyway,
    /// Any `.sql` files, applied in file-name order.
    Plain,
}

impl Format {
    pub(crate) const ALL: [Format; 6] =
        [Format::Sqlx, Format::Diesel, Format::GolangMigrate, Format::Dbmate, Format::Flyway, Format::Plain];

    /// The format's name in the config and the reports (`sqlx`, `golang-migrate`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Format::Sqlx => "sqlx",
            Format::Diesel => "diesel",
            Format::GolangMigrate => "golang-migrate",
            Format::Dbmate => "dbmate",
            Format::Flyway => "flyway",
            Format::Plain => "plain",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| format!("unknown format `{s}` (expected one of sqlx, diesel, golang-migrate, dbmate, flyway, plain)"))
    }
}

/// One SQL statement of a script.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Statement {
    /// The statement text, without the trailing `;`.
    pub sql: String,
    /// Byte range of the statement in its file.
    #[serde(skip)]
    pub(crate) span: Span,
    /// 1-based line of the statement's first character in its file.
    pub line: usize,
    /// 1-based column (in characters) of the statement's first character.
    pub column: usize,
}

/// A SQL text read from a file (a migration's up or down section, or a reference schema).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    /// The file the script was read from.
    pub path: PathBuf,
    /// The whole file's text (positions are relative to it).
    pub file_text: String,
    /// Byte range of this script's section in the file (the whole file unless the format has
    /// sections, as dbmate does).
    pub(crate) section: Span,
    /// The statements, in file order.
    pub statements: Vec<Statement>,
}

impl Script {
    /// Splits `section` of `file_text` into statements. A syntax error names file:line:col.
    pub(crate) fn parse(path: &Path, file_text: String, section: Span) -> Result<Script, MigrationError> {
        let body = &file_text[section.start..section.end];
        let spans = split::split_statements(body).map_err(|e| {
            let offset = section.start + e.offset.unwrap_or(0);
            MigrationError::Syntax { location: location_at(path, &file_text, offset), message: e.message }
        })?;
        let mut cursor = split::LineCursor::new(&file_text);
        let statements = spans
            .into_iter()
            .map(|s| {
                let span = Span { start: section.start + s.start, end: section.start + s.end };
                let (line, column) = cursor.locate(span.start);
                Statement { sql: file_text[span.start..span.end].to_string(), span, line, column }
            })
            .collect();
        Ok(Script { path: path.to_path_buf(), file_text, section, statements })
    }

    /// Reads a whole file as one script.
    pub(crate) fn read(path: &Path) -> Result<Script, MigrationError> {
        let text = read_text(path)?;
        let section = Span { start: 0, end: text.len() };
        Script::parse(path, text, section)
    }

    /// The location of a byte offset inside `statement` (for a server error position).
    pub(crate) fn location_in(&self, statement: &Statement, offset_in_statement: usize) -> Location {
        location_at(&self.path, &self.file_text, statement.span.start + offset_in_statement)
    }

    /// The location where `statement` starts.
    pub(crate) fn location_of(&self, statement: &Statement) -> Location {
        Location { file: self.path.clone(), line: statement.line, column: statement.column }
    }
}

/// The location of a byte offset in a file's text.
pub(crate) fn location_at(path: &Path, text: &str, offset: usize) -> Location {
    let (line, column) = line_col(text, offset);
    Location { file: path.to_path_buf(), line, column }
}

/// Reads a file as UTF-8; invalid bytes are reported with the line and column where they start.
/// Inside [`with_substitutions`], the active substitutions are applied to `.sql` files.
pub(crate) fn read_text(path: &Path) -> Result<String, MigrationError> {
    let bytes = std::fs::read(path).map_err(|source| MigrationError::Io { path: path.to_path_buf(), source })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let bytes = e.into_bytes();
        // The prefix up to the first bad byte is valid UTF-8 by definition.
        let prefix = std::str::from_utf8(&bytes[..valid]).unwrap_or_default();
        MigrationError::NotUtf8 { location: location_at(path, prefix, prefix.len()) }
    })?;
    // Inside `with_substitutions` (loading a layout with `[substitutions]`), `.sql` texts are
    // substituted before anything parses them.
    Ok(layout::substitute_active(path, text))
}

/// One migration: its version, its up script and optional down script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    /// The version as written in the file name (`20260216000001`, `1.2`, ...).
    pub version: String,
    /// The description part of the name (`create_invoices`).
    pub name: String,
    /// What applies the migration.
    pub up: Script,
    /// What undoes it, when the migration has a down script.
    pub down: Option<Script>,
    /// Why this migration must run outside a transaction, if it must: declared in the file
    /// (`-- no-transaction`, `transaction:false`) or detected from a statement that Postgres
    /// refuses inside a transaction block (`CREATE INDEX CONCURRENTLY`, `VACUUM`, ...).
    pub no_transaction: Option<String>,
    /// A Flyway repeatable (`R__`) migration: runs after the versioned ones, and by nature re-runs.
    pub repeatable: bool,
}

impl Migration {
    /// `<version>_<name>`, how reports name a migration.
    pub fn id(&self) -> String {
        if self.name.is_empty() {
            self.version.clone()
        } else {
            format!("{}_{}", self.version, self.name)
        }
    }

    pub(crate) fn runs_in_transaction(&self) -> bool {
        self.no_transaction.is_none()
    }
}

/// The migrations of one directory, in canonical (version) order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationSet {
    /// The migrations directory.
    pub dir: PathBuf,
    /// The format they were read in.
    pub format: Format,
    /// The migrations, in canonical order.
    pub migrations: Vec<Migration>,
    /// Migration files their manifest does not list, left out (`manifest_unlisted = "ignore"`).
    pub unlisted: Vec<PathBuf>,
    /// SQL files the format's own migrator never runs (a `.sql` file beside diesel's migration
    /// directories), left out and reported.
    pub stray: Vec<PathBuf>,
    /// Files named almost like migrations (`1_a.SQL`, `1_a.sql.bak`, `1_a.pgsql`) that no loader
    /// reads: left out, and reported so that a misnamed migration is not skipped in silence.
    pub near_misses: Vec<PathBuf>,
    /// `.sql` files in subdirectories of a directory whose format reads only its top level
    /// (every format but diesel and nested version directories): left out, and reported.
    pub in_subdirectories: Vec<PathBuf>,
    /// The file that decided the format, when it was detected (`None` when configured).
    pub detected: Option<Detection>,
}

impl MigrationSet {
    /// `migrations` of a project's own migrator (a command or a framework), listed from `dir`:
    /// nothing left out, no format detected.
    pub(crate) fn of_migrator(dir: PathBuf, migrations: Vec<Migration>) -> MigrationSet {
        MigrationSet {
            dir,
            format: Format::Plain,
            migrations,
            unlisted: vec![],
            stray: vec![],
            near_misses: vec![],
            in_subdirectories: vec![],
            detected: None,
        }
    }

    /// Reads the migrations of `dir` in `format`, or in the format [`detect_format`] finds.
    pub fn load(dir: &Path, format: Option<Format>) -> Result<MigrationSet, MigrationError> {
        let (format, detected) = match format {
            Some(format) => (format, None),
            None => detect::detect(dir)?,
        };
        let (migrations, stray) = match format {
            Format::Diesel => diesel::load_with_stray(dir)?,
            _ => (load_format(dir, format)?, Vec::new()),
        };
        let in_subdirectories = match format {
            Format::Diesel => Vec::new(),
            _ => files::sql_in_subdirectories(dir),
        };
        Ok(MigrationSet {
            dir: dir.to_path_buf(),
            format,
            migrations,
            unlisted: Vec::new(),
            stray,
            near_misses: Vec::new(),
            in_subdirectories,
            detected,
        })
    }
}

/// Reads the migrations of `dir` in `format`, in canonical order.
pub(crate) fn load_format(dir: &Path, format: Format) -> Result<Vec<Migration>, MigrationError> {
    match format {
        Format::Sqlx => sqlx::load(dir),
        Format::Diesel => diesel::load(dir),
        Format::GolangMigrate => golang_migrate::load(dir),
        Format::Dbmate => dbmate::load(dir),
        Format::Flyway => flyway::load(dir),
        Format::Plain => plain::load(dir),
    }
}

/// How much of a message that may quote the user's text an error shows.
const SNIPPET_CHARS: usize = 300;

/// `text`, cut to a few hundred characters with "…": a parser's message quotes the input from
/// where it stopped (an unterminated quote: the rest of the file), which must not flood a terminal.
pub(crate) fn capped(text: &str) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(SNIPPET_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]).into(),
        None => text.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::files::testutil::{layout, write};
    use super::*;

    type Files<'a> = &'a [(&'a str, &'a str)];

    fn load_auto(files: Files<'_>) -> Result<MigrationSet, MigrationError> {
        let dir = layout(files);
        MigrationSet::load(dir.path(), None)
    }

    #[test]
    fn auto_detection_loads_each_format() {
        let cases: [(Files<'_>, Format, &[&str]); 6] = [
            (&[("1_a/up.sql", "SELECT 1;"), ("1_a/down.sql", "SELECT 1;")], Format::Diesel, &["1_a"]),
            (&[("2_b.sql", "-- migrate:up\nSELECT 1;\n")], Format::Dbmate, &["2_b"]),
            (&[("V1__a.sql", "SELECT 1;"), ("R__v.sql", "SELECT 1;")], Format::Flyway, &["1_a", "R_v"]),
            (&[("10_b.up.sql", "SELECT 1;"), ("9_a.up.sql", "SELECT 1;")], Format::GolangMigrate, &["9_a", "10_b"]),
            (&[("10_b.sql", "SELECT 1;"), ("9_a.sql", "SELECT 1;")], Format::Sqlx, &["9_a", "10_b"]),
            (&[("b.sql", "SELECT 1;"), ("a.sql", "SELECT 1;")], Format::Plain, &["a", "b"]),
        ];
        for (files, format, ids) in cases {
            let set = load_auto(files).unwrap();
            assert_eq!(set.format, format);
            assert_eq!(set.migrations.iter().map(Migration::id).collect::<Vec<_>>(), ids, "{format}");
        }
    }

    #[test]
    fn an_explicit_format_is_used_as_given() {
        let dir = layout(&[("1_a.up.sql", "SELECT 1;")]);
        let set = MigrationSet::load(dir.path(), Some(Format::Plain)).unwrap();
        assert_eq!((set.format, set.migrations[0].version.as_str()), (Format::Plain, "1_a.up"));
    }

    #[test]
    fn syntax_error_names_file_line_and_column() {
        let err = load_auto(&[("1_a.sql", "SELECT 1;\n\nCREATE TABLEX t (id int);\n")]).unwrap_err();
        assert!(matches!(err, MigrationError::Syntax { .. }), "{err}");
        let message = err.to_string();
        assert!(message.contains("1_a.sql:3:8: syntax error"), "{message}");
    }

    #[test]
    fn non_utf8_names_file_line_and_column() {
        let dir = layout(&[("1_a.sql", "SELECT 1;")]);
        std::fs::write(dir.path().join("2_b.sql"), b"SELECT 1;\nSELECT '\xff';\n").unwrap();
        let err = MigrationSet::load(dir.path(), None).unwrap_err();
        assert!(matches!(err, MigrationError::NotUtf8 { .. }), "{err}");
        assert!(err.to_string().contains("2_b.sql:2:9: not valid UTF-8"), "{err}");
    }

    #[test]
    fn empty_directory_is_an_error_for_every_format() {
        let dir = layout(&[("README.md", "")]);
        write(dir.path(), "docs/notes.txt", "");
        for format in [None].into_iter().chain(Format::ALL.map(Some)) {
            let err = MigrationSet::load(dir.path(), format).unwrap_err();
            assert!(matches!(err, MigrationError::Empty { .. }), "{format:?}: {err}");
            assert!(err.to_string().contains("no migrations found"), "{err}");
        }
    }

    #[test]
    fn missing_or_non_directory_is_an_error() {
        let dir = layout(&[("1_a.sql", "SELECT 1;")]);
        let err = MigrationSet::load(&dir.path().join("missing"), Some(Format::Sqlx)).unwrap_err();
        assert!(matches!(err, MigrationError::Io { .. }), "{err}");
        assert!(err.to_string().contains("missing"), "{err}");
        let err = MigrationSet::load(&dir.path().join("1_a.sql"), None).unwrap_err();
        assert!(matches!(err, MigrationError::NotADirectory { .. }), "{err}");
    }

    #[test]
    fn duplicate_and_orphan_down_through_the_set() {
        let err = load_auto(&[("1_a.sql", "SELECT 1;"), ("01_b.sql", "SELECT 1;")]).unwrap_err();
        assert!(matches!(err, MigrationError::DuplicateVersion { .. }), "{err}");
        let err = load_auto(&[("1_a.up.sql", "SELECT 1;"), ("2_b.down.sql", "SELECT 1;")]).unwrap_err();
        assert!(matches!(err, MigrationError::DownWithoutUp { .. }), "{err}");
    }

    #[test]
    fn detected_reason_is_set_for_auto_loaded_sets() {
        let set = load_auto(&[("1_a.sql", "SELECT 1;\n\n  CREATE INDEX CONCURRENTLY i ON t (id);")]).unwrap();
        assert_eq!(
            set.migrations[0].no_transaction.as_deref(),
            Some("line 3: CREATE INDEX CONCURRENTLY cannot run inside a transaction block")
        );
        assert!(!set.migrations[0].runs_in_transaction());
    }
}
