//! RFC 4180 writing with formula-injection defence for text that users typed.

/// A cell: `Text` came from users (names, codes) and is defended against spreadsheet
/// formulas; `Plain` is produced by Tally (dates, money, enums) and written as is.
pub enum Cell<'a> {
    Text(&'a str),
    Plain(&'a str),
}

/// Appends one CRLF-terminated row.
pub fn write_row<'a>(out: &mut Vec<u8>, cells: impl IntoIterator<Item = Cell<'a>>) {
    for (i, cell) in cells.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        match cell {
            Cell::Text(t) => {
                let risky = t.starts_with(['=', '+', '-', '@', '\t', '\r']);
                if risky {
                    quote(out, &format!("'{t}"));
                } else {
                    quote(out, t);
                }
            }
            Cell::Plain(t) => quote(out, t),
        }
    }
    out.extend_from_slice(b"\r\n");
}

fn quote(out: &mut Vec<u8>, value: &str) {
    if value.bytes().any(|b| matches!(b, b',' | b'"' | b'\r' | b'\n')) {
        out.push(b'"');
        out.extend_from_slice(value.replace('"', "\"\"").as_bytes());
        out.push(b'"');
    } else {
        out.extend_from_slice(value.as_bytes());
    }
}

/// A file-name-safe form of a campaign name.
pub fn file_slug(name: &str) -> String {
    let slug: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    let trimmed: Vec<&str> = slug.split('-').filter(|s| !s.is_empty()).collect();
    if trimmed.is_empty() { "campaign".to_string() } else { trimmed.join("-") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_quoted_and_formulas_defused() {
        let mut out = Vec::new();
        write_row(
            &mut out,
            [
                Cell::Text("=HYPERLINK(\"x\")"),
                Cell::Text("a,b"),
                Cell::Text("-1"),
                Cell::Plain("-"),
                Cell::Text("line\nbreak"),
            ],
        );
        assert_eq!(String::from_utf8(out).unwrap(), "\"'=HYPERLINK(\"\"x\"\")\",\"a,b\",'-1,-,\"line\nbreak\"\r\n");
        let mut out = Vec::new();
        write_row(&mut out, [Cell::Text("\tx"), Cell::Text("@sum"), Cell::Text("+1"), Cell::Text("plain")]);
        assert_eq!(String::from_utf8(out).unwrap(), "'\tx,'@sum,'+1,plain\r\n");
    }

    #[test]
    fn file_names_are_slugs() {
        assert_eq!(file_slug("Spring Glow 2026!"), "spring-glow-2026");
        assert_eq!(file_slug("***"), "campaign");
    }
}
