import { expect } from "@playwright/test";
import { test, openHydrated, signIn, sqlValue } from "./helpers";

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });

  test("the home page is rendered on the server with the catalog", async ({ page }) => {
    await page.goto("/");
    await expect(page.getByRole("heading", { name: "Trail & Camp" })).toBeVisible();
    // In its category's shelf: the products other shoppers viewed most may also be "Popular right now" above.
    const shelf = page.locator('section[data-category="trail-camp"]');
    await expect(shelf.getByRole("heading", { name: "Ridgeline 2 Tent" })).toBeVisible();
    await expect(page.locator(".product-tile")).not.toHaveCount(0);
    await expect(page.locator("main")).toHaveAttribute("data-hydrated", "false");
  });
});

test("the page hydrates and a button asks the server for live stock", async ({ page }) => {
  await openHydrated(page, "/");
  const tile = page.locator(".product-tile", { hasText: "Ridgeline 2 Tent" });
  const stock = Number(sqlValue("SELECT stock FROM products WHERE slug = 'ridgeline-2-tent'"));
  await tile.getByRole("button", { name: "Check stock" }).click();
  const expected = stock === 0 ? "Out of stock" : stock <= 5 ? `Only ${stock} left` : `${stock} in stock`;
  await expect(tile.locator(".stock-answer")).toHaveText(expected);
});

test("the page view reaches the worker's table under the visit cookie", async ({ page, context }) => {
  await openHydrated(page, "/");
  const visit = (await context.cookies()).find((cookie) => cookie.name === "cg_visit");
  expect(visit, "the server sets a visit cookie").toBeTruthy();
  expect(visit!.httpOnly).toBe(true);
  await expect
    .poll(() => sqlValue(`SELECT count(*) FROM clickstream_events WHERE visit_id = '${visit!.value.split(".")[0]}' AND event_type = 'page_view' AND path = '/'`), {
      timeout: 30_000,
    })
    .toBe("1");
});

test("a shopper signs in with OpenID Connect and signs out again", async ({ page }) => {
  await openHydrated(page, "/");
  await signIn(page, "shopper");
  await expect(page.getByTestId("user-name")).toHaveText("Sam Shopper");
  await page.getByRole("button", { name: "Sign out" }).click();
  // RP-initiated logout: the provider asks to confirm ending its own session too.
  await page.locator('button[name="logout"]').click();
  await expect(page.getByRole("link", { name: "Sign in" })).toBeVisible();
  await expect(page.getByTestId("user-name")).toHaveCount(0);
});

test("an admin's group claim shows the admin badge", async ({ page }) => {
  await openHydrated(page, "/");
  await signIn(page, "admin");
  await expect(page.getByTestId("user-name")).toHaveText("Ada Admin");
  await expect(page.locator(".badge", { hasText: "admin" })).toBeVisible();
});
