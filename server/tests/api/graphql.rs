//! The GraphQL API against the real app: a shopper's token buys something from browse to paid order, scopes
//! and revocation hold, the limits refuse what they should (and the API works after), and the schema in
//! `docs/schema.graphql` is the code's.

use crate::helpers::{shopper::SUCCEEDS, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Posts a GraphQL request as `client` (with the token when given); returns the status and the body.
async fn gql(app: &TestApp, bearer: Option<&str>, query: &str, variables: Value) -> (StatusCode, Value) {
    let mut request = app.client.post(app.url("/graphql")).json(&json!({ "query": query, "variables": variables }));
    if let Some(secret) = bearer {
        request = request.bearer_auth(secret);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The first error's message and code (`extensions.code`), if any.
fn error(body: &Value) -> Option<(String, Option<i64>)> {
    let first = body["errors"].as_array()?.first()?;
    Some((first["message"].as_str().unwrap_or_default().to_string(), first["extensions"]["code"].as_i64()))
}

/// A token for `login` (signed in on a browser of its own), created through the API with the session.
async fn token_for(app: &TestApp, login: &str, scope: &str) -> (TestApp, String, String) {
    let browser = app.another_browser();
    browser.sign_in(login, "/").await;
    let create = "mutation($scope: String!) { createApiToken(name: \"ci\", scope: $scope, days: 30) \
                  { secret token { id scope hint revoked } } }";
    let (status, body) = gql(&browser, None, create, json!({ "scope": scope })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["errors"].is_null(), "{body}");
    let created = &body["data"]["createApiToken"];
    let secret = created["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("cgp_") && secret.len() == 68, "{secret}");
    assert_eq!(created["token"]["scope"], scope);
    assert!(secret.starts_with(created["token"]["hint"].as_str().unwrap()));
    (browser, created["token"]["id"].as_str().unwrap().to_string(), secret)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_buys_from_browse_to_paid_order_and_scopes_and_revocation_hold() {
    let app = TestApp::builder().spawn().await;
    let (session, token_id, secret) = token_for(&app, "api-buyer", "write").await;
    // A client with no cookies at all: the token is who it is.
    let client = app.another_browser();
    let token = Some(secret.as_str());

    // Browse: the catalog cheapest first, page by page.
    let search = "query($after: String) { products(sort: PRICE_ASC, inStock: true, first: 1, after: $after) \
                  { totalCount nodes { id slug name priceCents stock } pageInfo { hasNextPage endCursor } } }";
    let (status, first) = gql(&client, token, search, json!({ "after": null })).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let page = &first["data"]["products"];
    assert!(page["totalCount"].as_i64().unwrap() >= 2, "{first}");
    assert_eq!(page["nodes"].as_array().unwrap().len(), 1);
    assert_eq!(page["pageInfo"]["hasNextPage"], true);
    let (_, second) = gql(&client, token, search, json!({ "after": page["pageInfo"]["endCursor"] })).await;
    let next = &second["data"]["products"]["nodes"][0];
    assert_ne!(next["id"], page["nodes"][0]["id"], "the next page moves on");
    assert!(next["priceCents"].as_i64() >= page["nodes"][0]["priceCents"].as_i64(), "{second}");

    // A product by slug, with live stock; categories.
    let product = "{ product(slug: \"ridgeline-2-tent\") { id name stock priceCents category { slug } } \
                   categories { slug name } }";
    let (_, found) = gql(&client, token, product, json!({})).await;
    let tent = &found["data"]["product"];
    let (tent_id, _, stock_before) = app.product("ridgeline-2-tent").await;
    assert_eq!(tent["id"], tent_id.to_string());
    assert_eq!(tent["stock"], stock_before);
    assert!(!found["data"]["categories"].as_array().unwrap().is_empty());

    // Cart → checkout → pay → order.
    let add =
        "mutation($id: ID!) { cartAdd(productId: $id, quantity: 2) { itemCount totalCents lines { slug quantity } } }";
    let (_, cart) = gql(&client, token, add, json!({ "id": tent_id.to_string() })).await;
    assert_eq!(cart["data"]["cartAdd"]["itemCount"], 2, "{cart}");
    let checkout = "mutation { checkout(address: { name: \"Api Buyer\", line1: \"1 Main St\", city: \"Berlin\", \
                    postcode: \"10115\", country: \"DE\" }) }";
    let (_, placed) = gql(&client, token, checkout, json!({})).await;
    let order = placed["data"]["checkout"].as_str().unwrap_or_else(|| panic!("{placed}")).to_string();
    assert_eq!(app.stock(tent_id).await, stock_before - 2, "the stock is reserved");
    let pay = "mutation($order: ID!, $card: String!) { pay(orderId: $order, idempotencyKey: \"api-key-1\", \
               card: { number: $card, expiry: \"12/40\", cvc: \"123\" }) { outcome cardLast4 orderId } }";
    let (_, paid) = gql(&client, token, pay, json!({ "order": order, "card": SUCCEEDS })).await;
    assert_eq!(paid["data"]["pay"]["outcome"], "SUCCEEDED", "{paid}");
    // A retry with the same key gets the same answer and charges nothing more.
    let (_, again) = gql(&client, token, pay, json!({ "order": order, "card": SUCCEEDS })).await;
    assert_eq!(again["data"]["pay"], paid["data"]["pay"]);
    let charges = format!("SELECT count(*) FROM payments WHERE order_id = '{order}' AND outcome = 'succeeded'");
    assert_eq!(app.count(&charges).await, 1);
    let orders = "query($id: ID!) { orders { id status } order(id: $id) { summary { status totalCents } \
                  lines { slug quantity } history { to } } }";
    let (_, mine) = gql(&client, token, orders, json!({ "id": order })).await;
    assert_eq!(mine["data"]["orders"][0], json!({ "id": order, "status": "PAID" }), "{mine}");
    assert_eq!(mine["data"]["order"]["lines"], json!([{ "slug": "ridgeline-2-tent", "quantity": 2 }]));
    let history: Vec<&str> =
        mine["data"]["order"]["history"].as_array().unwrap().iter().map(|step| step["to"].as_str().unwrap()).collect();
    assert_eq!(history.last(), Some(&"PAID"), "{history:?}");

    // A shopper's token cannot do an admin's work, and the order stays paid.
    let fulfil = "mutation($id: ID!) { fulfilOrder(orderId: $id) }";
    let (_, refused) = gql(&client, token, fulfil, json!({ "id": order })).await;
    assert_eq!(error(&refused), Some(("you are not allowed to do that".into(), Some(403))), "{refused}");
    // A token cannot mint tokens.
    let (_, minted) =
        gql(&client, token, "mutation { createApiToken(name: \"x\", scope: \"read\", days: 1) { secret } }", json!({}))
            .await;
    assert_eq!(error(&minted).map(|(_, code)| code), Some(Some(403)));
    // A read token reads, and writes nothing.
    let (_, _, read_only) = token_for(&app, "api-reader", "read").await;
    let (_, read) = gql(&client, Some(&read_only), "{ cart { itemCount } }", json!({})).await;
    assert_eq!(read["data"]["cart"]["itemCount"], 0, "{read}");
    let (_, written) = gql(&client, Some(&read_only), add, json!({ "id": tent_id.to_string() })).await;
    assert_eq!(error(&written).map(|(_, code)| code), Some(Some(403)), "{written}");
    // A shopper cannot ask for an admin token.
    let (_, denied) = gql(
        &session,
        None,
        "mutation { createApiToken(name: \"x\", scope: \"admin\", days: 1) { secret } }",
        json!({}),
    )
    .await;
    assert_eq!(error(&denied).map(|(_, code)| code), Some(Some(403)));

    // Revoked: refused before anything runs.
    let revoke = "mutation($id: ID!) { revokeApiToken(id: $id) }";
    let (_, revoked) = gql(&session, None, revoke, json!({ "id": token_id })).await;
    assert_eq!(revoked["data"]["revokeApiToken"], true, "{revoked}");
    let (status, body) = gql(&client, token, "{ cart { itemCount } }", json!({})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error(&body).unwrap().0, "The token is unknown, revoked or expired.");
    let (status, _) = gql(&client, Some("cgp_0123456789abcdef"), "{ categories { slug } }", json!({})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, listed) = gql(&session, None, "{ apiTokens { id revoked } }", json!({})).await;
    assert_eq!(listed["data"]["apiTokens"], json!([{ "id": token_id, "revoked": true }]));

    // An admin's token fulfils the order.
    let (_, _, admin_token) = token_for(&app, "admin", "admin").await;
    let (_, shipped) = gql(&client, Some(&admin_token), fulfil, json!({ "id": order })).await;
    assert_eq!(shipped["data"]["fulfilOrder"], "FULFILLED", "{shipped}");

    // An admin's token creates and edits products, under the back office's rules; a shopper's cannot.
    let create = "mutation($input: ProductInput!) { createProduct(input: $input) { id slug name priceCents stock } }";
    let input = json!({ "name": "Api Lantern", "categorySlug": "trail-camp", "priceCents": 1999, "stock": 4 });
    let (_, refused) = gql(&client, Some(&read_only), create, json!({ "input": input })).await;
    assert_eq!(error(&refused).map(|(_, code)| code), Some(Some(403)), "{refused}");
    let (_, created) = gql(&client, Some(&admin_token), create, json!({ "input": input })).await;
    let product = &created["data"]["createProduct"];
    assert_eq!(
        (product["slug"].as_str(), product["priceCents"].as_i64()),
        (Some("api-lantern"), Some(1999)),
        "{created}"
    );
    let bad = json!({ "name": "", "categorySlug": "trail-camp", "priceCents": 0, "stock": -1 });
    let (_, invalid) = gql(&client, Some(&admin_token), create, json!({ "input": bad })).await;
    let (message, code) = error(&invalid).unwrap();
    assert_eq!(code, Some(422), "{invalid}");
    assert!(message.contains("a name of 1 to 120 characters") && message.contains("a price between"), "{message}");
    let update = "mutation($id: ID!, $input: ProductInput!, $was: Int) { updateProduct(id: $id, input: $input, stockWas: $was)                   { name priceCents stock } }";
    let edited = json!({ "name": "Api Lantern", "categorySlug": "trail-camp", "priceCents": 1499, "stock": 10 });
    let (_, updated) = gql(&client, Some(&admin_token), update, json!({ "id": product["id"], "input": edited })).await;
    assert_eq!(
        updated["data"]["updateProduct"],
        json!({ "name": "Api Lantern", "priceCents": 1499, "stock": 10 }),
        "{updated}"
    );
    // With `stockWas`, the stock is an adjustment: +2 on what is there now.
    let adjust = json!({ "name": "Api Lantern", "categorySlug": "trail-camp", "priceCents": 1499, "stock": 6 });
    let (_, adjusted) =
        gql(&client, Some(&admin_token), update, json!({ "id": product["id"], "input": adjust, "was": 4 })).await;
    assert_eq!(adjusted["data"]["updateProduct"]["stock"], 12, "{adjusted}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_limits_refuse_costly_and_malformed_queries_and_the_api_answers_after() {
    let app = TestApp::builder().spawn().await;
    let client = app.another_browser();
    // Too deep.
    let deep = "{ __schema { types { fields { type { ofType { ofType { ofType { ofType { ofType { ofType { name } } } } } } } } } } }";
    let (_, body) = gql(&client, None, deep, json!({})).await;
    assert!(error(&body).unwrap().0.to_lowercase().contains("nested too deep"), "{body}");
    // Too costly: aliases of the largest page.
    let costly: String = (0..10)
        .map(|n| format!("p{n}: products(first: 50) {{ nodes {{ id slug name priceCents currency stock }} }} "))
        .collect();
    let (_, body) = gql(&client, None, &format!("{{ {costly} }}"), json!({})).await;
    assert!(error(&body).unwrap().0.to_lowercase().contains("complex"), "{body}");
    // A page too large, a cursor we never gave out, a product id that is no number: clear errors, no internals.
    let (_, body) = gql(&client, None, "{ products(first: 500) { totalCount } }", json!({})).await;
    assert_eq!(error(&body), Some(("`first` must be 1 to 50.".into(), Some(422))));
    let (_, body) = gql(&client, None, "{ products(after: \"b3JkZXJzOjE\") { totalCount } }", json!({})).await;
    assert_eq!(error(&body), Some(("The cursor is not one this API gave out.".into(), Some(422))));
    let (_, body) = gql(
        &client,
        None,
        "mutation { cartAdd(productId: \"x'; DROP TABLE products\", quantity: 1) { itemCount } }",
        json!({}),
    )
    .await;
    assert_eq!(error(&body).map(|(_, code)| code), Some(Some(422)));
    let (_, body) = gql(&client, None, "{ orders { id } }", json!({})).await;
    assert_eq!(error(&body), Some(("please sign in first".into(), Some(401))));
    let (status, _) = gql(&client, None, "{ products(", json!({})).await;
    assert!(status == StatusCode::OK || status == StatusCode::BAD_REQUEST);
    let (status, _) = app
        .another_browser()
        .client
        .post(app.url("/graphql"))
        .header("authorization", "Basic YWRtaW46YWRtaW4=")
        .json(&json!({ "query": "{ categories { slug } }" }))
        .send()
        .await
        .map(|response| (response.status(), ()))
        .unwrap();
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // After all that, an ordinary visitor browses and fills a cart.
    let (tent, _, _) = app.product("ridgeline-2-tent").await;
    let (_, found) = gql(&client, None, "{ products(query: \"tent\") { totalCount } }", json!({})).await;
    assert!(found["data"]["products"]["totalCount"].as_i64().unwrap() >= 1, "{found}");
    let add = "mutation($id: ID!) { cartAdd(productId: $id, quantity: 1) { itemCount } }";
    let (_, cart) = gql(&client, None, add, json!({ "id": tent.to_string() })).await;
    assert_eq!(cart["data"]["cartAdd"]["itemCount"], 1, "{cart}");
    let (_, cart) = gql(&client, None, "{ cart { itemCount lines { slug } } }", json!({})).await;
    assert_eq!(cart["data"]["cart"]["lines"], json!([{ "slug": "ridgeline-2-tent" }]), "the visit keeps its cart");

    // GraphiQL in dev mode.
    let page = client.client.get(app.url("/graphql")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("graphiql"));
}

#[test]
fn the_schema_in_docs_is_the_codes() {
    let documented = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/schema.graphql"))
        .expect("docs/schema.graphql");
    assert!(
        documented == cartograph::graphql::sdl(),
        "docs/schema.graphql differs from the code's schema: run `cargo run -p server -- graphql-schema > docs/schema.graphql`"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_an_allow_list_only_its_operations_run_by_id_or_by_text() {
    use cartograph::graphql::allowlist::{id_of, manifest_of};
    let shelf = "query Shelf { categories { slug } }".to_string();
    let manifest = manifest_of(&[("shelf.graphql".into(), shelf.clone())]).unwrap();
    let path = std::env::temp_dir().join(format!("cartograph-allowlist-{}.json", uuid::Uuid::new_v4().simple()));
    std::fs::write(&path, serde_json::to_string(&manifest).unwrap()).unwrap();
    let file = path.to_string_lossy().into_owned();
    let app = TestApp::builder().with_settings(|settings| settings.graphql.allowlist = Some(file)).spawn().await;

    // Anything else is refused before it is parsed, introspection included.
    for query in
        ["{ products { totalCount } }", "{ __schema { types { name } } }", "query Shelf { categories { name } }"]
    {
        let (status, body) = gql(&app, None, query, json!({})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(error(&body).unwrap().0, "This API runs only the queries on its allow-list.");
    }
    let unknown = json!({ "extensions": { "persistedQuery": { "version": 1, "sha256Hash": "ab".repeat(32) } } });
    let response = app.client.post(app.url("/graphql")).json(&unknown).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error(&response.json().await.unwrap()).unwrap().0, "PersistedQueryNotFound");

    // The listed operation runs by id (no text) and by its exact text.
    let by_id = json!({ "extensions": { "persistedQuery": { "version": 1, "sha256Hash": id_of(&shelf) } } });
    let response = app.client.post(app.url("/graphql")).json(&by_id).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert!(!body["data"]["categories"].as_array().unwrap().is_empty(), "{body}");
    let (status, body) = gql(&app, None, &shelf, json!({})).await;
    assert_eq!((status, body["errors"].is_null()), (StatusCode::OK, true), "{body}");

    // A manifest whose id is not its body's hash stops the server at start, with the reason.
    let mut forged = manifest;
    forged.operations[0].body = "query Shelf { products { totalCount } }".into();
    std::fs::write(&path, serde_json::to_string(&forged).unwrap()).unwrap();
    let mut settings = crate::helpers::test_settings().await;
    settings.graphql.allowlist = Some(path.to_string_lossy().into_owned());
    let refused = cartograph::graphql::Api::new(&settings).err().expect("a forged manifest is refused").to_string();
    assert!(refused.contains("is not the SHA-256 of its body"), "{refused}");
    std::fs::remove_file(&path).unwrap();
}

#[tokio::test]
async fn a_token_chooses_a_size_and_the_order_names_it() {
    let app = TestApp::builder().spawn().await;
    let (_session, _, secret) = token_for(&app, "api-sized", "write").await;
    let client = app.another_browser();
    let token = Some(secret.as_str());
    let product = "{ product(slug: \"trail-running-shoes\") { id options { name choices } \
                   variants { id sku options priceCents stock } } }";
    let (_, found) = gql(&client, token, product, json!({})).await;
    let shoes = &found["data"]["product"];
    assert_eq!(
        shoes["options"],
        json!([{ "name": "Size", "choices": ["40", "41", "42", "43", "44", "45"] }]),
        "{found}"
    );
    let variants = shoes["variants"].as_array().unwrap();
    assert_eq!(variants.len(), 6);
    let size_45 = variants.iter().find(|variant| variant["options"] == json!(["45"])).unwrap();
    assert_eq!(
        (size_45["sku"].as_str(), size_45["priceCents"].as_i64()),
        (Some("TRAIL-RUNNING-SHOES-45"), Some(14900))
    );

    let add = "mutation($p: ID!, $v: ID) { cartAdd(productId: $p, variantId: $v, quantity: 1) \
               { totalCents lines { sku variant unitPriceCents } } }";
    let (_, refused) = gql(&client, token, add, json!({ "p": shoes["id"], "v": null })).await;
    let (message, _) = error(&refused).unwrap_or_default();
    assert!(message.contains("Choose the size of Trail Running Shoes first"), "{refused}");
    let (_, cart) = gql(&client, token, add, json!({ "p": shoes["id"], "v": size_45["id"] })).await;
    let line = json!([{ "sku": "TRAIL-RUNNING-SHOES-45", "variant": "45", "unitPriceCents": 14900 }]);
    assert_eq!(cart["data"]["cartAdd"]["lines"], line, "{cart}");
    let checkout = "mutation { checkout(address: { name: \"Api Buyer\", line1: \"1 Main St\", city: \"Berlin\", \
                    postcode: \"10115\", country: \"DE\" }) }";
    let (_, placed) = gql(&client, token, checkout, json!({})).await;
    let order = placed["data"]["checkout"].as_str().unwrap_or_else(|| panic!("{placed}")).to_string();
    let pay = "mutation($order: ID!, $card: String!) { pay(orderId: $order, idempotencyKey: \"api-size-1\", \
               card: { number: $card, expiry: \"12/40\", cvc: \"123\" }) { outcome } }";
    let (_, paid) = gql(&client, token, pay, json!({ "order": order, "card": SUCCEEDS })).await;
    assert_eq!(paid["data"]["pay"]["outcome"], "SUCCEEDED", "{paid}");
    let query = "query($id: ID!) { order(id: $id) { summary { totalCents } lines { sku variant quantity } } }";
    let (_, mine) = gql(&client, token, query, json!({ "id": order })).await;
    assert_eq!(mine["data"]["order"]["summary"]["totalCents"], 14900);
    assert_eq!(
        mine["data"]["order"]["lines"],
        json!([{ "sku": "TRAIL-RUNNING-SHOES-45", "variant": "45", "quantity": 1 }])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_applies_a_code_and_the_order_keeps_its_discount() {
    let app = TestApp::builder().spawn().await;
    let (_session, _, secret) = token_for(&app, "api-saver", "write").await;
    let client = app.another_browser();
    let token = Some(secret.as_str());
    let (_, found) = gql(&client, token, "{ product(slug: \"oak-cutting-board\") { id priceCents } }", json!({})).await;
    let board = &found["data"]["product"];
    assert_eq!(board["priceCents"], 5400, "{found}");
    let add = "mutation($p: ID!) { cartAdd(productId: $p, quantity: 2) { subtotalCents totalCents } }";
    let (_, cart) = gql(&client, token, add, json!({ "p": board["id"] })).await;
    assert_eq!(cart["data"]["cartAdd"], json!({ "subtotalCents": 10800, "totalCents": 10800 }), "{cart}");

    let apply = "mutation($code: String!) { cartApplyCoupon(code: $code) { subtotalCents totalCents couponCode \
                 couponRefusal discounts { label code amountCents } } }";
    let (_, unknown) = gql(&client, token, apply, json!({ "code": "welcome-99" })).await;
    let (message, _) = error(&unknown).unwrap_or_default();
    assert!(message.contains("There is no code WELCOME-99"), "{unknown}");
    // The demo's first-order code, in any case.
    let (_, applied) = gql(&client, token, apply, json!({ "code": "welcome10" })).await;
    let discount = json!([{ "label": "Welcome: 10 % off a first order", "code": "WELCOME10", "amountCents": 1080 }]);
    assert_eq!(applied["data"]["cartApplyCoupon"]["discounts"], discount, "{applied}");
    assert_eq!(applied["data"]["cartApplyCoupon"]["totalCents"], 9720);
    assert_eq!(applied["data"]["cartApplyCoupon"]["couponRefusal"], Value::Null);

    let checkout = "mutation { checkout(address: { name: \"Api Saver\", line1: \"1 Main St\", city: \"Berlin\", \
                    postcode: \"10115\", country: \"DE\" }) }";
    let (_, placed) = gql(&client, token, checkout, json!({})).await;
    let order = placed["data"]["checkout"].as_str().unwrap_or_else(|| panic!("{placed}")).to_string();
    let query =
        "query($id: ID!) { order(id: $id) { subtotalCents summary { totalCents } discounts { code amountCents } } }";
    let (_, mine) = gql(&client, token, query, json!({ "id": order })).await;
    assert_eq!(
        mine["data"]["order"],
        json!({ "subtotalCents": 10800, "summary": { "totalCents": 9720 }, "discounts": [{ "code": "WELCOME10", "amountCents": 1080 }] }),
        "{mine}"
    );
    // The next cart: the order awaiting payment holds the one use a customer has, so the code is refused.
    gql(&client, token, add, json!({ "p": board["id"] })).await;
    let (_, again) = gql(&client, token, apply, json!({ "code": "WELCOME10" })).await;
    let (message, _) = error(&again).unwrap_or_default();
    assert!(message.contains("You have already used the code WELCOME10"), "{again}");
}
