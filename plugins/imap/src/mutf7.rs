//! Modified UTF-7 (RFC 3501 section 5.1.3), the form IMAP gives mailbox names in: ASCII as
//! is, `&-` for `&`, and other text as `&` + base64 (`,` for `/`) of UTF-16 + `-`.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/// The name as text, or `None` when it is not valid modified UTF-7 (a server that sends
/// raw UTF-8 names): the caller then keeps it as it came.
pub fn decode(name: &str) -> Option<String> {
    let mut out = String::new();
    let mut rest = name;
    while let Some(start) = rest.find('&') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let end = after.find('-')?;
        if end == 0 {
            out.push('&');
        } else {
            out.push_str(&decode_run(&after[..end])?);
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// One base64 run between `&` and `-`: UTF-16 big-endian code units.
fn decode_run(run: &str) -> Option<String> {
    let mut bits: u32 = 0;
    let mut count = 0;
    let mut units = Vec::new();
    for byte in run.bytes() {
        let value = ALPHABET.iter().position(|&b| b == byte)? as u32;
        bits = (bits << 6) | value;
        count += 6;
        if count >= 16 {
            count -= 16;
            units.push((bits >> count) as u16);
            bits &= (1 << count) - 1;
        }
    }
    if bits != 0 {
        return None;
    }
    String::from_utf16(&units).ok()
}

/// Text as a modified UTF-7 name (a folder named in a source URL).
pub fn encode(text: &str) -> String {
    let mut out = String::new();
    let mut pending: Vec<u16> = Vec::new();
    for ch in text.chars() {
        if (' '..='~').contains(&ch) {
            flush(&mut out, &mut pending);
            if ch == '&' {
                out.push_str("&-");
            } else {
                out.push(ch);
            }
        } else {
            pending.extend(ch.encode_utf16(&mut [0; 2]).iter());
        }
    }
    flush(&mut out, &mut pending);
    out
}

fn flush(out: &mut String, units: &mut Vec<u16>) {
    if units.is_empty() {
        return;
    }
    out.push('&');
    let bytes: Vec<u8> = units.drain(..).flat_map(u16::to_be_bytes).collect();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)) << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out.push('-');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_3501_examples_and_round_trips() {
        assert_eq!(decode("~peter/mail/&U,BTFw-/&ZeVnLIqe-").unwrap(), "~peter/mail/台北/日本語");
        assert_eq!(decode("Tom &- Jerry").unwrap(), "Tom & Jerry");
        assert_eq!(encode("~peter/mail/台北/日本語"), "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
        for text in ["Entwürfe", "Boîte d'envoi/Été 2024", "emoji 📨 & co", "plain"] {
            assert_eq!(decode(&encode(text)).unwrap(), text);
        }
        assert_eq!(decode("&Jjo!"), None);
    }
}
