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

/// The version of `netwasm:lab` this host serves (wit/world.wit's
/// package line; a test keeps the two equal).
pub const LAB_VERSION: &str = "0.1.0";

/// `(major, minor, patch)` of a version like `0.1.0` (pre-release and
/// build suffixes ignored).
fn semver(v: &str) -> Option<(u64, u64, u64)> {
    let core = v.split(['-', '+']).next()?;
    let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
    Some((parts.next()??, parts.next()??, parts.next()??))
}

/// If the guest wants a `netwasm:lab` this host does not serve (another
/// major version, or a later minor or patch whose additions this host
/// lacks), the one line that says so: which version it wants, which the
/// host serves. wasmtime would otherwise say something like `instance
/// export 'rename' has the wrong type: function implementation is missing`.
pub fn version_mismatch<'a>(imports: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let served = semver(LAB_VERSION)?;
    let mut wanted: Option<(u64, u64, u64, &str)> = None;
    for name in imports {
        let Some(v) = name
            .strip_prefix("netwasm:lab/")
            .and_then(|rest| rest.split_once('@'))
            .map(|(_, v)| v)
        else {
            continue;
        };
        let Some((ma, mi, pa)) = semver(v) else {
            continue;
        };
        if (ma, mi, pa) > served && wanted.is_none_or(|(a, b, c, _)| (ma, mi, pa) > (a, b, c)) {
            wanted = Some((ma, mi, pa, name));
        }
        // An older major (0.0.x) is no newer, but no longer served.
        if (ma, mi) < (served.0, served.1) && wanted.is_none() {
            return Some(format!(
                "it was built against netwasm:lab@{v} (it imports `{name}`); this netwasm serves netwasm:lab@{LAB_VERSION}: rebuild the guest against this netwasm's wit/"
            ));
        }
    }
    let (ma, mi, pa, name) = wanted?;
    Some(format!(
        "it needs netwasm:lab@{ma}.{mi}.{pa} (it imports `{name}`); this netwasm serves netwasm:lab@{LAB_VERSION}: upgrade netwasm, or build the guest against the wit/ of this version"
    ))
}

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
    use super::{LAB_VERSION, first_disallowed, version_mismatch};

    #[test]
    fn the_served_version_is_the_wit_package() {
        let world = include_str!("../../../wit/world.wit");
        assert!(
            world.contains(&format!("package netwasm:lab@{LAB_VERSION};")),
            "wit/world.wit's package is not netwasm:lab@{LAB_VERSION}"
        );
    }

    #[test]
    fn newer_versions_are_named() {
        assert_eq!(
            version_mismatch(["netwasm:lab/link@0.1.0", "wasi:cli/stdout@0.2.3"]),
            None
        );
        let m =
            version_mismatch(["netwasm:lab/link@0.1.0", "netwasm:lab/namespace@0.2.0"]).unwrap();
        assert!(m.starts_with("it needs netwasm:lab@0.2.0 (it imports `netwasm:lab/namespace@0.2.0`); this netwasm serves netwasm:lab@0.1.0"), "{m}");
        assert!(
            version_mismatch(["netwasm:lab/link@0.1.7"])
                .unwrap()
                .contains("needs netwasm:lab@0.1.7")
        );
        assert!(
            version_mismatch(["netwasm:lab/link@0.0.3"])
                .unwrap()
                .contains("built against netwasm:lab@0.0.3")
        );
    }

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
