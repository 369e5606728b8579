import { expect } from "@playwright/test";
import { test, signIn, openHydrated, pay, reserveTo, sqlValue } from "./helpers";

// The demo runs WELCOME10: 10 % off a shopper's first order, once per customer. M · Sand of the base layer is €79.00.

test("a shopper chooses a size and colour, applies a code, sees the discount line, pays, and the order keeps it", async ({
  page,
}) => {
  await openHydrated(page, "/product/merino-base-layer");
  const picker = page.getByRole("group", { name: "Choose size and colour" });
  await picker.getByRole("radio", { name: /^M · Sand/ }).check();
  await page.getByRole("button", { name: "Add to cart" }).click();
  await expect(page.getByText("Added to your cart")).toBeVisible();

  await openHydrated(page, "/cart");
  const code = page.getByLabel("Coupon code");
  await code.fill("nope10");
  await page.getByRole("button", { name: "Apply" }).click();
  await expect(page.getByRole("alert")).toContainText("There is no code NOPE10");
  await expect(page.getByTestId("cart-discount")).toHaveCount(0);

  await page.getByLabel("Coupon code").fill("welcome10");
  await page.getByRole("button", { name: "Apply" }).click();
  await expect(page.getByTestId("coupon-applied")).toContainText("WELCOME10");
  const discount = page.locator("tr.discount");
  await expect(discount).toContainText("Welcome: 10 % off a first order (WELCOME10)");
  await expect(page.getByTestId("cart-discount")).toHaveText("−€7.90");
  await expect(page.getByTestId("cart-total")).toHaveText("€71.10");

  // The discount follows the cart as it changes, in place.
  await expect(page.locator("main")).toHaveAttribute("data-hydrated", "true");
  await page.getByRole("button", { name: "One more Merino Base Layer (M · Sand)" }).click();
  await expect(page.getByTestId("cart-subtotal")).toHaveText("€158.00");
  await expect(page.getByTestId("cart-discount")).toHaveText("−€15.80");
  await expect(page.getByTestId("cart-total")).toHaveText("€142.20");

  const login = `coupon-buyer-${Date.now()}`;
  await signIn(page, login, "Sign in to check out");
  await expect(page).toHaveURL(/\/checkout$/);
  await expect(page.locator(".summary .discount")).toContainText("−€15.80");
  await expect(page.getByTestId("checkout-total")).toHaveText("€142.20");
  await reserveTo(page, "Sam Saver");
  const orderId = page.url().split("/").pop()!;
  await expect(page.getByRole("heading", { name: "Pay €142.20" })).toBeVisible();
  await pay(page, "4242 4242 4242 4242");
  await expect(page.getByTestId("order-status")).toHaveText("Paid");
  const lines = page.locator(".lines");
  await expect(lines).toContainText("M · Sand");
  await expect(lines.locator("tr.discount")).toContainText("Welcome: 10 % off a first order (WELCOME10)");
  await expect(lines.getByTestId("discount")).toHaveText("−€15.80");
  await expect(page.getByTestId("order-total")).toHaveText("€142.20");
  // Germany's 19 % is in the price: of €142.20, €22.70.
  await expect(lines.locator("tr.tax")).toContainText("incl. VAT 19 %");
  await expect(lines.getByTestId("tax")).toHaveText("€22.70");
  expect(sqlValue(`SELECT amount_cents FROM payments WHERE order_id = '${orderId}' AND outcome = 'succeeded'`)).toBe(
    "14220",
  );
  // The clickstream kept both attempts, with the refusal's reason.
  await expect
    .poll(() =>
      sqlValue(
        `SELECT string_agg(event_type || ':' || COALESCE(payload->>'reason', ''), ',' ORDER BY received_at)
         FROM clickstream_events WHERE event_type LIKE 'coupon_%' AND payload->>'code' IN ('NOPE10', 'WELCOME10')
           AND visit_id = (SELECT visit_id FROM clickstream_events WHERE event_type = 'checkout_begin'
                           AND payload->>'order_id' = '${orderId}' LIMIT 1)`,
      ),
    )
    .toBe("coupon_rejected:unknown,coupon_applied:");
});

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });

  test("a code is applied and removed with plain forms", async ({ page }) => {
    await page.goto("/product/linen-tea-towels");
    await page.getByRole("button", { name: "Add to cart" }).click();
    await page.goto("/cart");
    await page.getByLabel("Coupon code").fill("KITCHEN5");
    await page.getByRole("button", { name: "Apply" }).click();
    await expect(page.getByRole("alert")).toContainText("The code KITCHEN5 needs a subtotal of €50.00 or more");
    await page.getByLabel("Coupon code").fill("welcome10");
    await page.getByRole("button", { name: "Apply" }).click();
    await expect(page.getByTestId("cart-discount")).toHaveText("−€1.90");
    await page.getByRole("button", { name: "Remove the code" }).click();
    await expect(page.getByTestId("cart-discount")).toHaveCount(0);
    await expect(page.getByTestId("cart-total")).toHaveText("€19.00");
  });
});
