//! Text a guest hands the host to repeat (its output, its error message,
//! its arguments in the audit log), made safe to print.

/// Renders one line of guest output for the terminal.
pub fn neutralise(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c == '\t' || !c.is_control() {
            out.push(c);
        } else {
            out.extend(c.escape_default());
        }
    }
    out
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
}
