//! The function's output: stdout and stderr share one pipe that Kumo reads line by line.
//!
//! To know which lines belong to an invocation, Kumo keeps its own copy of the pipe's write
//! end. Runtimes flush their output before posting an answer, so once the answer arrives Kumo
//! writes a marker into the same pipe: every line before the marker belongs to the invocation.
//! The marker carries a random token of the pipe's, so a function cannot print one.
//!
//! A function may write any amount at any time, also between invocations, when nobody drains
//! its output. Kumo keeps at most [`MAX_PENDING_BYTES`] of it until the next drain and drops the
//! rest, saying how much in one line of its own, so the function's output never grows Kumo.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::pipe;
use tokio::sync::mpsc;

/// One line the function wrote, with the time Kumo read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// Epoch ms when the line was read.
    pub timestamp_ms: u64,
    /// The text, without its newline.
    pub text: String,
}

/// The start of the marker written by Kumo; the pipe's token and the marker's number follow.
const MARKER_PREFIX: &str = "\0kumo-log-marker:";

/// Most output kept between two drains (one invocation's, or what a function writes while
/// idle); the excess is dropped and reported.
pub const MAX_PENDING_BYTES: usize = 4 * 1024 * 1024;

/// Lines queued at most between two drains (many short lines cost more than their bytes).
const MAX_PENDING_LINES: usize = 16 * 1024;

enum Item {
    /// A line and the bytes it counts against the budget.
    Line(LogLine, usize),
    /// Output dropped since the last drain: bytes and lines.
    Dropped(u64, u64),
    Marker(u64),
}

/// Kumo's end of an environment's output pipe.
pub struct OutputPipe {
    writer: pipe::Sender,
    items: mpsc::Receiver<Item>,
    queued_bytes: Arc<AtomicUsize>,
    marker_prefix: String,
    next_marker: u64,
    reader_task: tokio::task::JoinHandle<()>,
}

/// Creates the pipe; returns Kumo's end and the fd to give the child as stdout and stderr.
pub fn output_pipe() -> std::io::Result<(OutputPipe, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` is a valid array of two ints for pipe2 to fill.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded, so both fds are open and owned by nobody else.
    let (read_end, write_end) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // A second open file description of the same pipe: tokio makes its end non-blocking, and a
    // dup would share that flag with the child's stdout.
    let kumo_write_end: OwnedFd = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(format!("/proc/self/fd/{}", write_end.as_raw_fd()))?
        .into();
    let reader = pipe::Receiver::from_owned_fd(read_end)?;
    let writer = pipe::Sender::from_owned_fd(kumo_write_end)?;
    let (sender, items) = mpsc::channel(MAX_PENDING_LINES);
    let marker_prefix = format!("{MARKER_PREFIX}{}:", uuid::Uuid::new_v4().simple());
    let queued_bytes = Arc::new(AtomicUsize::new(0));
    let queue = Queue { sender, marker_prefix: marker_prefix.clone(), queued_bytes: Arc::clone(&queued_bytes) };
    let reader_task = tokio::spawn(read_lines(reader, queue));
    Ok((OutputPipe { writer, items, queued_bytes, marker_prefix, next_marker: 0, reader_task }, write_end))
}

/// The reader's side of the queue of lines.
struct Queue {
    sender: mpsc::Sender<Item>,
    marker_prefix: String,
    queued_bytes: Arc<AtomicUsize>,
}

/// Longest log line kept whole; longer output is split, as CloudWatch caps events at 256 KB.
const MAX_LINE_BYTES: usize = 256 * 1024;

async fn read_lines(reader: pipe::Receiver, queue: Queue) {
    let mut reader = BufReader::with_capacity(64 * 1024, reader);
    let mut line = Vec::with_capacity(1024);
    let mut dropped = (0u64, 0u64);
    loop {
        let chunk = match reader.fill_buf().await {
            Ok([]) | Err(_) => return,
            Ok(chunk) => chunk,
        };
        let (taken, complete) = match chunk.iter().position(|&byte| byte == b'\n') {
            Some(newline) => (newline + 1, true),
            None => (chunk.len(), false),
        };
        line.extend_from_slice(&chunk[..taken]);
        reader.consume(taken);
        if complete || line.len() >= MAX_LINE_BYTES {
            if !queue.emit(&line, &mut dropped).await {
                return;
            }
            line.clear();
        }
    }
}

impl Queue {
    /// Queues one line (and the marker it may carry), or counts it dropped when the queue is
    /// full; false once nobody listens.
    async fn emit(&self, raw: &[u8], dropped: &mut (u64, u64)) -> bool {
        let marker_at = find(raw, self.marker_prefix.as_bytes());
        let before = &raw[..marker_at.unwrap_or(raw.len())];
        let before = before.strip_suffix(b"\n").unwrap_or(before);
        let marker = marker_at.and_then(|at| {
            let number = &raw[at + self.marker_prefix.len()..];
            std::str::from_utf8(number.strip_suffix(b"\n").unwrap_or(number)).ok()?.parse::<u64>().ok()
        });
        let only_a_marker = before.is_empty() && marker.is_some();
        if !only_a_marker && !self.push_line(before) {
            dropped.0 += before.len() as u64;
            dropped.1 += 1;
        }
        let Some(marker) = marker else { return true };
        // A drain waits for this marker, so it is sent whatever the queue holds.
        if *dropped != (0, 0) {
            if self.sender.send(Item::Dropped(dropped.0, dropped.1)).await.is_err() {
                return false;
            }
            *dropped = (0, 0);
        }
        self.sender.send(Item::Marker(marker)).await.is_ok()
    }

    /// Queues a line if it fits in the budget.
    fn push_line(&self, text: &[u8]) -> bool {
        let size = text.len().max(1);
        if self.queued_bytes.load(Ordering::Relaxed) + size > MAX_PENDING_BYTES {
            return false;
        }
        // Counted before it is queued, so a drain never subtracts what was not yet added.
        self.queued_bytes.fetch_add(size, Ordering::Relaxed);
        let line =
            LogLine { timestamp_ms: kumo_core::time::now_millis(), text: String::from_utf8_lossy(text).into_owned() };
        let queued = self.sender.try_send(Item::Line(line, size)).is_ok();
        if !queued {
            self.queued_bytes.fetch_sub(size, Ordering::Relaxed);
        }
        queued
    }
}

/// Where `needle` (which starts with a NUL byte) starts in `haystack`; NUL bytes are rare in
/// output, so only they are compared further.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(offset) = haystack[from..].iter().position(|&byte| byte == 0) {
        let at = from + offset;
        if haystack[at..].starts_with(needle) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

impl OutputPipe {
    /// Returns every line written so far: writes a marker and reads up to it.
    pub async fn drain(&mut self) -> Vec<LogLine> {
        self.next_marker += 1;
        let marker = self.next_marker;
        let written = self.writer.write_all(format!("{}{marker}\n", self.marker_prefix).as_bytes()).await;
        let mut lines = Vec::new();
        if written.is_err() {
            return lines;
        }
        // Given back to the budget only once the drain ends: freed line by line, the reader could
        // queue more behind the drain and one drain would return more than the budget.
        let mut taken = 0;
        while let Some(item) = self.items.recv().await {
            match item {
                Item::Line(line, size) => {
                    taken += size;
                    lines.push(line);
                }
                Item::Dropped(bytes, count) => lines.push(LogLine {
                    timestamp_ms: kumo_core::time::now_millis(),
                    text: format!(
                        "[Kumo] {bytes} bytes of output ({count} lines) were dropped: an environment keeps at most \
                         {MAX_PENDING_BYTES} bytes or {MAX_PENDING_LINES} lines of output until an invocation ends"
                    ),
                }),
                Item::Marker(seen) if seen == marker => break,
                Item::Marker(_) => {}
            }
        }
        self.queued_bytes.fetch_sub(taken, Ordering::Relaxed);
        lines
    }
}

impl Drop for OutputPipe {
    fn drop(&mut self) {
        self.reader_task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[tokio::test]
    async fn drain_returns_lines_written_before_it() {
        let (mut output, child_end) = output_pipe().unwrap();
        let mut child = std::fs::File::from(child_end);
        child.write_all(b"first\nsecond\npartial").unwrap();
        let lines = output.drain().await;
        let texts: Vec<_> = lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["first", "second", "partial"]);
        child.write_all(b"third\n").unwrap();
        assert_eq!(output.drain().await[0].text, "third");
        assert!(output.drain().await.is_empty());
    }

    #[tokio::test]
    async fn splits_overlong_lines() {
        let (mut output, child_end) = output_pipe().unwrap();
        let writer = std::thread::spawn(move || {
            let mut child = std::fs::File::from(child_end);
            child.write_all(&vec![b'x'; MAX_LINE_BYTES + 10]).unwrap();
            child.write_all(b"\n").unwrap();
        });
        // Join off the runtime thread so the reader task can drain the pipe meanwhile.
        tokio::task::spawn_blocking(move || writer.join().unwrap()).await.unwrap();
        let lines = output.drain().await;
        assert_eq!(lines.iter().map(|l| l.text.len()).collect::<Vec<_>>(), [MAX_LINE_BYTES, 10]);
    }

    #[tokio::test]
    async fn a_printed_marker_is_text() {
        let (mut output, child_end) = output_pipe().unwrap();
        let mut child = std::fs::File::from(child_end);
        // What a function could print: the marker's known prefix with the next numbers.
        child.write_all(format!("a\n{MARKER_PREFIX}1\n{MARKER_PREFIX}x:1\nb\n").as_bytes()).unwrap();
        let texts: Vec<String> = output.drain().await.into_iter().map(|line| line.text).collect();
        assert_eq!(texts, ["a", &format!("{MARKER_PREFIX}1"), &format!("{MARKER_PREFIX}x:1"), "b"]);
        child.write_all(b"c\n").unwrap();
        assert_eq!(output.drain().await.len(), 1);
    }

    #[tokio::test]
    async fn output_past_the_budget_is_dropped_and_reported() {
        let (mut output, child_end) = output_pipe().unwrap();
        let line = vec![b'y'; 1023];
        let lines = 3 * MAX_PENDING_BYTES / 1024;
        let writer = std::thread::spawn(move || {
            let mut child = std::fs::File::from(child_end);
            for _ in 0..lines {
                child.write_all(&line).unwrap();
                child.write_all(b"\n").unwrap();
            }
            child
        });
        let mut child = tokio::task::spawn_blocking(move || writer.join().unwrap()).await.unwrap();
        let drained = output.drain().await;
        let kept: usize = drained.iter().filter(|line| line.text.starts_with('y')).map(|line| line.text.len()).sum();
        assert!(kept <= MAX_PENDING_BYTES && kept > MAX_PENDING_BYTES / 2, "kept {kept}");
        let note = drained.last().unwrap();
        assert!(note.text.starts_with("[Kumo] ") && note.text.contains("dropped"), "{}", note.text);
        // The budget is whole again after a drain.
        child.write_all(b"after\n").unwrap();
        let texts: Vec<String> = output.drain().await.into_iter().map(|line| line.text).collect();
        assert_eq!(texts, ["after"]);
        assert_eq!(output.queued_bytes.load(Ordering::Relaxed), 0);
    }
}
