// Browser test of the vitals (issue 14): the vitals tab (measurement times × vital signs,
// newest first, one trend chart per vital and unit) and the clinical view of an
// extended-storage vitals message, each at desktop, 820 px and 390 px and printed. Started
// by crates/renkei/tests/browser_e2e.rs, which finds in the demo region the patients with
// vitals messages (RENKEI_VITALS_CANDIDATES: [[facility, local ID], …]).

import { chromium } from "playwright-core";
import { need, openBrowser, signIn } from "./lib.mjs";

const base = need("RENKEI_URL");
const candidates = JSON.parse(need("RENKEI_VITALS_CANDIDATES"));
const { browser, page, pageErrors, step, expect, shotAt, printKeepsPatient } = await openBrowser(chromium);

await step("doctor signs in", async () => signIn(page, "doctor"));

// The patient page (`/patients/<id>`) of the first consenting candidate whose vitals tab
// shows a table.
let patient = null;
await step("vitals tab: a table newest first and trend charts, one per vital and unit", async () => {
  for (const [facility, local] of candidates) {
    await page.goto(`${base}/search?facility=${facility}&local_id=${encodeURIComponent(local)}`);
    const link = page.locator("a.patient-link").first();
    if ((await link.count()) === 0) continue;
    const href = (await link.getAttribute("href")).split("?")[0];
    await page.goto(`${base}${href}`);
    // Reached from the patient's tabs.
    await page.locator('nav.tabs a[href$="/vitals"]').click();
    await page.waitForURL(/\/vitals$/);
    if ((await page.locator("table.vitals-table tbody tr").count()) >= 2) {
      patient = href;
      break;
    }
  }
  expect(patient, "no consenting demo patient with vitals");
  expect((await page.locator('nav.tabs a.current[href$="/vitals"]').count()) === 1, "tab not current");
  const head = await page.locator("table.vitals-table thead").innerText();
  for (const label of ["体温", "収縮期血圧", "拡張期血圧", "脈拍", "SpO2", "体重"]) {
    expect(head.includes(label), `column ${label} missing: ${head}`);
  }
  // Newest first.
  const times = await page.locator("table.vitals-table tbody th.time").allInnerTexts();
  const sorted = [...times].sort().reverse();
  expect(JSON.stringify(times) === JSON.stringify(sorted), `not newest first: ${times.slice(0, 5)}`);
  // Every value shows its unit.
  const first = page.locator("table.vitals-table .vital-value").first();
  expect((await first.locator(".unit").count()) === 1, "a value without its unit");
  // One chart per vital and unit, each a drawn SVG with its unit.
  const charts = page.locator("section.vitals-charts figure.unit-chart");
  expect((await charts.count()) >= 4, `only ${await charts.count()} charts`);
  const units = await charts.evaluateAll((fs) => fs.map((f) => f.getAttribute("data-unit")));
  expect(units.includes("mmHg") && units.includes("℃"), `units: ${units}`);
  expect((await page.locator("section.vitals-charts svg.trend-chart polyline.trend-line").count()) >= 1, "no trend line");
  // Vitals are not lab results.
  expect(pageErrors.length === 0, `page errors: ${pageErrors}`);
  await shotAt("vitals-tab");
  await printKeepsPatient();
});

await step("vitals tab: a date range shows that period only", async () => {
  await page.goto(`${base}${patient}/vitals`);
  const newest = (await page.locator("table.vitals-table tbody th.time").first().innerText()).slice(0, 10);
  await page.fill("#vitals-from", newest);
  await page.fill("#vitals-to", newest);
  await Promise.all([page.waitForURL(/from=/), page.locator("form.lab-filter button[type=submit]").click()]);
  const times = await page.locator("table.vitals-table tbody th.time").allInnerTexts();
  expect(times.length >= 1 && times.every((t) => t.startsWith(newest)), `outside ${newest}: ${times}`);
  expect((await page.locator("#vitals-from").inputValue()) === newest, "the range is not kept in the form");
});

await step("vitals are not in the lab matrix", async () => {
  await page.goto(`${base}${patient}/labs`);
  const matrix = page.locator("table.lab-matrix");
  if ((await matrix.count()) === 1) {
    const codes = await page.locator("table.lab-matrix tbody tr").evaluateAll((rs) => rs.map((r) => r.getAttribute("data-code")));
    for (const c of ["8310-5", "8480-6", "8462-4", "59408-5", "29463-7", "BP"]) {
      expect(!codes.includes(c), `vital ${c} in the lab matrix`);
    }
  }
});

await step("vitals record: opened from the timeline as a clinical view, HL7 one click away", async () => {
  await page.goto(`${base}${patient}/timeline?kind=extended`);
  const recs = page.locator(`a[href*="/records/"]`);
  const hrefs = [];
  for (let i = 0; i < Math.min(await recs.count(), 12); i++) hrefs.push(await recs.nth(i).getAttribute("href"));
  let found = false;
  for (const h of hrefs) {
    await page.goto(`${base}${h}`);
    if ((await page.locator("#clinical-view #vitals-record").count()) === 1) {
      found = true;
      break;
    }
  }
  expect(found, "no vitals record on the timeline");
  expect((await page.locator("#vitals-record table.vitals-table").count()) === 1, "no vitals table");
  const sent = await page.locator("#vitals-record table.vitals-sent").innerText();
  expect(sent.includes("8310-5 LN"), `codes not shown: ${sent.slice(0, 300)}`);
  expect((await page.locator("details#raw-hl7:not([open])").count()) === 1, "raw HL7 not folded");
  expect(!(await page.locator("#clinical-view").innerText()).includes("日付なし"), "undated in the view");
  expect(pageErrors.length === 0, `page errors: ${pageErrors}`);
  await shotAt("vitals-record");
  await printKeepsPatient();
});

await browser.close();
console.log("all steps passed");
