//! `umha history`: the evacuation history, filtered by node and time.
//!
//! The file is append-only JSON lines written by the agent; a line that
//! does not parse (a disk filled mid-write, a hand edit) is counted and
//! skipped, never fatal: the rest of the history is what the operator
//! came for.

use std::io::{BufRead, BufReader};
use std::path::Path;

use chrono::DateTime;
use serde::Serialize;
use umha_evacuator::history::Entry;

use crate::CliError;
use crate::render::{self, Format};

/// A line longer than this is not one the agent wrote.
const MAX_LINE: usize = 64 << 10;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub node: Option<String>,
    /// Epoch seconds: entries at or after.
    pub since: Option<i64>,
}

impl Filter {
    fn keeps(&self, e: &Entry) -> bool {
        if let Some(node) = &self.node
            && e.node.as_deref() != Some(node.as_str())
        {
            return false;
        }
        match self.since {
            None => true,
            Some(since) => DateTime::parse_from_rfc3339(&e.time)
                .map(|t| t.timestamp() >= since)
                .unwrap_or(false),
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct History {
    pub file: String,
    pub entries: Vec<Entry>,
    /// Lines that were not history entries.
    pub malformed: usize,
}

pub fn read(path: &Path, filter: &Filter) -> Result<History, CliError> {
    let file = std::fs::File::open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            CliError::Invalid(format!(
                "no evacuation history at {}: the evacuator writes it on the controller where it runs, at its first incident (--file reads another)",
                path.display()
            ))
        } else {
            CliError::io(path, e)
        }
    })?;
    parse(BufReader::new(file), &path.display().to_string(), filter)
}

pub fn parse(reader: impl BufRead, name: &str, filter: &Filter) -> Result<History, CliError> {
    let mut entries = Vec::new();
    let mut malformed = 0;
    for line in reader.split(b'\n') {
        let line = line.map_err(|e| CliError::io(name, e))?;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let entry = (line.len() <= MAX_LINE)
            .then(|| serde_json::from_slice::<Entry>(&line).ok())
            .flatten();
        match entry {
            Some(e) if filter.keeps(&e) => entries.push(e),
            Some(_) => {}
            None => malformed += 1,
        }
    }
    Ok(History {
        file: name.to_owned(),
        entries,
        malformed,
    })
}

impl History {
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Json => render::json(self),
            Format::Xml => self.xml(),
            Format::Text => self.text(),
        }
    }

    fn text(&self) -> String {
        let rows: Vec<Vec<String>> = self
            .entries
            .iter()
            .map(|e| {
                let what = match (&e.instance_name, &e.instance) {
                    (Some(n), Some(id)) => format!("{n} ({id})"),
                    (None, Some(id)) => id.clone(),
                    _ => "-".to_owned(),
                };
                let mut message = e.message.clone();
                if e.dry_run && !message.starts_with("dry run") {
                    message.insert_str(0, "[dry run] ");
                }
                vec![
                    e.time.clone(),
                    render::or_dash(e.node.as_deref()),
                    e.event.clone(),
                    what,
                    message,
                ]
            })
            .collect();
        let mut out = render::table(&["TIME", "NODE", "EVENT", "INSTANCE", "MESSAGE"], &rows);
        if self.malformed > 0 {
            out.push_str(&format!(
                "warning: {} line(s) of {} are not history entries and were skipped\n",
                self.malformed, self.file
            ));
        }
        out
    }

    fn xml(&self) -> String {
        use render::{xml_close, xml_empty, xml_open};
        let mut out = String::from("<?xml version=\"1.0\"?>\n");
        out.push_str(&xml_open(
            0,
            "umha",
            &[("version", Some(env!("CARGO_PKG_VERSION").to_owned()))],
        ));
        out.push_str(&xml_open(
            1,
            "history",
            &[
                ("file", Some(self.file.clone())),
                ("malformed", Some(self.malformed.to_string())),
            ],
        ));
        for e in &self.entries {
            out.push_str(&xml_empty(
                2,
                "entry",
                &[
                    ("time", Some(e.time.clone())),
                    ("event", Some(e.event.clone())),
                    ("node", e.node.clone()),
                    ("host", e.host.clone()),
                    ("fence", e.fence.map(|f| f.to_string())),
                    ("instance", e.instance.clone()),
                    ("instance-name", e.instance_name.clone()),
                    ("dry-run", e.dry_run.then(|| "true".to_owned())),
                    ("message", Some(e.message.clone())),
                ],
            ));
        }
        out.push_str(&xml_close(1, "history"));
        out.push_str(&xml_close(0, "umha"));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINES: &str = r#"{"time":"2026-11-22T08:00:00.000Z","event":"approved","node":"cmp1","fence":1763798000,"message":"fenced: evacuating"}
not json
{"time":"2026-11-22T09:00:00.000Z","event":"evacuate","node":"cmp2","instance":"i-1","message":"accepted","dry_run":true}

{"time":"garbage","event":"x","node":"cmp2","message":"m"}
"#;

    #[test]
    fn filters_and_counts_malformed_lines() {
        let all = parse(LINES.as_bytes(), "h", &Filter::default()).unwrap();
        assert_eq!(all.entries.len(), 3);
        assert_eq!(all.malformed, 1);
        let cmp2 = Filter {
            node: Some("cmp2".into()),
            since: None,
        };
        assert_eq!(
            parse(LINES.as_bytes(), "h", &cmp2).unwrap().entries.len(),
            2
        );
        let since = Filter {
            node: None,
            since: DateTime::parse_from_rfc3339("2026-11-22T08:30:00Z")
                .ok()
                .map(|t| t.timestamp()),
        };
        let late = parse(LINES.as_bytes(), "h", &since).unwrap();
        assert_eq!(late.entries.len(), 1);
        assert!(late.entries[0].dry_run);
        assert!(late.render(Format::Text).contains("[dry run] accepted"));
    }
}
