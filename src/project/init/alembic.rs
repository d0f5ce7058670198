//! `pgconverge init` on an Alembic project: an `alembic.ini` whose `script_location` holds
//! `versions/*.py`, run by Alembic (`runner = "alembic"`), with `schema.sql` as the reference
//! when there is one.

use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;

use super::InitPlan;
use crate::project::config::{Config, FrameworkKind};
use crate::project::framework::FrameworkProject;

/// The guards that make an `upgrade()` re-entrant, as Alembic projects spell them: SQL with
/// `IF NOT EXISTS`, `if_not_exists=True` (Alembic 1.13's `create_table`/`create_index`), and an
/// inspector's `has_table` / `has_index`. A regex over the Python text, not a parse: a guard in a
/// helper is not seen (the user can add the revision by hand).
static GUARD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)IF\s+NOT\s+EXISTS|if_not_exists\s*=\s*True|\.has_table\(|\.has_index\(").unwrap());

/// `def upgrade(...)` up to the next top-level statement.
static UPGRADE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?ms)^def\s+upgrade\s*\(.*?(?:^\S|\z)").unwrap());

/// The plan for an Alembic project in `dir`, or `None` when `dir` has no `alembic.ini`.
pub(super) fn plan(dir: &Path) -> Option<InitPlan> {
    if !dir.join("alembic.ini").is_file() {
        return None;
    }
    let mut guesses = vec!["runner: alembic (alembic.ini; Alembic runs the revisions through pgconverge's Python driver and the project's env.py; needs python3 with alembic, SQLAlchemy and psycopg)".to_string()];
    let mut text = String::from(
        "# Written by `pgconverge init`; every value is a guess, check it.\n# Alembic runs the revisions (pgconverge's Python driver, through the project's env.py).\nrunner = \"alembic\"\n",
    );
    let mut project = match FrameworkProject::locate(dir, &Config::default(), FrameworkKind::Alembic) {
        Ok(project) => project,
        Err(error) => {
            guesses.push(format!("warning: {error}"));
            return Some(InitPlan { config_text: text, guesses, setup_file: None });
        }
    };
    let revisions = match project.migrations() {
        Ok(set) => set.migrations,
        Err(error) => {
            guesses.push(format!("warning: the revisions do not load: {error}"));
            Vec::new()
        }
    };
    guesses.push(format!("migrations: {} ({} revisions)", project.migrations_dir.join("versions").display(), revisions.len()));
    if dir.join("schema.sql").is_file() {
        guesses.push("reference: schema.sql (pgconverge runs it as psql would; alembic_version left out of it, as pg_dump -T alembic_version writes it)".into());
    } else {
        guesses.push("reference: none (no schema.sql: the canonical run is the reference; `pg_dump --schema-only -T alembic_version` of a migrated database makes one)".into());
    }
    let guarded: Vec<(String, String)> = revisions
        .iter()
        .filter_map(|revision| {
            let source = std::fs::read_to_string(&revision.up.path).ok()?;
            let upgrade = UPGRADE.find(&source)?.as_str();
            let guard = GUARD.find(upgrade)?.as_str().to_string();
            Some((revision.version.clone(), format!("{} ({guard})", revision.name)))
        })
        .collect();
    if guarded.is_empty() {
        guesses.push("idempotent: none (no upgrade() uses IF NOT EXISTS, if_not_exists=True or an inspector's has_table/has_index)".into());
    } else {
        let versions: Vec<&str> = guarded.iter().map(|(v, _)| v.as_str()).collect();
        guesses.push(format!("idempotent: {} (their upgrade() is guarded)", versions.join(", ")));
        let entries: Vec<(&str, Option<&str>)> = guarded.iter().map(|(v, why)| (v.as_str(), Some(why.as_str()))).collect();
        super::push_idempotent(&mut text, "Revisions whose upgrade() is guarded, so they run again over what they made.", &entries);
    }
    Some(super::checked_plan(dir, text, guesses))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::config::CONFIG_FILE;

    fn alembic_branches() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/alembic_branches")
    }

    #[test]
    fn alembic_branches_gets_the_alembic_runner_and_its_guarded_revision() {
        let plan = plan(&alembic_branches()).expect("an Alembic project");
        insta::assert_snapshot!(plan.config_text);
        let guesses = plan.guesses.join("\n").replace(env!("CARGO_MANIFEST_DIR"), "<repo>");
        insta::assert_snapshot!("alembic_branches_guesses", guesses);
        let config = Config::parse(Path::new(CONFIG_FILE), &plan.config_text).unwrap();
        let ours = Config::parse(Path::new(CONFIG_FILE), &std::fs::read_to_string(alembic_branches().join(CONFIG_FILE)).unwrap()).unwrap();
        assert_eq!(config, ours, "equivalent to the config alembic_branches carries");
    }

    #[test]
    fn guards_are_read_from_upgrade_only() {
        let guarded = |source: &str| UPGRADE.find(source).and_then(|u| GUARD.find(u.as_str())).is_some();
        assert!(guarded("def upgrade():\n    op.execute('CREATE TABLE IF NOT EXISTS a (id int)')\n"));
        assert!(guarded("def upgrade() -> None:\n    op.create_table('a', sa.Column('id', sa.Integer), if_not_exists=True)\n"));
        assert!(guarded("def upgrade():\n    if not sa.inspect(op.get_bind()).has_table('a'):\n        op.create_table('a')\n"));
        assert!(!guarded("def upgrade():\n    op.create_table('a')\n\n\ndef downgrade():\n    op.execute('DROP TABLE IF EXISTS a')\n"));
        assert!(!guarded("def downgrade():\n    op.execute('CREATE TABLE IF NOT EXISTS a (id int)')\n"));
    }

    #[test]
    fn no_alembic_ini_is_no_alembic_project() {
        let dir = tempfile::tempdir().unwrap();
        assert!(plan(dir.path()).is_none());
    }
}
