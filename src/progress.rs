//! A progress bar on stderr for long CLI work (the sweep), only when stderr is a terminal: never in
//! Lambda, never in a pipe or a log file.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};

use indicatif::{ProgressBar, ProgressStyle};

use cf_doctor_collect::sweep::{Progress, Silent};

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
        let mut current = self.0.lock().unwrap_or_else(|p| p.into_inner());
        // Clear the finished phase before the next one draws, so only one line is on screen.
        if let Some(previous) = current.take() {
            previous.finish_and_clear();
        }
        let bar = ProgressBar::new(total);
        bar.set_style(
            ProgressStyle::with_template("{msg:24} [{bar:30}] {pos}/{len} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_message(name.to_string());
        *current = Some(bar);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_follow_each_other_without_deadlock() {
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let bar = Bar(Mutex::new(None));
            bar.phase("listing distributions", 1);
            bar.advance();
            bar.phase("probing origins", 2);
            bar.advance();
            bar.advance();
            bar.finish();
            let _ = done.send(());
        });
        finished
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect(
                "the progress bar went through its phases (a lock taken twice would hang here)",
            );
    }
}
