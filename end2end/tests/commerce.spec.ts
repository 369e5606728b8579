import { expect, type Page } from "@playwright/test";
import { test, openHydrated, pay, reserveTo, signIn, sqlValue } from "./helpers";

/** Browse → search → filter → product → add to cart → sign in → checkout; returns on the order page. */
async function shopUntilPayment(page: Page, login: string) {
  await openHydrated(page, "/");
  await page.getByRole("combobox", { name: "Search the shop" }).fill("bottle");
  await page.getByRole("button", { name: "Search" }).click();
  await expect(page).toHaveURL(/\/products\?q=bottle/);
  await expect(page.getByRole("heading", { name: "Glacier Insulated Bottle" })).toBeVisible();

  // Filter: only Trail & Camp, in stock; the state lives in the URL and survives a reload.
  await page.getByLabel("Category").selectOption("trail-camp");
  await page.getByLabel("In stock only").check();
  await page.getByRole("button", { name: "Apply" }).click();
  await expect(page).toHaveURL(/category=trail-camp/);
  await page.reload();
  await expect(page.locator("main")).toHaveAttribute("data-hydrated", "true");
  await expect(page.getByRole("heading", { name: "Glacier Insulated Bottle" })).toBeVisible();

  await page.getByRole("heading", { name: "Glacier Insulated Bottle" }).click();
  await expect(page).toHaveURL(/\/product\/glacier-insulated-bottle/);
  await expect(page.getByTestId("stock")).toContainText("in stock");
  await page.getByLabel("Quantity").fill("2");
  await page.getByRole("button", { name: "Add to cart" }).click();
  await expect(page.getByText("Added to your cart")).toBeVisible();
  await expect(page.getByTestId("cart-count")).toHaveText("2");

  await page.locator(".cart-link").click();
  await expect(page.getByTestId("cart-total")).toHaveText("€58.00");
  await signIn(page, login, "Sign in to check out");
  await expect(page).toHaveURL(/\/checkout$/);

  await reserveTo(page, "Sam Shopper");
  await expect(page.getByTestId("order-status")).toHaveText("Awaiting payment");
  await expect(page.getByTestId("cart-count")).toHaveText("0");
}

test("a shopper buys with the success card and finds the order in the history", async ({ page }) => {
  await shopUntilPayment(page, "buyer-success");
  const orderId = page.url().split("/").pop()!;
  await pay(page, "4242 4242 4242 4242");
  await expect(page.getByTestId("confirmation")).toBeVisible();
  await expect(page.getByTestId("order-status")).toHaveText("Paid");
  expect(sqlValue(`SELECT status FROM orders WHERE id = '${orderId}'`)).toBe("paid");

  await page.getByRole("link", { name: "Orders" }).click();
  await expect(page).toHaveURL(/\/orders$/);
  const row = page.locator("tr", { hasText: orderId.slice(0, 8) });
  await expect(row).toContainText("Paid");
  await expect(row).toContainText("€58.00");
  await row.getByRole("link").click();
  await expect(page.locator(".timeline li")).toHaveCount(3);
});

test("a declined card says why and leaves the order payable", async ({ page }) => {
  await shopUntilPayment(page, "buyer-decline");
  const orderId = page.url().split("/").pop()!;
  await pay(page, "4000 0000 0000 0002");
  await expect(page.getByRole("alert")).toContainText("Your card was declined");
  await expect(page.getByTestId("order-status")).toHaveText("Awaiting payment");
  expect(sqlValue(`SELECT status FROM orders WHERE id = '${orderId}'`)).toBe("pending_payment");
  // The same page accepts another card.
  await pay(page, "4242 4242 4242 4242");
  await expect(page.getByTestId("order-status")).toHaveText("Paid");
});

test("a shopper cannot put more in the cart than is in stock", async ({ page }) => {
  await openHydrated(page, "/product/wall-clock-meridian");
  await expect(page.getByTestId("stock")).toHaveText("Only 2 left");
  await page.getByLabel("Quantity").fill("3");
  await page.getByRole("button", { name: "Add to cart" }).click();
  await expect(page.getByRole("alert")).toHaveText("Only 2 of Wall Clock Meridian left.");
  await expect(page.getByTestId("cart-count")).toHaveText("0");
});
