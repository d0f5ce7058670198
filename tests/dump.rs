//! `pgconverge dump` and `diff`: canonical, byte-stable, independent of creation order.

mod common;

use common::pgconverge;
use pgconverge::migration::Script;
use pgconverge::project::read_reference;

#[test]
fn k12_dump_is_byte_identical_across_runs_and_creation_orders() {
    let first = pgconverge(&["dump", "fixtures/k12_lms"]);
    let second = pgconverge(&["dump", "fixtures/k12_lms"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(first.stdout.len() > 1000);
    pretty_assertions::assert_eq!(first.stdout, second.stdout);
    // The migrations build the same schema in another order (inline constraints, DO blocks).
    let migrations = pgconverge(&["dump", "fixtures/k12_lms", "--source", "migrations"]);
    assert_eq!(migrations.code, 0, "{}", migrations.stderr);
    pretty_assertions::assert_eq!(first.stdout, migrations.stdout);
    // And the reference with its tables created in reverse order.
    let shuffled = shuffled_k12_project();
    let reordered = pgconverge(&["dump", shuffled.path().to_str().unwrap()]);
    assert_eq!(reordered.code, 0, "{}", reordered.stderr);
    pretty_assertions::assert_eq!(first.stdout, reordered.stdout);
}

/// A copy of fixtures/k12_lms whose schema.sql creates its tables first, in reverse order.
fn shuffled_k12_project() -> tempfile::TempDir {
    let reference: Script = read_reference(std::path::Path::new("fixtures/k12_lms/schema.sql")).unwrap();
    let (mut tables, rest): (Vec<&str>, Vec<&str>) =
        reference.statements.iter().map(|s| s.sql.as_str()).partition(|sql| sql.starts_with("CREATE TABLE"));
    assert!(tables.len() >= 10);
    tables.reverse();
    let sql: String = tables.into_iter().chain(rest).map(|s| format!("{s};\n")).collect();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("schema.sql"), sql).unwrap();
    let migrations = dir.path().join("migrations");
    std::fs::create_dir(&migrations).unwrap();
    std::fs::write(migrations.join("1_noop.sql"), "SELECT 1;\n").unwrap();
    dir
}

#[test]
fn k12_dump_snapshot() {
    let run = pgconverge(&["dump", "fixtures/k12_lms"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    insta::assert_snapshot!("k12_lms_reference_dump", run.stdout);
}

#[test]
fn json_dumps_round_trip_through_diff() {
    let dir = tempfile::tempdir().unwrap();
    let reference = dir.path().join("reference.json");
    let diverged = dir.path().join("diverged.json");
    let run = pgconverge(&["dump", "fixtures/divergent/default_mismatch", "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    std::fs::write(&reference, &run.stdout).unwrap();
    let run = pgconverge(&["dump", "fixtures/divergent/default_mismatch", "--source", "migrations", "--format", "json"]);
    std::fs::write(&diverged, &run.stdout).unwrap();

    let same = pgconverge(&["diff", reference.to_str().unwrap(), reference.to_str().unwrap()]);
    assert_eq!((same.code, same.stdout.as_str()), (0, "no differences\n"));
    let different = pgconverge(&["diff", reference.to_str().unwrap(), diverged.to_str().unwrap()]);
    assert_eq!(different.code, 1);
    assert_eq!(
        different.stdout,
        "column public.ai_provider_configs.status: default 'inactive'::varchar expected, 'active'::varchar found\n"
    );
}

#[test]
fn diff_of_two_directories() {
    let run = pgconverge(&["diff", "fixtures/k12_lms", "fixtures/divergent/guard_wrong_name", "--source", "reference"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stdout.contains("table public.lti_registrations: expected, not found"), "{}", run.stdout);
}

/// A project directory holding only `schema.sql` (and a no-op migration).
fn project_with_reference(sql: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("schema.sql"), sql).unwrap();
    std::fs::create_dir(dir.path().join("migrations")).unwrap();
    std::fs::write(dir.path().join("migrations/1_noop.sql"), "SELECT 1;\n").unwrap();
    dir
}

/// Column order is read from the columns (dropped ones skipped, names quoted as needed), and a
/// key's index is compared through its constraint plus its storage options.
#[test]
fn column_order_and_key_index_options_are_compared() {
    let reference = project_with_reference(
        "CREATE TABLE t (id int, \"Name\" text, gone int, email text, CONSTRAINT t_pkey PRIMARY KEY (id) WITH (fillfactor = 70));\n\
         ALTER TABLE t DROP COLUMN gone;\n",
    );
    let same = project_with_reference("CREATE TABLE t (id int PRIMARY KEY WITH (fillfactor = 70), \"Name\" text, email text);\n");
    let other = project_with_reference("CREATE TABLE t (id int PRIMARY KEY, email text, \"Name\" text);\n");
    let [reference, same, other] = [&reference, &same, &other].map(|d| d.path().to_str().unwrap().to_string());

    let dump = pgconverge(&["dump", &reference]);
    assert_eq!(dump.code, 0, "{}", dump.stderr);
    assert!(dump.stdout.contains("  column_order: id, \"Name\", email\n"), "{}", dump.stdout);
    assert!(dump.stdout.contains("index public.t_pkey\n  constraint: t_pkey\n  options: fillfactor=70\n"), "{}", dump.stdout);

    let run = pgconverge(&["diff", &reference, &same, "--source", "reference"]);
    assert_eq!((run.code, run.stdout.as_str()), (0, "no differences\n"), "{}", run.stderr);
    let run = pgconverge(&["diff", &reference, &other, "--source", "reference"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stdout.contains("table public.t: column_order"), "{}", run.stdout);
    assert!(run.stdout.contains("index public.t_pkey: options"), "{}", run.stdout);
}

/// An extension's members (citext's type, its functions and operators) are represented by the
/// extension alone; a column of its type is still a column.
#[test]
fn extension_members_are_represented_by_their_extension() {
    let project = project_with_reference("CREATE EXTENSION citext;\nCREATE TABLE t (e citext);\n");
    let dump = pgconverge(&["dump", project.path().to_str().unwrap()]);
    assert_eq!(dump.code, 0, "{}", dump.stderr);
    assert!(dump.stdout.contains("extension citext\n  schema: public\n"), "{}", dump.stdout);
    assert!(dump.stdout.contains("column public.t.e\n  type: public.citext\n"), "{}", dump.stdout);
    for member in ["type public.citext", "function public.", "operator public."] {
        assert!(!dump.stdout.contains(member), "{member} in\n{}", dump.stdout);
    }
}

/// The roles the grants name, from a setup file (the project's SQL may not create roles).
fn with_roles(dir: tempfile::TempDir) -> tempfile::TempDir {
    std::fs::write(dir.path().join("setup.sql"), "CREATE ROLE app_reader;\nCREATE ROLE app_writer;\n").unwrap();
    std::fs::write(dir.path().join("pgconverge.toml"), "setup = [\"setup.sql\"]\n").unwrap();
    dir
}

/// The same grants and the same policy roles in another order are one catalog; another grant
/// or another role is not.
#[test]
fn grant_and_policy_role_order_do_not_matter() {
    let schema = |grants: &str, roles: &str| {
        format!(
            "CREATE TABLE t (id int, note text);\n{grants}\nALTER TABLE t ENABLE ROW LEVEL SECURITY;\n\
             CREATE POLICY p ON t FOR SELECT TO {roles} USING (true);\n"
        )
    };
    let reader_first = "GRANT SELECT ON t TO app_reader; GRANT INSERT ON t TO app_writer; GRANT SELECT (note) ON t TO app_reader; GRANT UPDATE (note) ON t TO app_writer;";
    let writer_first = "GRANT UPDATE (note) ON t TO app_writer; GRANT SELECT (note) ON t TO app_reader; GRANT INSERT ON t TO app_writer; GRANT SELECT ON t TO app_reader;";
    let one = with_roles(project_with_reference(&schema(reader_first, "app_writer, app_reader")));
    let same = with_roles(project_with_reference(&schema(writer_first, "app_reader, app_writer")));
    let other = with_roles(project_with_reference(&schema(&writer_first.replace("INSERT", "DELETE"), "app_reader")));
    let [one, same, other] = [&one, &same, &other].map(|d| d.path().to_str().unwrap().to_string());

    let dump = pgconverge(&["dump", &one]);
    assert_eq!(dump.code, 0, "{}", dump.stderr);
    assert!(
        dump.stdout.contains(
            "  acl: {app_reader=r/pgconverge_sandbox,app_writer=a/pgconverge_sandbox,pgconverge_sandbox=arwdDxt/pgconverge_sandbox}\n"
        ),
        "{}",
        dump.stdout
    );
    assert!(dump.stdout.contains("  roles: app_reader, app_writer\n"), "{}", dump.stdout);
    let run = pgconverge(&["diff", &one, &same, "--source", "reference"]);
    assert_eq!((run.code, run.stdout.as_str()), (0, "no differences\n"), "{}", run.stderr);
    let run = pgconverge(&["diff", &one, &other, "--source", "reference"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stdout.contains("table public.t: acl "), "{}", run.stdout);
    assert!(run.stdout.contains("policy public.t.p: roles app_reader, app_writer expected, app_reader found"), "{}", run.stdout);
}

/// Owners are in a dump only when the project compares them (`compare_owners = true`).
#[test]
fn owners_are_dumped_only_when_compared() {
    let project = project_with_reference("CREATE TABLE t (id int);\n");
    let dir = project.path().to_str().unwrap();
    let run = pgconverge(&["dump", dir]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!run.stdout.contains("owner:"), "{}", run.stdout);
    std::fs::write(project.path().join("pgconverge.toml"), "compare_owners = true\n").unwrap();
    let run = pgconverge(&["dump", dir]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("table public.t\n  column_order: id\n  kind: ordinary\n  owner: pgconverge_sandbox\n"), "{}", run.stdout);
}
