import { expect } from "@playwright/test";
import { test, openHydrated, topicEvents } from "./helpers";

test("a scripted visit lands in the topic in order, the last page flushed on pagehide", async ({ browser }) => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await openHydrated(page, "/");
  const visit = (await context.cookies()).find((c) => c.name === "cg_visit")!.value.split(".")[0];

  await page.getByRole("combobox", { name: "Search the shop" }).fill("tent");
  await page.getByRole("button", { name: "Search" }).click();
  await expect(page.locator("main")).toHaveAttribute("data-hydrated", "true");
  await page.getByRole("heading", { name: "Ridgeline 2 Tent" }).click();
  await expect(page).toHaveURL(/\/product\/ridgeline-2-tent/);
  await page.getByRole("button", { name: "Add to cart" }).click();
  await expect(page.getByText("Added to your cart")).toBeVisible();
  await page.getByRole("link", { name: "Shop", exact: true }).click();
  await expect(page).toHaveURL(/\/products$/);
  // Every page is a full load, and its tracker starts with its islands (as on a visit's first page). Once it
  // has, close the tab at once: the last page's events can only leave with the pagehide beacon.
  await expect(page.locator("main")).toHaveAttribute("data-hydrated", "true");
  await page.close({ runBeforeUnload: true });

  await expect
    .poll(() => topicEvents(visit).some((e) => e.type === "page_leave" && e.path === "/products"), { timeout: 30_000 })
    .toBe(true);
  const events = topicEvents(visit);
  const views = events.filter((e) => e.type === "page_view").map((e) => e.path);
  expect(views).toEqual(["/", "/products?q=tent", "/product/ridgeline-2-tent", "/products"]);
  const types = events.map((e) => e.type);
  const at = (type: string) => types.indexOf(type);
  expect(at("search")).toBeGreaterThan(-1);
  expect(events.find((e) => e.type === "search")!.query).toBe("tent");
  expect(at("product_view")).toBeGreaterThan(types.indexOf("page_view", at("search")));
  expect(at("cart_add")).toBeGreaterThan(at("product_view"));
  const clicks = events.filter((e) => e.type === "click").map((e) => e.label);
  expect(clicks).toContain("Add to cart");
  expect(clicks).toContain("Shop");
  expect(events.every((e) => !JSON.stringify(e).includes('"value"')), "input values are never recorded").toBe(true);
  await context.close();
});

test("with Do-Not-Track on, nothing is sent", async ({ browser }) => {
  const context = await browser.newContext();
  await context.addInitScript(() => Object.defineProperty(Navigator.prototype, "doNotTrack", { get: () => "1" }));
  const page = await context.newPage();
  let posts = 0;
  page.on("request", (request) => {
    if (request.url().endsWith("/api/events")) posts += 1;
  });
  await openHydrated(page, "/");
  const visit = (await context.cookies()).find((c) => c.name === "cg_visit")!.value.split(".")[0];
  await page.getByRole("link", { name: "Shop", exact: true }).click();
  await expect(page).toHaveURL(/\/products$/);
  await expect(page.getByText("Journey recording is off")).toBeVisible();
  await page.waitForTimeout(4_000);
  await page.close({ runBeforeUnload: true });
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  expect(posts).toBe(0);
  expect(topicEvents(visit)).toEqual([]);
  await context.close();
});

test("switching journey recording off in the footer stops sending", async ({ page, context }) => {
  await openHydrated(page, "/");
  await page.getByRole("checkbox", { name: /Record my journey/ }).uncheck();
  let posts = 0;
  page.on("request", (request) => {
    if (request.url().endsWith("/api/events")) posts += 1;
  });
  await page.getByRole("link", { name: "Shop", exact: true }).click();
  await expect(page).toHaveURL(/\/products$/);
  await page.waitForTimeout(4_000);
  expect(posts).toBe(0);
  await page.reload();
  await expect(page.getByRole("checkbox", { name: /Record my journey/ })).not.toBeChecked();
  void context;
});

test("a struggling shopper's rage click, dead click and quick back, and each page's Web Vitals, reach the topic", async ({
  browser,
}) => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await openHydrated(page, "/");
  const visit = (await context.cookies()).find((c) => c.name === "cg_visit")!.value.split(".")[0];
  await openHydrated(page, "/product/ember-camp-stove");
  // The product photo is not a link: four clicks on it, each within a second of the last (and apart enough not
  // to be a double click), change nothing.
  const photo = page.locator("article.product-page img");
  for (let i = 0; i < 4; i++) {
    if (i > 0) await page.waitForTimeout(550);
    await photo.click();
  }
  await page.waitForTimeout(1_200);
  // Back to the home page within seconds of arriving: a quick back.
  await page.goBack();
  await expect(page.locator("main")).toHaveAttribute("data-hydrated", "true");
  await page.close({ runBeforeUnload: true });

  const product = "/product/ember-camp-stove";
  await expect
    .poll(() => topicEvents(visit).filter((e) => e.path === product).map((e) => e.type), { timeout: 30_000 })
    .toEqual(expect.arrayContaining(["rage_click", "dead_click", "web_vitals", "quick_back", "page_leave"]));
  const events = topicEvents(visit).filter((e) => e.path === product);
  expect(events.find((e) => e.type === "rage_click")).toMatchObject({ element: "img", label: "Ember Camp Stove", clicks: 4 });
  // The topic is at-least-once (a batch in flight when the page is left is sent again, with the same event ids,
  // and the consumer stores each id once): count distinct events.
  const deadClicks = new Set(events.filter((e) => e.type === "dead_click").map((e) => e.event_id));
  expect(deadClicks.size, "one dead click for the burst, not four").toBe(1);
  expect(events.find((e) => e.type === "dead_click")).toMatchObject({ element: "img", label: "Ember Camp Stove" });
  const vitals = events.find((e) => e.type === "web_vitals")!;
  expect(vitals.lcp_ms as number).toBeGreaterThan(0);
  expect(typeof vitals.cls_milli).toBe("number");
  expect(events.find((e) => e.type === "quick_back")!.duration_ms as number).toBeLessThanOrEqual(5_000);
  // The home page before it reported its own vitals when it was left.
  await expect
    .poll(() => topicEvents(visit).some((e) => e.type === "web_vitals" && e.path === "/"), { timeout: 30_000 })
    .toBe(true);
  await context.close();
});
