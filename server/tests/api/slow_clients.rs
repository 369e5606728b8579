//! Hostile connections: clients that never finish their request head, idle keep-alive connections, more
//! connections than the cap, and a flood of readiness probes. None of them holds the server, and after each an
//! ordinary event is still stored.

use crate::helpers::{shopper::FIREFOX, spawn_app, test_settings, TestApp};
use cartograph::{shutdown::Shutdown, startup::Application};
use futures::future::join_all;
use std::time::Duration;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    sync::Mutex,
    time::Instant,
};

/// These tests count the process's threads and descriptors and open hundreds of sockets: one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

/// The start of a request whose head never ends (the blank line never comes).
const HALF_SENT_HEAD: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\n";

/// A whole request for the cheapest page.
const HEALTH_REQUEST: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";

fn socket_address(app: &TestApp) -> String {
    app.address.trim_start_matches("http://").to_string()
}

/// A client that keeps no connection after its requests (so descriptors can be counted).
fn pool_less_client() -> reqwest::Client {
    reqwest::Client::builder().pool_max_idle_per_host(0).timeout(Duration::from_secs(20)).build().expect("HTTP client")
}

/// Whether the server closed the socket (EOF or reset, after any last answer such as 408) before `deadline`.
async fn closed_by(stream: &mut TcpStream, deadline: Instant) -> bool {
    let mut buffer = [0u8; 1024];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buffer)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

/// Whether the socket is still open with nothing to read, without waiting.
fn still_open(stream: &TcpStream) -> bool {
    let mut buffer = [0u8; 1];
    matches!(stream.try_read(&mut buffer), Err(error) if error.kind() == std::io::ErrorKind::WouldBlock)
}

/// Sends `GET /healthz` on `stream` and reads the whole answer (it is small: one read or a few).
async fn health_over(stream: &mut TcpStream) -> String {
    stream.write_all(HEALTH_REQUEST).await.expect("send the request");
    let mut answer = Vec::new();
    let mut buffer = [0u8; 1024];
    let deadline = Instant::now() + Duration::from_secs(5);
    while !String::from_utf8_lossy(&answer).contains(r#""status":"ok"}"#) {
        let read = tokio::time::timeout_at(deadline, stream.read(&mut buffer))
            .await
            .expect("an answer within 5 s")
            .expect("read the answer");
        assert!(read > 0, "the connection closed before its answer: {}", String::from_utf8_lossy(&answer));
        answer.extend_from_slice(&buffer[..read]);
    }
    String::from_utf8_lossy(&answer).into_owned()
}

/// The proof that the hostile part left the pipeline working: a page load, then one event, stored.
async fn an_ordinary_event_is_still_stored(app: &TestApp) {
    app.spawn_worker();
    let page = app.client.get(app.url("/")).header("user-agent", FIREFOX).send().await.expect("GET /");
    assert_eq!(page.status(), 200);
    let sent = app
        .client
        .post(app.url("/api/events"))
        .header("content-type", "text/plain;charset=UTF-8")
        .header("user-agent", FIREFOX)
        .body(r#"{"v":1,"events":[{"type":"page_view","path":"/after","referrer":null,"title":"x","id":"after1"}]}"#)
        .send()
        .await
        .expect("POST /api/events");
    assert_eq!(sent.status(), 202, "{}", sent.text().await.unwrap_or_default());
    let stored = app.wait_for_count("SELECT count(*) FROM clickstream_events WHERE path = '/after'", 1).await;
    assert_eq!(stored, 1, "the ordinary event after the hostile traffic was stored");
}

#[tokio::test]
async fn two_hundred_half_sent_request_heads_neither_block_others_nor_stay_open() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let app = TestApp::builder()
        .with_settings(|settings| settings.http.header_read_timeout = Duration::from_secs(2))
        .spawn()
        .await;
    let address = socket_address(&app);

    let mut held = Vec::with_capacity(200);
    for _ in 0..200 {
        let mut stream = TcpStream::connect(&address).await.expect("connect");
        stream.write_all(HALF_SENT_HEAD).await.expect("send half a head");
        held.push(stream);
    }
    let all_sent = Instant::now();

    let asked = Instant::now();
    let page = app.client.get(app.url("/")).header("user-agent", FIREFOX).send().await.expect("GET /");
    let answered_in = asked.elapsed();
    assert_eq!(page.status(), 200);
    let open_meanwhile = held.iter().filter(|stream| still_open(stream)).count();
    println!(
        "ordinary GET / answered {} in {answered_in:?} while {open_meanwhile} of 200 half-sent heads were held",
        page.status()
    );
    assert!(answered_in < Duration::from_secs(2), "the page took {answered_in:?} beside the held connections");

    // The header-read timeout is 2 s: give the server 3 s more.
    let deadline = all_sent + Duration::from_secs(5);
    let closed = join_all(held.iter_mut().map(|stream| async move { closed_by(stream, deadline).await })).await;
    let closed_count = closed.iter().filter(|closed| **closed).count();
    println!(
        "the server closed {closed_count} of 200 half-sent heads within {:?} of the last one (header-read timeout 2 s)",
        all_sent.elapsed()
    );
    assert_eq!(closed_count, 200, "every connection that never finished its head was closed");
    drop(held);

    an_ordinary_event_is_still_stored(&app).await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let app = TestApp::builder()
        .with_settings(|settings| {
            settings.http.idle_timeout = Duration::from_secs(2);
            settings.http.header_read_timeout = Duration::from_secs(10);
        })
        .spawn()
        .await;
    let address = socket_address(&app);

    // A connection used every second never goes idle…
    let mut busy = TcpStream::connect(&address).await.expect("connect");
    for _ in 0..4 {
        assert!(health_over(&mut busy).await.starts_with("HTTP/1.1 200"), "a busy keep-alive connection is served");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert!(health_over(&mut busy).await.starts_with("HTTP/1.1 200"), "…and still open after 4 s of use");

    // …one left alone after its request is closed after 2 s, well before the 10 s header-read timeout.
    let mut idle = TcpStream::connect(&address).await.expect("connect");
    assert!(health_over(&mut idle).await.starts_with("HTTP/1.1 200"));
    let answered = Instant::now();
    let closed = closed_by(&mut idle, answered + Duration::from_secs(6)).await;
    let closed_after = answered.elapsed();
    println!("an idle keep-alive connection was closed {closed_after:?} after its last answer (idle timeout 2 s)");
    assert!(closed, "the idle connection is still open after {closed_after:?}");
    assert!(closed_after >= Duration::from_millis(1500), "closed too early: {closed_after:?}");
    assert!(closed_after < Duration::from_secs(5), "closed by the idle timeout, not another one: {closed_after:?}");

    an_ordinary_event_is_still_stored(&app).await;
}

#[tokio::test]
async fn a_keep_alive_connection_may_wait_past_the_header_read_timeout_but_a_later_head_is_still_timed() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let app = TestApp::builder()
        .with_settings(|settings| {
            settings.http.header_read_timeout = Duration::from_secs(2);
            settings.http.idle_timeout = Duration::from_secs(6);
        })
        .spawn()
        .await;
    let mut stream = TcpStream::connect(socket_address(&app)).await.expect("connect");
    assert!(health_over(&mut stream).await.starts_with("HTTP/1.1 200"));

    // Waiting for the next request is idle time (6 s here), not header-read time (2 s).
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(health_over(&mut stream).await.starts_with("HTTP/1.1 200"), "the keep-alive connection outlived 2 s");

    // A next request that starts but never ends is closed 2 s after its first byte.
    stream.write_all(HALF_SENT_HEAD).await.expect("send half a head");
    let started = Instant::now();
    let closed = closed_by(&mut stream, started + Duration::from_secs(5)).await;
    let closed_after = started.elapsed();
    println!("a half-sent second head on a keep-alive connection was closed after {closed_after:?} (header-read timeout 2 s)");
    assert!(closed, "the half-sent second head is still open after {closed_after:?}");
    assert!(closed_after >= Duration::from_millis(1500), "closed too early: {closed_after:?}");

    an_ordinary_event_is_still_stored(&app).await;
}

#[tokio::test]
async fn at_the_connection_cap_a_new_connection_waits_and_is_served_once_one_closes() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let app = TestApp::builder()
        .with_settings(|settings| {
            settings.http.max_connections = std::num::NonZeroUsize::new(20).unwrap();
            settings.http.header_read_timeout = Duration::from_secs(60);
            settings.http.idle_timeout = Duration::from_secs(60);
        })
        .spawn()
        .await;
    let address = socket_address(&app);

    // Twenty keep-alive connections, each answered once (so accepted), then left idle.
    let mut held = Vec::with_capacity(20);
    for _ in 0..20 {
        let mut stream = TcpStream::connect(&address).await.expect("connect");
        assert!(health_over(&mut stream).await.starts_with("HTTP/1.1 200"));
        held.push(stream);
    }

    let client = pool_less_client();
    let asked = Instant::now();
    let waiting = tokio::spawn({
        let url = app.url("/healthz");
        async move { client.get(url).send().await.map(|response| response.status()) }
    });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!waiting.is_finished(), "the 21st connection was served although 20 were open: {:?}", waiting.await);

    let released = Instant::now();
    drop(held.pop());
    let status = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("served within 5 s of a connection closing")
        .expect("the request task finishes")
        .expect("the waiting request gets an answer, not an error");
    println!(
        "the 21st connection waited {:?} in all, and was answered {status} {:?} after one of the 20 closed",
        asked.elapsed(),
        released.elapsed()
    );
    assert_eq!(status, 200);
    drop(held);

    an_ordinary_event_is_still_stored(&app).await;
}

/// The process's thread count (the app runs in the test process).
fn threads() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("Threads:"))
        .and_then(|count| count.trim().parse().ok())
        .expect("a Threads: line")
}

/// The process's open file descriptors.
fn descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").expect("read /proc/self/fd").count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_hit_500_times_at_once_keeps_threads_and_descriptors_flat() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let app = spawn_app().await;
    let warm_up = pool_less_client();
    assert_eq!(warm_up.get(app.url("/readyz")).send().await.expect("GET /readyz").status(), 200);
    drop(warm_up);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (threads_before, descriptors_before) = (threads(), descriptors());

    let peak = std::sync::Arc::new(std::sync::Mutex::new((threads_before, descriptors_before)));
    let sampling = tokio::spawn({
        let peak = std::sync::Arc::clone(&peak);
        async move {
            loop {
                let (now_threads, now_descriptors) = (threads(), descriptors());
                {
                    let mut peak = peak.lock().expect("peak figures");
                    *peak = (peak.0.max(now_threads), peak.1.max(now_descriptors));
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    });
    let client = pool_less_client();
    let started = Instant::now();
    let answers = join_all((0..500).map(|_| client.get(app.url("/readyz")).send())).await;
    let took = started.elapsed();
    let statuses: Vec<u16> =
        answers.into_iter().map(|answer| answer.map(|a| a.status().as_u16()).unwrap_or(0)).collect();
    drop(client);
    sampling.abort();
    let ok = statuses.iter().filter(|status| **status == 200).count();

    // The burst is over once the sockets of both ends are closed: allow a few seconds for that.
    let settled_by = Instant::now() + Duration::from_secs(5);
    let (mut threads_after, mut descriptors_after) = (threads(), descriptors());
    while (threads_after > threads_before + 16 || descriptors_after > descriptors_before + 40)
        && Instant::now() < settled_by
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
        (threads_after, descriptors_after) = (threads(), descriptors());
    }
    let (threads_peak, descriptors_peak) = *peak.lock().expect("peak figures");
    println!(
        "500 parallel /readyz: {ok} answered 200 in {took:?}; threads {threads_before} before, {threads_peak} at peak, \
         {threads_after} after; file descriptors {descriptors_before} before, {descriptors_peak} at peak (the 500 \
         connections, both ends), {descriptors_after} after"
    );
    assert_eq!(
        ok,
        500,
        "every probe answered 200: {:?}",
        statuses.iter().filter(|status| **status != 200).collect::<Vec<_>>()
    );
    assert!(
        threads_peak <= threads_before + 16,
        "threads grew from {threads_before} to {threads_peak} during the burst"
    );
    assert!(threads_after <= threads_before + 16, "threads grew from {threads_before} to {threads_after}");
    assert!(
        descriptors_after <= descriptors_before + 40,
        "descriptors grew from {descriptors_before} to {descriptors_after}"
    );

    an_ordinary_event_is_still_stored(&app).await;
}

#[tokio::test]
async fn shutdown_lets_a_request_in_progress_finish_and_refuses_new_connections() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let application = Application::build(test_settings().await).await.expect("the app starts");
    let address = format!("127.0.0.1:{}", application.port());
    let stop = Shutdown::default();
    let server = tokio::spawn(application.run_until({
        let stop = stop.clone();
        async move { stop.wait().await }
    }));

    // A request whose body is still arriving when shutdown starts.
    let body = br#"{"v":1,"events":[{"type":"page_view","path":"/drain","referrer":null,"title":"x","id":"drain1"}]}"#;
    let mut stream = TcpStream::connect(&address).await.expect("connect");
    let head = format!(
        "POST /api/events HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain;charset=UTF-8\r\nUser-Agent: {FIREFOX}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("send the head");
    stream.write_all(&body[..10]).await.expect("send the start of the body");
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.trigger();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let refused = TcpStream::connect(&address).await.is_err();
    stream.write_all(&body[10..]).await.expect("send the rest of the body");
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .expect("answered and closed within 10 s")
        .expect("read the answer");
    let answer = String::from_utf8_lossy(&answer);
    let stopped = tokio::time::timeout(Duration::from_secs(10), server).await;
    println!(
        "at shutdown: the request in progress was answered {:?}; a new connection was {}",
        answer.lines().next().unwrap_or_default(),
        if refused { "refused" } else { "accepted" }
    );
    assert!(answer.starts_with("HTTP/1.1 ") && !answer.starts_with("HTTP/1.1 5"), "{answer}");
    assert!(refused, "the listener still accepted connections after shutdown");
    assert!(matches!(stopped, Ok(Ok(Ok(())))), "the server stopped cleanly within 10 s: {stopped:?}");
}
