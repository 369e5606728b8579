//! A tracker that sends page views without pause while a test breaks things around it: every batch's outcome is
//! kept with the time it came, so the test can ask which events were accepted, and since when storing resumed.

use super::{shopper::FIREFOX, TestApp};
use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};
use tokio::task::JoinHandle;

/// What the endpoint answered one batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// 202, with the ids of the events the broker acknowledged.
    Accepted,
    /// 503: nothing taken; the tracker keeps the batch.
    Refused,
    /// No answer (the web server is gone): the tracker keeps the batch too.
    Unreachable,
    /// Anything else, which no test expects.
    Unexpected(u16),
}

#[derive(Default)]
struct Log {
    /// Every accepted event id with the moment its batch was answered.
    accepted: Vec<(Instant, String)>,
    outcomes: Vec<Outcome>,
}

pub struct EventStream {
    log: Arc<Mutex<Log>>,
    stop: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

impl EventStream {
    /// Loads the home page of the first of `servers` through `client` (the visit, unless the client has one),
    /// then sends `per_batch` page views every `pause` to the `/api/events` of each of `servers` in turn.
    pub fn start(client: reqwest::Client, servers: Vec<String>, per_batch: usize, pause: Duration) -> Self {
        let log: Arc<Mutex<Log>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let task = {
            let (log, stop) = (log.clone(), stop.clone());
            let run = uuid::Uuid::new_v4().simple().to_string();
            tokio::spawn(async move {
                let page = client.get(format!("{}/", servers[0])).send().await.expect("the home page");
                assert_eq!(page.status().as_u16(), 200, "the home page renders");
                let mut n = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    let events: Vec<String> = (0..per_batch)
                        .map(|i| format!(r#"{{"type":"page_view","path":"/stream/{n}/{i}","id":"{run}-{n}-{i}"}}"#))
                        .collect();
                    let body = format!(r#"{{"v":1,"events":[{}]}}"#, events.join(","));
                    let server = &servers[n % servers.len()];
                    let request = client
                        .post(format!("{server}/api/events"))
                        .header("content-type", "text/plain;charset=UTF-8")
                        .header("user-agent", FIREFOX)
                        .body(body);
                    let outcome = match request.send().await {
                        Ok(response) if response.status().as_u16() == 202 => {
                            let body: serde_json::Value = response.json().await.unwrap();
                            let ids = body["ids"].as_array().unwrap().iter().map(|id| id.as_str().unwrap().to_string());
                            let now = Instant::now();
                            log.lock().unwrap().accepted.extend(ids.map(|id| (now, id)));
                            Outcome::Accepted
                        }
                        Ok(response) if response.status().as_u16() == 503 => Outcome::Refused,
                        Ok(response) => Outcome::Unexpected(response.status().as_u16()),
                        Err(_) => Outcome::Unreachable,
                    };
                    log.lock().unwrap().outcomes.push(outcome);
                    n += 1;
                    tokio::time::sleep(pause).await;
                }
            })
        };
        Self { log, stop, task }
    }

    /// A stream to one app through its own client, at about 100 events a second.
    pub fn to(app: &TestApp) -> Self {
        Self::start(app.client.clone(), vec![app.address.clone()], 5, Duration::from_millis(50))
    }

    /// How many events have been accepted so far.
    pub fn accepted(&self) -> usize {
        self.log.lock().unwrap().accepted.len()
    }

    /// The ids of the events accepted after `since`.
    pub fn accepted_since(&self, since: Instant) -> Vec<String> {
        self.log.lock().unwrap().accepted.iter().filter(|(at, _)| *at > since).map(|(_, id)| id.clone()).collect()
    }

    /// How long after `since` the endpoint first accepted an event, if it has.
    pub fn accepted_again(&self, since: Instant) -> Option<Duration> {
        let log = self.log.lock().unwrap();
        log.accepted.iter().find(|(at, _)| *at > since).map(|(at, _)| *at - since)
    }

    /// How long after `since` an event accepted after it was first in `clickstream_events` (polled every 100 ms),
    /// or a failure naming `what` once `limit` has passed.
    pub async fn storing_resumed(&self, app: &TestApp, since: Instant, limit: Duration, what: &str) -> Duration {
        loop {
            let ids = self.accepted_since(since);
            if !ids.is_empty() && app.stored_events(&ids).await > 0 {
                return since.elapsed();
            }
            assert!(since.elapsed() < limit, "nothing sent after {what} was stored within {limit:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops sending (after the batch in flight) and returns every accepted event id and every batch's outcome.
    pub async fn stop(self) -> (Vec<String>, Vec<Outcome>) {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.unwrap();
        let log = std::mem::take(&mut *self.log.lock().unwrap());
        (log.accepted.into_iter().map(|(_, id)| id).collect(), log.outcomes)
    }
}
