// Lighthouse (mobile preset, simulated throttling) on the five shopper pages, each run a cold load in Debian's
// Chromium; prints the median of the runs as Markdown table rows. `scripts/bench.sh lighthouse` starts it
// against a shop it started itself.
//
//   node run.mjs --url http://127.0.0.1:3000 [--runs 3] [--login lighthouse-shopper]
//
// The home page, the search and the product page are opened as a first-time visitor (no cookie). The cart and
// the checkout need a shopper: a browser signs in at the dev OpenID provider and puts the product in the cart,
// and those two pages are measured with its cookies (sent as a header, so every run still starts with an empty
// cache and storage).
import lighthouse from "lighthouse";
import * as chromeLauncher from "chrome-launcher";
import puppeteer from "puppeteer-core";
import { parseArgs } from "node:util";

const { values: args } = parseArgs({
  options: {
    url: { type: "string", default: "http://127.0.0.1:3000" },
    runs: { type: "string", default: "3" },
    login: { type: "string", default: "lighthouse-shopper" },
    chromium: { type: "string", default: "/usr/bin/chromium" },
  },
});
const base = args.url.replace(/\/$/, "");
const runs = Math.max(1, Number(args.runs));
const product = "/product/ridgeline-2-tent";
const pages = [
  { name: "home", path: "/", shopper: false },
  { name: "search", path: "/products?q=tent", shopper: false },
  { name: "product", path: product, shopper: false },
  { name: "cart", path: "/cart", shopper: true },
  { name: "checkout", path: "/checkout", shopper: true },
];
const flags = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run"];

/** Signs in a shopper and fills their cart; returns the `Cookie` header of that session. */
async function shopperCookie() {
  const chrome = await chromeLauncher.launch({ chromePath: args.chromium, chromeFlags: flags });
  try {
    const browser = await puppeteer.connect({ browserURL: `http://127.0.0.1:${chrome.port}` });
    const page = await browser.newPage();
    await page.goto(`${base}/auth/login?return_to=${encodeURIComponent(product)}`, { waitUntil: "load" });
    await page.type('input[name="login"]', args.login);
    await page.type('input[name="password"]', "any password");
    await Promise.all([page.waitForNavigation({ waitUntil: "load" }), page.click(".login-submit")]);
    if (!page.url().startsWith(base + product)) throw new Error(`sign-in ended at ${page.url()}`);
    await page.waitForSelector('main[data-hydrated="true"]');
    await page.click(".add-to-cart button[type=submit]");
    await page.waitForFunction(() => document.body.innerText.includes("Added to your cart"));
    const cookies = await browser.cookies();
    await browser.disconnect();
    return cookies
      .filter((cookie) => base.includes(cookie.domain.replace(/^\./, "")))
      .map((cookie) => `${cookie.name}=${cookie.value}`)
      .join("; ");
  } finally {
    chrome.kill();
  }
}

/** One cold Lighthouse run of one page: its scores and metrics. */
async function measure(path, cookie) {
  const chrome = await chromeLauncher.launch({ chromePath: args.chromium, chromeFlags: flags });
  try {
    const options = {
      port: chrome.port,
      output: "json",
      logLevel: "error",
      onlyCategories: ["performance", "accessibility", "best-practices", "seo"],
      extraHeaders: cookie ? { Cookie: cookie } : undefined,
    };
    const { lhr } = await lighthouse(base + path, options);
    if (lhr.runtimeError) throw new Error(`${path}: ${lhr.runtimeError.message}`);
    const requests = lhr.audits["network-requests"].details?.items ?? [];
    const score = (category) => Math.round((lhr.categories[category].score ?? 0) * 100);
    return {
      performance: score("performance"),
      accessibility: score("accessibility"),
      bestPractices: score("best-practices"),
      seo: score("seo"),
      lcp: lhr.audits["largest-contentful-paint"].numericValue,
      tbt: lhr.audits["total-blocking-time"].numericValue,
      cls: lhr.audits["cumulative-layout-shift"].numericValue,
      wasm: requests.filter((r) => r.url.endsWith(".wasm")).reduce((sum, r) => sum + (r.transferSize ?? 0), 0),
      total: requests.reduce((sum, r) => sum + (r.transferSize ?? 0), 0),
      lcpElement: lhr.audits["largest-contentful-paint-element"]?.details?.items?.[0]?.items?.[0]?.node?.snippet ?? "",
      failing: Object.values(lhr.audits)
        .filter((a) => a.score !== null && a.score < 1 && a.scoreDisplayMode === "binary")
        .map((a) => a.id),
    };
  } finally {
    chrome.kill();
  }
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const kib = (bytes) => `${(bytes / 1024).toFixed(0)} KiB`;

const cookie = await shopperCookie();
console.log(`Lighthouse ${(await import("lighthouse/package.json", { with: { type: "json" } })).default.version}, mobile preset, median of ${runs} cold runs, at ${base}`);
console.log("");
console.log("| page | performance | accessibility | best practices | SEO | LCP | TBT | CLS | WASM | all bytes |");
console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
const failing = new Set();
const lcpElements = [];
for (const page of pages) {
  const results = [];
  for (let run = 0; run < runs; run++) results.push(await measure(page.path, page.shopper ? cookie : null));
  const m = (key) => median(results.map((r) => r[key]));
  results.forEach((r) => r.failing.forEach((id) => failing.add(`${page.name}: ${id}`)));
  lcpElements.push(`${page.name}: ${results[0].lcpElement}`);
  console.log(
    `| ${page.name} \`${page.path}\` | ${m("performance")} | ${m("accessibility")} | ${m("bestPractices")} | ${m("seo")} | ` +
      `${(m("lcp") / 1000).toFixed(1)} s | ${Math.round(m("tbt"))} ms | ${m("cls").toFixed(3)} | ${kib(m("wasm"))} | ${kib(m("total"))} |`,
  );
}
console.log("");
console.log(`LCP elements (first run): ${lcpElements.join("; ")}`);
if (failing.size > 0) {
  console.log("");
  console.log(`Failed audits: ${[...failing].join(", ")}`);
}
