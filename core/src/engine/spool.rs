//! Spools: temporary files beside the output holding one JSON object per line (listings of
//! flat sources, inventory, failures, exclusions), so that nothing grows in memory with
//! the number of items; encrypted under a key held in memory ([`Spool`]), as every
//! temporary file of an export is.

use std::io::{BufWriter, Write};

use sortie_formats::spool::Spool;

use crate::error::{Error, ErrorKind, Result};

/// Appends `value` as one JSON line.
pub(crate) fn spool_line(out: &mut BufWriter<Spool>, value: &impl serde::Serialize) -> Result<()> {
    let mut line = serde_json::to_vec(value).map_err(|e| Error::new(ErrorKind::Other, e.to_string()))?;
    line.push(b'\n');
    out.write_all(&line).map_err(|e| Error::io("cannot write a temporary file", &e))
}
