// Browser test of order cancels sent as files of their own (issue 14 fault 4): a facility
// that stores the cancel message (ORC-1 CA) as a current `_1` file beside its order. The
// medications tab lists the order's lines struck through in their own section (not current,
// in no check), the timeline labels the cancel message and strikes the order, and the
// order's record page says which message cancelled it — at desktop, 820 px and 390 px, and
// printed with the patient on the page. Started by crates/renkei/tests/browser_e2e.rs.
//
//   RENKEI_CANCEL_CANDIDATES  JSON [[facility code, local ID], …] of patients with a
//                             prescription cancel (OMP-01) stored as `_1`

import { chromium } from "playwright-core";
import { need, openBrowser, signIn } from "./lib.mjs";

const base = need("RENKEI_URL");
const candidates = JSON.parse(need("RENKEI_CANCEL_CANDIDATES"));
const { browser, page, pageErrors, step, expect, shotAt, printKeepsPatient } = await openBrowser(chromium);

await step("doctor signs in", async () => signIn(page, "doctor"));

let patient = "";
await step("a consenting patient with a cancelled order is found by facility and local ID", async () => {
  for (const [facility, local] of candidates) {
    await page.goto(`${base}/search?facility=${facility}&local_id=${encodeURIComponent(local)}`);
    const link = page.locator("a.patient-link").first();
    if ((await link.count()) === 0) continue;
    const href = await link.getAttribute("href");
    const id = href.split("/").pop().split("?")[0];
    await page.goto(`${base}/patients/${id}/medications`);
    if ((await page.locator("#cancelled-medications tr.cancelled").count()) > 0) {
      patient = id;
      break;
    }
  }
  expect(patient !== "", `none of ${JSON.stringify(candidates)} is a consenting patient with a cancelled order`);
});

await step("medications tab: cancelled lines in their own section, struck, not current", async () => {
  await page.goto(`${base}/patients/${patient}/medications`);
  const rows = page.locator("#cancelled-medications tr.cancelled");
  const first = (await rows.first().innerText()).replace(/\s+/g, " ");
  expect(first.includes("取消済"), `a cancelled line does not say so: ${first}`);
  const deco = await rows.first().locator("td").first().evaluate((td) => getComputedStyle(td).textDecorationLine);
  expect(deco.includes("line-through"), `cancelled line is not struck through: ${deco}`);
  // The cancelled drugs are not in the current list unless another live order has them.
  const drug = (await rows.first().locator("td").first().innerText()).trim();
  const current = (await page.locator("#current-medications").innerText().catch(() => "")) || "";
  const history = (await page.locator("#medication-history").innerText().catch(() => "")) || "";
  expect(!current.includes(drug) || history.includes(drug), `${drug} is current only through its cancelled order`);
  await page.locator("#cancelled-orders").scrollIntoViewIfNeeded();
  await shotAt("cancel-01-medications");
  await printKeepsPatient();
});

let cancelHref = "";
await step("record: the cancelled order says which message cancelled it", async () => {
  const link = page.locator("#cancelled-medications tr.cancelled td a").first();
  cancelHref = await page.locator("#cancelled-medications a.cancel-tag").first().getAttribute("href");
  await Promise.all([page.waitForLoadState("load"), link.click()]);
  const notice = page.locator("#cancel-notice");
  expect((await notice.count()) === 1, "no cancel notice on the order");
  expect((await notice.innerText()).includes("取り消されています"), "the notice does not say cancelled");
  const shownRow = (await page.locator("tr.history-row.shown").innerText()).replace(/\s+/g, " ");
  expect(shownRow.includes("取消済") && !shownRow.includes("最新"), `history marks the cancelled order live: ${shownRow}`);
  await shotAt("cancel-02-record-order");
  await printKeepsPatient();
});

await step("record: the cancel message says it is one", async () => {
  await page.goto(new URL(cancelHref, base).toString());
  const notice = page.locator("#cancel-notice");
  expect((await notice.count()) === 1, "no notice on the cancel message");
  expect((await notice.innerText()).includes("取消メッセージ"), "the cancel message is not labelled");
  await shotAt("cancel-03-record-cancel");
});

await step("timeline: the cancel labelled, the order struck, previews shown", async () => {
  await page.goto(`${base}/patients/${patient}/timeline?kind=OMP-01&limit=1000`);
  expect((await page.locator(".timeline-item.cancel-message").count()) >= 1, "no cancel message on the timeline");
  const struck = page.locator(".timeline-item.cancelled");
  expect((await struck.count()) >= 1, "no cancelled order on the timeline");
  expect(!(await struck.first().innerText()).includes("最新"), "the cancelled order is marked latest");
  expect((await page.locator(".timeline-item .preview").count()) >= 1, "no content preview on the timeline");
  await shotAt("cancel-04-timeline");
  await printKeepsPatient();
});

await step("no script errors", async () => {
  expect(pageErrors.length === 0, `page errors: ${pageErrors.join("; ")}`);
});
await browser.close();
