//! Runs the official SDKs over a batch of cases: one Python and one Node process for the
//! whole batch, fed JSON Lines on stdin, both at once.

use std::env;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;

use serde::Deserialize;

use crate::cases::Case;

/// What a driver wrote for one case.
#[derive(Debug, Clone, Deserialize)]
pub struct SdkOutput {
    pub id: usize,
    /// The `Authorization` value (header cases).
    pub authorization: Option<String>,
    /// The presigned URL, or for header cases the unsigned URL the request would go to.
    pub url: Option<String>,
    /// Why the SDK refused the case.
    pub error: Option<String>,
}

/// Both SDKs' outputs, in case order.
pub struct SdkOutputs {
    pub python: Vec<SdkOutput>,
    pub node: Vec<SdkOutput>,
}

/// The workspace root: two levels above this crate.
fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .nth(2)
        .expect("the crate lives two levels below the workspace root")
        .to_path_buf()
}

/// The Python with the official SDK: `COSIGNER_PYTHON`, else the workspace's venv.
fn python(root: &Path) -> PathBuf {
    let python = env::var_os("COSIGNER_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join(".venv/bin/python"));
    assert!(
        python.exists(),
        "the interoperability test needs the official Python SDK, but {} is missing: \
         run `make deps` at the workspace root (or set COSIGNER_PYTHON)",
        python.display()
    );
    python
}

fn check_node_sdk(root: &Path) {
    let package = root.join("node_modules/cos-nodejs-sdk-v5/package.json");
    assert!(
        package.exists(),
        "the interoperability test needs the official Node SDK, but {} is missing: \
         run `make deps` at the workspace root",
        package.display()
    );
}

/// Signs every case with both SDKs.
///
/// # Panics
///
/// When a runtime or an SDK is missing (naming `make deps`), when a driver fails, or when it
/// does not answer each case once and in order.
pub fn run_both(cases: &[Case]) -> SdkOutputs {
    let root = workspace_root();
    let python = python(&root);
    check_node_sdk(&root);
    let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk");
    let input: String = cases
        .iter()
        .map(|c| serde_json::to_string(c).unwrap() + "\n")
        .collect();

    let mut python_cmd = Command::new(&python);
    python_cmd
        .arg(scripts.join("python_sdk.py"))
        .env("PYTHONIOENCODING", "utf-8")
        .current_dir(&root);
    let mut node_cmd = Command::new("node");
    node_cmd
        .arg(scripts.join("node_sdk.js"))
        .env("NODE_PATH", root.join("node_modules"))
        .current_dir(&root);
    let (python, node) = thread::scope(|s| {
        let python = s.spawn(|| run("Python", &mut python_cmd, &input));
        let node = s.spawn(|| run("Node", &mut node_cmd, &input));
        (python.join().unwrap(), node.join().unwrap())
    });

    for (name, outputs) in [("Python", &python), ("Node", &node)] {
        assert_eq!(
            outputs.len(),
            cases.len(),
            "the {name} driver skipped cases"
        );
        for (case, output) in cases.iter().zip(outputs) {
            assert_eq!(
                output.id, case.id,
                "the {name} driver answered out of order"
            );
        }
    }
    SdkOutputs { python, node }
}

fn run(name: &str, command: &mut Command, input: &str) -> Vec<SdkOutput> {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start the {name} driver ({command:?}): {e}; run `make deps` first")
        });
    let mut stdin = child.stdin.take().unwrap();
    // Written from another thread: a driver answers while it reads, and would block on a
    // full stdout pipe if nobody read it until all input was written.
    let output = thread::scope(|s| {
        s.spawn(move || stdin.write_all(input.as_bytes()).unwrap());
        child.wait_with_output().unwrap()
    });
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the {name} driver failed ({}); if the SDK is missing, run `make deps`:\n{stderr}",
        output.status
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("the {name} driver wrote {line:?}: {e}\n{stderr}"))
        })
        .collect()
}
