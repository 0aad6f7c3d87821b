//! Error messages on screen. Engine errors are often several lines: a preamble naming what failed
//! ("render failed: app `kv`: helm template failed for chart c:"), then the cause on the next line
//! ("Error: chart requires kubeVersion ..."), then indented fix lines. Showing only the first line
//! hides the one part the operator needs, so tables get a one-line summary that ends with the
//! cause, and the detail header wraps the whole message.

/// The message as one line of at most `width` characters that ends with the cause: the text
/// lines joined (indented fix/hint lines left out); when too long, the start of the preamble up
/// to its first `: `, then `…`, then as much of the end as fits.
pub fn summary(message: &str, width: usize) -> String {
    let text: Vec<&str> = message
        .lines()
        .filter(|l| !l.starts_with(char::is_whitespace))
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let joined = if text.is_empty() {
        message.split_whitespace().collect::<Vec<_>>().join(" ")
    } else {
        text.join(" ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    let chars: Vec<char> = joined.chars().collect();
    if chars.len() <= width {
        return joined;
    }
    if width == 0 {
        return String::new();
    }
    // Keep what failed ("render failed") when it leaves most of the room to the cause.
    let head: String = match joined.find(": ") {
        Some(i) if joined[..i].chars().count() + 2 <= width / 3 => format!("{}: ", &joined[..i]),
        _ => String::new(),
    };
    let room = width.saturating_sub(head.chars().count() + 1);
    let start = chars.len() - room;
    let tail: String = chars[start..].iter().collect();
    // Start the tail at a word when one begins close by, rather than mid-word.
    let mid_word = start > 0 && chars[start - 1] != ' ';
    let tail = match tail.find(' ') {
        Some(i) if mid_word && i < room / 4 => tail[i + 1..].to_string(),
        _ => tail.trim_start().to_string(),
    };
    format!("{head}…{tail}")
}

/// Every line of the message wrapped to `width` columns (continuation lines keep the original
/// line's indentation), for a header or pane that shows the whole text.
pub fn wrap(message: &str, width: usize) -> Vec<String> {
    let width = width.max(8);
    let mut out = Vec::new();
    for line in message.lines() {
        let indent: String = line.chars().take_while(|c| c.is_whitespace()).collect();
        let mut current = String::new();
        for word in line.split_whitespace() {
            let len = current.chars().count();
            let wlen = word.chars().count();
            if len > 0 && len + 1 + wlen > width {
                out.push(std::mem::take(&mut current));
            }
            if current.is_empty() {
                current.push_str(&indent);
            } else {
                current.push(' ');
            }
            // A word longer than a line (a URL, a path) is cut into line-sized pieces.
            let mut rest: Vec<char> = word.chars().collect();
            while current.chars().count() + rest.len() > width {
                let fit = width.saturating_sub(current.chars().count()).max(1);
                let piece: String = rest.drain(..fit.min(rest.len())).collect();
                current.push_str(&piece);
                out.push(std::mem::take(&mut current));
                current.push_str(&indent);
            }
            current.extend(rest);
        }
        if !current.trim().is_empty() || line.trim().is_empty() {
            out.push(current);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const HELM: &str = "render failed: app `kv`: helm template failed for chart c:\nError: chart requires kubeVersion: >=1.40.0-0 which is incompatible with Kubernetes v1.36.3";

    #[test]
    fn summary_ends_with_the_cause() {
        let s = summary(HELM, 200);
        assert!(s.starts_with("render failed: app `kv`"), "{s}");
        assert!(s.ends_with("incompatible with Kubernetes v1.36.3"), "{s}");
        assert!(!s.contains('\n'));
        let s = summary(HELM, 60);
        assert!(s.chars().count() <= 60, "{s}");
        assert!(s.starts_with("render failed: …"), "{s}");
        assert!(s.ends_with("incompatible with Kubernetes v1.36.3"), "{s}");
    }

    #[test]
    fn summary_leaves_out_fix_lines() {
        let m = "cluster c unreachable: connection refused\n  check the kubeconfig context";
        assert_eq!(summary(m, 100), "cluster c unreachable: connection refused");
        assert_eq!(summary("short", 3), "…rt");
        // A tail that starts at a word keeps it; one that starts mid-word skips to the next.
        assert_eq!(
            summary("values.yaml:12:3: mapping values are not allowed here", 21),
            "…are not allowed here"
        );
        assert_eq!(
            summary("values.yaml:12:3: mapping values are not allowed here", 22),
            "…are not allowed here"
        );
        assert_eq!(summary("x", 0), "");
    }

    #[test]
    fn wrap_keeps_every_word_and_indentation() {
        let lines = wrap(HELM, 40);
        assert!(lines.iter().all(|l| l.chars().count() <= 40), "{lines:?}");
        let words = |s: &str| s.split_whitespace().map(str::to_string).collect::<Vec<_>>();
        assert_eq!(words(&lines.join(" ")), words(HELM));
        let fix = wrap("failed\n  fix: run the very long command here", 20);
        assert_eq!(fix[0], "failed");
        assert!(fix[1..].iter().all(|l| l.starts_with("  ")), "{fix:?}");
        let long = wrap(
            "see https://example.com/a/very/long/path/without/spaces",
            16,
        );
        assert!(long.iter().all(|l| l.chars().count() <= 16), "{long:?}");
    }
}
