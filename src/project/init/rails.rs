//! `pgconverge init` on a Rails app: `db/migrate/*.rb` with `db/schema.rb` or `db/structure.sql`,
//! run by ActiveRecord (`runner = "rails"`).

use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;

use super::InitPlan;

/// Where a Rails app keeps its migrations.
const MIGRATE_DIR: &str = "db/migrate";
/// The reference Rails writes with `schema_format = :ruby`, the default.
const SCHEMA_RB: &str = "db/schema.rb";
/// The reference Rails writes with `schema_format = :sql`.
const STRUCTURE_SQL: &str = "db/structure.sql";

/// `<version>_<name>.rb`, as Rails names a migration.
static MIGRATION_FILE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^(\d+)_\w+\.rb$").unwrap());

/// An `up` or `change` whose first statement (after blank and comment lines) is a guard that
/// makes it re-entrant. A regex over the Ruby text, not a parse: it reads the usual spelling and
/// nothing cleverer (a guard further down, or in a helper, is not seen; the user can add the
/// version by hand).
static GUARDED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?m)^\s*def\s+(?:up|change)\s*\n(?:\s*(?:#.*)?\n)*\s*(?:return\s+if\s+(?:table_exists|index_exists)\?|unless\s+table_exists\?)",
    )
    .unwrap()
});

/// The versions of the `.rb` migrations in `migrate_dir`, each with whether it starts with a
/// guard, in version order.
fn migrations(migrate_dir: &Path) -> Vec<(String, bool)> {
    let Ok(entries) = std::fs::read_dir(migrate_dir) else { return Vec::new() };
    let mut found: Vec<(String, bool)> = entries
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let version = MIGRATION_FILE.captures(&name)?[1].to_string();
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            Some((version, GUARDED.is_match(&text)))
        })
        .collect();
    found.sort_by_key(|(version, _)| crate::migration::version::natural_parts(version));
    found
}

/// The plan for a Rails app in `dir`, or `None` when `dir` is not one (no `db/migrate/*.rb`, or
/// neither `db/schema.rb` nor `db/structure.sql`).
pub(super) fn plan(dir: &Path) -> Option<InitPlan> {
    let migrations = migrations(&dir.join(MIGRATE_DIR));
    if migrations.is_empty() {
        return None;
    }
    let schema_rb = dir.join(SCHEMA_RB).is_file();
    if !schema_rb && !dir.join(STRUCTURE_SQL).is_file() {
        return None;
    }
    let mut guesses = vec![format!("migrations: {MIGRATE_DIR}/ ({} .rb files: a Rails app)", migrations.len())];
    let guarded: Vec<&str> = migrations.iter().filter(|(_, guarded)| *guarded).map(|(v, _)| v.as_str()).collect();
    let mut text = String::from("# Written by `pgconverge init`; every value is a guess, check it.\n");
    guesses.push(
        "runner: rails (ActiveRecord runs the migrations through pgconverge's Ruby driver; needs ruby with the activerecord and pg gems)"
            .into(),
    );
    if schema_rb {
        guesses.push(format!("reference: {SCHEMA_RB}"));
        text.push_str(
            "# ActiveRecord runs db/migrate/*.rb (pgconverge's Ruby driver); db/schema.rb is the reference.\nrunner = \"rails\"\n",
        );
    } else {
        guesses.push(format!("reference: {STRUCTURE_SQL} (schema_format = :sql; pgconverge runs it as psql would)"));
        text.push_str(&format!(
            "# ActiveRecord runs db/migrate/*.rb (pgconverge's Ruby driver); {STRUCTURE_SQL} is the reference.\nrunner = \"rails\"\nreference = \"{STRUCTURE_SQL}\"\n"
        ));
    }
    if guarded.is_empty() {
        guesses.push(
            "idempotent: none (no up or change starts with `return if table_exists?`, `return if index_exists?` or `unless table_exists?`)"
                .into(),
        );
    } else {
        guesses.push(format!("idempotent: {} (their up or change starts with a table_exists?/index_exists? guard)", guarded.join(", ")));
        let entries: Vec<(&str, Option<&str>)> = guarded.iter().map(|v| (*v, None)).collect();
        super::push_idempotent(
            &mut text,
            "The migrations whose up or change starts with a table_exists?/index_exists? guard are re-entrant.",
            &entries,
        );
    }
    Some(super::checked_plan(dir, text, guesses))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::config::{Config, CONFIG_FILE};

    fn k12_rails() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/k12_rails")
    }

    #[test]
    fn guards_are_read_from_up_and_change() {
        let guarded = |body: &str| GUARDED.is_match(body);
        assert!(guarded("  def up\n    return if table_exists?(:a)\n"));
        assert!(guarded("  def change\n    # re-entrant\n\n    return if index_exists?(:a, :b)\n"));
        assert!(guarded("  def change\n    unless table_exists?(:a)\n"));
        assert!(!guarded("  def up\n    create_table :a\n    return if table_exists?(:a)\n"), "not the first statement");
        assert!(!guarded("  def down\n    return if table_exists?(:a)\n"));
        assert!(!guarded("  def up\n    return if column_exists?(:a, :b)\n"));
    }

    #[test]
    fn k12_rails_gets_the_rails_runner_and_its_seven_guarded_versions() {
        let plan = plan(&k12_rails()).expect("a Rails app");
        insta::assert_snapshot!(plan.config_text);
        insta::assert_snapshot!("k12_rails_guesses", plan.guesses.join("\n"));
        let config = Config::parse(Path::new(CONFIG_FILE), &plan.config_text).unwrap();
        let ours = Config::parse(Path::new(CONFIG_FILE), &std::fs::read_to_string(k12_rails().join(CONFIG_FILE)).unwrap()).unwrap();
        assert_eq!(config, ours, "equivalent to the config k12_rails carries");
    }

    #[test]
    fn structure_sql_gets_the_rails_runner_and_no_rails_app_gets_none() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("db/migrate")).unwrap();
        assert!(plan(dir.path()).is_none(), "no migrations");
        std::fs::write(
            dir.path().join("db/migrate/20260101000001_create_a.rb"),
            "class CreateA\n  def up\n    return if table_exists?(:a)\n",
        )
        .unwrap();
        assert!(plan(dir.path()).is_none(), "no reference");
        std::fs::write(dir.path().join("db/structure.sql"), "CREATE TABLE a (id int);\n").unwrap();
        let plan = plan(dir.path()).expect("a Rails app");
        let config = Config::parse(Path::new(CONFIG_FILE), &plan.config_text).unwrap();
        assert_eq!(config.runner, Some(crate::project::config::RunnerKind::Rails), "{}", plan.config_text);
        assert_eq!(config.reference.as_deref(), Some(Path::new("db/structure.sql")), "{}", plan.config_text);
        assert_eq!(config.idempotent, crate::project::config::Idempotent::Versions(vec!["20260101000001".into()]), "{}", plan.config_text);
    }
}
