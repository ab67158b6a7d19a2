//! Redis-style glob matching, for the in-memory bus's `SCAN MATCH` and `PSUBSCRIBE`.

/// Whether `text` matches the Redis glob `pattern`: `*` (any run), `?` (one character),
/// `[abc]`, `[a-z]`, `[^a]` (classes), `\x` (a literal `x`).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    // Where to resume after the last `*`: (pattern index after it, text index it matched up to).
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi + 1, ti));
                    pi += 1;
                    continue;
                }
                '?' => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                '[' => {
                    if let Some((matched, next)) = class_match(&p, pi, t[ti])
                        && matched
                    {
                        pi = next;
                        ti += 1;
                        continue;
                    }
                }
                '\\' if pi + 1 < p.len() => {
                    if p[pi + 1] == t[ti] {
                        pi += 2;
                        ti += 1;
                        continue;
                    }
                }
                c => {
                    if c == t[ti] {
                        pi += 1;
                        ti += 1;
                        continue;
                    }
                }
            }
        }
        // Mismatch: let the last `*` swallow one more character, or fail.
        match star {
            Some((after, matched_to)) => {
                pi = after;
                ti = matched_to + 1;
                star = Some((after, matched_to + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Matches `c` against the class starting at `p[start] == '['`. Returns whether it matched and the
/// index after the class, or `None` for an unterminated class (then `[` is a literal, as in Redis).
fn class_match(p: &[char], start: usize, c: char) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negate = matches!(p.get(i), Some('^' | '!'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    while i < p.len() {
        let ch = p[i];
        if ch == ']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        if ch == '\\' && i + 1 < p.len() {
            matched |= p[i + 1] == c;
            i += 2;
        } else if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
            let (lo, hi) = if ch <= p[i + 2] {
                (ch, p[i + 2])
            } else {
                (p[i + 2], ch)
            };
            matched |= (lo..=hi).contains(&c);
            i += 3;
        } else {
            matched |= ch == c;
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn contract_patterns() {
        assert!(glob_match("source:*", "source:co2:office:co2"));
        assert!(glob_match("source:system:*", "source:system:cpu_percent"));
        assert!(!glob_match("source:system:*", "source:systemd:x"));
        assert!(glob_match("cmd:*:response:*", "cmd:sensors:response:abc"));
        assert!(!glob_match("cmd:*:response:*", "cmd:sensors"));
        assert!(glob_match("data:*", "data:"));
    }

    #[test]
    fn wildcards_classes_and_escapes() {
        assert!(glob_match("h?llo", "hello") && !glob_match("h?llo", "hllo"));
        assert!(glob_match("h[ae]llo", "hallo") && !glob_match("h[ae]llo", "hillo"));
        assert!(glob_match("h[^e]llo", "hallo") && !glob_match("h[^e]llo", "hello"));
        assert!(glob_match("v[0-9]", "v7") && !glob_match("v[0-9]", "vx"));
        assert!(glob_match("a\\*b", "a*b") && !glob_match("a\\*b", "axb"));
        assert!(glob_match("*a*b*c*", "xxaxxbxxcxx"));
        assert!(!glob_match("*a*b*c*", "xxaxxcxxbxx"));
        assert!(glob_match("", "") && !glob_match("", "x") && glob_match("*", ""));
        assert!(glob_match("é*", "été"));
    }
}
