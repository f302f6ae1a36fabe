//! What `--metrics-addr` costs: the host's resident size after answering the same messages
//! with the endpoint off and on, and on, the latency of a `/metrics` scrape (sequential, over a
//! fresh connection each, as Prometheus does without keep-alive) and its size.
//!
//! `cargo bench --bench metrics`. `MOLECULE_BENCH_ROWS` sets the messages (default 200),
//! `MOLECULE_BENCH_SCRAPES` the scrapes (default 1000).

#[path = "support/host.rs"]
mod host;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Instant;

use host::{env_num as num, quantile, rss_kib, setup, stop};

fn main() -> anyhow::Result<()> {
    let (rows, scrapes) = (
        num("MOLECULE_BENCH_ROWS", 200),
        num("MOLECULE_BENCH_SCRAPES", 1000),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        println!("{rows} messages answered by the Rust echo, then RSS; {scrapes} scrapes");
        run(rows, None).await?;
        run(rows, Some(scrapes)).await
    })
}

async fn run(rows: usize, scrapes: Option<usize>) -> anyhow::Result<()> {
    let s = setup().await?;
    let addr = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .to_string();
    let extra: Vec<&str> = match scrapes {
        Some(_) => vec!["--metrics-addr", &addr],
        None => Vec::new(),
    };
    let host = s.host(&extra).await?;
    let pid = host.id();
    for i in 0..rows {
        s.send(format!("message {i}"), i % 10).await?;
    }
    s.wait_replies(rows, |_| {}).await;
    let rss = rss_kib(pid, "VmRSS:");
    let Some(n) = scrapes else {
        println!("metrics off: RSS {rss} KiB after {rows} messages");
        stop(host)?;
        return Ok(());
    };
    let mut ms = Vec::with_capacity(n);
    let mut bytes = 0;
    for _ in 0..n {
        let started = Instant::now();
        let mut c = TcpStream::connect(&addr)?;
        write!(c, "GET /metrics HTTP/1.1\r\nHost: {addr}\r\n\r\n")?;
        let mut text = Vec::new();
        c.read_to_end(&mut text)?;
        ms.push(started.elapsed().as_secs_f64() * 1e3);
        bytes = text.len();
    }
    ms.sort_by(f64::total_cmp);
    println!(
        "metrics on: RSS {rss} KiB after {rows} messages, {} KiB after {n} scrapes; scrape p50 \
         {:.3} ms, p99 {:.3} ms, max {:.3} ms; {bytes} bytes",
        rss_kib(pid, "VmRSS:"),
        quantile(&ms, 0.5),
        quantile(&ms, 0.99),
        ms[ms.len() - 1],
    );
    stop(host)?;
    Ok(())
}
