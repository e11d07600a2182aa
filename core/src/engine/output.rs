//! The output file's life: refused before any transfer when it cannot be written, written
//! as `NAME.partial`, and renamed only once complete, with its `.sha256` sidecar beside it.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorKind, Result};
use crate::warning::Warning;

/// The name every archive should end with: what `tar --zstd`, file managers and `sortie
/// verify`'s users recognise.
pub const ARCHIVE_SUFFIX: &str = ".tar.zst";

/// The files an export to an archive path writes. Whoever must recognise them (the CLI
/// cleaning up after Ctrl-C, a source that contains the output) asks here.
#[derive(Debug, Clone)]
pub struct OutputFiles {
    /// `NAME.tar.zst`, present only once complete.
    pub archive: PathBuf,
    /// `NAME.tar.zst.partial`, while the export runs.
    pub partial: PathBuf,
    /// `NAME.tar.zst.sha256`.
    pub sidecar: PathBuf,
    /// `NAME.tar.zst.sha256.partial`, just before the rename.
    pub sidecar_partial: PathBuf,
    /// `NAME.tar.zst.report.html`, the restitution page with the archive's sha256.
    pub report: PathBuf,
}

impl OutputFiles {
    /// The files of an export to `archive`.
    pub fn for_archive(archive: &Path) -> Self {
        let sidecar = with_suffix(archive, ".sha256");
        Self {
            archive: archive.to_path_buf(),
            partial: with_suffix(archive, ".partial"),
            sidecar_partial: with_suffix(&sidecar, ".partial"),
            sidecar,
            report: with_suffix(archive, ".report.html"),
        }
    }

    /// Checks an output name before any source is opened: `-` is refused, since the
    /// archive cannot go to stdout (it is written under a temporary name and renamed when
    /// complete, and its `.sha256` sidecar goes beside it); a name that does not end in
    /// `.tar.zst` is written all the same, with a warning.
    pub fn check_name(archive: &Path) -> Result<Option<Warning>> {
        if archive == Path::new("-") {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "the archive cannot be written to stdout (-o -): it is written under a temporary name, renamed \
                 when complete, with a .sha256 sidecar beside it; give a file name such as export.tar.zst",
            ));
        }
        let named = archive.file_name().is_some_and(|name| name.to_string_lossy().ends_with(ARCHIVE_SUFFIX));
        Ok((!named).then(|| {
            Warning::new(
                "output_name",
                format!(
                    "output {} does not end in {ARCHIVE_SUFFIX}: it is a tar.zst all the same, written under this name",
                    archive.display()
                ),
            )
        }))
    }

    /// Every path an export to the archive writes: the archive, its sidecar, their partial
    /// files, the restitution page, the journal and its spools.
    pub fn all(&self) -> Vec<PathBuf> {
        let mut paths = vec![
            self.archive.clone(),
            self.partial.clone(),
            self.sidecar.clone(),
            self.sidecar_partial.clone(),
            self.report.clone(),
        ];
        paths.extend(super::journal::all_paths(&self.archive));
        paths
    }

    /// The journal of an export to the archive, present while it can be resumed.
    pub fn journal(&self) -> PathBuf {
        super::journal::journal_path(&self.archive)
    }
}

pub(crate) struct Output {
    pub(crate) files: OutputFiles,
    pub(crate) dir: PathBuf,
}

impl Output {
    /// Checks the destination and creates the partial file, or with `resume` opens the one
    /// an interrupted export left.
    pub(crate) fn prepare(path: &Path, force: bool, resume: bool) -> Result<(Self, File)> {
        let invalid = |message: String| Error::new(ErrorKind::InvalidInput, message);
        if path.is_dir() {
            return Err(invalid(format!(
                "output {} is a directory: give a file name such as export.tar.zst",
                path.display()
            )));
        }
        let files = OutputFiles::for_archive(path);
        let journal = files.journal();
        if journal.exists() && !files.partial.exists() && files.archive.exists() {
            // Killed between the rename and the journal's removal: the export had finished.
            super::journal::remove(&files.archive);
        }
        if resume {
            let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf();
            if !journal.exists() {
                return Err(invalid(format!(
                    "nothing to resume: there is no journal {} (an export leaves one only when it stops before its \
                     end); run without --resume",
                    journal.display()
                )));
            }
            let file = fs::OpenOptions::new().read(true).write(true).open(&files.partial).map_err(|e| {
                invalid(format!(
                    "cannot resume: the partial archive {} cannot be opened ({e}); run with --force to start over",
                    files.partial.display()
                ))
            })?;
            return Ok((Self { files, dir }, file));
        }
        if journal.exists() && !force {
            return Err(invalid(format!(
                "an interrupted export to {} left {} and its journal: run the same command with --resume to \
                 continue it, or with --force to start over",
                path.display(),
                files.partial.display()
            )));
        }
        if !force {
            // A sidecar alone is still someone's checksum of an archive moved elsewhere.
            let written = [&files.archive, &files.sidecar, &files.report];
            if let Some(existing) = written.into_iter().find(|p| p.symlink_metadata().is_ok()) {
                return Err(invalid(format!(
                    "output {} already exists: pass --force to overwrite it",
                    existing.display()
                )));
            }
        }
        let dir = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !dir.is_dir() {
            return Err(invalid(format!("output directory {} does not exist: create it first", dir.display())));
        }
        let file = create_private(&files.partial).map_err(|e| {
            invalid(format!("cannot write in the output directory {}: {e}; choose a writable place", dir.display()))
        })?;
        Ok((Self { files, dir }, file))
    }

    /// A temporary file beside the output for the restitution page, removed unless
    /// [`Output::commit`] puts it in place; created readable by its owner only, as the
    /// archive (it names the customer's items).
    pub(crate) fn report_page(&self) -> Result<tempfile::NamedTempFile> {
        tempfile::NamedTempFile::new_in(&self.dir)
            .map_err(|e| Error::io("cannot create the restitution page beside the output", &e))
    }

    /// Writes the sidecar, puts the restitution page in place, then moves the archive into
    /// place: an archive under its name always has both beside it.
    pub(crate) fn commit(&self, sha256: &str, report_page: tempfile::NamedTempFile) -> Result<()> {
        let files = &self.files;
        let name = files.archive.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let write = || -> io::Result<()> {
            let mut file = create_private(&files.sidecar_partial)?;
            writeln!(file, "{sha256}  {name}")?;
            file.sync_all()?;
            fs::rename(&files.sidecar_partial, &files.sidecar)?;
            report_page.as_file().sync_all()?;
            report_page.persist(&files.report).map_err(|e| e.error)?;
            fs::rename(&files.partial, &files.archive)
        };
        write().map_err(|e| Error::io(format!("cannot move the archive to {}", files.archive.display()), &e))?;
        super::journal::remove(&files.archive);
        Ok(())
    }

    /// Removes the partial file and the journal after a failure that left nothing to
    /// resume, so nothing looks like an archive.
    pub(crate) fn abandon(&self) {
        let _ = fs::remove_file(&self.files.partial);
        super::journal::remove(&self.files.archive);
    }
}

/// The archive holds a customer's private data: it and its sidecar are created readable by
/// their owner only (0600, as restic and kopia create their repositories' files), whatever
/// the umask; `chmod` widens them. A leftover file of the same name (an earlier crash) is
/// removed first, and a link planted there is never followed: the file is created anew.
pub(crate) fn create_private(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    // O_EXCL: fails even on a link put back in between, instead of following it.
    fs::OpenOptions::new().read(true).write(true).create_new(true).mode(0o600).open(path)
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}
