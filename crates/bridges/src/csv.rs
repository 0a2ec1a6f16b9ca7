//! [`Table`]: a CSV file as Locust writes it (RFC 4180: a header line, comma-separated fields,
//! `"`-quoted fields with `""` for a quote), read by column name, every error naming the file,
//! line and column.

use std::path::Path;

use crate::Error;

/// A CSV file: its header and rows (each row with the line it started on).
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub path: String,
    pub header: Vec<String>,
    pub rows: Vec<(usize, Vec<String>)>,
}

impl Table {
    pub fn read(path: &Path) -> Result<Table, Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::new(format!("{}: {e}", path.display())))?;
        Table::parse(&path.display().to_string(), &text)
    }

    pub fn parse(path: &str, text: &str) -> Result<Table, Error> {
        let mut records = Vec::new();
        let mut field = String::new();
        let mut record = Vec::new();
        let mut line = 1;
        let mut start = 1;
        let mut quoted = false;
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match (quoted, c) {
                (true, '"') if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                (true, '"') => quoted = false,
                (true, c) => {
                    if c == '\n' {
                        line += 1;
                    }
                    field.push(c);
                }
                (false, '"') if field.is_empty() => quoted = true,
                (false, ',') => record.push(std::mem::take(&mut field)),
                (false, '\r') => {}
                (false, '\n') => {
                    record.push(std::mem::take(&mut field));
                    records.push((start, std::mem::take(&mut record)));
                    line += 1;
                    start = line;
                }
                (false, c) => field.push(c),
            }
        }
        if quoted {
            return Err(Error::new(format!(
                "{path}: line {start}: a quoted field is not closed"
            )));
        }
        if !field.is_empty() || !record.is_empty() {
            record.push(field);
            records.push((start, record));
        }
        let mut it = records.into_iter();
        let (_, header) = it
            .next()
            .ok_or_else(|| Error::new(format!("{path}: empty (no header line)")))?;
        let rows: Vec<(usize, Vec<String>)> = it.filter(|(_, r)| r != &[""]).collect();
        for (l, r) in &rows {
            if r.len() != header.len() {
                return Err(Error::new(format!(
                    "{path}: line {l}: {} fields, the header has {}",
                    r.len(),
                    header.len()
                )));
            }
        }
        Ok(Table {
            path: path.to_string(),
            header,
            rows,
        })
    }

    fn col(&self, name: &str) -> Result<usize, Error> {
        self.header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| Error::new(format!("{}: no column {name:?} in the header", self.path)))
    }

    /// The text of a row's field.
    pub fn get(&self, row: usize, name: &str) -> Result<&str, Error> {
        let c = self.col(name)?;
        Ok(&self.rows[row].1[c])
    }

    /// A row's field as a number; `None` for Locust's `N/A` or an empty field.
    pub fn num(&self, row: usize, name: &str) -> Result<Option<f64>, Error> {
        let v = self.get(row, name)?.trim();
        if v.is_empty() || v == "N/A" {
            return Ok(None);
        }
        v.parse::<f64>().map(Some).map_err(|_| {
            Error::new(format!(
                "{}: line {}: column {name:?}: {v:?} is not a number",
                self.path, self.rows[row].0
            ))
        })
    }

    /// The first row whose column `name` equals `value`.
    pub fn row_where(&self, name: &str, value: &str) -> Result<Option<usize>, Error> {
        let c = self.col(name)?;
        Ok(self.rows.iter().position(|(_, r)| r[c] == value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_fields_and_errors_name_the_line() {
        let t = Table::parse("f.csv", "a,b\r\n1,\"x, \"\"y\"\"\"\n2,N/A\n").unwrap();
        assert_eq!(t.get(0, "b").unwrap(), "x, \"y\"");
        assert_eq!(t.num(1, "b").unwrap(), None);
        assert_eq!(t.num(1, "a").unwrap(), Some(2.0));
        let e = t.num(0, "b").unwrap_err().to_string();
        assert!(e.contains("f.csv: line 2") && e.contains("\"b\""), "{e}");
        let e = Table::parse("g.csv", "a,b\n1\n").unwrap_err().to_string();
        assert!(e.contains("g.csv: line 2: 1 fields"), "{e}");
        assert!(t
            .get(0, "c")
            .unwrap_err()
            .to_string()
            .contains("no column \"c\""));
    }
}
