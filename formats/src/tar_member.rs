//! POSIX pax tar headers for the archive's members.
//!
//! The `tar` crate builds ustar headers but writes no pax records; a path longer than the
//! ustar fields or holding non-ASCII text, and a size of 8 GiB or more, get a pax `x`
//! record before the member (POSIX.1-2001), which GNU tar, bsdtar and Python read. Bodies
//! are written by the caller, straight from their buffers, followed by [`padding`].

use std::io;

use tar::{EntryType, Header};

/// The tar block size.
pub const BLOCK: u64 = 512;
/// Two zero blocks end a tar archive.
pub const END_OF_ARCHIVE: [u8; 1024] = [0; 1024];
/// The ustar size field holds eleven octal digits.
const USTAR_MAX_SIZE: u64 = 0o77777777777;

/// The bytes that precede a member's body: its pax extended header when needed, then its
/// ustar header.
pub fn header(kind: EntryType, path: &str, size: u64, mtime: u64) -> io::Result<Vec<u8>> {
    let mut header = Header::new_ustar();
    header.set_entry_type(kind);
    header.set_mode(if kind == EntryType::Directory { 0o755 } else { 0o644 });
    header.set_mtime(mtime);
    header.set_uid(0);
    header.set_gid(0);
    header.set_size(size);

    let mut records = Vec::new();
    if !path.is_ascii() || header.set_path(path).is_err() {
        pax_record(&mut records, "path", path);
        set_fallback_name(&mut header, path);
    }
    if size > USTAR_MAX_SIZE {
        pax_record(&mut records, "size", &size.to_string());
    }
    let mut out = Vec::with_capacity(3 * BLOCK as usize);
    if !records.is_empty() {
        let mut pax = Header::new_ustar();
        pax.set_entry_type(EntryType::XHeader);
        pax.set_mode(0o644);
        pax.set_size(records.len() as u64);
        pax.set_path("././@PaxHeader")?;
        pax.set_cksum();
        out.extend_from_slice(pax.as_bytes());
        out.extend_from_slice(&records);
        out.extend_from_slice(padding(records.len() as u64));
    }
    header.set_cksum();
    out.extend_from_slice(header.as_bytes());
    Ok(out)
}

/// The zeros that complete a body of `size` bytes to a whole block.
pub fn padding(size: u64) -> &'static [u8] {
    const ZEROS: [u8; BLOCK as usize] = [0; BLOCK as usize];
    let rest = (size % BLOCK) as usize;
    if rest == 0 { &[] } else { &ZEROS[rest..] }
}

/// A reader that never takes a name longer than the ustar `name` field sees the start of
/// the path; the pax record carries the whole of it.
fn set_fallback_name(header: &mut Header, path: &str) {
    let mut end = path.len().min(99);
    while !path.is_char_boundary(end) {
        end -= 1;
    }
    let ustar = header.as_ustar_mut().expect("built as ustar");
    ustar.name = [0; 100];
    ustar.name[..end].copy_from_slice(&path.as_bytes()[..end]);
    ustar.prefix = [0; 155];
}

/// Appends `"%d %s=%s\n"`, whose leading decimal counts the whole record, itself included.
fn pax_record(out: &mut Vec<u8>, key: &str, value: &str) {
    let body = key.len() + value.len() + 3; // ' ', '=', '\n'
    let mut len = body + 1;
    while body + len.to_string().len() != len {
        len = body + len.to_string().len();
    }
    out.extend_from_slice(format!("{len} {key}={value}\n").as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_record_length_counts_itself() {
        let mut out = Vec::new();
        pax_record(&mut out, "path", "a");
        assert_eq!(out, b"9 path=a\n");
        let mut out = Vec::new();
        let value = "x".repeat(93);
        pax_record(&mut out, "path", &value);
        assert_eq!(out.len(), 103);
        assert!(out.starts_with(b"103 path="));
    }

    #[test]
    fn long_and_unicode_paths_read_back_whole() {
        let long = format!("bag/data/{}/{}", "d".repeat(200), "é".repeat(60));
        let mut bytes = Vec::new();
        for (path, body) in [(long.as_str(), &b"abc"[..]), ("bag/short", &b"z"[..])] {
            bytes.extend(header(EntryType::Regular, path, body.len() as u64, 0).unwrap());
            bytes.extend_from_slice(body);
            bytes.extend_from_slice(padding(body.len() as u64));
        }
        bytes.extend_from_slice(&END_OF_ARCHIVE);
        let mut archive = tar::Archive::new(&bytes[..]);
        let paths: Vec<Vec<u8>> = archive.entries().unwrap().map(|e| e.unwrap().path_bytes().into_owned()).collect();
        assert_eq!(paths, vec![long.into_bytes(), b"bag/short".to_vec()]);
    }
}
