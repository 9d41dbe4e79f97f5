//! What a guest may import: `netwasm:lab`, and the WASI interfaces netwasm
//! links in empty (no files, no environment, no network). Anything else is
//! refused before the guest starts, naming the import.

/// Interface prefixes a guest may import, with why each is there.
pub const ALLOWED: &[(&str, &str)] = &[
    ("netwasm:lab/", "the lab API"),
    (
        "wasi:cli/",
        "stdout and stderr (shown to the user); no arguments, environment or stdin",
    ),
    ("wasi:io/", "streams for stdout and stderr"),
    ("wasi:clocks/", "clocks"),
    ("wasi:random/", "random numbers"),
    (
        "wasi:filesystem/",
        "linked but empty: no directories are preopened",
    ),
    (
        "wasi:sockets/",
        "linked but empty: every address is refused, no name lookups",
    ),
];

/// The first import outside the allow-list, if any.
pub fn first_disallowed<'a>(imports: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    imports.into_iter().find(|name| {
        let base = name.split('@').next().unwrap_or(name);
        let version = name.split_once('@').map(|(_, v)| v);
        !ALLOWED.iter().any(|(prefix, _)| {
            base.starts_with(prefix)
                && match (*prefix, version) {
                    ("netwasm:lab/", Some(v)) => v.starts_with("0.1."),
                    ("netwasm:lab/", None) => false,
                    // WASI 0.2.x is what the host implements.
                    (_, Some(v)) => v.starts_with("0.2."),
                    (_, None) => false,
                }
        })
    })
}

/// The allow-list as one line, for messages.
pub fn describe() -> String {
    ALLOWED
        .iter()
        .map(|(p, _)| format!("{p}*"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::first_disallowed;

    #[test]
    fn allow_list() {
        assert_eq!(
            first_disallowed(["netwasm:lab/link@0.1.0", "wasi:cli/stdout@0.2.3"]),
            None
        );
        assert_eq!(
            first_disallowed(["wasi:http/types@0.2.0"]),
            Some("wasi:http/types@0.2.0")
        );
        assert_eq!(
            first_disallowed(["evil:escape/api"]),
            Some("evil:escape/api")
        );
        assert_eq!(
            first_disallowed(["netwasm:lab/link@0.2.0"]),
            Some("netwasm:lab/link@0.2.0")
        );
        assert_eq!(first_disallowed(["wasi:sockets/tcp@0.2.0"]), None);
    }
}
