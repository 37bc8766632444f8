//! A progress bar on stderr for long CLI work (the sweep), only when stderr is a terminal: never in
//! Lambda, never in a pipe or a log file.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};

use indicatif::{ProgressBar, ProgressStyle};

use crate::collect::sweep::{Progress, Silent};

pub fn for_terminal() -> Arc<dyn Progress> {
    if std::io::stderr().is_terminal() {
        Arc::new(Bar(Mutex::new(None)))
    } else {
        Arc::new(Silent)
    }
}

struct Bar(Mutex<Option<ProgressBar>>);

impl Progress for Bar {
    fn phase(&self, name: &str, total: u64) {
        let bar = ProgressBar::new(total);
        bar.set_style(
            ProgressStyle::with_template("{msg:24} [{bar:30}] {pos}/{len} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_message(name.to_string());
        if let Some(previous) = self
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .replace(bar)
        {
            previous.finish_and_clear();
        }
    }
    fn advance(&self) {
        if let Some(bar) = &*self.0.lock().unwrap_or_else(|p| p.into_inner()) {
            bar.inc(1);
        }
    }
    fn finish(&self) {
        if let Some(bar) = self.0.lock().unwrap_or_else(|p| p.into_inner()).take() {
            bar.finish_and_clear();
        }
    }
}
