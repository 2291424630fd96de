//! The phases of a run as the log, the spinner and the manifest's `stage_seconds` see them.

use crate::progress::Progress;
use std::collections::BTreeMap;
use std::time::Instant;

/// The stages a run reports, in order: name (logs, manifest) and what the spinner says.
const STAGES: [(&str, &str); 6] = [
    ("ingest_customers", "reading customers"),
    ("identity", "identity resolution"),
    ("execute", "reading every input and building the profile"),
    ("models", "models"),
    ("score", "segments, lifecycle, tags, summaries"),
    ("write", "quality gates, writing"),
];

/// Times the stages: one `stage finished` event each (rows in, rows out, seconds), a span
/// per stage on every event, the spinner's text, and the manifest's `stage_seconds`.
pub(super) struct Stages {
    next: usize,
    lap: Instant,
    progress: Progress,
    span: Option<tracing::span::EnteredSpan>,
    pub(super) seconds: BTreeMap<String, f64>,
}

impl Stages {
    pub(super) fn start() -> Stages {
        let (name, doing) = STAGES[0];
        let span = Some(tracing::info_span!("stage", stage = name).entered());
        Stages { next: 0, lap: Instant::now(), progress: Progress::start(doing), span, seconds: BTreeMap::new() }
    }

    pub(super) fn done(&mut self, rows_in: usize, rows_out: usize) {
        let name = STAGES[self.next].0;
        let seconds = (self.lap.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
        tracing::info!(stage = name, rows_in, rows_out, seconds, "stage finished");
        self.seconds.insert(name.to_string(), seconds);
        self.next += 1;
        let (next, doing) = STAGES.get(self.next).copied().unwrap_or(("publish", "publishing"));
        self.progress.stage(doing);
        self.span.take();
        self.span = Some(tracing::info_span!("stage", stage = next).entered());
        self.lap = Instant::now();
    }
}
