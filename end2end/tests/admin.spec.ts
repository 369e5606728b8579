import { expect } from "@playwright/test";
import { test, openHydrated, signIn } from "./helpers";

test("an admin lowers a price and the shopper with it in their cart is notified", async ({ browser }) => {
  // The shopper puts the pen in their cart, signed in.
  const shopperContext = await browser.newContext();
  const shopper = await shopperContext.newPage();
  await openHydrated(shopper, "/product/brass-fountain-pen");
  await signIn(shopper, "pen-collector");
  await expect(shopper.getByTestId("user-name")).toHaveText("pen-collector");
  await shopper.getByRole("button", { name: "Add to cart" }).click();
  await expect(shopper.getByText("Added to your cart")).toBeVisible();
  await expect(shopper.getByTestId("notification-count")).toHaveCount(0);

  // The admin finds it in the back office and lowers its price.
  const adminContext = await browser.newContext();
  const admin = await adminContext.newPage();
  await openHydrated(admin, "/");
  await signIn(admin, "admin");
  await admin.getByRole("link", { name: "Admin" }).click();
  await expect(admin.getByRole("heading", { name: "Products" })).toBeVisible();
  await admin.getByPlaceholder("Name or slug").fill("fountain");
  await admin.getByRole("button", { name: "Filter" }).click();
  await admin.getByRole("link", { name: "Brass Fountain Pen" }).click();
  await expect(admin.getByRole("heading", { name: "Brass Fountain Pen" })).toBeVisible();
  await expect(admin.locator("main")).toHaveAttribute("data-hydrated", "true");
  await admin.getByLabel("Price (EUR)").fill("59.00");
  await admin.getByRole("button", { name: "Save" }).click();
  await expect(admin.getByTestId("saved")).toBeVisible();

  // Outbox → catalog.v1 → worker → notification; the open page's bell picks it up on its next poll.
  await expect(shopper.getByTestId("notification-count")).toHaveText("1", { timeout: 30_000 });
  await shopper.getByTestId("notification-bell").click();
  const notice = shopper.locator(".bell-panel .notification.unread");
  await expect(notice).toContainText("Price dropped: Brass Fountain Pen is now €59.00 (was €69.00).");
  await notice.getByRole("button", { name: "Mark read" }).click();
  await expect(shopper.getByTestId("notification-count")).toHaveCount(0);

  // The admin's feed has the change too.
  await admin.reload();
  await admin.getByTestId("notification-bell").click();
  await expect(admin.locator(".bell-panel")).toContainText("Updated Brass Fountain Pen: price €69.00 → €59.00.");

  await shopperContext.close();
  await adminContext.close();
});

test("a shopper cannot open the back office", async ({ page }) => {
  await openHydrated(page, "/");
  await signIn(page, "curious-shopper");
  await expect(page.getByRole("link", { name: "Admin" })).toHaveCount(0);
  for (const path of ["/admin/products", "/admin/orders", "/admin/products/1"]) {
    const response = await page.goto(path);
    expect(response?.status(), path).toBe(403);
    await expect(page.getByTestId("forbidden")).toBeVisible();
    await expect(page.getByRole("link", { name: "New product" })).toHaveCount(0);
    await expect(page.getByRole("button", { name: "Save" })).toHaveCount(0);
  }
});

test("an admin runs an automatic promotion and ends it; the shopper's cart follows", async ({ browser }) => {
  const adminContext = await browser.newContext();
  const admin = await adminContext.newPage();
  await openHydrated(admin, "/");
  await signIn(admin, "admin");
  await admin.goto("/admin/promotions");
  await expect(admin.getByRole("row", { name: /WELCOME10/ })).toContainText("10 % off the order");
  await admin.getByRole("link", { name: "New promotion" }).click();
  const name = `Audio days ${Date.now()}`;
  await admin.getByLabel("Name").fill(name);
  await admin.getByLabel("Takes off").selectOption("percent_lines");
  await admin.getByLabel("Percentage or amount").fill("20");
  await admin.getByLabel("Category slugs, separated by commas").fill("audio");
  await admin.getByRole("button", { name: "Save the promotion" }).click();
  await expect(admin.getByTestId("saved")).toBeVisible();
  const row = admin.getByRole("row", { name: new RegExp(name) });
  await expect(row).toContainText("automatic");
  await expect(row).toContainText("20 % off its products");

  // Automatic: the shopper's speaker is 20 % off without a code.
  const shopper = await (await browser.newContext()).newPage();
  await openHydrated(shopper, "/product/pocket-bluetooth-speaker");
  await shopper.getByRole("button", { name: "Add to cart" }).click();
  await expect(shopper.getByText("Added to your cart")).toBeVisible();
  await shopper.goto("/cart");
  await expect(shopper.locator("tr.discount")).toContainText(name);
  await expect(shopper.getByTestId("cart-discount")).toHaveText("−€11.80");
  await expect(shopper.getByTestId("cart-total")).toHaveText("€47.20");

  // Ended in the back office: gone from the cart.
  await row.getByRole("link", { name }).click();
  await admin.getByLabel("Ended (no longer offered)").check();
  await admin.getByRole("button", { name: "Save the promotion" }).click();
  await expect(admin.getByRole("row", { name: new RegExp(name) })).toContainText("ended");
  await shopper.reload();
  await expect(shopper.getByTestId("cart-discount")).toHaveCount(0);
  await expect(shopper.getByTestId("cart-total")).toHaveText("€59.00");
});
