//! The source tree reads as the pipeline: no import cycle between the top-level modules, and
//! the engine's layers import downward only. (A new `use` that closes a cycle fails here.)

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// The source without its unit tests (they may import anything) and without comments.
fn code_of(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    code.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n")
}

/// The modules (as paths under `src/`, e.g. `engine/check`) that `code` names with `crate::`.
fn crate_paths(code: &str) -> BTreeSet<String> {
    let pattern = regex::Regex::new(r"crate::([a-z_]+(?:::[a-z_]+)*)").unwrap();
    pattern.captures_iter(code).map(|c| c[1].replace("::", "/")).collect()
}

/// Top-level module -> the top-level modules it imports. `main.rs`, `lib.rs` and the binary's
/// `cli/` sit above everything.
fn top_level_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in rust_files(src) {
        let relative = file.strip_prefix(src).unwrap();
        let top = relative.iter().next().unwrap().to_string_lossy().trim_end_matches(".rs").to_string();
        if ["lib", "main", "cli"].contains(&top.as_str()) {
            continue;
        }
        let imports = crate_paths(&code_of(&file)).into_iter().map(|p| p.split('/').next().unwrap().to_string());
        graph.entry(top.clone()).or_default().extend(imports.filter(|m| *m != top));
    }
    graph
}

/// A cycle through `start`, as the list of modules on it, if there is one.
fn cycle_through(graph: &BTreeMap<String, BTreeSet<String>>, start: &str) -> Option<Vec<String>> {
    let mut stack = vec![(start.to_string(), vec![start.to_string()])];
    let mut seen = BTreeSet::new();
    while let Some((node, path)) = stack.pop() {
        for next in graph.get(&node).into_iter().flatten() {
            if next == start {
                return Some([path.clone(), vec![start.to_string()]].concat());
            }
            if seen.insert(next.clone()) {
                stack.push((next.clone(), [path.clone(), vec![next.clone()]].concat()));
            }
        }
    }
    None
}

#[test]
fn top_level_modules_import_each_other_without_cycles() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = top_level_graph(&src);
    assert!(graph.contains_key("engine") && graph.contains_key("migration"), "{graph:?}");
    let cycles: Vec<String> = graph.keys().filter_map(|m| cycle_through(&graph, m)).map(|c| c.join(" -> ")).collect();
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

#[test]
fn the_pipeline_reads_downward() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = top_level_graph(&src);
    // What each stage may not know about: nothing upstream imports a later stage.
    let forbidden = [
        ("migration", ["project", "analysis", "engine", "runner", "catalog", "report"].as_slice()),
        ("project", &["analysis", "engine", "runner", "catalog", "compare", "report"]),
        ("analysis", &["engine", "generate", "report"]),
        ("generate", &["engine", "runner", "catalog", "report"]),
        ("runner", &["engine", "analysis", "generate", "catalog", "compare", "model", "report", "project"]),
        ("catalog", &["engine", "analysis", "generate", "project", "model", "report"]),
        ("compare", &["engine", "runner", "model", "report"]),
        ("model", &["engine", "report", "project"]),
        ("report", &["engine", "runner", "catalog", "analysis", "generate"]),
    ];
    let mut violations = Vec::new();
    for (module, not_allowed) in forbidden {
        for imported in graph.get(module).into_iter().flatten() {
            if not_allowed.contains(&imported.as_str()) {
                violations.push(format!("{module} imports {imported}"));
            }
        }
    }
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}

#[test]
fn the_cycle_finder_finds_a_cycle() {
    // The check above is only as good as this: a planted cycle is found.
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a".to_string(), ["b".to_string()].into()),
        ("b".to_string(), ["c".to_string()].into()),
        ("c".to_string(), ["a".to_string()].into()),
        ("d".to_string(), ["a".to_string()].into()),
    ]
    .into();
    assert_eq!(cycle_through(&graph, "a"), Some(vec!["a".into(), "b".into(), "c".into(), "a".into()]));
    assert_eq!(cycle_through(&graph, "d"), None);
    assert_eq!(
        crate_paths("use crate::engine::explore::{A, B};\nlet x = crate::model::plural(1, \"a\");"),
        ["engine/explore".to_string(), "model/plural".to_string()].into()
    );
}

#[test]
fn the_engine_layers_import_downward() {
    // check.rs orchestrates and properties/ are written over the executor; the layers below
    // (executor, explore, prepare, repro) never reach back up into them.
    let engine = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/engine");
    let below = ["executor", "explore", "prepare.rs", "repro.rs"];
    let upward = regex::Regex::new(r"\b(check|properties)::").unwrap();
    let mut violations = Vec::new();
    for layer in below {
        let path = engine.join(layer);
        let files = if path.is_dir() { rust_files(&path) } else { vec![path] };
        for file in files {
            for line in code_of(&file).lines().filter(|l| upward.is_match(l)) {
                violations.push(format!("{}: {}", file.display(), line.trim()));
            }
        }
    }
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}
