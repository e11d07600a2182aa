//! Files a user hands Sortie (a plan, the sources file), read whole but never beyond a bound:
//! a wrong path (a disk image, `/dev/zero`) fails at once instead of filling memory.

use std::io::Read;
use std::path::Path;

use crate::error::{Error, ErrorKind, Result};

/// The text of `path`, `what` it is naming it in errors; a missing file is a usage error
/// that says `fix`.
pub(crate) fn read_text(path: &Path, limit: u64, what: &str, fix: &str) -> Result<String> {
    let shown = path.display();
    let unreadable = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::NotFound => {
            Error::new(ErrorKind::InvalidInput, format!("cannot read {what} {shown}: {e}: {fix}"))
        }
        _ => Error::io(format!("cannot read {what} {shown}"), &e),
    };
    let mut bytes = Vec::new();
    std::fs::File::open(path).and_then(|file| file.take(limit + 1).read_to_end(&mut bytes)).map_err(unreadable)?;
    if bytes.len() as u64 > limit {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("{what} {shown} is larger than {} MiB: is it the right file?", limit >> 20),
        ));
    }
    String::from_utf8(bytes).map_err(|_| {
        Error::new(ErrorKind::InvalidInput, format!("{what} {shown} is not UTF-8 text: is it the right file?"))
    })
}
