//! The guest's stdout and stderr: shown to the user line by line, marked as
//! the guest's, with control characters made visible (a guest must not be
//! able to move the cursor, retitle the terminal or fake netwasm's own
//! messages), and capped in total size.
//!
//! The cap counts what is printed, not what the guest wrote: each line's
//! `[guest] ` mark and each escaped control character (`\u{1}` is five
//! bytes for one) are charged too, or a guest writing empty lines or
//! control bytes would print nine or five times its limit.

use std::io::{self, Write};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

pub use crate::vocab::text::{clip, neutralise};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    Stdout,
    Stderr,
}

#[derive(Debug)]
struct Shared {
    /// Bytes printed (or, quiet, that would have been) so far.
    used: u64,
    max: u64,
    exceeded: bool,
    partial: [Vec<u8>; 2],
    quiet: bool,
    /// A report was cut for want of budget; later ones are left out.
    report_cut: bool,
    /// See [`GuestOutput::reports_to_stderr`].
    reports_to_stderr: bool,
    /// See [`GuestOutput::all_to_stderr`].
    stdout_to_stderr: bool,
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
                reports_to_stderr: false,
                stdout_to_stderr: false,
            })),
        }
    }

    /// Prints netwasm's reports (the reachability matrix) to stderr, for
    /// a command whose stdout is JSON.
    pub fn reports_to_stderr(self) -> Self {
        self.shared.lock().unwrap().reports_to_stderr = true;
        self
    }

    /// Prints everything — the guest's stdout too — to stderr, for a
    /// process whose stdout is another program's to read (a CNI plugin's).
    pub fn all_to_stderr(self) -> Self {
        {
            let mut s = self.shared.lock().unwrap();
            s.reports_to_stderr = true;
            s.stdout_to_stderr = true;
        }
        self
    }

    pub fn stream(&self, which: Which) -> GuestStream {
        GuestStream {
            shared: self.shared.clone(),
            which,
        }
    }

    /// Whether the guest tried to print more than its budget.
    pub fn exceeded(&self) -> bool {
        self.shared.lock().unwrap().exceeded
    }

    /// Bytes printed so far, marks and escapes included.
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
                    crate::vocab::limit::bytes(s.max)
                );
                break;
            }
            s.used += cost;
            text += line;
            text.push('\n');
        }
        let to_stderr = s.reports_to_stderr;
        drop(s);
        // As for the guest's lines: our terminal failing is not worth
        // failing the lab over.
        let _ = if to_stderr {
            io::stderr().lock().write_all(text.as_bytes())
        } else {
            io::stdout().lock().write_all(text.as_bytes())
        };
    }

    /// Prints what is left of unterminated lines, as far as the budget
    /// allows.
    pub fn flush(&self) {
        let mut s = self.shared.lock().unwrap();
        for which in [Which::Stdout, Which::Stderr] {
            let buf = std::mem::take(&mut s.partial[which as usize]);
            if !buf.is_empty() {
                // Too late to tell the guest; what does not fit is cut.
                let _ = s.print(which, &buf);
            }
        }
    }
}

impl Shared {
    /// Prints one line of the guest's, charging it as printed. A line that
    /// does not fit what is left of the budget is printed as far as it
    /// fits (cut, and ended), so the budget is spent on output rather than
    /// lost to one long line; then the budget is exceeded, nothing more of
    /// the guest's is printed, and the write fails.
    fn print(&mut self, which: Which, line: &[u8]) -> io::Result<()> {
        let exceeded = || io::Error::new(io::ErrorKind::BrokenPipe, "output limit reached");
        if self.exceeded {
            return Err(exceeded());
        }
        let (mark, mut text) = render_line(which, line);
        let room = usize::try_from(self.max - self.used).unwrap_or(usize::MAX);
        if text.len() > room {
            self.exceeded = true;
            let keep = text.floor_char_boundary(room.saturating_sub(1));
            if keep > mark.len() {
                text.truncate(keep);
                text.push('\n');
            } else {
                text.clear();
            }
        }
        self.used += text.len() as u64;
        if !self.quiet && !text.is_empty() {
            // Errors writing to our own terminal are not the guest's fault
            // and not worth failing a lab over.
            let _ = match which {
                Which::Stdout if !self.stdout_to_stderr => {
                    io::stdout().lock().write_all(text.as_bytes())
                }
                _ => io::stderr().lock().write_all(text.as_bytes()),
            };
        }
        if self.exceeded {
            return Err(exceeded());
        }
        Ok(())
    }
}

#[derive(Clone)]
pub struct GuestStream {
    shared: Arc<Mutex<Shared>>,
    which: Which,
}

/// One line of the guest's as the terminal gets it: marked, made
/// visible, and ended; and its mark.
fn render_line(which: Which, line: &[u8]) -> (&'static str, String) {
    let mark = match which {
        Which::Stdout => "[guest] ",
        Which::Stderr => "[guest:stderr] ",
    };
    (mark, format!("{mark}{}\n", neutralise(line)))
}

/// The longest piece of an unterminated line kept before it is shown: a
/// guest writing one endless line still gets shown, in pieces.
const MAX_PARTIAL: usize = 64 * 1024;

impl GuestStream {
    fn write_bytes(&self, buf: &[u8]) -> io::Result<usize> {
        let mut s = self.shared.lock().unwrap();
        if s.exceeded {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "output limit reached",
            ));
        }
        let which = self.which as usize;
        s.partial[which].extend_from_slice(buf);
        loop {
            let partial = &mut s.partial[which];
            let line: Vec<u8> = match partial.iter().position(|b| *b == b'\n') {
                Some(pos) => {
                    let mut line: Vec<u8> = partial.drain(..=pos).collect();
                    line.pop();
                    line
                }
                None if partial.len() > MAX_PARTIAL => std::mem::take(partial),
                None => break,
            };
            if let Err(e) = s.print(self.which, &line) {
                // The rest of what it wrote is not shown either.
                s.partial[which].clear();
                return Err(e);
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
        let out = GuestOutput::new(30, true);
        // "[guest] ab\n": 11 bytes.
        assert!(out.stream(Which::Stdout).write_bytes(b"ab\n").is_ok());
        let lines: Vec<String> = ["head", "row 1", "row 2", "row 3"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        out.report(&lines, 1, "rows");
        // "head\nrow 1\nrow 2\n" is 17 bytes more; row 3 does not fit.
        assert_eq!(out.used(), 28);
        assert!(!out.exceeded(), "the guest itself wrote nothing too much");
        out.report(&lines, 1, "rows");
        assert_eq!(out.used(), 28, "a cut report stays cut");
        // "[guest] \n" does not fit in 2 bytes, not even cut.
        assert!(out.stream(Which::Stdout).write_bytes(b"\n").is_err());
        assert!(out.exceeded());
        assert_eq!(out.used(), 28);
    }

    #[test]
    fn what_is_printed_is_charged() {
        let out = GuestOutput::new(100, true);
        let (stdout, stderr) = (out.stream(Which::Stdout), out.stream(Which::Stderr));
        // Two empty lines print as "[guest] \n" twice.
        assert!(stdout.write_bytes(b"\n\n").is_ok());
        assert_eq!(out.used(), 18);
        // One control byte prints as "\u{1}", on stderr's longer mark.
        assert!(stderr.write_bytes(b"\x01\n").is_ok());
        assert_eq!(out.used(), 18 + 15 + 5 + 1);
        // Invalid UTF-8 prints as U+FFFD, three bytes.
        assert!(stdout.write_bytes(b"\xff\n").is_ok());
        assert_eq!(out.used(), 39 + 8 + 3 + 1);
        // An unterminated line is charged when it is printed.
        assert!(stdout.write_bytes(b"abc").is_ok());
        assert_eq!(out.used(), 51);
        out.flush();
        assert_eq!(out.used(), 51 + 8 + 3 + 1);
        // A line that does not fit is printed as far as it fits, cut and
        // ended; nothing after it is.
        assert!(stdout.write_bytes(&[b'x'; 40]).is_ok());
        assert!(stdout.write_bytes(b"\n").is_err());
        assert!(out.exceeded());
        assert_eq!(out.used(), 100);
        assert!(stdout.write_bytes(b"\n").is_err());
        assert_eq!(out.used(), 100);
    }

    #[test]
    fn budget_is_shared_and_enforced() {
        let out = GuestOutput::new(30, true);
        let a = out.stream(Which::Stdout);
        let b = out.stream(Which::Stderr);
        assert!(a.write_bytes(b"1234\n").is_ok());
        assert!(b.write_bytes(b"1\n").is_ok());
        assert_eq!(out.used(), 30);
        assert!(b.write_bytes(b"\n").is_err());
        assert!(out.exceeded());
        assert_eq!(out.used(), 30);
    }
}
