//! Input the user gets wrong is exit 2 and said briefly: a huge unterminated quote is not echoed
//! whole, a URL of another database, an unknown extension (tests/trust.rs) and `--jobs` out of
//! range are input errors, server messages carry no server source line, and files named almost
//! like migrations are named, not skipped in silence.

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
    let run = pgconverge(&["check", project.path().to_str().unwrap(), "--no-persist", "--properties", "fresh"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let note = run.stdout.lines().find(|l| l.contains("named almost like migrations")).unwrap_or_else(|| panic!("{}", run.stdout));
    assert!(note.contains("20260301000000_more.SQL") && note.contains("20260105090000_create_tenants.sql.bak"), "{note}");
    let json = pgconverge(&["check", project.path().to_str().unwrap(), "--no-persist", "--properties", "fresh", "--format", "json"]);
    assert!(json.stdout.contains("20260301000000_more.SQL"), "{}", json.stdout);
}
