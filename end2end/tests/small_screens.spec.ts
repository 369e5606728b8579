import { expect, Page } from "@playwright/test";
import { test, openHydrated, signIn } from "./helpers";

test.use({ viewport: { width: 360, height: 740 } });

/** The header's words that break over more than one line, and how far the page overflows sideways. */
async function headerLayout(page: Page) {
  return page.evaluate(() => {
    const items = Array.from(document.querySelectorAll(".site-header a, .site-header button, .user-name, .badge"));
    const broken = items
      .filter((item) => (item as HTMLElement).offsetParent !== null && item.getClientRects().length > 1)
      .map((item) => item.textContent?.trim());
    return { broken, overflow: document.documentElement.scrollWidth - window.innerWidth };
  });
}

test("at 360 px the header wraps between its items, never inside one, signed out and signed in", async ({ page }) => {
  await openHydrated(page, "/");
  expect(await headerLayout(page)).toEqual({ broken: [], overflow: 0 });

  // An admin has the most in the header: orders, journeys, admin, the bell, the name, the badge, sign out.
  await signIn(page, "admin");
  await expect(page.getByTestId("user-name")).toHaveText("Ada Admin");
  expect(await headerLayout(page)).toEqual({ broken: [], overflow: 0 });

  // The bell is an inline SVG, not an emoji that renders as a box where no emoji font is installed.
  const bell = page.getByTestId("notification-bell");
  await expect(bell.locator("svg")).toHaveCount(1);
  expect(await bell.textContent()).not.toContain("🔔");
});
