//! `netwasm probe --expect FILE`: the reachability a user expects, read
//! from the JSON `probe --json` prints (record a golden matrix, compare
//! later) or from lines `FROM TO yes|no`.

use std::collections::HashMap;
use std::io::Read;
use std::net::IpAddr;
use std::path::Path;

use super::{Probed, SCHEMA};

/// The largest expectations file read (a matrix of 1000 namespaces by
/// 1000 addresses as JSON is about 150 MiB; no lab worth a golden file
/// comes near).
const MAX_BYTES: u64 = 64 << 20;

/// One expected pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    pub from: String,
    pub to: IpAddr,
    pub reachable: bool,
}

/// An expectation the probes did not meet, and why, in one line.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Mismatch {
    pub from: String,
    pub to: String,
    pub expected: bool,
    /// What was found: `reachable`, `unreachable`, or why it could not
    /// be told.
    pub found: String,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let word = if self.expected {
            "reachable"
        } else {
            "unreachable"
        };
        write!(
            f,
            "{} -> {}: expected {word}, found {}",
            self.from, self.to, self.found
        )
    }
}

/// Reads the expectations in `path`: one-line errors naming the file and
/// the line (or the JSON entry) and what is wrong.
pub fn read(path: &Path) -> Result<Vec<Expected>, String> {
    let shown = path.display();
    let file = std::fs::File::open(path).map_err(|e| format!("expect file {shown}: {e}"))?;
    let mut bytes = Vec::new();
    file.take(MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("expect file {shown}: {e}"))?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(format!(
            "expect file {shown}: larger than {} MiB",
            MAX_BYTES >> 20
        ));
    }
    let text =
        std::str::from_utf8(&bytes).map_err(|_| format!("expect file {shown}: not UTF-8 text"))?;
    let list = if text.trim_start().starts_with('{') {
        from_json(text)
    } else {
        from_lines(text)
    }
    .map_err(|e| format!("expect file {shown}: {e}"))?;
    let mut seen: HashMap<(&str, IpAddr), bool> = HashMap::new();
    for e in &list {
        if let Some(r) = seen.insert((&e.from, e.to), e.reachable)
            && r != e.reachable
        {
            return Err(format!(
                "expect file {shown}: {} -> {} is expected both reachable and unreachable",
                e.from, e.to
            ));
        }
    }
    Ok(list)
}

fn yes_no(word: &str) -> Option<bool> {
    match word.to_ascii_lowercase().as_str() {
        "yes" | "reachable" | "true" | "ok" => Some(true),
        "no" | "unreachable" | "false" | "--" => Some(false),
        _ => None,
    }
}

/// Lines `FROM TO yes|no`; `#` starts a comment.
fn from_lines(text: &str) -> Result<Vec<Expected>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let [from, to, answer] = words[..] else {
            return Err(format!(
                "line {n}: expected `FROM TO yes|no`, found {} words",
                words.len()
            ));
        };
        let to: IpAddr = to
            .parse()
            .map_err(|_| format!("line {n}: {to:?} is not an IPv4 or IPv6 address"))?;
        let reachable =
            yes_no(answer).ok_or_else(|| format!("line {n}: {answer:?} is not yes or no"))?;
        out.push(Expected {
            from: from.to_string(),
            to,
            reachable,
        });
    }
    Ok(out)
}

/// `probe --json` output: each result that was told (no `error`).
fn from_json(text: &str) -> Result<Vec<Expected>, String> {
    let report: Probed = serde_json::from_str(text).map_err(|e| format!("not {SCHEMA}: {e}"))?;
    if report.schema != SCHEMA {
        return Err(format!(
            "schema {:?}; expected {SCHEMA}",
            crate::vocab::text::printable(&report.schema)
        ));
    }
    let mut out = Vec::new();
    for (i, r) in report.results.iter().enumerate() {
        if r.error.is_some() {
            continue;
        }
        let to: IpAddr = r.to.address.parse().map_err(|_| {
            format!(
                "results[{i}]: to.address {:?} is not an IPv4 or IPv6 address",
                crate::vocab::text::printable(&r.to.address)
            )
        })?;
        out.push(Expected {
            from: r.from.clone(),
            to,
            reachable: r.reachable,
        });
    }
    Ok(out)
}

#[cfg(test)]
pub fn read_str_for_tests(text: &str) -> Vec<Expected> {
    from_json(text).expect("well-formed")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_with_comments_and_words() {
        let list = from_lines(
            "# golden\n\nlab-ns1 172.16.10.6 no   # vepa\nlab-lan fd00::1 yes\nlab-lan 10.0.0.1 reachable\n",
        )
        .unwrap();
        assert_eq!(list.len(), 3);
        assert_eq!(list[0].from, "lab-ns1");
        assert!(!list[0].reachable);
        assert_eq!(list[1].to, "fd00::1".parse::<IpAddr>().unwrap());
        assert!(list[2].reachable);
    }

    #[test]
    fn a_bad_line_is_named() {
        assert_eq!(
            from_lines("a 10.0.0.1 yes\nb 10.0.0.x no\n").unwrap_err(),
            "line 2: \"10.0.0.x\" is not an IPv4 or IPv6 address"
        );
        assert_eq!(
            from_lines("a 10.0.0.1 maybe\n").unwrap_err(),
            "line 1: \"maybe\" is not yes or no"
        );
        assert!(from_lines("a 10.0.0.1\n").unwrap_err().contains("2 words"));
    }

    #[test]
    fn json_as_probe_prints_it() {
        let text = r#"{"schema":"netwasm.probe/1","lab":"t","timeout_ms":1000,"retries":1,
            "namespaces":["a","b"],"skipped":[],
            "targets":[{"ns":"b","link":"v1","address":"10.0.0.2"}],
            "results":[
              {"from":"a","to":{"ns":"b","link":"v1","address":"10.0.0.2"},"reachable":true,"rtt_ms":0.1,"error":null},
              {"from":"c","to":{"ns":"b","link":"v1","address":"10.0.0.2"},"reachable":false,"rtt_ms":null,"error":"EPERM"}
            ],
            "reachable":1,"probed":2}"#;
        let list = from_json(text).unwrap();
        assert_eq!(
            list,
            vec![Expected {
                from: "a".into(),
                to: "10.0.0.2".parse().unwrap(),
                reachable: true
            }]
        );
        assert!(
            from_json(&text.replace("netwasm.probe/1", "netwasm.show/1"))
                .unwrap_err()
                .contains("schema")
        );
    }
}
