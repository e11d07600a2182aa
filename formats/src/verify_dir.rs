//! `verify` of a bag already extracted (by `sortie extract`, GNU tar or bagit.py): the checks
//! of an archive that still apply to files on disk. Every payload file against
//! `manifest-sha256.txt`, nothing missing and nothing extra under `data/`, every tag file
//! against the tag manifest, `bagit.txt`, `Payload-Oxum`. A bag holds files and directories
//! only: a symbolic link or special file anywhere in it is a problem and is never followed,
//! so nothing outside the directory is read. There is no archive file, hence no sidecar.
//!
//! Memory stays bounded as for an archive: the manifest is read line by line and each path
//! remembered as a keyed hash (about 10 bytes) to find the files it does not list.

use std::collections::HashSet;
use std::fs::{self, File};
use std::hash::BuildHasher;
use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use sha2::{Digest, Sha256};

use crate::bagit::{self, BAG_INFO, BAGIT, MANIFEST, MAX_SEAL, SEALS, SIGNER_KEY, TAG_MANIFEST};
use crate::extract::walk;
use crate::reader;
use crate::verify::{self, Lines, MAX_SMALL_TAG, MAX_TAG_FILES, Sidecar, Verification};

/// Verifies the bag in `dir`: `dir` itself when it holds `bagit.txt`, else the one
/// directory inside it that does (what `extract DIR` and `tar -C DIR -x` make). An `Err`
/// means `dir` could not be read at all, or holds no bag (`InvalidInput`): a wrong path, as
/// a directory given for an archive was before bags could be verified.
pub fn verify_dir(dir: &Path) -> io::Result<Verification> {
    let mut v = Verification::new(Sidecar::NotApplicable);
    let Some((bag, name)) = locate(dir)? else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("neither it nor one directory inside it holds {BAGIT}: not a BagIt bag"),
        ));
    };
    v.bag = Some(name);
    let mut listed = Listed::default();
    check_manifest(&mut v, &bag, &mut listed)?;
    let mut tags = Tags::default();
    walk_tree(&mut v, &bag, Path::new(""), &listed, &mut tags)?;
    verify::check_bagit_txt(&mut v, tags.small(BAGIT));
    let mut accepted = vec![false; tags.digests.len()];
    verify::check_tag_manifest(&mut v, tags.small(TAG_MANIFEST), &tags.digests, &mut accepted);
    verify::check_bag_info(&mut v, tags.small(BAG_INFO));
    v.evidence = verify::Evidence::of(&mut tags.small.into_iter().collect());
    Ok(v)
}

/// The bag directory and its name.
fn locate(dir: &Path) -> io::Result<Option<(PathBuf, String)>> {
    let name =
        |path: &Path| path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into());
    if is_file(&dir.join(BAGIT)) {
        return Ok(Some((dir.to_path_buf(), name(&fs::canonicalize(dir)?))));
    }
    let mut bags = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() && is_file(&entry.path().join(BAGIT)) {
            bags.push(entry.path());
        }
    }
    Ok(match bags.as_slice() {
        [bag] => Some((bag.clone(), name(bag))),
        _ => None,
    })
}

fn is_file(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|meta| meta.is_file())
}

/// The payload paths the manifest lists, as keyed hashes.
#[derive(Default)]
struct Listed {
    paths: HashSet<u64>,
    hasher: std::hash::RandomState,
}

impl Listed {
    /// False when the path was listed already.
    fn insert(&mut self, path: &str) -> bool {
        self.paths.insert(self.hasher.hash_one(path))
    }

    fn contains(&self, path: &str) -> bool {
        self.paths.contains(&self.hasher.hash_one(path))
    }
}

/// Hashes every file the manifest lists, in its order, and compares.
fn check_manifest(v: &mut Verification, bag: &Path, listed: &mut Listed) -> io::Result<()> {
    let root = open_dir(bag)?;
    let manifest = match open_beneath(&root, MANIFEST) {
        Ok(Opened::File(file)) => file,
        Ok(_) => {
            v.problem(Some(MANIFEST), "the payload manifest is missing (or is not a regular file)");
            return Ok(());
        }
        Err(error) => {
            v.problem(Some(MANIFEST), format!("the payload manifest cannot be read: {error}"));
            return Ok(());
        }
    };
    for line in Lines::of(manifest)? {
        let line = match line? {
            Ok(line) => line,
            Err(length) => {
                v.problem(Some(MANIFEST), format!("a manifest line of {length} bytes is refused as malformed"));
                continue;
            }
        };
        let Some((want, path)) = bagit::parse_manifest_line(&line) else {
            v.problem(Some(MANIFEST), format!("malformed manifest line: {line:?}"));
            continue;
        };
        if !path.starts_with("data/") || reader::safe_relative(path.as_bytes()).is_none() {
            v.problem(Some(&path), "listed in the manifest with a path outside data/: not read");
            continue;
        }
        if !listed.insert(&path) {
            v.problem(Some(&path), "listed twice in the manifest");
            continue;
        }
        match open_beneath(&root, &path).and_then(|opened| opened.hashed()) {
            Ok(Opened::File(have)) => {
                if !have.eq_ignore_ascii_case(want) {
                    v.problem(Some(&path), format!("sha256 mismatch: manifest says {want}, content is {have}"));
                }
            }
            Ok(Opened::Missing) => v.problem(Some(&path), "listed in the manifest but missing from the bag"),
            Ok(Opened::Refused(why)) => v.problem(Some(&path), why),
            // A file this user may not read (a 0600 file `extract` gave back to its owner):
            // not verified, and named, while the rest of the bag still is.
            Err(error) => v.problem(Some(&path), format!("cannot be read: {error}")),
        }
    }
    Ok(())
}

enum Opened<T = File> {
    File(T),
    Missing,
    Refused(&'static str),
}

impl Opened {
    /// The file's sha256 in place of the file.
    fn hashed(self) -> io::Result<Opened<String>> {
        Ok(match self {
            Opened::File(mut file) => Opened::File(sha256(&mut file)?),
            Opened::Missing => Opened::Missing,
            Opened::Refused(why) => Opened::Refused(why),
        })
    }
}

/// Opens the regular file at `relative` under `root`, never through a link.
fn open_beneath(root: &OwnedFd, relative: &str) -> io::Result<Opened> {
    let relative = Path::new(relative);
    let Some(parent) = walk(root, relative.parent().unwrap_or(Path::new("")), false)? else {
        return Ok(Opened::Refused("a symbolic link or a file stands on its path: not followed"));
    };
    let name = relative.file_name().expect("a normal last component");
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let file = match rustix::fs::openat(&parent, name, flags, Mode::empty()) {
        Ok(file) => File::from(file),
        Err(Errno::NOENT) => return Ok(Opened::Missing),
        Err(Errno::LOOP) => return Ok(Opened::Refused("is a symbolic link: not followed (a bag holds files only)")),
        Err(e) => return Err(e.into()),
    };
    if !file.metadata()?.is_file() {
        return Ok(Opened::Refused("is not a regular file (a bag holds files only)"));
    }
    Ok(Opened::File(file))
}

fn open_dir(path: &Path) -> io::Result<OwnedFd> {
    Ok(rustix::fs::open(path, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?)
}

fn sha256(file: &mut File) -> io::Result<String> {
    let mut hasher = Sha256::new();
    verify::copy_hashing(file, &mut hasher, &mut io::sink())?;
    Ok(hex::encode(hasher.finalize()))
}

/// The tag files found: (path, sha256, index) and the content of the small ones verify
/// reads.
#[derive(Default)]
struct Tags {
    digests: Vec<(String, String, usize)>,
    small: Vec<(String, Vec<u8>)>,
}

impl Tags {
    fn small(&self, name: &str) -> Option<&Vec<u8>> {
        self.small.iter().find(|(rel, _)| rel == name).map(|(_, content)| content)
    }
}

/// Walks the bag without following links: counts the payload, names what the manifest does
/// not list and what is not a file or directory, and hashes the tag files.
fn walk_tree(v: &mut Verification, bag: &Path, rel: &Path, listed: &Listed, tags: &mut Tags) -> io::Result<()> {
    let listed_entries = fs::read_dir(bag.join(rel)).and_then(|entries| entries.collect::<io::Result<Vec<_>>>());
    let mut entries = match listed_entries {
        Ok(entries) => entries,
        // The bag itself unreadable is a wrong path; a directory inside it, a problem.
        Err(error) if rel.as_os_str().is_empty() => return Err(error),
        Err(error) => {
            v.problem(Some(&rel.to_string_lossy()), format!("directory cannot be read: {error}"));
            return Ok(());
        }
    };
    entries.sort_by_key(|entry| entry.file_name());
    for entry in entries {
        let path = rel.join(entry.file_name());
        let Some(text) = path.to_str().map(str::to_owned) else {
            v.problem(Some(&path.to_string_lossy()), "the name is not valid UTF-8, which Sortie never writes");
            continue;
        };
        let kind = entry.file_type()?;
        v.members += 1;
        let payload = text.starts_with("data/");
        if kind.is_dir() {
            // A source's own directory (`data/<source-id>`) is no member of an archive.
            v.payload_directories += u64::from(payload && text.matches('/').count() >= 2);
            walk_tree(v, bag, &path, listed, tags)?;
        } else if kind.is_symlink() {
            v.problem(Some(&text), "is a symbolic link: not followed (a bag holds files only)");
        } else if !kind.is_file() {
            v.problem(Some(&text), "is not a regular file (a bag holds files only)");
        } else if payload {
            v.payload_files += 1;
            v.payload_bytes += entry.metadata()?.len();
            if !listed.contains(&text) {
                v.problem(Some(&text), "payload file is not listed in the manifest");
            }
        } else if tags.digests.len() >= MAX_TAG_FILES {
            v.problem(Some(&text), format!("more than {MAX_TAG_FILES} tag files: not a Sortie bag"));
        } else if let Err(error) = tag_file(bag, &text, tags) {
            v.problem(Some(&text), format!("cannot be read: {error}"));
        }
    }
    Ok(())
}

fn tag_file(bag: &Path, rel: &str, tags: &mut Tags) -> io::Result<()> {
    let mut file = File::open(bag.join(rel))?;
    let index = tags.digests.len();
    let size = file.metadata()?.len();
    if SEALS.contains(&rel) && size <= MAX_SEAL {
        // A seal covers the tag manifest, which cannot list it.
        let mut content = Vec::new();
        file.take(MAX_SEAL).read_to_end(&mut content)?;
        tags.small.push((rel.to_owned(), content));
    } else if [BAGIT, BAG_INFO, TAG_MANIFEST, SIGNER_KEY].contains(&rel) && size <= MAX_SMALL_TAG {
        let mut content = Vec::new();
        file.take(MAX_SMALL_TAG).read_to_end(&mut content)?;
        tags.digests.push((rel.to_owned(), hex::encode(Sha256::digest(&content)), index));
        tags.small.push((rel.to_owned(), content));
    } else {
        tags.digests.push((rel.to_owned(), sha256(&mut file)?, index));
    }
    Ok(())
}
