//! Where a difference comes from. The catalog does not say which migration made an object; the
//! statements' footprints (what each creates, alters and drops) do. For each object a
//! divergence names, the origin is the last migration statement, in canonical order, that
//! creates, alters or drops it; for an object no migration writes, the reference schema's
//! statement that creates it; failing both, the same for the table it belongs to. Reports point
//! there (a GitHub annotation on the line to fix) instead of at line 1 of a file.

use crate::analysis::footprint::{analyze_script, ObjectRef};
use crate::catalog::ObjectKind;
use crate::compare::Difference;
use crate::migration::{Location, Script};
use crate::model::{Failure, Origin, Verdict};
use crate::project::Project;

/// One statement that writes objects.
struct Writer {
    /// Its migration's index in canonical order; `None` for the reference schema's.
    migration: Option<usize>,
    location: Location,
    /// What it creates, alters or drops (for the reference: what it creates).
    writes: Vec<ObjectRef>,
}

/// The statements of a project that write objects, read once per check.
pub(crate) struct Origins {
    ids: Vec<String>,
    /// Every migration statement that writes something, in canonical order.
    migrations: Vec<Writer>,
    /// The reference schema's statements that create something, in file order.
    reference: Vec<Writer>,
    /// The migrations' renames, `(old, new)`: an object's earlier names.
    renames: Vec<(ObjectRef, ObjectRef)>,
}

impl Origins {
    pub(crate) fn of(project: &Project) -> Origins {
        let mut renames = Vec::new();
        let migrations =
            project.migrations.migrations.iter().enumerate().flat_map(|(i, m)| writers(&m.up, Some(i), true, &mut renames)).collect();
        let reference = project.reference.as_ref().map(|script| writers(script, None, false, &mut Vec::new())).unwrap_or_default();
        Origins { ids: project.migrations.migrations.iter().map(|m| m.id()).collect(), migrations, reference, renames }
    }

    /// Fills in the origins of the verdict's divergences: its own failure's from every
    /// migration (then the reference); a failing migration's from that migration alone, since
    /// what it changed on a re-run, or left behind after its down, is its own statements' doing.
    pub(crate) fn trace(&self, verdict: &mut Verdict) {
        if let Some(failure) = &mut verdict.failure {
            self.fill(failure, None);
        }
        for finding in &mut verdict.findings {
            let within = self.ids.iter().position(|id| *id == finding.migration);
            self.fill(&mut finding.failure, Some(within));
        }
    }

    /// Whether a statement of the migration at `migration` writes the difference's object, or
    /// the table it belongs to.
    /// Earlier names count: a label added to `sort_type_enum` before a migration renamed it
    /// writes `post_sort_type_enum`.
    pub(crate) fn writes(&self, migration: usize, difference: &Difference) -> bool {
        let writes = |w: &Writer, (kind, name): &(ObjectKind, String)| w.writes.iter().any(|r| r.denotes(*kind, name));
        let own: Vec<&Writer> = self.migrations.iter().filter(|w| w.migration == Some(migration)).collect();
        let mut names = candidates(difference.kind, &difference.object);
        let mut i = 0;
        while i < names.len() {
            let (kind, name) = names[i].clone();
            for (old, new) in &self.renames {
                let former = (kind, old.name.clone());
                if new.denotes(kind, &name) && !names.contains(&former) {
                    names.push(former);
                }
            }
            i += 1;
        }
        names.iter().any(|candidate| own.iter().any(|w| writes(w, candidate)))
    }

    /// `within`: `None` searches every migration, then the reference; `Some(m)` only migration
    /// `m`'s statements (`Some(None)`: a migration not in the set, which has none).
    fn fill(&self, failure: &mut Failure, within: Option<Option<usize>>) {
        if let Failure::Diverged { differences, origins, .. } = failure {
            *origins = differences.iter().filter_map(|d| self.origin(d, within)).collect();
        }
    }

    fn origin(&self, difference: &Difference, within: Option<Option<usize>>) -> Option<Origin> {
        let in_scope = |w: &&Writer| within.is_none_or(|m| m.is_some() && w.migration == m);
        let migrations: Vec<&Writer> = self.migrations.iter().filter(in_scope).collect();
        let reference: &[Writer] = if within.is_none() { &self.reference } else { &[] };
        let writes = |w: &Writer, (kind, name): &(ObjectKind, String)| w.writes.iter().any(|r| r.denotes(*kind, name));
        // The object's last writer among the migrations, else its creator in the reference;
        // then the same for its table.
        let found = candidates(difference.kind, &difference.object).iter().find_map(|candidate| {
            let last = migrations.iter().rev().copied().find(|w| writes(w, candidate));
            last.or_else(|| reference.iter().find(|w| writes(w, candidate)))
        })?;
        Some(Origin {
            kind: difference.kind,
            object: difference.object.clone(),
            migration: found.migration.map(|m| self.ids[m].clone()),
            location: found.location.clone(),
        })
    }
}

/// The statements of `script` that write something: what each creates, alters and drops
/// (`all`), or only what it creates. Its renames, `(old, new)`, go to `renames`.
fn writers(script: &Script, migration: Option<usize>, all: bool, renames: &mut Vec<(ObjectRef, ObjectRef)>) -> Vec<Writer> {
    let analysis = analyze_script(script);
    script
        .statements
        .iter()
        .zip(analysis.statements)
        .filter_map(|(statement, info)| {
            let footprint = info.footprint;
            if let [old] = footprint.renamed.iter().collect::<Vec<_>>()[..] {
                let new = footprint.creates.iter().filter(|c| c.kind == old.kind).collect::<Vec<_>>();
                if let [new] = new[..] {
                    renames.push((old.clone(), new.clone()));
                }
            }
            let mut writes: Vec<ObjectRef> = footprint.creates.into_iter().collect();
            if all {
                writes.extend(footprint.alters);
                writes.extend(footprint.drops);
            }
            (!writes.is_empty()).then(|| Writer {
                migration,
                location: Location { file: script.path.clone(), line: statement.line, column: statement.column },
                writes,
            })
        })
        .collect()
}

/// The catalog objects whose writer is the difference's origin, in order: the object itself,
/// then the table it belongs to (a rule has no footprint of its own, a column's attribute may
/// come from an `ALTER TABLE` that names only the table); a comment stands for what it is on.
fn candidates(kind: ObjectKind, name: &str) -> Vec<(ObjectKind, String)> {
    let mut out = Vec::new();
    let (kind, name) = match kind {
        ObjectKind::Comment => match commented(name) {
            Some(object) => object,
            None => return out,
        },
        _ => (kind, name.to_string()),
    };
    let table = match kind {
        ObjectKind::Column | ObjectKind::Constraint | ObjectKind::Trigger | ObjectKind::Rule | ObjectKind::Policy => {
            name.rsplit_once('.').map(|(table, _)| table.to_string())
        }
        _ => None,
    };
    out.push((kind, name));
    out.extend(table.map(|table| (ObjectKind::Table, table)));
    out
}

/// The object a comment is on, from its catalog name (`on table public.t`, `on column
/// public.t.c`, `on function public.f(integer)`), for the kinds a footprint names.
fn commented(name: &str) -> Option<(ObjectKind, String)> {
    let on = name.strip_prefix("on ")?;
    let kinds = [
        ("materialized view ", ObjectKind::MaterializedView),
        ("table ", ObjectKind::Table),
        ("view ", ObjectKind::View),
        ("column ", ObjectKind::Column),
        ("index ", ObjectKind::Index),
        ("sequence ", ObjectKind::Sequence),
        ("type ", ObjectKind::Type),
        ("function ", ObjectKind::Function),
        ("schema ", ObjectKind::Schema),
        ("extension ", ObjectKind::Extension),
    ];
    kinds.into_iter().find_map(|(prefix, kind)| on.strip_prefix(prefix).map(|identity| (kind, identity.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::{Change, Severity};
    use crate::model::{MigrationFinding, Property, VerdictStatus};
    use std::path::Path;

    fn project(files: &[(&str, &str)], reference: Option<&str>) -> (tempfile::TempDir, Project) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("migrations")).unwrap();
        for (name, sql) in files {
            std::fs::write(dir.path().join("migrations").join(name), sql).unwrap();
        }
        if let Some(sql) = reference {
            std::fs::write(dir.path().join("schema.sql"), sql).unwrap();
        }
        let project = Project::load(dir.path()).unwrap();
        (dir, project)
    }

    fn difference(kind: ObjectKind, object: &str, change: Change) -> Difference {
        Difference { kind, object: object.into(), change, severity: Severity::Error, dependents: 0 }
    }

    fn traced(origins: &Origins, failure: Failure) -> Vec<(Option<String>, String, usize, usize)> {
        let mut verdict = Verdict { failure: Some(failure), ..Verdict::new(Property::Fresh, VerdictStatus::Fail, "x".into()) };
        origins.trace(&mut verdict);
        let Some(Failure::Diverged { origins, .. }) = verdict.failure else { unreachable!() };
        origins
            .into_iter()
            .map(|o| {
                let file = o.location.file.file_name().unwrap().to_string_lossy().into_owned();
                (o.migration, file, o.location.line, o.location.column)
            })
            .collect()
    }

    const CREATE: &str = "-- accounts\nCREATE TABLE accounts (\n    id bigint PRIMARY KEY,\n    email text\n);\n\nCREATE INDEX accounts_email ON accounts (email);\n";
    const ALTER: &str =
        "CREATE TABLE notes (id bigint);\n  ALTER TABLE accounts ALTER COLUMN email SET NOT NULL;\nCOMMENT ON TABLE accounts IS 'x';\n";

    /// Which migrations write an enum's labels, under its final name or an earlier one; a
    /// migration that writes something else, or rewrites another enum, does not.
    #[test]
    fn a_writer_under_an_earlier_name_writes_the_renamed_object() {
        let (_dir, project) = project(
            &[
                ("1_enum.sql", "CREATE TYPE sort_type AS ENUM ('hot');\n"),
                ("2_label.sql", "ALTER TYPE sort_type ADD VALUE 'new';\n"),
                ("3_other.sql", "CREATE TABLE captcha (id int);\nCREATE TYPE other AS ENUM ('x');\nALTER TYPE other ADD VALUE 'y';\n"),
                ("4_rename.sql", "ALTER TYPE sort_type RENAME TO post_sort_type;\n"),
                ("5_label.sql", "ALTER TYPE post_sort_type ADD VALUE 'top';\n"),
            ],
            None,
        );
        let origins = Origins::of(&project);
        let labels = difference(
            ObjectKind::Type,
            "public.post_sort_type",
            Change::Attribute { attribute: "labels".into(), expected: Some("'hot'".into()), found: Some("'new'".into()) },
        );
        let writers: Vec<usize> = (0..5).filter(|&m| origins.writes(m, &labels)).collect();
        assert_eq!(writers, [0, 1, 3, 4]);
    }

    #[test]
    fn the_last_statement_that_writes_the_object_is_its_origin() {
        let (_dir, project) = project(&[("1_accounts.sql", CREATE), ("2_alter.sql", ALTER)], None);
        let origins = Origins::of(&project);
        let attribute = || Change::Attribute { attribute: "x".into(), expected: None, found: None };
        let failure = Failure::diverged_from_reference(vec![
            difference(ObjectKind::Column, "public.accounts.email", attribute()),
            difference(ObjectKind::Index, "public.accounts_email", Change::Missing),
            difference(ObjectKind::Column, "public.accounts.id", attribute()),
            difference(ObjectKind::Comment, "on table public.accounts", attribute()),
            difference(ObjectKind::Constraint, "public.notes.unnamed_check", Change::Unexpected),
            difference(ObjectKind::Table, "public.nowhere", Change::Missing),
        ]);
        let m = |id: &str| Some(id.to_string());
        assert_eq!(
            traced(&origins, failure),
            [
                // Created by 1, altered last by 2 (at its statement's own line and column).
                (m("2_alter"), "2_alter.sql".into(), 2, 3),
                (m("1_accounts"), "1_accounts.sql".into(), 7, 1),
                (m("1_accounts"), "1_accounts.sql".into(), 2, 1),
                (m("2_alter"), "2_alter.sql".into(), 3, 1),
                // No statement names the constraint: its table's writer.
                (m("2_alter"), "2_alter.sql".into(), 1, 1),
            ]
        );
    }

    #[test]
    fn an_object_no_migration_writes_comes_from_the_reference() {
        let reference = "CREATE TABLE accounts (id bigint PRIMARY KEY, email text);\n\nCREATE TABLE audit (id bigint);\n";
        let (_dir, project) = project(&[("1_accounts.sql", CREATE)], Some(reference));
        let origins = Origins::of(&project);
        let failure = Failure::diverged_from_reference(vec![difference(ObjectKind::Table, "public.audit", Change::Missing)]);
        assert_eq!(traced(&origins, failure), [(None, "schema.sql".into(), 3, 1)]);
    }

    #[test]
    fn a_failing_migration_is_traced_to_its_own_statements() {
        let (_dir, project) = project(&[("1_accounts.sql", CREATE), ("2_alter.sql", ALTER)], Some("CREATE TABLE audit (id bigint);"));
        let origins = Origins::of(&project);
        let finding = |migration: &str| MigrationFinding {
            migration: migration.into(),
            file: Path::new("x").into(),
            summary: String::new(),
            failure: Failure::diverged_from_reference(vec![
                difference(ObjectKind::Column, "public.accounts.email", Change::Missing),
                difference(ObjectKind::Table, "public.audit", Change::Missing),
            ]),
        };
        let mut verdict = Verdict {
            findings: vec![finding("1_accounts"), finding("3_gone")],
            ..Verdict::new(Property::Idempotent, VerdictStatus::Fail, "x".into())
        };
        origins.trace(&mut verdict);
        let lines: Vec<Vec<(Option<String>, usize)>> = verdict
            .findings
            .iter()
            .map(|f| match &f.failure {
                Failure::Diverged { origins, .. } => origins.iter().map(|o| (o.migration.clone(), o.location.line)).collect(),
                Failure::StatementFailed { .. } => unreachable!(),
            })
            .collect();
        // 2_alter altered email last, but the finding is 1_accounts': its CREATE TABLE. Neither
        // looks at the reference.
        assert_eq!(lines, [vec![(Some("1_accounts".to_string()), 2)], vec![]]);
    }
}
