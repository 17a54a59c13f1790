//! Housekeeping checks as ordinary tests: the codemap names every crate,
//! the README's test command is the one CI runs.

fn root() -> std::path::PathBuf {
    // The checkout the test runs in (cargo sets it at run time too), not
    // the one the binary was built in, when a target directory is shared.
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into())
        .join("../..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_default()
}

#[test]
fn the_codemap_names_every_crate() {
    let arch = read("ARCHITECTURE.md");
    let crates: Vec<String> = std::fs::read_dir(root().join("crates"))
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    assert!(crates.len() >= 6);
    for c in crates {
        assert!(
            arch.contains(&format!("crates/{c}")),
            "ARCHITECTURE.md does not mention crates/{c}"
        );
    }
}

#[test]
fn ci_runs_the_readme_test_command() {
    let readme = read("README.md");
    let ci = read(".ci/run");
    let cmd = "cargo test --workspace";
    assert!(readme.contains(cmd), "README.md names the test command");
    assert!(ci.contains(cmd), ".ci/run runs the README's test command");
    assert!(ci.contains("TURVA_REQUIRE_POSTGRES=1"));
}

#[test]
fn the_docs_the_issue_asks_for_exist() {
    for f in [
        "README.md",
        "ARCHITECTURE.md",
        "CHANGELOG.md",
        "LICENSE",
        "SECURITY.md",
        "docs/turva.sample.toml",
    ] {
        assert!(!read(f).trim().is_empty(), "{f} is missing");
    }
}
