use pgconverge::catalog::{dump, Canonicalizer, IgnoreRules};
use pgconverge::runner::{EmbeddedCluster, ScratchDatabase};
use sqlx::AssertSqlSafe;

#[tokio::test(flavor = "multi_thread")]
async fn smoke() {
    let cluster = EmbeddedCluster::start().await.unwrap();
    let db = ScratchDatabase::create(&cluster).await.unwrap();
    let mut conn = db.connect().await.unwrap();
    let sql = r#"
    CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
    CREATE DOMAIN posint AS integer NOT NULL DEFAULT 1 CHECK (VALUE > 0);
    CREATE TABLE t (id bigserial PRIMARY KEY, name varchar(20) DEFAULT 'x' NOT NULL, m mood, n posint, CONSTRAINT c CHECK (id > 0));
    CREATE TABLE u (id int GENERATED ALWAYS AS IDENTITY, t_id bigint REFERENCES t(id), g int GENERATED ALWAYS AS (id * 2) STORED);
    CREATE UNIQUE INDEX u_t ON u (t_id) WHERE t_id IS NOT NULL;
    CREATE VIEW v AS SELECT id, name FROM t WHERE id > 1;
    CREATE MATERIALIZED VIEW mv AS SELECT count(*) FROM t;
    CREATE FUNCTION f(a int) RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN a + 1; END $$;
    CREATE FUNCTION trg() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
    CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION trg();
    ALTER TABLE t ENABLE ROW LEVEL SECURITY;
    CREATE POLICY p ON t USING (id > 0);
    COMMENT ON TABLE t IS 'hello';
    COMMENT ON COLUMN t.name IS 'the name';
    CREATE TYPE fr AS RANGE (subtype = float8);
    CREATE TYPE comp AS (a int, b text);
    CREATE STATISTICS st ON id, name FROM t;
    CREATE TABLE schema_migrations (version varchar PRIMARY KEY);
    "#;
    sqlx::raw_sql(AssertSqlSafe(sql.to_string())).execute(&mut conn).await.unwrap();
    let mut canon = Canonicalizer::new();
    let started = std::time::Instant::now();
    let catalog = dump(&mut conn, &mut canon, &IgnoreRules::default()).await.unwrap();
    eprintln!("dump took {:?}", started.elapsed());
    println!("{}", catalog.render());
    drop(conn);
    db.drop_now().await.unwrap();
}
