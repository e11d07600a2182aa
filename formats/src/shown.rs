//! Text from an archive or a server, made safe to print: a hostile member name or error
//! message must neither drive the terminal (escape sequences, carriage returns) nor flood
//! memory and logs, nor reorder what is shown around it (Unicode's bidirectional controls:
//! U+202E makes `pay\u{202e}fdp.exe` read `payexe.pdf`).

/// Characters of untrusted text kept in a message.
const MAX_SHOWN: usize = 1024;

/// `text` with control characters and bidirectional controls escaped (`\n`, `\u{1b}`,
/// `\u{202e}`) and cut after [`MAX_SHOWN`] characters, saying so.
pub fn shown(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_SHOWN + 16));
    for (count, ch) in text.chars().enumerate() {
        if count == MAX_SHOWN {
            out.push_str(&format!("… ({} more bytes)", text.len() - out_len_in_source(text, count)));
            break;
        }
        if ch.is_control() || is_bidi_control(ch) {
            out.extend(ch.escape_default());
        } else {
            out.push(ch);
        }
    }
    out
}

/// The characters that change the direction of the text after them (embeddings,
/// overrides, isolates, marks): letters of right-to-left scripts are not among them.
fn is_bidi_control(ch: char) -> bool {
    matches!(ch, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// The byte length of the first `chars` characters of `text`.
fn out_len_in_source(text: &str, chars: usize) -> usize {
    text.char_indices().nth(chars).map_or(text.len(), |(at, _)| at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_long_text_cut() {
        assert_eq!(shown("a\nb\u{1b}[31m"), "a\\nb\\u{1b}[31m");
        assert_eq!(
            shown("pay\u{202E}fdp.exe \u{5e9}\u{5dc}\u{5d5}\u{5dd}"),
            "pay\\u{202e}fdp.exe \u{5e9}\u{5dc}\u{5d5}\u{5dd}"
        );
        let long = "x".repeat(5000);
        let cut = shown(&long);
        assert!(cut.starts_with(&"x".repeat(MAX_SHOWN)) && cut.ends_with("(3976 more bytes)"), "{cut}");
    }
}
