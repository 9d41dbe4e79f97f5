//! Name patterns: `*` matches any run of characters, `?` any one.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    pattern: String,
    /// Matches the pattern's text only: `*` and `?` are themselves.
    literal: bool,
}

impl Glob {
    pub fn new(pattern: &str) -> Self {
        Self {
            pattern: pattern.to_string(),
            literal: false,
        }
    }

    /// A pattern that matches `text` only, whatever characters it holds
    /// (a name the host was handed, not one a policy file wrote).
    pub fn literal(text: &str) -> Self {
        Self {
            pattern: text.to_string(),
            literal: true,
        }
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    pub fn matches(&self, text: &str) -> bool {
        if self.literal {
            return self.pattern == text;
        }
        let p: Vec<char> = self.pattern.chars().collect();
        let t: Vec<char> = text.chars().collect();
        // Iterative matcher with one backtrack point: linear in practice,
        // never exponential on hostile patterns.
        let (mut pi, mut ti) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while ti < t.len() {
            if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
                pi += 1;
                ti += 1;
            } else if pi < p.len() && p[pi] == '*' {
                star = Some((pi, ti));
                pi += 1;
            } else if let Some((sp, st)) = star {
                pi = sp + 1;
                ti = st + 1;
                star = Some((sp, st + 1));
            } else {
                return false;
            }
        }
        p[pi..].iter().all(|c| *c == '*')
    }
}

impl fmt::Display for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.pattern)
    }
}

#[cfg(test)]
mod tests {
    use super::Glob;

    #[test]
    fn matching() {
        assert!(Glob::new("*").matches(""));
        assert!(Glob::new("lab-*").matches("lab-ns1"));
        assert!(!Glob::new("lab-*").matches("prod-ns1"));
        assert!(Glob::new("a?c").matches("abc"));
        assert!(Glob::new("*-ns*").matches("x-ns-ns2"));
        assert!(!Glob::new("exact").matches("exactly"));
        assert!(Glob::new("link.*").matches("link.add-veth"));
    }
}
