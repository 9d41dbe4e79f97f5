//! Text a guest hands the host to repeat (its output, its error message,
//! its arguments in the audit log), made safe to print.

/// Whether a terminal would act on `c` rather than show it: a control
/// character (ESC starts a CSI or OSC sequence, `\r` and `\n` overwrite or
/// forge lines), a bidirectional control (which reorders what follows) or
/// another invisible format character. Tab is shown as it is.
pub fn unprintable(c: char) -> bool {
    use icu_properties::CodePointSetData;
    use icu_properties::props::{BidiControl, DefaultIgnorableCodePoint};

    if c == '\t' {
        return false;
    }
    if c.is_ascii() {
        return c.is_ascii_control();
    }
    c.is_control()
        || CodePointSetData::new::<BidiControl>().contains(c)
        || CodePointSetData::new::<DefaultIgnorableCodePoint>().contains(c)
}

/// `text` with every character a terminal would act on (`unprintable`)
/// escaped as `\u{..}`, `\r` or `\n`: what a guest wrote, shown as text.
pub fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if unprintable(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Renders one line of guest output for the terminal.
pub fn neutralise(line: &[u8]) -> String {
    printable(&String::from_utf8_lossy(line))
}

/// `text` cut to at most `max` bytes (at a character boundary), saying
/// how long it was: for what a guest hands the host to repeat (its error
/// message, its arguments in the audit log), which the guest decides the
/// length of.
pub fn clip(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let cut = text.floor_char_boundary(max);
    format!("{}... ({} bytes in all)", &text[..cut], text.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_cuts_at_a_character() {
        assert_eq!(clip("short", 10), "short");
        assert_eq!(clip("ééé", 3), "é... (6 bytes in all)");
    }

    #[test]
    fn printable_escapes_what_a_terminal_acts_on() {
        assert_eq!(printable("a\tb é"), "a\tb é");
        assert_eq!(printable("\x1b]0;title\x07"), "\\u{1b}]0;title\\u{7}");
        assert_eq!(printable("x\r\ny"), "x\\r\\ny");
        assert_eq!(printable("a\u{202e}b\u{2066}c"), "a\\u{202e}b\\u{2066}c");
        assert_eq!(printable("a\u{200b}b"), "a\\u{200b}b");
        assert!(!printable("\u{9b}31m\u{061c}").chars().any(unprintable));
    }
}
