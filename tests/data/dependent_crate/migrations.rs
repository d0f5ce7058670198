// tests/migrations.rs, in a crate with pgconverge as a dev-dependency and its migrations in db/
#[test]
fn migrations_converge() {
    pgconverge::assert_converges("db");
}

#[tokio::test]
async fn migrations_converge_in_an_async_test() {
    let report = pgconverge::check("db").expect("pgconverge could not decide");
    assert!(report.converges(), "{}", pgconverge::report::human(&report, false));
}
