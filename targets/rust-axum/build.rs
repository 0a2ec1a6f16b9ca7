//! Build script of stackwise-axum: records the rustc version and the versions of axum, hyper,
//! hyper-util, tokio, tokio-tungstenite (axum's `ws`), sha2, tokio-postgres and
//! deadpool-postgres from the workspace Cargo.lock, for the `versions` command.

use std::path::Path;
use std::process::Command;

fn main() {
    let lock_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock_path.display());
    let lock = std::fs::read_to_string(&lock_path).unwrap_or_default();
    for (name, var) in [
        ("axum", "AXUM"),
        ("hyper", "HYPER"),
        ("hyper-util", "HYPER_UTIL"),
        ("tokio", "TOKIO"),
        ("sha2", "SHA2"),
        ("tokio-tungstenite", "TOKIO_TUNGSTENITE"),
        ("tokio-postgres", "TOKIO_POSTGRES"),
        ("deadpool-postgres", "DEADPOOL_POSTGRES"),
    ] {
        let header = format!("name = \"{name}\"\nversion = \"");
        let version = lock
            .find(&header)
            .and_then(|at| lock[at + header.len()..].split('"').next())
            .unwrap_or("unknown");
        println!("cargo:rustc-env=STACKWISE_VERSION_{var}={version}");
    }
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.split_whitespace().nth(1).map(str::to_string))
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=STACKWISE_RUSTC_VERSION={version}");
}
