//! The crate's shape, checked: the imports between the top-level modules of
//! `src/` (test-only code left out) have no loop, and no module below the
//! case layer imports one above it. `scripts/module-loops.py` prints the
//! same graph.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Modules below the case layer, and the layers above it.
const BELOW_CASE: &[&str] = &[
    "vocab",
    "channels",
    "conversation",
    "store",
    "wakeups",
    "worker",
    "escalation",
    "scheduler",
    "notify",
    "sender",
];
const ABOVE_BELOW: &[&str] = &["case", "pipeline", "http", "startup", "cli"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Files that are compiled only for tests: `tests.rs` and every module
/// declared right after `#[cfg(test)]`.
fn test_only(files: &[PathBuf]) -> BTreeSet<PathBuf> {
    let mut only = BTreeSet::new();
    for file in files {
        let text = std::fs::read_to_string(file).unwrap();
        let name = file.file_name().unwrap().to_str().unwrap();
        let base = if matches!(name, "mod.rs" | "lib.rs") {
            file.parent().unwrap().to_path_buf()
        } else {
            file.with_extension("")
        };
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        for pair in lines.windows(2) {
            if pair[0] == "#[cfg(test)]"
                && let Some(module) = pair[1]
                    .strip_prefix("mod ")
                    .or_else(|| pair[1].strip_prefix("pub mod "))
                    .and_then(|m| m.strip_suffix(';'))
            {
                only.insert(base.join(format!("{module}.rs")));
                only.insert(base.join(module));
            }
        }
    }
    only
}

/// Top-level module → the top-level modules it names as `crate::x`.
fn import_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let only = test_only(&files);
    let top = |file: &Path| {
        let rel = file.strip_prefix(&src).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_str()
            .unwrap();
        first.trim_end_matches(".rs").to_owned()
    };
    let modules: BTreeSet<String> = files
        .iter()
        .map(|f| top(f))
        .filter(|m| m != "lib" && m != "main")
        .collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let module = top(file);
        if !modules.contains(&module)
            || file.file_name().is_some_and(|n| n == "tests.rs")
            || only.iter().any(|o| file.starts_with(o))
        {
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap();
        for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
            for (at, _) in line.match_indices("crate::") {
                let name: String = line[at + 7..]
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                if name != module && modules.contains(&name) {
                    graph.entry(module.clone()).or_default().insert(name);
                }
            }
        }
    }
    graph
}

/// A path of imports from `from` back to itself, if there is one.
fn loop_through(graph: &BTreeMap<String, BTreeSet<String>>, from: &str) -> Option<Vec<String>> {
    let mut stack = vec![(from.to_owned(), vec![from.to_owned()])];
    let mut seen = BTreeSet::new();
    while let Some((at, path)) = stack.pop() {
        for next in graph.get(&at).into_iter().flatten() {
            if next == from {
                let mut cycle = path.clone();
                cycle.push(next.clone());
                return Some(cycle);
            }
            if seen.insert(next.clone()) {
                let mut longer = path.clone();
                longer.push(next.clone());
                stack.push((next.clone(), longer));
            }
        }
    }
    None
}

#[test]
fn no_import_loop_between_top_level_modules() {
    let graph = import_graph();
    assert!(
        graph.contains_key("case") && graph.contains_key("pipeline"),
        "{graph:?}"
    );
    for module in graph.keys() {
        if let Some(cycle) = loop_through(&graph, module) {
            panic!("import loop: {}", cycle.join(" -> "));
        }
    }
}

#[test]
fn nothing_below_the_case_layer_imports_it_or_what_is_above() {
    let graph = import_graph();
    for low in BELOW_CASE {
        for high in ABOVE_BELOW {
            assert!(
                !graph.get(*low).is_some_and(|to| to.contains(*high)),
                "{low} imports {high}"
            );
        }
    }
}

#[test]
fn a_loop_is_found_when_there_is_one() {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    graph.entry("a".into()).or_default().insert("b".into());
    graph.entry("b".into()).or_default().insert("c".into());
    assert_eq!(loop_through(&graph, "a"), None);
    graph.entry("c".into()).or_default().insert("a".into());
    assert_eq!(
        loop_through(&graph, "a").unwrap(),
        ["a", "b", "c", "a"].map(String::from)
    );
}
