//! The interactive session, driven through a real pseudo-terminal.

use rexpect::session::{PtySession, spawn_command};
use std::process::Command;

fn repl(state: &std::path::Path) -> PtySession {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pktscript"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("XDG_STATE_HOME", state)
        .env("TERM", "xterm")
        .env("NO_COLOR", "1");
    let mut p = spawn_command(c, Some(15_000)).expect("spawn pktscript");
    p.exp_string("pkt> ").expect("prompt");
    p
}

fn settle() {
    std::thread::sleep(std::time::Duration::from_millis(300));
}

/// Types a line once the previous entry is done: waits a moment, since the
/// prompt's text also appears when rustyline redraws the line being accepted.
fn line(p: &mut PtySession, text: &str) {
    settle();
    p.send_line(text).unwrap();
}

fn state_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("pktscript-repl-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn multi_line_function_then_call() {
    let mut p = repl(&state_dir("multi"));
    line(&mut p, "fn f(x) {");
    line(&mut p, "x * 2");
    line(&mut p, "}");
    p.exp_string("pkt> ").unwrap();
    line(&mut p, "f(21)");
    p.exp_string("42").unwrap();
    // A brace inside a string does not continue the entry.
    line(&mut p, "let s = \"{\"; s.len() + 100");
    p.exp_string("101").unwrap();
    settle();
    p.send_control('d').unwrap();
    p.exp_eof().unwrap();
}

#[test]
fn completes_a_field() {
    let mut p = repl(&state_dir("complete"));
    line(&mut p, "let p = IPv4();");
    p.exp_string("pkt> ").unwrap();
    settle();
    p.send("p.ip.tt\t").unwrap();
    p.flush().unwrap();
    p.exp_string("ttl").unwrap();
    line(&mut p, "");
    p.exp_string("64").unwrap();
    line(&mut p, ":quit");
    p.exp_eof().unwrap();
}

#[test]
fn error_then_recovery() {
    let mut p = repl(&state_dir("error"));
    line(&mut p, "let p = IPv4();");
    p.exp_string("pkt> ").unwrap();
    line(&mut p, "p.ip.tll");
    p.exp_string("did you mean `ttl`").unwrap();
    line(&mut p, "40+2");
    p.exp_string("42").unwrap();
    settle();
    p.send_control('d').unwrap();
    p.exp_eof().unwrap();
}

#[test]
fn ctrl_c_interrupts_a_running_statement() {
    let mut p = repl(&state_dir("ctrlc"));
    line(&mut p, "loop {}");
    std::thread::sleep(std::time::Duration::from_millis(500));
    p.send_control('c').unwrap();
    p.exp_string("interrupted").unwrap();
    p.exp_string("pkt> ").unwrap();
    line(&mut p, "40+2");
    p.exp_string("42").unwrap();
    settle();
    p.send_control('d').unwrap();
    p.exp_eof().unwrap();
}

#[test]
fn history_survives_a_restart() {
    let state = state_dir("history");
    let mut p = repl(&state);
    line(&mut p, "let marker = 4000 + 321;");
    p.exp_string("pkt> ").unwrap();
    settle();
    p.send_control('d').unwrap();
    p.exp_eof().unwrap();
    assert!(
        std::fs::read_to_string(state.join("pktscript/history"))
            .unwrap()
            .contains("let marker = 4000 + 321;")
    );
    let mut p = repl(&state);
    settle();
    p.send("\x1b[A").unwrap(); // up arrow: the last entry of the previous session
    p.flush().unwrap();
    p.exp_string("4000 + 321").unwrap();
    line(&mut p, "");
    p.exp_string("pkt> ").unwrap();
    line(&mut p, "marker");
    p.exp_string("4321").unwrap();
    settle();
    p.send_control('d').unwrap();
    p.exp_eof().unwrap();
}

#[test]
fn help_and_vars() {
    let mut p = repl(&state_dir("help"));
    line(&mut p, ":help read_pcap");
    p.exp_string("read_pcap(path [, expr]) -> array of packets")
        .unwrap();
    p.exp_string("pkt> ").unwrap();
    line(&mut p, ":help TCP");
    p.exp_string("dport").unwrap();
    line(&mut p, "let answer = 42;");
    p.exp_string("pkt> ").unwrap();
    line(&mut p, ":vars");
    p.exp_string("answer: i64 = 42").unwrap();
    line(&mut p, ":quit");
    p.exp_eof().unwrap();
}

#[test]
fn interactive_runs_a_script_first() {
    let dir = state_dir("interactive");
    let script = dir.join("init.rhai");
    std::fs::write(&script, "let from_script = 6 * 7;\nfn twice(x) { x * 2 }\n").unwrap();
    let mut c = Command::new(env!("CARGO_BIN_EXE_pktscript"));
    c.arg("-i")
        .arg(&script)
        .env("XDG_STATE_HOME", &dir)
        .env("TERM", "xterm")
        .env("NO_COLOR", "1");
    let mut p = spawn_command(c, Some(15_000)).unwrap();
    p.exp_string("pkt> ").unwrap();
    line(&mut p, "twice(from_script) + 1000");
    p.exp_string("1084").unwrap();
    settle();
    p.send_control('d').unwrap();
    p.exp_eof().unwrap();
}

#[test]
fn edit_in_the_editor_and_again_after_a_mistake() {
    let state = state_dir("edit");
    // An "editor" that makes a mistake the first time and gets it right the second.
    let editor = state.join("ed.sh");
    std::fs::write(
        &editor,
        format!(
            "#!/bin/sh\nif [ -e {0}/once ]; then sed -i 's/^ip.ttl: .*/ip.ttl: 7/' \"$1\"; \
             else touch {0}/once; sed -i 's/^ip.ttl: .*/ip.ttl: 999/' \"$1\"; fi\n",
            state.display()
        ),
    )
    .unwrap();
    let mut c = Command::new(env!("CARGO_BIN_EXE_pktscript"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("XDG_STATE_HOME", &state)
        .env("TERM", "xterm")
        .env("NO_COLOR", "1")
        .env_remove("VISUAL")
        .env("EDITOR", format!("sh {}", editor.display()));
    let mut p = spawn_command(c, Some(15_000)).expect("spawn pktscript");
    p.exp_string("pkt> ").unwrap();
    line(
        &mut p,
        r#"let q = edit(read_pcap("scripts/data/echo.pcap")[1]);"#,
    );
    p.exp_string("999 is out of range for ip.ttl").unwrap();
    p.exp_string("Edit again? [Y/n]").unwrap();
    p.send_line("y").unwrap();
    p.exp_string("pkt> ").unwrap();
    line(&mut p, "q.ip.ttl");
    p.exp_string("7").unwrap();
    line(&mut p, "q.bad_checksums().len() + 100");
    p.exp_string("100").unwrap();
    settle();
    p.send_control('d').unwrap();
    p.exp_eof().unwrap();
}
