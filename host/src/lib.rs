//! netwasm: run WebAssembly lab scripts that build network labs on the real
//! Linux kernel, inside a capability sandbox.

pub mod cli;
pub mod cni;
pub mod error;
pub mod inspect;
pub mod kernel;
pub mod lab;
pub mod ledger;
pub mod policy;
pub mod privileges;
pub mod runtime;
pub mod session;
pub mod time;
pub mod vocab;
pub mod wit;

/// The layers, lowest first, and whom each may use: no module imports one
/// above it, so the crate has no import cycles (docs/architecture.md).
/// Test-only files (`tests*.rs`) may use any layer: they drive a layer from
/// above, as its callers do.
#[cfg(test)]
mod layers {
    const LAYERS: &[(&str, &[&str])] = &[
        ("error", &[]),
        ("time", &[]),
        ("privileges", &[]),
        ("vocab", &["error"]),
        ("kernel", &["error", "vocab"]),
        ("policy", &["error", "vocab"]),
        ("ledger", &["error", "kernel", "time", "vocab"]),
        (
            "lab",
            &["error", "kernel", "ledger", "policy", "time", "vocab"],
        ),
        ("wit", &["error", "lab", "vocab"]),
        ("runtime", &["error", "lab", "policy", "vocab", "wit"]),
        // Below `session`, which records the lab as it commits it.
        ("inspect", &["error", "kernel", "ledger", "vocab"]),
        (
            "session",
            &[
                "error", "inspect", "kernel", "lab", "ledger", "policy", "runtime", "time", "vocab",
            ],
        ),
        (
            "cni",
            &[
                "error", "kernel", "lab", "ledger", "policy", "runtime", "session", "time",
                "vocab", "wit",
            ],
        ),
        (
            "cli",
            &[
                "error",
                "inspect",
                "kernel",
                "lab",
                "ledger",
                "policy",
                "privileges",
                "runtime",
                "session",
                "time",
                "vocab",
            ],
        ),
    ];

    fn sources(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                sources(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }

    #[test]
    fn no_module_imports_a_higher_layer() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut bad = Vec::new();
        for (layer, allowed) in LAYERS {
            let mut files = Vec::new();
            let dir = src.join(layer);
            if dir.is_dir() {
                sources(&dir, &mut files);
            } else {
                files.push(src.join(format!("{layer}.rs")));
            }
            for f in files {
                let test_only = f
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("tests"));
                if test_only {
                    continue;
                }
                let text = std::fs::read_to_string(&f).unwrap();
                for (i, _) in text.match_indices("crate::") {
                    let used: String = text[i + 7..]
                        .chars()
                        .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                        .collect();
                    if !used.is_empty() && used != *layer && !allowed.contains(&used.as_str()) {
                        bad.push(format!("{} uses crate::{used}", f.display()));
                    }
                }
            }
        }
        assert!(bad.is_empty(), "imports against the layering: {bad:#?}");
    }
}
