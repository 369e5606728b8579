import { expect } from "@playwright/test";
import { ClientError, GraphQLClient, gql } from "graphql-request";
import { test, openHydrated, signIn } from "./helpers";

// The GraphQL API driven by a client that is not ours: graphql-request (pinned in package-lock.json) from the
// test's Node runtime, with a personal API token the shopper created while signed in on the site.

/** Signs `login` in on a page of its own and creates a token with `scope`; returns its id and secret. */
async function createToken(browser: import("@playwright/test").Browser, login: string, scope: string) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await openHydrated(page, "/");
  await signIn(page, login);
  // The browser's own request context: the shop's session cookie, same origin.
  const response = await page.request.post("/graphql", {
    data: {
      query: "mutation($scope: String!) { createApiToken(name: \"e2e\", scope: $scope, days: 1) { secret token { id } } }",
      variables: { scope },
    },
  });
  expect(response.status()).toBe(200);
  const body = await response.json();
  expect(body.errors).toBeUndefined();
  return { context, page, id: body.data.createApiToken.token.id as string, secret: body.data.createApiToken.secret as string };
}

/** The status and the first error's code of a failed request. */
async function failure(request: Promise<unknown>): Promise<{ status: number; code: unknown; message: string }> {
  try {
    await request;
  } catch (error) {
    if (error instanceof ClientError) {
      const first = error.response.errors?.[0];
      return { status: error.response.status, code: first?.extensions?.code, message: first?.message ?? "" };
    }
    throw error;
  }
  throw new Error("the request succeeded");
}

test("a GraphQL client browses, buys and pays with a token; scopes, revocation and limits hold", async ({ browser, baseURL }) => {
  const shopper = await createToken(browser, "graphql-shopper", "write");
  const api = new GraphQLClient(`${baseURL}/graphql`, { headers: { authorization: `Bearer ${shopper.secret}` } });

  // Browse → cart → checkout → pay → order.
  const found = await api.request<{ products: { totalCount: number; nodes: { id: string; slug: string }[] } }>(gql`
    { products(query: "bottle", inStock: true, first: 5) { totalCount nodes { id slug } } }
  `);
  const bottle = found.products.nodes.find((product) => product.slug === "glacier-insulated-bottle")!;
  expect(bottle).toBeTruthy();
  const cart = await api.request<{ cartAdd: { itemCount: number } }>(
    gql`mutation($id: ID!) { cartAdd(productId: $id, quantity: 1) { itemCount } }`,
    { id: bottle.id },
  );
  expect(cart.cartAdd.itemCount).toBe(1);
  const placed = await api.request<{ checkout: string }>(gql`
    mutation { checkout(address: { name: "Gee Client", line1: "1 Main St", city: "Berlin", postcode: "10115", country: "DE" }) }
  `);
  const pay = gql`mutation($order: ID!) {
    pay(orderId: $order, idempotencyKey: "e2e-graphql-1", card: { number: "4242 4242 4242 4242", expiry: "12/40", cvc: "123" }) { outcome }
  }`;
  const paid = await api.request<{ pay: { outcome: string } }>(pay, { order: placed.checkout });
  expect(paid.pay.outcome).toBe("SUCCEEDED");
  const orders = await api.request<{ orders: { id: string; status: string }[] }>(gql`{ orders { id status } }`);
  expect(orders.orders).toContainEqual({ id: placed.checkout, status: "PAID" });
  // The site shows the order the API placed.
  await shopper.page.goto(`/orders/${placed.checkout}`);
  await expect(shopper.page.getByText("Glacier Insulated Bottle")).toBeVisible();

  // A shopper's token is refused the back office's work.
  const refused = await failure(api.request(gql`mutation($id: ID!) { fulfilOrder(orderId: $id) }`, { id: placed.checkout }));
  expect(refused.code).toBe(403);
  // Too deep a query is refused before it runs.
  const deep = await failure(
    api.request(gql`{ __schema { types { fields { type { ofType { ofType { ofType { ofType { ofType { ofType { name } } } } } } } } } } }`),
  );
  expect(deep.message.toLowerCase()).toContain("nested too deep");

  // Revoked with the session: the token stops at once, with 401.
  const revoked = await shopper.page.request.post("/graphql", {
    data: { query: "mutation($id: ID!) { revokeApiToken(id: $id) }", variables: { id: shopper.id } },
  });
  expect((await revoked.json()).data.revokeApiToken).toBe(true);
  const after = await failure(api.request(gql`{ cart { itemCount } }`));
  expect(after.status).toBe(401);

  // An ordinary anonymous client still browses.
  const anonymous = new GraphQLClient(`${baseURL}/graphql`);
  const categories = await anonymous.request<{ categories: { slug: string }[] }>(gql`{ categories { slug } }`);
  expect(categories.categories.length).toBeGreaterThan(0);
  await shopper.context.close();
});

test("the account page creates a token, shows its secret once, and revokes it, without script", async ({ browser, baseURL }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  // Signed in with script on (the provider's pages), then the token page with none.
  const signing = await browser.newContext();
  const signer = await signing.newPage();
  await openHydrated(signer, "/");
  await signIn(signer, "token-keeper");
  await context.addCookies(await signing.cookies());
  await signing.close();

  await page.goto("/account/tokens");
  await expect(page.getByRole("heading", { level: 1, name: "API tokens" })).toBeVisible();
  await expect(page.getByText("No tokens yet.")).toBeVisible();
  await page.getByLabel("Name").fill("my laptop");
  await page.getByLabel("Scope").selectOption("write");
  await page.getByRole("button", { name: "Create a token" }).click();
  await expect(page).toHaveURL(/\/account\/tokens\??$/);
  const secret = (await page.getByTestId("new-token").locator("code").textContent())!.trim();
  expect(secret).toMatch(/^cgp_[0-9a-f]{64}$/);
  await expect(page.getByTestId("tokens").getByRole("row", { name: /my laptop/ })).toContainText("live");

  // The secret works, and is never shown again.
  const api = new GraphQLClient(`${baseURL}/graphql`, { headers: { authorization: `Bearer ${secret}` } });
  const cart = await api.request<{ cart: { itemCount: number } }>(gql`{ cart { itemCount } }`);
  expect(cart.cart.itemCount).toBe(0);
  await page.reload();
  await expect(page.getByTestId("new-token")).toHaveCount(0);

  // Revoked from the page: the API refuses it at once.
  await page.getByTestId("tokens").getByRole("row", { name: /my laptop/ }).getByRole("button", { name: "Revoke" }).click();
  await expect(page.getByTestId("tokens").getByRole("row", { name: /my laptop/ })).toContainText("revoked or expired");
  expect((await failure(api.request(gql`{ cart { itemCount } }`))).status).toBe(401);
  // A bad request comes back with its reason.
  await page.getByLabel("Name").fill("   ");
  await page.getByRole("button", { name: "Create a token" }).click();
  await expect(page.getByRole("alert")).toContainText("name of 1 to 80 characters");
  await context.close();
});
