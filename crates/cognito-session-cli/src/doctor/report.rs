//! The doctor's findings: one line per check, printed as text or JSON, and the exit status.

use serde_json::{json, Value};

/// How a check came out. INFO is a fact worth knowing that needs no change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Ok,
    Info,
    Warn,
    Fail,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Info => "INFO",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
        }
    }

    /// `ok`, `info`, `warn` or `fail`, as in the JSON report.
    pub fn json(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Info => "info",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }
}

/// One finding.
#[derive(Debug, Clone)]
pub struct Check {
    /// Stable, machine-readable: `table.key_schema`.
    pub code: &'static str,
    pub status: Status,
    /// What was found.
    pub message: String,
    /// What to change (none for OK and most INFO lines).
    pub fix: Option<String>,
}

/// Every finding so far, and whether AWS can still be asked.
#[derive(Debug, Default)]
pub struct Report {
    pub checks: Vec<Check>,
    /// AWS could not be reached or refused the credentials: one FAIL said so; the other AWS
    /// checks are not tried.
    pub aws_down: bool,
}

impl Report {
    fn push(&mut self, code: &'static str, status: Status, message: String, fix: Option<String>) {
        self.checks.push(Check {
            code,
            status,
            message,
            fix,
        });
    }

    pub fn ok(&mut self, code: &'static str, message: impl Into<String>) {
        self.push(code, Status::Ok, message.into(), None);
    }

    pub fn info(&mut self, code: &'static str, message: impl Into<String>) {
        self.push(code, Status::Info, message.into(), None);
    }

    pub fn warn(&mut self, code: &'static str, message: impl Into<String>, fix: impl Into<String>) {
        self.push(code, Status::Warn, message.into(), Some(fix.into()));
    }

    pub fn fail(&mut self, code: &'static str, message: impl Into<String>, fix: impl Into<String>) {
        self.push(code, Status::Fail, message.into(), Some(fix.into()));
    }

    /// The worst status found.
    pub fn worst(&self) -> Status {
        self.checks
            .iter()
            .map(|c| c.status)
            .max()
            .unwrap_or(Status::Ok)
    }

    /// 0 all OK/INFO, 1 warnings, 2 failures.
    pub fn exit_code(&self) -> u8 {
        match self.worst() {
            Status::Ok | Status::Info => 0,
            Status::Warn => 1,
            Status::Fail => 2,
        }
    }

    fn count(&self, status: Status) -> usize {
        self.checks.iter().filter(|c| c.status == status).count()
    }

    /// `2 failures, 1 warning`.
    pub fn summary_line(&self) -> String {
        let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
        format!(
            "{}, {}",
            plural(self.count(Status::Fail), "failure"),
            plural(self.count(Status::Warn), "warning")
        )
    }

    /// The report as JSON.
    pub fn to_json(&self) -> Value {
        json!({
            "status": self.worst().json(),
            "summary": {
                "ok": self.count(Status::Ok),
                "info": self.count(Status::Info),
                "warn": self.count(Status::Warn),
                "fail": self.count(Status::Fail),
            },
            "checks": self.checks.iter().map(|c| {
                let mut line = json!({
                    "check": c.code.split('.').next().unwrap_or(c.code),
                    "code": c.code,
                    "status": c.status.json(),
                    "message": c.message,
                });
                if let (Some(fix), Some(object)) = (&c.fix, line.as_object_mut()) {
                    object.insert("fix".into(), Value::String(fix.clone()));
                }
                line
            }).collect::<Vec<_>>(),
        })
    }

    /// Prints the report on stdout: JSON, or one line per check (and its fix) for a person.
    pub fn print(&self, json: bool) {
        if json {
            crate::output::print(&self.to_json());
            return;
        }
        let width = self.checks.iter().map(|c| c.code.len()).max().unwrap_or(0);
        for check in &self.checks {
            println!(
                "{:<4}  {:<width$}  {}",
                check.status.label(),
                check.code,
                check.message
            );
            if let Some(fix) = &check.fix {
                println!("{:<4}  {:<width$}  fix: {fix}", "", "");
            }
        }
        println!("{}", self.summary_line());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_status_sets_the_exit_code() {
        let mut report = Report::default();
        assert_eq!(report.exit_code(), 0);
        report.ok("a.b", "fine");
        report.info("a.c", "a fact");
        assert_eq!(report.exit_code(), 0);
        report.warn("a.d", "hm", "do this");
        assert_eq!(report.exit_code(), 1);
        report.fail("a.e", "bad", "do that");
        report.ok("a.f", "fine");
        assert_eq!(report.exit_code(), 2);
        assert_eq!(report.summary_line(), "1 failure, 1 warning");
        let json = report.to_json();
        assert_eq!(json["status"], "fail");
        assert_eq!(json["checks"][3]["code"], "a.e");
        assert_eq!(json["checks"][3]["check"], "a");
        assert_eq!(json["checks"][3]["fix"], "do that");
        assert!(json["checks"][0].get("fix").is_none());
    }
}
