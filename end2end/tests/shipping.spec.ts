import { expect } from "@playwright/test";
import { test, openHydrated, pay, signIn, sqlValue } from "./helpers";

/** The messages the shop's SMTP sink received (scripts/test.sh starts one for this run; MAIL_INBOX_URL is its inbox). */
async function inbox(): Promise<{ subject: string; to: { address: string }[]; text: string; html: string }[]> {
  const response = await fetch(`${process.env.MAIL_INBOX_URL}/api/email`);
  expect(response.ok).toBe(true);
  return response.json();
}

// The demo delivers to Germany (free click & collect, standard €4.90 free from €50, express €12.90), the rest of
// Europe by weight, the US and Canada; not to Australia. The notebook is €19.00, at Germany's 19 %.

test("a shopper is told where the shop delivers, chooses a delivery, pays shipping and tax on the total, and receives the confirmation", async ({
  page,
}) => {
  await openHydrated(page, "/product/dot-grid-notebook-a5");
  await page.getByRole("button", { name: "Add to cart" }).click();
  await expect(page.getByText("Added to your cart")).toBeVisible();
  await openHydrated(page, "/cart");
  await signIn(page, "delivery-buyer", "Sign in to check out");
  await expect(page).toHaveURL(/\/checkout$/);

  const address = async (country: string) => {
    await page.getByLabel("Full name").fill("Dana Delivery");
    await page.getByLabel("Street address").fill("1 Main Street");
    await page.getByLabel("City").fill("Berlin");
    await page.getByLabel("Postcode").fill("10115");
    await page.getByLabel("Country code").fill(country);
    await page.getByRole("button", { name: "Continue to delivery" }).click();
    await expect(page).toHaveURL(/\/checkout\/delivery$/);
  };
  await address("AU");
  await expect(page.getByTestId("outside-zones")).toContainText("Sorry, we do not deliver to AU. We deliver to AT");
  await expect(page.getByRole("button", { name: "Reserve and continue to payment" })).toHaveCount(0);

  // Back to the address, kept as typed: only the country changes.
  await page.getByRole("link", { name: "Change the address" }).first().click();
  await expect(page).toHaveURL(/\/checkout$/);
  await expect(page.getByLabel("Full name")).toHaveValue("Dana Delivery");
  await address("DE");
  const options = page.getByTestId("delivery-option");
  await expect(options).toHaveCount(3);
  await expect(options.nth(0)).toContainText("Click & collect in Berlin");
  const standard = page.getByRole("radio", { name: /Standard delivery/ });
  await standard.check();
  await expect(options.nth(1)).toContainText("2–3 business days");
  await expect(options.nth(1)).toContainText("Order total €23.90 (incl. VAT €3.81)");
  await page.getByRole("button", { name: "Reserve and continue to payment" }).click();
  await expect(page).toHaveURL(/\/orders\/[0-9a-f-]{36}$/);
  const orderId = page.url().split("/").pop()!;

  await expect(page.getByTestId("delivery")).toHaveText("€4.90");
  await expect(page.locator("tr.delivery")).toContainText("Standard delivery · 2–3 business days");
  await expect(page.getByTestId("order-total")).toHaveText("€23.90");
  await expect(page.getByTestId("tax")).toHaveText("€3.81");
  await pay(page, "4242 4242 4242 4242");
  await expect(page.getByTestId("order-status")).toHaveText("Paid");
  expect(sqlValue(`SELECT amount_cents FROM payments WHERE order_id = '${orderId}' AND outcome = 'succeeded'`)).toBe(
    "2390",
  );

  // The confirmation arrives in the shopper's inbox, with the delivery and the total.
  const subject = `Your order ${orderId.slice(0, 8)} is confirmed`;
  await expect
    .poll(async () => (await inbox()).filter((message) => message.subject === subject).length, { timeout: 20_000 })
    .toBe(1);
  const confirmation = (await inbox()).find((message) => message.subject === subject)!;
  expect(confirmation.to[0].address).toBe("delivery-buyer@cartograph.test");
  for (const part of [confirmation.text, confirmation.html]) {
    expect(part).toContain("Standard delivery · 2–3 business days");
    expect(part).toContain("€23.90");
    expect(part).toContain("Dot Grid Notebook A5");
  }

  // The journey has the tax shown for each destination it reached and the delivery chosen.
  await expect
    .poll(() =>
      sqlValue(
        `SELECT string_agg(event_type || ':' || COALESCE(payload->>'country', payload->>'method'), ',' ORDER BY received_at, seq)
         FROM clickstream_events WHERE event_type IN ('tax_shown', 'shipping_selected')
           AND visit_id = (SELECT visit_id FROM clickstream_events WHERE event_type = 'checkout_begin'
                           AND payload->>'order_id' = '${orderId}' LIMIT 1)`,
      ),
    )
    .toBe("tax_shown:DE,shipping_selected:Standard delivery");
});
