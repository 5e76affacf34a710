// Browser test of the medication views (issue 14, prescriptions / injections part): the
// record view of a prescription with the JAHIS timing patterns and of an administration
// with refused / not-given doses, the summary's current medications, and the medications
// tab (warnings, current list, latest per drug, calendar), each at desktop, 820 px and
// 390 px widths, and printed (the patient stays on the page). Started by
// crates/renkei/tests/browser_e2e.rs against its own `renkei serve --demo`; environment as
// for viewer.mjs.

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

const widths = [["desktop", 1280], ["820", 820], ["390", 390]];

/// Screenshots of the current page at every width, and a printed check: the patient
/// header stays.
async function everyWidth(name) {
  for (const [label, width] of widths) {
    await page.setViewportSize({ width, height: 900 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    // Wide tables scroll inside their own box; the page itself must not.
    expect(overflow <= 2, `${name} at ${width}px: page scrolls sideways by ${overflow}px`);
    await shot(`med-${name}-${label}`);
  }
  await page.setViewportSize({ width: 1024, height: 768 });
  await page.emulateMedia({ media: "print" });
  expect(await page.locator(".patient-head").isVisible(), `${name}: patient header hidden in print`);
  await page.pdf({ path: join(shots, `med-${name}-print.pdf`) }).catch(() => {});
  await page.emulateMedia({ media: "screen" });
}

/// Open the records of `kind` from the timeline one by one until one contains `text`.
async function openRecordWith(kind, text) {
  await page.goto(`${base}/patients/${consented}/timeline?kind=${kind}&limit=200`);
  const hrefs = await page.locator(".timeline-item a.record-link").evaluateAll((as) => as.map((a) => a.getAttribute("href")));
  expect(hrefs.length > 0, `no ${kind} on the timeline`);
  for (const h of hrefs) {
    await page.goto(new URL(h, base).toString());
    const view = page.locator("#clinical-view");
    if ((await view.count()) > 0 && ((await view.textContent()) || "").includes(text)) return;
  }
  throw new Error(`no ${kind} record shows ${text}`);
}

await step("sign in as the demo doctor", async () => {
  await signIn("doctor");
  await Promise.all([page.waitForURL(/\/search/), page.press('input[name="totp"]', "Enter")]);
});
await step("prescription record view: Rp groups, per-time doses, 用法 modifiers, flags", async () => {
  await openRecordWith("OMP-01", "隔日");
  const v = ((await page.locator("#clinical-view").textContent()) || "").replace(/\s+/g, " ");
  for (const t of ["4-2-1錠", "朝食後 4錠", "昼食後 2錠", "夕食後 1錠", "不均等", "＋ 隔日", "月・木", "１日３回まで", "頓用", "10回",
    "days pattern not certain", "span not certain", "部位 腰部", "院外", "HOT9 110551201", "YJ 2456001F1310", "処方医"]) {
    expect(v.includes(t), `prescription view lacks ${t}`);
  }
  // The raw HL7 stays one click away, closed.
  expect((await page.locator("details.raw-hl7:not([open])").count()) === 1, "raw HL7 not kept closed");
  await everyWidth("record-prescription");
});
await step("injection record view: rate, duration, time slots, start condition", async () => {
  await openRecordWith("OMP-02", "処置後に開始");
  const v = ((await page.locator("#clinical-view").textContent()) || "").replace(/\s+/g, " ");
  for (const t of ["250 ミリリッター／時間", "2時間", "09:00・21:00", "処置後に開始", "生理食塩液５００ｍＬ", "セファゾリン", "部位 左前腕"]) {
    expect(v.includes(t), `injection view lacks ${t}`);
  }
  await everyWidth("record-injection");
});
await step("administration record view: refused and not-given doses shown as such", async () => {
  await openRecordWith("OMP-12", "拒否");
  const v = ((await page.locator("#clinical-view").textContent()) || "").replace(/\s+/g, " ");
  for (const t of ["実施 (given)", "拒否 (refused)", "本人拒否", "未実施 (not given)", "検査のため中止"]) {
    expect(v.includes(t), `administration view lacks ${t}`);
  }
  expect((await page.locator("#clinical-view tr.not-given").count()) === 2, "refused / not-given rows not marked");
  await everyWidth("record-administration");
});
await step("summary: current medications with ended ones and their sources", async () => {
  await page.goto(`${base}/patients/${consented}`);
  const table = page.locator("#medications table.current-medications");
  expect((await table.count()) === 1, "no current medications table on the summary");
  const t = (await table.textContent()) || "";
  expect(t.includes("ラシックス"), "the 隔日 drug is not current");
  expect(/日前に終了|終了日不明/.test(t), "no 'ended N days ago' / 'end unknown' on the summary");
  await everyWidth("summary");
});
await step("medications tab: warnings, current, latest per drug, calendar, history", async () => {
  await page.goto(`${base}/patients/${consented}/medications`);
  for (const id of ["#warnings", "#current-medications", "#latest-per-drug", "#medication-calendar", "#medication-history"]) {
    expect((await page.locator(id).count()) === 1, `medications tab has no ${id}`);
  }
  const cal = (await page.locator("#medication-calendar").textContent()) || "";
  expect(cal.includes("●"), "no scheduled day in the calendar");
  expect(cal.includes("×"), "no refused / not-given day in the calendar");
  expect((await page.locator("#medication-history tr.not-given").count()) >= 2, "refused doses missing from the history");
  await everyWidth("medications");
});
await step("no script errors and no cacheable page", async () => {
  expect(pageErrors.length === 0, `page errors: ${pageErrors.join("; ")}`);
  expect(cacheable.length === 0, `cacheable pages: ${cacheable.join(", ")}`);
});
await browser.close();
