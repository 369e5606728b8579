import { expect } from "@playwright/test";
import { test, openHydrated } from "./helpers";

// Search that forgives typing, and the facets beside the results, as a shopper meets them.

test("a misspelt search finds what was meant and offers the correction; facets refine it", async ({ page }) => {
  await openHydrated(page, "/");
  await page.getByRole("combobox", { name: "Search the shop" }).fill("tnet");
  await page.getByRole("button", { name: "Search" }).click();
  await expect(page).toHaveURL(/\/products\?q=tnet$/);
  const offer = page.getByTestId("did-you-mean");
  await expect(offer).toContainText("Nothing matches “tnet” as typed. Did you mean tent?");
  await expect(page.getByRole("link", { name: "Ridgeline 2 Tent" }).first()).toBeVisible();

  // The offered query, spelt right: the same tent first, and nothing to offer.
  await offer.getByRole("link", { name: "tent" }).click();
  await expect(page).toHaveURL(/\/products\?q=tent$/);
  await expect(page.getByTestId("did-you-mean")).toHaveCount(0);
  await expect(page.locator(".product-grid a").first()).toContainText("Ridgeline 2 Tent");

  // Facets: each a link with its count; following one applies it (and marks it), following it again removes it.
  await page.goto("/products?q=jakcet");
  const facets = page.getByRole("navigation", { name: "Refine" });
  const inStock = facets.getByRole("link", { name: /^In stock only \(\d+\)$/ });
  const count = Number((await inStock.textContent())!.match(/\((\d+)\)/)![1]);
  await inStock.click();
  await expect(page).toHaveURL(/in_stock=true/);
  await expect(page.locator(".result-count")).toHaveText(`${count} products`);
  await expect(facets.getByRole("link", { name: /^In stock only/ })).toHaveAttribute("aria-current", "true");
  const category = facets.getByRole("list", { name: "Categories" }).getByRole("link").first();
  const label = (await category.textContent())!;
  const inCategory = Number(label.match(/\((\d+)\)/)![1]);
  await category.click();
  await expect(page).toHaveURL(/category=/);
  await expect(page.locator(".result-count")).toHaveText(`${inCategory} products`);
  await facets.getByRole("link", { name: label }).click();
  await expect(page).not.toHaveURL(/category=/);
});

test("the search box suggests products as the shopper types, chosen with the keyboard", async ({ page }) => {
  await openHydrated(page, "/");
  const box = page.getByRole("combobox", { name: "Search the shop" });
  await box.pressSequentially("headl", { delay: 40 });
  const list = page.getByRole("listbox", { name: "Suggestions" });
  await expect(list.getByRole("option").first()).toContainText("Lumen 400 Headlamp");
  await expect(box).toHaveAttribute("aria-expanded", "true");
  await box.press("Escape");
  await expect(box).toHaveAttribute("aria-expanded", "false");
  await expect(list).toBeHidden();

  // A typo still finds it; the arrow keys choose, Enter opens the product.
  await box.fill("");
  await box.pressSequentially("tnet", { delay: 40 });
  await expect(list.getByRole("option").first()).toContainText("Ridgeline 2 Tent");
  await box.press("ArrowDown");
  await expect(box).toHaveAttribute("aria-activedescendant", "search-suggestion-0");
  await expect(list.getByRole("option").first()).toHaveAttribute("aria-selected", "true");
  await box.press("Enter");
  await expect(page).toHaveURL(/\/product\/ridgeline-2-tent$/);
});
