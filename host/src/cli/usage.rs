//! Command-line errors said the way netwasm says every error: one line
//! naming the argument and what is wrong with it, with clap's tip kept,
//! instead of clap's paragraphs of usage.

use std::ffi::OsStr;

use clap::CommandFactory;
use clap::error::{ContextKind, ContextValue, ErrorKind};

use super::Cli;

/// The one line (without `netwasm: error: `) for `e`, an error of parsing
/// the command line `args` (the program's name first); never for `--help`
/// or `--version`, which are not errors.
pub fn one_line<S: AsRef<OsStr>>(mut e: clap::Error, args: &[S]) -> String {
    // Which command was meant (`netwasm run`): the line names that
    // command's --help instead of repeating clap's usage.
    e.remove(ContextKind::Usage);
    let command = command_of(args);
    if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        // `netwasm cache` lacks one of cache's commands, not netwasm's.
        let top = Cli::command();
        let meant = command
            .strip_prefix("netwasm ")
            .and_then(|name| top.find_subcommand(name))
            .unwrap_or(&top);
        let commands: Vec<String> = meant
            .get_subcommands()
            .map(|c| c.get_name().to_string())
            .collect();
        return format!(
            "no command given (one of: {}); see '{command} --help'",
            commands.join(", ")
        );
    }
    // What clap quotes is the user's input: its newlines and control
    // characters are made visible, so the message stays one line that
    // cannot be made to look like another.
    let quoted: Vec<(ContextKind, ContextValue)> = e
        .context()
        .filter_map(|(kind, value)| match value {
            ContextValue::String(s) => Some((kind, ContextValue::String(visible(s)))),
            ContextValue::Strings(v) => Some((
                kind,
                ContextValue::Strings(v.iter().map(|s| visible(s)).collect()),
            )),
            _ => None,
        })
        .collect();
    for (kind, value) in quoted {
        e.insert(kind, value);
    }
    let mut line = String::new();
    let rendered = e.render().to_string();
    for part in rendered
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("For more information"))
    {
        let part = part.strip_prefix("error: ").unwrap_or(part);
        if !line.is_empty() {
            // "... were not provided:" is followed by what was not.
            line.push_str(if line.ends_with(':') { " " } else { "; " });
        }
        line.push_str(part);
    }
    // A guest's argument given before `--` is taken for one of netwasm's:
    // the line says so, and gives the command line as it should be.
    if e.kind() == ErrorKind::UnknownArgument
        && matches!(command.as_str(), "netwasm run" | "netwasm plan")
        && e.get(ContextKind::Suggested).is_none()
        && let Some(ContextValue::String(arg)) = e.get(ContextKind::InvalidArg)
    {
        return format!(
            "unexpected argument '{arg}'; guest arguments go after --: {}",
            with_separator(args, arg)
        );
    }
    format!("{line}; see '{command} --help'")
}

/// The command `args` run: `netwasm run` for `netwasm run --bogus ...`,
/// `netwasm` when it names none (netwasm has no options before the
/// command but --help and --version).
fn command_of<S: AsRef<OsStr>>(args: &[S]) -> String {
    let named = args.get(1).and_then(|a| a.as_ref().to_str()).and_then(|a| {
        Cli::command()
            .get_subcommands()
            .map(|c| c.get_name().to_string())
            .find(|name| name == a)
    });
    match named {
        Some(name) => format!("netwasm {name}"),
        None => "netwasm".to_string(),
    }
}

/// The command line `args` with `--` before `arg` (as clap quoted it,
/// made visible), each word quoted for a shell where it needs to be.
fn with_separator<S: AsRef<OsStr>>(args: &[S], arg: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    let mut placed = false;
    for (i, a) in args.iter().enumerate() {
        let a = visible(&a.as_ref().to_string_lossy());
        if i == 0 {
            words.push("netwasm".into());
            continue;
        }
        if !placed && i > 1 && a == arg {
            words.push("--".into());
            placed = true;
        }
        words.push(shell_word(&a));
    }
    words.join(" ")
}

/// `word` as a shell would need it typed.
fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word.chars().all(|c| {
            c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | ':' | '=' | ',' | '@')
        });
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// `s` with control characters escaped, as the guest's output is.
fn visible(s: &str) -> String {
    crate::runtime::stdio::neutralise(s.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn error(args: &[&str]) -> String {
        let argv: Vec<&str> = std::iter::once("netwasm")
            .chain(args.iter().copied())
            .collect();
        let e = Cli::try_parse_from(&argv).expect_err("an error");
        one_line(e, &argv)
    }

    #[test]
    fn argument_errors_are_one_line_naming_the_argument() {
        assert_eq!(
            error(&["run", "--lab", "../x", "g.wasm"]),
            "invalid value '../x' for '--lab <NAME>': lab name \"../x\": use 1 to 64 letters, digits, '-', '_' or '.'; see 'netwasm run --help'"
        );
        assert_eq!(
            error(&["run", "--bogus", "g.wasm"]),
            "unexpected argument '--bogus' found; tip: to pass '--bogus' as a value, use '-- --bogus'; see 'netwasm run --help'"
        );
        assert_eq!(
            error(&["run"]),
            "the following required arguments were not provided: <GUEST>; see 'netwasm run --help'"
        );
        assert_eq!(
            error(&["run", "g.wasm", "up", "demo"]),
            "unexpected argument 'up'; guest arguments go after --: netwasm run g.wasm -- up demo"
        );
        assert_eq!(
            error(&["plan", "--lab", "x", "g.wasm", "a b", "up"]),
            "unexpected argument 'a b'; guest arguments go after --: netwasm plan --lab x g.wasm -- 'a b' up"
        );
        assert_eq!(
            error(&["cache"]),
            "no command given (one of: ls, clean); see 'netwasm cache --help'"
        );
        assert_eq!(
            error(&[]),
            "no command given (one of: run, up, plan, check, down, ls, status, show, graph, probe, exec, cache); see 'netwasm --help'"
        );
    }

    #[test]
    fn what_the_user_typed_cannot_break_the_line() {
        let line = error(&["run", "--lab", "a\nnetwasm: error: fake", "g.wasm"]);
        assert!(!line.contains('\n'), "{line}");
        assert!(
            line.starts_with("invalid value 'a\\nnetwasm: error: fake' for '--lab <NAME>'"),
            "{line}"
        );
        let line = error(&["bogus\x1b[2J"]);
        assert!(!line.contains('\x1b'), "{line}");
    }

    #[test]
    fn the_line_names_the_command_meant() {
        assert_eq!(command_of(&["netwasm", "run", "--bogus"]), "netwasm run");
        assert_eq!(command_of(&["netwasm", "bogus"]), "netwasm");
        assert_eq!(command_of(&["netwasm"]), "netwasm");
        assert_eq!(
            error(&["graph", "x", "-f", "png"]),
            "invalid value 'png' for '--format <FORMAT>'; [possible values: dot, mermaid, svg]; see 'netwasm graph --help'"
        );
    }
}
