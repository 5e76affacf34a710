// Browser test of the record views that have no script of their own (issue 14): an exam
// report (radiology / physiology), an exam order, a meal order and an extended-storage CDA
// document, each opened from the timeline of a consenting demo patient, at desktop, 820 px
// and 390 px and printed. Started by crates/renkei/tests/browser_e2e.rs, which finds in the
// demo region the patients that have each kind (RENKEI_RECORD_CANDIDATES: {kind: [[facility,
// local ID], …]}).

import { chromium } from "playwright-core";
import { need, openBrowser, signIn } from "./lib.mjs";

const base = need("RENKEI_URL");
const candidates = JSON.parse(need("RENKEI_RECORD_CANDIDATES"));
const { browser, page, pageErrors, step, expect, shotAt, printKeepsPatient } = await openBrowser(chromium);

await step("doctor signs in", async () => signIn(page, "doctor"));

// The first record of `kind` (timeline filter) of a consenting candidate whose clinical
// view shows `selector`, opened (the `extended` filter also lists vitals messages).
async function openRecord(kind, filter, selector) {
  for (const [facility, local] of candidates[kind] || []) {
    await page.goto(`${base}/search?facility=${facility}&local_id=${encodeURIComponent(local)}`);
    const link = page.locator("a.patient-link").first();
    if ((await link.count()) === 0) continue;
    const href = (await link.getAttribute("href")).split("?")[0];
    await page.goto(`${base}${href}/timeline?kind=${filter}`);
    const recs = page.locator(`a[href*="/records/"]`);
    const hrefs = [];
    for (let i = 0; i < Math.min(await recs.count(), 12); i++) hrefs.push(await recs.nth(i).getAttribute("href"));
    for (const h of hrefs) {
      await page.goto(`${base}${h}`);
      if ((await page.locator("#clinical-view").count()) === 1 && (await page.locator(selector).count()) >= 1) return true;
    }
  }
  return false;
}

const views = [
  ["OMG-13", "OMG-13", "exam-result", ["#clinical-view article.exam-item", "#clinical-view table.measurements"]],
  ["OMG-11", "OMG-11", "exam-performed", ["#clinical-view article.exam-item"]],
  ["OMG-01", "OMG-01", "exam-order", ["#clinical-view article.exam-item"]],
  ["OMD", "OMD", "meal-order", ["#clinical-view article.meal-order", "#clinical-view table.diets"]],
  ["CDA", "extended", "cda-document", ["#clinical-view .document-section h3"]],
];
for (const [kind, filter, name, selectors] of views) {
  await step(`${name}: opened from the timeline as a clinical view, HL7 one click away`, async () => {
    expect(await openRecord(kind, filter, selectors[0]), `no consenting demo patient with a readable ${kind} record`);
    for (const sel of selectors) {
      expect((await page.locator(sel).count()) >= 1, `${sel} missing`);
    }
    // The message as sent is there, folded (CDA documents have no HL7 segments).
    expect((await page.locator("details#raw-hl7:not([open])").count()) === 1, "raw HL7 not folded");
    expect(!(await page.locator("#clinical-view").innerText()).includes("日付なし"), "undated in the view");
    // The original bytes one click away (issue 14), downloadable through the same gate.
    const download = page.locator("a#download-original");
    expect((await download.count()) === 1, "no download link");
    const res = await page.request.get(`${base}${await download.getAttribute("href")}`);
    expect(res.status() === 200, `download: ${res.status()}`);
    expect(/^attachment; filename=/.test(res.headers()["content-disposition"] || ""), "not an attachment");
    expect((await res.body()).length > 0, "empty download");
    expect(pageErrors.length === 0, `page errors: ${pageErrors}`);
    await shotAt(`record-${name}`);
    await printKeepsPatient();
  });
}

await browser.close();
console.log("all steps passed");
