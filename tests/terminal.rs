//! What the CLI does on a terminal, and for one: colour by `--color` and the environment
//! (`NO_COLOR`, `CLICOLOR`, `CLICOLOR_FORCE`), shell completions, the values `--help` lists.

mod common;

use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::{Command, Stdio};

/// What starts an ANSI escape sequence.
const ESC: char = '\x1b';

/// A check of a fixture whose fresh run diverges (a default differs), on the shared server, in
/// an environment without any colour variable; `env` adds some.
fn divergent_check(env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pgconverge"));
    command
        .args(["check", "fixtures/divergent/default_mismatch", "--properties", "fresh", "--no-persist"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("PGCONVERGE_DATABASE_URL", common::shared_server_url())
        .env_remove("PGCONVERGE_BACKEND");
    for variable in ["NO_COLOR", "CLICOLOR", "CLICOLOR_FORCE", "CI", "TERM"] {
        command.env_remove(variable);
    }
    command.envs(env.iter().copied());
    command
}

/// The report on a pipe: exit 1 (the counterexample) and stdout.
fn piped(mut command: Command) -> String {
    let _slot = common::shared_server_slot();
    let output = command.output().expect("the pgconverge binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(output.status.code(), Some(1), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    stdout
}

/// The report with stdout on a pseudo-terminal (stderr discarded): what a user at a terminal sees.
fn on_a_terminal(mut command: Command) -> String {
    let _slot = common::shared_server_slot();
    // SAFETY: plain libc calls on a descriptor this function owns; each result is checked.
    let (master, slave) = unsafe {
        let master = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY);
        assert!(master >= 0, "posix_openpt: {}", std::io::Error::last_os_error());
        let master = OwnedFd::from_raw_fd(master);
        assert_eq!(libc::grantpt(master.as_raw_fd()), 0, "grantpt: {}", std::io::Error::last_os_error());
        assert_eq!(libc::unlockpt(master.as_raw_fd()), 0, "unlockpt: {}", std::io::Error::last_os_error());
        let mut name = [0 as libc::c_char; 128];
        assert_eq!(libc::ptsname_r(master.as_raw_fd(), name.as_mut_ptr(), name.len()), 0, "ptsname_r");
        let slave = libc::open(name.as_ptr(), libc::O_RDWR | libc::O_NOCTTY);
        assert!(slave >= 0, "open the terminal's slave: {}", std::io::Error::last_os_error());
        (std::fs::File::from(master), OwnedFd::from_raw_fd(slave))
    };
    let mut child = command.stdin(Stdio::null()).stdout(Stdio::from(slave)).stderr(Stdio::null()).spawn().expect("the binary runs");
    // The child holds the only other end now: reading ends (EIO) once it exits.
    drop(command);
    let mut master = master;
    let mut output = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match master.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => output.extend_from_slice(&buffer[..n]),
            Err(e) if e.raw_os_error() == Some(libc::EIO) => break,
            Err(e) => panic!("reading the terminal: {e}"),
        }
    }
    let status = child.wait().expect("the binary ends");
    let text = String::from_utf8_lossy(&output).into_owned();
    assert_eq!(status.code(), Some(1), "{text}");
    text
}

#[test]
fn clicolor_force_colours_the_report_on_a_pipe_unless_no_color_is_set() {
    let report = piped(divergent_check(&[("CLICOLOR_FORCE", "1")]));
    assert!(report.contains(ESC), "no colour under CLICOLOR_FORCE=1:\n{report}");
    // The verdict mark is red, the diff's removed line red and its added line green.
    assert!(report.contains("\x1b[31mFAIL"), "{report}");
    assert!(report.contains("\x1b[31m-   default: "), "{report}");
    assert!(report.contains("\x1b[32m+   default: "), "{report}");

    let report = piped(divergent_check(&[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")]));
    assert!(!report.contains(ESC), "colour under NO_COLOR=1:\n{report}");
    assert!(report.contains("-   default: 'inactive'::varchar"), "the diff is there, in plain text:\n{report}");
}

#[test]
fn clicolor_0_and_no_color_turn_colour_off_on_a_terminal() {
    // The control: on a terminal that supports colour, the report is coloured.
    let report = on_a_terminal(divergent_check(&[("TERM", "xterm")]));
    assert!(report.contains(ESC), "no colour on a terminal:\n{report}");
    for off in [("CLICOLOR", "0"), ("NO_COLOR", "1")] {
        let report = on_a_terminal(divergent_check(&[("TERM", "xterm"), off]));
        assert!(!report.contains(ESC), "colour under {}={}:\n{report}", off.0, off.1);
        assert!(report.contains("FAIL  fresh"), "{report}");
    }
    // `--color always` is the user's word: it wins over the environment.
    let mut always = divergent_check(&[("NO_COLOR", "1")]);
    always.args(["--color", "always"]);
    assert!(piped(always).contains(ESC));
}

#[test]
fn completions_print_a_script_that_knows_the_verbs() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let run = common::pgconverge(&["completions", shell]);
        assert_eq!(run.code, 0, "{shell}: {}", run.stderr);
        assert!(run.stdout.contains("check") && run.stdout.contains("replay"), "{shell}:\n{}", run.stdout);
    }
    let bash = common::pgconverge(&["completions", "bash"]).stdout;
    assert!(bash.contains("complete -F _pgconverge"), "{bash}");
    assert!(bash.contains("auto embedded container url"), "the backend values complete: {bash}");
}

#[test]
fn help_lists_the_backend_and_granularity_values() {
    for verb in ["check", "replay"] {
        let run = common::pgconverge(&[verb, "-h"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(run.stdout.contains("[possible values: auto, embedded, container, url]"), "{}", run.stdout);
        assert!(run.stdout.contains("[possible values: migration, object]"), "{}", run.stdout);
    }
    let long = common::pgconverge(&["check", "--help"]).stdout;
    for value in ["auto:", "embedded:", "container:", "url:"] {
        assert!(long.contains(&format!("- {value}")), "--help explains {value}\n{long}");
    }
    let dump = common::pgconverge(&["dump", "-h"]).stdout;
    assert!(dump.contains("[possible values: auto, embedded, container, url]"), "{dump}");
}
