import { execFileSync } from "node:child_process";
import { expect } from "@playwright/test";
import { test, openHydrated, signIn, sqlValue } from "./helpers";

test("a shopper downloads the journey of their visit and it lists the pages in order", async ({ page, context }) => {
  await openHydrated(page, "/");
  const visit = (await context.cookies()).find((c) => c.name === "cg_visit")!.value.split(".")[0];
  await page.getByRole("link", { name: "Shop", exact: true }).click();
  await expect(page).toHaveURL(/\/products$/);
  await page.getByRole("heading", { name: "Oak Cutting Board" }).click();
  await expect(page).toHaveURL(/\/product\/oak-cutting-board/);
  await page.locator(".cart-link").click();
  await expect(page).toHaveURL(/\/cart$/);
  await signIn(page, "journey-shopper");
  await expect
    .poll(() => Number(sqlValue(`SELECT count(*) FROM clickstream_events WHERE visit_id = '${visit}' AND event_type = 'page_view'`)), {
      timeout: 30_000,
    })
    .toBeGreaterThanOrEqual(4);

  await page.getByRole("link", { name: "My journeys" }).click();
  await expect(page).toHaveURL(/\/account\/journeys$/);
  const row = page.locator(`tr[data-visit-id="${visit}"]`);
  await expect(row).toBeVisible();
  const [download] = await Promise.all([page.waitForEvent("download"), row.getByRole("link", { name: "Download PDF" }).click()]);
  expect(download.suggestedFilename()).toMatch(/^cartograph-journey-\d{4}-\d{2}-\d{2}-[0-9a-f]{8}\.pdf$/);
  const file = await download.path();
  const text = execFileSync("pdftotext", [file, "-"], { encoding: "utf8" });
  // The timeline lists the events in order (the cover's "most viewed" list goes by count, and the path's boxes
  // come out of pdftotext in layout order, so neither is read).
  const timeline = text.slice(text.search(/Timeline\s+Visit /));
  const order = ["Home", "Catalog", "Oak Cutting Board", "Cart"].map((label) => timeline.indexOf(label));
  expect(order.every((position) => position >= 0), `labels in ${timeline.slice(0, 400)}`).toBe(true);
  expect([...order].sort((a, b) => a - b)).toEqual(order);
});
