//! The topology guest: the lab script behind `netwasm up FILE`.
//!
//! netwasm ships it inside its binary and runs it like any other guest —
//! same sandbox, same policy, same ledger — with three arguments: the
//! file's name (for messages), the lab's name as netwasm read it, and the
//! file's content. It never reads files itself. It parses the YAML,
//! checks everything it can before the first host call, then builds the
//! lab and states the file's expectations (see docs/topology.md).
//!
//! A mistake in the file fails the run with a message that starts with
//! [`BAD_FILE`] and names the line and key (`lab.yaml:12:
//! topology.links[2].endpoints[0]: node "c" is not in topology.nodes`); it
//! comes before anything is built, and netwasm reports it as bad input.
//! A step that fails while building names the line and key that asked for
//! it, after `building`.

pub mod check;
pub mod deploy;
pub mod schema;

use std::cell::RefCell;

/// How a message about a mistake in the file starts: netwasm tells these
/// from other failures by it. The guest writes every message's start
/// itself, never from the file, so a file cannot imitate it.
pub const BAD_FILE: &str = "bad topology file: ";

/// The most YAML a file may hold: far more than any lab needs, and well
/// within netwasm's default limit on guest arguments.
const MAX_EVENTS: usize = 1_000_000;

/// Parses and checks a topology file; a mistake as `FILE:LINE: KEY: WHAT`.
pub fn parse(file_name: &str, text: &str) -> Result<check::Lab, String> {
    schema::KEYS.with(|k| k.borrow_mut().clear());
    let path = RefCell::new(String::new());
    let mut options = serde_saphyr::options::Options::default();
    options.alias_limits.max_total_replayed_events = MAX_EVENTS;
    let parsed: Result<schema::File, _> =
        serde_saphyr::with_deserializer_from_str_with_options(text, options, |de| {
            serde_path_to_error::deserialize(de).map_err(|e| {
                *path.borrow_mut() = key_path(e.path());
                e.into_inner()
            })
        });
    let file = parsed.map_err(|e| {
        let line = e.location().map_or(0, |l| l.line());
        let key = path.borrow();
        let key = if key.is_empty() || key.as_str() == "." {
            "(top level)".to_string()
        } else {
            key.clone()
        };
        let mut message = message(&e);
        if let Some(hint) = containerlab_hint(&message) {
            message = format!("{message} ({hint})");
        }
        let mut key = key;
        // The parser names a repeated key in its message, and the path
        // cannot (its position was not read yet).
        if let Some(dup) = message.strip_prefix("duplicate mapping key: ") {
            let dup = dup
                .split(", set DuplicateKeyPolicy")
                .next()
                .unwrap_or(dup)
                .to_string();
            key = match key.strip_suffix(".?") {
                Some(parent) => format!("{parent}.{dup}"),
                None => format!("{key}.{dup}"),
            };
            message = format!("{dup:?} is given twice");
        }
        format!("{file_name}:{line}: {key}: {message}")
    })?;
    check::check(file).map_err(|e| format!("{file_name}:{}: {}: {}", e.line, e.key, e.message))
}

/// The key path of an error, as the file spells it: the names of the
/// node and interface maps (which serde_path_to_error cannot see, since
/// their keys carry positions) taken from [`schema::KEYS`], and the
/// positions' own `value` wrapper left out.
fn key_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let keys = schema::KEYS.with(|k| k.borrow().clone());
    let mut keys = keys.into_iter();
    let mut out = String::new();
    for seg in path.iter() {
        match seg {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } if key == "value" => {}
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Unknown => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(&keys.next().unwrap_or_else(|| "?".into()));
            }
        }
    }
    out
}

/// What to say when a containerlab key that netwasm has no use for is
/// refused as unknown.
fn containerlab_hint(message: &str) -> Option<&'static str> {
    let field = message.strip_prefix("unknown field `")?.split('`').next()?;
    match field {
        "image" | "startup-config" | "binds" | "env" | "exec" | "cmd" | "ports" | "mgmt-ipv4"
        | "mgmt-ipv6" | "labels" | "group" | "type" | "license" => Some(
            "a netwasm node is a bare network namespace: containers and their settings have no counterpart",
        ),
        "kinds" | "defaults" | "groups" => {
            Some("containerlab's node defaults have no counterpart: give each node its settings")
        }
        "mgmt" => Some("netwasm labs have no management network"),
        _ => None,
    }
}

/// The parser's message, on one line and without its own position (the
/// line is given first).
fn message(e: &serde_saphyr::Error) -> String {
    let text = e.without_snippet().to_string();
    let text = text.lines().next().unwrap_or("").trim();
    // "... at line 3, column 5" is said already.
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text.to_string(),
    }
}

fn run(args: Vec<String>) -> Result<(), String> {
    let [file_name, lab_name, text] = <[String; 3]>::try_from(args).map_err(|_| {
        "usage: FILE-NAME LAB-NAME CONTENT (netwasm up FILE passes these)".to_string()
    })?;
    let lab = parse(&file_name, &text).map_err(|e| format!("{BAD_FILE}{e}"))?;
    if lab.name != lab_name {
        return Err(format!(
            "{BAD_FILE}{file_name}: name: netwasm read the lab name {lab_name:?}, the file says {:?}; write it as a plain `name: {}` line at the top level",
            lab.name, lab.name
        ));
    }
    deploy::deploy(&lab).map_err(|e| {
        format!(
            "building {file_name}:{}: {}: {}",
            e.at.line, e.at.key, e.error
        )
    })
}

netwasm_guest::main!(run);

#[cfg(test)]
mod tests;
