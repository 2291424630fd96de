//! The layers stated in src/lib.rs ("# Layers"), checked against the source: every `crate::`
//! and `super::` path of every file under `src/` is an edge to the file it names; no edge may
//! point to a higher or equal layer, and the edges between files may form no cycle.

use crate::util::repo;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level modules by layer, from src/lib.rs's numbered list: a lower number is a higher
/// layer; a module may use only modules of a higher number.
fn layers() -> BTreeMap<String, u8> {
    let lib = std::fs::read_to_string(repo().join("src/lib.rs")).unwrap();
    let list = lib.split("//! # Layers").nth(1).expect("src/lib.rs has a # Layers section");
    let mut rank = BTreeMap::new();
    let numbered = |l: &&str| l.starts_with(|c: char| c.is_ascii_digit());
    for line in list.lines().map(|l| l.trim_start_matches("//!").trim()).skip_while(|l| !numbered(l)).take_while(numbered) {
        let Some((number, modules)) = line.split_once(". ") else { continue };
        let Ok(number) = number.parse::<u8>() else { continue };
        for module in modules.split(", ") {
            rank.insert(module.trim_matches('`').to_string(), number);
        }
    }
    assert!(rank.len() > 10, "read {} modules from src/lib.rs's layers", rank.len());
    rank
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The module path of a source file: `src/stages/features/mod.rs` -> [stages, features].
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts
}

/// The file that defines the longest prefix of `path` (a module path).
fn file_of(src: &Path, path: &[String]) -> Option<PathBuf> {
    (1..=path.len()).rev().find_map(|n| {
        let base = path[..n].iter().fold(src.to_path_buf(), |p, s| p.join(s));
        [base.with_extension("rs"), base.join("mod.rs")].into_iter().find(|f| f.is_file())
    })
}

/// Paths after `crate::` or `super::` in a file (comments skipped), as module paths.
fn references(text: &str, module: &[String]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.starts_with("//")) {
        for (start, prefix) in
            line.match_indices("crate::").map(|(i, _)| (i, "crate::")).chain(line.match_indices("super::").map(|(i, _)| (i, "super::")))
        {
            if prefix == "super::" && start >= 2 && &line[start - 2..start] == "::" {
                continue; // `super::super` handled by its first `super::`
            }
            let rest = &line[start..];
            let mut path: Vec<String> = if prefix == "crate::" { Vec::new() } else { module.to_vec() };
            let mut rest = &rest[prefix.len()..];
            if prefix == "super::" {
                path.pop();
                while let Some(r) = rest.strip_prefix("super::") {
                    path.pop();
                    rest = r;
                }
            }
            path.extend(
                rest.split("::")
                    .map(|s| s.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect::<String>())
                    .take_while(|s| !s.is_empty() && s.chars().next().is_some_and(|c| c.is_ascii_lowercase())),
            );
            out.push(path);
        }
    }
    out
}

#[test]
fn no_layer_uses_a_higher_one_and_no_files_import_each_other_in_a_circle() {
    let src = repo().join("src");
    let mut all = Vec::new();
    files(&src, &mut all);
    let rank = layers();
    let mut edges: BTreeMap<PathBuf, BTreeSet<PathBuf>> = BTreeMap::new();
    let mut upward = Vec::new();
    for file in all.iter().filter(|f| !f.ends_with("main.rs") && !f.ends_with("lib.rs")) {
        let module = module_of(&src, file);
        let top = module[0].as_str();
        let own = *rank.get(top).unwrap_or_else(|| panic!("{top} (from {}) has no layer in src/lib.rs", file.display()));
        for path in references(&std::fs::read_to_string(file).unwrap(), &module) {
            let Some(target) = file_of(&src, &path) else { continue };
            if &target == file {
                continue;
            }
            let other = module_of(&src, &target).first().cloned().unwrap_or_default();
            if other != top && rank.get(other.as_str()).is_none_or(|r| *r <= own) {
                upward.push(format!("{} uses {}", file.display(), path.join("::")));
            }
            edges.entry(file.clone()).or_default().insert(target);
        }
    }
    assert!(upward.is_empty(), "uses of a higher or equal layer:\n{}", upward.join("\n"));
    // Depth-first search for a back edge.
    fn visit(n: &PathBuf, edges: &BTreeMap<PathBuf, BTreeSet<PathBuf>>, state: &mut BTreeMap<PathBuf, u8>, stack: &mut Vec<PathBuf>) {
        state.insert(n.clone(), 1);
        stack.push(n.clone());
        for m in edges.get(n).into_iter().flatten() {
            match state.get(m) {
                Some(1) => {
                    let at = stack.iter().position(|s| s == m).unwrap();
                    panic!("import cycle: {:?}", &stack[at..]);
                }
                Some(_) => {}
                None => visit(m, edges, state, stack),
            }
        }
        stack.pop();
        state.insert(n.clone(), 2);
    }
    let mut state = BTreeMap::new();
    for n in edges.keys() {
        if !state.contains_key(n) {
            visit(n, &edges, &mut state, &mut Vec::new());
        }
    }
}

#[test]
fn the_layer_check_sees_an_upward_use() {
    // A stage naming a command is caught; a command naming a stage is not.
    let module = vec!["stages".to_string(), "score".to_string()];
    assert_eq!(references("use crate::commands::run::run;", &module), vec![vec!["commands", "run", "run"]]);
    assert_eq!(references("use super::history;", &module), vec![vec!["stages", "history"]]);
    assert_eq!(references("// crate::commands in a comment", &module), Vec::<Vec<String>>::new());
}
