// Browser test of the lab screens (issue 14), in Debian chromium driven by playwright-core:
// the culture view (organisms with their susceptibility tables), a lab record, the labs tab
// and the trend chart of a test sent in two units, each at desktop, 820 px and 390 px, and
// printed with the patient kept. Started by crates/renkei/tests/browser_e2e.rs
// (`lab_screens_in_chromium`) against its own `renkei serve --demo`; sign-in and TOTP
// helpers are those of viewer.mjs.
//
// Environment (set by the Rust test):
//   RENKEI_URL          http://127.0.0.1:PORT
//   RENKEI_PASSWORD     the demo password
//   RENKEI_SECRETS      JSON {login: base32 TOTP secret}
//   RENKEI_CULTURE      path of a culture record page (/patients/ID/records/N)
//   RENKEI_UNITS        a regional ID whose albumin came in g/dL and g/L
//   RENKEI_ALBUMIN      the albumin JLAC10 code
//   RENKEI_SCREENSHOTS  folder for the screenshots (test artifacts)
//   CHROMIUM            browser executable (default /usr/bin/chromium)

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { harness, need, totp } from "./lib.mjs";

const base = need("RENKEI_URL");
const password = need("RENKEI_PASSWORD");
const secrets = JSON.parse(need("RENKEI_SECRETS"));
const culture = need("RENKEI_CULTURE");
const unitsPatient = need("RENKEI_UNITS");
const albumin = need("RENKEI_ALBUMIN");
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

const widths = [[1280, "desktop"], [820, "tablet"], [390, "phone"]];

// Each width: the page fits (no horizontal scroll of the page itself; wide tables scroll in
// their own box) and a screenshot; then printed, the patient's ID is still on the page.
async function atWidths(name, check) {
  for (const [width, label] of widths) {
    await page.setViewportSize({ width, height: 900 });
    await page.reload();
    await check(width);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow <= 1, `${name} overflows the ${label} width by ${overflow} px`);
    await shot(`${name}-${label}`);
  }
  await page.emulateMedia({ media: "print" });
  expect(await page.locator(".patient-head .rid").isVisible(), `${name}: the patient is not on the printout`);
  await page.pdf({ path: join(shots, `${name}-print.pdf`) }).catch(() => {});
  await page.emulateMedia({ media: "screen" });
  await page.setViewportSize({ width: 1280, height: 900 });
}

await step("doctor signs in", async () => {
  // The Rust side already signed the doctor in (codes are single-use): try later windows.
  for (const offset of [1, 2, 3]) {
    await signIn("doctor", offset);
    await Promise.all([page.waitForLoadState("load"), page.press('input[name="totp"]', "Enter")]);
    if (/\/search/.test(page.url())) return;
  }
  throw new Error(`could not sign in: ${page.url()}`);
});

await step("culture view: every organism with its quantity and susceptibility table", async () => {
  await page.goto(`${base}${culture}`);
  await atWidths("lab-culture", async () => {
    const organisms = page.locator("#culture-view .culture.organism");
    expect((await organisms.count()) >= 2, `expected two organisms, got ${await organisms.count()}`);
    for (let i = 0; i < (await organisms.count()); i++) {
      const o = organisms.nth(i);
      expect((await o.locator(".organism-name").textContent()).trim().length > 0, "organism without name");
      expect((await o.locator("table.susceptibility tbody tr").count()) > 0, "organism without susceptibility rows");
      expect((await o.textContent()).includes("CFU/mL"), "organism without quantity");
    }
    expect(await page.locator("#culture-view").isVisible(), "culture view hidden");
  });
  // The raw message is one click away.
  await page.locator("#raw-hl7 summary").click();
  expect(await page.locator("#segments").isVisible(), "raw HL7 does not open");
});

await step("lab record view: a chemistry result with status, units and codes", async () => {
  await page.goto(`${base}/patients/${unitsPatient}/timeline?kind=OML-11`);
  const link = page.locator(".timeline-item a.record-link").first();
  await Promise.all([page.waitForURL(/\/records\/\d+/), link.click()]);
  await atWidths("lab-record", async () => {
    expect((await page.locator("#lab-result, #culture-view").count()) > 0, "no lab view");
    const rows = page.locator("tr.lab-result-row");
    if ((await rows.count()) > 0) {
      expect((await page.locator("td.codes").first().textContent()).includes("JLAC10"), "no JLAC10 code shown");
    }
  });
});

await step("labs tab: albumin row keeps each value's unit, cultures listed, warnings section", async () => {
  await page.goto(`${base}/patients/${unitsPatient}/labs`);
  await atWidths("labs-tab", async () => {
    const row = page.locator(`tr[data-code="${albumin}"]`);
    expect((await row.count()) === 1, "no albumin row");
    expect((await row.locator(".mixed-units").count()) === 1, "mixed units not said");
    const units = await row.locator(".lab-value .unit").allTextContents();
    expect(units.includes("g/dL") && units.includes("g/L"), `values without their unit: ${units}`);
    expect((await page.locator("#duplicate-tests").count()) === 1, "no duplicate-test section");
  });
});

await step("trend chart of albumin: one chart per unit, each with its band", async () => {
  await page.goto(`${base}/patients/${unitsPatient}/labs/chart?code=${albumin}`);
  await atWidths("lab-chart-two-units", async () => {
    const charts = page.locator("figure.unit-chart");
    expect((await charts.count()) === 2, `expected two charts, got ${await charts.count()}`);
    const units = await charts.evaluateAll((fs) => fs.map((f) => f.getAttribute("data-unit")));
    expect(units.includes("g/dL") && units.includes("g/L"), `chart units ${units}`);
    expect((await page.locator("figure.unit-chart svg rect.ref-band").count()) >= 2, "a chart without its band");
  });
});

await step("no script failed", async () => {
  expect(pageErrors.length === 0, `script errors or CSP violations: ${pageErrors.join("; ")}`);
  expect(cacheable.length === 0, `pages without no-store: ${cacheable.join(", ")}`);
});

await browser.close();
console.log(`all steps passed; screenshots in ${shots}`);
