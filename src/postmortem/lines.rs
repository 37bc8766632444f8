//! Bytes to log records, as they stream in: decompressed on the way when gzipped (CloudFront's
//! legacy log files), cut into lines, each line read and tallied. Only one chunk and one
//! unfinished line are ever held, so a file of any size costs the same memory.

use std::io::Write;

use cf_doctor_model::cloudfront_log::{LineReader, LogTally};

/// A line longer than this is not a log record (CloudFront truncates long fields): it is counted
/// as unreadable and skipped.
const MAX_LINE: usize = 1024 * 1024;

/// Where decoded bytes go: whole lines are read as records into the tally.
pub struct LineSink<'a> {
    reader: LineReader,
    tally: &'a mut LogTally,
    pending: Vec<u8>,
    /// The unfinished line grew past MAX_LINE: the rest of it is dropped.
    skipping: bool,
    /// Decoded bytes seen.
    pub bytes: u64,
}

impl<'a> LineSink<'a> {
    pub fn new(reader: LineReader, tally: &'a mut LogTally) -> LineSink<'a> {
        LineSink {
            reader,
            tally,
            pending: Vec::new(),
            skipping: false,
            bytes: 0,
        }
    }

    fn line(&mut self, line: &[u8]) {
        let text = String::from_utf8_lossy(line);
        match self.reader.read(&text) {
            Ok(Some(record)) => self.tally.add(&record),
            Ok(None) => {}
            Err(e) => self.tally.unreadable(e.to_string()),
        }
    }

    /// The last line, which may have no newline.
    pub fn finish(&mut self) {
        if !self.pending.is_empty() && !self.skipping {
            let last = std::mem::take(&mut self.pending);
            self.line(&last);
        }
        self.pending.clear();
        self.skipping = false;
    }
}

impl Write for LineSink<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.bytes += buf.len() as u64;
        let mut rest = buf;
        while let Some(end) = rest.iter().position(|b| *b == b'\n') {
            let (head, tail) = rest.split_at(end);
            if self.skipping {
                self.skipping = false;
                self.pending.clear();
            } else if self.pending.is_empty() {
                self.line(head);
            } else {
                self.pending.extend_from_slice(head);
                let whole = std::mem::take(&mut self.pending);
                self.line(&whole);
            }
            rest = &tail[1..];
        }
        if !self.skipping {
            self.pending.extend_from_slice(rest);
            if self.pending.len() > MAX_LINE {
                self.tally
                    .unreadable(format!("a line longer than {MAX_LINE} bytes"));
                self.pending.clear();
                self.skipping = true;
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Gzip or plain bytes into a LineSink, chunk by chunk.
pub enum Decoder<'a> {
    Gzip(Box<flate2::write::MultiGzDecoder<LineSink<'a>>>),
    Plain(LineSink<'a>),
}

impl<'a> Decoder<'a> {
    pub fn new(sink: LineSink<'a>, gzipped: bool) -> Decoder<'a> {
        if gzipped {
            Decoder::Gzip(Box::new(flate2::write::MultiGzDecoder::new(sink)))
        } else {
            Decoder::Plain(sink)
        }
    }

    pub fn feed(&mut self, chunk: &[u8]) -> std::io::Result<()> {
        match self {
            Decoder::Gzip(gz) => gz.write_all(chunk),
            Decoder::Plain(sink) => sink.write_all(chunk),
        }
    }

    /// Ends the stream: the last line is read; the decoded size is returned.
    pub fn finish(self) -> std::io::Result<u64> {
        let mut sink = match self {
            Decoder::Gzip(gz) => gz.finish()?,
            Decoder::Plain(sink) => sink,
        };
        sink.finish();
        Ok(sink.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cf_doctor_model::cloudfront_log::{LogFormat, Window};

    fn window() -> Window {
        Window {
            from: "2026-12-03T00:00:00Z".parse().unwrap(),
            to: "2026-12-04T00:00:00Z".parse().unwrap(),
        }
    }

    const LOG: &str = "#Version: 1.0\n#Fields: date time sc-status x-edge-detailed-result-type\n2026-12-03\t09:00:01\t502\tOriginConnectError\n2026-12-03\t09:00:02\t200\tHit\n2026-12-03\t09:00:03\t504\tOriginCommError";

    #[test]
    fn lines_split_across_chunks_are_read_whole() {
        let mut tally = LogTally::new(window(), true);
        let mut decoder = Decoder::new(
            LineSink::new(LineReader::new(LogFormat::W3c), &mut tally),
            false,
        );
        for chunk in LOG.as_bytes().chunks(7) {
            decoder.feed(chunk).unwrap();
        }
        decoder.finish().unwrap();
        let pm = tally.postmortem("E1", vec![]);
        assert_eq!((pm.requests, pm.errors_5xx), (3, 2));
        assert!(pm.unreadable.is_none());
    }

    #[test]
    fn gzipped_bytes_are_decoded_on_the_way() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(LOG.as_bytes()).unwrap();
        let compressed = gz.finish().unwrap();
        let mut tally = LogTally::new(window(), false);
        let mut decoder = Decoder::new(
            LineSink::new(LineReader::new(LogFormat::W3c), &mut tally),
            true,
        );
        for chunk in compressed.chunks(5) {
            decoder.feed(chunk).unwrap();
        }
        assert_eq!(decoder.finish().unwrap(), LOG.len() as u64);
        assert_eq!(tally.requests(), 3);
    }
}
