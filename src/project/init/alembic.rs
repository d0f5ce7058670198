//! `pgconverge init` on an Alembic project: an `alembic.ini` whose `script_location` holds
//! `versions/*.py`, run by Alembic (`runner = "alembic"`), with `schema.sql` as the reference
//! when there is one.

use std::path::Path;

use super::{Guards, InitPlan};
use crate::project::config::{Config, FrameworkKind};
use crate::project::framework::FrameworkProject;

/// The plan for an Alembic project in `dir`, or `None` when `dir` has no `alembic.ini`.
pub(super) fn plan(dir: &Path, guards: Guards<'_>) -> Option<InitPlan> {
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
    let revisions = project.migrations();
    let count = revisions.as_ref().map_or(0, |set| set.migrations.len());
    if let Err(error) = &revisions {
        guesses.push(format!("warning: the revisions do not load: {error}"));
    }
    guesses.push(format!("migrations: {} ({count} revisions)", project.migrations_dir.join("versions").display()));
    if dir.join("schema.sql").is_file() {
        guesses.push("reference: schema.sql (pgconverge runs it as psql would; alembic_version left out of it, as pg_dump -T alembic_version writes it)".into());
    } else {
        guesses.push("reference: none (no schema.sql: the canonical run is the reference; `pg_dump --schema-only -T alembic_version` of a migrated database makes one)".into());
    }
    if let Ok(set) = &revisions {
        let entries = super::idempotent_entries(set, guards, &mut guesses);
        if !entries.is_empty() {
            super::push_idempotent(&mut text, &entries);
        }
    }
    Some(super::checked_plan(dir, text, guesses))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::config::CONFIG_FILE;
    use crate::project::init::testing::guards;

    fn alembic_branches() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/alembic_branches")
    }

    #[test]
    fn alembic_branches_gets_the_alembic_runner_and_its_guarded_revision() {
        let plan = plan(&alembic_branches(), &guards).expect("an Alembic project");
        insta::assert_snapshot!(plan.config_text);
        let guesses = plan.guesses.join("\n").replace(env!("CARGO_MANIFEST_DIR"), "<repo>");
        insta::assert_snapshot!("alembic_branches_guesses", guesses);
        let config = Config::parse(Path::new(CONFIG_FILE), &plan.config_text).unwrap();
        let ours = Config::parse(Path::new(CONFIG_FILE), &std::fs::read_to_string(alembic_branches().join(CONFIG_FILE)).unwrap()).unwrap();
        assert_eq!(config, ours, "equivalent to the config alembic_branches carries");
    }

    #[test]
    fn no_alembic_ini_is_no_alembic_project() {
        let dir = tempfile::tempdir().unwrap();
        assert!(plan(dir.path(), &guards).is_none());
    }
}
