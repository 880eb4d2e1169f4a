//! Log capture for tests: a tracing subscriber writing into memory, for asserting log lines.

use std::io::Write;
use std::sync::{Arc, Mutex};

use tracing::Level;

/// What the code under test logged while [`Capture::install`]'s guard lived (this thread).
#[derive(Clone, Default)]
pub struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    /// Captures every line at `level` and above until the guard is dropped.
    pub fn install(&self, level: Level) -> tracing::subscriber::DefaultGuard {
        let writer = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(level)
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    /// Everything captured so far.
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }

    /// Everything at TRACE and above, captured until the guard is dropped.
    pub fn start() -> (Capture, tracing::subscriber::DefaultGuard) {
        let capture = Capture::default();
        let guard = capture.install(Level::TRACE);
        (capture, guard)
    }

    /// The captured lines of this crate at `level` (`ERROR`, `WARN`, ...).
    pub fn lines(&self, level: &str) -> Vec<String> {
        self.text()
            .lines()
            .filter(|l| l.contains(level) && l.contains("cognito_session"))
            .map(str::to_owned)
            .collect()
    }

    /// The WARN lines.
    pub fn warnings(&self) -> Vec<String> {
        self.text()
            .lines()
            .filter(|l| l.contains(" WARN "))
            .map(str::to_owned)
            .collect()
    }
}
