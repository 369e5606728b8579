//! The dependency rules of `docs/architecture.md`, checked on the sources: a change that breaks one fails here.

use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|error| panic!("read {}: {error}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
    files
}

/// The lines of `file` that are code (not comments).
fn code_lines(file: &Path) -> Vec<(usize, String)> {
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim_start().starts_with("//"))
        .map(|(number, line)| (number + 1, line.to_string()))
        .collect()
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// `file:line: text` for each code line of `files` that matches `matches`.
fn offenders(files: &[PathBuf], matches: impl Fn(&str) -> bool) -> Vec<String> {
    files
        .iter()
        .flat_map(|file| {
            code_lines(file).into_iter().filter(|(_, line)| matches(line)).map(move |(number, line)| {
                format!("{}:{number}: {}", file.strip_prefix(root()).unwrap_or(file).display(), line.trim())
            })
        })
        .collect()
}

#[test]
fn the_dependency_rules_hold() {
    let root = root();
    let app = rust_files(&root.join("app/src"));
    let server = rust_files(&root.join("server/src"));

    // 1. Views never import stores.
    let views: Vec<PathBuf> = app.iter().filter(|file| file.ends_with("views.rs")).cloned().collect();
    assert!(views.len() >= 6, "the views were found: {views:?}");
    let broken = offenders(&views, |line| line.contains("store::") || line.contains("::store"));
    assert!(broken.is_empty(), "views importing stores:\n{}", broken.join("\n"));

    // 2. `app` never depends on `server`.
    let manifest = std::fs::read_to_string(root.join("app/Cargo.toml")).unwrap();
    let names_server = |line: &str| {
        let line = line.trim_start();
        line.strip_prefix("server").is_some_and(|rest| rest.trim_start().starts_with(['=', '.']))
    };
    assert!(!manifest.lines().any(names_server), "app/Cargo.toml names the server crate");
    let broken = offenders(&app, |line| line.contains("cartograph::"));
    assert!(broken.is_empty(), "app code naming the server crate:\n{}", broken.join("\n"));

    // 3. Only the PDF module (and the benchmark's floor) knows printpdf.
    let pdf_module = [
        "server/src/journey/pdf.rs",
        "server/src/journey/draw.rs",
        "server/src/journey/metrics.rs",
        "server/src/bin/bench/journey.rs",
    ];
    let others: Vec<PathBuf> = server
        .iter()
        .chain(&app)
        .filter(|file| !pdf_module.iter().any(|allowed| file.ends_with(allowed)))
        .cloned()
        .collect();
    let broken = offenders(&others, |line| line.contains("printpdf::") || line.contains("use printpdf"));
    assert!(broken.is_empty(), "printpdf outside the PDF module:\n{}", broken.join("\n"));

    // 4. Handlers depend on `state`, never on `startup`.
    let composition = ["server/src/startup.rs", "server/src/main.rs", "server/src/lib.rs"];
    let handlers: Vec<PathBuf> = server
        .iter()
        .filter(|file| {
            !composition.iter().any(|allowed| file.ends_with(allowed)) && !file.to_string_lossy().contains("/bin/")
        })
        .cloned()
        .collect();
    let broken = offenders(&handlers, |line| line.contains("startup::"));
    assert!(broken.is_empty(), "modules depending on startup:\n{}", broken.join("\n"));

    // 5. Order statuses are decoded by the type, not by hand.
    let broken = offenders(&app.iter().chain(&server).cloned().collect::<Vec<_>>(), |line| {
        line.contains("OrderStatus::parse(&row") || line.contains("status(&row.status)")
    });
    assert!(broken.is_empty(), "hand-written order-status decoders:\n{}", broken.join("\n"));
}
