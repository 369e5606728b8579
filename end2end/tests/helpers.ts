import { execFileSync } from "node:child_process";
import { test as base, expect, type Page } from "@playwright/test";

/** Every test fails if the WASM app panics in its page (a hydration mismatch shows up as one). */
export const test = base.extend<{ noWasmPanics: void }>({
  noWasmPanics: [
    async ({ page }, use) => {
      const panics: string[] = [];
      page.on("console", (message) => {
        if (message.text().includes("panicked at")) panics.push(message.text().split("\n")[0]);
      });
      await use();
      expect(panics, "the WASM app panicked").toEqual([]);
    },
    { auto: true },
  ],
});

/** Runs a single-value SQL query against the app's database (the same one the worker writes to). */
export function sqlValue(query: string): string {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error("DATABASE_URL is not set: run the browser tests through scripts/test.sh");
  return execFileSync("psql", [url, "-qAt", "-c", query], { encoding: "utf8" }).trim();
}

/** Opens a page and waits until the WASM bundle has hydrated it. */
export async function openHydrated(page: Page, path: string) {
  await page.goto(path);
  await expect(page.locator("main")).toHaveAttribute("data-hydrated", "true");
}

/** Signs in at the dev OpenID provider's login form with any password, from the page's `link` ("Sign in", or the cart's "Sign in to check out"). */
export async function signIn(page: Page, login: string, link = "Sign in") {
  await page.getByRole("link", { name: link }).click();
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill("any password");
  await page.locator(".login-submit").click();
  await expect(page.locator("main")).toHaveAttribute("data-hydrated", "true");
}

/** On the checkout page: fills the shipping address for `name` and reserves; returns on the order page. */
export async function reserveTo(page: Page, name: string, delivery?: string | RegExp) {
  await page.getByLabel("Full name").fill(name);
  await page.getByLabel("Street address").fill("1 Main Street");
  await page.getByLabel("City").fill("Berlin");
  await page.getByLabel("Postcode").fill("10115");
  await page.getByLabel("Country code").fill("DE");
  await page.getByRole("button", { name: "Continue to delivery" }).click();
  await expect(page).toHaveURL(/\/checkout\/delivery$/);
  if (delivery) await page.getByRole("radio", { name: delivery }).check();
  await page.getByRole("button", { name: "Reserve and continue to payment" }).click();
  await expect(page).toHaveURL(/\/orders\/[0-9a-f-]{36}$/);
}

/** On an order awaiting payment: pays with `card` (a valid expiry and CVC). */
export async function pay(page: Page, card: string) {
  await page.getByLabel("Card number").fill(card);
  await page.getByLabel("Expiry (MM/YY)").fill("12/40");
  await page.getByLabel("CVC").fill("123");
  await page.getByRole("button", { name: "Pay now" }).click();
}

export interface TopicEvent {
  type: string;
  path: string;
  client_ts: number | null;
  seq: number;
  [field: string]: unknown;
}

/** The visit's events as they sit in the clickstream topic (read with the app's own `read-topic` command). */
export function topicEvents(visitId: string): TopicEvent[] {
  const bin = process.env.CARTOGRAPH_BIN;
  if (!bin) throw new Error("CARTOGRAPH_BIN is not set: run the browser tests through scripts/test.sh");
  const out = execFileSync(bin, ["read-topic", "clickstream.v1", visitId], { encoding: "utf8" });
  return out
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line).value as TopicEvent)
    .sort((a, b) => (a.client_ts ?? 0) - (b.client_ts ?? 0) || a.seq - b.seq);
}
