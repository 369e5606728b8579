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

    // 3. Only the PDF module knows printpdf (the benchmark's floor measurement lives outside these crates).
    let pdf_module = ["server/src/journey/pdf/", "server/src/journey/draw.rs", "server/src/journey/metrics.rs"];
    let in_pdf_module = |file: &PathBuf| {
        let file = file.to_string_lossy();
        pdf_module.iter().any(|allowed| file.contains(allowed))
    };
    let others: Vec<PathBuf> = server.iter().chain(&app).filter(|file| !in_pdf_module(file)).cloned().collect();
    let broken = offenders(&others, |line| line.contains("printpdf::") || line.contains("use printpdf"));
    assert!(broken.is_empty(), "printpdf outside the PDF module:\n{}", broken.join("\n"));

    // 4. Handlers depend on neither `startup` nor `state`: only the composition roots do.
    let composition = ["startup.rs", "main.rs", "lib.rs", "state.rs", "web.rs", "worker/mod.rs"];
    let handlers: Vec<PathBuf> = server
        .iter()
        .filter(|file| !composition.iter().any(|allowed| file.ends_with(Path::new("server/src").join(allowed))))
        .cloned()
        .collect();
    assert!(handlers.len() >= 30, "the handlers were found: {}", handlers.len());
    let broken = offenders(&handlers, |line| line.contains("startup::") || line.contains("state::AppState"));
    assert!(broken.is_empty(), "modules depending on startup or the whole state:\n{}", broken.join("\n"));

    // 5. Order statuses are decoded by the type, not by hand.
    let broken = offenders(&app.iter().chain(&server).cloned().collect::<Vec<_>>(), |line| {
        line.contains("OrderStatus::parse(&row") || line.contains("status(&row.status)")
    });
    assert!(broken.is_empty(), "hand-written order-status decoders:\n{}", broken.join("\n"));
}

/// The top-level module a source file belongs to (`cart` for `app/src/cart/store.rs`); `None` for the crate root.
fn top_module(src: &Path, file: &Path) -> Option<String> {
    let relative = file.strip_prefix(src).ok()?;
    let first = relative.components().next()?.as_os_str().to_string_lossy().into_owned();
    let name = first.strip_suffix(".rs").unwrap_or(&first).to_string();
    (!["lib", "main", "bin"].contains(&name.as_str())).then_some(name)
}

/// `module → modules it names` for one crate, from every `crate::module` on a code line.
fn module_graph(src: &Path) -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
    let mut graph: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> = Default::default();
    for file in rust_files(src) {
        let Some(from) = top_module(src, &file) else { continue };
        let edges = graph.entry(from.clone()).or_default();
        let code: String = code_lines(&file).into_iter().map(|(_, line)| line + "\n").collect();
        for (index, _) in code.match_indices("crate::") {
            for module in named_modules(&code[index + "crate::".len()..]) {
                if module != from {
                    edges.insert(module);
                }
            }
        }
    }
    graph
}

/// The modules a path after `crate::` names: `x` for `x::…`, and each first name of a `{x::…, y}` group.
fn named_modules(path: &str) -> Vec<String> {
    let name = |text: &str| -> Option<String> {
        let name: String = text.trim_start().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        (name.chars().next().is_some_and(|c| c.is_lowercase()) && name != "self").then_some(name)
    };
    let Some(group) = path.strip_prefix('{') else { return name(path).into_iter().collect() };
    let (mut depth, mut start, mut names) = (0, 0, Vec::new());
    for (index, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                names.extend(name(&group[start..index]));
                break;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                names.extend(name(&group[start..index]));
                start = index + 1;
            }
            _ => {}
        }
    }
    names
}

/// One cycle in `graph`, as `a → b → a`, if there is any.
fn find_cycle(graph: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>) -> Option<String> {
    fn visit(
        graph: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
        node: &str,
        path: &mut Vec<String>,
        done: &mut std::collections::BTreeSet<String>,
    ) -> Option<String> {
        if let Some(start) = path.iter().position(|seen| seen == node) {
            let mut cycle = path[start..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle.join(" → "));
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(graph, next, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = Default::default();
    graph.keys().find_map(|node| visit(graph, node, &mut Vec::new(), &mut done))
}

#[test]
fn no_two_modules_import_each_other_directly_or_through_others() {
    let root = root();
    for src in [root.join("app/src"), root.join("server/src")] {
        let graph = module_graph(&src);
        assert!(graph.len() >= 8, "the modules of {} were found: {graph:?}", src.display());
        if let Some(cycle) = find_cycle(&graph) {
            panic!("an import cycle in {}: {cycle}\nthe graph: {graph:#?}", src.display());
        }
    }
}

#[test]
fn the_cycle_check_finds_a_cycle() {
    let graph = [("a", "b"), ("b", "c"), ("c", "a"), ("d", "a")].into_iter().fold(
        std::collections::BTreeMap::<String, std::collections::BTreeSet<String>>::new(),
        |mut graph, (from, to)| {
            graph.entry(from.into()).or_default().insert(to.into());
            graph
        },
    );
    assert_eq!(find_cycle(&graph).as_deref(), Some("a → b → c → a"));
    let acyclic = graph.into_iter().filter(|(from, _)| from != "c").collect();
    assert_eq!(find_cycle(&acyclic), None);
    assert_eq!(named_modules("{\n    cart::Owner,\n    error::{AppError, X},\n    self,\n};"), ["cart", "error"]);
}
