// Browser test of the ADT and problem views (issue 14): the summary's stays (admission ↔
// discharge, cancelled ones struck through, times in JST) and diagnoses, the timeline's
// cancel messages, and the clinical views of an admission cancelled by a cancel message,
// the demographics (ADT-00) and the diagnoses (PPR-01) — each at desktop, 820 px and 390 px,
// and in print (the patient stays on the page). Started by crates/renkei/tests/browser_e2e.rs
// against a real `renkei serve --demo`; one line per step, non-zero exit on the first failure.
//
// Environment (set by the Rust test):
//   RENKEI_URL, RENKEI_PASSWORD, RENKEI_SECRETS, RENKEI_SCREENSHOTS, CHROMIUM (as viewer.mjs)
//   RENKEI_ADT_CANDIDATES  JSON [[facility code, local ID], …] of patients whose stays carry
//                          a cancel message stored as a current file (found in the demo region)

import { chromium } from "playwright-core";
import { need, openBrowser, signIn } from "./lib.mjs";

const base = need("RENKEI_URL");
const candidates = JSON.parse(need("RENKEI_ADT_CANDIDATES"));
const { browser, page, pageErrors, step, expect, shot, shotAt, printKeepsPatient } = await openBrowser(chromium);

await step("doctor signs in", async () => signIn(page, "doctor"));

let patient = "";
await step("a consenting patient with a cancelled admission is found by facility and local ID", async () => {
  for (const [facility, local] of candidates) {
    await page.goto(`${base}/search?facility=${facility}&local_id=${encodeURIComponent(local)}`);
    const link = page.locator("a.patient-link").first();
    if ((await link.count()) === 0) continue;
    const href = await link.getAttribute("href");
    await page.goto(`${base}${href}`);
    if ((await page.locator("#admissions tr.stay.cancelled").count()) > 0) {
      patient = href.split("/").pop().split("?")[0];
      break;
    }
  }
  expect(patient !== "", `none of ${JSON.stringify(candidates)} is a consenting patient with a cancelled stay`);
});

await step("summary: stays paired, cancelled ones struck through, times shown, diagnoses once", async () => {
  await page.goto(`${base}/patients/${patient}`);
  const adm = page.locator("#admissions");
  const text = await adm.innerText();
  expect(!text.includes("日付なし"), `a stay says undated: ${text}`);
  expect(/\d{4}-\d{2}-\d{2} \d{2}:\d{2}/.test(text), `no admission time: ${text}`);
  const cancelled = adm.locator("tr.stay.cancelled");
  expect((await cancelled.count()) >= 1, "no cancelled stay");
  expect((await cancelled.first().innerText()).includes("取消"), "the cancelled stay does not say so");
  const deco = await cancelled.first().locator("td").first().evaluate((td) => getComputedStyle(td).textDecorationLine);
  expect(deco.includes("line-through"), `cancelled stay is not struck through: ${deco}`);
  const live = adm.locator("tr.stay:not(.cancelled)");
  expect((await live.count()) >= 1, "no live stay");
  expect(text.includes("転帰"), `no discharge disposition: ${text}`);
  expect(text.includes("転棟・転科"), `no transfer in a stay: ${text}`);
  const dx = await page.locator("#diagnoses").innerText();
  expect(!dx.includes("なし none") || dx.includes("終了"), `no diagnoses: ${dx}`);
  expect(pageErrors.length === 0, `page errors: ${pageErrors}`);
  await shotAt("adt-01-summary");
  await printKeepsPatient();
});

await step("timeline: the cancel message is labelled, the admission it cancels struck", async () => {
  await page.goto(`${base}/patients/${patient}/timeline?kind=ADT-22`);
  const cancelMsg = page.locator(".timeline-item.cancel-message");
  expect((await cancelMsg.count()) >= 1, "no cancel message on the timeline");
  expect((await cancelMsg.first().innerText()).includes("取消"), "the cancel message is not labelled");
  const struck = page.locator(".timeline-item.cancelled");
  expect((await struck.count()) >= 1, "no cancelled admission on the timeline");
  expect(!(await struck.first().innerText()).includes("最新"), "the cancelled admission is marked latest");
  await shotAt("adt-02-timeline");
});

await step("record: the cancelled admission says so, with its clinical view", async () => {
  await Promise.all([page.waitForLoadState("load"), page.locator(".timeline-item.cancelled a.record-link").first().click()]);
  expect((await page.locator("#cancel-notice").count()) === 1, "no cancel notice");
  const view = await page.locator("#clinical-view").innerText();
  expect(view.includes("入院 (admission)"), `no admission view: ${view}`);
  expect(/病棟 \S+/.test(view), `no ward: ${view}`);
  expect(!view.includes("日付不明"), `unreadable date: ${view}`);
  await shotAt("adt-03-record-admission");
  await printKeepsPatient();
});

// The first record of `kind` whose clinical view contains `want` (every record when empty).
async function openFirst(kind, want = "") {
  await page.goto(`${base}/patients/${patient}/timeline?kind=${kind}`);
  const hrefs = await page.locator(".timeline-item a.record-link").evaluateAll((as) => as.map((a) => a.getAttribute("href")));
  expect(hrefs.length > 0, `no ${kind} record`);
  let view = "";
  for (const href of hrefs) {
    await page.goto(`${base}${href}`);
    view = await page.locator("#clinical-view").innerText();
    if (view.includes(want)) return view;
  }
  return view;
}

await step("record: a discharge with its disposition", async () => {
  const view = await openFirst("ADT-52", "転帰");
  expect(view.includes("退院 (discharge)"), `no discharge view: ${view}`);
  expect(view.includes("転帰"), `no disposition: ${view}`);
  await shotAt("adt-04-record-discharge");
});

await step("record: demographics with body, blood type and contacts", async () => {
  const view = await openFirst("ADT-00", "身長");
  expect(view.includes("患者基本情報"), `no demographics view: ${view}`);
  expect(view.includes("身長") && view.includes("血液型"), `no body data: ${view}`);
  await shotAt("adt-05-record-demographics");
  await printKeepsPatient();
});

await step("record: diagnoses with codes, main / suspected and dates", async () => {
  const view = await openFirst("PPR-01");
  expect((await page.locator("#record-diagnoses").count()) === 1, `no diagnoses table: ${view}`);
  expect(view.includes("MEDIS") && view.includes("ICD-10"), `no codes: ${view}`);
  await shotAt("adt-06-record-diagnoses");
  await printKeepsPatient();
});

expect(pageErrors.length === 0, `page errors: ${pageErrors}`);
await browser.close();
console.log("ok adt views");
