//! Reading the knowledge directory.
//!
//! Every `*.md` file below the directory is one article; its id is the path
//! relative to the directory without the extension. Hidden files and folders
//! and `README.md` files are not articles. A broken file never stops the
//! load: it is reported with its path and the reason and the rest loads.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::article::{Article, parse_article};

/// A file that could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoadError {
    pub path: PathBuf,
    pub reason: String,
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.reason)
    }
}

/// The valid articles (sorted by id) and the files that were skipped.
#[derive(Debug, Default)]
pub struct LoadReport {
    pub articles: Vec<Article>,
    pub errors: Vec<LoadError>,
}

/// Loads every article below `dir`. A missing directory is an error; broken
/// files are reported in [`LoadReport::errors`].
pub fn load_dir(dir: &Path) -> anyhow::Result<LoadReport> {
    if !dir.is_dir() {
        anyhow::bail!(
            "knowledge directory {} does not exist or is not a directory",
            dir.display()
        );
    }
    let mut files = Vec::new();
    collect_markdown(dir, &mut files)?;
    files.sort();
    let mut report = LoadReport::default();
    let mut seen: HashMap<String, PathBuf> = HashMap::new();
    for path in files {
        let Some(id) = article_id(dir, &path) else {
            continue;
        };
        if let Some(first) = seen.get(&id.to_lowercase()) {
            report.errors.push(LoadError {
                reason: format!(
                    "duplicate article id `{id}`: {} has the same id",
                    first.display()
                ),
                path,
            });
            continue;
        }
        match load_file(&id, &path) {
            Ok(article) => {
                seen.insert(id.to_lowercase(), path);
                report.articles.push(article);
            }
            Err(reason) => report.errors.push(LoadError { path, reason }),
        }
    }
    report.articles.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(report)
}

/// Reads and parses one file; the error is the reason shown to editors.
pub fn load_file(id: &str, path: &Path) -> Result<Article, String> {
    let source = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    let source = String::from_utf8(source).map_err(|_| "not UTF-8 text".to_owned())?;
    parse_article(id, &source).map_err(|e| e.to_string())
}

/// Whether a path (relative or absolute) names an article file.
pub fn is_article_file(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    let lower = name.to_lowercase();
    !name.starts_with('.') && lower.ends_with(".md") && lower != "readme.md"
}

/// The article id of a file below `dir`: relative path, `/` separators, no
/// extension. `None` for files that are not articles.
pub fn article_id(dir: &Path, path: &Path) -> Option<String> {
    if !is_article_file(path) {
        return None;
    }
    let relative = path.strip_prefix(dir).ok()?;
    let mut parts = Vec::new();
    for component in relative.components() {
        let part = component.as_os_str().to_str()?;
        if part.starts_with('.') {
            return None;
        }
        parts.push(part.to_owned());
    }
    let last = parts.last_mut()?;
    last.truncate(last.len() - 3);
    Some(parts.join("/"))
}

/// The file an article id is stored in: `.md` appended to the last name,
/// never put in place of an extension the id might carry.
pub fn article_path(dir: &Path, id: &str) -> PathBuf {
    let mut path = dir.to_path_buf();
    let mut parts = id.split('/').peekable();
    while let Some(part) = parts.next() {
        if parts.peek().is_some() {
            path.push(part);
        } else {
            path.push(format!("{part}.md"));
        }
    }
    path
}

fn collect_markdown(dir: &Path, files: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", dir.display()))?;
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        let hidden = entry
            .file_name()
            .to_str()
            .is_none_or(|n| n.starts_with('.'));
        if hidden {
            continue;
        }
        let kind = entry.file_type()?;
        if kind.is_dir() {
            collect_markdown(&path, files)?;
        } else if is_article_file(&path) {
            files.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, rel: &str, text: &str) {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn broken_files_are_reported_and_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "envios.md", "---\ntitle: Envíos\n---\nLlega pronto.");
        write(
            root,
            "pagos/tarjetas.md",
            "---\ntitle: Tarjetas\n---\nVisa y Mastercard.",
        );
        write(root, "sin-titulo.md", "---\ntags: [x]\n---\nTexto.");
        write(root, "yaml-roto.md", "---\ntitle: [\n---\nTexto.");
        write(root, "pagos/Tarjetas.md", "---\ntitle: Otra\n---\nTexto.");
        write(root, "README.md", "notes for editors");
        write(root, ".drafts/borrador.md", "not loaded");
        write(root, "notas.txt", "not markdown");

        let report = load_dir(root).unwrap();
        let ids: Vec<_> = report.articles.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, ["envios", "pagos/Tarjetas"]);
        let mut reasons: Vec<_> = report
            .errors
            .iter()
            .map(|e| {
                (
                    e.path.file_name().unwrap().to_str().unwrap().to_owned(),
                    e.reason.clone(),
                )
            })
            .collect();
        reasons.sort();
        assert_eq!(reasons.len(), 3, "{reasons:?}");
        assert!(reasons[0].0 == "sin-titulo.md" && reasons[0].1.contains("title"));
        // Files load in path order, so the lowercase twin is the duplicate.
        assert!(reasons[1].0 == "tarjetas.md" && reasons[1].1.contains("duplicate article id"));
        assert!(reasons[2].0 == "yaml-roto.md" && reasons[2].1.contains("bad front matter"));
    }

    #[test]
    fn ids_round_trip_to_paths() {
        let dir = Path::new("/kb");
        let path = article_path(dir, "pagos/tarjetas");
        assert_eq!(path, Path::new("/kb/pagos/tarjetas.md"));
        assert_eq!(article_id(dir, &path).as_deref(), Some("pagos/tarjetas"));
        // A dot in an id is refused by validation; the path never drops it.
        assert_eq!(
            article_path(dir, "cancelar-pedido.bak"),
            Path::new("/kb/cancelar-pedido.bak.md")
        );
    }
}
