//! The bots' binaries allocate with jemalloc (`hookbot::bots::Allocator`): each is started with
//! jemalloc's statistics asked for at exit (jemalloc reads `_RJEM_MALLOC_CONF`, its prefixed
//! `MALLOC_CONF`) and a listening address it refuses, so that it stops at once; only a process
//! that allocates with jemalloc prints them.
#![cfg(not(target_env = "msvc"))]

use std::process::{Command, Stdio};

/// What the binary at `path` printed to its standard error, started with no environment but
/// an address it cannot listen on and jemalloc's statistics asked for.
fn stderr_of(path: &str) -> String {
    let output = Command::new(path)
        .env_clear()
        .env("HOOKBOT_LISTEN", "not an address")
        .env("_RJEM_MALLOC_CONF", "stats_print:true")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!output.status.success(), "{path} started");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn every_bot_binary_allocates_with_jemalloc() {
    for path in [
        env!("CARGO_BIN_EXE_contact-card-bot"),
        env!("CARGO_BIN_EXE_auto-reply-bot"),
        env!("CARGO_BIN_EXE_echo-bot"),
        env!("CARGO_BIN_EXE_hookbot-sandbox"),
    ] {
        let printed = stderr_of(path);
        assert!(printed.contains("HOOKBOT_LISTEN"), "{path}: {printed}");
        assert!(
            printed.contains("Begin jemalloc statistics"),
            "{path} does not allocate with jemalloc: {printed}"
        );
    }
}
