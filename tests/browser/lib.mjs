// Helpers shared by the browser tests: environment, the authenticator app's one-time
// codes, the step harness, the browser set-up and the sign-in.

import { createHmac } from "node:crypto";
import { mkdirSync } from "node:fs";

export function need(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`environment variable ${name} is not set`);
    process.exit(2);
  }
  return v;
}

// RFC 6238 TOTP (SHA-1, 6 digits, 30 s), as an authenticator app computes it. `step` moves
// to a later window: codes are single-use, so a second sign-in of the same user needs the
// next window's code.
export function totp(secretBase32, step = 0) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of secretBase32.replace(/=+$/, "").toUpperCase()) {
    const i = alphabet.indexOf(c);
    if (i < 0) throw new Error(`bad base32 character ${c}`);
    bits += i.toString(2).padStart(5, "0");
  }
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Math.floor(Date.now() / 1000 / 30) + step;
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(counter));
  const h = createHmac("sha1", key).update(msg).digest();
  const o = h[h.length - 1] & 0xf;
  const n = (h.readUInt32BE(o) & 0x7fffffff) % 1_000_000;
  return String(n).padStart(6, "0");
}

// The steps of a script: each prints `ok N name` or, on the first failure, `not ok N name`,
// a screenshot, the page, and ends the process with status 1.
export function harness(page, browser, shots) {
  let stepNo = 0;
  const expect = (cond, message) => {
    if (!cond) throw new Error(message);
  };
  return {
    expect,
    async step(name, fn) {
      stepNo += 1;
      const t0 = Date.now();
      try {
        await fn();
        console.log(`ok ${stepNo} ${name} (${Date.now() - t0} ms)`);
      } catch (e) {
        console.log(`not ok ${stepNo} ${name}: ${e.message}`);
        await page
          .screenshot({ path: `${shots}/FAILED-${String(stepNo).padStart(2, "0")}.png`, fullPage: true })
          .catch(() => {});
        console.log(`page at failure: ${page.url()}`);
        console.log((await page.content().catch(() => "")).slice(0, 4000));
        await browser.close();
        process.exit(1);
      }
    },
    async shot(name) {
      await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
    },
    // Desktop, tablet (820 px) and phone (390 px); nothing may stick out sideways.
    async shotAt(name) {
      for (const [label, width] of [["desktop", 1280], ["820", 820], ["390", 390]]) {
        await page.setViewportSize({ width, height: 900 });
        await page.screenshot({ path: `${shots}/${name}-${label}.png`, fullPage: true });
        const over = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        expect(over <= 2, `${name} at ${width} px is ${over} px wider than the window`);
      }
      await page.setViewportSize({ width: 1280, height: 900 });
    },
    // Printed, the patient stays on the page.
    async printKeepsPatient() {
      await page.emulateMedia({ media: "print" });
      const head = page.locator(".patient-head, #patient-head, .patient-name").first();
      expect((await head.count()) === 1 && (await head.isVisible()), "the patient is not on the printed page");
      await page.emulateMedia({ media: "screen" });
    },
  };
}

// A headless Debian chromium with one page (desktop width, Japanese locale), the step
// harness, and the page's script errors and Content-Security-Policy violations collected in
// `pageErrors`. `RENKEI_SCREENSHOTS` is created.
export async function openBrowser(chromium) {
  const shots = need("RENKEI_SCREENSHOTS");
  mkdirSync(shots, { recursive: true });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-dev-shm-usage"],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "ja-JP" });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  const pageErrors = [];
  page.on("pageerror", (e) => pageErrors.push(e.message));
  page.on("console", (m) => {
    if (m.type() === "error" && /Content Security Policy/i.test(m.text())) pageErrors.push(m.text());
  });
  return { browser, page, shots, pageErrors, ...harness(page, browser, shots) };
}

// Sign `login` in with the demo password and the current TOTP code; lands on the search.
export async function signIn(page, login) {
  const base = need("RENKEI_URL");
  const secrets = JSON.parse(need("RENKEI_SECRETS"));
  await page.goto(`${base}/login`);
  await page.fill('input[name="login"]', login);
  await page.fill('input[name="password"]', need("RENKEI_PASSWORD"));
  await page.fill('input[name="totp"]', totp(secrets[login], 0));
  await Promise.all([page.waitForURL(/\/search/), page.press('input[name="totp"]', "Enter")]);
}
