//! A TCP load balancer in front of several web servers, as a cluster puts one: each new connection goes to the
//! next server in turn, and a server that refuses the connection is skipped (a health-checked pool). With a
//! [`Balancer::client`], which opens a connection per request, a shopper's requests alternate between servers.

use std::{
    net::SocketAddr,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};
use tokio::net::{TcpListener, TcpStream};

pub struct Balancer {
    address: SocketAddr,
    /// Connections each server took, by its index in `servers`.
    taken: Arc<Vec<AtomicUsize>>,
    task: tokio::task::JoinHandle<()>,
}

impl Balancer {
    /// Listens on a free port for the servers at `servers` (which need not listen yet).
    pub async fn start(servers: Vec<SocketAddr>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let taken: Arc<Vec<AtomicUsize>> = Arc::new(servers.iter().map(|_| AtomicUsize::new(0)).collect());
        let task = {
            let taken = taken.clone();
            tokio::spawn(async move {
                let next = AtomicUsize::new(0);
                while let Ok((inbound, _)) = listener.accept().await {
                    let pool = servers.clone();
                    let first = next.fetch_add(1, Ordering::Relaxed);
                    let taken = taken.clone();
                    tokio::spawn(async move {
                        for attempt in 0..pool.len() {
                            let index = (first + attempt) % pool.len();
                            if let Ok(mut outbound) = TcpStream::connect(pool[index]).await {
                                taken[index].fetch_add(1, Ordering::Relaxed);
                                let mut inbound = inbound;
                                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                                return;
                            }
                        }
                    });
                }
            })
        };
        Self { address, taken, task }
    }

    /// The shop's public URL: the balancer's.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// How many connections each server has taken so far.
    pub fn taken(&self) -> Vec<usize> {
        self.taken.iter().map(|count| count.load(Ordering::Relaxed)).collect()
    }

    /// A browser (its own cookies, no redirects followed) that opens a new connection for every request, so
    /// the balancer spreads its requests over the servers.
    pub fn client() -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(20))
            .build()
            .expect("HTTP client")
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
