//! The guest's stdout and stderr: shown to the user line by line, marked as
//! the guest's, with control characters made visible (a guest must not be
//! able to move the cursor, retitle the terminal or fake netwasm's own
//! messages), and capped in total size.

use std::io::{self, Write};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    Stdout,
    Stderr,
}

#[derive(Debug)]
struct Shared {
    used: u64,
    max: u64,
    exceeded: bool,
    partial: [Vec<u8>; 2],
    quiet: bool,
    /// A report was cut for want of budget; later ones are left out.
    report_cut: bool,
}

/// Both output streams of one guest, sharing one byte budget.
#[derive(Clone, Debug)]
pub struct GuestOutput {
    shared: Arc<Mutex<Shared>>,
}

impl GuestOutput {
    pub fn new(max: u64, quiet: bool) -> Self {
        Self {
            shared: Arc::new(Mutex::new(Shared {
                used: 0,
                max,
                exceeded: false,
                partial: [Vec::new(), Vec::new()],
                quiet,
                report_cut: false,
            })),
        }
    }

    pub fn stream(&self, which: Which) -> GuestStream {
        GuestStream {
            shared: self.shared.clone(),
            which,
        }
    }

    /// Whether the guest tried to write more than its budget.
    pub fn exceeded(&self) -> bool {
        self.shared.lock().unwrap().exceeded
    }

    /// Bytes written so far.
    pub fn used(&self) -> u64 {
        self.shared.lock().unwrap().used
    }

    /// Prints `lines`, netwasm's own report of what the guest asked for
    /// (the reachability matrix), charging each to the guest's budget: the
    /// guest decides how long such a report is. The first `head` lines are
    /// headings, the rest are `unit`. When a line does not fit, it and the
    /// rest are left out and one line says how many of `unit` were; the
    /// budget stays spent, so every later report of the run is left out.
    pub fn report(&self, lines: &[String], head: usize, unit: &str) {
        let mut s = self.shared.lock().unwrap();
        if s.report_cut {
            return;
        }
        let mut text = String::new();
        for (i, line) in lines.iter().enumerate() {
            let cost = line.len() as u64 + 1;
            if s.used.saturating_add(cost) > s.max {
                s.report_cut = true;
                let left = lines.len() - i.max(head);
                text += &format!(
                    "... {left} of {} {unit} left out: the guest's output limit ({}) is spent; later reports of this run are left out too\n",
                    lines.len().saturating_sub(head),
                    super::limits::bytes(s.max)
                );
                break;
            }
            s.used += cost;
            text += line;
            text.push('\n');
        }
        drop(s);
        // As for the guest's lines: our terminal failing is not worth
        // failing the lab over.
        let _ = io::stdout().lock().write_all(text.as_bytes());
    }

    /// Prints what is left of unterminated lines.
    pub fn flush(&self) {
        let mut s = self.shared.lock().unwrap();
        for which in [Which::Stdout, Which::Stderr] {
            let buf = std::mem::take(&mut s.partial[which as usize]);
            if !buf.is_empty() && !s.quiet {
                emit_line(which, &buf);
            }
        }
    }
}

#[derive(Clone)]
pub struct GuestStream {
    shared: Arc<Mutex<Shared>>,
    which: Which,
}

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

fn emit_line(which: Which, line: &[u8]) {
    let text = neutralise(line);
    // Errors writing to our own terminal are not the guest's fault and not
    // worth failing a lab over.
    let _ = match which {
        Which::Stdout => writeln!(io::stdout().lock(), "[guest] {text}"),
        Which::Stderr => writeln!(io::stderr().lock(), "[guest:stderr] {text}"),
    };
}

impl GuestStream {
    fn write_bytes(&self, buf: &[u8]) -> io::Result<usize> {
        let mut s = self.shared.lock().unwrap();
        if s.used + buf.len() as u64 > s.max {
            s.exceeded = true;
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "output limit reached",
            ));
        }
        s.used += buf.len() as u64;
        let quiet = s.quiet;
        let partial = &mut s.partial[self.which as usize];
        partial.extend_from_slice(buf);
        while let Some(pos) = partial.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = partial.drain(..=pos).collect();
            if !quiet {
                emit_line(self.which, &line[..line.len() - 1]);
            }
        }
        // A guest writing one endless line still gets shown, in pieces.
        if partial.len() > 64 * 1024 {
            let line = std::mem::take(partial);
            if !quiet {
                emit_line(self.which, &line);
            }
        }
        Ok(buf.len())
    }
}

impl AsyncWrite for GuestStream {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(self.write_bytes(buf))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl IsTerminal for GuestStream {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestStream {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_made_visible() {
        assert_eq!(neutralise(b"ok\ttab"), "ok\ttab");
        assert_eq!(neutralise(b"\x1b[2Jclear"), "\\u{1b}[2Jclear");
        assert_eq!(neutralise(b"bell\x07\r"), "bell\\u{7}\\r");
        assert_eq!(neutralise("\u{9b}31m".as_bytes()), "\\u{9b}31m");
    }

    #[test]
    fn reports_share_the_budget_and_are_cut_once() {
        let out = GuestOutput::new(20, true);
        let lines: Vec<String> = ["head", "row 1", "row 2", "row 3"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        out.report(&lines, 1, "rows");
        // "head\nrow 1\nrow 2\n" is 17 bytes; row 3 does not fit.
        assert_eq!(out.used(), 17);
        assert!(!out.exceeded(), "the guest itself wrote nothing too much");
        out.report(&lines, 1, "rows");
        assert_eq!(out.used(), 17, "a cut report stays cut");
        assert!(out.stream(Which::Stdout).write_bytes(b"ab\n").is_ok());
        assert!(out.stream(Which::Stdout).write_bytes(b"x").is_err());
    }

    #[test]
    fn clip_cuts_at_a_character() {
        assert_eq!(clip("short", 10), "short");
        assert_eq!(clip("ééé", 3), "é... (6 bytes in all)");
    }

    #[test]
    fn budget_is_shared_and_enforced() {
        let out = GuestOutput::new(10, true);
        let a = out.stream(Which::Stdout);
        let b = out.stream(Which::Stderr);
        assert!(a.write_bytes(b"1234\n").is_ok());
        assert!(b.write_bytes(b"1234\n").is_ok());
        assert!(b.write_bytes(b"x").is_err());
        assert!(out.exceeded());
        assert_eq!(out.used(), 10);
    }
}
