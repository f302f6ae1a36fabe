//! The echo backends' own per-request cost: `handle_a2a` round trips over the process's pipes,
//! without the host. Prints the median and p99 of one request at a time, and the throughput
//! with 1 and 8 requests in flight, for each echo whose interpreter is installed.
//!
//! `cargo bench -p molecule-echo` (`ECHO_BENCH_REQUESTS` sets the count, 20 000 by default).

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

struct Echo {
    child: Child,
    stdin: BufWriter<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    line: String,
}

impl Echo {
    fn start(program: &str, args: &[&str]) -> Option<Echo> {
        // The Python and Node echoes import their SDK from this repository, as if installed.
        let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sdk");
        let mut child = Command::new(program)
            .args(args)
            .env("MOLECULE_BACKEND", "1")
            .env("PYTHONPATH", sdk.join("python"))
            .env("NODE_PATH", sdk.join("node"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .ok()?;
        let stdin = BufWriter::new(child.stdin.take()?);
        let stdout = BufReader::new(child.stdout.take()?);
        let mut echo = Echo {
            child,
            stdin,
            stdout,
            line: String::new(),
        };
        echo.send(
            r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":1,"host":{"name":"bench","version":"0","pid":1},"workspace":{"id":"00000000-0000-4000-8000-000000000001"},"limits":{"maxMessageBytes":8388608,"requestTimeoutMs":60000},"capabilities":{"cancel":true,"progress":true,"hostMethods":[]}}}"#,
        );
        echo.flush();
        echo.recv();
        Some(echo)
    }

    fn send(&mut self, line: &str) {
        self.stdin.write_all(line.as_bytes()).expect("write");
        self.stdin.write_all(b"\n").expect("write");
    }

    fn flush(&mut self) {
        self.stdin.flush().expect("flush");
    }

    fn recv(&mut self) {
        self.line.clear();
        let n = self.stdout.read_line(&mut self.line).expect("read");
        assert!(
            n > 0 && self.line.contains("\"result\""),
            "unexpected: {:?}",
            self.line
        );
    }

    fn request(&mut self, id: usize) {
        self.send(&format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"handle_a2a","params":{{"message":{{"kind":"message","role":"user","messageId":"m-{id}","contextId":"c-1","parts":[{{"kind":"text","text":"hello, how are you today?"}}]}},"sender":{{"kind":"canvas","workspaceId":null}},"context":{{"activityId":"act-{id}","attempt":1,"deadline":"2099-01-01T00:00:00.000Z","idempotencyKey":"k-{id}","conversationKey":"canvas#c-1"}}}}}}"#
        ));
    }

    /// One request at a time: each round trip's latency.
    fn sequential(&mut self, n: usize) -> Vec<Duration> {
        (1..=n)
            .map(|id| {
                let start = Instant::now();
                self.request(id);
                self.flush();
                self.recv();
                start.elapsed()
            })
            .collect()
    }

    /// `depth` requests kept in flight: requests per second.
    fn pipelined(&mut self, n: usize, depth: usize) -> f64 {
        let start = Instant::now();
        let mut sent = 0;
        for _ in 0..depth.min(n) {
            sent += 1;
            self.request(sent);
        }
        self.flush();
        for _ in 0..n {
            self.recv();
            if sent < n {
                sent += 1;
                self.request(sent);
                self.flush();
            }
        }
        n as f64 / start.elapsed().as_secs_f64()
    }

    fn stop(mut self) {
        drop(self.stdin);
        let _ = self.child.wait();
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

fn bench(name: &str, program: &str, args: &[&str], n: usize) {
    let Some(mut echo) = Echo::start(program, args) else {
        println!("{name}: skipped ({program} not available)");
        return;
    };
    echo.sequential(n / 10); // warm-up
    let mut lat = echo.sequential(n);
    lat.sort();
    let one = echo.pipelined(n, 1);
    let eight = echo.pipelined(n, 8);
    println!(
        "{name}: median {:.1} µs, p99 {:.1} µs, {one:.0} req/s with 1 in flight, {eight:.0} req/s with 8 in flight ({n} requests)",
        percentile(&lat, 0.5).as_secs_f64() * 1e6,
        percentile(&lat, 0.99).as_secs_f64() * 1e6,
    );
    echo.stop();
}

fn main() {
    let n = std::env::var("ECHO_BENCH_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let plugins = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let py = plugins.join("echo/python/echo.py");
    let js = plugins.join("echo/node/echo.js");
    bench(
        "rust molecule-echo",
        env!("CARGO_BIN_EXE_molecule-echo"),
        &[],
        n,
    );
    bench("python echo.py", "python3", &[&py.to_string_lossy()], n / 4);
    bench("node echo.js", "node", &[&js.to_string_lossy()], n / 4);
}
