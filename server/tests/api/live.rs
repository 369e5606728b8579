//! Live settings: two running web servers read one live file. A change reaches both without a restart (the
//! banner on their pages, a rate limit, a breaker's threshold, a payment drill); a bad change is refused as a
//! whole and the values in force stay; removing the file brings the ordinary settings back.

use crate::helpers::{shopper::SUCCEEDS, TestApp};
use reqwest::StatusCode;
use std::time::{Duration, Instant};

const BANNER: &str = "Payments are being drilled until 10:00 UTC";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_to_the_live_file_reaches_two_running_web_servers_and_a_bad_one_is_refused() {
    let file = std::env::temp_dir().join(format!("cartograph-live-{}.toml", uuid::Uuid::new_v4().simple()));
    let path = file.display().to_string();
    let first = TestApp::builder().with_settings(|settings| settings.live_file = Some(path.clone())).spawn().await;
    let second = first.another_server().await;
    let servers = [&first, &second];
    for server in servers {
        assert!(!banner_on(server).await, "no banner without a live file");
    }

    // On: a banner, a tight rate limit, a payments breaker that opens after two failures, every payment failing.
    let changed = Instant::now();
    std::fs::write(
        &file,
        format!(
            "banner = \"{BANNER}\"\n[collect]\nrate_per_visit = 0.1\n[breakers.payments]\nfailures = 2\n\
             cooldown_secs = 60\n[drills]\npayment_failure_rate = 1.0\n"
        ),
    )
    .unwrap();
    for server in servers {
        while !banner_on(server).await {
            assert!(
                changed.elapsed() < Duration::from_secs(10),
                "{} shows no banner 10 s after the change",
                server.address
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    println!("both web servers showed the banner {} ms after the change", changed.elapsed().as_millis());

    // The rate limit: a burst of one batch a visit, on either server.
    for server in servers {
        let tracker = server.another_browser();
        assert_eq!(tracker.home().await.status(), StatusCode::OK);
        let batch = r#"{"v":1,"events":[{"type":"page_view","path":"/live","id":"live-1"}]}"#;
        assert_eq!(tracker.post_events(batch).await.status(), StatusCode::ACCEPTED);
        assert_eq!(tracker.post_events(batch).await.status(), StatusCode::TOO_MANY_REQUESTS, "{}", server.address);
    }

    // The payment drill fails every charge before the gateway, and the breaker opens after two of them.
    let shopper = first.another_browser();
    let order = shopper.pending_order("wool-beanie", 1).await;
    for key in ["drilled-one", "drilled-two"] {
        assert_eq!(shopper.pay(&order, SUCCEEDS, key).await.status(), 422, "{key} fails as a gateway error");
    }
    assert_eq!(shopper.pay(&order, SUCCEEDS, "drilled-three").await.status(), 503, "the breaker opened after two");
    assert_eq!(first.count("SELECT count(*) FROM test_gateway_charges").await, 0, "nothing reached the gateway");

    // A bad change is refused whole: the banner and the drill stay.
    let refused_before = refused_reloads(&first).await;
    std::fs::write(&file, "banner = \"Something else\"\n[drills]\npayment_failure_rate = 5.0\n").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while refused_reloads(&first).await < refused_before + 2.0 {
        assert!(Instant::now() < deadline, "the bad file was not refused by both servers within 10 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for server in servers {
        let home = server.client.get(server.url("/")).send().await.unwrap().text().await.unwrap();
        assert!(home.contains(BANNER) && !home.contains("Something else"), "the values in force stay");
    }

    // Off again: the file removed, the ordinary settings are back, and an ordinary payment goes through on the
    // second server (its breaker was never opened).
    std::fs::remove_file(&file).unwrap();
    for server in servers {
        let removed = Instant::now();
        while banner_on(server).await {
            assert!(removed.elapsed() < Duration::from_secs(10), "the banner stayed after the file was removed");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let shopper = TestApp::with_client(&second, shopper.client.clone());
    let paid = shopper.pay(&order, SUCCEEDS, "after-the-drill").await;
    assert_eq!(paid.status(), StatusCode::OK, "{}", paid.text().await.unwrap_or_default());
    assert_eq!(shopper.order_status(&order).await, "paid");
}

async fn banner_on(server: &TestApp) -> bool {
    let home = server.home().await;
    assert_eq!(home.status(), StatusCode::OK);
    home.text().await.unwrap().contains(BANNER)
}

/// `cartograph_live_reloads_total{outcome="refused"}`: one registry for the test process, so both servers'.
async fn refused_reloads(app: &TestApp) -> f64 {
    let metrics = app.client.get(app.internal_url("/metrics")).send().await.unwrap().text().await.unwrap();
    metrics
        .lines()
        .find_map(|line| line.strip_prefix("cartograph_live_reloads_total{outcome=\"refused\"} "))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0.0)
}
