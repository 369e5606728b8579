import { defineConfig } from "@playwright/test";

const SHOPPER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36";

// The app is started by scripts/test.sh; BASE_URL points at it.
export default defineConfig({
  testDir: "./tests",
  timeout: 60_000,
  expect: { timeout: 15_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [["list"]],
  use: {
    baseURL: process.env.BASE_URL ?? "http://127.0.0.1:3000",
    trace: "retain-on-failure",
    // A shopper's browser, not "HeadlessChrome": the shop flags headless user agents as bots, and a bot's visit
    // gets no journey PDF. The flag below also covers beacons and contexts made with browser.newContext().
    userAgent: SHOPPER_AGENT,
    launchOptions: {
      // Debian's Chromium: Playwright never downloads a browser here.
      executablePath: "/usr/bin/chromium",
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        `--user-agent=${SHOPPER_AGENT}`,
      ],
    },
  },
});
