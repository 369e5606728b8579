import { expect } from "@playwright/test";
import { test, signIn, openHydrated, pay, reserveTo, sqlValue } from "./helpers";

// The demo base layer comes in four sizes and two colours; XL · Sand is sold out and XL costs €5 more.

test("a shopper chooses a size and colour, pays, and finds the choice on the order", async ({ page }) => {
  await openHydrated(page, "/product/merino-base-layer");
  const picker = page.getByRole("group", { name: "Choose size and colour" });
  await expect(picker.getByRole("radio")).toHaveCount(8);
  await expect(page.locator(".price.big")).toHaveText("From €79.00");
  const soldOut = picker.locator("label", { hasText: "XL · Sand" });
  await expect(soldOut).toContainText("Out of stock");
  await expect(soldOut.getByRole("radio")).toBeDisabled();
  await expect(picker.locator("label", { hasText: "XL · Slate" })).toContainText("€84.00");

  const mSlate = sqlValue("SELECT stock FROM variants WHERE sku = 'MERINO-BASE-LAYER-M-SLATE'");
  await expect(picker.locator("label", { hasText: "M · Slate" })).toContainText(
    Number(mSlate) <= 5 ? `Only ${mSlate} left` : `${mSlate} in stock`,
  );
  await picker.getByRole("radio", { name: /^M · Slate/ }).check();
  await page.getByRole("button", { name: "Add to cart" }).click();
  await expect(page.getByText("Added to your cart")).toBeVisible();

  await page.locator(".cart-link").click();
  const line = page.locator("tr", { hasText: "Merino Base Layer" });
  await expect(line).toContainText("M · Slate");
  await expect(page.getByTestId("cart-total")).toHaveText("€79.00");
  await signIn(page, "sized-buyer", "Sign in to check out");
  await expect(page).toHaveURL(/\/checkout$/);
  await expect(page.getByText("Merino Base Layer (M · Slate)")).toBeVisible();
  await reserveTo(page, "Sam Sized");
  const orderId = page.url().split("/").pop()!;
  await pay(page, "4242 4242 4242 4242");
  await expect(page.getByTestId("order-status")).toHaveText("Paid");
  await expect(page.locator(".lines")).toContainText("M · Slate");
  await expect(page.locator(".lines")).toContainText("MERINO-BASE-LAYER-M-SLATE");
  expect(
    sqlValue(
      `SELECT v.sku FROM order_lines l JOIN variants v ON v.id = l.variant_id WHERE l.order_id = '${orderId}'`,
    ),
  ).toBe("MERINO-BASE-LAYER-M-SLATE");
  expect(Number(sqlValue("SELECT stock FROM variants WHERE sku = 'MERINO-BASE-LAYER-M-SLATE'"))).toBe(
    Number(mSlate) - 1,
  );
});

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });

  test("the variant picker is a form that adds the chosen size to the cart", async ({ page }) => {
    await page.goto("/product/packable-rain-jacket");
    const picker = page.getByRole("group", { name: "Choose size and colour" });
    await picker.getByRole("radio", { name: /^L · Ember/ }).check();
    await page.getByRole("button", { name: "Add to cart" }).click();
    await expect(page).toHaveURL(/\/product\/packable-rain-jacket/);
    await page.goto("/cart");
    await expect(page.locator("tr", { hasText: "Packable Rain Jacket" })).toContainText("L · Ember");
  });
});
