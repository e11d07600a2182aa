//! The output file's life: refused before any transfer when it cannot be written, written
//! as `NAME.partial`, and renamed only once complete, with its `.sha256` sidecar beside it.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorKind, Result};

pub(crate) struct Output {
    pub(crate) path: PathBuf,
    pub(crate) partial: PathBuf,
    pub(crate) dir: PathBuf,
}

impl Output {
    /// Checks the destination and creates the partial file.
    pub(crate) fn prepare(path: &Path, force: bool) -> Result<(Self, File)> {
        let invalid = |message: String| Error::new(ErrorKind::InvalidInput, message);
        if path.is_dir() {
            return Err(invalid(format!(
                "output {} is a directory: give a file name such as export.tar.zst",
                path.display()
            )));
        }
        if path.exists() && !force {
            return Err(invalid(format!("output {} already exists: pass --force to overwrite it", path.display())));
        }
        let dir = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !dir.is_dir() {
            return Err(invalid(format!("output directory {} does not exist: create it first", dir.display())));
        }
        let partial = with_suffix(path, ".partial");
        let file = File::create(&partial).map_err(|e| {
            invalid(format!("cannot write in the output directory {}: {e}; choose a writable place", dir.display()))
        })?;
        Ok((Self { path: path.to_path_buf(), partial, dir }, file))
    }

    /// Writes the sidecar, then moves the archive into place.
    pub(crate) fn commit(&self, sha256: &str) -> Result<PathBuf> {
        let sidecar = with_suffix(&self.path, ".sha256");
        let sidecar_partial = with_suffix(&sidecar, ".partial");
        let name = self.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let write = || -> io::Result<()> {
            let mut file = File::create(&sidecar_partial)?;
            writeln!(file, "{sha256}  {name}")?;
            file.sync_all()?;
            fs::rename(&sidecar_partial, &sidecar)?;
            fs::rename(&self.partial, &self.path)
        };
        write().map_err(|e| Error::io(format!("cannot move the archive to {}", self.path.display()), &e))?;
        Ok(sidecar)
    }

    /// Removes the partial file after a failure, so nothing looks like an archive.
    pub(crate) fn abandon(&self) {
        let _ = fs::remove_file(&self.partial);
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}
