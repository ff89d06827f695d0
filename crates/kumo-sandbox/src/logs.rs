//! The function's output: stdout and stderr share one pipe that Kumo reads line by line.
//!
//! To know which lines belong to an invocation, Kumo keeps its own copy of the pipe's write
//! end. Runtimes flush their output before posting an answer, so once the answer arrives Kumo
//! writes a marker into the same pipe: every line before the marker belongs to the invocation.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;

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

/// The marker written by Kumo; a NUL byte never appears in text a runtime logs.
const MARKER_PREFIX: &str = "\0kumo-log-marker:";

enum Item {
    Line(LogLine),
    Marker(u64),
}

/// Kumo's end of an environment's output pipe.
pub struct OutputPipe {
    writer: pipe::Sender,
    items: mpsc::UnboundedReceiver<Item>,
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
    let (sender, items) = mpsc::unbounded_channel();
    let reader_task = tokio::spawn(read_lines(reader, sender));
    Ok((OutputPipe { writer, items, next_marker: 0, reader_task }, write_end))
}

/// Longest log line kept whole; longer output is split, as CloudWatch caps events at 256 KB.
const MAX_LINE_BYTES: usize = 256 * 1024;

async fn read_lines(reader: pipe::Receiver, sender: mpsc::UnboundedSender<Item>) {
    let mut reader = BufReader::with_capacity(64 * 1024, reader);
    let mut line = Vec::with_capacity(1024);
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
            if !emit(&line, &sender) {
                return;
            }
            line.clear();
        }
    }
}

/// Sends one line (and the marker it may carry); false once nobody listens.
fn emit(raw: &[u8], sender: &mpsc::UnboundedSender<Item>) -> bool {
    let text = String::from_utf8_lossy(raw);
    let text = text.strip_suffix('\n').unwrap_or(&text);
    let (before, marker) = match text.find(MARKER_PREFIX) {
        Some(at) => (&text[..at], text[at + MARKER_PREFIX.len()..].parse::<u64>().ok()),
        None => (text, None),
    };
    if !(before.is_empty() && marker.is_some()) {
        let line = LogLine { timestamp_ms: kumo_core::time::now_millis(), text: before.to_string() };
        if sender.send(Item::Line(line)).is_err() {
            return false;
        }
    }
    match marker {
        Some(marker) => sender.send(Item::Marker(marker)).is_ok(),
        None => true,
    }
}

impl OutputPipe {
    /// Returns every line written so far: writes a marker and reads up to it.
    pub async fn drain(&mut self) -> Vec<LogLine> {
        self.next_marker += 1;
        let marker = self.next_marker;
        let written = self.writer.write_all(format!("{MARKER_PREFIX}{marker}\n").as_bytes()).await;
        let mut lines = Vec::new();
        if written.is_err() {
            return lines;
        }
        while let Some(item) = self.items.recv().await {
            match item {
                Item::Line(line) => lines.push(line),
                Item::Marker(seen) if seen == marker => break,
                Item::Marker(_) => {}
            }
        }
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
}
