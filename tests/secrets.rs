//! A database URL's password never reaches stdout or stderr, whatever characters it holds
//! (`/ ? @ # % :`, encoded or not), from any command that takes a URL, in any output format:
//! not whole, not percent-encoded, not in part.

mod common;

use std::path::Path;

use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};

use common::{pgconverge_embedded_env, shared_server, shared_server_slot, CliRun, SharedServerRole};

/// The characters that end a URL's userinfo early, or that a naive parser splits on.
const SPECIALS: [char; 6] = ['/', '?', '@', '#', '%', ':'];

/// Random-looking pieces around the special characters: any five characters of the password in
/// a row (a window) are a leak, and no five of them occur in pgconverge's own output.
fn password_with(specials: &[char]) -> String {
    const PIECES: [&str; 7] = ["Qz8vKw", "Jx5mRt", "Lp2nHc", "Vb6sDf", "Wg4tYe", "Nu3kZa", "Mo7pXr"];
    let mut password = PIECES[0].to_string();
    for (special, piece) in specials.iter().zip(&PIECES[1..]) {
        password.push(*special);
        password.push_str(piece);
    }
    password
}

fn encoded(password: &str) -> String {
    utf8_percent_encode(password, NON_ALPHANUMERIC).to_string()
}

/// Every five characters in a row of the password, as written and percent-encoded.
fn leaks(password: &str) -> Vec<String> {
    let mut windows = Vec::new();
    for spelling in [password.to_string(), encoded(password)] {
        let chars: Vec<char> = spelling.chars().collect();
        windows.extend(chars.windows(5).map(|w| w.iter().collect::<String>()));
    }
    windows.sort();
    windows.dedup();
    windows
}

/// A one-migration project and its reference.
fn tiny_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let table = "CREATE TABLE things (id int PRIMARY KEY, name text);\n";
    std::fs::create_dir(dir.path().join("migrations")).unwrap();
    std::fs::write(dir.path().join("migrations/1_create_things.sql"), table).unwrap();
    std::fs::write(dir.path().join("schema.sql"), table).unwrap();
    dir
}

/// How a command is given the URL.
#[derive(Clone, Copy, Debug)]
enum Via {
    Flag,
    Env,
}

/// Each command that takes a URL, in each format it writes, with the URL given each way it takes
/// one: `(what, args, via)`. `{url}` in an argument is the URL.
fn invocations(project: &Path) -> Vec<(String, Vec<String>, Via)> {
    let dir = project.display().to_string();
    let mut runs = Vec::new();
    let mut add = |args: Vec<&str>, vias: &[Via]| {
        for via in vias {
            let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
            if matches!(via, Via::Flag) && !args.iter().any(|a| a == "{url}") {
                args.extend(["--database-url".into(), "{url}".into()]);
            }
            runs.push((args.join(" "), args, *via));
        }
    };
    let both = [Via::Flag, Via::Env];
    for format in ["human", "json", "junit", "github"] {
        add(vec!["check", &dir, "--properties", "fresh", "--no-persist", "--format", format], &both);
        add(vec!["replay", &dir, "--format", format], &both);
    }
    for format in ["text", "json"] {
        add(vec!["dump", &dir, "--format", format], &both);
        add(vec!["dump", "--from-database", "{url}", "--format", format], &[Via::Flag]);
    }
    for format in ["human", "json"] {
        add(vec!["diff", &dir, &dir, "--format", format], &both);
        add(vec!["doctor", "--format", format], &[Via::Env]);
    }
    runs
}

fn run(args: &[String], via: Via, url: &str) -> CliRun {
    let args: Vec<String> = args.iter().map(|a| a.replace("{url}", url)).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    // doctor's other probes (a cluster start, the Docker engine) take seconds and see no URL:
    // no server binaries and no engine make them answer at once.
    let quick_doctor = [("PGCONVERGE_PG_BIN", "/nonexistent"), ("DOCKER_HOST", "unix:///nonexistent")];
    let mut env = if args[0] == "doctor" { quick_doctor.to_vec() } else { Vec::new() };
    if matches!(via, Via::Env) {
        env.push(("PGCONVERGE_DATABASE_URL", url));
    }
    pgconverge_embedded_env(&args, &env)
}

/// Runs every invocation with `url` and returns what leaked (and, on a server that answers,
/// which command failed: `replay` fails for want of saved cases).
fn leaked(url: &str, password: &str, project: &Path, server_answers: bool) -> Vec<String> {
    let windows = leaks(password);
    let mut found = Vec::new();
    for (what, args, via) in invocations(project) {
        let out = run(&args, via, url);
        if server_answers && args[0] != "replay" && out.code != 0 {
            found.push(format!("`{what}` ({via:?}) exited {}:\n{}{}", out.code, out.stdout, out.stderr));
        }
        for (stream, text) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            if let Some(window) = windows.iter().find(|w| text.contains(w.as_str())) {
                found.push(format!("`{what}` ({via:?}) wrote `{window}` on {stream}:\n{text}"));
            }
        }
    }
    found
}

#[test]
fn no_password_reaches_the_output_of_an_unreachable_server() {
    let project = tiny_project();
    let mut cases = Vec::new();
    for special in SPECIALS {
        let password = password_with(&[special]);
        // As written (which breaks a naive parser), percent-encoded, and as a parameter.
        cases.push((format!("postgres://pgconverge_secrets:{password}@127.0.0.1:1/postgres"), password.clone()));
        cases.push((format!("postgres://pgconverge_secrets:{}@127.0.0.1:1/postgres", encoded(&password)), password.clone()));
        cases.push((format!("postgres://pgconverge_secrets@127.0.0.1:1/postgres?password={}", encoded(&password)), password));
    }
    let found: Vec<String> = std::thread::scope(|scope| {
        let workers: Vec<_> = cases
            .chunks(cases.len().div_ceil(4))
            .map(|chunk| {
                let project = project.path();
                scope.spawn(move || chunk.iter().flat_map(|(url, password)| leaked(url, password, project, false)).collect::<Vec<_>>())
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().unwrap()).collect()
    });
    assert!(found.is_empty(), "{} leaks:\n{}", found.len(), found.join("\n---\n"));
}

#[test]
fn no_password_reaches_the_output_of_a_real_server() {
    let project = tiny_project();
    let socket = shared_server().dir.display().to_string();
    let _slot = shared_server_slot();
    // Every special character in one password, percent-encoded as a URL must carry it; and the
    // ones that a URL may also carry unencoded.
    let all = password_with(&SPECIALS);
    let unencoded = password_with(&['@', ':', '%']);
    let role = format!("pgconverge_secrets_{}", std::process::id());
    for (password, in_url) in [(&all, encoded(&all)), (&unencoded, unencoded.clone())] {
        let literal = password.replace('\'', "''");
        let _role = SharedServerRole::create(&role, &format!("ALTER ROLE {role} PASSWORD '{literal}'"));
        let url = format!("postgres://{role}:{in_url}@localhost/postgres?host={socket}&port=5432");
        // The commands work there (so their reports, not only their errors, are covered)...
        let dir = project.path().display().to_string();
        let args: Vec<String> = ["check", &dir, "--properties", "fresh", "--no-persist", "--format", "json"].map(String::from).into();
        let check = run(&args, Via::Env, &url);
        assert_eq!(check.code, 0, "{}{}", check.stdout, check.stderr);
        assert!(check.stdout.contains(&format!("\"backend\": \"server at postgres://{role}:***@localhost/postgres")), "{}", check.stdout);
        // ... and write nothing of the password, whatever the command and format.
        let found = leaked(&url, password, project.path(), true);
        assert!(found.is_empty(), "{} leaks:\n{}", found.len(), found.join("\n---\n"));
    }
}
