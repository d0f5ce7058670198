//! Input the user gets wrong is exit 2 and said briefly: a huge unterminated quote is not echoed
//! whole, a URL of another database, an unknown extension (tests/trust.rs) and `--jobs` out of
//! range are input errors, server messages carry no server source line, and files named almost
//! like migrations are named, not skipped in silence. Config paths stay inside the project, a
//! role's search_path does not move the project's objects, and format detection says why.

mod common;

use common::pgconverge;

/// The shared server's URL with another database in it.
fn url_of_database(database: &str) -> String {
    common::shared_server_url().replacen("/postgres?", &format!("/{database}?"), 1)
}

#[test]
fn an_unterminated_quote_in_a_big_file_is_not_echoed_whole() {
    let project = tempfile::tempdir().unwrap();
    std::fs::create_dir(project.path().join("migrations")).unwrap();
    let mut sql = String::from("CREATE TABLE a (id int);\nINSERT INTO a VALUES (1, 'unterminated\n");
    while sql.len() < 5_000_000 {
        sql.push_str(&"x".repeat(99));
        sql.push('\n');
    }
    std::fs::write(project.path().join("migrations/1_big.sql"), sql).unwrap();
    let run = pgconverge(&["check", project.path().to_str().unwrap(), "--no-persist"]);
    assert_eq!(run.code, 2, "{}", &run.stderr[..run.stderr.len().min(2000)]);
    assert!(run.stderr.len() < 1000, "{} bytes of error: {}", run.stderr.len(), &run.stderr[..run.stderr.len().min(2000)]);
    assert!(run.stderr.contains("1_big.sql:2:") && run.stderr.contains("unterminated quoted string"), "{}", run.stderr);
    assert!(run.stderr.trim_end().ends_with('…'), "{}", run.stderr);
}

#[test]
fn a_url_of_another_database_system_is_an_input_error() {
    let run = pgconverge(&["check", "fixtures/k12_lms", "--database-url", "mysql://user@localhost/db", "--no-persist"]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("not a PostgreSQL URL"), "{}", run.stderr);
}

#[test]
fn jobs_out_of_range_is_an_input_error_naming_the_range() {
    for jobs in ["0", "120"] {
        let run = pgconverge(&["check", "fixtures/k12_lms", "--jobs", jobs, "--no-persist"]);
        assert_eq!(run.code, 2, "--jobs {jobs}: {}{}", run.stdout, run.stderr);
        assert!(run.stderr.contains("1 to 64"), "{}", run.stderr);
    }
}

/// sqlx's Display of a server error appends the server's C source line (" at line 3211"): no
/// message of pgconverge shows it, from a connection or from a statement.
#[test]
fn server_messages_carry_no_source_line() {
    let project = tempfile::tempdir().unwrap();
    std::fs::create_dir(project.path().join("migrations")).unwrap();
    std::fs::write(project.path().join("migrations/1_divide.sql"), "CREATE TABLE t (id int);\nSELECT 1 / 0;\n").unwrap();
    let dir = project.path().to_str().unwrap();
    let missing = url_of_database("pgconverge_no_such_database");
    for (args, code, says) in [
        (vec!["check", "fixtures/k12_lms", "--database-url", &missing, "--no-persist"], 3, "does not exist"),
        (vec!["dump", "--from-database", &missing], 3, "does not exist"),
        (vec!["check", dir, "--no-persist", "--properties", "fresh"], 1, "division by zero"),
        (vec!["check", dir, "--no-persist", "--properties", "fresh", "--format", "json"], 1, "division by zero"),
    ] {
        let run = pgconverge(&args);
        let text = format!("{}{}", run.stdout, run.stderr);
        assert_eq!(run.code, code, "{args:?}: {text}");
        assert!(text.contains(says), "{args:?}: {text}");
        let source_line = text.match_indices(" at line ").any(|(i, m)| text[i + m.len()..].starts_with(|c: char| c.is_ascii_digit()));
        assert!(!source_line, "{args:?}: a server source line in: {text}");
    }
}

#[test]
fn files_named_almost_like_migrations_are_named() {
    let project = common::copy_of(std::path::Path::new("fixtures/k12_lms"));
    let migrations = project.path().join("migrations");
    std::fs::write(migrations.join("20260301000000_more.SQL"), "CREATE TABLE zz (id int);\n").unwrap();
    std::fs::write(migrations.join("20260105090000_create_tenants.sql.bak"), "SELECT 1;\n").unwrap();
    std::fs::write(migrations.join("20260302000000_more.pgsql"), "CREATE TABLE yy (id int);\n").unwrap();
    let run = pgconverge(&["check", project.path().to_str().unwrap(), "--no-persist", "--properties", "fresh"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let note = run.stdout.lines().find(|l| l.contains("named almost like migrations")).unwrap_or_else(|| panic!("{}", run.stdout));
    assert!(note.contains("20260301000000_more.SQL") && note.contains("20260105090000_create_tenants.sql.bak"), "{note}");
    assert!(note.contains("20260302000000_more.pgsql"), "{note}");
    let json = pgconverge(&["check", project.path().to_str().unwrap(), "--no-persist", "--properties", "fresh", "--format", "json"]);
    assert!(json.stdout.contains("20260301000000_more.SQL"), "{}", json.stdout);
}

/// A copy of fixtures/k12_lms whose pgconverge.toml is `config`.
fn k12_with_config(config: &str) -> tempfile::TempDir {
    let project = common::copy_of(std::path::Path::new("fixtures/k12_lms"));
    std::fs::write(project.path().join("pgconverge.toml"), config).unwrap();
    project
}

#[test]
fn config_paths_outside_the_project_are_input_errors() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.sql"), "CREATE TABLE secret (id int);\n").unwrap();
    for (config, at) in [
        ("format = \"sqlx\"\nreference = \"/etc/passwd\"\n", "pgconverge.toml:2:13"),
        ("setup = [\"../../secret.sql\"]\n", "pgconverge.toml:1:10"),
        ("reference = \"shared/secret.sql\"\n", "pgconverge.toml:1:13"),
    ] {
        let project = k12_with_config(config);
        std::os::unix::fs::symlink(outside.path(), project.path().join("shared")).unwrap();
        let run = pgconverge(&["check", project.path().to_str().unwrap(), "--no-persist", "--properties", "fresh"]);
        assert_eq!(run.code, 2, "{config}: {}{}", run.stdout, run.stderr);
        assert!(run.stderr.contains(at) && run.stderr.contains("outside the project directory"), "{config}: {}", run.stderr);
        assert!(run.stderr.contains("allow_paths_outside_project = true"), "{}", run.stderr);
        assert!(!run.stderr.contains("root:"), "the file's text is not shown: {}", run.stderr);
    }
}

#[test]
fn config_paths_outside_the_project_are_read_when_allowed() {
    // A monorepo: the shared reference lives above the project.
    let repo = tempfile::tempdir().unwrap();
    std::fs::copy("fixtures/k12_lms/schema.sql", repo.path().join("shared_schema.sql")).unwrap();
    let project = repo.path().join("service");
    std::fs::create_dir(&project).unwrap();
    std::fs::create_dir(project.join("migrations")).unwrap();
    for entry in std::fs::read_dir("fixtures/k12_lms/migrations").unwrap().flatten() {
        std::fs::copy(entry.path(), project.join("migrations").join(entry.file_name())).unwrap();
    }
    let config = "reference = \"../shared_schema.sql\"\n";
    std::fs::write(project.join("pgconverge.toml"), config).unwrap();
    let args = ["check", project.to_str().unwrap(), "--no-persist", "--properties", "fresh"];
    let refused = pgconverge(&args);
    assert_eq!(refused.code, 2, "{}{}", refused.stdout, refused.stderr);
    std::fs::write(project.join("pgconverge.toml"), format!("allow_paths_outside_project = true\n{config}")).unwrap();
    let allowed = pgconverge(&args);
    assert_eq!(allowed.code, 0, "{}{}", allowed.stdout, allowed.stderr);
    assert!(allowed.stdout.contains("shared_schema.sql"), "{}", allowed.stdout);
}

/// `ALTER ROLE ... SET search_path` on a URL server's role does not reach the sessions that run
/// the project: they start with PostgreSQL's default, where a correct project's names land.
#[test]
fn a_role_that_sets_search_path_does_not_move_the_project() {
    let name = format!("pgconverge_search_path_{}", std::process::id());
    let _role = common::SharedServerRole::create(&name, &format!("ALTER ROLE {name} SET search_path = elsewhere"));
    let url = common::shared_server_url().replacen("postgres://postgres@", &format!("postgres://{name}@"), 1);
    let run = pgconverge(&["check", "fixtures/k12_lms", "--database-url", &url, "--no-persist"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
}

/// The project's own migrator (`runner = "command"`) starts its sessions with the default
/// search_path too (PGOPTIONS), even where the database sets another.
#[test]
fn a_database_that_sets_search_path_does_not_move_the_command_runner() {
    let project = common::copy_of(std::path::Path::new("fixtures/layouts/command_adapter"));
    let config = std::fs::read_to_string(project.path().join("pgconverge.toml")).unwrap();
    std::fs::write(project.path().join("pgconverge.toml"), format!("setup = [\"setup.sql\"]\n{config}")).unwrap();
    std::fs::write(
        project.path().join("setup.sql"),
        "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET search_path = elsewhere', current_database()); END $$;\n",
    )
    .unwrap();
    let run = common::pgconverge_embedded(&["check", project.path().to_str().unwrap(), "--no-persist", "--properties", "fresh"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
}

#[test]
fn the_report_says_which_file_decided_the_format() {
    let project = common::copy_of(std::path::Path::new("fixtures/k12_lms"));
    let dir = project.path().to_str().unwrap();
    let human = pgconverge(&["check", dir, "--no-persist", "--properties", "fresh"]);
    assert_eq!(human.code, 0, "{}{}", human.stdout, human.stderr);
    let line = human.stdout.lines().find(|l| l.trim_start().starts_with("format: ")).unwrap_or_else(|| panic!("{}", human.stdout));
    assert_eq!(
        line.trim().replace(dir, "DIR"),
        "format: sqlx (DIR/migrations/20260105090000_create_tenants.sql is named `<version>_<desc>.sql`, as are the 9 other .sql files)",
    );
    let json = pgconverge(&["check", dir, "--no-persist", "--properties", "fresh", "--format", "json"]);
    let report: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(report["format_detection"]["file"], format!("{dir}/migrations/20260105090000_create_tenants.sql"), "{}", json.stdout);
    // A configured format needs no explaining.
    std::fs::write(project.path().join("pgconverge.toml"), "format = \"sqlx\"\n").unwrap();
    let configured = pgconverge(&["check", dir, "--no-persist", "--properties", "fresh"]);
    assert!(!configured.stdout.contains("format: "), "{}", configured.stdout);
}

#[test]
fn one_file_named_for_another_format_is_named_not_followed() {
    let project = common::copy_of(std::path::Path::new("fixtures/k12_lms"));
    std::fs::write(project.path().join("migrations/V20260301__more.sql"), "CREATE TABLE more (id int);\n").unwrap();
    let run = pgconverge(&["check", project.path().to_str().unwrap(), "--no-persist", "--properties", "fresh"]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("migrations/V20260301__more.sql: is named like a Flyway migration, unlike the other 10"), "{}", run.stderr);
    assert!(run.stderr.contains("set `format` in pgconverge.toml"), "{}", run.stderr);
}

#[test]
fn sql_files_in_subdirectories_are_named() {
    let project = common::copy_of(std::path::Path::new("fixtures/k12_lms"));
    std::fs::create_dir(project.path().join("migrations/archive")).unwrap();
    std::fs::write(project.path().join("migrations/archive/20250101000000_old.sql"), "CREATE TABLE old (id int);\n").unwrap();
    let run = pgconverge(&["check", project.path().to_str().unwrap(), "--no-persist", "--properties", "fresh"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let note = run.stdout.lines().find(|l| l.contains("in subdirectories")).unwrap_or_else(|| panic!("{}", run.stdout));
    assert!(note.contains("archive/20250101000000_old.sql") && note.contains("sqlx migrations never are"), "{note}");
}
