//! The workflows the README offers to copy work in another project as they are. Each is parsed
//! as YAML, copied with a fixture into a project of its own (nothing of pgconverge's repository
//! around it), and its `run:` steps are run there as GitHub would run them: `bash -eo pipefail`,
//! the job's `env:`, `${{ matrix.* }}` and `${{ vars.* }}` substituted, the built binary on
//! `PATH` in place of the install step. The paths the upload steps keep must then exist.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use yaml_rust2::{Yaml, YamlLoader};

/// The workflows the README's "Nightly fuzzing" and "Nightly and CI" offer to copy.
const COPYABLE: [&str; 2] = [".github/workflows/nightly.yml", ".github/workflows/ci.yml"];

/// What a workflow copied into another project cannot use: pgconverge's scripts, fixtures,
/// build directory, or a build of pgconverge's own checkout.
const REPOSITORY_ONLY: [&str; 6] = ["scripts/", "fixtures/", "target/", "cargo run", "cargo build", "--manifest-path"];

struct Job {
    name: String,
    matrix: Vec<(String, Vec<String>)>,
    env: Vec<(String, String)>,
    steps: Vec<Step>,
}

struct Step {
    name: String,
    run: Option<String>,
    uses: Option<String>,
    condition: Option<String>,
    /// `with.path` of an upload step, one path a line.
    paths: Vec<String>,
}

fn text(value: &Yaml) -> Option<String> {
    match value {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

fn load(path: &Path) -> Vec<Job> {
    let source = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let documents = YamlLoader::load_from_str(&source).unwrap_or_else(|e| panic!("{}: not YAML: {e}", path.display()));
    let jobs = documents[0]["jobs"].as_hash().unwrap_or_else(|| panic!("{}: no jobs", path.display()));
    jobs.iter()
        .map(|(name, job)| {
            let matrix = job["strategy"]["matrix"]
                .as_hash()
                .into_iter()
                .flatten()
                .map(|(key, values)| (text(key).unwrap(), values.as_vec().unwrap().iter().map(|v| text(v).unwrap()).collect()))
                .collect();
            let env = job["env"].as_hash().into_iter().flatten().map(|(k, v)| (text(k).unwrap(), text(v).unwrap_or_default())).collect();
            let steps = job["steps"]
                .as_vec()
                .unwrap_or_else(|| panic!("{}: job {name:?} has no steps", path.display()))
                .iter()
                .map(|step| Step {
                    name: text(&step["name"]).or_else(|| text(&step["uses"])).or_else(|| text(&step["run"])).unwrap_or_default(),
                    run: text(&step["run"]),
                    uses: text(&step["uses"]),
                    condition: text(&step["if"]),
                    paths: text(&step["with"]["path"])
                        .map(|p| p.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect())
                        .unwrap_or_default(),
                })
                .collect();
            Job { name: text(name).unwrap(), matrix, env, steps }
        })
        .collect()
}

/// `text` with GitHub's `${{ matrix.K }}` and `${{ vars.K }}` replaced (an unset variable is
/// empty, as on GitHub). Any other expression fails the test: it would need a meaning here.
fn substitute(text: &str, matrix: &[(String, String)], vars: &[(&str, &str)]) -> String {
    let expression = regex::Regex::new(r"\$\{\{\s*([^}]*?)\s*\}\}").unwrap();
    expression
        .replace_all(text, |captures: &regex::Captures<'_>| {
            let inner = &captures[1];
            if let Some(key) = inner.strip_prefix("matrix.") {
                return matrix.iter().find(|(k, _)| k == key).unwrap_or_else(|| panic!("no matrix key {key}")).1.clone();
            }
            if let Some(key) = inner.strip_prefix("vars.") {
                return vars.iter().find(|(k, _)| *k == key).map(|(_, v)| v.to_string()).unwrap_or_default();
            }
            panic!("`${{{{ {inner} }}}}` in a step: the test gives it no value (teach it one)")
        })
        .into_owned()
}

/// Every combination of the matrix (one empty combination without a matrix).
fn combinations(matrix: &[(String, Vec<String>)]) -> Vec<Vec<(String, String)>> {
    matrix.iter().fold(vec![vec![]], |done, (key, values)| {
        done.iter()
            .flat_map(|combination| values.iter().map(move |value| [combination.clone(), vec![(key.clone(), value.clone())]].concat()))
            .collect()
    })
}

/// A project as another repository would hold it: `fixture`'s files at its root and the
/// workflow under `.github/workflows/`.
fn project_with(workflow: &str, fixture: &str) -> tempfile::TempDir {
    let project = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    common::copy_dir(&root.join(fixture), project.path());
    let copy = project.path().join(workflow);
    std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
    std::fs::copy(root.join(workflow), &copy).unwrap();
    project
}

/// A step that only prepares a runner: this machine has what it installs, or the test puts it
/// there (the built `pgconverge`). `None` for a step the test must run.
fn prepares_the_runner(run: &str) -> Option<&'static str> {
    if run.contains("cargo install") {
        assert!(run.contains("pgconverge"), "an install step that installs something else: {run}");
        return Some("the built pgconverge is on PATH instead");
    }
    if run.contains("apt-get") {
        return Some("the test tier's machine has the system packages");
    }
    if run.trim_start().starts_with("cargo test") {
        return Some("the project's own test suite");
    }
    None
}

/// What running one combination of a job came to.
struct JobRun {
    /// The first step that failed (its name), if one did.
    failed: Option<String>,
    /// The paths of the upload steps that ran after it, per GitHub's `if:`.
    uploads: Vec<String>,
    /// What the steps printed.
    log: String,
}

/// Runs the job's steps in `project` as a runner would, for one combination of its matrix.
fn run_job(job: &Job, combination: &[(String, String)], project: &Path, vars: &[(&str, &str)]) -> JobRun {
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_pgconverge")).parent().unwrap().to_path_buf();
    let path =
        std::env::join_paths(std::iter::once(bin_dir).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()))).unwrap();
    let mut outcome = JobRun { failed: None, uploads: Vec::new(), log: String::new() };
    for step in &job.steps {
        let runs = match step.condition.as_deref().map(str::trim) {
            None | Some("success()") => outcome.failed.is_none(),
            Some("always()") => true,
            Some("failure()") => outcome.failed.is_some(),
            Some(other) => panic!("step {:?}: `if: {other}` has no meaning in this test (teach it one)", step.name),
        };
        if !runs {
            continue;
        }
        if let Some(uses) = &step.uses {
            if uses.starts_with("actions/upload-artifact@") {
                outcome.uploads.extend(step.paths.iter().map(|p| substitute(p, combination, vars)));
            }
            continue;
        }
        let Some(script) = &step.run else { continue };
        let script = substitute(script, combination, vars);
        if prepares_the_runner(&script).is_some() {
            continue;
        }
        let _slot = common::shared_server_slot();
        let mut command = Command::new("bash");
        command.args(["--noprofile", "--norc", "-eo", "pipefail", "-c", &script]).current_dir(project);
        for variable in ["PGCONVERGE_CASES", "PGCONVERGE_SEED", "PGCONVERGE_SHARD", "PGCONVERGE_BACKEND", "PROPTEST_CASES"] {
            command.env_remove(variable);
        }
        for (key, value) in &job.env {
            command.env(key, substitute(value, combination, vars));
        }
        let output = command
            .env("PATH", &path)
            .env("CI", "true")
            .env("GITHUB_WORKSPACE", project)
            .env("PGCONVERGE_DATABASE_URL", common::shared_server_url())
            .output()
            .expect("bash runs");
        outcome.log.push_str(&format!(
            "--- {} (exit {:?})\n{}{}",
            step.name,
            output.status.code(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
        if !output.status.success() && outcome.failed.is_none() {
            outcome.failed = Some(step.name.clone());
        }
    }
    outcome
}

/// The files under `project` that an upload path names: a directory (`out/`), a file, or
/// `**/<name>/` (every directory of that name, at any depth).
fn files_named(project: &Path, upload: &str) -> Vec<PathBuf> {
    fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            if entry.path().is_dir() {
                files_under(&entry.path(), out);
            } else {
                out.push(entry.path());
            }
        }
    }
    fn directories_named(dir: &Path, name: &str, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            if entry.path().is_dir() {
                if entry.file_name() == name {
                    files_under(&entry.path(), out);
                } else {
                    directories_named(&entry.path(), name, out);
                }
            }
        }
    }
    let mut files = Vec::new();
    if let Some(name) = upload.strip_prefix("**/") {
        directories_named(project, name.trim_end_matches('/'), &mut files);
    } else {
        assert!(!upload.contains('*'), "upload path `{upload}`: the test reads only `**/<dir>/` patterns (teach it more)");
        let path = project.join(upload);
        if path.is_file() {
            files.push(path);
        } else {
            files_under(&path, &mut files);
        }
    }
    files
}

#[test]
fn the_copyable_workflows_name_nothing_of_pgconverges_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for workflow in COPYABLE {
        let source = std::fs::read_to_string(root.join(workflow)).unwrap();
        for line in source.lines().filter(|l| !l.trim_start().starts_with('#')) {
            for needle in REPOSITORY_ONLY {
                assert!(!line.contains(needle), "{workflow}: `{needle}` exists only in pgconverge's repository: {line}");
            }
        }
        let jobs = load(&root.join(workflow));
        assert!(!jobs.is_empty() && jobs.iter().all(|j| !j.steps.is_empty()), "{workflow}: jobs with steps");
        for job in &jobs {
            for step in job.steps.iter().filter(|s| s.run.is_none()) {
                assert!(step.uses.is_some(), "{workflow}: step {:?} neither runs nor uses anything", step.name);
            }
        }
    }
}

#[test]
fn the_nightly_workflow_fuzzes_a_copied_project_on_every_shard() {
    let workflow = COPYABLE[0];
    // What a project would set as repository variables for a short run.
    let vars = [("PGCONVERGE_CASES", "8"), ("PGCONVERGE_BUDGET", "300")];
    let jobs = load(&Path::new(env!("CARGO_MANIFEST_DIR")).join(workflow));
    let fuzz_steps = jobs.iter().flat_map(|j| &j.steps).filter(|s| s.run.as_deref().is_some_and(|r| r.contains("pgconverge fuzz"))).count();
    assert_eq!(fuzz_steps, 1, "{workflow} runs `pgconverge fuzz`");
    for job in &jobs {
        let combinations = combinations(&job.matrix);
        assert!(combinations.len() > 1, "{workflow}: job {} shards the run", job.name);
        for combination in combinations {
            // Each shard on a runner of its own: a fresh checkout.
            let project = project_with(workflow, "fixtures/k12_lms");
            let run = run_job(job, &combination, project.path(), &vars);
            assert_eq!(run.failed, None, "{workflow} {combination:?}: a step failed\n{}", run.log);
            assert!(!run.uploads.is_empty(), "{workflow}: a converging run still keeps its reports\n{}", run.log);
            for upload in &run.uploads {
                let files = files_named(project.path(), upload);
                assert!(!files.is_empty(), "{workflow} {combination:?}: the upload of `{upload}` finds no file\n{}", run.log);
                for report in files.iter().filter(|f| f.extension().is_some_and(|e| e == "json")) {
                    let value: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap();
                    assert_eq!(value["status"], "converges", "{}: {value:#}", report.display());
                    assert_eq!(value["shard"].as_str(), Some(format!("{}/4", combination[0].1).as_str()), "{value:#}");
                    assert_eq!(value["cases"], 8, "the repository variable sets the cases");
                }
            }
        }
    }
}

#[test]
fn the_nightly_workflow_keeps_the_seeds_of_a_counterexample() {
    let workflow = COPYABLE[0];
    let vars = [("PGCONVERGE_CASES", "256"), ("PGCONVERGE_BUDGET", "300")];
    let jobs = load(&Path::new(env!("CARGO_MANIFEST_DIR")).join(workflow));
    let job = &jobs[0];
    let first = combinations(&job.matrix).remove(0);
    let project = project_with(workflow, "fixtures/divergent/enum_value_two_branches");
    let run = run_job(job, &first, project.path(), &vars);
    assert!(run.failed.as_deref().is_some_and(|step| step.starts_with("Fuzz")), "the fuzz step fails on the order bug\n{}", run.log);
    assert!(run.log.contains("FAIL  order"), "{}", run.log);
    for upload in &run.uploads {
        assert!(!files_named(project.path(), upload).is_empty(), "the upload of `{upload}` finds no file\n{}", run.log);
    }
    assert!(run.uploads.iter().any(|u| u.contains("proptest-regressions")), "the saved seeds are kept: {:?}", run.uploads);
    assert!(project.path().join("proptest-regressions/pgconverge-order.txt").is_file(), "{}", run.log);
}

#[test]
fn a_workflow_that_names_pgconverges_scripts_fails_here() {
    // The check above is only as good as this: the old nightly workflow, which ran
    // scripts/nightly-fuzz of pgconverge's checkout, fails in a copied project.
    let old = "jobs:\n  fuzz:\n    strategy:\n      matrix:\n        shard: [1, 2]\n    steps:\n      - uses: actions/checkout@v4\n      - name: Fuzz\n        run: scripts/nightly-fuzz --cases 4 --shard ${{ matrix.shard }}/2 --budget 60\n";
    let project = tempfile::tempdir().unwrap();
    let file = project.path().join("old.yml");
    std::fs::write(&file, old).unwrap();
    let jobs = load(&file);
    let combination = combinations(&jobs[0].matrix).remove(0);
    let run = run_job(&jobs[0], &combination, project.path(), &[]);
    assert_eq!(run.failed.as_deref(), Some("Fuzz"), "{}", run.log);
    assert!(old.contains(REPOSITORY_ONLY[0]), "and the text check names it");
}
