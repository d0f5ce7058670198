//! A project whose migrations a framework runs through a pgconverge driver. Rails: the versions
//! come from the migration files' names (`db/migrate/<version>_<name>.rb`) and the reference is
//! the framework's own schema file (`db/schema.rb`), loaded by the driver. Alembic: the versions
//! are the revision ids the revision files declare, in dependency order, and the reference is a
//! plain SQL `schema.sql` (a `pg_dump --schema-only`), which pgconverge runs itself.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::migration::{location_at, Format, Location, Migration, MigrationError, MigrationSet, Script, Span};
use crate::project::config::{Config, FrameworkKind};
use crate::project::{paths, ProjectError};

/// The framework, and where its migrations and schema file are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FrameworkProject {
    /// Which framework's driver runs the migrations.
    pub(crate) kind: FrameworkKind,
    /// The migrations directory (Alembic: the `script_location`, holding env.py and versions/).
    pub(crate) migrations_dir: PathBuf,
    /// The framework's schema file, the reference the driver loads (`None` when it does not
    /// exist, when it is SQL, and always for Alembic).
    pub(crate) schema: Option<PathBuf>,
    /// A SQL reference (Rails' `db/structure.sql`), which pgconverge runs itself as psql would;
    /// Alembic's is read from `reference` (default `schema.sql`) by [`crate::project::Project::load`].
    pub(crate) sql_schema: Option<PathBuf>,
    /// Alembic's `alembic.ini`, when the project has one.
    pub(crate) ini: Option<PathBuf>,
    /// The dependencies the framework itself declares (Alembic's `down_revision` and
    /// `depends_on`), read with the migrations: (dependent, dependency, why).
    pub(crate) declared: Vec<(String, String, String)>,
}

impl FrameworkProject {
    /// Where `config` puts a `kind` project's files in `dir` (Rails: `db/migrate`, `db/schema.rb`).
    pub(crate) fn locate(dir: &Path, config: &Config, kind: FrameworkKind) -> Result<FrameworkProject, ProjectError> {
        if kind == FrameworkKind::Alembic {
            return Self::locate_alembic(dir, config);
        }
        let migrations_dir = paths::join(dir, config.migrations.as_deref().unwrap_or(Path::new("db/migrate")));
        // `schema_format = :ruby` writes db/schema.rb (the driver loads it), `:sql` db/structure.sql.
        let reference = match &config.reference {
            Some(path) => {
                let path = paths::join(dir, path);
                if !path.is_file() {
                    return Err(ProjectError::MissingReference { path });
                }
                Some(path)
            }
            None => ["db/schema.rb", "db/structure.sql"].iter().map(|p| paths::join(dir, Path::new(p))).find(|p| p.is_file()),
        };
        let (schema, sql_schema) = match reference {
            Some(path) if path.extension().is_some_and(|e| e == "sql") => (None, Some(path)),
            other => (other, None),
        };
        Ok(FrameworkProject { kind, migrations_dir, schema, sql_schema, ini: None, declared: vec![] })
    }

    /// Alembic: `migrations` (else alembic.ini's `script_location`, else `alembic`) is the script
    /// location; the reference is SQL, read by [`crate::project::Project::load`].
    fn locate_alembic(dir: &Path, config: &Config) -> Result<FrameworkProject, ProjectError> {
        let ini = Some(dir.join("alembic.ini")).filter(|p| p.is_file());
        let from_ini = match &ini {
            Some(path) => script_location(path)?,
            None => None,
        };
        let migrations_dir = match (&config.migrations, from_ini) {
            (Some(path), _) => paths::join(dir, path),
            // `%(here)s` is alembic.ini's directory, the project's.
            (None, Some(location)) => paths::join(dir, Path::new(&location.replace("%(here)s", "."))),
            (None, None) => dir.join("alembic"),
        };
        Ok(FrameworkProject { kind: FrameworkKind::Alembic, migrations_dir, schema: None, sql_schema: None, ini, declared: vec![] })
    }

    /// The migrations: Alembic's revisions in dependency order (their declared dependencies
    /// kept in `declared`); otherwise by file name.
    pub(crate) fn migrations(&mut self) -> Result<MigrationSet, ProjectError> {
        match self.kind {
            FrameworkKind::Rails => self.migrations_by_file_name(),
            FrameworkKind::Alembic => {
                let (migrations, declared) = alembic_revisions(&self.migrations_dir.join("versions"))?;
                self.declared = declared;
                Ok(self.set_of(migrations))
            }
        }
    }

    /// The framework's migrations as a set: its files are the framework's to list, so none is
    /// unlisted, stray or misnamed.
    fn set_of(&self, migrations: Vec<Migration>) -> MigrationSet {
        MigrationSet::of_migrator(self.migrations_dir.clone(), migrations)
    }

    /// The migrations, by file name: versions in numeric order, names from the file stems. Their
    /// code is the framework's to run: the scripts are empty, naming the file.
    fn migrations_by_file_name(&self) -> Result<MigrationSet, ProjectError> {
        let files = super::command::versions_from_files(&self.migrations_dir)?;
        let migrations = files
            .into_iter()
            .map(|(version, file)| {
                let file = file.expect("read from a directory");
                let stem = file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
                let name = stem.strip_prefix(&format!("{version}_")).unwrap_or("").to_string();
                framework_migration(file, version, name)
            })
            .collect();
        Ok(self.set_of(migrations))
    }
}

/// A migration whose code only the framework can run: an empty script naming its file.
fn framework_migration(file: PathBuf, version: String, name: String) -> Migration {
    Migration {
        up: Script { path: file, file_text: String::new(), section: Span { start: 0, end: 0 }, statements: vec![] },
        version,
        name,
        down: None,
        no_transaction: None,
        repeatable: false,
    }
}

/// `script_location` in alembic.ini's `[alembic]` section, when it is set.
fn script_location(ini: &Path) -> Result<Option<String>, ProjectError> {
    let text = std::fs::read_to_string(ini).map_err(|source| MigrationError::Io { path: ini.to_path_buf(), source })?;
    let mut in_alembic = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_alembic = line == "[alembic]";
        } else if let (true, Some((key, value))) = (in_alembic, line.split_once('=')) {
            if key.trim() == "script_location" {
                return Ok(Some(value.trim().to_string()).filter(|v| !v.is_empty()));
            }
        }
    }
    Ok(None)
}

/// One revision file's declarations.
struct Revision {
    id: String,
    parents: Vec<String>,
    /// `depends_on`: revisions it needs without being their child.
    depends_on: Vec<String>,
    file: PathBuf,
}

/// What each revision needs (its parents and `depends_on`), as (dependent, dependency, why).
type Declared = Vec<(String, String, String)>;

/// The revisions in `versions`, read from their `revision`, `down_revision` and `depends_on`
/// assignments (Alembic's own `walk_revisions` order needs Python at load time; these lines do
/// not), base first, a revision after all of its parents, ties by file name; and what each needs.
fn alembic_revisions(versions: &Path) -> Result<(Vec<Migration>, Declared), ProjectError> {
    let entries = std::fs::read_dir(versions).map_err(|source| MigrationError::Io { path: versions.to_path_buf(), source })?;
    let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "py")).collect();
    files.sort();
    let assignment = |name: &str| regex::Regex::new(&format!(r"(?m)^{name}\s*(?::[^=\n]*)?=\s*(.+)$")).expect("valid regex");
    let (revision_re, down_re, depends_re) = (assignment("revision"), assignment("down_revision"), assignment("depends_on"));
    let quoted = regex::Regex::new(r#"['"]([^'"]+)['"]"#).expect("valid regex");
    let mut revisions = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|source| MigrationError::Io { path: file.clone(), source })?;
        let Some(revision) = revision_re.captures(&text) else { continue };
        let id = quoted.captures(&revision[1]).map(|c| c[1].to_string()).ok_or_else(|| MigrationError::Invalid {
            location: location_at(&file, &text, revision.get(0).map_or(0, |m| m.start())),
            message: "`revision` is not a string literal".into(),
        })?;
        let strings = |re: &regex::Regex| -> Vec<String> {
            re.captures(&text).map_or_else(Vec::new, |c| quoted.captures_iter(&c[1]).map(|q| q[1].to_string()).collect())
        };
        let (parents, depends_on) = (strings(&down_re), strings(&depends_re));
        revisions.push(Revision { id, parents, depends_on, file });
    }
    if revisions.is_empty() {
        return Err(MigrationError::Empty { path: versions.to_path_buf(), format: Format::Plain }.into());
    }
    let known: BTreeMap<&str, &Revision> = revisions.iter().map(|r| (r.id.as_str(), r)).collect();
    for revision in &revisions {
        for (field, needed) in [("down_revision", &revision.parents), ("depends_on", &revision.depends_on)] {
            if let Some(missing) = needed.iter().find(|p| !known.contains_key(p.as_str())) {
                return Err(MigrationError::Invalid {
                    location: Location { file: revision.file.clone(), line: 1, column: 1 },
                    message: format!("{field} names {missing}, which no revision file in {} declares", versions.display()),
                }
                .into());
            }
        }
    }
    let mut placed: BTreeSet<String> = BTreeSet::new();
    let mut ordered = Vec::new();
    while ordered.len() < revisions.len() {
        let next = revisions.iter().find(|r| !placed.contains(&r.id) && r.parents.iter().chain(&r.depends_on).all(|p| placed.contains(p)));
        let Some(next) = next else {
            let stuck = revisions.iter().find(|r| !placed.contains(&r.id)).expect("some are left");
            return Err(MigrationError::Invalid {
                location: Location { file: stuck.file.clone(), line: 1, column: 1 },
                message: "its down_revision chain is a cycle".into(),
            }
            .into());
        };
        placed.insert(next.id.clone());
        let stem = next.file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let name = stem.strip_prefix(&format!("{}_", next.id)).unwrap_or(&stem).to_string();
        ordered.push(framework_migration(next.file.clone(), next.id.clone(), name));
    }
    let file_name = |r: &Revision| r.file.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let declared = revisions
        .iter()
        .flat_map(|r| {
            let parents = r.parents.iter().map(move |p| (r.id.clone(), p.clone(), format!("down_revision in {}", file_name(r))));
            parents.chain(r.depends_on.iter().map(move |d| (r.id.clone(), d.clone(), format!("depends_on in {}", file_name(r)))))
        })
        .collect();
    Ok((ordered, declared))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn revision(dir: &Path, file: &str, id: &str, down: &str) {
        let text =
            format!("\"\"\"{file}\n\nRevision ID: {id}\n\"\"\"\nrevision: str = \"{id}\"\ndown_revision: Union[str, None] = {down}\n");
        std::fs::write(dir.join(file), text).unwrap();
    }

    #[test]
    fn alembic_revisions_list_parents_first_whatever_the_file_names() {
        let dir = tempfile::tempdir().unwrap();
        let versions = dir.path();
        // File names sort the merge first and the base last.
        revision(versions, "a_merge.py", "m1", "('b1', 'c1')");
        revision(versions, "b_branch.py", "b1", "'z0'");
        revision(versions, "c_branch.py", "c1", "\"z0\"");
        revision(versions, "z_base.py", "z0", "None");
        std::fs::write(versions.join("helpers.py"), "x = 1\n").unwrap();
        let (revisions, declared) = alembic_revisions(versions).unwrap();
        let ordered: Vec<(String, String)> = revisions.into_iter().map(|m| (m.version, m.name)).collect();
        let expected = [("z0", "z_base"), ("b1", "b_branch"), ("c1", "c_branch"), ("m1", "a_merge")];
        assert_eq!(ordered, expected.map(|(v, n)| (v.to_string(), n.to_string())));
        let needs: Vec<(&str, &str)> = declared.iter().map(|(d, n, _)| (d.as_str(), n.as_str())).collect();
        assert_eq!(needs, [("m1", "b1"), ("m1", "c1"), ("b1", "z0"), ("c1", "z0")]);
        assert_eq!(declared[0].2, "down_revision in a_merge.py");
    }

    #[test]
    fn an_unknown_parent_and_a_cycle_name_the_revision_file() {
        let dir = tempfile::tempdir().unwrap();
        revision(dir.path(), "a.py", "a1", "'gone'");
        let message = alembic_revisions(dir.path()).unwrap_err().to_string();
        assert!(message.contains("a.py") && message.contains("down_revision names gone"), "{message}");

        let cycle = tempfile::tempdir().unwrap();
        revision(cycle.path(), "a.py", "a1", "'b1'");
        revision(cycle.path(), "b.py", "b1", "'a1'");
        let message = alembic_revisions(cycle.path()).unwrap_err().to_string();
        assert!(message.contains("a.py") && message.contains("cycle"), "{message}");
    }

    #[test]
    fn the_script_location_comes_from_alembic_ini_relative_to_the_project() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("alembic.ini"),
            "[loggers]\nscript_location = wrong\n[alembic]\nscript_location = %(here)s/db/alembic\n",
        )
        .unwrap();
        let project = FrameworkProject::locate(dir.path(), &Config::default(), FrameworkKind::Alembic).unwrap();
        assert_eq!(project.migrations_dir, dir.path().join("db/alembic"));
        assert_eq!(project.ini.as_deref(), Some(dir.path().join("alembic.ini").as_path()));
        assert_eq!(project.schema, None);
    }
}
