//! The one table every section adds rows to, the machine it ran on, and the generated part of
//! `docs/benchmarks.md`.

use anyhow::Context;
use std::{fmt::Write as _, path::Path, process::Command};

/// Whether a figure is better large (throughput) or small (latency, time, size).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
}

/// One measured figure next to its ceiling from the same run.
#[derive(Debug, Clone)]
pub struct Row {
    pub area: String,
    pub figure: String,
    pub measured: f64,
    pub ceiling: f64,
    /// What the ceiling is, in a few words.
    pub ceiling_is: String,
    pub better: Better,
}

impl Row {
    pub fn new(area: &str, figure: &str, measured: f64, ceiling: f64, ceiling_is: &str, better: Better) -> Self {
        Self { area: area.into(), figure: figure.into(), measured, ceiling, ceiling_is: ceiling_is.into(), better }
    }

    /// How close the figure is to its ceiling: 1.0 is at the ceiling, lower is worse, whichever way the figure
    /// grows. Above 1.0 the figure beat its ceiling (a budget left over, or noise).
    pub fn ratio(&self) -> f64 {
        match self.better {
            Better::Higher => self.measured / self.ceiling,
            Better::Lower => self.ceiling / self.measured,
        }
    }
}

/// Everything a run found: the rows and the notes that go under the table (checks, settings).
#[derive(Debug, Default)]
pub struct Report {
    pub rows: Vec<Row>,
    pub notes: Vec<String>,
}

fn number(value: f64) -> String {
    if !value.is_finite() {
        return "n/a".into();
    }
    let magnitude = value.abs();
    let text = if magnitude >= 1000.0 {
        format!("{value:.0}")
    } else if magnitude >= 100.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    };
    // Thousands separators on the integer part keep 6-digit rates readable.
    let (integer, fraction) = text.split_once('.').map_or((text.as_str(), None), |(i, f)| (i, Some(f)));
    let (sign, digits) = integer.strip_prefix('-').map_or(("", integer), |d| ("-", d));
    let mut grouped = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    match fraction {
        Some(fraction) => format!("{sign}{grouped}.{fraction}"),
        None => format!("{sign}{grouped}"),
    }
}

impl Report {
    pub fn add(&mut self, row: Row) {
        self.rows.push(row);
    }

    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    /// The table as Markdown (it reads fine in a terminal too).
    pub fn table(&self) -> String {
        let header = ["area", "figure", "measured", "ceiling", "ratio", "the ceiling is"];
        let cells: Vec<[String; 6]> = self
            .rows
            .iter()
            .map(|row| {
                let ratio = row.ratio();
                let flag = if ratio < 0.5 { " ⚠" } else { "" };
                [
                    row.area.clone(),
                    row.figure.clone(),
                    number(row.measured),
                    number(row.ceiling),
                    format!("{ratio:.2}{flag}"),
                    row.ceiling_is.clone(),
                ]
            })
            .collect();
        let widths: Vec<usize> = (0..header.len())
            .map(|column| {
                cells.iter().map(|row| row[column].chars().count()).chain([header[column].len()]).max().unwrap_or(0)
            })
            .collect();
        let right = [false, false, true, true, true, false];
        let line = |values: &[String]| {
            let padded: Vec<String> = values
                .iter()
                .zip(&widths)
                .zip(right)
                .map(|((value, width), right)| {
                    let pad = " ".repeat(width - value.chars().count());
                    if right {
                        format!("{pad}{value}")
                    } else {
                        format!("{value}{pad}")
                    }
                })
                .collect();
            format!("| {} |", padded.join(" | "))
        };
        let mut out = line(&header.map(String::from));
        out.push('\n');
        let rule: Vec<String> = widths
            .iter()
            .zip(right)
            .map(|(w, right)| if right { format!("{}:", "-".repeat(w - 1)) } else { "-".repeat(*w) })
            .collect();
        out.push_str(&format!("| {} |\n", rule.join(" | ")));
        for row in &cells {
            out.push_str(&line(row));
            out.push('\n');
        }
        out
    }

    /// The table, the notes and the machine, as the generated block of `docs/benchmarks.md`.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Run on {} at commit `{}`.\n",
            chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
            command_line("git", &["rev-parse", "--short", "HEAD"])
        );
        out.push_str(&self.table());
        out.push('\n');
        for note in &self.notes {
            let _ = writeln!(out, "- {note}");
        }
        out.push_str("\nThe machine:\n\n```text\n");
        out.push_str(&machine());
        out.push_str("```\n");
        out
    }
}

fn command_line(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| String::from_utf8_lossy(&output.stdout).trim_end().to_string())
        .unwrap_or_else(|| format!("({program} unavailable)"))
}

/// CPU, memory, kernel and compiler of this machine, from `lscpu`, `free`, `uname` and `rustc`.
pub fn machine() -> String {
    let lscpu = command_line("lscpu", &[]);
    let wanted = [
        "Architecture:",
        "Model name:",
        "CPU(s):",
        "Thread(s) per core:",
        "CPU max MHz:",
        "L3 cache:",
        "Hypervisor vendor:",
    ];
    let mut out: String = lscpu
        .lines()
        .filter(|line| wanted.iter().any(|key| line.trim_start().starts_with(key)))
        .map(|line| format!("{}\n", line.trim()))
        .collect();
    for line in command_line("free", &["-h"]).lines().take(2) {
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(out, "kernel: {}", command_line("uname", &["-sr"]));
    let _ = writeln!(out, "{}", command_line("rustc", &["-V"]));
    out
}

const BEGIN: &str =
    "<!-- bench:begin (generated by `scripts/bench.sh --write docs/benchmarks.md`; edit outside these markers) -->";
const END: &str = "<!-- bench:end -->";

/// Replaces the generated block of `path` (between the markers) and keeps the hand-written text around it;
/// a file without markers gets the block appended.
pub fn write_into(path: &Path, generated: &str) -> anyhow::Result<()> {
    let existing = std::fs::read_to_string(path).unwrap_or_default();
    let block = format!("{BEGIN}\n{generated}{END}");
    let updated = match (existing.find("<!-- bench:begin"), existing.find(END)) {
        (Some(begin), Some(end)) if begin < end => {
            format!("{}{block}{}", &existing[..begin], &existing[end + END.len()..])
        }
        _ if existing.is_empty() => format!("# Benchmarks\n\n{block}\n"),
        _ => format!("{}\n{block}\n", existing.trim_end()),
    };
    std::fs::write(path, updated).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped_and_rounded_by_size() {
        assert_eq!(number(123_456.7), "123,457");
        assert_eq!(number(-1234.0), "-1,234");
        assert_eq!(number(456.78), "456.8");
        assert_eq!(number(7.5), "7.50");
        assert_eq!(number(f64::NAN), "n/a");
    }

    #[test]
    fn writing_replaces_only_the_generated_block() {
        let path = std::env::temp_dir().join(format!("bench-doc-{}.md", std::process::id()));
        std::fs::write(&path, format!("# Title\n\nintro\n\n{BEGIN}\nold table\n{END}\n\n## Notes\nkept\n")).unwrap();
        write_into(&path, "new table\n").unwrap();
        let written = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(written, format!("# Title\n\nintro\n\n{BEGIN}\nnew table\n{END}\n\n## Notes\nkept\n"));
    }

    #[test]
    fn ratios_are_higher_is_better_both_ways() {
        assert_eq!(Row::new("a", "rate", 50.0, 100.0, "x", Better::Higher).ratio(), 0.5);
        assert_eq!(Row::new("a", "p99", 4.0, 1.0, "x", Better::Lower).ratio(), 0.25);
    }
}
