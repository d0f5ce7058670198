//! The reference schema split into units that can be created independently.
//!
//! Each statement of the reference schema that creates or changes an object is one unit (a
//! `CREATE TABLE`, a `CREATE SEQUENCE`, its `ALTER SEQUENCE ... OWNED BY`, a `SET DEFAULT`, each
//! `ADD CONSTRAINT`, a `CREATE INDEX`, a `COMMENT ON`, ...). A unit depends on the earlier units
//! that create what it uses, so any dependency-closed set of units can be built on an empty
//! database: that is how partial pre-existing states are made. Session settings form a preamble
//! that always runs first; statements about migration-ledger tables are set apart.

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;

use crate::analysis::footprint::{analyze_script, Footprint, Key, ObjectRef, StatementInfo};
use crate::migration::Script;

/// Tables in which migration tools record what they applied.
pub(crate) const LEDGER_TABLES: &[&str] = &[
    "schema_migrations",
    "ar_internal_metadata",
    "_sqlx_migrations",
    "__diesel_schema_migrations",
    "flyway_schema_history",
    "alembic_version",
    "goose_db_version",
];

/// One independently creatable piece of the reference schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct ReferenceUnit {
    /// Indices into the script's statements (one, usually).
    pub(crate) statements: Vec<usize>,
    /// Readable: "table public.ai_provider_configs", "index public.index_x",
    /// "constraint public.t.fk_rails_abc", "default public.t.id", "sequence public.t_id_seq",
    /// "owned by public.t_id_seq".
    pub(crate) label: String,
    pub(crate) creates: BTreeSet<ObjectRef>,
    /// The earlier units this one needs.
    pub(crate) depends_on: BTreeSet<usize>,
    /// The columns it names (a view's, an index's): a table built by its migrations has only the
    /// columns those added, so the unit also needs the migrations that add these.
    pub(crate) columns: BTreeSet<ObjectRef>,
}

impl ReferenceUnit {
    /// The whole of a reference the migrator loads its own way (`db/schema.rb`): one unit, made
    /// by no single migration.
    pub(crate) fn whole(path: Option<&std::path::Path>) -> ReferenceUnit {
        let label = match path {
            Some(path) => format!("the whole reference ({})", path.display()),
            None => "the whole reference".to_string(),
        };
        ReferenceUnit { statements: vec![], label, creates: BTreeSet::new(), depends_on: BTreeSet::new(), columns: BTreeSet::new() }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct ReferenceUnits {
    /// Session setup statements (`SET ...`, `SELECT pg_catalog.set_config(...)`), run first.
    pub(crate) preamble: Vec<usize>,
    /// Statements about migration-ledger tables ([`LEDGER_TABLES`]), including `INSERT INTO` them.
    pub(crate) ledger: Vec<usize>,
    pub(crate) units: Vec<ReferenceUnit>,
}

impl ReferenceUnits {
    /// `set` plus every unit it transitively depends on.
    #[cfg(test)]
    pub(crate) fn dependency_closure(&self, set: &BTreeSet<usize>) -> BTreeSet<usize> {
        let mut closure = set.clone();
        let mut todo: Vec<usize> = set.iter().copied().collect();
        while let Some(unit) = todo.pop() {
            for &dependency in &self.units[unit].depends_on {
                if closure.insert(dependency) {
                    todo.push(dependency);
                }
            }
        }
        closure
    }

    /// The SQL to build these units on an empty database: the preamble, then the units'
    /// statements in file order, each ending with ";\n".
    #[cfg(test)]
    pub(crate) fn sql(&self, script: &Script, units: &BTreeSet<usize>) -> String {
        let statements: BTreeSet<usize> = units.iter().flat_map(|&u| self.units[u].statements.iter().copied()).collect();
        self.preamble.iter().chain(&statements).map(|&i| format!("{};\n", script.statements[i].sql)).collect()
    }
}

/// Splits a reference schema into units, in file order.
pub(crate) fn reference_units(script: &Script) -> ReferenceUnits {
    let analysis = analyze_script(script);
    let mut result = ReferenceUnits { preamble: vec![], ledger: vec![], units: vec![] };
    let mut built = Built::default();
    for (i, info) in analysis.statements.iter().enumerate() {
        if info.session {
            result.preamble.push(i);
            continue;
        }
        if is_about_ledger(&info.footprint) {
            result.ledger.push(i);
            continue;
        }
        let unit = result.units.len();
        let depends_on = built.needs(info);
        built.record(unit, info);
        result.units.push(ReferenceUnit {
            statements: vec![i],
            label: info.label.clone().unwrap_or_else(|| format!("statement at line {}", script.statements[i].line)),
            creates: info.footprint.creates.clone(),
            depends_on,
            columns: info
                .footprint
                .references
                .iter()
                .chain(&info.footprint.alters)
                .filter(|o| o.kind == crate::analysis::footprint::RefKind::Column && !info.footprint.creates.contains(o))
                .cloned()
                .collect(),
        });
    }
    result
}

/// What the units so far create.
#[derive(Default)]
struct Built {
    /// The latest unit that creates each object.
    creator: HashMap<ObjectRef, usize>,
    /// The unique keys (PRIMARY KEY, UNIQUE, unique indexes) and the unit of each.
    unique_keys: Vec<(Key, usize)>,
}

impl Built {
    /// The units a statement needs: the creators of what it references, alters or drops, and
    /// for each foreign key, the unique key Postgres requires on the referenced columns.
    fn needs(&self, info: &StatementInfo) -> BTreeSet<usize> {
        let fp = &info.footprint;
        let mut needs: BTreeSet<usize> =
            fp.references.iter().chain(&fp.alters).chain(&fp.drops).filter_map(|o| self.creator.get(o).copied()).collect();
        for target in &info.keys.foreign {
            needs.extend(self.key_units(target));
        }
        needs
    }

    /// The units whose unique key serves a foreign key to `target`; when none matches exactly
    /// (say the referenced columns are implied), every PRIMARY KEY/UNIQUE unit of that table.
    fn key_units(&self, target: &Key) -> Vec<usize> {
        let exact: Vec<usize> = self.unique_keys.iter().filter(|(k, _)| k.serves(target)).map(|(_, u)| *u).collect();
        if !exact.is_empty() {
            return exact;
        }
        self.unique_keys.iter().filter(|(k, _)| k.table == target.table).map(|(_, u)| *u).collect()
    }

    fn record(&mut self, unit: usize, info: &StatementInfo) {
        for object in &info.footprint.creates {
            self.creator.insert(object.clone(), unit);
        }
        self.unique_keys.extend(info.keys.unique.iter().map(|k| (k.clone(), unit)));
    }
}

/// Whether a statement creates, changes or fills a migration-ledger table.
fn is_about_ledger(footprint: &Footprint) -> bool {
    footprint.names().filter_map(ObjectRef::table).any(|table| {
        let name = table.rsplit('.').next().unwrap_or(&table);
        LEDGER_TABLES.contains(&name)
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::migration::split::split_statements;
    use crate::migration::Span;

    fn k12_reference() -> Script {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/k12_lms/schema.sql");
        crate::project::read_reference(&path).expect("the k12 reference reads")
    }

    fn script(sql: &str) -> Script {
        Script::parse(Path::new("schema.sql"), sql.to_string(), Span { start: 0, end: sql.len() }).expect("valid SQL")
    }

    fn unit(units: &ReferenceUnits, label: &str) -> usize {
        units.units.iter().position(|u| u.label == label).unwrap_or_else(|| panic!("no unit {label}"))
    }

    fn needs(units: &ReferenceUnits, label: &str) -> BTreeSet<String> {
        units.units[unit(units, label)].depends_on.iter().map(|&d| units.units[d].label.clone()).collect()
    }

    fn labels(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    /// Applies `sql` on paper: every object of the reference a statement uses must have been
    /// created by an earlier statement.
    fn applies_in_order(sql: &str, everything: &BTreeSet<ObjectRef>) -> Result<(), String> {
        let analysis = analyze_script(&script(sql));
        let mut created = BTreeSet::new();
        for (i, statement) in analysis.statements.iter().enumerate() {
            let fp = &statement.footprint;
            if let Some(missing) = fp.references.iter().chain(&fp.alters).find(|o| everything.contains(*o) && !created.contains(*o)) {
                return Err(format!("statement {i} ({:?}) needs {missing} before it is created", statement.label));
            }
            created.extend(fp.creates.iter().cloned());
        }
        Ok(())
    }

    #[test]
    fn k12_splits_into_units_with_a_preamble_and_a_ledger() {
        let script = k12_reference();
        let units = reference_units(&script);
        assert_eq!((units.preamble.len(), units.ledger.len(), units.units.len()), (13, 5, 98));
        assert_eq!(units.preamble.len() + units.ledger.len() + units.units.len(), script.statements.len());
        let ledger: Vec<&str> = units.ledger.iter().map(|&i| script.statements[i].sql.lines().next().unwrap_or_default()).collect();
        assert_eq!(
            ledger,
            [
                "CREATE TABLE public.ar_internal_metadata (",
                "CREATE TABLE public.schema_migrations (",
                "ALTER TABLE ONLY public.ar_internal_metadata",
                "ALTER TABLE ONLY public.schema_migrations",
                "INSERT INTO \"schema_migrations\" (version) VALUES",
            ]
        );
        assert!(units.units.iter().all(|u| u.statements.len() == 1 && u.depends_on.iter().all(|&d| d < unit(&units, &u.label))));
    }

    #[test]
    fn k12_tables_stand_alone_and_pieces_need_their_tables() {
        let units = reference_units(&k12_reference());
        assert!(needs(&units, "table public.ai_provider_configs").is_empty(), "pg_dump puts foreign keys in separate ALTERs");
        let table = &units.units[unit(&units, "table public.ai_provider_configs")];
        assert!(table.creates.contains(&ObjectRef::new(crate::analysis::footprint::RefKind::Relation, "public.ai_provider_configs")));
        assert_eq!(needs(&units, "default public.users.id"), labels(&["table public.users", "sequence public.users_id_seq"]));
        assert_eq!(needs(&units, "owned by public.users_id_seq"), labels(&["table public.users", "sequence public.users_id_seq"]));
        assert_eq!(needs(&units, "identity public.tenants.id"), labels(&["table public.tenants"]));
        assert_eq!(needs(&units, "index public.index_users_on_tenant_id_and_email"), labels(&["table public.users"]));
        assert_eq!(needs(&units, "constraint public.users.users_pkey"), labels(&["table public.users"]));
        assert!(units.units[unit(&units, "default public.users.id")].creates.is_empty());
    }

    #[test]
    fn k12_foreign_keys_need_both_tables_and_the_referenced_primary_key() {
        let units = reference_units(&k12_reference());
        assert_eq!(
            needs(&units, "constraint public.ai_provider_configs.fk_rails_ca404c29e6"),
            labels(&["table public.ai_provider_configs", "table public.users", "constraint public.users.users_pkey"])
        );
        assert_eq!(
            needs(&units, "constraint public.lti_resource_links.fk_rails_b5c8619673"),
            labels(&[
                "table public.lti_resource_links",
                "table public.lti_registrations",
                "constraint public.lti_registrations.lti_registrations_pkey"
            ])
        );
        let fks = units.units.iter().filter(|u| u.label.contains(".fk_rails_")).count();
        assert_eq!(fks, 21);
        for fk in units.units.iter().filter(|u| u.label.contains(".fk_rails_")) {
            assert_eq!(fk.depends_on.len(), 3, "{}", fk.label);
        }
    }

    #[test]
    fn k12_the_closure_of_any_unit_applies_in_order() {
        let script = k12_reference();
        let units = reference_units(&script);
        let everything: BTreeSet<ObjectRef> = units.units.iter().flat_map(|u| u.creates.iter().cloned()).collect();
        for u in 0..units.units.len() {
            let closure = units.dependency_closure(&[u].into());
            assert!(closure.contains(&u));
            let sql = units.sql(&script, &closure);
            let spans = split_statements(&sql).unwrap_or_else(|e| panic!("{}: {e:?}\n{sql}", units.units[u].label));
            assert_eq!(spans.len(), units.preamble.len() + closure.len(), "{}", units.units[u].label);
            assert!(sql.ends_with(";\n"));
            applies_in_order(&sql, &everything).unwrap_or_else(|e| panic!("{}: {e}\n{sql}", units.units[u].label));
        }
        let all: BTreeSet<usize> = (0..units.units.len()).collect();
        assert_eq!(units.dependency_closure(&all), all);
        applies_in_order(&units.sql(&script, &all), &everything).unwrap();
    }

    #[test]
    fn a_closure_of_a_foreign_key_builds_both_tables_their_keys_and_nothing_else() {
        let script = k12_reference();
        let units = reference_units(&script);
        let closure = units.dependency_closure(&[unit(&units, "constraint public.users.fk_rails_135c8f54b2")].into());
        let got: BTreeSet<String> = closure.iter().map(|&u| units.units[u].label.clone()).collect();
        assert_eq!(
            got,
            labels(&[
                "constraint public.users.fk_rails_135c8f54b2",
                "table public.users",
                "table public.tenants",
                "constraint public.tenants.tenants_pkey"
            ])
        );
        let sql = units.sql(&script, &closure);
        assert!(sql.starts_with("SET statement_timeout = 0;\n"));
        let tenants = sql.find("CREATE TABLE public.tenants").unwrap();
        let fk = sql.find("fk_rails_135c8f54b2").unwrap();
        assert!(sql.find("CREATE TABLE public.users").unwrap() < fk && tenants < fk);
    }

    #[test]
    fn hand_written_schemas_get_type_view_trigger_comment_and_key_dependencies() {
        let script = script(
            "SELECT pg_catalog.set_config('search_path', '', false);\n\
             CREATE TYPE public.mood AS ENUM ('ok', 'meh');\n\
             CREATE TABLE public.accounts (id bigint NOT NULL, email text NOT NULL, mood public.mood);\n\
             ALTER TABLE ONLY public.accounts ADD CONSTRAINT accounts_pkey PRIMARY KEY (id);\n\
             CREATE UNIQUE INDEX accounts_email ON public.accounts USING btree (email);\n\
             CREATE TABLE public.notes (id int, account_id bigint REFERENCES public.accounts, author_email text);\n\
             ALTER TABLE ONLY public.notes ADD CONSTRAINT notes_author FOREIGN KEY (author_email) REFERENCES public.accounts (email);\n\
             CREATE FUNCTION public.touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.id := NEW.id; RETURN NEW; END $$;\n\
             CREATE TRIGGER notes_touch BEFORE UPDATE ON public.notes FOR EACH ROW EXECUTE FUNCTION public.touch();\n\
             CREATE VIEW public.happy_accounts AS SELECT id FROM public.accounts WHERE mood = 'ok';\n\
             COMMENT ON COLUMN public.notes.author_email IS 'who wrote it';\n\
             CREATE TABLE public.schema_migrations (version text PRIMARY KEY);\n\
             INSERT INTO public.schema_migrations VALUES ('1');",
        );
        let units = reference_units(&script);
        assert_eq!((units.preamble.clone(), units.ledger.clone()), (vec![0], vec![11, 12]));
        assert_eq!(needs(&units, "table public.accounts"), labels(&["type public.mood"]));
        assert_eq!(needs(&units, "table public.notes"), labels(&["table public.accounts", "constraint public.accounts.accounts_pkey"]));
        assert_eq!(
            needs(&units, "constraint public.notes.notes_author"),
            labels(&["table public.notes", "table public.accounts", "index public.accounts_email"])
        );
        assert_eq!(needs(&units, "trigger public.notes.notes_touch"), labels(&["table public.notes", "function public.touch"]));
        assert_eq!(needs(&units, "view public.happy_accounts"), labels(&["table public.accounts"]));
        assert_eq!(needs(&units, "comment on column public.notes.author_email"), labels(&["table public.notes"]));
    }

    #[test]
    fn without_a_matching_key_a_foreign_key_needs_every_key_of_its_target() {
        let script = script(
            "CREATE TABLE a (x int, y int);\nALTER TABLE a ADD CONSTRAINT a_pkey PRIMARY KEY (x);\n\
             ALTER TABLE a ADD CONSTRAINT a_y UNIQUE (y);\nCREATE TABLE b (x int);\n\
             ALTER TABLE b ADD CONSTRAINT b_fk FOREIGN KEY (x) REFERENCES a (x, y);",
        );
        let units = reference_units(&script);
        assert_eq!(
            needs(&units, "constraint public.b.b_fk"),
            labels(&["table public.a", "table public.b", "constraint public.a.a_pkey", "constraint public.a.a_y"])
        );
    }
}
