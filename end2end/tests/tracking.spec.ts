import { expect } from "@playwright/test";
import { test, openHydrated, topicEvents } from "./helpers";

test("a scripted visit lands in the topic in order, the last page flushed on pagehide", async ({ browser }) => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await openHydrated(page, "/");
  const visit = (await context.cookies()).find((c) => c.name === "cg_visit")!.value.split(".")[0];

  await page.getByRole("searchbox", { name: "Search the shop" }).fill("tent");
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
