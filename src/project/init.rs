//! `pgconverge init DIR`: guesses a project's `pgconverge.toml` from its files.
//!
//! It looks for the migrations directory (`migrations/`, `db/migrate/`, `migrate/`, `sql/`, or
//! DIR itself), the layout (a built-in format by the usual detection; a `pattern` for names no
//! built-in format reads, such as `V0001.Initial_Schema.up.sql`; nested version directories; a
//! manifest giving the order), the reference schema (`schema.sql`, `db/structure.sql`,
//! `structure.sql`, `db/schema.sql`), the framework ledger a migration touches (for example a
//! trigger on `__diesel_schema_migrations`), template placeholders (`{{ ... }}`, given a
//! stand-in value under `[substitutions]` so the SQL parses), and roles that the SQL grants to or
//! makes owners but never creates (created by an existing setup file, or by a
//! `pgconverge-setup.sql` that init writes), and the migrations that look re-entrant (every
//! statement that changes something guarded: listed under `idempotent`, each with a comment
//! saying how). Every guess is returned as a line of text; the written config is checked by
//! loading the project with it.
//!
//! A Rails app (`db/migrate/*.rb` with `db/schema.rb` or `db/structure.sql`) is read apart: see
//! `init/rails.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use pg_query::protobuf::{self as pb, RoleSpecType};
use pg_query::NodeEnum;
use regex::Regex;

use crate::migration::layout::is_nested;
use crate::migration::manifest::DEFAULT_MANIFEST;
use crate::migration::{detect_format, substitute, Format, MigrationSet};
use crate::project::config::{Config, Ledger, Order, CONFIG_FILE};

mod alembic;
mod rails;

/// Where init looks for migrations, in order; the project directory itself comes last.
pub(crate) const MIGRATION_DIRS: [&str; 4] = ["migrations", "db/migrate", "migrate", "sql"];
/// Where init looks for the reference schema, in order.
pub(crate) const REFERENCE_FILES: [&str; 4] = ["schema.sql", "db/structure.sql", "structure.sql", "db/schema.sql"];
/// Existing files init accepts as setup (when they create a role the SQL needs).
pub(crate) const SETUP_FILES: [&str; 5] = ["setup.sql", "pgconverge-setup.sql", "db/setup.sql", "db/roles.sql", "roles.sql"];
/// The setup file init writes for roles nothing creates.
pub(crate) const SETUP_FILE: &str = "pgconverge-setup.sql";
/// Manifest names init recognizes.
pub(crate) const MANIFEST_FILES: [&str; 2] = ["manifest.json", "manifest.txt"];
/// The prefix of the stand-in values for template placeholders.
pub(crate) const PLACEHOLDER_PREFIX: &str = "pgconverge_";

/// What `init` did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct InitOutcome {
    /// The written `pgconverge.toml`.
    pub config_path: PathBuf,
    /// What init guessed, one line each, for the CLI to print.
    pub guesses: Vec<String>,
    /// Every file written (the config first).
    pub files_written: Vec<PathBuf>,
}

/// What `init` would write, without writing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InitPlan {
    pub(crate) config_text: String,
    pub(crate) guesses: Vec<String>,
    /// A setup file to write (path relative to the project, SQL text).
    pub(crate) setup_file: Option<(PathBuf, String)>,
}

/// How a migration's text guards it, as the caller read it (see [`Guards`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Guarding {
    /// Every statement that changes something is guarded: how, each guard once.
    Guarded(Vec<String>),
    /// Some statements are guarded, and this one is not: its line and its first line of text.
    Partly { line: usize, statement: String },
    /// Every statement is guarded, but a later migration (`by`) does `what` to an object it
    /// writes (`drops column public.t.c`): re-run on the migrated database, it would undo that.
    Superseded { by: String, what: String },
    /// No statement is guarded, or there is nothing to guard.
    Unguarded,
}

/// Reads how each migration of a set is guarded, in the set's order. `crate::init` passes the
/// reading of `analysis/reentrancy.rs`, which this stage does not import (the pipeline reads
/// downward).
pub(crate) type Guards<'a> = &'a dyn Fn(&MigrationSet) -> Vec<Guarding>;

/// The header above the `idempotent` list init writes.
const IDEMPOTENT_HEADER: &str = "The migrations that look re-entrant (every statement that changes something is guarded:\n\
     # IF NOT EXISTS, a catalog lookup, ...), as init read them. The idempotent property re-runs each\n\
     # one on the migrated database; whether one belongs here is your decision.";

/// The `idempotent` guess for `set`: the versions of its guarded migrations, each with a comment
/// (its file and its guards); a guess line saying which, and one for each partly guarded one.
fn idempotent_entries(set: &MigrationSet, guards: Guards<'_>, guesses: &mut Vec<String>) -> Vec<(String, String)> {
    let mut entries = Vec::new();
    for (migration, guarding) in set.migrations.iter().zip(guards(set)).filter(|(m, _)| !m.repeatable) {
        let file = migration.up.path.strip_prefix(&set.dir).unwrap_or(&migration.up.path).display().to_string();
        match guarding {
            Guarding::Guarded(reasons) => entries.push((migration.version.clone(), format!("{file}: {}", reasons.join(", ")))),
            Guarding::Partly { line, statement } => {
                guesses.push(format!("note: {file} is partly guarded, so not listed as idempotent: line {line} ({statement}) has no guard"))
            }
            Guarding::Superseded { by, what } => guesses.push(format!(
                "note: {file} is guarded, but not listed as idempotent: {by}, a later migration, {what}, which a re-run on \
                 the migrated database would undo"
            )),
            Guarding::Unguarded => {}
        }
    }
    if entries.is_empty() {
        guesses.push("idempotent: none (no migration has a guard on every statement that changes something)".into());
    } else {
        let versions: Vec<&str> = entries.iter().map(|(v, _)| v.as_str()).collect();
        guesses.push(format!(
            "idempotent: {} (every statement that changes something is guarded; the comments in pgconverge.toml say how)",
            versions.join(", ")
        ));
    }
    entries
}

/// Appends the `idempotent = [...]` list: one version a line, each with its comment.
fn push_idempotent(text: &mut String, entries: &[(String, String)]) {
    let _ = writeln!(text, "# {IDEMPOTENT_HEADER}\nidempotent = [");
    for (version, comment) in entries {
        // A TOML comment runs to the end of its line and holds no control character.
        let comment: String = comment.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
        let _ = writeln!(text, "    {}, # {comment}", toml_string(version));
    }
    text.push_str("]\n");
}

/// The plan for `text`, with a warning among the guesses when the config does not parse.
fn checked_plan(dir: &Path, text: String, mut guesses: Vec<String>) -> InitPlan {
    if let Err(error) = Config::parse(&dir.join(CONFIG_FILE), &text) {
        guesses.push(format!("warning: the written config does not parse: {error}"));
    }
    InitPlan { config_text: text, guesses, setup_file: None }
}

/// Why `init` wrote nothing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InitError {
    /// The project path is not a directory.
    #[error("{path}: not a directory")]
    NotADirectory {
        /// The path.
        path: PathBuf,
    },
    /// The config (or setup file) exists and `force` was not given.
    #[error("{path}: already exists; pass --force to overwrite it")]
    Exists {
        /// The file that exists.
        path: PathBuf,
    },
    /// No SQL files anywhere init looks.
    #[error("{dir}: no .sql files found (looked in migrations/, db/migrate/, migrate/, sql/ and the directory itself)")]
    NoMigrations {
        /// The project directory.
        dir: PathBuf,
    },
    /// A file cannot be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
}

/// Guesses `DIR/pgconverge.toml` and writes it (with a setup file when roles need one), with
/// `guards` reading each migration for `idempotent`. An existing config or setup file is an
/// error unless `force`. The public entry is `crate::init`.
pub(crate) fn init(dir: &Path, force: bool, guards: Guards<'_>) -> Result<InitOutcome, InitError> {
    let plan = plan(dir, guards)?;
    let config_path = dir.join(CONFIG_FILE);
    let mut writes = vec![(config_path.clone(), plan.config_text.clone())];
    if let Some((rel, text)) = &plan.setup_file {
        writes.push((dir.join(rel), text.clone()));
    }
    if !force {
        if let Some((path, _)) = writes.iter().find(|(path, _)| path.exists()) {
            return Err(InitError::Exists { path: path.clone() });
        }
    }
    let mut files_written = Vec::new();
    for (path, text) in writes {
        std::fs::write(&path, text).map_err(|source| InitError::Io { path: path.clone(), source })?;
        files_written.push(path);
    }
    Ok(InitOutcome { config_path, guesses: plan.guesses, files_written })
}

/// The guesses and the config text for `dir`, nothing written.
pub(crate) fn plan(dir: &Path, guards: Guards<'_>) -> Result<InitPlan, InitError> {
    if !dir.is_dir() {
        return Err(InitError::NotADirectory { path: dir.to_path_buf() });
    }
    if let Some(plan) = rails::plan(dir, guards).or_else(|| alembic::plan(dir, guards)) {
        return Ok(plan);
    }
    let mut guesses = Vec::new();
    let mut keys = Keys::default();

    // The migrations directory.
    let (migrations_rel, migrations_dir) = find_migrations_dir(dir)?;
    let sql_files = sql_files_under(&migrations_dir, migrations_rel != ".");
    guesses.push(format!("migrations: {} ({} .sql files)", display_rel(&migrations_rel), sql_files.len()));
    keys.migrations = Some(migrations_rel.clone());

    // The reference.
    let reference = REFERENCE_FILES.iter().find(|f| dir.join(f).is_file()).map(|f| f.to_string());
    match &reference {
        Some(r) => guesses.push(format!("reference: {r}")),
        None => guesses.push("reference: none found (looked for schema.sql, db/structure.sql, structure.sql, db/schema.sql); the fresh run of the migrations is the reference".into()),
    }
    if migrations_rel == "." {
        if let Some(r) = reference.as_deref().filter(|r| !r.contains('/')) {
            guesses.push(format!(
                "warning: the migrations are in the project directory itself, so {r} is read as a migration too; move the migrations into migrations/"
            ));
        }
    }
    keys.reference = reference.clone();

    // The layout.
    let nested = is_nested(&migrations_dir).unwrap_or(false);
    let mut format = None;
    if nested {
        let dirs = version_dirs(&migrations_dir);
        let mut sorted = dirs.clone();
        sorted.sort_by_key(|d| crate::migration::version::natural_parts(d));
        let mut lexical = dirs.clone();
        lexical.sort();
        let note = if sorted != lexical { " (numeric order, which differs from text order)" } else { "" };
        guesses.push(format!("layout: nested version directories, each one version: {}{note}", sorted.join(", ")));
    } else {
        let detected = detect_format(&migrations_dir).unwrap_or(Format::Plain);
        let top_names: Vec<String> = sql_files.iter().filter(|rel| !rel.contains('/')).cloned().collect::<Vec<_>>();
        let inferred = (detected == Format::Plain && top_names.len() == sql_files.len()).then(|| infer_pattern(&top_names)).flatten();
        match inferred {
            Some(pattern) => {
                let example = top_names.iter().find(|n| !n.contains("down")).or(top_names.first()).cloned().unwrap_or_default();
                guesses.push(format!("pattern: {pattern} (file names such as {example} fit no built-in format)"));
                keys.pattern = Some(pattern);
            }
            None => {
                guesses.push(format!("format: {detected} (detected)"));
                format = Some(detected);
                keys.format = Some(detected);
            }
        }
    }

    // Manifest ordering.
    if let Some(found) = find_manifest(&migrations_dir, nested) {
        keys.order = Some(Order::Manifest);
        if found.name != DEFAULT_MANIFEST {
            keys.manifest = Some(found.name.clone());
        }
        keys.manifest_key = found.key.clone();
        let key_note = found.key.as_deref().map(|k| format!(", the list under key \"{k}\"")).unwrap_or_default();
        guesses.push(format!("order: manifest ({} in {}{key_note})", found.name, found.place));
    }

    // Texts to scan: the migrations and the reference.
    let mut migration_texts: Vec<(PathBuf, String)> = sql_files
        .iter()
        .filter_map(|rel| {
            let path = migrations_dir.join(rel);
            std::fs::read(&path).ok().map(|b| (path, String::from_utf8_lossy(&b).into_owned()))
        })
        .collect();
    // Up files first, so guesses name the file that does the thing.
    migration_texts
        .sort_by_key(|(path, _)| (crate::migration::manifest::normalize(&path.to_string_lossy()).ends_with("down.sql"), path.clone()));
    let reference_text = reference
        .as_ref()
        .and_then(|r| std::fs::read(dir.join(r)).ok())
        .map(|b| (dir.join(reference.as_deref().unwrap_or_default()), String::from_utf8_lossy(&b).into_owned()));
    let all_texts: Vec<&(PathBuf, String)> = migration_texts.iter().chain(reference_text.as_ref()).collect();

    // Template placeholders.
    let placeholders = find_placeholders(all_texts.iter().map(|(_, t)| t.as_str()));
    let mut used_values = BTreeSet::new();
    // The same expression spelled with other spacing (`{{index .X}}`, `{{ index .X }}`) is one
    // placeholder to the template engine: one value.
    let mut by_expression: BTreeMap<String, String> = BTreeMap::new();
    for placeholder in &placeholders {
        let expression = placeholder.trim_start_matches('{').trim_end_matches('}').split_whitespace().collect::<Vec<_>>().join(" ");
        let value = by_expression.entry(expression).or_insert_with(|| placeholder_value(placeholder, &mut used_values)).clone();
        guesses.push(format!("substitution: {placeholder} -> {value} (a stand-in so the SQL parses; set the value your deployment uses)"));
        keys.substitutions.insert(placeholder.clone(), value);
    }

    // The ledger.
    let detected_format = format.unwrap_or(Format::Plain);
    if let Some((ledger, table, file)) = find_ledger(&migration_texts, detected_format) {
        guesses.push(format!(
            "ledger: {} (the migration {} uses {table}, which the migration tool creates first)",
            ledger_name(ledger),
            display_path(dir, &file)
        ));
        keys.ledger = Some(ledger);
    }

    // Roles.
    let substituted = |text: &str| substitute(text, &keys.substitutions);
    let mut referenced: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut created = BTreeSet::new();
    for (path, text) in &all_texts {
        let Some(roles) = scan_roles(&substituted(text)) else {
            guesses.push(format!("note: {} does not parse; roles it uses were not looked for", display_path(dir, path)));
            continue;
        };
        created.extend(roles.created);
        for role in roles.referenced {
            referenced.entry(role).or_insert_with(|| path.clone());
        }
    }
    let missing: BTreeSet<String> = referenced.keys().filter(|r| !created.contains(*r)).cloned().collect();
    let mut still_missing = missing.clone();
    for candidate in SETUP_FILES {
        let path = dir.join(candidate);
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        let Some(roles) = scan_roles(&substituted(&text)) else { continue };
        let provides: Vec<String> = roles.created.intersection(&missing).cloned().collect();
        if !provides.is_empty() && candidate != SETUP_FILE {
            guesses.push(format!("setup: {candidate} (creates role {}, which the SQL uses)", provides.join(", ")));
            keys.setup.push(candidate.to_string());
            for role in provides {
                still_missing.remove(&role);
            }
        }
    }
    let setup_file = (!still_missing.is_empty()).then(|| {
        let mut text = String::from(
            "-- Written by `pgconverge init`: roles the migrations or the reference grant to or make owners,\n-- which nothing creates. Roles belong to the server, so pgconverge runs this before anything else.\n",
        );
        for role in &still_missing {
            let _ = writeln!(text, "CREATE ROLE {} NOLOGIN;", quote_ident(role));
        }
        let uses: Vec<String> = still_missing
            .iter()
            .map(|r| format!("{} (in {})", r, display_path(dir, &referenced[r])))
            .collect();
        guesses.push(format!("setup: {SETUP_FILE} (written; creates role {}, which nothing creates)", uses.join(", ")));
        keys.setup.push(SETUP_FILE.to_string());
        (PathBuf::from(SETUP_FILE), text)
    });

    let mut config_text = keys.render();
    // Check the guess: the config parses, and the migrations load with it; then read them for
    // `idempotent`.
    let config_path = dir.join(CONFIG_FILE);
    match Config::parse(&config_path, &config_text) {
        Ok(config) => {
            let layout = config.layout().with_config_file(config_path.clone());
            match MigrationSet::load_layout(&migrations_dir, &layout) {
                Ok(set) => {
                    guesses.push(format!("loads: {} with this config", crate::model::plural(set.migrations.len(), "migration")));
                    keys.idempotent = idempotent_entries(&set, guards, &mut guesses);
                    if !keys.idempotent.is_empty() {
                        config_text = keys.render();
                        if let Err(error) = Config::parse(&config_path, &config_text) {
                            guesses.push(format!("warning: the written config does not parse: {error}"));
                        }
                    }
                }
                Err(error) => guesses.push(format!("warning: the migrations do not load with this config: {error}")),
            }
        }
        Err(error) => guesses.push(format!("warning: the written config does not parse: {error}")),
    }
    Ok(InitPlan { config_text, guesses, setup_file })
}

/// The keys init writes.
#[derive(Debug, Default)]
struct Keys {
    migrations: Option<String>,
    reference: Option<String>,
    format: Option<Format>,
    pattern: Option<String>,
    order: Option<Order>,
    manifest: Option<String>,
    manifest_key: Option<String>,
    ledger: Option<Ledger>,
    setup: Vec<String>,
    substitutions: BTreeMap<String, String>,
    /// Versions and their comments.
    idempotent: Vec<(String, String)>,
}

impl Keys {
    fn render(&self) -> String {
        let mut out = String::from("# Written by `pgconverge init`; every value is a guess, check it.\n");
        let mut line = |key: &str, value: String| {
            let _ = writeln!(out, "{key} = {value}");
        };
        if let Some(m) = &self.migrations {
            line("migrations", toml_string(m));
        }
        if let Some(r) = &self.reference {
            line("reference", toml_string(r));
        }
        if let Some(f) = self.format {
            line("format", toml_string(f.name()));
        }
        if let Some(p) = &self.pattern {
            line("pattern", toml_string(p));
        }
        if let Some(o) = self.order {
            let name = match o {
                Order::Numeric => "numeric",
                Order::Lexical => "lexical",
                Order::Manifest => "manifest",
            };
            line("order", toml_string(name));
        }
        if let Some(m) = &self.manifest {
            line("manifest", toml_string(m));
        }
        if let Some(k) = &self.manifest_key {
            line("manifest_key", toml_string(k));
        }
        if let Some(l) = self.ledger {
            line("ledger", toml_string(ledger_name(l)));
        }
        if !self.setup.is_empty() {
            line("setup", format!("[{}]", self.setup.iter().map(|s| toml_string(s)).collect::<Vec<_>>().join(", ")));
        }
        if !self.idempotent.is_empty() {
            push_idempotent(&mut out, &self.idempotent);
        }
        if !self.substitutions.is_empty() {
            out.push_str("\n# Stand-in values for template placeholders, so the SQL parses; set the real ones.\n[substitutions]\n");
            for (key, value) in &self.substitutions {
                let _ = writeln!(out, "{} = {}", toml_string(key), toml_string(value));
            }
        }
        out
    }
}

pub(crate) fn ledger_name(ledger: Ledger) -> &'static str {
    match ledger {
        Ledger::Diesel => "diesel",
        Ledger::Sqlx => "sqlx",
        Ledger::Rails => "rails",
        Ledger::Flyway => "flyway",
        Ledger::GolangMigrate => "golang-migrate",
        Ledger::Dbmate => "dbmate",
        Ledger::Alembic => "alembic",
    }
}

/// A TOML string: a literal `'...'` string when possible (patterns keep their backslashes
/// readable), a basic string otherwise.
fn toml_string(s: &str) -> String {
    if !s.contains(['"', '\\']) && !s.chars().any(|c| c.is_control()) {
        format!("\"{s}\"")
    } else if !s.contains('\'') && !s.chars().any(|c| c.is_control()) {
        format!("'{s}'")
    } else {
        toml::Value::String(s.to_string()).to_string()
    }
}

fn display_rel(rel: &str) -> String {
    if rel == "." {
        "the project directory itself".into()
    } else {
        format!("{rel}/")
    }
}

fn display_path(dir: &Path, path: &Path) -> String {
    path.strip_prefix(dir).unwrap_or(path).display().to_string()
}

fn find_migrations_dir(dir: &Path) -> Result<(String, PathBuf), InitError> {
    for rel in MIGRATION_DIRS {
        let path = dir.join(rel);
        if path.is_dir() && !sql_files_under(&path, true).is_empty() {
            return Ok((rel.to_string(), path));
        }
    }
    if !sql_files_under(dir, false).is_empty() {
        return Ok((".".into(), dir.to_path_buf()));
    }
    Err(InitError::NoMigrations { dir: dir.to_path_buf() })
}

/// `.sql` files under `dir` (relative, `/` separators, sorted), two levels deep when `deep`.
fn sql_files_under(dir: &Path, deep: bool) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, depth: usize, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            if path.is_dir() {
                if depth > 0 {
                    walk(base, &path, depth - 1, out);
                }
            } else if name.ends_with(".sql") {
                let rel = path.strip_prefix(base).unwrap_or(&path);
                out.push(rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect::<Vec<_>>().join("/"));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, if deep { 2 } else { 0 }, &mut out);
    out.sort();
    out
}

fn version_dirs(dir: &Path) -> Vec<String> {
    let mut dirs: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().is_dir() && !sql_files_under(&e.path(), false).is_empty())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    dirs.sort();
    dirs
}

/// A guessed file-name pattern for names that fit no built-in format: a common letter prefix,
/// a numeric version, one separator, a name, and optionally `.up`/`.down`.
pub(crate) fn infer_pattern(names: &[String]) -> Option<String> {
    static SHAPE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^([A-Za-z]*)(\d+(?:\.\d+)*?)([._-])(.+?)(?:\.(up|down))?\.sql$").expect("valid regex"));
    if names.is_empty() {
        return None;
    }
    let mut prefix = None;
    let mut separator = None;
    let mut directions = BTreeSet::new();
    let mut dotted_version = false;
    let mut dotted_name = false;
    for name in names {
        let caps = SHAPE.captures(name)?;
        let p = caps[1].to_string();
        let s = caps[3].to_string();
        if prefix.get_or_insert(p.clone()) != &p || separator.get_or_insert(s.clone()) != &s {
            return None;
        }
        dotted_version |= caps[2].contains('.');
        dotted_name |= caps[4].contains('.');
        directions.insert(caps.get(5).is_some());
    }
    if directions.len() != 1 {
        return None;
    }
    let has_direction = directions.contains(&true);
    let separator = separator.unwrap_or_default();
    if dotted_version && separator == "." {
        return None;
    }
    let version = if dotted_version { r"\d+(?:\.\d+)*" } else { r"\d+" };
    let name = if separator == "." || !dotted_name { "[^.]+" } else { ".+?" };
    if separator == "." && dotted_name {
        return None;
    }
    let direction = if has_direction { r"\.(?P<direction>up|down)" } else { "" };
    let pattern = format!(
        "^{}(?P<version>{version}){}(?P<name>{name}){direction}\\.sql$",
        regex::escape(prefix.as_deref().unwrap_or_default()),
        regex::escape(&separator)
    );
    // The guess must read every name.
    let compiled = Regex::new(&pattern).ok()?;
    names.iter().all(|n| compiled.is_match(n)).then_some(pattern)
}

struct FoundManifest {
    name: String,
    key: Option<String>,
    place: String,
}

fn find_manifest(migrations_dir: &Path, nested: bool) -> Option<FoundManifest> {
    let mut places = vec![(migrations_dir.to_path_buf(), "the migrations directory".to_string())];
    if nested {
        for d in version_dirs(migrations_dir) {
            places.push((migrations_dir.join(&d), "each version directory".to_string()));
        }
    }
    for (place, description) in places {
        for name in MANIFEST_FILES {
            let path = place.join(name);
            if path.is_file() {
                let key = if name.ends_with(".json") { json_list_key(&path) } else { None };
                return Some(FoundManifest { name: name.to_string(), key, place: description });
            }
        }
    }
    None
}

/// For a JSON manifest that is an object, the key holding an array of strings.
fn json_list_key(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    let object = value.as_object()?;
    object.iter().find(|(_, v)| v.as_array().is_some_and(|a| !a.is_empty() && a.iter().all(|x| x.is_string()))).map(|(k, _)| k.clone())
}

/// Distinct `{{ ... }}` placeholders, in order of first appearance.
pub(crate) fn find_placeholders<'a>(texts: impl Iterator<Item = &'a str>) -> Vec<String> {
    static PLACEHOLDER: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\{\{[^\n]*?\}\}").expect("valid regex"));
    let mut seen = Vec::new();
    for text in texts {
        for m in PLACEHOLDER.find_iter(text) {
            if !seen.iter().any(|s| s == m.as_str()) {
                seen.push(m.as_str().to_string());
            }
        }
    }
    seen
}

/// `pgconverge_<last word of the placeholder>`, unique among `used`.
fn placeholder_value(placeholder: &str, used: &mut BTreeSet<String>) -> String {
    static WORD: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"[A-Za-z][A-Za-z0-9_]*").expect("valid regex"));
    let word = WORD.find_iter(placeholder).last().map(|m| m.as_str().to_ascii_lowercase()).unwrap_or_else(|| "placeholder".into());
    let base = format!("{PLACEHOLDER_PREFIX}{word}");
    let mut value = base.clone();
    let mut n = 2;
    while !used.insert(value.clone()) {
        value = format!("{base}_{n}");
        n += 1;
    }
    value
}

/// The ledger a migration uses (but does not create), with the table and the file.
fn find_ledger(texts: &[(PathBuf, String)], format: Format) -> Option<(Ledger, &'static str, PathBuf)> {
    let rails_like = match format {
        Format::GolangMigrate => Ledger::GolangMigrate,
        Format::Dbmate => Ledger::Dbmate,
        _ => Ledger::Rails,
    };
    let tables: [(&'static str, Ledger); 5] = [
        ("__diesel_schema_migrations", Ledger::Diesel),
        ("_sqlx_migrations", Ledger::Sqlx),
        ("flyway_schema_history", Ledger::Flyway),
        ("alembic_version", Ledger::Alembic),
        ("schema_migrations", rails_like),
    ];
    for (table, ledger) in tables {
        let uses = Regex::new(&format!(r#"(?i)(?:^|[^A-Za-z0-9_])"?{table}"?(?:[^A-Za-z0-9_]|$)"#)).ok()?;
        let creates = Regex::new(&format!(r#"(?i)CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(?:"?public"?\.)?"?{table}"?"#)).ok()?;
        if texts.iter().any(|(_, t)| creates.is_match(t)) {
            continue;
        }
        if let Some((path, _)) = texts.iter().find(|(_, t)| uses.is_match(t)) {
            return Some((ledger, table, path.clone()));
        }
    }
    None
}

/// Roles a SQL text names (grantees, owners, policy roles, schema authorizations, granted
/// roles, `FOR ROLE`) and roles it creates. `None` when it does not parse.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct RoleUse {
    pub(crate) referenced: BTreeSet<String>,
    pub(crate) created: BTreeSet<String>,
}

pub(crate) fn scan_roles(sql: &str) -> Option<RoleUse> {
    let parsed = pg_query::parse(sql, 0).ok()?;
    let mut uses = RoleUse::default();
    for raw in &parsed.protobuf.stmts {
        let Some(node) = raw.stmt.as_ref().and_then(|n| n.node.as_ref()) else { continue };
        statement_roles(node, &mut uses);
    }
    uses.referenced.retain(|r| !is_builtin_role(r));
    Some(uses)
}

fn is_builtin_role(role: &str) -> bool {
    role.starts_with("pg_") || role == "postgres"
}

fn statement_roles(node: &NodeEnum, uses: &mut RoleUse) {
    let mut add = |spec: Option<&pb::RoleSpec>| {
        if let Some(spec) = spec.filter(|s| s.roletype == RoleSpecType::RolespecCstring as i32) {
            uses.referenced.insert(spec.rolename.clone());
        }
    };
    let spec_of = |n: &pb::Node| match n.node.as_ref() {
        Some(NodeEnum::RoleSpec(spec)) => Some(spec.clone()),
        _ => None,
    };
    match node {
        NodeEnum::GrantStmt(g) => g.grantees.iter().for_each(|n| add(spec_of(n).as_ref())),
        NodeEnum::AlterOwnerStmt(a) => add(a.newowner.as_ref()),
        NodeEnum::AlterTableStmt(a) => {
            for cmd in &a.cmds {
                if let Some(NodeEnum::AlterTableCmd(c)) = cmd.node.as_ref() {
                    add(c.newowner.as_ref());
                }
            }
        }
        NodeEnum::CreateSchemaStmt(s) => {
            add(s.authrole.as_ref());
            for element in &s.schema_elts {
                if let Some(inner) = element.node.as_ref() {
                    statement_roles(inner, uses);
                }
            }
        }
        NodeEnum::CreatePolicyStmt(p) => p.roles.iter().for_each(|n| add(spec_of(n).as_ref())),
        NodeEnum::AlterPolicyStmt(p) => p.roles.iter().for_each(|n| add(spec_of(n).as_ref())),
        NodeEnum::GrantRoleStmt(g) => {
            g.grantee_roles.iter().for_each(|n| add(spec_of(n).as_ref()));
            for granted in &g.granted_roles {
                if let Some(NodeEnum::AccessPriv(p)) = granted.node.as_ref() {
                    if !p.priv_name.is_empty() {
                        uses.referenced.insert(p.priv_name.clone());
                    }
                }
            }
        }
        NodeEnum::AlterDefaultPrivilegesStmt(a) => {
            for option in &a.options {
                if let Some(NodeEnum::DefElem(d)) = option.node.as_ref() {
                    if d.defname == "roles" {
                        if let Some(NodeEnum::List(list)) = d.arg.as_ref().and_then(|a| a.node.as_ref()) {
                            list.items.iter().for_each(|n| add(spec_of(n).as_ref()));
                        }
                    }
                }
            }
            if let Some(action) = &a.action {
                action.grantees.iter().for_each(|n| add(spec_of(n).as_ref()));
            }
        }
        NodeEnum::CreateRoleStmt(c) => {
            uses.created.insert(c.role.clone());
        }
        _ => {}
    }
}

fn quote_ident(name: &str) -> String {
    let plain = name.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// What the tests of init pass for [`Guards`]: the reading `crate::init` passes.
#[cfg(test)]
pub(crate) mod testing {
    use super::Guarding;
    use crate::migration::MigrationSet;

    pub(crate) fn guards(set: &MigrationSet) -> Vec<Guarding> {
        crate::analysis::reentrancy::guarding_all(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn infers_patterns_for_unknown_names() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            infer_pattern(&names(&["V0001.Initial_Schema.up.sql", "V0001.Initial_Schema.down.sql", "V0002.Users.up.sql"])).as_deref(),
            Some(r"^V(?P<version>\d+)\.(?P<name>[^.]+)\.(?P<direction>up|down)\.sql$")
        );
        assert_eq!(
            infer_pattern(&names(&["0001-init.sql", "0002-users.v2.sql"])).as_deref(),
            Some(r"^(?P<version>\d+)\-(?P<name>.+?)\.sql$")
        );
        assert_eq!(infer_pattern(&names(&["schema.sql"])), None);
        assert_eq!(infer_pattern(&names(&["V1.a.up.sql", "X2.b.up.sql"])), None);
    }

    #[test]
    fn finds_roles_used_and_created() {
        let sql = "CREATE ROLE app_writer;\nGRANT SELECT ON t TO app_reader, PUBLIC;\nALTER TABLE t OWNER TO owner_role;\n\
                   ALTER FUNCTION f() OWNER TO CURRENT_USER;\nGRANT app_writer TO app_user;\n\
                   CREATE POLICY p ON t TO tenant_role USING (true);\nCREATE SCHEMA s AUTHORIZATION schema_owner;\n\
                   ALTER DEFAULT PRIVILEGES FOR ROLE deployer GRANT SELECT ON TABLES TO pg_read_all_data;";
        let uses = scan_roles(sql).unwrap();
        let referenced: Vec<_> = uses.referenced.iter().map(String::as_str).collect();
        assert_eq!(referenced, vec!["app_reader", "app_user", "app_writer", "deployer", "owner_role", "schema_owner", "tenant_role"]);
        assert_eq!(uses.created.into_iter().collect::<Vec<_>>(), vec!["app_writer"]);
        assert_eq!(scan_roles("GRANT {{ x }}"), None);
    }

    #[test]
    fn placeholders_get_distinct_parseable_values() {
        let found = find_placeholders(["a {{ index .Options \"Namespace\" }} b {{ .Env }}", "{{ .Env }}"].into_iter());
        assert_eq!(found, vec!["{{ index .Options \"Namespace\" }}", "{{ .Env }}"]);
        let mut used = BTreeSet::new();
        assert_eq!(placeholder_value(&found[0], &mut used), "pgconverge_namespace");
        assert_eq!(placeholder_value("{{ .Namespace }}", &mut used), "pgconverge_namespace_2");
        assert_eq!(placeholder_value("{{ }}", &mut used), "pgconverge_placeholder");
    }

    #[test]
    fn toml_strings_round_trip() {
        for s in [r"^V(?P<version>\d+)\.sql$", "it's", "{{ index .Options \"Namespace\" }}"] {
            let text = format!("k = {}\n", toml_string(s));
            let table: toml::Table = toml::from_str(&text).unwrap();
            assert_eq!(table["k"].as_str(), Some(s), "{text}");
        }
    }
}
