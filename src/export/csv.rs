//! RFC 4180 writing with formula-injection defence for text that users typed.

/// A cell: `Text` came from users (names, codes) and is defended against spreadsheet
/// formulas; `Plain` is produced by Tally (dates, money, enums) and written as is.
pub enum Cell<'a> {
    Text(&'a str),
    Plain(&'a str),
}

/// Appends one CRLF-terminated row.
pub fn write_row<'a>(out: &mut String, cells: impl IntoIterator<Item = Cell<'a>>) {
    for (i, cell) in cells.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
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
    out.push_str("\r\n");
}

fn quote(out: &mut String, value: &str) {
    if value.contains([',', '"', '\r', '\n']) {
        out.push('"');
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(value);
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
        let mut out = String::new();
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
        assert_eq!(out, "\"'=HYPERLINK(\"\"x\"\")\",\"a,b\",'-1,-,\"line\nbreak\"\r\n");
        let mut out = String::new();
        write_row(&mut out, [Cell::Text("\tx"), Cell::Text("@sum"), Cell::Text("+1"), Cell::Text("plain")]);
        assert_eq!(out, "'\tx,'@sum,'+1,plain\r\n");
    }

    #[test]
    fn file_names_are_slugs() {
        assert_eq!(file_slug("Spring Glow 2026!"), "spring-glow-2026");
        assert_eq!(file_slug("***"), "campaign");
    }
}
