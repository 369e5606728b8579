import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createHmac, timingSafeEqual } from "node:crypto";
import { expect } from "@playwright/test";
import { GraphQLClient, gql } from "graphql-request";
import { test, openHydrated, signIn } from "./helpers";

// Webhooks seen from a partner's side: a small HTTP server in the test's Node runtime receives the shop's
// deliveries and checks each signature the way the README tells a receiver to; it fails the first delivery with
// a 500, and the shop's worker retries; the admin replays it from the back office.

/** The README's verification recipe, as a receiver runs it: HMAC-SHA256 of `${t}.${rawBody}`, compared in constant
 * time, and a timestamp no older than five minutes. */
function verify(secret: string, header: string, rawBody: string, toleranceSecs = 300): boolean {
  const fields = header.split(",").map((part) => part.split("=", 2) as [string, string]);
  const t = Number(fields.find(([key]) => key === "t")?.[1]);
  if (!Number.isFinite(t) || Math.abs(Date.now() / 1000 - t) > toleranceSecs) return false;
  const expected = Buffer.from(createHmac("sha256", secret).update(`${t}.${rawBody}`).digest("hex"));
  return fields
    .filter(([key]) => key === "v1")
    .some(([, signature]) => signature.length === expected.length && timingSafeEqual(Buffer.from(signature), expected));
}

interface Delivery {
  event: string;
  eventId: string;
  delivery: string;
  signature: string;
  body: string;
}

/** A receiver on a free port of this machine: answers 500 to the first delivery of a product named `name`, 200 to
 * everything else, and keeps what it got. */
async function startReceiver(name: string): Promise<{ server: Server; url: string; got: Delivery[] }> {
  const got: Delivery[] = [];
  const read = (request: IncomingMessage) =>
    new Promise<string>((resolve) => {
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    });
  const server = createServer(async (request, response) => {
    const body = await read(request);
    const header = (key: string) => String(request.headers[key] ?? "");
    const ours = body.includes(name);
    if (ours) {
      got.push({
        event: header("cartograph-event"),
        eventId: header("cartograph-event-id"),
        delivery: header("cartograph-delivery"),
        signature: header("cartograph-signature"),
        body,
      });
    }
    response.statusCode = ours && got.length === 1 ? 500 : 200;
    response.end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}/hooks/cartograph`, got };
}

test("an admin registers a webhook; deliveries are signed, retried after a 500, recorded and replayed", async ({ browser, baseURL }) => {
  const name = `Webhook Lantern ${Date.now()}`;
  const receiver = await startReceiver(name);
  const context = await browser.newContext();
  const admin = await context.newPage();
  await openHydrated(admin, "/");
  await signIn(admin, "admin");

  // Register in the back office (a plain form): the browser lands on the endpoint's page, with its secret.
  await admin.goto("/admin/webhooks");
  await admin.getByLabel("URL").fill(receiver.url);
  await admin.getByLabel("Description").fill("the e2e receiver");
  await admin.getByLabel("product.created").check();
  await admin.getByRole("button", { name: "Add the endpoint" }).click();
  await expect(admin.getByRole("heading", { name: "Webhook endpoint" })).toBeVisible();
  await admin.getByText("Show").click();
  const secret = (await admin.getByTestId("webhook-secret").textContent())!.trim();
  expect(secret).toMatch(/^whsec_[0-9a-f]{64}$/);

  // A product created through the API (the admin's session, same origin): the event the endpoint asked for.
  const created = await admin.request.post("/graphql", {
    data: {
      query: "mutation($name: String!) { createProduct(input: { name: $name, categorySlug: \"trail-camp\", priceCents: 2450, stock: 3 }) { id slug } }",
      variables: { name },
    },
  });
  const createdBody = await created.json();
  expect(createdBody.errors).toBeUndefined();

  // The receiver refuses the first delivery; the worker tries again and it lands. Both carry a valid signature
  // over the same body and delivery id.
  await expect.poll(() => receiver.got.length, { timeout: 30_000 }).toBe(2);
  const [first, second] = receiver.got;
  for (const delivery of [first, second]) {
    expect(verify(secret, delivery.signature, delivery.body)).toBe(true);
    expect(verify("whsec_" + "0".repeat(64), delivery.signature, delivery.body)).toBe(false);
    expect(delivery.event).toBe("product.created");
  }
  expect(second.body).toBe(first.body);
  expect(second.delivery).toBe(first.delivery);
  const event = JSON.parse(first.body);
  expect(event).toMatchObject({ id: first.eventId, type: "product.created", data: { after: { name, price_cents: 2450, stock: 3 } } });

  // The endpoint's page shows both attempts, then the replay.
  await admin.reload();
  const row = admin.locator(`tr[data-delivery="${first.delivery}"]`);
  await expect(row.getByTestId("delivery-state")).toHaveText("delivered");
  await expect(row.locator("ol.attempts li")).toHaveCount(2);
  await expect(row.locator("ol.attempts li").first()).toContainText("HTTP 500");
  await expect(row.locator("ol.attempts li").last()).toContainText("HTTP 200");
  await row.getByRole("button", { name: "Replay" }).click();
  await expect.poll(() => receiver.got.length, { timeout: 30_000 }).toBe(3);
  const replayed = receiver.got[2];
  expect(replayed.body).toBe(first.body);
  expect(replayed.eventId).toBe(first.eventId);
  expect(verify(secret, replayed.signature, replayed.body)).toBe(true);
  await admin.reload();
  await expect(row.locator("ol.attempts li")).toHaveCount(3);

  // A shopper's token cannot create products, and nothing of theirs reaches the receiver.
  const shopperContext = await browser.newContext();
  const shopper = await shopperContext.newPage();
  await openHydrated(shopper, "/");
  await signIn(shopper, "webhook-shopper");
  const token = await shopper.request.post("/graphql", {
    data: { query: "mutation { createApiToken(name: \"e2e\", scope: \"write\", days: 1) { secret } }" },
  });
  const secretOfShopper = (await token.json()).data.createApiToken.secret as string;
  const api = new GraphQLClient(`${baseURL}/graphql`, { headers: { authorization: `Bearer ${secretOfShopper}` } });
  const refused = await api
    .request(gql`mutation($name: String!) { createProduct(input: { name: $name, categorySlug: "trail-camp", priceCents: 100, stock: 1 }) { id } }`, {
      name: `${name} (forged)`,
    })
    .then(
      () => null,
      (error) => error.response?.errors?.[0]?.extensions?.code,
    );
  expect(refused).toBe(403);

  await shopperContext.close();
  await context.close();
  receiver.server.close();
});
