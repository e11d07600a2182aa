//! The output file's life: refused before any transfer when it cannot be written, written
//! as `NAME.partial`, and renamed only once complete, with its `.sha256` sidecar beside it.
//! An encrypted archive is `NAME.tar.zst.age`; one cut into volumes is `NAME.tar.zst.001`,
//! `.002`… (each `.partial` until the end), all listed in the one sidecar.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use sortie_formats::framed_zstd::Finished;
use sortie_formats::sink::seal::Recipients;
use sortie_formats::sink::volumes::{MAX_VOLUMES, VolumeFiles};

use crate::error::{Error, ErrorKind, Result};
use crate::warning::Warning;

/// The name every archive should end with: what `tar --zstd`, file managers and `sortie
/// verify`'s users recognise.
pub const ARCHIVE_SUFFIX: &str = ".tar.zst";

/// How the archive is written to disk: encrypted to the customer's key, cut into volumes.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    /// Encrypt with age to these recipients.
    pub recipients: Option<Recipients>,
    /// Cut the archive into volumes of at most this many bytes.
    pub volume_size: Option<u64>,
}

impl Layout {
    /// Whether an export to this layout keeps a journal and can be resumed: only a plain
    /// archive, whose named spools in clear beside it hold nothing the archive does not.
    pub fn resumable(&self) -> bool {
        self.recipients.is_none() && self.volume_size.is_none()
    }
}

/// The files an export to an archive path writes. Whoever must recognise them (the CLI
/// cleaning up after Ctrl-C, a source that contains the output) asks here.
#[derive(Debug, Clone)]
pub struct OutputFiles {
    /// `NAME.tar.zst` (`NAME.tar.zst.age` when encrypted), present only once complete; when
    /// cut into volumes, the name the volumes' names extend.
    pub archive: PathBuf,
    /// `NAME.tar.zst.partial` (or the first volume's `.001.partial`), while the export runs.
    pub partial: PathBuf,
    /// `NAME.tar.zst.sha256`.
    pub sidecar: PathBuf,
    /// `NAME.tar.zst.sha256.partial`, just before the rename.
    pub sidecar_partial: PathBuf,
    /// `NAME.tar.zst.report.html`, the restitution page with the archive's sha256.
    pub report: PathBuf,
    /// Whether the archive is cut into volumes.
    pub volumes: bool,
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
            volumes: false,
        }
    }

    /// The files of an export to `output` written as `layout` says: `.age` is added to an
    /// encrypted archive's name (unless it has it already).
    pub fn for_export(output: &Path, layout: &Layout) -> Self {
        let encrypted = layout.recipients.is_some() && !output.to_string_lossy().ends_with(".age");
        let archive = if encrypted { with_suffix(output, ".age") } else { output.to_path_buf() };
        let mut files = Self::for_archive(&archive);
        if layout.volume_size.is_some() {
            files.volumes = true;
            files.partial = with_suffix(&files.volume(1), ".partial");
        }
        files
    }

    /// Volume `number` (from 1): `NAME.tar.zst.001`…
    pub fn volume(&self, number: u32) -> PathBuf {
        with_suffix(&self.archive, &format!(".{number:03}"))
    }

    fn volume_partial(&self, number: u32) -> PathBuf {
        with_suffix(&self.volume(number), ".partial")
    }

    /// Removes what an unfinished export left: the partial archive or volumes, the partial
    /// sidecar.
    pub fn remove_partials(&self) {
        let _ = fs::remove_file(&self.partial);
        let _ = fs::remove_file(&self.sidecar_partial);
        if self.volumes {
            for number in 2..=MAX_VOLUMES {
                if fs::remove_file(self.volume_partial(number)).is_err_and(|e| e.kind() == io::ErrorKind::NotFound) {
                    break;
                }
            }
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
    pub(crate) fn prepare(path: &Path, layout: &Layout, force: bool, resume: bool) -> Result<(Self, File)> {
        let invalid = |message: String| Error::new(ErrorKind::InvalidInput, message);
        if path.is_dir() {
            return Err(invalid(format!(
                "output {} is a directory: give a file name such as export.tar.zst",
                path.display()
            )));
        }
        let files = OutputFiles::for_export(path, layout);
        let journal = files.journal();
        if journal.exists() && !files.partial.exists() && files.archive.exists() {
            // Killed between the rename and the journal's removal: the export had finished.
            super::journal::remove(&files.archive);
        }
        if resume {
            if !layout.resumable() {
                return Err(invalid(
                    "--resume continues plain archives only: an encrypted or split export (--encrypt-to, \
                     --volume-size) keeps nothing to resume; run it again with --force"
                        .to_owned(),
                ));
            }
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
            let first = if files.volumes { files.volume(1) } else { files.archive.clone() };
            let written = [&first, &files.sidecar, &files.report];
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

    /// Writes the sidecar, one line per file written (the archive, or each volume in
    /// order), puts the restitution page in place (when there is one: an encrypted export
    /// leaves none in clear beside it), then moves the files into place: an archive under its
    /// name always has its sidecar beside it.
    pub(crate) fn commit(&self, finished: &Finished, report_page: Option<tempfile::NamedTempFile>) -> Result<()> {
        let files = &self.files;
        let name = |path: &Path| path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let write = || -> io::Result<()> {
            let mut file = create_private(&files.sidecar_partial)?;
            if files.volumes {
                for (number, volume) in (1..).zip(&finished.volumes) {
                    writeln!(file, "{}  {}", volume.sha256, name(&files.volume(number)))?;
                }
            } else {
                writeln!(file, "{}  {}", finished.sha256, name(&files.archive))?;
            }
            file.sync_all()?;
            fs::rename(&files.sidecar_partial, &files.sidecar)?;
            if let Some(page) = report_page {
                page.as_file().sync_all()?;
                page.persist(&files.report).map_err(|e| e.error)?;
            }
            if files.volumes {
                for number in (1..).take(finished.volumes.len()) {
                    fs::rename(files.volume_partial(number), files.volume(number))?;
                }
                Ok(())
            } else {
                fs::rename(&files.partial, &files.archive)
            }
        };
        write().map_err(|e| Error::io(format!("cannot move the archive to {}", files.archive.display()), &e))?;
        super::journal::remove(&files.archive);
        Ok(())
    }

    /// Removes the partial files and the journal after a failure that left nothing to
    /// resume, so nothing looks like an archive.
    pub(crate) fn abandon(&self) {
        self.files.remove_partials();
        super::journal::remove(&self.files.archive);
    }
}

/// Makes the volumes after the first, as `.partial` files until the export is complete.
pub(crate) struct VolumePaths(pub(crate) OutputFiles);

impl VolumeFiles for VolumePaths {
    fn create(&mut self, number: u32) -> io::Result<File> {
        create_private(&self.0.volume_partial(number))
    }

    fn reopen(&mut self, number: u32) -> io::Result<File> {
        fs::OpenOptions::new().write(true).open(self.0.volume_partial(number))
    }

    fn remove(&mut self, number: u32) -> io::Result<()> {
        fs::remove_file(self.0.volume_partial(number))
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
