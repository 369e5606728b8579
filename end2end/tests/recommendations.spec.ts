import { expect } from "@playwright/test";
import { test, openHydrated, sqlValue, topicEvents } from "./helpers";

// Two products no other browser test views.
const SEEN = "stoneware-mixing-bowls";
const WITH = "enamel-dutch-oven";

test("a product page's 'Often viewed together' changes once a new journey is stored, and its clicks name the slot", async ({
  browser,
}) => {
  const shopperContext = await browser.newContext();
  const shopper = await shopperContext.newPage();
  await openHydrated(shopper, `/product/${SEEN}`);
  const slot = shopper.locator('section[data-slot="viewed-together"]');
  await expect(slot.getByRole("link", { name: "Enamel Dutch Oven" })).toHaveCount(0);

  // Another shopper's journey: the mixing bowls, then the Dutch oven. Their tracker reports both product views.
  const journeyContext = await browser.newContext();
  const journey = await journeyContext.newPage();
  await openHydrated(journey, `/product/${SEEN}`);
  const visit = (await journeyContext.cookies()).find((c) => c.name === "cg_visit")!.value.split(".")[0];
  await openHydrated(journey, `/product/${WITH}`);
  await journey.close({ runBeforeUnload: true });
  await journeyContext.close();
  const counted = () =>
    Number(sqlValue(`SELECT count(*) FROM visit_products WHERE visit_id = '${visit}'`));
  await expect.poll(counted, { timeout: 30_000 }).toBe(2);

  // The first shopper's next look at the page shows it.
  await openHydrated(shopper, `/product/${SEEN}`);
  await expect(slot.getByRole("heading", { name: "Often viewed together" })).toBeVisible();
  const link = slot.getByRole("link", { name: "Enamel Dutch Oven" });
  await expect(link).toHaveAttribute("href", `/product/${WITH}?rec=viewed-together`);

  // A click on it is a clickstream event that names the slot, and the page it opens is the product's.
  const shopperVisit = (await shopperContext.cookies()).find((c) => c.name === "cg_visit")!.value.split(".")[0];
  await link.click();
  await expect(shopper).toHaveURL(new RegExp(`/product/${WITH}\\?rec=viewed-together$`));
  await expect(shopper.getByRole("heading", { level: 1, name: "Enamel Dutch Oven" })).toBeVisible();
  await expect(shopper.locator("main")).toHaveAttribute("data-hydrated", "true");
  await shopper.close({ runBeforeUnload: true });
  await expect
    .poll(() => topicEvents(shopperVisit).find((e) => e.type === "click" && e.label === "rec-viewed-together"), {
      timeout: 30_000,
    })
    .toMatchObject({ href: `/product/${WITH}?rec=viewed-together` });
  // The tracker said the slot was shown, and the worker knows the product was opened from it (the insights count
  // the slot's impressions, clicks and the revenue it leads to).
  const shown = topicEvents(shopperVisit).find((e) => e.type === "rec_impression");
  expect(shown).toMatchObject({ slot: "viewed-together", path: `/product/${SEEN}` });
  expect(Number(shown?.products)).toBeGreaterThanOrEqual(1);
  await expect
    .poll(() => sqlValue(`SELECT slot FROM rec_opened WHERE visit_id = '${shopperVisit}'`), { timeout: 30_000 })
    .toBe("viewed-together");
  await shopperContext.close();
});
