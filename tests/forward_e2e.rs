//! End to end: forwarding on the real binary's screen in a real terminal (tmux), with a real
//! backend over loopback that fails and then recovers.

mod backend;
mod common;
mod tmux;

use std::net::TcpListener;

use backend::Backend;
use common::*;
use tmux::*;

#[test]
fn the_screen_shows_a_failing_backend_and_its_recovery() {
    let backend = Backend::start();
    backend.set(|b| b.status = 503);
    let target = backend.url("/callbacks");
    let addr = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let pane = Pane::start();
    pane.run(&format!(
        "{} --listen {addr} --journal j.jsonl --forward-to {target}",
        bin()
    ));
    pane.wait_for("the header with the target", CEILING, |s| {
        s.contains(&format!("→ {target}")) && s.contains("0 pending")
    });

    assert_eq!(
        request(addr, "POST", "/recmon", &[], STATUS_SAMPLE.as_bytes()).0,
        200
    );
    let screen = pane.wait_for("a retrying delivery", CEILING, |s| {
        s.contains("↻ retrying") && s.contains("1 pending (oldest")
    });
    assert!(screen.contains("failing"), "{screen}");

    backend.set(|b| b.status = 200);
    let screen = pane.wait_for("the delivery", CEILING, |s| {
        s.contains("✓ 200") && s.contains("0 pending")
    });
    assert!(!screen.contains("failing"), "{screen}");

    pane.keys(&["q"]);
    let screen = pane.wait_for("the summary", CEILING, |s| s.contains("recmon: stopped."));
    assert!(
        screen.contains("1 delivered, 0 pending") && screen.contains("0 failed"),
        "{screen}"
    );
    let delivered = backend.delivered();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].body, STATUS_SAMPLE.as_bytes());
}
