//! `pgconverge init` on a Rails app: `db/migrate/*.rb` with `db/schema.rb` or `db/structure.sql`,
//! run by ActiveRecord (`runner = "rails"`).

use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;

use super::{Guards, InitPlan};
use crate::project::config::{Config, FrameworkKind};
use crate::project::framework::FrameworkProject;

/// Where a Rails app keeps its migrations.
const MIGRATE_DIR: &str = "db/migrate";
/// The reference Rails writes with `schema_format = :ruby`, the default.
const SCHEMA_RB: &str = "db/schema.rb";
/// The reference Rails writes with `schema_format = :sql`.
const STRUCTURE_SQL: &str = "db/structure.sql";

/// `<version>_<name>.rb`, as Rails names a migration.
static MIGRATION_FILE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^(\d+)_\w+\.rb$").unwrap());

/// How many `.rb` migrations `migrate_dir` holds.
fn migration_count(migrate_dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(migrate_dir) else { return 0 };
    entries.flatten().filter(|entry| MIGRATION_FILE.is_match(&entry.file_name().to_string_lossy())).count()
}

/// The plan for a Rails app in `dir`, or `None` when `dir` is not one (no `db/migrate/*.rb`, or
/// neither `db/schema.rb` nor `db/structure.sql`).
pub(super) fn plan(dir: &Path, guards: Guards<'_>) -> Option<InitPlan> {
    let count = migration_count(&dir.join(MIGRATE_DIR));
    if count == 0 {
        return None;
    }
    let schema_rb = dir.join(SCHEMA_RB).is_file();
    if !schema_rb && !dir.join(STRUCTURE_SQL).is_file() {
        return None;
    }
    let mut guesses = vec![format!("migrations: {MIGRATE_DIR}/ ({count} .rb files: a Rails app)")];
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
    let migrations = FrameworkProject::locate(dir, &Config::default(), FrameworkKind::Rails).and_then(|mut project| project.migrations());
    match migrations {
        Ok(set) => {
            let entries = super::idempotent_entries(&set, guards, &mut guesses);
            if !entries.is_empty() {
                super::push_idempotent(&mut text, &entries);
            }
        }
        Err(error) => guesses.push(format!("warning: the migrations were not read for `idempotent`: {error}")),
    }
    Some(super::checked_plan(dir, text, guesses))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::config::CONFIG_FILE;
    use crate::project::init::testing::guards;

    fn k12_rails() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/k12_rails")
    }

    #[test]
    fn k12_rails_gets_the_rails_runner_and_its_seven_guarded_versions() {
        let plan = plan(&k12_rails(), &guards).expect("a Rails app");
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
        assert!(plan(dir.path(), &guards).is_none(), "no migrations");
        std::fs::write(
            dir.path().join("db/migrate/20260101000001_create_a.rb"),
            "class CreateA\n  def up\n    return if table_exists?(:a)\n    create_table :a\n  end\nend\n",
        )
        .unwrap();
        assert!(plan(dir.path(), &guards).is_none(), "no reference");
        std::fs::write(dir.path().join("db/structure.sql"), "CREATE TABLE a (id int);\n").unwrap();
        let plan = plan(dir.path(), &guards).expect("a Rails app");
        let config = Config::parse(Path::new(CONFIG_FILE), &plan.config_text).unwrap();
        assert_eq!(config.runner, Some(crate::project::config::RunnerKind::Rails), "{}", plan.config_text);
        assert_eq!(config.reference.as_deref(), Some(Path::new("db/structure.sql")), "{}", plan.config_text);
        assert_eq!(config.idempotent, crate::project::config::Idempotent::Versions(vec!["20260101000001".into()]), "{}", plan.config_text);
    }
}
