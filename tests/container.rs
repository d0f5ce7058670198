//! The container backend (the local Docker engine through its API, with the registry-free
//! `pgconverge/postgres:<major>-local` images).
//!
//! The `docker-tests` tier (`required-features` in Cargo.toml): needs a Docker engine, and fails
//! saying so when there is none. Builds the local images itself when they are missing (seconds).
//! The image of another major is also in the `majors-tests` tier: it needs PostgreSQL 18, which
//! is fetched from PyPI wheels the first time. What the harness did is checked with the docker
//! CLI, independently of the client under test.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use pgconverge::engine::explore::ExploreOptions;
use pgconverge::engine::Checker;
use pgconverge::model::Report;
use pgconverge::runner::container::{self, ContainerServer, ImageRef, LABEL_OWNER_PID, LABEL_RUN};
use pgconverge::runner::{self, Backend, EmbeddedCluster};
use pgconverge::{Project, Property};

const PROPERTIES: [Property; 2] = [Property::Fresh, Property::Idempotent];

fn docker(args: &[&str]) -> String {
    common::require_docker();
    let output = Command::new("docker").args(args).output().expect("the docker CLI runs");
    assert!(output.status.success(), "docker {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Ids of the containers (running or not) that carry `label` (`key=value`).
fn containers_with(label: &str) -> Vec<String> {
    docker(&["ps", "-aq", "--filter", &format!("label={label}")]).lines().map(str::to_string).collect()
}

async fn local_image(major: u32) -> ImageRef {
    common::require_docker();
    container::ensure_local_image(major).await.unwrap_or_else(|e| panic!("pgconverge/postgres:{major}-local: {e}"))
}

async fn check(project: &str, backend: &dyn Backend) -> Report {
    let project = Project::load(Path::new(project)).expect("the fixture loads");
    Checker::new(&project, backend).run(&PROPERTIES, &ExploreOptions::default()).await.expect("the check decides")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn k12_converges_in_a_container_that_is_gone_after_drop() {
    let image = local_image(15).await;
    let started = Instant::now();
    let server = ContainerServer::start(&image).await.expect("the container starts");
    eprintln!("{} started in {:.1?}", server.describe(), started.elapsed());

    assert_eq!(server.kind(), "container");
    assert_eq!(server.image(), &image);
    let describe = server.describe();
    assert!(describe.contains("pgconverge/postgres:15-local"), "{describe}");
    assert!(describe.contains(&format!("{}:{}", server.host(), server.port())), "{describe}");
    assert!(describe.starts_with("container PostgreSQL 15."), "{describe}");
    // Labels: the run, and the owner (this process).
    let run = server.run_label().to_string();
    assert!(run.starts_with(&format!("{}-", std::process::id())), "{run}");
    let ids = containers_with(&format!("{LABEL_RUN}={run}"));
    assert_eq!(ids.len(), 1, "one container for the run");
    // The password is generated per run and appears nowhere in what is shown.
    let env = docker(&["inspect", "--format", "{{json .Config.Env}}", &ids[0]]);
    let password = env.split('"').find_map(|v| v.strip_prefix("POSTGRES_PASSWORD=")).expect("a password is set").to_string();
    assert!(password.len() >= 32, "a generated password");
    let debug = format!("{server:?}");
    assert!(!describe.contains(&password) && !debug.contains(&password), "{describe} / {debug}");
    let owner = docker(&["inspect", "--format", &format!("{{{{index .Config.Labels \"{LABEL_OWNER_PID}\"}}}}"), &ids[0]]);
    assert_eq!(owner.trim(), std::process::id().to_string());
    let command = docker(&["inspect", "--format", "{{json .Config.Cmd}}", &ids[0]]);
    for setting in ["fsync=off", "synchronous_commit=off", "full_page_writes=off"] {
        assert!(command.contains(setting), "{setting} in {command}");
    }

    let report = check("fixtures/k12_lms", &server).await;
    assert!(report.converges(), "{}", pgconverge::report::human(&report, false));
    assert_eq!(report.backend, server.describe());
    assert_eq!(report.verdicts.len(), 2);

    drop(server);
    assert!(containers_with(&format!("{LABEL_RUN}={run}")).is_empty(), "the container is removed on drop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_mismatch_gets_the_same_verdicts_as_on_the_embedded_backend() {
    let image = local_image(15).await;
    let fixture = "fixtures/divergent/default_mismatch";
    let server = ContainerServer::start(&image).await.expect("the container starts");
    let in_container = check(fixture, &server).await;
    server.close().await.expect("the container is removed");

    let cluster = EmbeddedCluster::start().await.expect("the embedded cluster starts");
    let embedded = check(fixture, &cluster).await;
    drop(cluster);

    assert!(!in_container.converges(), "{}", pgconverge::report::human(&in_container, false));
    let verdicts = |r: &Report| -> Vec<String> {
        r.verdicts.iter().map(|v| format!("{} {:?} {} {:?}", v.property, v.status, v.summary, v.failure)).collect()
    };
    assert_eq!(verdicts(&in_container), verdicts(&embedded));
    let failure = format!("{:?}", in_container.failures().next().expect("a failure").failure);
    assert!(failure.contains("public.ai_provider_configs.status"), "{failure}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reap_removes_containers_whose_owner_is_dead() {
    let image = local_image(15).await.to_string();
    let dead_owner = "999999";
    assert!(!Path::new("/proc").join(dead_owner).exists(), "pid {dead_owner} must not be alive for this test");
    let tag = format!("pgconverge.test=reap-{}", std::process::id());
    let start = |owner: &str| {
        docker(&[
            "run",
            "-d",
            "--label",
            &format!("{LABEL_OWNER_PID}={owner}"),
            "--label",
            &tag,
            "-e",
            "POSTGRES_HOST_AUTH_METHOD=trust",
            &image,
        ])
        .trim()
        .to_string()
    };
    let orphan = start(dead_owner);
    let ours = start(&std::process::id().to_string());

    let removed = container::reap().await.expect("reap runs");
    // Another test's reaper may be removing the orphan at the same moment (the engine then
    // answers "removal in progress" to ours): give a removal under way a few seconds to finish.
    let short_orphan = orphan[..12].to_string();
    let mut left = containers_with(&tag);
    for _ in 0..20 {
        if !left.contains(&short_orphan) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        left = containers_with(&tag);
    }
    // Remove ours before asserting, so a failure leaves nothing behind.
    docker(&["rm", "-f", "-v", &ours]);
    let short = |id: &str| id[..12].to_string();
    assert!(!left.contains(&short(&orphan)), "the orphan ({orphan}) is removed");
    assert!(left.contains(&short(&ours)), "a container whose owner lives is kept");
    // Another test's ContainerServer::start may have reaped the orphan first.
    eprintln!("reap removed {removed} container(s)");
}

#[tokio::test]
async fn drop_on_a_current_thread_runtime_removes_the_container() {
    let server = ContainerServer::start(&local_image(15).await).await.expect("the container starts");
    let run = server.run_label().to_string();
    drop(server);
    assert!(containers_with(&format!("{LABEL_RUN}={run}")).is_empty());
}

#[test]
fn drop_outside_any_runtime_removes_the_container() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(async { ContainerServer::start(&local_image(15).await).await.expect("the container starts") });
    drop(runtime);
    let run = server.run_label().to_string();
    drop(server);
    assert!(containers_with(&format!("{LABEL_RUN}={run}")).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(feature = "majors-tests"), ignore = "needs PostgreSQL 18 too: cargo test --features docker-tests,majors-tests")]
async fn a_local_image_of_another_major_reports_that_major() {
    // Built from PostgreSQL 18 server binaries fetched from PyPI (scripts/fetch-postgres).
    common::require_major(18);
    let image = local_image(18).await;
    let server = ContainerServer::start(&image).await.expect("the container starts");
    let version = runner::server_version(&server).await.expect("the server answers");
    assert_eq!(version.major, 18);
    assert!(server.describe().contains("PostgreSQL 18."), "{}", server.describe());
    server.close().await.unwrap();
}

#[test]
fn an_image_without_an_explicit_tag_is_refused() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for image in [ImageRef::new("postgres", "latest"), ImageRef::new("postgres", "")] {
        let error = runtime.block_on(ContainerServer::start(&image)).expect_err("refused");
        assert!(error.to_string().contains("tag") || error.to_string().contains("latest"), "{error}");
    }
}

#[tokio::test]
async fn without_a_registry_the_local_image_is_chosen() {
    common::require_docker();
    if std::env::var_os("PGCONVERGE_IMAGE").is_some() {
        eprintln!("SKIPPED: PGCONVERGE_IMAGE is set");
        return;
    }
    let official = ImageRef::official(15);
    let expected = if official.exists_locally().await || official.pullable().await { official } else { ImageRef::local(15) };
    assert_eq!(container::image_for(15).await, expected);
    assert!(container::engine_available().await);
}

#[tokio::test]
async fn the_client_speaks_the_engines_api_version() {
    let server: serde_json::Value = serde_json::from_str(&docker(&["version", "--format", "{{json .Server}}"])).unwrap();
    let engine_api = server["ApiVersion"].as_str().expect("the engine reports its API version").to_string();
    let (major, minor) = engine_api.split_once('.').unwrap();
    let engine_api: (usize, usize) = (major.parse().unwrap(), minor.parse().unwrap());
    let newest = bollard::API_DEFAULT_VERSION;
    let newest = (newest.major_version, newest.minor_version);

    let docker = container::client::connect().await.expect("the engine answers");
    let client = docker.client_version();
    assert_eq!((client.major_version, client.minor_version), engine_api.min(newest));
    let listed = docker.list_containers(None::<bollard::query_parameters::ListContainersOptions>).await;
    assert!(listed.is_ok(), "{listed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_image_is_built_through_the_api_and_runs() {
    common::require_docker();
    // A name of its own, so the build runs even though pgconverge/postgres:15-local exists.
    let image = ImageRef::new("pgconverge-test/postgres", format!("15-{}", std::process::id()));
    let started = Instant::now();
    let built = container::build_local_image(15, &image).await;
    eprintln!("{image} built in {:.1?}", started.elapsed());
    let started = match built {
        Ok(()) => ContainerServer::start(&image).await,
        Err(error) => Err(error),
    };
    let outcome = match started {
        Ok(server) => {
            let version = runner::server_version(&server).await;
            server.close().await.expect("the container is removed");
            version
        }
        Err(error) => Err(error),
    };
    // Remove the image before asserting, so a failure leaves nothing behind.
    let _ = Command::new("docker").args(["image", "rm", "-f", &image.to_string()]).output();
    assert_eq!(outcome.expect("the built image runs PostgreSQL").major, 15);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_reports_each_backend() {
    local_image(15).await;
    let report = pgconverge::runner::doctor::doctor().await;
    let text = report.to_string();
    eprintln!("{text}");
    assert!(report.embedded.usable, "{text}");
    assert!(report.container.usable, "{text}");
    assert!(report.container.images.iter().any(|i| i == "pgconverge/postgres:15-local"), "{text}");
    match std::env::var("PGCONVERGE_DATABASE_URL") {
        Ok(url) if !url.is_empty() => assert!(!text.contains(&url) && !serde_json::to_string(&report).unwrap().contains(&url)),
        _ => {
            assert!(!report.url.usable);
            assert!(text.contains("PGCONVERGE_DATABASE_URL is not set"), "{text}");
        }
    }
    let json = serde_json::to_value(&report).expect("serializes");
    assert_eq!(json["container"]["usable"], true);
}
