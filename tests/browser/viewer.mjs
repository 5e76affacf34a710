// End-to-end browser test of the clinician viewer and the office screens, in Debian chromium
// driven by playwright-core. Started by crates/renkei/tests/browser_e2e.rs against a real
// `renkei serve --demo`; it prints one line per step and exits non-zero on the first failure.
//
// Environment (set by the Rust test):
//   RENKEI_URL          http://127.0.0.1:PORT
//   RENKEI_PASSWORD     the demo password
//   RENKEI_SECRETS      JSON {login: base32 TOTP secret}
//   RENKEI_CONSENTED    a consented regional ID
//   RENKEI_REFUSED      a regional ID without consent
//   RENKEI_SCREENSHOTS  folder for the screenshots (test artifacts)
//   CHROMIUM            browser executable (default /usr/bin/chromium)

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { harness, need, totp } from "./lib.mjs";

const base = need("RENKEI_URL");
const password = need("RENKEI_PASSWORD");
const secrets = JSON.parse(need("RENKEI_SECRETS"));
const consented = need("RENKEI_CONSENTED");
const refused = need("RENKEI_REFUSED");
const shots = need("RENKEI_SCREENSHOTS");
mkdirSync(shots, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});
// A tablet-sized window: the viewer is used on home visits.
const context = await browser.newContext({ viewport: { width: 1024, height: 768 }, locale: "ja-JP" });
const page = await context.newPage();
page.setDefaultTimeout(15_000);
const { step, expect, shot } = harness(page, browser, shots);

// Every page after sign-in carries patient data or may: none may be cached by the browser.
const cacheable = [];
page.on("response", (r) => {
  const url = r.url();
  const type = r.headers()["content-type"] || "";
  if (url.startsWith(base) && type.startsWith("text/html") && !url.endsWith("/login")) {
    if (!(r.headers()["cache-control"] || "").includes("no-store")) cacheable.push(url);
  }
});
const pageErrors = [];
page.on("pageerror", (e) => pageErrors.push(e.message));
// The Content-Security-Policy forbids inline scripts and styles: a page that still has one
// shows up here as a console error.
page.on("console", (m) => {
  if (m.type() === "error" && /Content Security Policy/i.test(m.text())) pageErrors.push(m.text());
});

async function signIn(login, stepOffset = 0) {
  await page.goto(`${base}/login`);
  await page.fill('input[name="login"]', login);
  await page.fill('input[name="password"]', password);
  await page.fill('input[name="totp"]', totp(secrets[login], stepOffset));
}

await step("sign-in page is in Japanese and asks for the one-time code", async () => {
  await signIn("doctor");
  expect((await page.locator("html").getAttribute("lang")) === "ja", "html lang is not ja");
  await shot("01-login");
  await Promise.all([page.waitForURL(/\/search/), page.press('input[name="totp"]', "Enter")]);
});

await step("search by regional ID finds the consented patient", async () => {
  await shot("02-search");
  await page.fill("#search-regional-id", consented);
  await Promise.all([page.waitForLoadState("load"), page.press("#search-regional-id", "Enter")]);
  const links = page.locator("a.patient-link");
  expect((await links.count()) === 1, `expected one result, got ${await links.count()}`);
});

let kanaName = "";
await step("summary shows allergies first, diagnoses, medications, labs", async () => {
  await Promise.all([page.waitForURL(new RegExp(`/patients/${consented}$`)), page.locator("a.patient-link").first().click()]);
  for (const id of ["#allergies", "#diagnoses", "#medications", "#labs", "#admissions"]) {
    expect((await page.locator(id).count()) === 1, `summary has no ${id}`);
  }
  kanaName = ((await page.locator(".patient-kana").first().textContent()) || "").trim();
  expect(kanaName.length > 0, "no kana name on the summary");
  await shot("03-summary");
});

await step("search by part of the kana name, typed in hiragana, finds the patient", async () => {
  // The demo's names are katakana; a clinician types hiragana: the search folds them.
  const family = kanaName.split(/[\s　]+/)[0];
  const hiragana = [...family].map((c) => {
    const cp = c.codePointAt(0);
    return cp >= 0x30a1 && cp <= 0x30f6 ? String.fromCodePoint(cp - 0x60) : c;
  }).join("");
  await page.goto(`${base}/search`);
  await page.fill("#search-name", hiragana);
  await Promise.all([page.waitForLoadState("load"), page.press("#search-name", "Enter")]);
  const hrefs = await page.locator("a.patient-link").evaluateAll((as) => as.map((a) => a.getAttribute("href")));
  expect(hrefs.some((h) => h.endsWith(consented)), `searching ${hiragana} did not list ${consented}: ${hrefs}`);
  // The name was posted, not put in the URL: it stays out of the browser's history.
  expect(new URL(page.url()).search === "", `search terms in the URL: ${page.url()}`);
  await shot("04-search-kana");
});

await step("timeline lists records newest first, grouped by day, and pages on", async () => {
  await page.goto(`${base}/patients/${consented}/timeline`);
  const items = page.locator(".timeline-item");
  const first = await items.count();
  expect(first > 0, "timeline is empty");
  await shot("05-timeline");
  const more = page.locator("#timeline-more a.more");
  if ((await more.count()) > 0) {
    await more.first().click();
    await page.waitForFunction((n) => document.querySelectorAll(".timeline-item").length > n, first);
  }
});

await step("a timeline item opens its detail", async () => {
  await page.goto(`${base}/patients/${consented}/timeline`);
  const link = page.locator(".timeline-item a.record-link").first();
  await Promise.all([page.waitForURL(/\/records\/\d+/), link.click()]);
  await shot("06-record");
});

await step("lab matrix and a trend chart with its reference range", async () => {
  await page.goto(`${base}/patients/${consented}/labs`);
  expect((await page.locator("table.lab-matrix").count()) === 1, "no lab matrix");
  await shot("07-labs");
  const test = page.locator("table.lab-matrix a").first();
  await test.click();
  await page.locator("svg.trend-chart").first().waitFor();
  await shot("08-lab-chart");
});

await step("medications page lists the drugs of every facility", async () => {
  await page.goto(`${base}/patients/${consented}/medications`);
  await page.locator("main").waitFor();
  await shot("09-medications");
});

await step("a patient without consent is refused, with the reason, and nothing is shown", async () => {
  await page.goto(`${base}/patients/${refused}`);
  const rows = page.locator("tr.refused");
  expect((await rows.count()) > 0, "no refusal shown");
  const codes = await rows.evaluateAll((rs) => rs.map((r) => r.dataset.code));
  expect(codes.every((c) => c === "no_consent"), `unexpected refusal codes ${codes}`);
  expect((await page.locator("#allergies li, #medications li, #labs td").count()) === 0, "clinical data shown for a refused patient");
  await shot("10-refused");
});

await step("the same patient does not even appear in search", async () => {
  await page.goto(`${base}/search`);
  await page.fill("#search-regional-id", refused);
  await Promise.all([page.waitForLoadState("load"), page.press("#search-regional-id", "Enter")]);
  expect((await page.locator("a.patient-link").count()) === 0, "refused patient listed");
  expect((await page.locator("#no-results").count()) === 1, "no 'nobody found' message");
});

await step("a clinician cannot open the office screens", async () => {
  const r = await page.goto(`${base}/office`);
  expect(r.status() === 403, `office screen answered ${r.status()} to a doctor`);
});

await step("sign out is a button (a POST) and ends the session", async () => {
  await page.goto(`${base}/search`);
  await Promise.all([page.waitForURL(/\/login$/), page.locator("header form.signout button").click()]);
  await page.goto(`${base}/patients/${consented}`);
  expect(page.url().endsWith("/login"), `after sign-out landed on ${page.url()}`);
});

await step("the operations office sees its dashboard and the audit chain is intact", async () => {
  // The demo set-up signed the office in with the current code: the next one (codes are
  // single-use).
  await signIn("office", 1);
  await Promise.all([page.waitForURL(/\/office$/), page.press('input[name="totp"]', "Enter")]);
  await page.goto(`${base}/office`);
  await shot("11-office");
  await page.goto(`${base}/office/audit`);
  await shot("12-office-audit");
});

await step("a nurse of two facilities chooses which one she acts for", async () => {
  await Promise.all([page.waitForURL(/\/login$/), page.locator("header form.signout button").click()]);
  await signIn("nurse");
  await Promise.all([page.waitForURL(/\/facility$/), page.press('input[name="totp"]', "Enter")]);
  const choices = page.locator('form[action="/facility"] button');
  expect((await choices.count()) === 2, `expected two facilities, got ${await choices.count()}`);
  await shot("13-choose-facility");
  await Promise.all([page.waitForURL(/\/search/), choices.nth(1).click()]);
  const who = (await page.locator("header .who").textContent()) || "";
  expect(who.includes("—"), `acting facility not shown in the header: ${who}`);
});

await step("the header with its sign-out button fits a tablet (820 px) and a phone (390 px)", async () => {
  for (const [width, name] of [[820, "14-tablet-search"], [390, "15-phone-search"]]) {
    await page.setViewportSize({ width, height: 900 });
    await page.goto(`${base}/search`);
    const button = page.locator("header form.signout button");
    expect(await button.isVisible(), `no sign-out button at ${width} px`);
    const box = await button.boundingBox();
    expect(box && box.x + box.width <= width, `sign-out button off the screen at ${width} px`);
    await shot(name);
  }
  await page.setViewportSize({ width: 1024, height: 900 });
});

await step("no page with patient data was cacheable and no script failed", async () => {
  expect(cacheable.length === 0, `pages without no-store: ${cacheable.join(", ")}`);
  expect(pageErrors.length === 0, `script errors or CSP violations: ${pageErrors.join("; ")}`);
});

await browser.close();
console.log(`all steps passed; screenshots in ${shots}`);
