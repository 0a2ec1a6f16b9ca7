//! Escaping of user-provided text (target names, profile text, warnings, settings) for every output
//! format. Everything that did not come from this crate's own string literals goes through here.

/// Escapes text for HTML element content and for attribute values (double- or single-quoted).
pub fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters other than tab and newline have no business in a report.
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Escapes text for Markdown, inline (a paragraph, a list item or a table cell): the characters
/// that format or link (`\\ ` * _ [ ] | ~`) are backslash-escaped everywhere, those that only
/// act at the start of a line (`#`, `-`, `+`, `=`, `>`, `1.`) where the value starts, HTML is
/// neutralised (renderers pass raw HTML through), and newlines become spaces so that a value can
/// never end a table row or start a block. Figures such as `16,931 (16,492–17,268)` stay readable.
pub fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    // Block markers act only at the start of a line and only when followed by a space or the end:
    // `# h`, `- x`, `+ x`, `12. x`, `1) x`; a value made only of `-` or `=` is a rule or a setext
    // underline.
    let spaced = |rest: &str| rest.is_empty() || rest.starts_with(char::is_whitespace);
    let digits: String = s.chars().take_while(|c| c.is_ascii_digit()).collect();
    let ordered = !digits.is_empty()
        && matches!(s[digits.len()..].chars().next(), Some('.' | ')'))
        && spaced(&s[digits.len() + 1..]);
    let trimmed = s.trim();
    let rule_line = !trimmed.is_empty()
        && (trimmed.chars().all(|c| c == '-' || c == ' ')
            || trimmed.chars().all(|c| c == '=' || c == ' '));
    let mut first = true;
    let mut pos = 0;
    for c in s.chars() {
        let marker = if first {
            match c {
                '#' => true,
                '-' | '+' => spaced(&s[1..]) || rule_line,
                '=' => rule_line,
                _ => false,
            }
        } else {
            ordered && pos == digits.len()
        };
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' => {
                out.push('\\');
                out.push(c);
            }
            // `http://…` would become a link in GitHub's Markdown (autolinks): break the scheme.
            ':' if s[pos..].starts_with("://") => out.push_str("\\:"),
            '#' | '-' | '+' | '=' | '.' | ')' if marker => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\r' | '\n' => out.push(' '),
            c if c.is_control() && c != '\t' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
        first = false;
        pos += c.len_utf8();
    }
    out
}

/// A value for an HTML `id` or URL fragment: ASCII letters, digits and `-` only; anything else
/// becomes `-` followed by its code point, so distinct inputs stay distinct.
pub fn id(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if c == '-' {
            out.push('-');
        } else {
            out.push_str(&format!("_{:x}", c as u32));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escapes_markup_and_quotes() {
        assert_eq!(
            html(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
        assert_eq!(html("a\u{0}b"), "a\u{FFFD}b");
        assert_eq!(html("plain µs – text"), "plain µs – text");
    }

    #[test]
    fn md_escapes_control_characters_and_html() {
        let e = md("a|b *c* _d_ `e`\nf <script>");
        assert_eq!(e, r"a\|b \*c\* \_d\_ \`e\` f &lt;script&gt;");
        assert!(!e.contains('\n'));
        // A value can never start a heading, a list or a link.
        assert_eq!(md("# h"), r"\# h");
        assert_eq!(md("- x"), r"\- x");
        assert_eq!(md("12. x"), r"12\. x");
        assert_eq!(md("1) x"), r"1\) x");
        assert_eq!(md("==="), r"\===");
        assert_eq!(md("---"), r"\---");
        // Not markers: versions, negative numbers, hyphenated names.
        assert_eq!(md("6.1.0-fixture"), "6.1.0-fixture");
        assert_eq!(md("-3.5%"), "-3.5%");
        assert_eq!(md("node-http"), "node-http");
        assert_eq!(md("[x](http://e)"), r"\[x\](http\://e)");
        // Figures stay readable.
        assert_eq!(
            md("16,931 (16,492–17,268) node-http 1.5"),
            "16,931 (16,492–17,268) node-http 1.5"
        );
    }

    #[test]
    fn ids_are_safe_and_distinct() {
        assert_eq!(id("node-http"), "node-http");
        assert_eq!(id("io slo"), "io_20slo");
        assert_ne!(id("a b"), id("a_b"));
        assert!(id("<script>\"")
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'));
    }
}
