//! Any bytes given as an archive: the reader must neither panic nor allocate what the bytes
//! declare. Seeds: `corpus/archive_reader/` (written by `tests/hostile_archives.rs`, which
//! also runs every file there under a memory and time bound in the normal test suite).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let bytes = data.to_vec();
    let _ = sortie_formats::verify::verify_reader(Box::new(std::io::Cursor::new(bytes.clone())));
    if let Ok(mut archive) = sortie_formats::reader::from_reader(Box::new(std::io::Cursor::new(bytes))) {
        if let Ok(members) = archive.members() {
            for member in members {
                let Ok(mut member) = member else { break };
                let _ = member.path();
                if std::io::copy(&mut member, &mut std::io::sink()).is_err() {
                    break;
                }
            }
        }
    }
});
