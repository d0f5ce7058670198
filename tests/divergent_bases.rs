//! `fixtures/divergent/README.md` says, for each planted-bug case, which converging fixture it
//! was cut from and which of its files differ from that base. This checks the table against the
//! files, so the planted change is exactly what the listed files show against the base. No
//! server needed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use pgconverge::project::read_reference;

const TABLE: &str = "fixtures/divergent/README.md";

struct Row {
    case: String,
    base: Option<String>,
    changed: BTreeSet<String>,
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The table's rows: `| `case` | `base` or - | `file`, `file` or - | what was planted |`.
fn rows() -> Vec<Row> {
    let text = std::fs::read_to_string(root().join(TABLE)).unwrap();
    let code = |cell: &str| -> Option<String> {
        let cell = cell.trim();
        (cell != "-").then(|| {
            cell.strip_prefix('`')
                .and_then(|c| c.strip_suffix('`'))
                .unwrap_or_else(|| panic!("{TABLE}: {cell:?} is not `code`"))
                .to_string()
        })
    };
    text.lines()
        .filter(|line| line.starts_with("| `"))
        .map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split(" | ").collect();
            assert_eq!(cells.len(), 4, "{TABLE}: a row has 4 cells: {line}");
            let changed = if cells[2].trim() == "-" { BTreeSet::new() } else { cells[2].split(", ").map(|c| code(c).unwrap()).collect() };
            Row { case: code(cells[0]).unwrap(), base: code(cells[1]), changed }
        })
        .collect()
}

/// Every file under `dir`, relative to it.
fn files(dir: &Path) -> BTreeSet<String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.insert(path.strip_prefix(root).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(dir, dir, &mut out);
    out
}

/// Where a project keeps its migrations: `migrations/`, a Rails app's `db/migrate/`, or an
/// Alembic project's `alembic/versions/`.
fn migrations_dir(project: &Path) -> PathBuf {
    ["db/migrate", "alembic/versions"]
        .iter()
        .map(|dir| project.join(dir))
        .find(|dir| dir.is_dir())
        .unwrap_or_else(|| project.join("migrations"))
}

fn versions(case: &Path) -> BTreeSet<String> {
    files(&migrations_dir(case)).iter().map(|f| f.split('_').next().unwrap().to_string()).collect()
}

fn statements(path: &Path) -> Vec<String> {
    read_reference(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).statements.into_iter().map(|s| s.sql).collect()
}

/// The case's `schema.sql` statements that are not statements of the base's (the Rails ledger
/// trailer aside, which must list exactly the case's versions).
fn statements_not_in_base(case: &Path, base: &Path) -> Vec<String> {
    let base_statements: BTreeSet<String> = statements(&base.join("schema.sql")).into_iter().collect();
    let version = regex::Regex::new(r"'(\d+)'").unwrap();
    let mut extra = Vec::new();
    for sql in statements(&case.join("schema.sql")) {
        if sql.starts_with("INSERT INTO \"schema_migrations\"") {
            let listed: BTreeSet<String> = version.captures_iter(&sql).map(|c| c[1].to_string()).collect();
            assert_eq!(
                listed,
                versions(case),
                "{}: the schema_migrations trailer lists other versions than the case's migrations",
                case.display()
            );
        } else if !base_statements.contains(&sql) {
            extra.push(sql);
        }
    }
    extra
}

/// The base's `pgconverge.toml`, its `idempotent` list cut down to the case's versions.
fn expected_config(case: &Path, base: &Path) -> toml::Table {
    let text = std::fs::read_to_string(base.join("pgconverge.toml")).unwrap_or_default();
    let mut config: toml::Table = toml::from_str(&text).unwrap();
    let versions = versions(case);
    if let Some(toml::Value::Array(idempotent)) = config.get_mut("idempotent") {
        idempotent.retain(|v| v.as_str().is_some_and(|v| versions.contains(v)));
    }
    config
}

/// Whether the case's file `name` is its base's: the same bytes, or for `schema.sql` and
/// `pgconverge.toml` the base's cut down to the case's migrations.
fn same_as_base(case: &Path, base: &Path, name: &str) -> Result<(), String> {
    match name {
        "schema.sql" => {
            let extra = statements_not_in_base(case, base);
            if extra.is_empty() {
                Ok(())
            } else {
                Err(format!("{} statement(s) not in the base:\n{}", extra.len(), extra.join(";\n\n")))
            }
        }
        "pgconverge.toml" => {
            let found: toml::Table = toml::from_str(&std::fs::read_to_string(case.join(name)).unwrap()).unwrap();
            let expected = expected_config(case, base);
            if found == expected {
                Ok(())
            } else {
                Err(format!("{found:?}, not the base's cut down to the case's versions: {expected:?}"))
            }
        }
        _ => match std::fs::read(base.join(name)) {
            Ok(bytes) if bytes == std::fs::read(case.join(name)).unwrap() => Ok(()),
            Ok(_) => Err("differs from the base's".into()),
            Err(_) => Err("the base has no such file".into()),
        },
    }
}

#[test]
fn every_case_is_in_the_table() {
    let listed: Vec<String> = rows().into_iter().map(|r| r.case).collect();
    let mut sorted = listed.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(listed, sorted, "{TABLE}: one row per case, sorted");
    let dirs: Vec<String> = std::fs::read_dir(root().join("fixtures/divergent"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(listed, dirs, "{TABLE} lists every directory of fixtures/divergent, and no other");
}

#[test]
fn each_case_differs_from_its_base_in_the_listed_files_only() {
    let mut problems = Vec::new();
    let mut based = 0;
    for row in rows() {
        let case = root().join("fixtures/divergent").join(&row.case);
        let Some(base) = &row.base else {
            assert!(row.changed.is_empty(), "{}: a case without a base lists no changed files", row.case);
            continue;
        };
        based += 1;
        let base: PathBuf = root().join("fixtures").join(base);
        assert!(migrations_dir(&base).is_dir(), "{}: base {} is not a fixture", row.case, base.display());
        let case_files: BTreeSet<String> = files(&case).into_iter().filter(|f| f != "expect.toml").collect();
        for listed in row.changed.difference(&case_files) {
            problems.push(format!("{}: lists {listed}, which the case does not have", row.case));
        }
        let mut shown = BTreeMap::new();
        for name in &case_files {
            match (same_as_base(&case, &base, name), row.changed.contains(name)) {
                (Ok(()), true) => problems.push(format!("{}: lists {name} as changed, but it is the base's", row.case)),
                (Err(why), false) => problems.push(format!("{}: {name} is not listed as changed, but {why}", row.case)),
                (Err(why), true) if name == "schema.sql" => {
                    shown.insert(name.clone(), why);
                }
                _ => {}
            }
        }
        for (name, why) in shown {
            println!("{} {name}: {why}\n", row.case);
        }
    }
    assert!(based >= 10, "most cases are cut from a base; the table names {based}");
    assert!(problems.is_empty(), "{TABLE} does not match the files:\n{}", problems.join("\n"));
}
