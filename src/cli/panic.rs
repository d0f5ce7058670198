//! A panic is a bug in pgconverge, never a verdict: say so once, ask for a report, and make the
//! run exit 101 (Rust's own panic code) even when the panicking thread was recovered from.

use std::panic::PanicHookInfo;
use std::sync::atomic::{AtomicBool, Ordering};

static PANICKED: AtomicBool = AtomicBool::new(false);

/// Replaces the default "thread '...' panicked at" message. With `RUST_BACKTRACE` set, the
/// backtrace follows.
pub fn install_hook() {
    std::panic::set_hook(Box::new(|info: &PanicHookInfo<'_>| {
        // One message per run: a panic in a generated case repeats while proptest shrinks it.
        if PANICKED.swap(true, Ordering::SeqCst) {
            return;
        }
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_string());
        let location = info.location().map(|l| format!(" (at {}:{}:{})", l.file(), l.line(), l.column())).unwrap_or_default();
        eprintln!("pgconverge hit an internal error (a bug): {message}{location}; please report it with the command you ran");
        if std::env::var_os("RUST_BACKTRACE").is_some_and(|v| v != "0") {
            eprintln!("{}", std::backtrace::Backtrace::force_capture());
        }
    }));
}

/// Whether any thread panicked.
pub fn happened() -> bool {
    PANICKED.load(Ordering::SeqCst)
}

/// `PGCONVERGE_TEST_PANIC=1` makes the command panic where a verb's bug would (the test of the
/// hook; no input of pgconverge is known to panic).
pub fn test_panic_requested() -> bool {
    std::env::var_os("PGCONVERGE_TEST_PANIC").is_some_and(|v| v == "1")
}
