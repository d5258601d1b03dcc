//! An I/O error that says what was being done, and to which file.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
#[error("{what} {path}: {source}")]
pub struct FileError {
    pub what: &'static str,
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

impl FileError {
    /// For `map_err`: `std::fs::read(p).map_err(FileError::at("reading", p))`, into any error
    /// that takes a `FileError`.
    pub fn at<E: From<FileError>>(
        what: &'static str,
        path: &Path,
    ) -> impl FnOnce(std::io::Error) -> E + use<E> {
        let path = path.to_path_buf();
        move |source| FileError { what, path, source }.into()
    }
}
