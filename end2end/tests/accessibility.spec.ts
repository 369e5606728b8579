import AxeBuilder from "@axe-core/playwright";
import { expect, type Page } from "@playwright/test";
import { test, openHydrated, signIn } from "./helpers";

/** The serious and critical axe-core violations on the page as it is now, each with where it is. */
async function seriousViolations(page: Page) {
  const results = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]).analyze();
  return results.violations
    .filter((violation) => violation.impact === "serious" || violation.impact === "critical")
    .map((violation) => `${violation.id} (${violation.impact}): ${violation.nodes.map((node) => node.target.join(" ")).join(", ")}`);
}

test("the five shopper pages have no serious or critical accessibility violations", async ({ page }) => {
  for (const path of ["/", "/products?q=tent", "/product/ridgeline-2-tent"]) {
    await openHydrated(page, path);
    expect(await seriousViolations(page), path).toEqual([]);
  }
  // The cart and the checkout as a signed-in shopper with something in the cart.
  await page.getByRole("button", { name: "Add to cart" }).click();
  await expect(page.getByText("Added to your cart")).toBeVisible();
  await signIn(page, "axe-shopper");
  for (const path of ["/cart", "/checkout"]) {
    await openHydrated(page, path);
    await expect(page.locator("main h1")).toBeVisible();
    expect(await seriousViolations(page), path).toEqual([]);
  }
  // The pages still work after the checks: the checkout form is there to fill in.
  await expect(page.getByLabel("Full name")).toBeEditable();
});

test("the admin insights page renders its charts and tables on the server, without serious violations", async ({ page }) => {
  // A shopper's visit with a search that finds nothing, so that the page has something to show.
  await openHydrated(page, "/products?q=qwertyuiop");
  await expect(page.getByText("No products match")).toBeVisible();
  await openHydrated(page, "/");
  await signIn(page, "admin");
  await openHydrated(page, "/admin/insights");
  await expect(page.getByRole("heading", { level: 1, name: "Insights" })).toBeVisible();
  await expect(page.getByRole("img", { name: "Funnel: visits reaching each stage" })).toBeVisible();
  const funnel = page.getByTestId("funnel");
  await expect(funnel.getByRole("row")).toHaveCount(6);
  // The search that found nothing is listed once the worker has counted it.
  await expect
    .poll(async () => {
      await page.reload();
      return page.getByRole("rowheader", { name: "qwertyuiop" }).count();
    }, { timeout: 30_000 })
    .toBe(1);
  expect(await seriousViolations(page), "/admin/insights").toEqual([]);
  // Its numbers lead to the visits behind them.
  await funnel.getByRole("row", { name: /Browsed/ }).getByRole("link").click();
  await expect(page).toHaveURL(/\/admin\/visits\?from=.*&reached=browse/);
  await expect(page.getByTestId("visit-filters")).toContainText("reached: browse");
});
