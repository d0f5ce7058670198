//! How long pgconverge takes to dump one database's catalog, in-process: the first dump on a new
//! connection (cold: the server's catalog caches and pg_query's memo are empty) and the median of
//! the dumps after it on the same connection (warm: what each case of a check pays).
//!
//!     cargo bench --bench catalog_dump -- <database-url> [runs]
//!
//! Prints the timings, then one machine-readable line:
//! `catalog_dump: objects=<n> cold_ms=<x> warm_median_ms=<x> warm_min_ms=<x> runs=<n>`.
//! It reads the database inside a read-only transaction and changes nothing.

use std::time::{Duration, Instant};

use pgconverge::catalog::{self, Canonicalizer, IgnoreRules};
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection};

// As the pgconverge binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    // `cargo bench` adds `--bench`; everything else is ours.
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let Some(url) = args.first() else {
        eprintln!("usage: cargo bench --bench catalog_dump -- <database-url> [runs]");
        std::process::exit(2);
    };
    let runs: usize = match args.get(1).map(|r| r.parse()) {
        None => 10,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("runs must be a positive number");
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
    if let Err(message) = runtime.block_on(bench(url, runs)) {
        eprintln!("catalog_dump: {message}");
        std::process::exit(1);
    }
}

async fn bench(url: &str, runs: usize) -> Result<(), String> {
    let options: PgConnectOptions = url.parse().map_err(|e| format!("bad database URL: {e}"))?;
    let mut conn: PgConnection = options.connect().await.map_err(|e| format!("connect: {e}"))?;
    sqlx::raw_sql("BEGIN READ ONLY").execute(&mut conn).await.map_err(|e| e.to_string())?;
    let mut canon = Canonicalizer::new();
    let ignore = IgnoreRules::default();
    let started = Instant::now();
    let first = catalog::dump(&mut conn, &mut canon, &ignore).await.map_err(|e| e.to_string())?;
    let cold = started.elapsed();
    let mut warm: Vec<Duration> = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        let again = catalog::dump(&mut conn, &mut canon, &ignore).await.map_err(|e| e.to_string())?;
        warm.push(started.elapsed());
        if again != first {
            return Err("two dumps of an unchanged database differ".into());
        }
    }
    let _ = sqlx::raw_sql("ROLLBACK").execute(&mut conn).await;
    let _ = conn.close().await;
    warm.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let median = ms(warm[warm.len() / 2]);
    println!(
        "{} objects; first dump {:.1} ms; then {runs} dumps: median {median:.1} ms, min {:.1} ms",
        first.objects.len(),
        ms(cold),
        ms(warm[0])
    );
    println!(
        "catalog_dump: objects={} cold_ms={:.2} warm_median_ms={median:.2} warm_min_ms={:.2} runs={runs}",
        first.objects.len(),
        ms(cold),
        ms(warm[0])
    );
    Ok(())
}
