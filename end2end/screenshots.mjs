// The insights page and the first page of its PDF, as the README shows them: signs in as an admin at the dev
// OpenID provider in Debian's Chromium, takes a full-page screenshot of /admin/insights and saves the PDF.
// `scripts/screenshots.sh` runs it against a shop it filled with the load generator's shoppers.
//
//   node screenshots.mjs --url http://127.0.0.1:3000 --page docs/insights-page.png --pdf /tmp/insights.pdf
import { chromium } from "@playwright/test";
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";

const { values: args } = parseArgs({
  options: {
    url: { type: "string", default: "http://127.0.0.1:3000" },
    page: { type: "string" },
    pdf: { type: "string" },
    chromium: { type: "string", default: "/usr/bin/chromium" },
  },
});
if (!args.page || !args.pdf) throw new Error("--page and --pdf are required");
const base = args.url.replace(/\/$/, "");

const browser = await chromium.launch({ executablePath: args.chromium });
try {
  const context = await browser.newContext({ baseURL: base, viewport: { width: 1200, height: 900 } });
  const page = await context.newPage();
  await page.goto("/");
  await page.getByRole("link", { name: "Sign in" }).click();
  await page.locator('input[name="login"]').fill("admin");
  await page.locator('input[name="password"]').fill("any password");
  await page.locator(".login-submit").click();
  await page.waitForURL((url) => !url.pathname.startsWith("/auth") && url.origin === base);
  const response = await page.goto("/admin/insights");
  if (response?.status() !== 200) throw new Error(`/admin/insights answered ${response?.status()}`);
  await page.getByRole("heading", { name: "Top paths" }).waitFor();
  await page.screenshot({ path: args.page, fullPage: true });
  const pdf = await context.request.get("/admin/insights.pdf");
  if (pdf.status() !== 200) throw new Error(`/admin/insights.pdf answered ${pdf.status()}`);
  writeFileSync(args.pdf, await pdf.body());
} finally {
  await browser.close();
}
